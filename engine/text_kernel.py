"""Compiled (numba) passes over the data buffers of Arrow string arrays, for the normalisation
steps that Arrow's string kernels do in several regular-expression passes. Each has its
reference in :mod:`normalize` and a differential test. Imported on first use only.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from cashmatch.engine.kernel_cache import njit
from cashmatch.engine.prefetch import PREFETCH_AHEAD, prefetch


@njit(cache=True, nogil=True)
def _digits(raw: np.ndarray, a: int, b: int, ocr: np.ndarray, out: np.ndarray, used: int) -> int:
    """The digits key of the bytes ``raw[a:b]`` written into ``out`` from ``used`` on; the
    bytes used after it. The leading A-Z off; the rest mapped by ``ocr`` when no more than a
    third of its characters are other than digits; non-digits and leading zeros dropped
    (digits are ASCII: a byte test suffices in UTF-8)."""
    j = a
    while j < b and 65 <= raw[j] <= 90:
        j += 1
    chars = 0
    others = 0
    for t in range(j, b):
        c = raw[t]
        if c < 0x80 or c >= 0xC0:  # a character starts here
            chars += 1
            if c < 48 or c > 57:
                others += 1
    mapped = others * 3 <= chars
    started = False
    for t in range(j, b):
        c = ocr[raw[t]] if mapped else raw[t]
        if 48 <= c <= 57 and (started or c != 48):
            started = True
            out[used] = c
            used += 1
    return used


@njit(cache=True, nogil=True)
def digits_key(offsets: np.ndarray, raw: np.ndarray, ocr: np.ndarray, out_offsets: np.ndarray,
               out: np.ndarray) -> int:
    """``normalize.digits_key`` of the strings ``raw[offsets[i]:offsets[i + 1]]`` into
    ``out`` (bytes) and ``out_offsets``; the bytes used. ``ocr`` maps look-alike letters to
    digits (a byte table); :func:`_digits` of each string."""
    used = 0
    out_offsets[0] = 0
    for i in range(len(offsets) - 1):
        used = _digits(raw, offsets[i], offsets[i + 1], ocr, out, used)
        out_offsets[i + 1] = used
    return used


@njit(cache=True, nogil=True)
def keep_bytes(offsets: np.ndarray, raw: np.ndarray, keep: np.ndarray, out_offsets: np.ndarray,
               out: np.ndarray) -> int:
    """The bytes ``b`` of the strings ``raw[offsets[i]:offsets[i + 1]]`` where ``keep[b]`` (a
    byte table), string by string into ``out`` and ``out_offsets``; the bytes used."""
    used = 0
    out_offsets[0] = 0
    for i in range(len(offsets) - 1):
        for t in range(offsets[i], offsets[i + 1]):
            c = raw[t]
            if keep[c]:
                out[used] = c
                used += 1
        out_offsets[i + 1] = used
    return used


@njit(cache=True, nogil=True, inline="always")
def _upper(c: np.uint8) -> np.uint8:
    return c - np.uint8(32) if 97 <= c <= 122 else c


@njit(cache=True, nogil=True)
def name_keys(offsets: np.ndarray, raw: np.ndarray, word_char: np.ndarray, drop_len: np.ndarray,
              drop_w0: np.ndarray, drop_w1: np.ndarray, other: np.ndarray,
              out_offsets: np.ndarray, out: np.ndarray) -> int:
    """``normalize._name_key`` of the ASCII strings ``raw[offsets[i]:offsets[i + 1]]`` into
    ``out`` and ``out_offsets`` (the bytes used returned); a string with another byte is left
    empty and marked in ``other``. In one scan: upper case; an initial (``\\b[A-Z]\\.``, the
    boundary by ``word_char``, RE2's ``\\w``), and a second one right after it, kept as its
    letters; ``A-Z0-9`` make the words, every other byte ends one; the words that are one of
    the dropped ones (``drop_len`` bytes, :func:`_words` of them ``drop_w0``, ``drop_w1``)
    left out, the others joined by single spaces. (Never longer than the string.)"""
    used = 0
    out_offsets[0] = 0
    for i in range(len(offsets) - 1):
        a, b = offsets[i], offsets[i + 1]
        for t in range(a, b):
            if raw[t] >= 0x80:
                other[i] = True
                break
        if other[i]:
            out_offsets[i + 1] = used
            continue
        start = used
        w = used  # where the word being read starts in ``out``
        t = a
        while t <= b:
            c = _upper(raw[t]) if t < b else np.uint8(32)
            if (65 <= c <= 90 or 48 <= c <= 57) and used == w and used > start:
                out[used] = 32  # (a word after a kept one)
                used += 1
                w = used
            if 65 <= c <= 90 and t + 1 < b and raw[t + 1] == 46 and (
                    t == a or not word_char[raw[t - 1]]):
                out[used] = c
                used += 1
                t += 2
                if t + 1 < b and 65 <= _upper(raw[t]) <= 90 and raw[t + 1] == 46:
                    out[used] = _upper(raw[t])
                    used += 1
                    t += 2
                continue
            if 65 <= c <= 90 or 48 <= c <= 57:
                out[used] = c
                used += 1
            elif used > w:  # a word ends: dropped if it is one of the dropped words
                n = used - w
                w0, w1 = np.uint64(0), np.uint64(0)
                if n <= 16:
                    for k in range(min(n, 8)):
                        w0 |= np.uint64(out[w + k]) << np.uint64(8 * k)
                    for k in range(8, n):
                        w1 |= np.uint64(out[w + k]) << np.uint64(8 * (k - 8))
                    for k in range(len(drop_len)):
                        if drop_len[k] == n and drop_w0[k] == w0 and drop_w1[k] == w1:
                            used = w - 1 if w > start else w  # (and the space before it)
                            break
                w = used
            t += 1
        out_offsets[i + 1] = used
    return used


@njit(cache=True, nogil=True)
def key_codes(offsets: np.ndarray, raw: np.ndarray, inv: np.ndarray, n_inv: int
              ) -> tuple[np.ndarray, np.ndarray]:
    """Each string ``raw[offsets[i]:offsets[i + 1]]`` coded by its first occurrence (the codes
    ``pa.Array.dictionary_encode`` gives), and per code how many distinct ``inv`` (0 ..
    ``n_inv - 1``) its rows name. Strings of at most 16 bytes, none zero (all invoice keys):
    :func:`packed_codes`; others: an open-addressing table (at most half full) of the first
    row of each code, placed by the FNV-1a hash of its bytes and compared byte by byte. Then
    the rows by invoice (a counting sort), where a code an invoice already had counts once."""
    n = len(offsets) - 1
    code, firsts = packed_codes(offsets, raw)
    if len(code) == n:
        count = np.zeros(len(firsts), np.int32)
        for i in range(n):
            count[code[i]] += 1
        return code, _distinct_invoices(code, count, inv, n_inv)
    cap = 1
    while cap < 2 * n:
        cap *= 2
    mask = cap - 1
    slot_row = np.full(cap, -1, np.int32)  # the first row of the code in each slot
    code = np.empty(n, np.int32)
    count = np.zeros(n, np.int32)
    n_codes = 0
    for i in range(n):
        a, b = offsets[i], offsets[i + 1]
        h = np.uint64(0xCBF29CE484222325)
        for t in range(a, b):
            h = (h ^ np.uint64(raw[t])) * np.uint64(0x100000001B3)
        h ^= h >> np.uint64(29)
        s = np.int64(h & np.uint64(mask))
        while True:
            r = slot_row[s]
            if r < 0:
                slot_row[s] = i
                code[i] = n_codes
                n_codes += 1
                break
            ra = offsets[r]
            same = offsets[r + 1] - ra == b - a
            t = 0
            while same and t < b - a:
                same = raw[ra + t] == raw[a + t]
                t += 1
            if same:
                code[i] = code[r]
                break
            s = (s + 1) & mask
        count[code[i]] += 1
    return code, _distinct_invoices(code, count[:n_codes], inv, n_inv)


@njit(cache=True, nogil=True)
def _distinct_invoices(code: np.ndarray, count: np.ndarray, inv: np.ndarray, n_inv: int
                       ) -> np.ndarray:
    """``count`` (the rows of each code) less the rows whose (code, invoice) came before: the
    rows of each invoice (a counting sort), compared."""
    by_inv, start = counting_order(inv, n_inv)
    for j in range(n_inv):
        for k in range(start[j] + 1, start[j + 1]):
            ck = code[by_inv[k]]
            for m in range(start[j], k):
                if code[by_inv[m]] == ck:
                    count[ck] -= 1
                    break
    return count


PART_ROWS = 1 << 16  # rows per hash partition of _packed_firsts (its table stays in cache)
PART_GROUP = 16  # partitions _packed_firsts moves at a time (a power of two)


@njit(cache=True, nogil=True, inline="always")
def _words(offsets: np.ndarray, raw: np.ndarray, i: int) -> tuple[np.uint64, np.uint64]:
    """String ``i`` (at most 16 bytes) as two little-endian zero-padded 64-bit words."""
    a, b = offsets[i], offsets[i + 1]
    w0, w1 = np.uint64(0), np.uint64(0)
    for t in range(min(b - a, 8)):
        w0 |= np.uint64(raw[a + t]) << np.uint64(8 * t)
    for t in range(8, b - a):
        w1 |= np.uint64(raw[a + t]) << np.uint64(8 * (t - 8))
    return w0, w1


@njit(cache=True, nogil=True, inline="always")
def _mix(w0: np.uint64, w1: np.uint64) -> np.uint64:
    h = (w0 ^ (w1 * np.uint64(0x9E3779B97F4A7C15))) * np.uint64(0xFF51AFD7ED558CCD)
    h ^= h >> np.uint64(29)
    h *= np.uint64(0xC4CEB9FE1A85EC53)
    return h ^ (h >> np.uint64(32))


@njit(cache=True, nogil=True, inline="always")
def _partition_plan(start: np.ndarray, part_group: int) -> tuple[int, int, int]:
    """For the partitioned codings (:func:`_packed_firsts`, :func:`_word_firsts`): the rows
    counted per partition (``start[p + 1]``) summed into each partition's first row, in place;
    then how many partitions are moved at a time (``part_group`` at most), the most rows of
    such a group, and the size of a table that holds the largest partition at most half
    full."""
    parts = len(start) - 1
    for p in range(parts):
        start[p + 1] += start[p]
    group = min(part_group, parts)
    most, most_group = 1, 1
    for p in range(parts):
        most = max(most, start[p + 1] - start[p])
    for g in range(0, parts, group):
        most_group = max(most_group, start[g + group] - start[g])
    cap = 1
    while cap < 2 * most:
        cap *= 2
    return group, most_group, cap


@njit(cache=True, nogil=True)
def _packed_firsts(offsets: np.ndarray, raw: np.ndarray, part_rows: int = PART_ROWS,
                   part_group: int = PART_GROUP) -> np.ndarray:
    """The first row holding each row's string (at most 16 bytes, none zero): the strings as two
    zero-padded 64-bit words (equal words, equal strings), partitioned by the leading bits of
    their hash (a counting sort that moves the words: rows ascending within a partition), each
    partition coded with its own small open-addressing table of words (no string bytes read,
    no cache misses). The partitions (of ~``part_rows``) are moved and coded ``part_group`` (a
    power of two) at a time, one read of the partition numbers each, the moved rows and words
    held for one such group only: for 2.5M strings ~60 -> ~23 MB of scratch besides the
    result."""
    n = len(offsets) - 1
    bits = 0
    while (n >> bits) > part_rows:
        bits += 1
    shift = np.uint64(64 - bits)
    part = np.zeros(n, np.int32)
    start = np.zeros((1 << bits) + 1, np.int64)
    for i in range(n):
        w0, w1 = _words(offsets, raw, i)
        p = np.int32(_mix(w0, w1) >> shift) if bits else np.int32(0)
        part[i] = p
        start[p + 1] += 1
    group, most_group, cap = _partition_plan(start, part_group)
    row = np.empty(most_group, np.int32)
    sw0 = np.empty(most_group, np.uint64)
    sw1 = np.empty(most_group, np.uint64)
    first = np.empty(n, np.int32)
    slot_row = np.full(cap, -1, np.int32)
    slot_w0 = np.zeros(cap, np.uint64)
    slot_w1 = np.zeros(cap, np.uint64)
    for g in range(0, 1 << bits, group):
        fill = start[g : g + group] - start[g]
        for i in range(n):
            if g <= part[i] < g + group:
                k = fill[part[i] - g]
                fill[part[i] - g] += 1
                row[k] = i
                sw0[k], sw1[k] = _words(offsets, raw, i)
        for p in range(g, g + group):
            lo, hi = start[p] - start[g], start[p + 1] - start[g]
            size = 1
            while size < 2 * (hi - lo):
                size *= 2
            mask = np.uint64(size - 1)
            slot_row[:size] = -1
            for k in range(lo, hi):
                x0, x1 = sw0[k], sw1[k]
                # (the words swapped: a slot independent of the bits that chose the partition)
                s = np.int64((_mix(x1, x0) >> np.uint64(20)) & mask)
                while True:
                    r = slot_row[s]
                    if r < 0:
                        slot_row[s] = row[k]
                        slot_w0[s] = x0
                        slot_w1[s] = x1
                        first[row[k]] = row[k]
                        break
                    if slot_w0[s] == x0 and slot_w1[s] == x1:
                        first[row[k]] = r
                        break
                    s = (s + 1) & np.int64(mask)
    return first


@njit(cache=True, nogil=True)
def packed_codes(offsets: np.ndarray, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each string ``raw[offsets[i]:offsets[i + 1]]`` coded by its first occurrence (the codes
    ``pa.Array.dictionary_encode`` gives), and the first row of each code (the dictionary's
    rows); empty arrays if a string has more than 16 bytes or a zero byte (then not coded):
    :func:`_packed_firsts` (no string bytes read twice, no cache misses)."""
    n = len(offsets) - 1
    for i in range(n):
        if offsets[i + 1] - offsets[i] > 16:
            return np.zeros(0, np.int32), np.zeros(0, np.int64)
    for t in range(offsets[0], offsets[n]):
        if raw[t] == 0:
            return np.zeros(0, np.int32), np.zeros(0, np.int64)
    first = _packed_firsts(offsets, raw)
    code = np.empty(n, np.int32)
    k = 0
    for i in range(n):
        r = first[i]
        if r == i:
            code[i] = k
            k += 1
        else:
            code[i] = code[r]
    firsts = np.empty(k, np.int64)  # (its own size: no room for every row kept alive)
    for i in range(n):
        if first[i] == i:
            firsts[code[i]] = i
    return code, firsts


ACCOUNT_WORDS = 3  # account keys up to 24 bytes are coded packed in three 64-bit words


@njit(cache=True, nogil=True)
def _word_firsts(words: np.ndarray, part_rows: int = PART_ROWS, part_group: int = PART_GROUP
                 ) -> np.ndarray:
    """The first row holding each row of ``words`` (a (rows, width) ``uint64`` array): the
    partitioned coding of :func:`_packed_firsts` (rows partitioned by the leading bits of their
    hash, moved ``part_group`` partitions at a time, each partition coded with its own small
    open-addressing table of words) for words packed already."""
    n, width = words.shape
    bits = 0
    while (n >> bits) > part_rows:
        bits += 1
    shift = np.uint64(64 - bits)
    hashes = np.empty(n, np.uint64)
    start = np.zeros((1 << bits) + 1, np.int64)
    for i in range(n):
        h = _mix(words[i, 0], np.uint64(width))
        for j in range(1, width):
            h = _mix(h, words[i, j])
        hashes[i] = h
        start[(np.int64(h >> shift) if bits else 0) + 1] += 1
    group, most_group, cap = _partition_plan(start, part_group)
    row = np.empty(most_group, np.int32)
    moved = np.empty((most_group, width), np.uint64)
    first = np.empty(n, np.int32)
    slot_row = np.full(cap, -1, np.int32)
    slot_words = np.zeros((cap, width), np.uint64)
    for g in range(0, 1 << bits, group):
        fill = start[g : g + group] - start[g]
        for i in range(n):
            p = np.int64(hashes[i] >> shift) if bits else 0
            if g <= p < g + group:
                k = fill[p - g]
                fill[p - g] += 1
                row[k] = i
                moved[k] = words[i]
        for p in range(g, g + group):
            lo, hi = start[p] - start[g], start[p + 1] - start[g]
            size = 1
            while size < 2 * (hi - lo):
                size *= 2
            mask = np.int64(size - 1)
            slot_row[:size] = -1
            for k in range(lo, hi):
                s = np.int64(hashes[row[k]] >> np.uint64(20)) & mask
                while True:
                    r = slot_row[s]
                    if r < 0:
                        slot_row[s] = row[k]
                        slot_words[s] = moved[k]
                        first[row[k]] = row[k]
                        break
                    same = True
                    for j in range(width):
                        same = same and slot_words[s, j] == moved[k, j]
                    if same:
                        first[row[k]] = r
                        break
                    s = (s + 1) & mask
    return first


@njit(cache=True, nogil=True)
def account_codes(offsets: np.ndarray, raw: np.ndarray, keep: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``normalize.account_key`` of each string ``raw[offsets[i]:offsets[i + 1]]`` (ASCII upper
    case, only the bytes ``keep[b]``: ``A-Z0-9``) coded by its first occurrence (what
    ``dictionary_encode`` of the keys gives): (the code of each string, the distinct keys'
    offsets and bytes, first seen first). Each key packed into :data:`ACCOUNT_WORDS` zero-padded
    words (a kept byte is never zero: equal words, equal keys) and coded by
    :func:`_word_firsts`. Empty arrays if a string has a byte of a non-ASCII character (whose
    upper case may be ASCII: left to Arrow) or a key of more than ``8 * ACCOUNT_WORDS``
    bytes."""
    n = len(offsets) - 1
    none = (np.zeros(0, np.int64), np.zeros(1, np.int32), np.zeros(0, np.uint8))
    words = np.zeros((n, ACCOUNT_WORDS), np.uint64)
    length = np.zeros(n, np.int32)
    for i in range(n):
        used = 0
        w = np.uint64(0)  # (the word being filled, stored when full: ~25% less CPU)
        for t in range(offsets[i], offsets[i + 1]):
            c = raw[t]
            if c >= 128:
                return none
            c = _upper(c)
            if keep[c]:
                if used == 8 * ACCOUNT_WORDS:
                    return none
                w |= np.uint64(c) << np.uint64(8 * (used & 7))
                used += 1
                if used & 7 == 0:
                    words[i, (used >> 3) - 1] = w
                    w = np.uint64(0)
        if used & 7:
            words[i, used >> 3] = w
        length[i] = used
    first = _word_firsts(words)
    code = np.empty(n, np.int64)
    k, total = 0, 0
    for i in range(n):
        r = first[i]
        if r == i:
            code[i] = k
            k += 1
            total += length[i]
        else:
            code[i] = code[r]
    key_offsets = np.zeros(k + 1, np.int32)
    data = np.empty(total, np.uint8)
    k, used = 0, 0
    for i in range(n):
        if first[i] == i:
            for t in range(length[i]):
                data[used] = np.uint8((words[i, t >> 3] >> np.uint64(8 * (t & 7))) & np.uint64(255))
                used += 1
            k += 1
            key_offsets[k] = used
    return code, key_offsets, data


@njit(cache=True, nogil=True)
def first_seen_codes(raw: np.ndarray, n_master: int, order: np.ndarray, n_codes: int
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Codes ``raw`` (``0 .. n_codes - 1``, each of some row; -1: none) renumbered by where
    each is first read, reading the first ``n_master`` rows then the others in ``order`` (of
    those rows, from 0): each row so read renumbered (-1 stays -1), the old code of each new
    one, the new code of each old one. One pass: no temporaries of every row."""
    renumber = np.full(n_codes, -1, np.int64)
    by_first = np.empty(n_codes, np.int64)
    code = np.empty(n_master + len(order), np.int64)
    k = 0
    for i in range(n_master + len(order)):
        r = raw[i] if i < n_master else raw[n_master + order[i - n_master]]
        if r < 0:
            code[i] = -1
            continue
        if renumber[r] < 0:
            renumber[r] = k
            by_first[k] = r
            k += 1
        code[i] = renumber[r]
    return code, by_first[:k], renumber


@njit(cache=True, nogil=True)
def mixed_strings(code: np.ndarray, n_codes: int, offsets: np.ndarray, raw: np.ndarray
                  ) -> np.ndarray:
    """Per code ``0 .. n_codes - 1``, whether the strings of its rows (row ``i``'s string
    ``raw[offsets[i]:offsets[i + 1]]``, its code ``code[i]``; -1: none) are not all equal: each
    row's bytes, read in the rows' own order, compared with a copy of its code's first string
    (the copies side by side: the first rows' strings far apart in ``raw`` cost a cache miss
    a row, 2.5M names of 244k codes ~770 -> ~360 ms on the loaded box)."""
    start = np.full(n_codes, -1, np.int64)  # where each code's copy starts (-1: none yet)
    end = np.empty(n_codes, np.int64)
    copy = np.empty(offsets[len(code)] - offsets[0], np.uint8)  # (written in part only)
    used = 0
    mixed = np.zeros(n_codes, np.bool_)
    for i in range(len(code)):
        k = code[i]
        if k < 0 or mixed[k]:
            continue
        a, b, c = offsets[i], offsets[i + 1], start[k]
        if c < 0:
            start[k] = used
            copy[used : used + b - a] = raw[a:b]
            used += b - a
            end[k] = used
        elif b - a != end[k] - c:
            mixed[k] = True
        else:
            for t in range(b - a):
                if raw[a + t] != copy[c + t]:
                    mixed[k] = True
                    break
    return mixed


@njit(cache=True, nogil=True)
def counting_order(key: np.ndarray, n_keys: int) -> tuple[np.ndarray, np.ndarray]:
    """The stable order of ``key`` (integers 0 .. ``n_keys - 1``; ``np.argsort(key,
    kind="stable")``) by a counting sort, and where each key's rows start in it (one more:
    the end)."""
    start = np.zeros(n_keys + 1, np.int64)
    for i in range(len(key)):
        start[key[i] + 1] += 1
    for j in range(n_keys):
        start[j + 1] += start[j]
    fill = start[:-1].copy()
    order = np.empty(len(key), np.int64)
    for i in range(len(key)):
        order[fill[key[i]]] = i
        fill[key[i]] += 1
    return order, start


@njit(cache=True, nogil=True)
def sort_words(offsets: np.ndarray, raw: np.ndarray, width: int) -> np.ndarray:
    """The strings ``raw[offsets[i]:offsets[i + 1]]`` as ``width`` big-endian 64-bit words each
    (zero-padded): word by word, their numeric order is the strings' byte order where no
    string holds a zero byte."""
    n = len(offsets) - 1
    out = np.zeros((n, width), np.uint64)
    for i in range(n):
        a, b = offsets[i], offsets[i + 1]
        for t in range(b - a):
            w = t >> 3
            out[i, w] |= np.uint64(raw[a + t]) << np.uint64(56 - 8 * (t & 7))
    return out


RADIX_BITS = 16  # the digit of words_order's passes (8 and 11 tried: slower at 2.5M rows)


@njit(cache=True, nogil=True)
def words_order(words: np.ndarray) -> np.ndarray:
    """The stable order of the rows of ``words`` (n, width) by word 0, then word 1, ...
    (``np.lexsort`` of the columns, last first): a least-significant-digit radix sort,
    ``RADIX_BITS`` at a time, each word's column moved along with the order; a digit all rows
    share costs no pass."""
    n, width = words.shape
    radix = 1 << RADIX_BITS
    passes = -(-64 // RADIX_BITS)
    mask = np.uint64(radix - 1)
    order = np.arange(n)
    order_tmp = np.empty(n, np.int64)
    key = np.empty(n, np.uint64)
    key_tmp = np.empty(n, np.uint64)
    count = np.zeros((passes, radix), np.int64)
    for w in range(width - 1, -1, -1):
        for i in range(n):
            key[i] = words[order[i], w]
        count[:] = 0
        for i in range(n):
            for p in range(passes):
                count[p, np.int64((key[i] >> np.uint64(p * RADIX_BITS)) & mask)] += 1
        for p in range(passes):
            if count[p].max() == n:
                continue
            at = 0
            for d in range(radix):
                c = count[p, d]
                count[p, d] = at
                at += c
            shift = np.uint64(p * RADIX_BITS)
            for i in range(n):
                d = np.int64((key[i] >> shift) & mask)
                k = count[p, d]
                count[p, d] = k + 1
                order_tmp[k] = order[i]
                key_tmp[k] = key[i]
            order, order_tmp = order_tmp, order
            key, key_tmp = key_tmp, key
    return order


@njit(cache=True, nogil=True)
def sort_packed(keys: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """The uint64 ``keys`` sorted stably by their bits ``lo .. hi - 1`` (every bit from ``hi``
    up zero): a least-significant-digit radix sort of the keys themselves, in as few passes of
    at most ``RADIX_BITS`` as that span takes. A row's payload packed into the bits below
    ``lo`` moves with its key, where :func:`words_order` moves an order beside the key and the
    rows are gathered by it after (twice the bytes a pass, and the gathers' cache misses).
    ``keys`` is the sort's own: its buffer and one scratch array take turns as a pass's target
    and the sorted keys are returned in either (no copy of the keys: 11M of a 1M day's key
    index, 0.167 -> 0.123 s thread CPU)."""
    return sort_packed_into(keys, np.empty(len(keys), np.uint64), lo, hi)


@njit(cache=True, nogil=True)
def sort_packed_into(keys: np.ndarray, scratch: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """:func:`sort_packed` with the caller's ``scratch`` (uint64, as long as ``keys``): both
    buffers are the sort's, and the sorted keys are returned in one of them."""
    n = len(keys)
    span = hi - lo
    out = keys
    if span <= 0 or n < 2:
        return out
    passes = -(-span // RADIX_BITS)
    width = -(-span // passes)
    mask = np.uint64((1 << width) - 1)
    count = np.zeros((passes, 1 << width), np.int64)
    for i in range(n):
        for p in range(passes):
            count[p, np.int64((out[i] >> np.uint64(lo + p * width)) & mask)] += 1
    tmp = scratch
    for p in range(passes):
        if count[p].max() == n:
            continue
        at = 0
        for d in range(1 << width):
            c = count[p, d]
            count[p, d] = at
            at += c
        shift = np.uint64(lo + p * width)
        for i in range(n):
            d = np.int64((out[i] >> shift) & mask)
            tmp[count[p, d]] = out[i]
            count[p, d] += 1
        out, tmp = tmp, out
    return out


@njit(cache=True, nogil=True)
def plain_minor(
    offsets: np.ndarray, raw: np.ndarray, exps: np.ndarray, null: np.ndarray, out: np.ndarray
) -> bool:
    """``money.parse_plain_minor`` of the strings ``raw[offsets[i]:offsets[i + 1]]`` into
    ``out``: ``-?[0-9]*(.[0-9]*)?`` with at least one digit, as minor units of ``exps[i]``
    decimals (further decimals must be zeros); null rows (``null``, empty when none) give 0.
    False at the first row that is anything else, or longer than 17 characters with its
    exponent (so no overflow): the caller then declines the column."""
    for i in range(len(offsets) - 1):
        if len(null) and null[i]:
            out[i] = 0
            continue
        j, b = offsets[i], offsets[i + 1]
        if b - j + exps[i] > 17:
            return False  # long text (leading zeros?): the careful parser's size rule decides
        neg = j < b and raw[j] == 45  # "-"
        if neg:
            j += 1
        e = exps[i]
        v = 0
        digits = 0
        while j < b and 48 <= raw[j] <= 57:
            v = v * 10 + (raw[j] - 48)
            digits += 1
            j += 1
        places = 0
        if j < b and raw[j] == 46:  # "."
            j += 1
            while j < b and 48 <= raw[j] <= 57:
                if places < e:
                    v = v * 10 + (raw[j] - 48)
                    places += 1
                elif raw[j] != 48:
                    return False  # more decimals than the currency allows
                digits += 1
                j += 1
        if j != b or digits == 0:
            return False
        while places < e:
            v *= 10
            places += 1
        out[i] = -v if neg else v
    return True


@njit(cache=True, nogil=True)
def decimal_text(values: np.ndarray, exps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``money.decimal_text``: each of the int64 ``values`` with ``exps[i]`` implied decimals
    as text (``-1234.50``, ``180318``, ``0.0005``), as the buffers of an Arrow string array:
    (int64 offsets, bytes). Two passes: the lengths, then the digits from the right."""
    n = len(values)
    offsets = np.empty(n + 1, np.int64)
    offsets[0] = 0
    total = 0
    for i in range(n):
        v = values[i]
        e = exps[i]
        whole = (-v if v < 0 else v) // 10 ** e
        size = 1
        while whole >= 10:
            whole //= 10
            size += 1
        if v < 0:
            size += 1
        if e > 0:
            size += e + 1
        total += size
        offsets[i + 1] = total
    data = np.empty(total, np.uint8)
    for i in range(n):
        v = values[i]
        mag = -v if v < 0 else v
        j = offsets[i + 1]
        for _ in range(exps[i]):
            j -= 1
            data[j] = 48 + mag % 10
            mag //= 10
        if exps[i] > 0:
            j -= 1
            data[j] = 46  # "."
        j -= 1
        data[j] = 48 + mag % 10
        mag //= 10
        while mag > 0:
            j -= 1
            data[j] = 48 + mag % 10
            mag //= 10
        if v < 0:
            data[j - 1] = 45  # "-"
    return offsets, data


@njit(cache=True, nogil=True)
def hash64(offsets: np.ndarray, raw: np.ndarray, base: np.uint64, fmix: tuple, out: np.ndarray
           ) -> None:
    """``normalize.string_hash64`` of the strings ``raw[offsets[i]:offsets[i + 1]]`` into
    ``out``: the length times ``base`` plus each byte times ``base`` to the power of its
    position, modulo 2**64, then MurmurHash3's finaliser with the multipliers ``fmix``."""
    s33 = np.uint64(33)
    for i in range(len(offsets) - 1):
        a, b = offsets[i], offsets[i + 1]
        h = np.uint64(b - a) * base
        p = np.uint64(1)
        for t in range(a, b):
            h += p * np.uint64(raw[t])
            p *= base
        for m in fmix:
            h ^= h >> s33
            h *= m
        h ^= h >> s33
        out[i] = h


@njit(cache=True, nogil=True)
def bytes_equal(a_off: np.ndarray, a_raw: np.ndarray, ai: np.ndarray, b_off: np.ndarray,
                b_raw: np.ndarray, bi: np.ndarray, out: np.ndarray) -> None:
    """``normalize.strings_equal``: whether string ``ai[j]`` of ``a`` and ``bi[j]`` of ``b``
    (offsets and bytes each) have the same bytes, into ``out``. ``b``'s strings (read at
    random: a lookup's values) requested ahead, their offsets then their bytes."""
    m = len(ai)
    for j in range(m):
        if j + 2 * PREFETCH_AHEAD < m:
            prefetch(b_off, bi[j + 2 * PREFETCH_AHEAD])
        if j + PREFETCH_AHEAD < m:
            prefetch(b_raw, b_off[bi[j + PREFETCH_AHEAD]])
        a, b = a_off[ai[j]], b_off[bi[j]]
        n = a_off[ai[j] + 1] - a
        same = n == b_off[bi[j] + 1] - b
        t = 0
        while same and t < n:
            same = a_raw[a + t] == b_raw[b + t]
            t += 1
        out[j] = same


@njit(cache=True, nogil=True)
def lookup(t_off: np.ndarray, t_raw: np.ndarray, base: np.uint64, fmix: tuple, shift: np.uint64,
           bucket_start: np.ndarray, hashes: np.ndarray, by_hash: np.ndarray, v_off: np.ndarray,
           v_raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``normalize.StringLookup.matches`` of the strings ``t_raw[t_off[i]:t_off[i + 1]]`` (nulls
    included, as the bytes they span): each one's :func:`hash64`, the values of its bucket
    (``hash >> shift``) with that hash whose bytes are its bytes, as (text row, value), in text
    order and bucket order within a text. Two passes: count, then fill."""
    n = len(t_off) - 1
    h = np.empty(n, np.uint64)
    hash64(t_off, t_raw, base, fmix, h)
    row = np.empty(0, np.int64)
    value = np.empty(0, np.int64)
    for fill in range(2):
        j = 0
        for i in range(n):
            a, length = t_off[i], t_off[i + 1] - t_off[i]
            bucket = np.int64(h[i] >> shift)
            for k in range(bucket_start[bucket], bucket_start[bucket + 1]):
                if hashes[k] != h[i]:
                    continue
                v = by_hash[k]
                b = v_off[v]
                same = v_off[v + 1] - b == length
                t = 0
                while same and t < length:
                    same = t_raw[a + t] == v_raw[b + t]
                    t += 1
                if same:
                    if fill:
                        row[j] = i
                        value[j] = v
                    j += 1
        if not fill:
            row = np.empty(j, np.int64)
            value = np.empty(j, np.int64)
    return row, value


@njit(cache=True, nogil=True, inline="always")
def _word(raw: np.ndarray, t: int, a: int, b: int) -> bool:
    """Whether ``raw[t]`` (within ``a:b``) is an ASCII word character (RE2's ``\\w``); upper
    or lower case alike."""
    if t < a or t >= b:
        return False
    c = raw[t]
    return (48 <= c <= 57) or (65 <= c <= 90) or (97 <= c <= 122) or c == 95


@njit(cache=True, nogil=True, inline="always")
def _digit(raw: np.ndarray, t: int, b: int) -> bool:
    return t < b and 48 <= raw[t] <= 57


@njit(cache=True, nogil=True, inline="always")
def _century(raw: np.ndarray, t: int, b: int) -> bool:
    """``raw[t:t + 2]`` is ``19`` or ``20``."""
    return t + 1 < b and ((raw[t] == 49 and raw[t + 1] == 57)
                          or (raw[t] == 50 and raw[t + 1] == 48))


@njit(cache=True, nogil=True, inline="always")
def _year_end(raw: np.ndarray, t: int, a: int, b: int) -> int:
    """``(?:19|20)?[0-9]{2}\\b`` from ``t``: where it ends, -1 if it does not match."""
    if _century(raw, t, b) and _digit(raw, t + 2, b) and _digit(raw, t + 3, b) and not _word(
            raw, t + 4, a, b):
        return t + 4
    if _digit(raw, t, b) and _digit(raw, t + 1, b) and not _word(raw, t + 2, a, b):
        return t + 2
    return -1


@njit(cache=True, nogil=True, inline="always")
def _is(raw: np.ndarray, t: int, b: int, lo: int, hi: int) -> bool:
    return t < b and lo <= raw[t] <= hi


@njit(cache=True, nogil=True, inline="always")
def _quarter(raw: np.ndarray, t: int, a: int, b: int) -> bool:
    """``Q[1-4]\\b`` at ``t`` (``q`` too: ASCII is upper-cased as the pass goes)."""
    return (_is(raw, t, b, 81, 81) or _is(raw, t, b, 113, 113)) and _is(
        raw, t + 1, b, 49, 52) and not _word(raw, t + 2, a, b)


@njit(cache=True, nogil=True, inline="always")
def _sep(raw: np.ndarray, t: int, b: int, dash: bool) -> bool:
    """``raw[t]`` is ``.`` or ``/`` (``[./]``), or with ``dash`` also a space or ``-``."""
    if t >= b:
        return False
    c = raw[t]
    return c == 46 or c == 47 or (dash and (c == 32 or c == 45))


@njit(cache=True, nogil=True)
def date_end(raw: np.ndarray, t: int, a: int, b: int) -> int:
    """Where ``normalize.DATES`` matches from ``raw[t]`` in the upper-case string ``raw[a:b]``
    (-1: it does not), its alternatives tried in order as the regular expression does: a date
    ``d.m.y`` (``[./]``, 1-2 digit day and month), an ISO date, ``Q1/2026``, ``2026 Q1``; each
    between word boundaries (``\\b``, ASCII)."""
    if _word(raw, t - 1, a, b) or not _word(raw, t, a, b):
        return -1
    # [0-9]{1,2}[./][0-9]{1,2}[./](?:19|20)?[0-9]{2}\b
    u = t + 2 if _digit(raw, t + 1, b) else t + 1
    if _digit(raw, t, b) and _sep(raw, u, b, False):
        v = u + 3 if _digit(raw, u + 2, b) else u + 2
        if _digit(raw, u + 1, b) and _sep(raw, v, b, False):
            e = _year_end(raw, v + 1, a, b)
            if e >= 0:
                return e
    # (?:19|20)[0-9]{2}-[0-9]{2}-[0-9]{2}\b
    four = _century(raw, t, b) and _digit(raw, t + 2, b) and _digit(raw, t + 3, b)
    if four and _is(raw, t + 4, b, 45, 45) and _digit(raw, t + 5, b) and _digit(raw, t + 6, b) \
            and _is(raw, t + 7, b, 45, 45) and _digit(raw, t + 8, b) and _digit(raw, t + 9, b) \
            and not _word(raw, t + 10, a, b):
        return t + 10
    # Q[1-4][ /.-](?:19|20)?[0-9]{2}\b
    if (raw[t] == 81 or raw[t] == 113) and _is(raw, t + 1, b, 49, 52) and _sep(
            raw, t + 2, b, True):
        e = _year_end(raw, t + 3, a, b)
        if e >= 0:
            return e
    # (?:19|20)[0-9]{2}[ /.-]?Q[1-4]\b
    if four and _sep(raw, t + 4, b, True) and _quarter(raw, t + 5, a, b):
        return t + 7  # (the separator taken where it can be)
    if four and _quarter(raw, t + 4, a, b):
        return t + 6
    return -1


@njit(cache=True, nogil=True)
def reference_tokens(offsets: np.ndarray, raw: np.ndarray, inside: np.ndarray, max_join: int,
                     ocr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                               np.ndarray]:
    """``normalize.reference_tokens``' tokens of the strings ``raw[offsets[i]:offsets[i + 1]]``
    (upper case but for ASCII a-z, mapped here) as (owner string per token, token offsets,
    token bytes, the tokens' :func:`digits_key` offsets and bytes): the dates and periods off
    (:func:`date_end`), the runs of bytes that ``inside`` (a byte table) holds, each string's
    own, then every ``w`` adjacent runs of one string joined, for ``w`` = 2 .. ``max_join``; in
    that order (all singles, then all pairs...)."""
    n = len(offsets) - 1
    total = offsets[n] - offsets[0]
    packed = np.empty(total, np.uint8)
    run_lo = np.empty(total, np.int64)
    run_hi = np.empty(total, np.int64)
    run_of = np.empty(total, np.int64)
    runs, used = 0, 0
    for s in range(n):
        in_run = False
        a, b = offsets[s], offsets[s + 1]
        t = a
        while t < b:
            c = raw[t]
            if not in_run and (48 <= c <= 57 or c == 81 or c == 113):  # (where a date starts)
                e = date_end(raw, t, a, b)
                if e >= 0:
                    t = e
                    continue
            if 97 <= c <= 122:
                c -= 32
            if inside[c]:
                if not in_run:
                    run_lo[runs] = used
                    run_of[runs] = s
                    runs += 1
                    in_run = True
                packed[used] = c
                used += 1
            elif in_run:
                run_hi[runs - 1] = used
                in_run = False
            t += 1
        if in_run:
            run_hi[runs - 1] = used
    count, size = 0, 0
    for w in range(1, max_join + 1):
        for i in range(runs - w + 1):
            if run_of[i + w - 1] == run_of[i]:
                count += 1
                size += run_hi[i + w - 1] - run_lo[i]
    owner = np.empty(count, np.int64)
    out_offsets = np.zeros(count + 1, np.int32)
    out = np.empty(size, np.uint8)
    dig_offsets = np.zeros(count + 1, np.int32)
    dig = np.empty(size, np.uint8)
    k, at, d = 0, 0, 0
    for w in range(1, max_join + 1):
        for i in range(runs - w + 1):
            if run_of[i + w - 1] == run_of[i]:
                lo, hi = run_lo[i], run_hi[i + w - 1]
                out[at : at + hi - lo] = packed[lo:hi]
                d = _digits(out, at, at + hi - lo, ocr, dig, d)
                at += hi - lo
                owner[k] = run_of[i]
                out_offsets[k + 1] = at
                dig_offsets[k + 1] = d
                k += 1
    return owner, out_offsets, out, dig_offsets, dig[:d]


@njit(cache=True, nogil=True)
def take_strings(offsets: np.ndarray, raw: np.ndarray, rows: np.ndarray, out_offsets: np.ndarray
                 ) -> np.ndarray:
    """The strings ``rows`` of ``raw[offsets[i]:offsets[i + 1]]``, one after another: their
    offsets written into ``out_offsets`` (one more than rows, from 0), their bytes returned."""
    out_offsets[0] = 0
    for j in range(len(rows)):
        out_offsets[j + 1] = out_offsets[j] + offsets[rows[j] + 1] - offsets[rows[j]]
    out = np.empty(out_offsets[len(rows)], np.uint8)
    for j in range(len(rows)):
        out[out_offsets[j] : out_offsets[j + 1]] = raw[offsets[rows[j]] : offsets[rows[j] + 1]]
    return out


@njit(cache=True, nogil=True, inline="always")
def id_keys(raw: np.ndarray, a: int, b: int, ocr: np.ndarray, al: np.ndarray, ua: int,
            dg: np.ndarray, ud: int) -> tuple[int, int, int, int]:
    """The keys of the invoice id ``raw[a:b]`` (ASCII): its alnum key (upper case, A-Z0-9 kept)
    written into ``al`` from ``ua`` on, the digits key of that (:func:`_digits`) into ``dg``
    from ``ud`` on, and its tail ``raw[s:e]`` (the last run of digits, if a digit comes before
    it, without leading zeros; empty if none): ``(ua, ud, s, e)`` after them."""
    start = ua
    for t in range(a, b):
        c = raw[t]
        if 97 <= c <= 122:
            c -= 32
        if (48 <= c <= 57) or (65 <= c <= 90):
            al[ua] = c
            ua += 1
    ud = _digits(al, start, ua, ocr, dg, ud)
    e = b
    while e > a and not (48 <= raw[e - 1] <= 57):
        e -= 1
    s = e
    while s > a and 48 <= raw[s - 1] <= 57:
        s -= 1
    earlier = False
    for t in range(a, s):
        if 48 <= raw[t] <= 57:
            earlier = True
            break
    if not earlier:
        s = e
    while s < e and raw[s] == 48:
        s += 1
    return ua, ud, s, e


@njit(cache=True, nogil=True)
def id_key_values(raw: np.ndarray, a: int, b: int, ocr: np.ndarray, al: np.ndarray, ua: int,
                  dg: np.ndarray, ud: int) -> tuple[int, int, int, int, int, int]:
    """:func:`id_keys` of the invoice id ``raw[a:b]`` (ASCII) with the keys' values read as
    they are written (each byte of the id and of its alnum key once, where :func:`id_keys`,
    :func:`_digits` and a reading of each key's decimals take ~8 passes: the key index's id
    pass at 1M). Returns ``(ua, ud, tail_len, alnum, digits, tail)``: the bytes used after the
    alnum and digits keys; the tail's length (leading zeros off, 0 when it is no key); the
    alnum key's value if it is a canonical decimal (digits only, no leading zero), else -1;
    the digits key's value and the tail's (0 when none). A value of more than 18 digits
    wraps: the caller refuses such keys by their lengths."""
    start = ua
    lead = 0  # the alnum key's leading letters (the digits key skips them)
    seen_digit = False
    others = 0  # its letters after its first digit
    alnum = np.int64(0)
    canonical = True
    runs = 0  # runs of digits in the id; the last one's value and length, leading zeros off
    in_run = False
    run = np.int64(0)
    run_len = 0
    for t in range(a, b):
        c = raw[t]
        if 48 <= c <= 57:
            if not in_run:
                in_run = True
                runs += 1
                run = np.int64(0)
                run_len = 0
            if run_len or c != 48:
                run = run * 10 + np.int64(c - 48)
                run_len += 1
            if ua == start and c == 48:
                canonical = False
            seen_digit = True
            alnum = alnum * 10 + np.int64(c - 48)
            al[ua] = c
            ua += 1
            continue
        in_run = False
        if 97 <= c <= 122:
            c -= 32
        if 65 <= c <= 90:
            canonical = False
            if seen_digit:
                others += 1
            else:
                lead += 1
            al[ua] = c
            ua += 1
    mapped = others * 3 <= ua - start - lead
    digits = np.int64(0)
    started = False
    for t in range(start + lead, ua):
        c = ocr[al[t]] if mapped else al[t]
        if 48 <= c <= 57 and (started or c != 48):
            started = True
            digits = digits * 10 + np.int64(c - 48)
            dg[ud] = c
            ud += 1
    if ua == start or not canonical:
        alnum = np.int64(-1)
    if runs < 2:
        return ua, ud, 0, alnum, digits, np.int64(0)
    return ua, ud, run_len, alnum, digits, run


@njit(cache=True, nogil=True)
def invoice_keys(offsets: np.ndarray, raw: np.ndarray, ocr: np.ndarray, min_len: np.ndarray,
                 prefix_min: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``normalize.invoice_keys`` of the ASCII strings ``raw[offsets[i]:offsets[i + 1]]``:
    (part of each key row, its string, key offsets, key bytes), the rows part by part and by
    string within a part. The parts: 0 alnum (upper case, ``A-Z0-9`` kept), 1 digits
    (:func:`digits_key` of alnum), 2 tail (the last digit group of a string holding an earlier
    digit, leading zeros off; not when equal to digits), 3.. prefix (digits cut by 1, 2, ...
    characters, while ``prefix_min`` are left); a key is kept from ``min_len[part]`` bytes."""
    n = len(offsets) - 1
    total = offsets[n] - offsets[0]
    al = np.empty(total, np.uint8)
    al_off = np.zeros(n + 1, np.int64)
    dg = np.empty(total, np.uint8)
    dg_off = np.zeros(n + 1, np.int64)
    tl = np.empty(total, np.uint8)
    tl_off = np.zeros(n + 1, np.int64)
    n_parts = len(min_len)
    rows = np.zeros(n_parts, np.int64)
    size = np.zeros(n_parts, np.int64)
    ua, ud, ut = 0, 0, 0
    for i in range(n):
        a, b = offsets[i], offsets[i + 1]
        ua, ud, s, e = id_keys(raw, a, b, ocr, al, ua, dg, ud)  # alnum, digits, the tail
        al_off[i + 1] = ua
        dg_off[i + 1] = ud
        # which keys are kept
        la, ld, lt = ua - al_off[i], ud - dg_off[i], e - s
        if la >= min_len[0]:
            rows[0] += 1
            size[0] += la
        if ld >= min_len[1]:
            rows[1] += 1
            size[1] += ld
        same = lt == ld
        t = 0
        while same and t < lt:
            same = raw[s + t] == dg[dg_off[i] + t]
            t += 1
        if lt >= min_len[2] and not same:
            rows[2] += 1
            size[2] += lt
            for t in range(s, e):
                tl[ut] = raw[t]
                ut += 1
        tl_off[i + 1] = ut
        for p in range(3, n_parts):
            if ld - (p - 2) >= prefix_min and ld - (p - 2) >= min_len[p]:
                rows[p] += 1
                size[p] += ld - (p - 2)
    part = np.empty(rows.sum(), np.int8)
    inv = np.empty(rows.sum(), np.int64)
    key_off = np.zeros(rows.sum() + 1, np.int32)
    key = np.empty(size.sum(), np.uint8)
    k, at = 0, 0
    for p in range(n_parts):
        for i in range(n):
            if p == 0:
                lo, hi, src = al_off[i], al_off[i + 1], al
            elif p == 2:
                lo, hi, src = tl_off[i], tl_off[i + 1], tl
            else:
                lo, hi, src = dg_off[i], dg_off[i + 1] - max(p - 2, 0), dg
                if p >= 3 and hi - lo < prefix_min:
                    continue
            if hi - lo < min_len[p]:
                continue
            for t in range(lo, hi):
                key[at] = src[t]
                at += 1
            part[k] = p
            inv[k] = i
            k += 1
            key_off[k] = at
    return part, inv, key_off, key


@njit(cache=True, nogil=True, inline="always")
def _popcount(x: np.uint64) -> np.int64:
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return np.int64((x * np.uint64(0x0101010101010101)) >> np.uint64(56))


@njit(cache=True, nogil=True)
def _lcs(a_raw: np.ndarray, a0: int, a1: int, pm: np.ndarray, b_raw: np.ndarray, b0: int,
         b1: int, row: np.ndarray) -> int:
    """The length of the longest common subsequence of the bytes ``a_raw[a0:a1]`` and
    ``b_raw[b0:b1]``. ``a`` of at most 64 bytes: bit-parallel (Hyyrö's, rapidfuzz's own), with
    ``pm[c]`` the bits of the positions of byte ``c`` in ``a``; a longer ``a``: the textbook
    dynamic programme by rows of ``b`` (``row``: room for ``a1 - a0 + 1`` integers)."""
    n = a1 - a0
    if n <= 64:
        s = ~np.uint64(0)
        for t in range(b0, b1):
            u = s & pm[b_raw[t]]
            s = (s + u) | (s - u)
        mask = ~np.uint64(0) if n == 64 else (np.uint64(1) << np.uint64(n)) - np.uint64(1)
        return _popcount(~s & mask)
    row[: n + 1] = 0
    for t in range(b0, b1):
        diag = 0  # row[i] of the previous row of ``b``, before it is overwritten
        for i in range(1, n + 1):
            up = row[i]
            if a_raw[a0 + i - 1] == b_raw[t]:
                row[i] = diag + 1
            elif row[i - 1] > up:
                row[i] = row[i - 1]
            diag = up
    return row[n]


@njit(cache=True, nogil=True, inline="always")
def _set_masks(pm: np.ndarray, raw: np.ndarray, a0: int, a1: int, on: bool) -> None:
    """Set (``on``) or clear ``pm``'s position bits of the bytes ``raw[a0:a1]`` (up to 64)."""
    for t in range(a0, min(a1, a0 + 64)):
        if on:
            pm[raw[t]] |= np.uint64(1) << np.uint64(t - a0)
        else:
            pm[raw[t]] = 0


@njit(cache=True, nogil=True, inline="always")
def _ratio(a_raw: np.ndarray, a0: int, a1: int, pm: np.ndarray, b_raw: np.ndarray, b0: int,
           b1: int, row: np.ndarray, cut: float) -> np.float32:
    """rapidfuzz's ``fuzz.ratio`` of two byte strings with ``score_cutoff = 100 * cut``, as the
    float32 its ``cdist``/``cpdist`` return: the normalised Indel similarity ``1 - dist / (la +
    lb)`` (``dist = la + lb - 2 * lcs``; 1 when both are empty), 0 below ``cut``, times 100 — the
    same double operations in the same order (rapidfuzz's ``NormalizedMetricBase``), so the
    same bits. Its length bound first: ``dist >= |la - lb|`` and ``1 - d / L`` cannot grow as
    ``d`` does (IEEE division and subtraction are monotone), so where ``|la - lb|`` already
    scores below ``cut`` the pair does (0) and no LCS is computed."""
    la, lb = a1 - a0, b1 - b0
    total = la + lb
    if total == 0:
        return np.float32(100.0)
    if 1.0 - np.float64(abs(la - lb)) / np.float64(total) < cut:
        return np.float32(0.0)
    dist = total - 2 * _lcs(a_raw, a0, a1, pm, b_raw, b0, b1, row)
    sim = 1.0 - np.float64(dist) / np.float64(total)
    return np.float32(sim * 100.0) if sim >= cut else np.float32(0.0)


@njit(cache=True, nogil=True)
def _least_lcs(la: int, lb: int, cut: float) -> int:
    """The least LCS length at which strings of ``la`` and ``lb`` bytes reach ``cut`` by
    :func:`_ratio`'s arithmetic (which cannot fall as the LCS grows); ``min(la, lb) + 1`` if
    none does."""
    total = la + lb
    least = min(la, lb) + 1
    for lcs in range(min(la, lb), -1, -1):
        if total and 1.0 - np.float64(total - 2 * lcs) / np.float64(total) < cut:
            break
        least = lcs
    return least


class _Keys(NamedTuple):
    """A block's keys packed in 64-bit words (:func:`_pack`; arrays with room for the widest
    block), and the scratch of :func:`_query_cells`."""

    pm: np.ndarray  # word * n_codes + code: the position bits of the byte in the word's lanes
    code: np.ndarray  # per byte: its code in the block's keys' alphabet (1..), 0 for none
    query: np.ndarray  # a query's bytes coded
    lane_len: np.ndarray  # per lane (the block's keys in order: lane x is key a + x): its
    lane_mask: np.ndarray  # length and position bits
    word_end: np.ndarray  # per word: the end of its lanes, its guard bits, its keys' least and
    word_guard: np.ndarray  # greatest length
    word_lo: np.ndarray
    word_hi: np.ndarray
    pm1: np.ndarray  # one string's position bits (:func:`_ratio`)
    row: np.ndarray  # :func:`_lcs`' row
    least: np.ndarray  # _least_lcs by (query, key) length, -1 until needed
    lane_col: np.ndarray  # per lane: its key's column in the block (the lanes by key length)
    of_len: np.ndarray  # per key length (64: longer): _pack's counting sort


@njit(cache=True, nogil=True)
def _pack(k_off: np.ndarray, k_raw: np.ndarray, k_row: np.ndarray, a: int, b: int, keys: _Keys
          ) -> tuple[int, int]:
    """The keys ``k_row[a:b]`` packed, shortest first (stable: the lane ``x`` holds the key of
    column ``keys.lane_col[x]``), into 64-bit words of lanes (into ``keys``): a key of ``n``
    bytes takes ``n + 1`` bits (its position bits, then a guard bit that catches the carry
    out of the lane), as many as fit a word; a key over 63 bytes has a word of its own (with
    no position bits: scored by :func:`_ratio`). A word's keys are then of one length or a
    few near ones, so that :func:`_query_cells`' length bound skips whole words of the keys
    a query's length cannot reach. The position bits by the keys' bytes coded 1.. (0: a byte
    in none; a word's bits then take ``n_codes`` integers, not 256: a large block's stay in
    cache). (The number of words, ``n_codes``.)"""
    keys.code[:] = 0
    keys.of_len[:] = 0
    n_codes = 1
    for j in range(a, b):
        for t in range(k_off[k_row[j]], k_off[k_row[j] + 1]):
            if keys.code[k_raw[t]] == 0:
                keys.code[k_raw[t]] = n_codes
                n_codes += 1
        keys.of_len[min(k_off[k_row[j] + 1] - k_off[k_row[j]], 64) + 1] += 1
    for n in range(1, 66):
        keys.of_len[n] += keys.of_len[n - 1]
    for j in range(a, b):
        n = min(k_off[k_row[j] + 1] - k_off[k_row[j]], 64)
        keys.lane_col[keys.of_len[n]] = j - a
        keys.of_len[n] += 1
    w, used = -1, 64
    for x in range(b - a):
        j = a + keys.lane_col[x]
        k0, k1 = k_off[k_row[j]], k_off[k_row[j] + 1]
        n = k1 - k0
        if n > 63 or used + n + 1 > 64:
            w += 1
            keys.pm[w * n_codes : (w + 1) * n_codes] = 0
            keys.word_guard[w] = 0
            keys.word_lo[w], keys.word_hi[w] = n, n
            used = 0
        keys.word_lo[w], keys.word_hi[w] = min(keys.word_lo[w], n), max(keys.word_hi[w], n)
        keys.lane_len[x], keys.lane_mask[x] = n, 0
        if n > 63:
            used = 64
        else:
            ones = (np.uint64(1) << np.uint64(n)) - np.uint64(1)
            keys.lane_mask[x] = ones << np.uint64(used)
            for t in range(k0, k1):
                bit = np.uint64(1) << np.uint64(used + t - k0)
                keys.pm[w * n_codes + keys.code[k_raw[t]]] |= bit
            used += n + 1
            keys.word_guard[w] |= np.uint64(1) << np.uint64(used - 1)
        keys.word_end[w] = x + 1
    return w + 1, n_codes


@njit(cache=True, nogil=True, inline="always")
def _query_cells(q_raw: np.ndarray, a0: int, a1: int, at: int, k_off: np.ndarray,
                 k_raw: np.ndarray, k_row: np.ndarray, a: int, n_words: int, n_codes: int,
                 keys: _Keys, cut: float, hit: np.ndarray, score: np.ndarray, k: int
                 ) -> tuple[np.ndarray, np.ndarray, int]:
    """The nonzero cells (``at`` + the key's column, its :func:`_ratio`) of the query
    ``q_raw[a0:a1]`` against the packed keys (their first row ``a``), appended at ``k`` in
    the order of their columns (found in the lanes' order, then sorted: a query has few).

    A query of at most 64 bytes is compared with a word's keys at once: Hyyrö's bit-parallel
    LCS run on all lanes together (the addition's carry out of a lane lands in its guard bit,
    cleared before each addition, and goes no further; the subtraction never borrows: ``u`` is
    a subset of ``S``), each lane's LCS its zero position bits. A lane is scored only when its
    LCS reaches the least that can reach the cutoff (:func:`_least_lcs`, by the very arithmetic
    :func:`_ratio` uses), and a word only when its keys' lengths allow the cutoff (the length
    bound of :func:`_ratio`, at the key length nearest the query's: ``2 * min / (la + lb)``
    is greatest there)."""
    lq = a1 - a0
    for t in range(min(lq, 64)):
        keys.query[t] = keys.code[q_raw[a0 + t]]
    first_hit = k
    lane = 0
    for w in range(n_words):
        first, lane = lane, keys.word_end[w]
        near = min(max(lq, keys.word_lo[w]), keys.word_hi[w])
        if lq + near and 1.0 - np.float64(abs(lq - near)) / np.float64(lq + near) < cut:
            continue  # no key of the word can reach the cutoff
        if lq > 64 or keys.word_hi[w] > 63:  # (long strings: one pair at a time)
            _set_masks(keys.pm1, q_raw, a0, a1, True)
            for x in range(first, lane):
                j = k_row[a + keys.lane_col[x]]
                sc = _ratio(q_raw, a0, a1, keys.pm1, k_raw, k_off[j], k_off[j + 1], keys.row, cut)
                if sc != 0:
                    hit, score, k = _add_hit(hit, score, k, at + keys.lane_col[x], sc)
            _set_masks(keys.pm1, q_raw, a0, a1, False)
            continue
        guard = keys.word_guard[w]
        state = ~np.uint64(0)
        pm = keys.pm[w * n_codes : (w + 1) * n_codes]
        for t in range(lq):
            u = state & pm[keys.query[t]]
            state = ((state & ~guard) + u) | (state & ~u)
        for x in range(first, lane):
            lk = keys.lane_len[x]
            lcs = _popcount(~state & keys.lane_mask[x])
            if keys.least[lq, lk] < 0:
                keys.least[lq, lk] = _least_lcs(lq, lk, cut)
            if lcs < keys.least[lq, lk]:
                continue
            total = lq + lk
            sim = 1.0 - np.float64(total - 2 * lcs) / np.float64(total) if total else 1.0
            if sim != 0:  # (a cutoff of 0 lets a pair with nothing in common through)
                hit, score, k = _add_hit(hit, score, k, at + keys.lane_col[x],
                                         np.float32(sim * 100.0))
    for y in range(first_hit + 1, k):  # (insertion sort by cell)
        cell, sc = hit[y], score[y]
        z = y
        while z > first_hit and hit[z - 1] > cell:
            hit[z], score[z] = hit[z - 1], score[z - 1]
            z -= 1
        hit[z], score[z] = cell, sc
    return hit, score, k


@njit(cache=True, nogil=True)
def ratio_blocks(q_off: np.ndarray, q_raw: np.ndarray, k_off: np.ndarray, k_raw: np.ndarray,
                 k_row: np.ndarray, blocks: np.ndarray, cutoff: float
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The nonzero cells of rapidfuzz's ``process.cdist(queries, keys, scorer=fuzz.ratio,
    score_cutoff=cutoff, dtype=np.float32)`` of each block ``(s, e, a, b)`` of ``blocks``:
    the queries ``s:e`` against the keys of rows ``k_row[a:b]`` (the byte strings ``q_raw[
    q_off[i]:q_off[i + 1]]`` and ``k_raw[k_off[j]:k_off[j + 1]]``; ASCII, so bytes are
    rapidfuzz's characters). Returned as (flat index of each nonzero cell in its block's
    matrix, its score, the cells of each block), block after block, row-major: the cells
    ``np.flatnonzero`` of each matrix gives, each scored as :func:`_ratio` scores it.

    A query that an earlier query of its block equals (byte for byte; found by the FNV-1a hash
    of its bytes in a table of the block's queries) has that query's cells, copied. Others:
    :func:`_query_cells`, the block's keys packed in words once (:func:`_pack`); inlined here
    (a call per query passed its ``_Keys`` of 14 arrays: a third of the pass's time)."""
    cut = cutoff / 100.0
    most_q, most_k, width, height = 1, 1, 1, 1
    for i in range(len(q_off) - 1):
        most_q = max(most_q, q_off[i + 1] - q_off[i] + 1)
    for j in range(len(k_row)):
        most_k = max(most_k, k_off[k_row[j] + 1] - k_off[k_row[j]] + 1)
    for blk in range(len(blocks)):
        height = max(height, blocks[blk, 1] - blocks[blk, 0])
        width = max(width, blocks[blk, 3] - blocks[blk, 2])
    keys = _Keys(np.empty(width * 257, np.uint64), np.zeros(256, np.int64), np.empty(64, np.int64),
                 np.empty(width, np.int64), np.empty(width, np.uint64), np.empty(width, np.int64),
                 np.empty(width, np.uint64), np.empty(width, np.int64), np.empty(width, np.int64),
                 np.zeros(256, np.uint64), np.zeros(max(most_q, most_k), np.int64),
                 np.full((65, 64), -1, np.int64), np.empty(width, np.int64),
                 np.zeros(66, np.int64))
    size = 1
    while size < 2 * height:
        size *= 2
    slot_query = np.full(size, -1, np.int64)  # the block's distinct queries, by hash
    first_cell = np.empty(height, np.int64)  # where each distinct query's cells start
    hit = np.empty(1024, np.int64)
    score = np.empty(1024, np.float32)
    n_hits = np.zeros(len(blocks), np.int64)
    k = 0
    for blk in range(len(blocks)):
        s, e, a, b = blocks[blk, 0], blocks[blk, 1], blocks[blk, 2], blocks[blk, 3]
        n_words, n_codes = _pack(k_off, k_raw, k_row, a, b, keys)
        begin = k
        mask = 1
        while mask < 2 * (e - s):
            mask *= 2
        mask -= 1
        slot_query[: mask + 1] = -1
        for i in range(s, e):
            a0, a1 = q_off[i], q_off[i + 1]
            h = np.uint64(0xCBF29CE484222325)
            for t in range(a0, a1):
                h = (h ^ np.uint64(q_raw[t])) * np.uint64(0x100000001B3)
            slot = np.int64((h ^ (h >> np.uint64(29))) & np.uint64(mask))
            same = -1
            while slot_query[slot] >= 0:
                r = slot_query[slot]
                r0 = q_off[r]
                t = 0
                if q_off[r + 1] - r0 == a1 - a0:
                    while t < a1 - a0 and q_raw[r0 + t] == q_raw[a0 + t]:
                        t += 1
                if t == a1 - a0 and q_off[r + 1] - r0 == a1 - a0:
                    same = r
                    break
                slot = (slot + 1) & mask
            first_cell[i - s] = k
            if same < 0:
                slot_query[slot] = i
                hit, score, k = _query_cells(q_raw, a0, a1, (i - s) * (b - a), k_off, k_raw,
                                             k_row, a, n_words, n_codes, keys, cut, hit, score,
                                             k)
                continue
            shift = (i - same) * (b - a)
            for x in range(first_cell[same - s], first_cell[same - s + 1]):
                hit, score, k = _add_hit(hit, score, k, hit[x] + shift, score[x])
        n_hits[blk] = k - begin
    return hit[:k], score[:k], n_hits


@njit(cache=True, nogil=True, inline="always")
def _add_hit(hit: np.ndarray, score: np.ndarray, k: int, cell: int, sc: np.float32
             ) -> tuple[np.ndarray, np.ndarray, int]:
    """``cell`` and ``sc`` appended at ``k`` (the arrays twice as long when full)."""
    if k == len(hit):
        hit = np.concatenate((hit, np.empty(len(hit), np.int64)))
        score = np.concatenate((score, np.empty(len(score), np.float32)))
    hit[k] = cell
    score[k] = sc
    return hit, score, k + 1


@njit(cache=True, nogil=True)
def ratio_pairs(q_off: np.ndarray, q_raw: np.ndarray, q_row: np.ndarray, k_off: np.ndarray,
                k_raw: np.ndarray, k_row: np.ndarray) -> np.ndarray:
    """rapidfuzz's ``process.cpdist(queries, keys, scorer=fuzz.ratio)`` (float32) of the
    strings of rows ``q_row[j]`` and ``k_row[j]``, pair by pair (:func:`_ratio`, no cutoff)."""
    pm = np.zeros(256, np.uint64)
    most = 1
    for j in range(len(q_row)):
        most = max(most, q_off[q_row[j] + 1] - q_off[q_row[j]] + 1)
    row = np.zeros(most, np.int64)
    out = np.empty(len(q_row), np.float32)
    for j in range(len(q_row)):
        a0, a1 = q_off[q_row[j]], q_off[q_row[j] + 1]
        _set_masks(pm, q_raw, a0, a1, True)
        out[j] = _ratio(q_raw, a0, a1, pm, k_raw, k_off[k_row[j]], k_off[k_row[j] + 1], row, 0.0)
        _set_masks(pm, q_raw, a0, a1, False)
    return out


# rapidfuzz's whitespace for one-byte characters (``detail::is_space``): where it splits words
_SPACE = np.zeros(256, np.bool_)
_SPACE[[9, 10, 11, 12, 13, 28, 29, 30, 31, 32]] = True
# what a WRatio bound is lowered by before it is compared with a cutoff: rounding of rapidfuzz's
# doubles against the bound's, and of the float32 a score is given as (up by 4e-6 near 100)
_BOUND_SLACK = 1e-4


@njit(cache=True, nogil=True)
def _row_len(s: np.ndarray) -> int:
    """The length of the string in a row of a numpy ``S`` array viewed as ``uint8``: its
    trailing NULs not part of it (numpy's ``bytes`` drop them)."""
    n = len(s)
    while n > 0 and s[n - 1] == 0:
        n -= 1
    return n


@njit(cache=True, nogil=True)
def _name_shape(s: np.ndarray, n: int, count: np.ndarray, tok: np.ndarray, shape: np.ndarray
                ) -> None:
    """What :func:`_wratio_bound` bounds the byte string ``s[:n]`` by, into ``shape``: its
    length, its words (runs of bytes other than rapidfuzz's whitespace; into ``tok[w] =
    (start, length, FNV-1a hash)``), their bytes, its whitespace bytes, and whether it is left
    unbounded (1: a word repeats, or a byte is not ASCII — rapidfuzz then compares other
    characters than bytes when given ``str``). ``count`` (64 zeros on entry) gets the count of
    its word bytes by ``byte & 63`` (several bytes to one bin: a bin's common count bounds
    its bytes' from above)."""
    n_tok, chars, ws, free = 0, 0, 0, 0
    h = np.uint64(0)
    start = -1
    for t in range(n + 1):
        if t < n and not _SPACE[s[t]]:
            if start < 0:
                start = t
                h = np.uint64(0xCBF29CE484222325)
            h = (h ^ np.uint64(s[t])) * np.uint64(0x100000001B3)
            count[s[t] & 63] += 1
            chars += 1
            if s[t] >= 0x80:
                free = 1
            continue
        if t < n:
            ws += 1
        if start >= 0:
            tok[n_tok, 0], tok[n_tok, 1], tok[n_tok, 2] = start, t - start, np.int64(h)
            n_tok += 1
            start = -1
    for x in range(n_tok):
        for y in range(x):
            if _same_word(s, tok[x], s, tok[y]):
                free = 1
    shape[0], shape[1], shape[2], shape[3], shape[4] = n, n_tok, chars, ws, free


@njit(cache=True, nogil=True)
def _pair_bound(a: np.ndarray, a_shape: np.ndarray, a_count: np.ndarray, a_tok: np.ndarray,
                b: np.ndarray, b_shape: np.ndarray, b_count: np.ndarray, b_tok: np.ndarray
                ) -> float:
    """:func:`_wratio_bound` of two strings by their :func:`_name_shape`; 100 if either is
    unbounded."""
    if a_shape[4] or b_shape[4]:
        return 100.0
    common = _common_bytes(a_count, b_count)
    n_sect, sect_chars = _shared_words(a, a_tok, a_shape[1], b, b_tok, b_shape[1])
    return _wratio_bound(a_shape[0], a_shape[1], a_shape[2], a_shape[3], b_shape[0],
                         b_shape[1], b_shape[2], b_shape[3], common, n_sect, sect_chars)


@njit(cache=True, nogil=True, inline="always")
def _common_bytes(a_count: np.ndarray, b_count: np.ndarray) -> int:
    """The bytes two strings may have in common by their counts by bin (:func:`_name_shape`):
    the least count of each of the 64 bins, summed (every bin, not only those of one string:
    a loop the compiler vectorises)."""
    common = 0
    for t in range(64):
        common += min(a_count[t], b_count[t])
    return common


@njit(cache=True, nogil=True, inline="always")
def _shared_words(a: np.ndarray, a_tok: np.ndarray, na: int, b: np.ndarray, b_tok: np.ndarray,
                  nb: int) -> tuple[int, int]:
    """The words of ``a`` (its ``na`` words ``a_tok``) that ``b`` has too, and their bytes."""
    n_sect, sect_chars = 0, 0
    for u in range(na):
        for v in range(nb):
            if _same_word(a, a_tok[u], b, b_tok[v]):
                n_sect += 1
                sect_chars += a_tok[u, 1]
                break
    return n_sect, sect_chars


@njit(cache=True, nogil=True, inline="always")
def _same_word(a: np.ndarray, ta: np.ndarray, b: np.ndarray, tb: np.ndarray) -> bool:
    """Whether the words ``ta`` of ``a`` and ``tb`` of ``b`` (start, length, hash) are equal."""
    same = ta[1] == tb[1] and ta[2] == tb[2]
    t = 0
    while same and t < ta[1]:
        same = a[ta[0] + t] == b[tb[0] + t]
        t += 1
    return same


@njit(cache=True, nogil=True)
def _wratio_bound(l1: int, nt1: int, ch1: int, ws1: int, l2: int, nt2: int, ch2: int, ws2: int,
                  common: int, n_sect: int, sect_chars: int) -> float:
    """An upper bound of rapidfuzz's ``fuzz.WRatio`` of two strings without a repeated word,
    from their lengths ``l``, words ``nt``, word bytes ``ch`` and whitespace bytes ``ws``, an
    upper bound ``common`` of the word bytes they have in common (as multisets), and the words
    they share (``n_sect``, of ``sect_chars`` bytes). The proof, part by part (rapidfuzz-cpp's
    ``fuzz_impl.hpp``; ``ratio(x, y) = 100 * (1 - indel / (|x| + |y|)) = 200 * lcs / (|x| +
    |y|)`` and an LCS is at most the multiset common count ``c(x, y)``):

    - ``WRatio`` is ``max(ratio, 0.95 * token_ratio)`` when the length ratio is below 1.5, else
      ``max(ratio, S * partial_ratio, 0.95 * S * partial_token_ratio)`` (``S`` 0.9, or 0.6
      above 8); a component below its cutoff is 0 there, never more than its value.
    - ``ratio <= 200 * c / (l1 + l2)``, ``c <= common + min(ws1, ws2)``.
    - the sorted words joined by single spaces (``token_ratio``'s first score, and what
      ``partial_token_ratio`` compares) have ``ch + nt - 1`` bytes and ``nt - 1`` spaces: their
      ratio is at most ``200 * (common + min(nt1, nt2) - 1) / (s1 + s2)``.
    - ``token_ratio``'s set part: 100 if one word set holds the other (and they share one);
      else with the shared words ``sect`` and the others joined (``ab``, ``ba``), ``100 * (1 -
      indel(ab, ba) / lensum)``, ``lensum = 2 * |sect| + 2 * [sect] + |ab| + |ba|``, where
      ``indel = |ab| + |ba| - 2 * lcs(ab, ba)`` and ``lcs(ab, ba) <= common - sect_chars +
      min(n_ab, n_ba) - 1`` (per byte, ``min(A - I, B - I) = min(A, B) - I`` for the shared
      words' ``I``: the common bytes of the rest are the common bytes less the shared
      words'); and, with shared words, ``100 * (1 - (1 + |ab|) / (2 * |sect| + 1 + |ab|))``
      and the same of ``ba``, exactly.
    - ``partial_ratio`` is a ratio of the shorter string (``m`` bytes) with a substring ``w``
      of the longer: ``200 * lcs / (m + |w|) <= 200 * min(c, |w|) / (m + |w|) <= 200 * c /
      (m + c)`` (``c <= m``; greatest at ``|w| = c``).
    - ``partial_token_ratio`` is 100 with a shared word, else (no repeated word) the
      ``partial_ratio`` of the sorted words joined, bounded as above.

    A string without words (``nt == 0``) is left unbounded (100)."""
    if l1 == 0 or l2 == 0:
        return 0.0  # (rapidfuzz: 0 when either is empty)
    if nt1 == 0 or nt2 == 0:
        return 100.0
    c_raw = common + min(ws1, ws2)
    c_sort = common + min(nt1, nt2) - 1
    s1, s2 = ch1 + nt1 - 1, ch2 + nt2 - 1
    ratio = 200.0 * c_raw / (l1 + l2)
    len_ratio = l1 / l2 if l1 > l2 else l2 / l1
    if len_ratio < 1.5:
        n_ab, n_ba = nt1 - n_sect, nt2 - n_sect
        if n_sect > 0 and (n_ab == 0 or n_ba == 0):
            return 100.0
        one = 1 if n_sect > 0 else 0
        sect_len = sect_chars + n_sect - 1 if n_sect > 0 else 0
        ab_len, ba_len = ch1 - sect_chars + n_ab - 1, ch2 - sect_chars + n_ba - 1
        lensum = 2 * sect_len + 2 * one + ab_len + ba_len
        c_diff = common - sect_chars + min(n_ab, n_ba) - 1
        words = max(200.0 * c_sort / (s1 + s2),
                    100.0 * (2 * sect_len + 2 * one + 2 * c_diff) / lensum)
        if n_sect > 0:
            words = max(words, 100.0 - 100.0 * (1 + ab_len) / (2 * sect_len + 1 + ab_len),
                        100.0 - 100.0 * (1 + ba_len) / (2 * sect_len + 1 + ba_len))
        return max(ratio, 0.95 * words)
    scale = 0.9 if len_ratio <= 8.0 else 0.6
    m = min(l1, l2)
    partial = 200.0 * c_raw / (m + c_raw) if c_raw > 0 else 0.0
    if n_sect > 0:
        words = 100.0
    else:
        ms = min(s1, s2)
        words = 200.0 * c_sort / (ms + c_sort) if c_sort > 0 else 0.0
    return max(ratio, scale * partial, 0.95 * scale * words)


@njit(cache=True, nogil=True)
def wratio_screen(q: np.ndarray, k: np.ndarray, k_row: np.ndarray, blocks: np.ndarray,
                  cutoff: float, out_q: np.ndarray, out_k: np.ndarray, out_u: np.ndarray
                  ) -> int:
    """The cells of each block ``(s, e, a, b)`` — the byte strings ``q[s:e]`` against
    ``k[k_row[a:b]]`` (rows of numpy ``S`` arrays viewed as ``uint8``) — where rapidfuzz's
    ``fuzz.WRatio`` may reach ``cutoff``: every cell but those whose bound
    (:func:`_wratio_bound`) is below it (less ``_BOUND_SLACK``), whose ``cdist`` score is
    0. Written as (query row, position in ``k_row``, bound), block by block, row-major, into
    ``out_*`` (room for every cell of the blocks, made by the caller); how many."""
    width = 1
    for blk in range(len(blocks)):
        width = max(width, blocks[blk, 3] - blocks[blk, 2])
    k_count = np.zeros((width, 64), np.int32)
    k_tok = np.empty((width, k.shape[1] // 2 + 1, 3), np.int64)
    k_shape = np.empty((width, 5), np.int64)
    q_count = np.zeros(64, np.int32)
    q_tok = np.empty((q.shape[1] // 2 + 1, 3), np.int64)
    q_shape = np.empty(5, np.int64)
    n = 0
    least = cutoff - _BOUND_SLACK
    for blk in range(len(blocks)):
        s, e, a, b = blocks[blk, 0], blocks[blk, 1], blocks[blk, 2], blocks[blk, 3]
        for j in range(a, b):
            k_count[j - a, :] = 0
            key = k[k_row[j]]
            _name_shape(key, _row_len(key), k_count[j - a], k_tok[j - a], k_shape[j - a])
        for i in range(s, e):
            q_count[:] = 0
            _name_shape(q[i], _row_len(q[i]), q_count, q_tok, q_shape)
            for j in range(a, b):
                x = j - a
                bound = 100.0  # (:func:`_pair_bound` inline: its views of k_* cost ~2x)
                if not (q_shape[4] or k_shape[x, 4]):
                    common = _common_bytes(q_count, k_count[x])
                    n_sect, sect_chars = _shared_words(q[i], q_tok, q_shape[1], k[k_row[j]],
                                                       k_tok[x], k_shape[x, 1])
                    bound = _wratio_bound(q_shape[0], q_shape[1], q_shape[2], q_shape[3],
                                          k_shape[x, 0], k_shape[x, 1], k_shape[x, 2],
                                          k_shape[x, 3], common, n_sect, sect_chars)
                if bound >= least:
                    out_q[n], out_k[n], out_u[n] = i, j, bound
                    n += 1
    return n


@njit(cache=True, nogil=True)
def wratio_reach(q_off: np.ndarray, q_raw: np.ndarray, q_row: np.ndarray, k_off: np.ndarray,
                 k_raw: np.ndarray, k_row: np.ndarray, cutoff: float) -> np.ndarray:
    """Per pair ``j``, whether rapidfuzz's ``fuzz.WRatio`` of the strings of rows ``q_row[j]``
    and ``k_row[j]`` (offsets and bytes each) may reach ``cutoff``: False where their bound
    (:func:`_wratio_bound`) is below it less ``_BOUND_SLACK`` (the score, float32 or not, is
    then below it too)."""
    most = 1
    for j in range(len(q_row)):
        most = max(most, q_off[q_row[j] + 1] - q_off[q_row[j]], k_off[k_row[j] + 1]
                   - k_off[k_row[j]])
    tok = np.empty((2, most // 2 + 1, 3), np.int64)
    count = np.zeros((2, 64), np.int32)
    shape = np.empty((2, 5), np.int64)
    out = np.empty(len(q_row), np.bool_)
    least = cutoff - _BOUND_SLACK
    n = len(q_row)
    for j in range(n):
        if j + 2 * PREFETCH_AHEAD < n:  # (the keys' offsets, then bytes, at random: ahead)
            prefetch(k_off, k_row[j + 2 * PREFETCH_AHEAD])
        if j + PREFETCH_AHEAD < n:
            prefetch(k_raw, k_off[k_row[j + PREFETCH_AHEAD]])
        a = q_raw[q_off[q_row[j]] : q_off[q_row[j] + 1]]
        if j == 0 or q_row[j] != q_row[j - 1]:  # (a query's pairs are often consecutive)
            count[0, :] = 0
            _name_shape(a, len(a), count[0], tok[0], shape[0])
        b = k_raw[k_off[k_row[j]] : k_off[k_row[j] + 1]]
        _name_shape(b, len(b), count[1], tok[1], shape[1])
        out[j] = _pair_bound(a, shape[0], count[0], tok[0], b, shape[1], count[1], tok[1]
                             ) >= least
        for t in range(len(b)):
            count[1, b[t] & 63] = 0
    return out


@njit(cache=True, nogil=True, inline="always")
def _run_end(row: np.ndarray, s: int) -> int:
    """The end of the run of rows equal to ``row[s]``."""
    e = s + 1
    while e < len(row) and row[e] == row[s]:
        e += 1
    return e


@njit(cache=True, nogil=True)
def next_cells(row: np.ndarray, bound: np.ndarray, score: np.ndarray, done: np.ndarray,
               cutoff: float, margin: float, slack: float) -> np.ndarray:
    """The cells (of :func:`wratio_screen`: rows ascending) to score next, for the best score
    of each row and its margin over other groups' (``identify._fuzzy_names``): of a row with
    no cell ``done``, its first cell of the greatest bound; else its cells not done whose bound
    reaches the best score done ``B1`` less ``margin + slack`` (less ``slack`` only where no
    bound of the row reaches ``cutoff - slack``)."""
    out = np.empty(len(row), np.int64)
    n = 0
    s = 0
    while s < len(row):
        e = _run_end(row, s)
        top, first, best, any_done = bound[s], s, np.float32(0.0), False
        for c in range(s, e):
            if bound[c] > top:
                top, first = bound[c], c
            if done[c]:
                any_done = True
                best = max(best, score[c])
        if not any_done:
            out[n] = first
            n += 1
        else:
            least = best - (margin + slack if top >= cutoff - slack else slack)
            for c in range(s, e):
                if not done[c] and bound[c] >= least:
                    out[n] = c
                    n += 1
        s = e
    return out[:n]


@njit(cache=True, nogil=True)
def best_cells(row: np.ndarray, score: np.ndarray, group: np.ndarray, cutoff: float,
               margin: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per row of the cells (rows ascending; ``score`` float32, 0 where not scored): the row,
    its first cell of the best score ``B``, whether ``B`` reaches ``cutoff`` and beats the
    best score of a cell of another ``group`` (0 if none) by ``margin`` (their float32
    difference, as numpy subtracts float32 arrays), and whether ``B > 0``."""
    at = np.empty(len(row), np.int64)
    best = np.empty(len(row), np.int64)
    ok = np.empty(len(row), np.bool_)
    near = np.empty(len(row), np.bool_)
    n = 0
    s = 0
    while s < len(row):
        e = _run_end(row, s)
        b = s
        for c in range(s + 1, e):
            if score[c] > score[b]:
                b = c
        other = np.float32(0.0)
        for c in range(s, e):
            if group[c] != group[b]:
                other = max(other, score[c])
        at[n], best[n] = row[s], b
        ok[n] = score[b] >= cutoff and np.float32(score[b] - other) >= margin
        near[n] = score[b] > 0
        n += 1
        s = e
    return at[:n], best[:n], ok[:n], near[:n]
