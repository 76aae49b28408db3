"""The exact tiers of :func:`cashmatch.engine.subset.search`, compiled (numba).

The same search, step for step — singles, pairs by sorted two-sum, triples, the due-date
prefix, meet-in-the-middle for small blocks, sets of four by sorted pair sums for medium
ones — and the same first solutions (two, or the
``limit`` asked for) in the same order, so the decisions do not depend on which
implementation ran. The numpy implementation in :mod:`subset` stays the reference (and the
path when the HiGHS fallback is on); a differential test holds the two together. A subset
search is small and branchy: compiled, it costs microseconds where the numpy calls cost a
few hundred (about 88k searches a day at a million payments).

Imported on first use only (numba takes a second to import; compiled code is cached on disk).
"""

from __future__ import annotations

import numpy as np

from cashmatch.engine.kernel_cache import njit

MITM_MAX_N = 24  # as subset.MITM_MAX_N
QUADS_MAX_N = 60  # as subset.QUADS_MAX_N
TRIPLES_MAX_N = 2000  # as subset.TRIPLES_MAX_N


@njit(cache=True, nogil=True)
def _bisect(s: np.ndarray, x: int, right: bool) -> int:
    """``np.searchsorted(s, x, "right" if right else "left")`` (hand-written: numba compiles
    a loop far faster than its generic searchsorted)."""
    lo, hi = 0, len(s)
    while lo < hi:
        mid = (lo + hi) >> 1
        if s[mid] < x or (right and s[mid] == x):
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=True, nogil=True)
def _upper(s: np.ndarray, x: int, left: int) -> int:
    """``_bisect(s, x, True)`` given ``left``, the answer for a lower bound ``<= x``: most
    windows hold nothing, and then no second bisection is needed."""
    if left == len(s) or s[left] > x:
        return left
    return left + _bisect(s[left:], x, True)


@njit(cache=True, nogil=True)
def _walk_left(s: np.ndarray, x: int, at: int) -> int:
    """``_bisect(s, x, False)`` for an ``x`` whose answer is at most ``at`` (a previous
    answer for a larger ``x``): from ``at``, bisected over the steps taken when there are
    many, walked when few."""
    if at > 8 and s[at - 8] >= x:
        return _bisect(s[:at - 8], x, False)
    while at > 0 and s[at - 1] >= x:
        at -= 1
    return at


@njit(cache=True, nogil=True)
def _walk_right(s: np.ndarray, x: int, at: int) -> int:
    """``_bisect(s, x, True)`` for an ``x`` whose answer is at most ``at`` (see
    :func:`_walk_left`)."""
    if at > 8 and s[at - 8] > x:
        return _bisect(s[:at - 8], x, True)
    while at > 0 and s[at - 1] > x:
        at -= 1
    return at


@njit(cache=True, nogil=True)
def _argsort_stable(a: np.ndarray) -> np.ndarray:
    """``np.argsort(a, kind="stable")``: the values and positions packed into one int64 key
    (distinct keys: one plain sort gives the stable order), or a merge sort of the indices
    when the packed key could overflow."""
    n = len(a)
    if n < 2:
        return np.arange(n)
    lo, hi = a[0], a[0]
    for v in a:
        lo = min(lo, v)
        hi = max(hi, v)
    if hi - lo < (1 << 62) // n and hi - lo >= 0:  # (hi - lo >= 0: no overflow in it)
        key = np.empty(n, np.int64)
        for i in range(n):
            key[i] = (a[i] - lo) * n + i
        key.sort()
        for i in range(n):
            key[i] = key[i] % n
        return key
    return _merge_argsort(a)


