"""Which subset of a customer's open invoices does one payment settle?

Exact methods first — singles, pairs by sorted two-sum, triples by a two-sum per element, a
due-date prefix, meet-in-the-middle for small blocks, sets of four by sorted pair sums for
medium ones — then HiGHS (``scipy.optimize.milp``)
as a bounded fallback with a time limit. The search stops at the second solution: two
different subsets that fit equally make the payment AMBIGUOUS, never a guess.

A subset *fits* when ``sum(invoices) - payment`` lies in ``[0, tolerance]`` (the tolerance is
the bank-fee ceiling; exact fits are searched before tolerant ones).
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from cashmatch.engine.threads import in_background, in_parts

MITM_MAX_N = 24  # meet-in-the-middle over all subsets up to max_size for blocks this small
QUADS_MAX_N = 60  # beyond it, sets of four by sorted pair sums in blocks at most this large
MILP_MAX_N = 60
TRIPLES_MAX_N = 2000  # triples are searched in blocks at most this large
MILP_SAFETY_SECONDS = 5.0
SEARCH_THREAD_QUERIES = 5000  # search_blocks: a thread for each this many queries ...
SEARCH_THREADS_MAX = 4  # ... up to this many threads

T = TypeVar("T", int, np.ndarray)


@dataclass(frozen=True, slots=True)
class SubsetSearch:
    solutions: list[tuple[int, ...]]  # indices into the amounts given, each sorted; at most `limit`
    exact: bool  # True when the solutions sum exactly to the target
    exhaustive: bool = False  # every subset up to max_size was considered: a single solution
    # is then the only one, not merely the only one found
    milp_calls: int = 0  # HiGHS fallback calls made
    complete_upto: int = 0  # every subset of at most this many items was considered (a unique
    # solution no larger is then the only one of its size or smaller)

    @property
    def unique(self) -> tuple[int, ...] | None:
        return self.solutions[0] if len(self.solutions) == 1 else None

    def fewest(self, limit: int) -> tuple[int, ...] | None:
        """The solution with fewer items than any other subset that fits, when the search
        proves it (``limit``: the most solutions it was asked for); None otherwise.

        Singles, pairs and triples are searched in that order, each size completely before
        the next unless ``limit`` solutions of that size turn up, so a solution of at most
        ``min(complete_upto, 3)`` items that no other of its size or fewer accompanies is
        the only one that small. A search that returned fewer than ``limit`` solutions
        returned every fit it tried: all of them when exhaustive, else every one of at most
        ``complete_upto`` items (sets of four past the meet-in-the-middle blocks)."""
        if not self.solutions:
            return None
        first = min(self.solutions, key=len)
        if sum(len(s) <= len(first) for s in self.solutions) > 1:
            return None
        every = len(self.solutions) < limit and (
            self.exhaustive or len(first) <= self.complete_upto)
        return first if every or len(first) <= min(self.complete_upto, 3) else None


def _pairs(amounts: np.ndarray, lo: int, hi: int, limit: int) -> list[tuple[int, ...]]:
    order = np.argsort(amounts, kind="stable")
    s = amounts[order]
    # for each i, partners j > i with s[i] + s[j] in [lo, hi]
    left = np.searchsorted(s, lo - s, "left")
    right = np.searchsorted(s, hi - s, "right")
    idx = np.arange(len(s))
    left = np.maximum(left, idx + 1)
    out: list[tuple[int, ...]] = []
    for i in np.flatnonzero(right > left):
        for j in range(left[i], min(right[i], left[i] + limit)):
            out.append(tuple(sorted((int(order[i]), int(order[j])))))
            if len(out) >= limit:
                return out
    return out


TRIPLE_BATCH = 1 << 14  # (i, j) pairs enumerated at once


def _triples(amounts: np.ndarray, lo: int, hi: int, limit: int) -> list[tuple[int, ...]]:
    """The first ``limit`` triples in (i, j, k) order of the sorted amounts whose sum lies in
    ``[lo, hi]``: every (i, j) that can still take a larger third at once, a search for k."""
    order = np.argsort(amounts, kind="stable")
    s = amounts[order]
    n = len(s)
    if n < 3:
        return []
    # i can start a triple only if 3 s[i] <= hi; j only if s[i] + 2 s[j] <= hi
    n_i = min(int(np.searchsorted(s, hi // 3, "right")), n - 2)
    if n_i <= 0:
        return []
    i_idx = np.arange(n_i)
    j_end = np.minimum(np.searchsorted(s, (hi - s[:n_i]) // 2, "right"), n - 1)
    j_cnt = np.maximum(j_end - (i_idx + 1), 0)
    csum = np.cumsum(j_cnt)
    out: list[tuple[int, ...]] = []
    i0 = 0
    while i0 < n_i:  # batches of i of about TRIPLE_BATCH pairs: an early hit ends the search
        done = int(csum[i0 - 1]) if i0 else 0
        i1 = max(i0 + 1, int(np.searchsorted(csum, done + TRIPLE_BATCH, "right")))
        i1 = min(i1, n_i)
        cnt = j_cnt[i0:i1]
        total = int(cnt.sum())
        if total:
            ii = np.repeat(i_idx[i0:i1], cnt)
            jj = np.arange(total) - np.repeat(np.cumsum(cnt) - cnt, cnt) + ii + 1
            base = s[ii] + s[jj]
            k_lo = np.maximum(np.searchsorted(s, lo - base, "left"), jj + 1)
            k_hi = np.searchsorted(s, hi - base, "right")
            for h in np.flatnonzero(k_hi > k_lo)[:limit]:
                for k in range(k_lo[h], min(k_hi[h], k_lo[h] + limit)):
                    out.append(tuple(sorted((int(order[ii[h]]), int(order[jj[h]]), int(order[k])))))
                    if len(out) >= limit:
                        return out
        i0 = i1
    return out


def _triples_loop(  # the loop over i that _triples replaced; the reference its test uses
    s: np.ndarray, order: np.ndarray, lo: int, hi: int, limit: int
) -> list[tuple[int, ...]]:
    n = len(s)
    out: list[tuple[int, ...]] = []
    for i in range(n - 2):
        if s[i] * 3 > hi:
            break
        rest = s[i + 1 :]
        left = np.searchsorted(rest, lo - s[i] - rest, "left")
        right = np.searchsorted(rest, hi - s[i] - rest, "right")
        left = np.maximum(left, np.arange(len(rest)) + 1)
        for j in np.flatnonzero(right > left):
            for k in range(left[j], min(right[j], left[j] + limit)):
                out.append(
                    tuple(sorted((int(order[i]), int(order[i + 1 + j]), int(order[i + 1 + k]))))
                )
                if len(out) >= limit:
                    return out
    return out


def _quads(amounts: np.ndarray, lo: int, hi: int, limit: int) -> list[tuple[int, ...]]:
    """The first ``limit`` sets of four whose sum lies in ``[lo, hi]``: over the sorted amounts,
    each pair (a, b) in (a, b) order with the pairs (c, d), b < c, whose sums complete it, in
    the order of the pair sums (sorted once: a binary search per pair). Every set of four is
    its two smallest plus its two largest exactly once."""
    order = np.argsort(amounts, kind="stable")
    s = amounts[order]
    if len(s) < 4:
        return []
    pi, pj = np.triu_indices(len(s), 1)
    psum = s[pi] + s[pj]
    by_sum = np.argsort(psum, kind="stable")
    sorted_sum = psum[by_sum]
    left = np.searchsorted(sorted_sum, lo - psum, "left")
    right = np.searchsorted(sorted_sum, hi - psum, "right")
    out: list[tuple[int, ...]] = []
    for p in np.flatnonzero(right > left):
        for q in by_sum[left[p] : right[p]]:
            if pi[q] > pj[p]:
                out.append(tuple(sorted(int(order[x]) for x in (pi[p], pj[p], pi[q], pj[q]))))
                if len(out) >= limit:
                    return out
    return out


def _half_sums(amounts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every subset of a small array as a bitmask: (masks, sums, sizes), vectorised."""
    h = len(amounts)
    masks = np.arange(1 << h, dtype=np.int64)
    bits = (masks[:, None] >> np.arange(h)) & 1
    return masks, bits @ amounts, bits.sum(axis=1)


