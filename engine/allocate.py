"""From scored pairs to proposals, conflict-free allocations and exceptions.

Each payment gets at most one *proposal*: a list of (invoice, applied, adjustment) lines with
a confidence and the rule that made it. Simple proposals (one payment, one invoice) are chosen
for all payments at once; the rarer shapes (remittance advice, several invoices, a partial
payment of a quoted invoice, amount-only subsets) are built per payment from that payment's
own candidates.

Conflicts are resolved globally: invoices claimed in full by several payments are assigned by
``scipy.optimize.linear_sum_assignment`` over the whole conflicting component (never input
order); then the other proposals take what capacity is left, strongest first.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from cashmatch.engine import schema as S
from cashmatch.engine.candidates import DISCOUNT, FEE

AMBIGUITY_MARGIN = 0.04  # a runner-up this close to the best makes the payment AMBIGUOUS
MAX_CANDIDATES = 5


@dataclass(slots=True)
class Proposal:
    """What the engine would apply for one payment, line by line, and how sure it is."""

    pay: int
    inv: list[int]
    applied: list[int]
    adjustment: list[int]
    adjustment_reason: list[str | None]
    confidence: float
    rule: str
    unapplied_reason: str | None = None  # why a remainder stays unapplied (OVERPAYMENT, ...)
    detail: str = ""


@dataclass(slots=True)
class ExceptionItem:
    """A payment a person must look at: why, in a sentence, and where to look first."""

    pay: int
    reason: str
    detail: str
    candidates: list[int] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)


def best_per_payment(
    pay: np.ndarray, inv: np.ndarray, conf: np.ndarray, n_pay: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Best and runner-up (different invoice) pair index per payment; -1 where none."""
    best = np.full(n_pay, -1, dtype=np.int64)
    second = np.full(n_pay, -1, dtype=np.int64)
    if len(pay) == 0:
        return best, second, np.zeros(n_pay), np.zeros(n_pay)
    order = np.lexsort((inv, -conf, pay))
    p_sorted = pay[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = p_sorted[1:] != p_sorted[:-1]
    best[p_sorted[first]] = order[first]
    rank = np.arange(len(order)) - np.maximum.accumulate(np.where(first, np.arange(len(order)), 0))
    sec = rank == 1
    second[p_sorted[sec]] = order[sec]
    best_conf = np.where(best >= 0, conf[np.maximum(best, 0)], 0.0)
    second_conf = np.where(second >= 0, conf[np.maximum(second, 0)], 0.0)
    return best, second, best_conf, second_conf


def ranked_candidates(
    pay: np.ndarray, inv: np.ndarray, conf: np.ndarray, n_pay: int
) -> tuple[np.ndarray, np.ndarray]:
    """Pair indices sorted by (payment, confidence desc), with each payment's start offset."""
    order = np.lexsort((inv, -conf, pay))
    starts = np.searchsorted(pay[order], np.arange(n_pay + 1), "left")
    return order, starts


def resolve_full_conflicts(
    chosen: np.ndarray,
    pair_pay: np.ndarray,
    pair_inv: np.ndarray,
    pair_conf: np.ndarray,
    usable: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Payments whose chosen full-settlement pair targets an invoice that others target too are
    assigned by an optimal assignment over their conflicting component.

    ``chosen`` is the pair index per payment (-1 none); ``usable`` marks pairs eligible for a
    full settlement. Returns the new ``chosen`` and a mask of payments that lost their invoice.
    """
    chosen = chosen.copy()
    lost = np.zeros(len(chosen), dtype=bool)
    has = np.flatnonzero(chosen >= 0)
    inv_of = pair_inv[chosen[has]]
    uniq, counts = np.unique(inv_of, return_counts=True)
    contested = uniq[counts > 1]
    if len(contested) == 0:
        return chosen, lost
    involved = has[np.isin(inv_of, contested)]
    sel = usable & np.isin(pair_pay, involved)
    p_loc, p_idx = np.unique(pair_pay[sel], return_inverse=True)
    i_loc, i_idx = np.unique(pair_inv[sel], return_inverse=True)
    n_p, n_i = len(p_loc), len(i_loc)
    graph = coo_matrix(
        (np.ones(sel.sum()), (p_idx, n_p + i_idx)), shape=(n_p + n_i, n_p + n_i)
    )
    _, labels = connected_components(graph, directed=False)
    sel_pairs = np.flatnonzero(sel)
    comp_of_pair = labels[p_idx]
    for comp in np.unique(comp_of_pair):  # one assignment per conflicting component
        in_comp = comp_of_pair == comp
        pp, ii = p_idx[in_comp], i_idx[in_comp]
        rows, r_inv = np.unique(pp, return_inverse=True)
        cols, c_inv = np.unique(ii, return_inverse=True)
        gain = np.zeros((len(rows), len(cols)))
        gain[r_inv, c_inv] = pair_conf[sel_pairs[in_comp]]
        pair_at = np.full((len(rows), len(cols)), -1, dtype=np.int64)
        pair_at[r_inv, c_inv] = sel_pairs[in_comp]
        r, c = linear_sum_assignment(gain, maximize=True)
        pays = p_loc[rows]
        chosen[pays] = -1
        lost[pays] = True
        ok = pair_at[r, c] >= 0
        chosen[p_loc[rows[r[ok]]]] = pair_at[r[ok], c[ok]]
        lost[p_loc[rows[r[ok]]]] = False
    return chosen, lost


def adjustment_reason(relation: int) -> str | None:
    return {FEE: S.BANK_FEE, DISCOUNT: S.DISCOUNT}.get(relation)


def single_rule(ref: float, fuzzy: bool) -> str:
    if ref <= 0:
        return "amount_customer"
    return "fuzzy_reference" if fuzzy or ref < 0.97 else "exact_reference"