@njit(cache=True, nogil=True)
def _merge_argsort(a: np.ndarray) -> np.ndarray:
    """``np.argsort(a, kind="stable")``: a bottom-up merge sort of the indices."""
    n = len(a)
    idx = np.arange(n)
    tmp = np.empty(n, np.int64)
    width = 1
    while width < n:
        for start in range(0, n, 2 * width):
            mid = min(start + width, n)
            end = min(start + 2 * width, n)
            i, j, t = start, mid, start
            while i < mid and j < end:
                if a[idx[j]] < a[idx[i]]:
                    tmp[t] = idx[j]
                    j += 1
                else:
                    tmp[t] = idx[i]
                    i += 1
                t += 1
            while i < mid:
                tmp[t] = idx[i]
                i += 1
                t += 1
            while j < end:
                tmp[t] = idx[j]
                j += 1
                t += 1
        idx, tmp = tmp, idx
        width *= 2
    return idx


@njit(cache=True, nogil=True)
def _add(found: np.ndarray, lens: np.ndarray, n_found: int, cand: np.ndarray, k: int) -> int:
    """Append ``cand[:k]``, sorted, unless it is already found; the new count (at most
    ``len(lens)`` kept: only the first ``limit`` solutions are ever returned)."""
    if n_found >= len(lens):
        return n_found
    for a in range(1, k):  # insertion sort: a few indices
        v = cand[a]
        b = a - 1
        while b >= 0 and cand[b] > v:
            cand[b + 1] = cand[b]
            b -= 1
        cand[b + 1] = v
    for f in range(n_found):
        if lens[f] == k:
            same = True
            for t in range(k):
                if found[f, t] != cand[t]:
                    same = False
                    break
            if same:
                return n_found
    for t in range(k):
        found[n_found, t] = cand[t]
    lens[n_found] = k
    return n_found + 1