def _mitm(amounts: np.ndarray, lo: int, hi: int, max_size: int, limit: int) -> list:
    """Subsets of size 4..max_size by meet-in-the-middle over bitmask halves (small blocks)."""
    n = len(amounts)
    half = n // 2
    ma, sa, ka = _half_sums(amounts[:half])
    mb, sb, kb = _half_sums(amounts[half:])
    order = np.argsort(sb, kind="stable")
    sb, mb, kb = sb[order], mb[order], kb[order]
    left = np.searchsorted(sb, lo - sa, "left")
    right = np.searchsorted(sb, hi - sa, "right")
    out: list[tuple[int, ...]] = []
    for i in np.flatnonzero(right > left):
        sizes = ka[i] + kb[left[i] : right[i]]
        for j in np.flatnonzero((sizes >= 4) & (sizes <= max_size)):
            a_idx = [b for b in range(half) if ma[i] >> b & 1]
            b_idx = [half + b for b in range(n - half) if mb[left[i] + j] >> b & 1]
            out.append(tuple(sorted(a_idx + b_idx)))
            if len(out) >= limit:
                return out
    return out


_STDOUT_LOCK = threading.Lock()


@contextmanager
def _c_stdout_silenced() -> Iterator[None]:
    """HiGHS prints 'HighsMipSolverData::transformNewIntegerFeasibleSolution' to C stdout even
    when told to be silent (an upstream bug); keep it off the user's terminal and CSV pipes."""
    with _STDOUT_LOCK:
        sys.stdout.flush()
        saved = os.dup(1)
        try:
            with open(os.devnull, "wb") as null:
                os.dup2(null.fileno(), 1)
            yield
        finally:
            os.dup2(saved, 1)
            os.close(saved)


