"""Confidence of a (payment, invoice) pair from its evidence, for all pairs at once.

Reference evidence ``r`` (0..1, from the key kind or the fuzzy score) and amount evidence ``a``
(from the amount relation) combine as independent evidence, ``1 - (1 - r)(1 - a)``; the
customer relation then scales the result. A pair with no reference at all rests on the amount
and on how surely the payer was identified. The weights are data, here, in one place.
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

# amount evidence by relation: how much an agreeing amount adds to a reference hit
AMOUNT_EVIDENCE = {EXACT: 0.80, DISCOUNT: 0.70, FEE: 0.60, PARTIAL: 0.0, OVER: 0.0,
                   SETTLED: 0.0, CURRENCY: 0.0}
# a pair resting on the amount alone (no reference), before the identity factor
AMOUNT_ONLY = {EXACT: 0.965, DISCOUNT: 0.95, FEE: 0.92, PARTIAL: 0.0, OVER: 0.0,
               SETTLED: 0.0, CURRENCY: 0.0}
# a partial or over payment quoting the invoice is worth this share of the reference
PARTIAL_FACTOR = {PARTIAL: 0.95, OVER: 0.93}
# customer relation: the invoice's group is the payer's / payer unknown / another group
SAME, UNKNOWN, OTHER = 1, 0, -1
CUSTOMER_FACTOR_STRONG = {SAME: 1.0, UNKNOWN: 0.96, OTHER: 0.90}  # reference ≥ STRONG_REF
CUSTOMER_FACTOR_WEAK = {SAME: 1.0, UNKNOWN: 0.80, OTHER: 0.50}
STRONG_REF = 0.97


def _lookup(table: dict[int, float], keys: np.ndarray) -> np.ndarray:
    lut = np.zeros(max(table) + 1)
    for k, v in table.items():
        lut[k] = v
    return lut[keys]


def pair_confidence(
    *,
    ref: np.ndarray,
    relation: np.ndarray,
    customer_relation: np.ndarray,
    identity: np.ndarray,
) -> np.ndarray:
    """Confidence per pair that the payment settles the invoice (fully, or partly for
    PARTIAL/OVER relations with a reference)."""
    a = _lookup(AMOUNT_EVIDENCE, relation)
    combined = 1.0 - (1.0 - ref) * (1.0 - a)
    partial = np.isin(relation, (PARTIAL, OVER))
    combined[partial] = ref[partial] * _lookup(
        {PARTIAL: PARTIAL_FACTOR[PARTIAL], OVER: PARTIAL_FACTOR[OVER], 0: 0}, relation[partial]
    )
    strong = ref >= STRONG_REF
    cidx = customer_relation + 1  # -1/0/1 -> 0/1/2
    f_strong = np.array([CUSTOMER_FACTOR_STRONG[OTHER], CUSTOMER_FACTOR_STRONG[UNKNOWN],
                         CUSTOMER_FACTOR_STRONG[SAME]])
    f_weak = np.array([CUSTOMER_FACTOR_WEAK[OTHER], CUSTOMER_FACTOR_WEAK[UNKNOWN],
                       CUSTOMER_FACTOR_WEAK[SAME]])
    conf = combined * np.where(strong, f_strong[cidx], f_weak[cidx])
    no_ref = ref <= 0
    amount_only = _lookup(AMOUNT_ONLY, relation) * identity
    conf[no_ref] = np.where(customer_relation[no_ref] == SAME, amount_only[no_ref], 0.3 * a[no_ref])
    conf[np.isin(relation, (SETTLED, CURRENCY))] = 0.0
    return np.clip(conf, 0.0, 1.0)


def subset_confidence(*, quoted_share: float, exact: bool, identity: float, size: int) -> float:
    """A one-payment-many-invoices proposal: by how much of it the reference quotes, whether
    the amount fits exactly, and how surely the payer was identified."""
    base = 0.90 + 0.09 * quoted_share  # all invoices quoted: 0.99; none: 0.90
    if quoted_share < 1.0 and size > 3:
        base -= 0.02
    if not exact:
        base -= 0.03
    return float(min(base * (identity if quoted_share < 1.0 else 1.0), 0.995))
