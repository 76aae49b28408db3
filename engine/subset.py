"""Which subset of a customer's open invoices does one payment settle?

Exact methods first — singles, pairs by sorted two-sum, triples by a two-sum per element, a
due-date prefix, meet-in-the-middle for small blocks — then HiGHS (``scipy.optimize.milp``)
as a bounded fallback with a time limit. The search stops at the second solution: two
different subsets that fit equally make the payment AMBIGUOUS, never a guess.

A subset *fits* when ``sum(invoices) - payment`` lies in ``[0, tolerance]`` (the tolerance is
the bank-fee ceiling; exact fits are searched before tolerant ones).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np

MITM_MAX_N = 24  # meet-in-the-middle over all subsets up to max_size for blocks this small
MILP_MAX_N = 400


@dataclass(frozen=True, slots=True)
class SubsetSearch:
    solutions: list[tuple[int, ...]]  # indices into the amounts given, each sorted; at most 2
    exact: bool  # True when the solutions sum exactly to the target

    @property
    def unique(self) -> tuple[int, ...] | None:
        return self.solutions[0] if len(self.solutions) == 1 else None


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


def _triples(amounts: np.ndarray, lo: int, hi: int, limit: int) -> list[tuple[int, ...]]:
    order = np.argsort(amounts, kind="stable")
    s = amounts[order]
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


def _mitm(amounts: np.ndarray, lo: int, hi: int, max_size: int, limit: int) -> list:
    """All subsets of size 4..max_size by enumeration of halves (small blocks only)."""
    n = len(amounts)
    half = n // 2
    a, b = list(range(half)), list(range(half, n))

    def sums(items: list[int]) -> tuple[np.ndarray, list[tuple[int, ...]]]:
        combos: list[tuple[int, ...]] = []
        for k in range(0, max_size + 1):
            combos.extend(combinations(items, k))
        totals = np.array([int(amounts[list(c)].sum()) if c else 0 for c in combos], np.int64)
        return totals, combos

    sa, ca = sums(a)
    sb, cb = sums(b)
    order = np.argsort(sb, kind="stable")
    sb_sorted = sb[order]
    out: list[tuple[int, ...]] = []
    left = np.searchsorted(sb_sorted, lo - sa, "left")
    right = np.searchsorted(sb_sorted, hi - sa, "right")
    for i in np.flatnonzero(right > left):
        for j in order[left[i] : right[i]]:
            combo = ca[i] + cb[j]
            if 4 <= len(combo) <= max_size:
                out.append(tuple(sorted(combo)))
                if len(out) >= limit:
                    return out
    return out


def _milp(amounts: np.ndarray, lo: int, hi: int, max_size: int, time_limit: float,
          exclude: list[tuple[int, ...]]) -> tuple[int, ...] | None:
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
    res = milp(
        c=np.zeros(n),
        constraints=LinearConstraint(np.vstack(rows), lb, ub),
        integrality=np.ones(n),
        bounds=Bounds(0, 1),
        options={"time_limit": time_limit, "presolve": True},
    )
    if res.x is None or res.status not in (0,):
        return None
    sol = tuple(int(i) for i in np.flatnonzero(res.x > 0.5))
    total = int(amounts[list(sol)].sum())
    return sol if lo <= total <= hi else None


def search(
    amounts: np.ndarray,
    target: int,
    *,
    tolerance: int,
    max_size: int,
    due_order: np.ndarray | None = None,
    time_limit: float = 0.05,
    min_size: int = 1,
) -> SubsetSearch:
    """Subsets of ``amounts`` (int64 minor units) that settle ``target``; at most two."""
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
            add([(int(i),) for i in np.flatnonzero((sub >= lo) & (sub <= hi))[:2]])
        if len(found) < 2 and max_size >= 2 and min_size <= 2:
            add(_pairs(sub, lo, hi, 2))
        if len(found) < 2 and max_size >= 3 and min_size <= 3 and len(sub) <= 2000:
            add(_triples(sub, lo, hi, 2))
        if len(found) < 2 and due_order is not None and len(sub):
            # customers often pay their oldest items: a prefix in due-date order
            by_due = np.argsort(due_order[keep], kind="stable")
            csum = np.cumsum(sub[by_due])
            hit = np.flatnonzero((csum >= lo) & (csum <= hi))
            for h in hit[:1]:
                if h + 1 >= min_size:
                    add([tuple(int(x) for x in by_due[: h + 1])])
        if len(found) < 2 and max_size >= 4:
            if len(sub) <= MITM_MAX_N:
                add(_mitm(sub, lo, hi, max_size, 2))
            elif len(sub) <= MILP_MAX_N and not found:
                first = _milp(sub, lo, hi, max_size, time_limit, [])
                if first is not None:
                    add([first])
                    second = _milp(sub, lo, hi, max_size, time_limit, [first])
                    if second is not None:
                        add([second])
        if found:
            return SubsetSearch(found[:2], exact)
    return SubsetSearch([], True)