def _milp(
    amounts: np.ndarray,
    lo: int,
    hi: int,
    max_size: int,
    node_limit: int,
    exclude: list[tuple[int, ...]],
) -> tuple[tuple[int, ...] | None, bool]:
    """One subset by HiGHS, and whether the answer is proven (False when the node limit
    stopped it). Bounded by nodes, not seconds, so the same input gives the same answer on any
    machine; the time limit is only a safety net far above what the node limit allows."""
    from scipy.optimize import Bounds, LinearConstraint, milp

    n = len(amounts)
    rows = [amounts.astype(float), np.ones(n)]
    lb, ub = [float(lo), 1.0], [float(hi), float(max_size)]
    for sol in exclude:  # no-good cut: not exactly this subset again
        row = -np.ones(n)
        row[list(sol)] = 1.0
        rows.append(row)
        lb.append(-np.inf)
        ub.append(len(sol) - 1.0)
    with _c_stdout_silenced():
        res = milp(
            c=np.zeros(n),
            constraints=LinearConstraint(np.vstack(rows), lb, ub),
            integrality=np.ones(n),
            bounds=Bounds(0, 1),
            options={"node_limit": node_limit, "time_limit": MILP_SAFETY_SECONDS,
                     "presolve": True, "disp": False},
        )
    if res.x is None or res.status != 0:
        return None, res.status == 2  # 2: proven infeasible; 1: node (or time) limit
    sol = tuple(int(i) for i in np.flatnonzero(res.x > 0.5))
    total = int(amounts[list(sol)].sum())
    return (sol if lo <= total <= hi else None), True


def _complete(max_size: T, n: T) -> T:
    """Up to how many items every subset was tried when the search is not exhaustive: singles
    and pairs always, triples in blocks of at most ``TRIPLES_MAX_N`` amounts, sets of four in
    blocks of at most ``QUADS_MAX_N`` (of each search at once for arrays)."""
    if isinstance(n, np.ndarray):
        return np.minimum(max_size, np.where(n <= QUADS_MAX_N, 4,
                                             np.where(n <= TRIPLES_MAX_N, 3, 2)))
    return min(max_size, 4 if n <= QUADS_MAX_N else 3 if n <= TRIPLES_MAX_N else 2)


def search(
    amounts: np.ndarray,
    target: int,
    *,
    tolerance: int,
    max_size: int,
    due_order: np.ndarray | None = None,
    node_limit: int = 0,
    min_size: int = 1,
    limit: int = 2,
) -> SubsetSearch:
    """Subsets of ``amounts`` (int64 minor units) that settle ``target``; at most ``limit``
    (two tell a unique fit from an ambiguous one; more give a reviewer sets to choose from).

    ``node_limit`` bounds each HiGHS call (branch-and-bound nodes); 0 turns the MILP fallback
    off. Deterministic: no wall-clock limit decides an answer. Without the fallback the search
    runs compiled (:mod:`subset_kernel`, the same steps and answers as :func:`search_numpy`).
    """
    amounts = np.ascontiguousarray(amounts, dtype=np.int64)
    if node_limit > 0:
        return search_numpy(amounts, target, tolerance=tolerance, max_size=max_size,
                            due_order=due_order, node_limit=node_limit, min_size=min_size,
                            limit=limit)
    from cashmatch.engine import subset_kernel

    has_due = due_order is not None
    due = np.ascontiguousarray(due_order, np.int64) if has_due else np.zeros(0, np.int64)
    found, lens, n, exact, exhaustive, m = subset_kernel.search(
        amounts, int(target), int(tolerance), int(max_size), int(min_size), due, has_due,
        int(limit))
    if n == 0:
        return SubsetSearch([], True, False)
    rows = found.tolist()
    return SubsetSearch([tuple(rows[f][: lens[f]]) for f in range(n)], bool(exact),
                        bool(exhaustive), 0, max_size if exhaustive else _complete(max_size, m))


