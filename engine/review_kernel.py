"""The hash join of :func:`cashmatch.engine.review.number_levels`, compiled (numba).

The numbers and the keys of their groups as byte strings (Arrow offsets and data); every
variant of a number (whole; one character deleted, for numbers of ``min_edit`` characters)
and of a key (whole; one character deleted; prefixes and suffixes ``2 .. max_cut``
characters shorter of at least ``min_part``) hashed as the polynomial of its bytes in
``base`` modulo 2**64 plus its group's term, and the keys' variants looked up among the
numbers' (a bitset, then a bucket: :func:`number_index`): one pass over the keys' bytes, no
temporaries per variant kind, any range of keys at a time (:func:`key_pairs`). Keys looked up
often (a served ledger's) are indexed once instead (:func:`key_index`), and each call's
numbers' variants looked up among theirs (:func:`number_pairs`): the same pairs. The
pairs joined are only candidates (a hash that agrees by chance is scored 0 by the caller);
the brute-force comparison of every pair is the reference (``tests/engine/test_review.py``).

Imported on first use only (numba takes a second to import; compiled code is cached on disk).
"""

from __future__ import annotations

import numpy as np

from cashmatch.engine.kernel_cache import njit


@njit(cache=True, nogil=True)
def _prefix(
    raw: np.ndarray, a: int, b: int, start: np.uint64, base: np.uint64, h: np.ndarray
) -> None:
    """``h[m]``: ``start`` plus the hash of the first ``m`` bytes of ``raw[a:b]``."""
    h[0] = start
    p = np.uint64(1)
    for t in range(b - a):
        h[t + 1] = h[t] + p * np.uint64(raw[a + t])
        p *= base


@njit(cache=True, nogil=True)
def _width(off: np.ndarray, lo: int, hi: int) -> int:
    """One more than the longest of strings ``lo .. hi - 1`` (offsets ``off``)."""
    width = 1
    for i in range(lo, hi):
        width = max(width, off[i + 1] - off[i] + 1)
    return width


@njit(cache=True, nogil=True)
def _number_variants(raw: np.ndarray, a: int, b: int, start: np.uint64, base: np.uint64,
                     inverse: np.ndarray, min_edit: int, h: np.ndarray, out: np.ndarray,
                     at: int) -> int:
    """The variant hashes of the number ``raw[a:b]`` (whole; one character deleted, when it
    has ``min_edit``) into ``out`` from ``at``; where they end."""
    n = b - a
    _prefix(raw, a, b, start, base, h)
    whole = h[n]
    out[at] = whole
    at += 1
    if n >= min_edit:
        for j in range(n):
            out[at] = h[j] + (whole - h[j + 1]) * inverse[1]
            at += 1
    return at


@njit(cache=True, nogil=True)
def _key_variants(raw: np.ndarray, a: int, b: int, start: np.uint64, base: np.uint64,
                  inverse: np.ndarray, min_part: int, max_cut: int, h: np.ndarray,
                  out: np.ndarray) -> int:
    """The variant hashes of the key ``raw[a:b]`` (whole; one character deleted; prefixes and
    suffixes 2 .. ``max_cut`` characters shorter, of ``min_part``) into ``out``; how many."""
    n = b - a
    _prefix(raw, a, b, start, base, h)
    whole = h[n]
    m = 0
    out[m] = whole
    m += 1
    for d in range(n):
        out[m] = h[d] + (whole - h[d + 1]) * inverse[1]
        m += 1
    for cut in range(2, max_cut + 1):
        if n - cut >= min_part:
            out[m] = h[n - cut]  # the prefix
            out[m + 1] = (whole - h[cut]) * inverse[cut] + h[0]  # the suffix
            m += 2
    return m


