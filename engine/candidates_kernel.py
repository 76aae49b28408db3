"""Compiled passes of :mod:`cashmatch.engine.candidates` (numba).

:func:`strongest` keeps, of candidate rows sorted by (payment, invoice), each pair's first
row of strongest reference, and gathers its columns: one pass where the numpy steps made ten
temporaries (``Pairs.concat`` runs ~8 times a match: ~40 us each on a 100-payment call, 1.6 s
at a million payments). The numpy steps it replaced are its reference
(``tests/engine/test_candidates_kernel.py``).
"""

from __future__ import annotations

import numpy as np

from cashmatch.engine.kernel_cache import njit
from cashmatch.engine.prefetch import PREFETCH_AHEAD, prefetch
from cashmatch.engine.text_kernel import hash64, sort_packed, take_strings, words_order


@njit(cache=True, nogil=True)
def strongest(
    pay: np.ndarray, inv: np.ndarray, ref: np.ndarray, fuzzy: np.ndarray, order: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rows ``order`` (sorted by (pay, inv)), one per (pay, inv): its first of the highest
    ``ref``; their (pay, inv, ref, fuzzy)."""
    n = len(order)
    keep = np.empty(n, np.int64)
    kept = 0
    j = 0
    while j < n:
        best = order[j]
        p, i = pay[best], inv[best]
        j += 1
        while j < n and pay[order[j]] == p and inv[order[j]] == i:
            if ref[order[j]] > ref[best]:
                best = order[j]
            j += 1
        keep[kept] = best
        kept += 1
    out_pay = np.empty(kept, pay.dtype)
    out_inv = np.empty(kept, inv.dtype)
    out_ref = np.empty(kept, ref.dtype)
    out_fuzzy = np.empty(kept, np.bool_)
    for k in range(kept):
        r = keep[k]
        out_pay[k], out_inv[k], out_ref[k], out_fuzzy[k] = pay[r], inv[r], ref[r], fuzzy[r]
    return out_pay, out_inv, out_ref, out_fuzzy


@njit(cache=True, nogil=True)
def _bound(keys: np.ndarray, v: int, at: int, right: bool) -> int:
    """``np.searchsorted(keys, v, "right" if right else "left")`` for a ``v`` whose answer is
    at least ``at``, galloping from ``at``: few steps when the values come in ascending
    order."""
    m = len(keys)
    step = 1
    hi = at
    while hi < m and (keys[hi] <= v if right else keys[hi] < v):
        at = hi + 1
        hi = at + step
        step *= 2
    hi = min(hi, m)
    while at < hi:
        mid = (at + hi) // 2
        if keys[mid] <= v if right else keys[mid] < v:
            at = mid + 1
        else:
            hi = mid
    return at


@njit(cache=True, nogil=True)
def _same_bytes(t_raw: np.ndarray, a0: int, a1: int, v_raw: np.ndarray, b0: int, b1: int) -> bool:
    """Whether ``t_raw[a0:a1]`` and ``v_raw[b0:b1]`` are the same bytes."""
    same = b1 - b0 == a1 - a0
    x = 0
    while same and x < a1 - a0:
        same = t_raw[a0 + x] == v_raw[b0 + x]
        x += 1
    return same


@njit(cache=True, nogil=True)
def _bloom_bits(h: np.uint64, mask: np.uint64) -> tuple[np.int64, np.int64]:
    """The two bits of a :func:`bloom` filter a hash sets: its low and its second 32 bits."""
    return np.int64(h & mask), np.int64((h >> np.uint64(32)) & mask)


@njit(cache=True, nogil=True)
def bloom(hashes: np.ndarray) -> np.ndarray:
    """A Bloom filter of the 64-bit ``hashes`` (two bits each): a text whose hash has either
    bit clear is none of them, read in a few MiB where the hashes themselves take tens."""
    bits = 6  # (at least 64, at most 2**32: eight bits a hash or more, a power of two)
    while bits < 32 and (1 << bits) < 8 * len(hashes):
        bits += 1
    words = np.zeros(1 << (bits - 6), np.uint64)
    mask = np.uint64((1 << bits) - 1)
    for h in hashes:
        for b in _bloom_bits(h, mask):
            words[b >> 6] |= np.uint64(1) << np.uint64(b & 63)
    return words


@njit(cache=True, nogil=True)
def _found(hashed: np.ndarray, t_off: np.ndarray, t_raw: np.ndarray, keys: tuple
           ) -> tuple[np.ndarray, np.ndarray]:
    """The texts (hash ``hashed[t]``, bytes ``t_raw[t_off[t]:t_off[t + 1]]``) equal to a value
    of a :class:`cashmatch.engine.normalize.StringLookup` (``keys``: the arrays of
    :meth:`cashmatch.engine.candidates.StringKeys.arrays`), ascending, and that value of each.
    The texts that the values' :func:`bloom` filter lets through (about one in ten of the
    tokens of a day), then passes of independent reads, so that many are in flight at once:
    their buckets, the hashes in them, then the bytes of the values of an equal hash (a value
    of the same hash but other bytes is passed over, and its bucket searched on)."""
    shift, bucket_start, hashes, by_hash, v_off, v_raw = keys[:6]
    words = keys[9]
    mask, one = np.uint64(len(words) * 64 - 1), np.uint64(1)
    n = len(hashed)
    maybe = np.empty(n, np.int64)
    m = 0
    for t in range(n):
        if t + PREFETCH_AHEAD < n:
            a, b = _bloom_bits(hashed[t + PREFETCH_AHEAD], mask)
            prefetch(words, a >> 6)
            prefetch(words, b >> 6)
        a, b = _bloom_bits(hashed[t], mask)
        if (words[a >> 6] >> np.uint64(a & 63)) & (words[b >> 6] >> np.uint64(b & 63)) & one:
            maybe[m] = t
            m += 1
    found = np.full(m, -1, np.int64)  # (the value of text maybe[x])
    lo = np.empty(m, np.int64)
    for x in range(m):
        if x + PREFETCH_AHEAD < m:
            prefetch(bucket_start, np.int64(hashed[maybe[x + PREFETCH_AHEAD]] >> shift))
        lo[x] = bucket_start[np.int64(hashed[maybe[x]] >> shift)]
    for x in range(m):
        if x + PREFETCH_AHEAD < m:
            prefetch(hashes, lo[x + PREFETCH_AHEAD])
            prefetch(by_hash, lo[x + PREFETCH_AHEAD])
        h = hashed[maybe[x]]
        at, end = lo[x], bucket_start[np.int64(h >> shift) + 1]
        while at < end and hashes[at] != h:
            at += 1
        lo[x] = at
        if at < end:
            found[x] = by_hash[at]
    for x in range(m):
        if x + 2 * PREFETCH_AHEAD < m and found[x + 2 * PREFETCH_AHEAD] >= 0:
            prefetch(v_off, found[x + 2 * PREFETCH_AHEAD])
        if x + PREFETCH_AHEAD < m and found[x + PREFETCH_AHEAD] >= 0:
            prefetch(v_raw, v_off[found[x + PREFETCH_AHEAD]])
        v = found[x]
        if v < 0:
            continue
        t = maybe[x]
        a0, a1 = t_off[t], t_off[t + 1]
        if _same_bytes(t_raw, a0, a1, v_raw, v_off[v], v_off[v + 1]):
            continue
        found[x] = -1  # (another string of the same hash: its bucket searched on)
        h = hashed[t]
        for at in range(lo[x] + 1, bucket_start[np.int64(h >> shift) + 1]):
            w = by_hash[at]
            if hashes[at] == h and _same_bytes(t_raw, a0, a1, v_raw, v_off[w], v_off[w + 1]):
                found[x] = w
                break
    hit = np.flatnonzero(found >= 0)
    return maybe[hit], found[hit]


@njit(cache=True, nogil=True)
def first_forms(pay: np.ndarray, offsets: np.ndarray, raw: np.ndarray, rows: np.ndarray,
                n_texts: int, most: int) -> np.ndarray:
    """Which of the strings ``rows`` (string ``r``: ``raw[offsets[r]:offsets[r + 1]]``, of text
    ``pay[r]`` in ``0 .. n_texts - 1``) is the first of its text's equal ones (same bytes), in
    the order of ``rows``; a text of more than ``most`` of them keeps them all (no pass
    quadratic in a text's strings)."""
    n = len(rows)
    start = np.zeros(n_texts + 1, np.int64)
    for r in rows:
        start[pay[r] + 1] += 1
    for p in range(n_texts):
        start[p + 1] += start[p]
    by_text = np.empty(n, np.int64)  # (positions in rows, text by text, in order)
    pos = start[:-1].copy()
    for i in range(n):
        p = pay[rows[i]]
        by_text[pos[p]] = i
        pos[p] += 1
    first = np.ones(n, np.bool_)
    for p in range(n_texts):
        a, b = start[p], start[p + 1]
        if b - a > most:
            continue
        for x in range(a + 1, b):
            i = by_text[x]
            i0, i1 = offsets[rows[i]], offsets[rows[i] + 1]
            for y in range(a, x):
                j = by_text[y]
                if first[j] and _same_bytes(raw, i0, i1, raw, offsets[rows[j]],
                                            offsets[rows[j] + 1]):
                    first[i] = False
                    break
    return first


@njit(cache=True, nogil=True)
def _by_inv(inv: np.ndarray, ref: np.ndarray, a: int, b: int) -> None:
    """Sort rows ``a:b`` of (inv, ref) by inv: an insertion sort (a text has few hits), a
    merge sort for many."""
    if b - a > 64:
        order = np.argsort(inv[a:b], kind="mergesort") + a
        inv[a:b], ref[a:b] = inv[order], ref[order]
        return
    for i in range(a + 1, b):
        x, r = inv[i], ref[i]
        j = i - 1
        while j >= a and inv[j] > x:
            inv[j + 1], ref[j + 1] = inv[j], ref[j]
            j -= 1
        inv[j + 1], ref[j + 1] = x, r


@njit(cache=True, nogil=True)
def _bits(x: int) -> int:
    """The bits of a non-negative ``x`` (Python's ``int.bit_length``)."""
    b = 0
    while x > 0:
        x >>= 1
        b += 1
    return b


@njit(cache=True, nogil=True)
def _keys_at(keys: np.ndarray, v: int, at: int) -> tuple[int, int]:
    """The first of the sorted ``keys`` equal to ``v`` (at ``at`` or after: :func:`_bound`) and
    how many there are (a value has few)."""
    at = _bound(keys, v, at, False)
    cnt = 0
    while at + cnt < len(keys) and keys[at + cnt] == v:
        cnt += 1
    return at, cnt


@njit(cache=True, nogil=True, inline="always")
def _first_of_text(seen: np.ndarray, p: int, v: int, cnt: int) -> int:
    """``cnt`` for text ``p``'s first value ``v`` (``seen[p]``: its last, values ascending), 0
    for a repeat (that text's rows of ``v`` written already)."""
    if cnt == 0 or seen[p] == v:
        return 0
    seen[p] = v
    return cnt


@njit(cache=True, nogil=True)
def number_hits(value: np.ndarray, text: np.ndarray, n_texts: int, number: np.ndarray,
                radix_min: int) -> tuple[np.ndarray, np.ndarray]:
    """For each of the ``value`` (int64; -1: none; of text ``text[t]`` in ``0 .. n_texts -
    1``) the sorted ``number`` keys equal to it: (first row, count; count 0 for none, and for a
    text's repeat of a value: its rows are its first's, ~40% of the rows of a day's texts). The
    values in ascending order walk the keys once, each distinct value's keys counted once; a
    value above the last key names none and is not sorted. From ``radix_min`` values on,
    sorted by a radix sort: each value and its row packed into one word
    (:func:`text_kernel.sort_packed`: the rows move with the values, read in order after) when
    both fit 64 bits (the keys are invoice numbers: ~31 bits, and ~21 for a chunk's rows; at
    250,000 texts 60 -> 21 ms of CPU), else by an order (:func:`text_kernel.words_order`);
    fewer by numba's quicksort (any order of equal values will do)."""
    n = len(value)
    n_lo = np.zeros(n, np.int64)
    n_cnt = np.zeros(n, np.int64)
    if len(number) == 0:
        return n_lo, n_cnt
    top = number[-1]
    vt = np.flatnonzero((value >= 0) & (value <= top))
    seen = np.full(n_texts, -1, np.int64)  # the value each text last had (ascending)
    m = len(vt)
    row_bits, value_bits = _bits(n), _bits(top)
    at, cnt, last = 0, 0, -1
    if m >= radix_min and row_bits + value_bits <= 64:
        packed = np.empty(m, np.uint64)
        for i in range(m):
            packed[i] = (np.uint64(value[vt[i]]) << np.uint64(row_bits)) | np.uint64(vt[i])
        packed = sort_packed(packed, row_bits, row_bits + value_bits)
        mask = np.uint64((1 << row_bits) - 1)
        for s in range(m):
            x = np.int64(packed[s] >> np.uint64(row_bits))
            if x != last:  # (a value repeated: its keys found once)
                last = x
                at, cnt = _keys_at(number, x, at)
            t = np.int64(packed[s] & mask)
            n_lo[t], n_cnt[t] = at, _first_of_text(seen, text[t], x, cnt)
        return n_lo, n_cnt
    v = value[vt]
    order = words_order(v.view(np.uint64).reshape((m, 1))) if m >= radix_min else np.argsort(v)
    for s in range(m):
        j = order[s]
        if v[j] != last:
            last = v[j]
            at, cnt = _keys_at(number, last, at)
        n_lo[vt[j]], n_cnt[vt[j]] = at, _first_of_text(seen, text[vt[j]], last, cnt)
    return n_lo, n_cnt


@njit(cache=True, nogil=True)
def _string_rows(starts: np.ndarray, tok: np.ndarray, val: np.ndarray, pay: np.ndarray,
                 count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The key rows ``starts[v] .. starts[v + 1] - 1`` of the value ``v = val[i]`` that token
    ``tok[i]`` (of text ``pay[tok[i]]``) found (:func:`_found`), as (first, end) arrays, each
    read once; their number added to ``count[text + 1]``."""
    lo = np.empty(len(tok), np.int64)
    hi = np.empty(len(tok), np.int64)
    for i in range(len(tok)):
        if i + PREFETCH_AHEAD < len(tok):  # (the values' rows, at random: requested ahead)
            prefetch(starts, val[i + PREFETCH_AHEAD])
        lo[i], hi[i] = starts[val[i]], starts[val[i] + 1]
        count[pay[tok[i]] + 1] += hi[i] - lo[i]
    return lo, hi


@njit(cache=True, nogil=True)
def _put_rows(tok: np.ndarray, lo: np.ndarray, hi: np.ndarray, key_inv: np.ndarray,
              key_ref: np.ndarray, pay: np.ndarray, pos: np.ndarray, inv: np.ndarray,
              ref: np.ndarray) -> None:
    """Write the key rows ``lo[i] .. hi[i] - 1`` (invoice and strength) of each token ``tok[i]``
    at its text's next place ``pos[pay[tok[i]]]`` of (``inv``, ``ref``) (:func:`_string_rows`)."""
    for i in range(len(tok)):
        if i + PREFETCH_AHEAD < len(tok):  # (the key rows, at random: requested ahead)
            prefetch(key_inv, lo[i + PREFETCH_AHEAD])
            prefetch(key_ref, lo[i + PREFETCH_AHEAD])
        p = pay[tok[i]]
        k = pos[p]
        for r in range(lo[i], hi[i]):
            inv[k], ref[k] = key_inv[r], key_ref[r]
            k += 1
        pos[p] = k


@njit(cache=True, nogil=True)
def exact_hits(
    pay: np.ndarray,
    n_texts: int,
    a_off: np.ndarray,
    a_raw: np.ndarray,
    d_off: np.ndarray,
    d_raw: np.ndarray,
    max_digits: int,
    radix_min: int,
    number: np.ndarray,
    number_inv: np.ndarray,
    number_kind: np.ndarray,
    kind_ref: np.ndarray,
    alnum: tuple,
    long_digits: tuple,
    base: np.uint64,
    fmix: tuple,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pay, invoice, reference strength) of the exact key hits of the tokens of texts
    ``0 .. n_texts - 1`` (token ``t`` of text ``pay[t]``, its forms ``alnum`` and ``digits`` as
    offsets and bytes), one row per (pay, invoice) with its strongest hit, by (pay, invoice):

    - digits forms of 1 to ``max_digits`` digits as int64 values (:func:`digit_values`)
      among the sorted ``number`` keys (:class:`cashmatch.engine.candidates.KeyIndex`),
      :func:`number_hits`; a key's strength is ``kind_ref[number_kind[r]]``;
    - alnum forms, and the rare longer digits forms, by their hashes (``text_kernel.hash64``
      with ``base`` and ``fmix``) among the strings of ``alnum`` and ``long_digits`` (the
      :meth:`cashmatch.engine.candidates.StringKeys.arrays`), :func:`_found`;

    then each text's hits gathered (a counting sort by text) and kept once per invoice, the
    strongest: what ``Pairs.concat`` of the three sets of hits in token order kept, without
    writing them out in token order and sorting them."""
    n = len(pay)
    n_lo, n_cnt = number_hits(digit_values(d_off, d_raw, max_digits), pay, n_texts, number,
                              radix_min)
    # the alnum forms' values
    hashed = np.empty(n, np.uint64)
    hash64(a_off, a_raw, base, fmix, hashed)
    a_tok, a_val = _found(hashed, a_off, a_raw, alnum)
    # the digits forms too long for an int64: their bytes, hashed, looked up
    lt = np.flatnonzero(d_off[1:] - d_off[:-1] > max_digits)
    l_off = np.empty(len(lt) + 1, np.int64)
    l_raw = take_strings(d_off, d_raw, lt, l_off)
    l_hashed = np.empty(len(lt), np.uint64)
    hash64(l_off, l_raw, base, fmix, l_hashed)
    l_tok, l_val = _found(l_hashed, l_off, l_raw, long_digits)
    l_tok = lt[l_tok]
    # each text's hits together (a counting sort by text; a text's rows in any order: the
    # dedupe sorts them), then one row per invoice
    start = np.zeros(n_texts + 1, np.int64)
    for t in range(n):
        start[pay[t] + 1] += n_cnt[t]
    a_lo, a_hi = _string_rows(alnum[6], a_tok, a_val, pay, start)
    l_lo, l_hi = _string_rows(long_digits[6], l_tok, l_val, pay, start)
    for p in range(n_texts):
        start[p + 1] += start[p]
    inv = np.empty(start[n_texts], np.int64)
    ref = np.empty(start[n_texts], np.float64)
    pos = start[:-1].copy()
    for t in range(n):
        if t + PREFETCH_AHEAD < n and n_cnt[t + PREFETCH_AHEAD]:  # (at random: ahead)
            prefetch(number_inv, n_lo[t + PREFETCH_AHEAD])
            prefetch(number_kind, n_lo[t + PREFETCH_AHEAD])
        k = pos[pay[t]]
        for r in range(n_lo[t], n_lo[t] + n_cnt[t]):
            inv[k], ref[k] = number_inv[r], kind_ref[number_kind[r]]
            k += 1
        pos[pay[t]] = k
    _put_rows(a_tok, a_lo, a_hi, alnum[7], alnum[8], pay, pos, inv, ref)
    _put_rows(l_tok, l_lo, l_hi, long_digits[7], long_digits[8], pay, pos, inv, ref)
    out_pay = np.empty(len(inv), np.int64)
    kept = 0
    for p in range(n_texts):
        a, b = start[p], start[p + 1]
        _by_inv(inv, ref, a, b)
        for i in range(a, b):
            if kept > 0 and out_pay[kept - 1] == p and inv[kept - 1] == inv[i]:
                ref[kept - 1] = max(ref[kept - 1], ref[i])
            else:
                out_pay[kept], inv[kept], ref[kept] = p, inv[i], ref[i]
                kept += 1
    return out_pay[:kept], inv[:kept], ref[:kept]


@njit(cache=True, nogil=True)
def _ranges(
    lo_key: np.ndarray, hi_key: np.ndarray, order: np.ndarray, keys: np.ndarray, cap: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per query, the first of the sorted ``keys`` in ``[lo_key, hi_key]`` and how many of
    them (at most ``cap``); the queries in ``order`` (ascending ``lo_key``) walk the keys
    once."""
    n = len(lo_key)
    lo = np.empty(n, np.int64)
    cnt = np.empty(n, np.int64)
    at = 0
    for t in range(n):
        if t + PREFETCH_AHEAD < n:  # (the queries' rows, at random: requested ahead)
            ahead = order[t + PREFETCH_AHEAD]
            prefetch(lo_key, ahead)
            prefetch(hi_key, ahead)
            prefetch(lo, ahead)
            prefetch(cnt, ahead)
        j = order[t]
        at = _bound(keys, lo_key[j], at, False)
        lo[j] = at
        cnt[j] = min(_bound(keys, hi_key[j], at, True) - at, cap)
    return lo, cnt


@njit(cache=True, nogil=True)
def range_rows(
    pay: np.ndarray,
    lo_key: np.ndarray,
    hi_key: np.ndarray,
    order: np.ndarray,
    keys: np.ndarray,
    rows: np.ndarray,
    cap: int,
    windowed: bool,
    pay_date: np.ndarray,
    issue: np.ndarray,
    discount_days: np.ndarray,
    grace_days: int,
) -> tuple[np.ndarray, np.ndarray]:
    """(pay, row) of the first ``cap`` sorted ``keys`` in ``[lo_key, hi_key]`` of each query
    (``hi_key >= lo_key``), in query order, ``rows`` of those keys' positions; the queries in
    ``order`` (ascending ``lo_key``) walk the keys once. ``windowed``: only the rows (invoices)
    whose discount window (``issue + discount_days + grace_days``) the payment's
    ``pay_date`` is within."""
    n = len(lo_key)
    lo, cnt = _ranges(lo_key, hi_key, order, keys, cap)
    total = cnt.sum()
    out_pay = np.empty(total, np.int64)
    out_row = np.empty(total, rows.dtype)
    k = 0
    for j in range(n):
        if j + PREFETCH_AHEAD < n and cnt[j + PREFETCH_AHEAD]:  # (at random: requested ahead)
            prefetch(rows, lo[j + PREFETCH_AHEAD])
        for r in range(lo[j], lo[j] + cnt[j]):
            i = rows[r]
            if windowed and pay_date[pay[j]] > issue[i] + discount_days[i] + grace_days:
                continue
            out_pay[k] = pay[j]
            out_row[k] = i
            k += 1
    return out_pay[:k], out_row[:k]


@njit(cache=True, nogil=True)
def _sort_few(x: np.ndarray, a: int, b: int) -> None:
    """Sort ``x[a:b]`` in place: an insertion sort for a few (a payment's amount hits: at most
    twice ``MAX_AMOUNT_HITS``; numba's ``sort`` of a slice costs more to call than to sort a
    few: 300k payments' 55 -> 30 ms of CPU for ``amount_pairs``), its ``sort`` for more."""
    if b - a > 64:
        x[a:b].sort()
        return
    for i in range(a + 1, b):
        v = x[i]
        j = i - 1
        while j >= a and x[j] > v:
            x[j + 1] = x[j]
            j -= 1
        x[j + 1] = v


@njit(cache=True, nogil=True)
def amount_pairs(
    pay: np.ndarray,
    lo_key: np.ndarray,
    hi_key: np.ndarray,
    order: np.ndarray,
    amount_key: np.ndarray,
    by_amount: np.ndarray,
    discounted_key: np.ndarray,
    by_discounted: np.ndarray,
    cap: int,
    pay_date: np.ndarray,
    issue: np.ndarray,
    discount_days: np.ndarray,
    grace_days: int,
) -> tuple[np.ndarray, np.ndarray]:
    """(pay, invoice) of both of ``amount_hits``' searches, each pair once, by (pay,
    invoice) (``pay`` ascending): for query ``j`` (payment ``pay[j]``), the first ``cap``
    invoices ``by_amount`` whose ``amount_key`` is in ``[lo_key[j], hi_key[j]]``, and the first
    ``cap`` ``by_discounted`` whose ``discounted_key`` is ``lo_key[j]`` (none when there are no
    such keys) and whose discount window (``issue + discount_days + grace_days``) the
    payment's ``pay_date`` is within: what :func:`range_rows` twice and ``Pairs.concat``
    made."""
    lo, cnt = _ranges(lo_key, hi_key, order, amount_key, cap)
    d_lo, d_cnt = _ranges(lo_key, lo_key, order, discounted_key, cap)
    out_pay = np.empty(cnt.sum() + d_cnt.sum(), np.int64)
    out_inv = np.empty(len(out_pay), by_amount.dtype)
    k = 0
    n = len(pay)
    for j in range(n):
        if j + PREFETCH_AHEAD < n:  # (the queries' keys, at random: requested ahead)
            ahead = j + PREFETCH_AHEAD
            if cnt[ahead]:
                prefetch(by_amount, lo[ahead])
            if d_cnt[ahead]:
                prefetch(by_discounted, d_lo[ahead])
        a = k
        for r in range(lo[j], lo[j] + cnt[j]):
            out_inv[k] = by_amount[r]
            k += 1
        for r in range(d_lo[j], d_lo[j] + d_cnt[j]):
            i = by_discounted[r]
            if pay_date[pay[j]] <= issue[i] + discount_days[i] + grace_days:
                out_inv[k] = i
                k += 1
        _sort_few(out_inv, a, k)
        kept = a
        for x in range(a, k):
            if x == a or out_inv[x] != out_inv[kept - 1]:
                out_inv[kept] = out_inv[x]
                out_pay[kept] = pay[j]
                kept += 1
        k = kept
    return out_pay[:k], out_inv[:k]


@njit(cache=True, nogil=True)
def fuzzy_rows(
    blocks: np.ndarray,
    n_hits: np.ndarray,
    hit: np.ndarray,
    score: np.ndarray,
    t_grp: np.ndarray,
    k_grp: np.ndarray,
    t_pay: np.ndarray,
    k_inv: np.ndarray,
    cutoff: float,
    rival_max: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pay, invoice, strength) of the fuzzy hits of ``fuzzy_hits``' blocks: block ``b``
    (``blocks[b]``: query rows ``s:e`` against keys ``a:b``) has ``n_hits[b]`` of the
    ``hit`` (flat index into its score matrix) and ``score`` rows, one block after another; a
    hit across groups (a block of several) is dropped. The strength runs from 0.70 at the
    cutoff to 0.90 at 100, at most ``rival_max`` unless the hit is its token's one closest."""
    n = len(hit)
    tok = np.empty(n, np.int64)
    key = np.empty(n, np.int64)
    sc = np.empty(n, np.float64)
    k = 0
    h = 0
    for b in range(len(blocks)):
        s, a, width = blocks[b, 0], blocks[b, 2], blocks[b, 3] - blocks[b, 2]
        for _ in range(n_hits[b]):
            t, c = s + hit[h] // width, a + hit[h] % width
            if t_grp[t] == k_grp[c]:
                tok[k], key[k], sc[k] = t, c, np.float64(score[h])
                k += 1
            h += 1
    best = np.zeros(len(t_grp), np.float64)
    for j in range(k):
        best[tok[j]] = max(best[tok[j]], sc[j])
    at_best = np.zeros(len(t_grp), np.int64)
    for j in range(k):
        if sc[j] == best[tok[j]]:
            at_best[tok[j]] += 1
    out_pay = np.empty(k, np.int64)
    out_inv = np.empty(k, np.int64)
    out_ref = np.empty(k, np.float64)
    span = max(100.0 - cutoff, 1e-9)
    for j in range(k):
        strength = 0.70 + 0.20 * (sc[j] - cutoff) / span
        if not (sc[j] == best[tok[j]] and at_best[tok[j]] == 1):
            strength = min(strength, rival_max)
        out_pay[j], out_inv[j], out_ref[j] = t_pay[tok[j]], k_inv[key[j]], strength
    return out_pay, out_inv, out_ref


@njit(cache=True, nogil=True)
def fuzzy_blocks(t_grp: np.ndarray, k_grp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For query rows sorted by group (``t_grp``) and keys sorted by group (``k_grp``): the
    keys of the queries' groups, group after group (their rows of ``k_grp``), and the blocks
    ``(s, e, a, b)`` of one group's queries ``s:e`` against its keys ``a:b`` (``group_keys``;
    a group without keys makes none)."""
    n = len(t_grp)
    start = np.empty(n + 1, np.int64)
    lo = np.empty(n, np.int64)
    cnt = np.empty(n, np.int64)
    ng = 0
    at = 0
    total = 0
    for i in range(n):
        if i == 0 or t_grp[i] != t_grp[i - 1]:
            start[ng] = i
            at = _bound(k_grp, t_grp[i], at, False)
            lo[ng] = at
            cnt[ng] = _bound(k_grp, t_grp[i], at, True) - at
            total += cnt[ng]
            ng += 1
    start[ng] = n
    rows = np.empty(total, np.int64)
    k_end = np.empty(ng, np.int64)
    k = 0
    for g in range(ng):
        for r in range(lo[g], lo[g] + cnt[g]):
            rows[k] = r
            k += 1
        k_end[g] = k
    blocks = np.empty((ng, 4), np.int64)
    nb = 0
    for g in range(ng):
        if cnt[g]:
            blocks[nb, 0], blocks[nb, 1] = start[g], start[g + 1]
            blocks[nb, 2], blocks[nb, 3] = k_end[g] - cnt[g], k_end[g]
            nb += 1
    return rows, blocks[:nb]


@njit(cache=True, nogil=True)
def digit_values(offsets: np.ndarray, raw: np.ndarray, max_digits: int) -> np.ndarray:
    """The value of each digits string (canonical decimals: digits only) of 1 to
    ``max_digits`` digits; -1 for the others (empty, or too long for an int64)."""
    n = len(offsets) - 1
    out = np.full(n, -1, np.int64)
    for t in range(n):
        a, b = offsets[t], offsets[t + 1]
        if 1 <= b - a <= max_digits:
            v = 0
            for x in range(a, b):
                v = v * 10 + (raw[x] - 48)
            out[t] = v
    return out


@njit(cache=True, nogil=True)
def pair_rows(
    pair_pay: np.ndarray, pair_inv: np.ndarray, t_pay: np.ndarray, k_inv: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pair, token, key) of every token of each pair's payment with every key of its invoice
    (``t_pay``, ``k_inv``: ascending; token and key as rows of them), pair after pair, tokens
    outer, keys inner. (A pair's tokens are searched from the previous pair's when its payment
    is not before that one's: the pairs come by payment, the search then a step or two; a
    pair's keys likewise, the pairs taken by invoice: searched from the start, each cost ~10
    cache misses, ~0.1 s at a million payments.)"""
    n = len(pair_pay)
    t_lo = np.empty(n, np.int64)
    t_n = np.empty(n, np.int64)
    k_lo = np.empty(n, np.int64)
    k_n = np.empty(n, np.int64)
    total = 0
    for j in range(n):
        since = t_lo[j - 1] if j and pair_pay[j] >= pair_pay[j - 1] else 0
        t_lo[j] = _bound(t_pay, pair_pay[j], since, False)
        t_n[j] = _bound(t_pay, pair_pay[j], t_lo[j], True) - t_lo[j]
    since = 0
    for j in np.argsort(pair_inv):
        k_lo[j] = _bound(k_inv, pair_inv[j], since, False)
        k_n[j] = _bound(k_inv, pair_inv[j], k_lo[j], True) - k_lo[j]
        since = k_lo[j]
    for j in range(n):
        total += t_n[j] * k_n[j]
    row = np.empty(total, np.int64)
    tok = np.empty(total, np.int64)
    key = np.empty(total, np.int64)
    x = 0
    for j in range(n):
        for t in range(t_lo[j], t_lo[j] + t_n[j]):
            for k in range(k_lo[j], k_lo[j] + k_n[j]):
                row[x], tok[x], key[x] = j, t, k
                x += 1
    return row, tok, key