def search_numpy(
    amounts: np.ndarray,
    target: int,
    *,
    tolerance: int,
    max_size: int,
    due_order: np.ndarray | None = None,
    node_limit: int = 0,
    min_size: int = 1,
    limit: int = 2,
) -> SubsetSearch:
    """:func:`search` in numpy, with the HiGHS fallback when ``node_limit`` > 0; the reference
    the compiled search is tested against."""
    calls = 0
    amounts = np.asarray(amounts, dtype=np.int64)
    keep = np.flatnonzero((amounts > 0) & (amounts <= target + tolerance))
    sub = amounts[keep]
    for lo, hi, exact in ((target, target, True), (target + 1, target + tolerance, False)):
        if hi < lo:
            continue
        found: list[tuple[int, ...]] = []

        def add(sols: list[tuple[int, ...]], found: list[tuple[int, ...]] = found) -> None:
            for s in sols:
                mapped = tuple(sorted(int(keep[i]) for i in s))
                if mapped not in found:
                    found.append(mapped)

        if min_size <= 1:
            add([(int(i),) for i in np.flatnonzero((sub >= lo) & (sub <= hi))[:limit]])
        if len(found) < limit and max_size >= 2 and min_size <= 2:
            add(_pairs(sub, lo, hi, limit))
        if len(found) < limit and max_size >= 3 and min_size <= 3 and len(sub) <= TRIPLES_MAX_N:
            add(_triples(sub, lo, hi, limit))
        if len(found) < limit and due_order is not None and len(sub):
            # customers often pay their oldest items: a prefix in due-date order
            by_due = np.argsort(due_order[keep], kind="stable")
            csum = np.cumsum(sub[by_due])
            hit = np.flatnonzero((csum >= lo) & (csum <= hi))
            for h in hit[:1]:
                if h + 1 >= min_size:
                    add([tuple(int(x) for x in by_due[: h + 1])])
        exhaustive = max_size <= 3 and len(sub) <= TRIPLES_MAX_N
        complete = _complete(max_size, len(sub))
        if len(found) < limit and max_size >= 4:
            if len(sub) <= MITM_MAX_N:
                add(_mitm(sub, lo, hi, max_size, limit))
                exhaustive = True
            elif len(sub) <= QUADS_MAX_N:
                add(_quads(sub, lo, hi, limit))
                exhaustive = max_size == 4
            if MITM_MAX_N < len(sub) <= MILP_MAX_N and len(found) < limit and node_limit > 0:
                calls += 1
                first, proven = _milp(
                    sub,
                    lo,
                    hi,
                    max_size,
                    node_limit,
                    [tuple(int(np.flatnonzero(keep == f)[0]) for f in s) for s in found],
                )
                if first is not None:
                    add([first])
                    if len(found) < limit:
                        calls += 1
                        second, proven = _milp(
                            sub,
                            lo,
                            hi,
                            max_size,
                            node_limit,
                            [tuple(int(np.flatnonzero(keep == f)[0]) for f in s) for s in found],
                        )
                        if second is not None:
                            add([second])
                exhaustive = proven
        if found:
            return SubsetSearch(found[:limit], exact, exhaustive, calls,
                                max_size if exhaustive else complete)
    return SubsetSearch([], True, False, calls)