@njit(cache=True, nogil=True)
def _buckets(hashes: np.ndarray, rows: np.ndarray, mix: np.uint64
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.uint64]:
    """Variant hashes by bucket (``starts[b]:starts[b + 1]``, bucket: the top bits of ``hash *
    mix``, about one variant a bucket) with their rows, a bitset of them (16 bits a bucket,
    so about 1 in 16 set: most look-ups miss it; 64 bits a word, so it stays in cache) and
    the bitset's shift."""
    total = len(hashes)
    bits = 10
    while (1 << bits) < 16 * total:
        bits += 1
    shift = np.uint64(64 - bits)
    seen = np.zeros(1 << (bits - 6), np.uint64)
    # by bucket (the bitset's index without its last 4 bits), a counting sort
    starts = np.zeros((1 << (bits - 4)) + 1, np.int64)
    for v in range(total):
        x = (hashes[v] * mix) >> shift
        seen[x >> np.uint64(6)] |= np.uint64(1) << (x & np.uint64(63))
        starts[(x >> np.uint64(4)) + np.uint64(1)] += 1
    for b in range(1, len(starts)):
        starts[b] += starts[b - 1]
    at = starts[:-1].copy()
    s_hash = np.empty(total, np.uint64)
    s_row = np.empty(total, np.int64)
    for v in range(total):
        b = ((hashes[v] * mix) >> shift) >> np.uint64(4)
        s_hash[at[b]] = hashes[v]
        s_row[at[b]] = rows[v]
        at[b] += 1
    return s_hash, s_row, starts, seen, shift


@njit(cache=True, nogil=True)
def _bucket(x: np.uint64, seen: np.ndarray, starts: np.ndarray, shift: np.uint64,
            mix: np.uint64) -> tuple[int, int]:
    """The rows ``lo:hi`` of :func:`_buckets`' bucket of hash ``x`` (none when its bit is
    not set)."""
    y = (x * mix) >> shift
    if not (seen[y >> np.uint64(6)] >> (y & np.uint64(63))) & np.uint64(1):
        return 0, 0
    b = y >> np.uint64(4)
    return starts[b], starts[b + 1]