@njit(cache=True, nogil=True)
def _tier(sub: np.ndarray, keep: np.ndarray, order: np.ndarray, s: np.ndarray, lo: int,
          hi: int, cap: int, max_size: int, min_size: int, due: np.ndarray, has_due: bool,
          by_due: np.ndarray, pairs: np.ndarray, found: np.ndarray, lens: np.ndarray,
          cand: np.ndarray, work: np.ndarray) -> tuple[int, bool]:
    """One tolerance tier: the solutions found (into ``found``/``lens``, whose length is the
    limit) and ``exhaustive``. ``order`` sorts ``sub`` (stable), ``s`` is ``sub[order]``;
    ``cap`` is the largest ``hi`` of any tier (the bound of :func:`_mitm`'s shared sums);
    ``by_due`` sorts ``due`` (stable) once its first item is set (-1: not yet sorted), and
    ``pairs`` is the table of pair sums of :func:`_quads` once its first row is (both tiers
    share them). ``cand`` (at least ``max(len(sub), 4)`` long) holds a candidate solution and
    ``work`` is :func:`_mitm`'s scratch (see :func:`_mitm_words`): no allocation per search."""
    limit = len(lens)
    n = len(sub)
    n_found = 0
    if min_size <= 1:  # singles, in input order
        got = 0
        for i in range(n):
            if lo <= sub[i] <= hi:
                cand[0] = keep[i]
                n_found = _add(found, lens, n_found, cand, 1)
                got += 1
                if got >= limit:
                    break
    if n_found < limit and max_size >= 2 and min_size <= 2:  # pairs, (i, j) order of sorted
        got = 0
        # the partners' window [lo - s[i], hi - s[i]] only moves down as i grows: its ends
        # are walked down (what the bisections gave), and once it ends at or below i no
        # later i has a partner
        a, b = n, n
        for i in range(n):
            a = _walk_left(s, lo - s[i], a)
            b = _walk_right(s, hi - s[i], b)
            if b <= i + 1:
                break
            left, right = max(a, i + 1), b
            j = left
            while j < min(right, left + limit):
                cand[0] = keep[order[i]]
                cand[1] = keep[order[j]]
                n_found = _add(found, lens, n_found, cand, 2)
                got += 1
                if got >= limit:
                    break
                j += 1
            if got >= limit:
                break
    if n_found < limit and max_size >= 3 and min_size <= 3 and n <= TRIPLES_MAX_N and n >= 3:
        got = 0
        n_i = min(_bisect(s, hi // 3, True), n - 2)
        for i in range(n_i):
            j_end = min(_bisect(s, (hi - s[i]) // 2, True), n - 1)
            a, b = n, n  # the third's window, walked down as j grows (as for pairs)
            # (no j whose sum with the largest amount stays below lo makes a triple)
            for j in range(max(i + 1, _bisect(s, lo - s[i] - s[n - 1], False)), j_end):
                base = s[i] + s[j]
                a = _walk_left(s, lo - base, a)
                b = _walk_right(s, hi - base, b)
                if b <= j + 1:
                    break
                k_lo, k_hi = max(a, j + 1), b
                k = k_lo
                while k < min(k_hi, k_lo + limit):
                    cand[0] = keep[order[i]]
                    cand[1] = keep[order[j]]
                    cand[2] = keep[order[k]]
                    n_found = _add(found, lens, n_found, cand, 3)
                    got += 1
                    if got >= limit:
                        break
                    k += 1
                if got >= limit:
                    break
            if got >= limit:
                break
    if n_found < limit and has_due and n > 0:  # the oldest items first: a due-date prefix
        if by_due[0] < 0:
            by_due[:] = _argsort_stable(due)
        total = 0
        for h in range(n):
            total += sub[by_due[h]]
            if lo <= total <= hi:
                if h + 1 >= min_size:
                    for t in range(h + 1):
                        cand[t] = keep[by_due[t]]
                    n_found = _add(found, lens, n_found, cand, h + 1)
                break
    exhaustive = max_size <= 3 and n <= TRIPLES_MAX_N
    if n_found < limit and max_size >= 4 and n <= MITM_MAX_N:
        if _four_may_fit(s, lo, hi, max_size):
            n_found = _mitm(sub, keep, lo, hi, cap, max_size, found, lens, n_found, cand,
                            work)
        exhaustive = True
    elif n_found < limit and max_size >= 4 and n <= QUADS_MAX_N:
        n_found = _quads(s, order, keep, lo, hi, cap, pairs, found, lens, n_found, cand)
        exhaustive = max_size == 4
    return n_found, exhaustive


@njit(cache=True, nogil=True)
def _four_may_fit(s: np.ndarray, lo: int, hi: int, max_size: int) -> bool:
    """Whether a set of 4..``max_size`` of the sorted amounts ``s`` may sum into ``[lo, hi]``:
    not when there are fewer than four, when the four least exceed ``hi``, or when the
    ``max_size`` largest stay below ``lo`` (then :func:`_mitm` finds nothing)."""
    n = len(s)
    if n < 4 or s[0] + s[1] + s[2] + s[3] > hi:
        return False
    top = 0
    for i in range(max(n - max_size, 0), n):
        top += s[i]
    return top >= lo


@njit(cache=True, nogil=True)
def _pair_sums(s: np.ndarray, cap: int, pairs: np.ndarray) -> None:
    """Fill ``pairs`` (5 rows of ``n (n - 1) / 2``) with the pairs (i < j) of the sorted
    amounts ``s`` that sum to at most ``cap``, in (i, j) order — i, j and the sum — then those
    pairs by sum (stable) and their sums, the rest of that row ``cap + 1`` (past any window of
    :func:`_quads`: a pair over the cap completes no set of four)."""
    n = len(s)
    t = 0
    for i in range(n):
        for j in range(i + 1, n):
            if s[i] + s[j] > cap:  # (nor any later j: s ascends)
                break
            pairs[0, t], pairs[1, t], pairs[2, t] = i, j, s[i] + s[j]
            t += 1
    pairs[3, :t] = _argsort_stable(pairs[2, :t])
    for r in range(t):
        pairs[4, r] = pairs[2, pairs[3, r]]
    pairs[4, t:] = cap + 1


@njit(cache=True, nogil=True)
def _quads(s: np.ndarray, order: np.ndarray, keep: np.ndarray, lo: int, hi: int, cap: int,
           pairs: np.ndarray, found: np.ndarray, lens: np.ndarray, n_found: int,
           cand: np.ndarray) -> int:
    """Sets of four over the sorted amounts ``s``, as ``subset._quads`` enumerates them
    (``pairs``: see :func:`_pair_sums` of ``cap``, at least ``hi``, filled here unless its first
    row is already; ``cand``: at least 4 long, a candidate's scratch)."""
    limit = len(lens)
    n = len(s)
    # (no set of four within [lo, hi]: the four least above it, or the four largest below)
    if n < 4 or s[0] + s[1] + s[2] + s[3] > hi or s[n - 4] + s[n - 3] + s[n - 2] + s[n - 1] < lo:
        return n_found
    if pairs[1, 0] <= 0:  # (the first pair, (0, 1), has j 1 once filled)
        _pair_sums(s, cap, pairs)
    pi, pj, by_sum, sorted_sum = pairs[0], pairs[1], pairs[3], pairs[4]
    got = 0
    top = s[n - 2] + s[n - 1]  # the largest sum a pair (c, d) can add
    for i in range(n - 3):
        if s[i] + s[i + 1] + s[i + 2] + s[i + 3] > hi:  # (nor any later i: s ascends)
            break
        for j in range(i + 1, n - 2):  # (a pair ending at n - 2 or later has no (c, d))
            base = s[i] + s[j]
            if base + s[j + 1] + s[j + 2] > hi:  # the least completion, ascending with j
                break
            if base + top < lo:
                continue
            left = _bisect(sorted_sum, lo - base, False)
            right = _upper(sorted_sum, hi - base, left)
            for r in range(left, right):
                q = by_sum[r]
                if pi[q] > j:
                    cand[0] = keep[order[i]]
                    cand[1] = keep[order[j]]
                    cand[2] = keep[order[pi[q]]]
                    cand[3] = keep[order[pj[q]]]
                    n_found = _add(found, lens, n_found, cand, 4)
                    got += 1
                    if got >= limit:
                        return n_found
    return n_found


@njit(cache=True, nogil=True)
def _bits(mask: int) -> int:
    """How many bits of ``mask`` are set."""
    k = 0
    while mask:
        mask &= mask - 1
        k += 1
    return k


@njit(cache=True, nogil=True)
def _sorted_half_sums(a: np.ndarray, bound: int, work: np.ndarray) -> int:
    """How many subsets of the positive amounts ``a`` sum to at most ``bound``; their sums
    ascending, ties by bitmask (a stable argsort of the sums indexed by bitmask), and their
    bitmasks left in ``work`` (see :func:`_half_sums_in`): built by merging, one item at a
    time, the sorted sums without it and with it (those without it have the smaller masks, so
    they go first on a tie), with no sort. A sum over ``bound`` is dropped when it is made
    (adding items only makes it larger): what is kept comes in the same order as without the
    bound. ``work``: scratch of at least ``4 << len(a)`` items (the two arrays and the two
    being merged into)."""
    m = 1 << len(a)
    sums, masks = work[:m], work[m : 2 * m]
    tmp_sums, tmp_masks = work[2 * m : 3 * m], work[3 * m : 4 * m]
    sums[0], masks[0] = 0, 0
    k = 1
    for b in range(len(a)):
        add, bit = a[b], 1 << b
        k_with = 0  # the sums with it that stay within the bound: a prefix
        while k_with < k and sums[k_with] + add <= bound:
            k_with += 1
        i, j, t = 0, 0, 0
        while i < k and j < k_with:
            if sums[j] + add < sums[i]:
                tmp_sums[t], tmp_masks[t] = sums[j] + add, masks[j] | bit
                j += 1
            else:
                tmp_sums[t], tmp_masks[t] = sums[i], masks[i]
                i += 1
            t += 1
        while i < k:
            tmp_sums[t], tmp_masks[t] = sums[i], masks[i]
            i += 1
            t += 1
        while j < k_with:
            tmp_sums[t], tmp_masks[t] = sums[j] + add, masks[j] | bit
            j += 1
            t += 1
        sums, tmp_sums = tmp_sums, sums
        masks, tmp_masks = tmp_masks, masks
        k = t
    return k


@njit(cache=True, nogil=True)
def _half_sums_in(h: int, k: int, work: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where :func:`_sorted_half_sums` of ``h`` amounts left its ``k`` sums and bitmasks in
    ``work``: the arrays it merges into swap once per amount."""
    m = 1 << h
    if h % 2 == 0:
        return work[:k], work[m : m + k]
    return work[2 * m : 2 * m + k], work[3 * m : 3 * m + k]


@njit(cache=True, nogil=True)
def _mitm_words(n: int) -> int:
    """The scratch :func:`_mitm` needs for ``n`` amounts: a flag and each half's count of
    sums, each half's :func:`_sorted_half_sums` and the first half's windows."""
    a, b = 1 << (n // 2), 1 << (n - n // 2)
    return 3 + 6 * a + 4 * b


@njit(cache=True, nogil=True)
def _mitm(sub: np.ndarray, keep: np.ndarray, lo: int, hi: int, cap: int, max_size: int,
          found: np.ndarray, lens: np.ndarray, n_found: int, cand: np.ndarray,
          work: np.ndarray) -> int:
    """Subsets of size 4..max_size, as ``subset._mitm`` enumerates them: the first half's
    subsets in bitmask order, each with the second half's whose sums complete it, in the
    order of their sums (each window found by walking both halves' sorted sums once, not by a
    bisection per subset). Each half's sums over ``cap`` (at least ``hi``) are left out: they
    complete nothing. ``cand`` (at least ``len(sub)`` long) holds a candidate and ``work`` (at
    least ``_mitm_words(len(sub))`` long) the rest, no allocation: its first item 0 until the
    halves' sorted sums are built (then 1, and their counts next: both tiers share them)."""
    limit = len(lens)
    n = len(sub)
    half = n // 2
    a, b = 1 << half, 1 << (n - half)
    a_work, b_work = work[3 : 3 + 4 * a], work[3 + 4 * a : 3 + 4 * a + 4 * b]
    if work[0] == 0:
        work[1] = _sorted_half_sums(sub[:half], cap, a_work)
        work[2] = _sorted_half_sums(sub[half:], cap, b_work)
        work[0] = 1
    sorted_sa, a_masks = _half_sums_in(half, work[1], a_work)
    sorted_sb, order = _half_sums_in(n - half, work[2], b_work)
    # each first-half subset's window [lo - sa, hi - sa] in sorted_sb: its ends fall as sa
    # rises (empty for a subset over the cap, left out of sorted_sa)
    left = work[3 + 4 * a + 4 * b : 3 + 5 * a + 4 * b]
    right = work[3 + 5 * a + 4 * b : 3 + 6 * a + 4 * b]
    left[:] = 0
    right[:] = 0
    at_lo, at_hi = len(sorted_sb), len(sorted_sb)
    for t in range(len(sorted_sa)):
        x = sorted_sa[t]
        while at_lo > 0 and sorted_sb[at_lo - 1] >= lo - x:
            at_lo -= 1
        while at_hi > 0 and sorted_sb[at_hi - 1] > hi - x:
            at_hi -= 1
        left[a_masks[t]], right[a_masks[t]] = at_lo, at_hi
    got = 0
    for i in range(a):
        for j in range(left[i], right[i]):
            size = _bits(i) + _bits(order[j])
            if size < 4 or size > max_size:
                continue
            t = 0
            for b in range(half):
                if (i >> b) & 1:
                    cand[t] = keep[b]
                    t += 1
            mb = order[j]
            for b in range(n - half):
                if (mb >> b) & 1:
                    cand[t] = keep[half + b]
                    t += 1
            n_found = _add(found, lens, n_found, cand, t)
            got += 1
            if got >= limit:
                return n_found
    return n_found


@njit(cache=True, nogil=True)
def search(amounts: np.ndarray, target: int, tolerance: int, max_size: int, min_size: int,
           due: np.ndarray, has_due: bool, limit: int
           ) -> tuple[np.ndarray, np.ndarray, int, bool, bool, int]:
    """(solutions as rows of indices into ``amounts``, their lengths, how many (0-``limit``),
    exact, exhaustive, how many amounts could take part) — what ``subset.search`` finds
    without the HiGHS fallback."""
    keep = np.empty(len(amounts), np.int64)
    m = 0
    for i in range(len(amounts)):
        if 0 < amounts[i] <= target + tolerance:
            keep[m] = i
            m += 1
    keep = keep[:m]
    sub = np.empty(m, np.int64)
    sub_due = np.empty(m if has_due else 0, np.int64)
    for i in range(m):
        sub[i] = amounts[keep[i]]
        if has_due:
            sub_due[i] = due[keep[i]]
    found = np.zeros((limit, max(m, 1)), np.int64)
    lens = np.zeros(limit, np.int64)
    n_found, exact, exhaustive = _search_kept(
        keep, sub, _argsort_stable(sub), np.empty(m, np.int64), sub_due, has_due,
        np.full(m if has_due else 0, -1, np.int64), target, tolerance, max_size, min_size,
        found, lens, np.empty(max(m, 4), np.int64),
        np.empty(_mitm_words(m) if m <= MITM_MAX_N else 0, np.int64))
    return found, lens, n_found, exact, exhaustive, m


@njit(cache=True, nogil=True)
def _search_kept(keep: np.ndarray, sub: np.ndarray, order: np.ndarray, s: np.ndarray,
                 sub_due: np.ndarray, has_due: bool, by_due: np.ndarray, target: int,
                 tolerance: int, max_size: int, min_size: int, found: np.ndarray,
                 lens: np.ndarray, cand: np.ndarray, work: np.ndarray
                 ) -> tuple[int, bool, bool]:
    """:func:`search` over the amounts that can take part, ``sub`` (their indices ``keep``,
    their due dates ``sub_due``), given their stable sort ``order`` and, unless its first item
    is -1, their stable sort by due date ``by_due``: (how many solutions, exact, exhaustive),
    the solutions into ``found`` (``len(lens)``, the limit, rows at least ``len(sub)`` wide)
    and their lengths into ``lens``. The caller's scratch: ``s`` (``len(sub)`` long: ``sub``
    sorted), ``cand`` and ``work`` (see :func:`_tier`), so that a batch of searches allocates
    (almost) nothing per search."""
    m = len(sub)
    for i in range(m):
        s[i] = sub[order[i]]
    if len(work):
        work[0] = 0  # (the halves' sums of _mitm: not built yet)
    quads = max_size >= 4 and MITM_MAX_N < m <= QUADS_MAX_N and m >= 4
    pairs = np.empty((5, m * (m - 1) // 2 if quads else 1), np.int64)
    pairs[1, 0] = 0  # (not filled yet: _quads fills it when a set of four may fit)
    for tier in range(2):
        lo = target if tier == 0 else target + 1
        hi = target if tier == 0 else target + tolerance
        if hi < lo:
            continue
        lens[:] = 0
        n_found, exhaustive = _tier(sub, keep, order, s, lo, hi, target + tolerance, max_size,
                                    min_size, sub_due, has_due, by_due, pairs, found, lens,
                                    cand, work)
        if n_found:
            return n_found, tier == 0, exhaustive
    return 0, True, False


@njit(cache=True, nogil=True)
def search_blocks(amount: np.ndarray, due: np.ndarray, members: np.ndarray, starts: np.ndarray,
                  excluded: np.ndarray, q_block: np.ndarray, fixed: np.ndarray,
                  fixed_starts: np.ndarray, target: np.ndarray, tolerance: np.ndarray,
                  max_size: np.ndarray, min_size: np.ndarray, limit: int, has_due: bool
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                             np.ndarray, np.ndarray, np.ndarray]:
    """:func:`search` (with the due-date prefix when ``has_due``) for many queries at once,
    query ``q`` over the
    invoice rows ``members[starts[b]:starts[b + 1]]`` of its block ``b = q_block[q]`` (-1: none)
    less the ``excluded`` rows and its own ``fixed[fixed_starts[q]:fixed_starts[q + 1]]``, in
    that order, for ``target[q]`` (skipped when not positive).

    Per query: how many solutions, exact, exhaustive, how many amounts could take part, the
    block's size after the exclusions; per solution (``limit`` slots a query) its length and
    start in the flat array of invoice rows returned last.
    """
    nq = len(q_block)
    n_found = np.zeros(nq, np.int64)
    exact = np.zeros(nq, np.bool_)
    exhaustive = np.zeros(nq, np.bool_)
    usable = np.zeros(nq, np.int64)
    size = np.zeros(nq, np.int64)
    sol_len = np.zeros(nq * limit, np.int64)
    sol_start = np.zeros(nq * limit, np.int64)
    rows = np.empty(max(nq * limit * 2, 16), np.int64)
    used = 0
    # the queries block by block: each block's amounts, due dates and exclusions gathered
    # (contiguous: a large block is read by many queries) and its positions sorted by amount
    # (stable), once; a query's amounts, a subsequence of its block's, come sorted by
    # filtering them (the solutions' rows land in the flat array in that order)
    widest = 0
    for q in range(nq):
        if q_block[q] >= 0:
            widest = max(widest, starts[q_block[q] + 1] - starts[q_block[q]])
    by_amount = np.empty(widest, np.int64)
    b_amount = np.empty(widest, np.int64)
    b_due = np.empty(widest, np.int64)
    b_excluded = np.empty(widest, np.bool_)
    slot = np.empty(widest, np.int64)  # block position -> index among the amounts kept
    # a query's rows (its block less exclusions), and those kept: position, amount, due date
    block = np.empty(widest, np.int64)
    keep = np.empty(widest, np.int64)
    sub = np.empty(widest, np.int64)
    sub_due = np.empty(widest, np.int64)
    # each search's scratch, allocated once (see _search_kept)
    order_w = np.empty(widest, np.int64)
    by_due_w = np.empty(widest, np.int64)
    s_w = np.empty(widest, np.int64)
    found = np.empty((limit, max(widest, 1)), np.int64)
    lens = np.empty(limit, np.int64)
    cand = np.empty(max(widest, 4), np.int64)
    work = np.empty(_mitm_words(min(widest, MITM_MAX_N)), np.int64)
    gathered = -1
    for q in _argsort_stable(q_block):
        b = q_block[q]
        if b < 0 or target[q] <= 0:
            continue
        lo, hi = starts[b], starts[b + 1]
        if b != gathered:
            for t in range(hi - lo):
                r = members[lo + t]
                b_amount[t] = amount[r]
                b_due[t] = due[r] if has_due else 0
                b_excluded[t] = excluded[r]
            by_amount[: hi - lo] = _argsort_stable(b_amount[: hi - lo])
            gathered = b
        cap = target[q] + tolerance[q]
        n, m = 0, 0
        for t in range(hi - lo):
            slot[t] = -1
            if b_excluded[t]:
                continue
            r = members[lo + t]
            mine = False
            for f in range(fixed_starts[q], fixed_starts[q + 1]):
                if fixed[f] == r:
                    mine = True
                    break
            if not mine:
                block[n] = r
                v = b_amount[t]
                if 0 < v <= cap:  # (what search keeps)
                    slot[t] = m
                    keep[m] = n
                    sub[m] = v
                    sub_due[m] = b_due[t]
                    m += 1
                n += 1
        size[q] = n
        if n == 0:
            continue
        order = order_w[:m]
        i = 0
        for t in range(hi - lo):
            x = slot[by_amount[t]]
            if x >= 0:
                order[i] = x
                i += 1
        # (sorted by due date only by a query that reaches the due-date prefix)
        by_due = by_due_w[:m]
        by_due[:] = -1
        k, ex, exh = _search_kept(keep[:m], sub[:m], order, s_w[:m], sub_due[:m], has_due,
                                  by_due, target[q], tolerance[q], max_size[q], min_size[q],
                                  found, lens, cand, work)
        n_found[q], exact[q], exhaustive[q], usable[q] = k, ex, exh, m
        for f in range(k):
            need = used + lens[f]
            if need > len(rows):
                grown = np.empty(max(2 * len(rows), need), np.int64)
                grown[:used] = rows[:used]
                rows = grown
            sol_start[q * limit + f] = used
            sol_len[q * limit + f] = lens[f]
            for t in range(lens[f]):
                rows[used + t] = block[found[f, t]]
            used = need
    return n_found, exact, exhaustive, usable, size, sol_len, sol_start, rows[:used]


@njit(cache=True, nogil=True)
def count_fits(amounts: np.ndarray, starts: np.ndarray, q_block: np.ndarray, lo: np.ndarray,
               hi: np.ndarray, cap: int) -> np.ndarray:
    """Per query: how many single amounts and pairs (i < j) of block ``q_block[q]`` (-1: none;
    its amounts ``amounts[starts[b]:starts[b + 1]]``, positive and ascending) sum into
    ``[lo[q], hi[q]]``, counted up to ``cap``."""
    out = np.zeros(len(q_block), np.int64)
    for q in range(len(q_block)):
        b = q_block[q]
        if b < 0 or hi[q] < lo[q]:
            continue
        s = amounts[starts[b] : starts[b + 1]]
        got = _bisect(s, hi[q], True) - _bisect(s, lo[q], False)
        # the partners' window [lo - s[i], hi - s[i]] only moves down as i grows: its ends
        # walked down (as _tier's pairs), and once it ends at or below i no later i has one
        a, z = len(s), len(s)
        for i in range(len(s)):
            if got >= cap:
                break
            a = _walk_left(s, lo[q] - s[i], a)
            z = _walk_right(s, hi[q] - s[i], z)
            if z <= i + 1:
                break
            left = max(a, i + 1)
            if z > left:
                got += z - left
        out[q] = min(got, cap)
    return out


@njit(cache=True, nogil=True)
def fewest_slots(n_found: np.ndarray, sol_len: np.ndarray, exhaustive: np.ndarray,
                 max_size: np.ndarray, usable: np.ndarray, slots: int, limit: int
                 ) -> np.ndarray:
    """``subset.BlockSearches.fewest`` (``slots`` per query; ``limit``: the most solutions
    asked for), one pass over the queries: the slot of the solution with fewer items than any
    other of its query's when the search proves it the only one that small, else -1."""
    out = np.full(len(n_found), -1, np.int64)
    for q in range(len(n_found)):
        k = n_found[q]
        if k == 0:
            continue
        at = q * slots
        first = at
        for i in range(at + 1, at + k):
            if sol_len[i] < sol_len[first]:
                first = i
        n_first = sol_len[first]
        alone = True
        for i in range(at, at + k):
            if i != first and sol_len[i] <= n_first:
                alone = False
        if not alone:
            continue
        if exhaustive[q]:
            complete = max_size[q]
        else:  # (subset._complete)
            u = usable[q]
            complete = min(max_size[q], 4 if u <= QUADS_MAX_N else 3 if u <= TRIPLES_MAX_N else 2)
        every = k < limit and (exhaustive[q] or n_first <= complete)
        if every or n_first <= min(complete, 3):
            out[q] = first
    return out