@dataclass(frozen=True, slots=True)
class BlockSearches:
    """The answers of :func:`search_blocks`, one query after another (arrays)."""

    n_found: np.ndarray  # solutions per query (0..limit)
    exact: np.ndarray
    exhaustive: np.ndarray
    usable: np.ndarray  # amounts that could take part (positive, at most target + tolerance)
    size: np.ndarray  # the block's size after the exclusions
    max_size: np.ndarray
    sol_len: np.ndarray  # per query ``limit`` slots: each solution's length ...
    sol_start: np.ndarray  # ... and start in ``rows``
    rows: np.ndarray  # the solutions' invoice rows, ascending within each solution
    limit: int

    def fewest(self, limit: int) -> np.ndarray:
        """:meth:`SubsetSearch.fewest` of every query at once: the slot (``q * self.limit + i``,
        into ``sol_len`` and ``sol_start``) of the solution it gives, -1 where none."""
        from cashmatch.engine import subset_kernel

        return subset_kernel.fewest_slots(self.n_found, self.sol_len, self.exhaustive,
                                          self.max_size, self.usable, self.limit, limit)

    def get(self, q: int) -> SubsetSearch:
        """Query ``q`` as :func:`search` answers it, its solutions as invoice rows."""
        k = int(self.n_found[q])
        if k == 0:
            return SubsetSearch([], True, False)
        at = q * self.limit
        rows = self.rows
        sols = [tuple(rows[s : s + n].tolist()) for s, n in zip(
            self.sol_start[at : at + k].tolist(), self.sol_len[at : at + k].tolist(),
            strict=True)]
        max_size, exhaustive = int(self.max_size[q]), bool(self.exhaustive[q])
        return SubsetSearch(sols, bool(self.exact[q]), exhaustive, 0,
                            max_size if exhaustive else _complete(max_size, int(self.usable[q])))


def search_blocks(
    *,
    amount: np.ndarray,
    due: np.ndarray | None,
    members: np.ndarray,
    starts: np.ndarray,
    excluded: np.ndarray,
    q_block: np.ndarray,
    fixed: np.ndarray,
    fixed_starts: np.ndarray,
    target: np.ndarray,
    tolerance: np.ndarray,
    max_size: np.ndarray,
    min_size: np.ndarray,
    limit: int = 2,
) -> BlockSearches:
    """:func:`search` without the HiGHS fallback, for many queries in one compiled call: query
    ``q`` looks among the invoices of block ``q_block[q]`` (rows
    ``members[starts[b]:starts[b + 1]]``, -1: none) that are neither ``excluded`` (a mask over
    rows) nor among its own rows ``fixed[fixed_starts[q]:fixed_starts[q + 1]]``, with amounts
    ``amount[rows]`` and due dates ``due[rows]`` (None: no due-date prefix is tried, as
    :func:`search` without ``due_order``), for a positive ``target[q]``."""
    from cashmatch.engine import subset_kernel

    def i64(a: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(a, np.int64)

    has_due = due is not None
    book = (i64(amount), i64(due) if has_due else np.zeros(0, np.int64), i64(members),
            i64(starts), np.ascontiguousarray(excluded, bool))
    q_block, fixed, fixed_starts, target, tolerance, max_size, min_size = map(
        i64, (q_block, fixed, fixed_starts, target, tolerance, max_size, min_size))

    def part(a: int, b: int) -> tuple[np.ndarray, ...]:  # queries a..b-1
        f0, f1 = fixed_starts[a], fixed_starts[b]
        return subset_kernel.search_blocks(
            *book, q_block[a:b], fixed[f0:f1], fixed_starts[a : b + 1] - f0, target[a:b],
            tolerance[a:b], max_size[a:b], min_size[a:b], int(limit), has_due)

    # the queries are independent and the compiled search releases the GIL: in threads, a
    # contiguous share each, the answers joined in query order (the same arrays as one call)
    outs = in_parts(part, len(q_block), per_thread=SEARCH_THREAD_QUERIES,
                    max_threads=SEARCH_THREADS_MAX)
    if len(outs) == 1:  # (one share: its arrays as they are, no joins)
        o = outs[0]
        return BlockSearches(*o[:5], max_size, o[5], o[6], o[7], limit)
    shift = np.cumsum([0] + [len(o[7]) for o in outs[:-1]])
    sol_start = np.concatenate([np.where(o[5] > 0, o[6] + s, o[6])
                                for o, s in zip(outs, shift, strict=True)])
    joined = [np.concatenate([o[i] for o in outs]) for i in (0, 1, 2, 3, 4, 5, 7)]
    return BlockSearches(*joined[:5], max_size, joined[5], sol_start, joined[6], limit)


def search_blocks_beside(**kw: Any) -> Callable[[], BlockSearches]:
    """:func:`search_blocks` (its keyword arguments) on a thread of its own, beside the
    caller's work, when its queries are many enough for threads of their own (below, run at
    once: a thread costs more than a few queries); the call returned waits for the answer."""
    return in_background(lambda: search_blocks(**kw),
                         thread=len(kw["q_block"]) >= 2 * SEARCH_THREAD_QUERIES)