@njit(cache=True, nogil=True)
def _grown(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two output columns, twice as long (their first halves kept)."""
    return (np.concatenate((a, np.empty(len(a), np.int64))),
            np.concatenate((b, np.empty(len(b), np.int64))))


@njit(cache=True, nogil=True)
def number_index(
    q_off: np.ndarray,
    q_raw: np.ndarray,
    q_grp: np.ndarray,
    base: np.uint64,
    inverse: np.ndarray,
    mix: np.uint64,
    min_edit: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.uint64]:
    """The numbers' variant hashes (with their group's term) by bucket, with their numbers'
    rows (:func:`_buckets`)."""
    nq = len(q_off) - 1
    h = np.empty(_width(q_off, 0, nq), np.uint64)
    total = 0
    for i in range(nq):
        n = q_off[i + 1] - q_off[i]
        total += 1 + (n if n >= min_edit else 0)
    q_hash = np.empty(total, np.uint64)
    q_row = np.empty(total, np.int64)
    v = 0
    for i in range(nq):
        end = _number_variants(q_raw, q_off[i], q_off[i + 1], np.uint64(q_grp[i]) * mix, base,
                               inverse, min_edit, h, q_hash, v)
        q_row[v:end] = i
        v = end
    return _buckets(q_hash, q_row, mix)


@njit(cache=True, nogil=True)
def key_index(
    k_off: np.ndarray,
    k_raw: np.ndarray,
    k_grp: np.ndarray,
    base: np.uint64,
    inverse: np.ndarray,
    mix: np.uint64,
    min_part: int,
    max_cut: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.uint64]:
    """The keys' variant hashes (with their group's term) by bucket, with their keys' rows
    (:func:`_buckets`): the other side of the join, built once for keys looked up often."""
    nk = len(k_off) - 1
    width = _width(k_off, 0, nk)
    h = np.empty(width, np.uint64)
    var = np.empty(width + 2 * max_cut, np.uint64)
    total = 0
    for j in range(nk):
        n = k_off[j + 1] - k_off[j]
        total += 1 + n + 2 * max(0, min(max_cut, n - min_part) - 1)  # (cuts 2 .. max_cut)
    k_hash = np.empty(total, np.uint64)
    k_row = np.empty(total, np.int64)
    v = 0
    for j in range(nk):
        m = _key_variants(k_raw, k_off[j], k_off[j + 1], np.uint64(k_grp[j]) * mix, base,
                          inverse, min_part, max_cut, h, var)
        k_hash[v:v + m] = var[:m]
        k_row[v:v + m] = j
        v += m
    return _buckets(k_hash, k_row, mix)


@njit(cache=True, nogil=True)
def number_pairs(
    k_hash: np.ndarray,
    k_row: np.ndarray,
    starts: np.ndarray,
    seen: np.ndarray,
    shift: np.uint64,
    k_grp: np.ndarray,
    q_off: np.ndarray,
    q_raw: np.ndarray,
    q_grp: np.ndarray,
    base: np.uint64,
    inverse: np.ndarray,
    mix: np.uint64,
    min_edit: int,
) -> tuple[np.ndarray, np.ndarray]:
    """(number, key) of every number and key of the same group with a variant hash in common
    (each pair as often as variants agree), the keys' variants given by :func:`key_index`:
    the pairs of :func:`key_pairs`, in the work of the numbers."""
    nq = len(q_off) - 1
    width = _width(q_off, 0, nq)
    h = np.empty(width, np.uint64)
    var = np.empty(width + 1, np.uint64)
    out_q = np.empty(16 + 2 * nq, np.int64)
    out_k = np.empty(len(out_q), np.int64)
    found = 0
    for i in range(nq):
        m = _number_variants(q_raw, q_off[i], q_off[i + 1], np.uint64(q_grp[i]) * mix, base,
                             inverse, min_edit, h, var, 0)
        for t in range(m):
            x = var[t]
            lo, hi = _bucket(x, seen, starts, shift, mix)
            for s in range(lo, hi):
                j = k_row[s]
                if k_hash[s] == x and k_grp[j] == q_grp[i]:
                    if found == len(out_q):
                        out_q, out_k = _grown(out_q, out_k)
                    out_q[found] = i
                    out_k[found] = j
                    found += 1
    return out_q[:found], out_k[:found]


@njit(cache=True, nogil=True)
def key_pairs(
    q_hash: np.ndarray,
    q_row: np.ndarray,
    q_grp: np.ndarray,
    starts: np.ndarray,
    seen: np.ndarray,
    shift: np.uint64,
    k_off: np.ndarray,
    k_raw: np.ndarray,
    k_grp: np.ndarray,
    k_at: np.ndarray,
    lo: int,
    hi: int,
    base: np.uint64,
    inverse: np.ndarray,
    mix: np.uint64,
    min_part: int,
    max_cut: int,
) -> tuple[np.ndarray, np.ndarray]:
    """(number, key) of every key ``k_at[lo .. hi - 1]`` (the keys looked at: a book's keys
    read where they are, not gathered) and number of the same group with a variant hash in
    common (each pair as often as variants agree), the numbers' variants given by
    :func:`number_index`: the keys are independent, so any split of them joins the same
    pairs."""
    width = 1
    for t in range(lo, hi):
        width = max(width, k_off[k_at[t] + 1] - k_off[k_at[t]] + 1)
    h = np.empty(width, np.uint64)
    out_q = np.empty(max(16, 2 * (hi - lo)), np.int64)
    out_k = np.empty(len(out_q), np.int64)
    found = 0
    var = np.empty(width + 2 * max_cut, np.uint64)
    for t in range(lo, hi):
        j = k_at[t]
        m = _key_variants(k_raw, k_off[j], k_off[j + 1], np.uint64(k_grp[j]) * mix, base,
                          inverse, min_part, max_cut, h, var)
        for t in range(m):  # (the look-up inline: through _bucket and _grown, ~10% slower)
            x = var[t]
            y = (x * mix) >> shift
            if not (seen[y >> np.uint64(6)] >> (y & np.uint64(63))) & np.uint64(1):
                continue
            b = y >> np.uint64(4)
            for s in range(starts[b], starts[b + 1]):
                i = q_row[s]
                if q_hash[s] == x and q_grp[i] == k_grp[j]:
                    if found == len(out_q):
                        out_q = np.concatenate((out_q, np.empty(found, np.int64)))
                        out_k = np.concatenate((out_k, np.empty(found, np.int64)))
                    out_q[found] = i
                    out_k[found] = j
                    found += 1
    return out_q[:found], out_k[:found]


@njit(cache=True, nogil=True)
def pair_levels(
    q_off: np.ndarray,
    q_raw: np.ndarray,
    k_off: np.ndarray,
    k_raw: np.ndarray,
    pair_q: np.ndarray,
    pair_k: np.ndarray,
    levels: np.ndarray,
    min_edit: int,
    min_part: int,
    max_cut: int,
) -> np.ndarray:
    """The level of each joined pair (number ``pair_q[p]``, key ``pair_k[p]``), over their
    bytes: ``levels[0]`` equal, ``levels[1]`` one keystroke apart (optimal string alignment
    distance 1: what is left between their common prefix and suffix is one byte against one
    or none, or two bytes swapped) for numbers of ``min_edit`` bytes, ``levels[2]`` the number
    a prefix or suffix of the key, 1 .. ``max_cut`` bytes shorter, of ``min_part`` bytes;
    else 0 (a hash that agreed by chance)."""
    out = np.zeros(len(pair_q), np.int64)
    for p in range(len(pair_q)):
        a, b = q_off[pair_q[p]], q_off[pair_q[p] + 1]
        c, d = k_off[pair_k[p]], k_off[pair_k[p] + 1]
        m, n = b - a, d - c
        short = min(m, n)
        pre = 0
        while pre < short and q_raw[a + pre] == k_raw[c + pre]:
            pre += 1
        if m == n and pre == m:
            out[p] = levels[0]
            continue
        post = 0  # (not into the common prefix)
        while post < short - pre and q_raw[b - 1 - post] == k_raw[d - 1 - post]:
            post += 1
        q_mid, k_mid = m - pre - post, n - pre - post
        if m >= min_edit and (
            (q_mid <= 1 and k_mid <= 1)  # (not both 0: the texts differ)
            or (q_mid == 2 and k_mid == 2 and q_raw[a + pre] == k_raw[c + pre + 1]
                and q_raw[a + pre + 1] == k_raw[c + pre])
        ):
            out[p] = levels[1]
            continue
        if m >= min_part and 1 <= n - m <= max_cut:
            suffix = True
            for t in range(m):
                if q_raw[a + t] != k_raw[d - m + t]:
                    suffix = False
                    break
            if pre == m or suffix:
                out[p] = levels[2]
    return out


@njit(cache=True, nogil=True)
def number_groups(pays: np.ndarray, pay_group: np.ndarray, resembles_group: np.ndarray,
                  ref_group: np.ndarray, t_pay: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """The groups to look in of the payments ``pays`` (ascending, distinct) and their numbers
    once per group, for :func:`cashmatch.engine.review.lookalike_table`: (payment, group) by
    payment then group (the payer's group; a payer nobody identified: the group of the name
    it resembles and its reference's, each once; none below 0), then (number row, group) of
    every number ``r`` of those payments (``t_pay[r]``: its payment, ascending) for each of
    its payment's groups, by row then group. Its reference:
    ``review._number_groups_by_numpy``."""
    q_pay = np.empty(2 * len(pays), np.int64)
    q_grp = np.empty(2 * len(pays), np.int64)
    nq = 0
    for p in pays:
        a, b = pay_group[p], np.int64(-1)
        if a < 0:
            a, b = resembles_group[p], ref_group[p]
            if b < a:
                a, b = b, a
            if a == b:
                b = -1
        for g in (a, b):  # (ascending: a < b when both are kept)
            if g >= 0:
                q_pay[nq] = p
                q_grp[nq] = g
                nq += 1
    # each number of those payments (rows found by bisection), once per group of its payment
    q_pay, q_grp = q_pay[:nq], q_grp[:nq]
    starts = np.searchsorted(t_pay, q_pay, side="left")
    ends = np.searchsorted(t_pay, q_pay, side="right")
    rows = np.empty((ends - starts).sum(), np.int64)
    grps = np.empty(len(rows), np.int64)
    n, i = 0, 0
    while i < nq:
        e = i  # entries i .. e - 1: one payment's groups
        while e < nq and q_pay[e] == q_pay[i]:
            e += 1
        for r in range(starts[i], ends[i]):
            for k in range(i, e):
                rows[n] = r
                grps[n] = q_grp[k]
                n += 1
        i = e
    return q_pay, q_grp, rows, grps
