"""The per-pair arithmetic of the scoring, compiled (numba): each pair's amount relation
(:func:`relations`), its customer relation (:func:`customer_relations`), the chance of its amount by
coincidence (:func:`chances`) and its confidence (:func:`confidences`), one pass over the pairs each
where the numpy steps made a dozen temporaries (at a million payments, 3.3M pairs: ~1.7 s of CPU; in
a 100-payment call, fixed costs of ~60 small numpy calls). The same operations in the same order, so
the same float64 results; the numpy steps they replaced are their reference
(``tests/engine/test_scoring_kernel.py``), and :func:`cashmatch.engine.reference.amount_relation`
the relations'.

The weights stay in :mod:`cashmatch.engine.scoring`, passed in as tables by relation code.
"""

from __future__ import annotations

import numpy as np

from cashmatch.engine.candidates import (
    CURRENCY,
    DISCOUNT,
    EXACT,
    FEE,
    OVER,
    PARTIAL,
    SETTLED,
)
from cashmatch.engine.kernel_cache import njit
from cashmatch.engine.prefetch import PREFETCH_AHEAD, prefetch


@njit(cache=True, nogil=True)
def relations(
    pay: np.ndarray,
    inv: np.ndarray,
    pay_amount: np.ndarray,
    pay_currency: np.ndarray,
    pay_date: np.ndarray,
    fee_ceiling: np.ndarray,
    open_amount: np.ndarray,
    currency: np.ndarray,
    issue: np.ndarray,
    discount_bp: np.ndarray,
    discount_days: np.ndarray,
    grace_days: int,
    allow_discounts: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """(relation int8, adjustment int64) of each pair (``candidates.amount_relation``)."""
    n = len(pay)
    rel = np.empty(n, np.int8)
    adj = np.zeros(n, np.int64)
    for j in range(n):
        if j + PREFETCH_AHEAD < n:  # (the invoice's rows, read at random: requested ahead)
            ahead = inv[j + PREFETCH_AHEAD]
            prefetch(open_amount, ahead)
            prefetch(currency, ahead)
            prefetch(issue, ahead)
            prefetch(discount_bp, ahead)
            prefetch(discount_days, ahead)
        p, i = pay[j], inv[j]
        open_ = open_amount[i]
        diff = open_ - pay_amount[p]
        r = PARTIAL if diff > 0 else OVER
        if diff > 0 and diff <= fee_ceiling[p]:
            r = FEE
            adj[j] = diff
        if allow_discounts and discount_bp[i] > 0:
            disc_amt = (open_ * discount_bp[i] + 5000) // 10000
            if (
                pay_date[p] <= issue[i] + discount_days[i] + grace_days
                and diff > 0
                and abs(diff - disc_amt) <= 1
            ):
                r = DISCOUNT
                adj[j] = diff
        if diff == 0:
            r = EXACT
        if open_ <= 0:
            r = SETTLED
        if pay_currency[p] != currency[i]:
            r = CURRENCY
            adj[j] = 0
        rel[j] = r
    return rel, adj


@njit(cache=True, nogil=True)
def customer_relations(
    pay: np.ndarray,
    inv: np.ndarray,
    pay_group: np.ndarray,
    group: np.ndarray,
    same: int,
    unknown: int,
    other: int,
) -> np.ndarray:
    """Per pair (int8): ``unknown`` where the payer's group is (< 0), ``same`` where it is the
    invoice's, else ``other`` (the customer relation before the name evidence)."""
    n = len(pay)
    out = np.empty(n, np.int8)
    for j in range(n):
        if j + PREFETCH_AHEAD < n:
            prefetch(group, inv[j + PREFETCH_AHEAD])
        g = pay_group[pay[j]]
        out[j] = unknown if g < 0 else (same if g == group[inv[j]] else other)
    return out


@njit(cache=True, nogil=True)
def _full(r: int) -> bool:
    return r in (EXACT, FEE, DISCOUNT)


@njit(cache=True, nogil=True)
def chances(
    pay: np.ndarray,
    inv: np.ndarray,
    rel: np.ndarray,
    ref: np.ndarray,
    block_size: np.ndarray,
    fee_ceiling: np.ndarray,
    pay_amount: np.ndarray,
    n_pay: int,
) -> np.ndarray:
    """Per pair: block size x amount window / amount; for the one pair of its payment with a
    reference that the amount settles in full, over its block size
    (``DayMatch.amount_chance``)."""
    n = len(pay)
    named = np.zeros(n_pay, np.int64)
    for j in range(n):
        if ref[j] > 0 and _full(rel[j]):
            named[pay[j]] += 1
    out = np.empty(n, np.float64)
    for j in range(n):
        if j + PREFETCH_AHEAD < n:
            prefetch(block_size, inv[j + PREFETCH_AHEAD])
        p = pay[j]
        size = block_size[inv[j]]
        window = fee_ceiling[p] + 1 if rel[j] == FEE else 1
        chance = size * window / max(pay_amount[p], 1)
        if ref[j] > 0 and _full(rel[j]) and named[p] == 1:
            chance = chance / max(size, 1)
        out[j] = chance
    return out


@njit(cache=True, nogil=True)
def _vouched(belief: float, chance: float) -> float:
    odds_against = (1.0 - belief) * min(chance, 1.0)
    return belief / max(belief + odds_against, 1e-9) if belief > 0 else 0.0


@njit(cache=True, nogil=True)
def confidences(
    ref: np.ndarray,
    rel: np.ndarray,
    customer_relation: np.ndarray,
    identity: np.ndarray,
    chance: np.ndarray,
    amount_evidence: np.ndarray,
    fee_few_near: float,
    partial_factor: np.ndarray,
    amount_only: np.ndarray,
    factor_strong: np.ndarray,
    factor_weak: np.ndarray,
    strong_ref: float,
    same: int,
    unknown: int,
    only_max_chance: float,
    other_odds: float,
    fee_cut: float,
    other_share: float,
) -> np.ndarray:
    """``scoring.pair_confidence`` of each pair; the tables by relation code (the customer
    factors by customer relation + 1)."""
    n = len(ref)
    out = np.empty(n, np.float64)
    for j in range(n):
        r, c, rf, ch = rel[j], customer_relation[j], ref[j], chance[j]
        a = amount_evidence[r]
        if r == FEE and ch < 1.0:
            a = fee_few_near
        combined = 1.0 - (1.0 - rf) * (1.0 - a)
        if r in (PARTIAL, OVER):
            combined = rf * partial_factor[r]
        factor = factor_strong[c + 1] if rf >= strong_ref else factor_weak[c + 1]
        if _full(r) and c == unknown:
            factor = _vouched(factor, ch)
        conf = combined * factor
        if rf <= 0:
            only = amount_only[r] * _vouched(identity[j], ch)
            if ch > only_max_chance:
                only = only * fee_cut if r == FEE else only / (1.0 + other_odds * ch)
            conf = only if c == same else other_share * a
        if r in (SETTLED, CURRENCY):
            conf = 0.0
        out[j] = min(max(conf, 0.0), 1.0)
    return out
