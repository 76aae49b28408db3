"""Confidence of a (payment, invoice) pair from its evidence, for all pairs at once.

Reference evidence ``r`` (0..1, from the key kind or the fuzzy score) and amount evidence ``a``
(from the amount relation) combine as independent evidence, ``1 - (1 - r)(1 - a)``; the
customer relation then scales the result. A pair with no reference at all rests on the amount
and on how surely the payer was identified. The weights are data, here, in one place.
"""

from __future__ import annotations

import functools
import math

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
FEE_EVIDENCE_FEW_NEAR = 0.70  # 4 x 5k generated days: 57 such quoted pairs, all right
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
AMOUNT_ONLY_MAX_CHANCE = 0.02  # above this, an amount-only match may well be a coincidence
AMOUNT_ONLY_OTHER_ODDS = 0.25  # an identified payer's unreferenced credit: not one invoice
AMOUNT_ONLY_FEE_CUT = 0.9  # an amount-only fee-window match that may well be a coincidence
OTHER_AMOUNT_SHARE = 0.3  # an unreferenced pair not of the payer's customer: this x evidence
# an amount-only single invoice that a combination of the customer's other open items also
# makes: on generated days (6 x 5k) all 184 such matches were the single invoice
COMBINATION_RIVAL_FACTOR = 0.97


def _table(table: dict[int, float]) -> np.ndarray:
    lut = np.zeros(max(table) + 1)
    for k, v in table.items():
        lut[k] = v
    return lut


def _by_customer_relation(factors: dict[int, float]) -> np.ndarray:
    return np.array([factors[OTHER], factors[UNKNOWN], factors[SAME]])  # (relation + 1)


_AMOUNT_EVIDENCE = _table(AMOUNT_EVIDENCE)
_AMOUNT_ONLY = _table(AMOUNT_ONLY)
_PARTIAL_FACTOR = _table({**PARTIAL_FACTOR, 0: 0.0})
_FACTOR_STRONG = _by_customer_relation(CUSTOMER_FACTOR_STRONG)
_FACTOR_WEAK = _by_customer_relation(CUSTOMER_FACTOR_WEAK)


def pair_confidence(
    *,
    ref: np.ndarray,
    relation: np.ndarray,
    customer_relation: np.ndarray,
    identity: np.ndarray,
    chance: np.ndarray,
) -> np.ndarray:
    """Confidence per pair that the payment settles the invoice (fully, or partly for
    PARTIAL/OVER relations with a reference); one compiled pass over the pairs
    (:func:`cashmatch.engine.scoring_kernel.confidences`).

    Reference and amount evidence combine as ``1 - (1 - r)(1 - a)`` (a short payment within
    the fee ceiling says more when less than one of the customer's open items is expected in
    the window by chance); a partial or over payment is worth a share of its reference; the
    customer relation scales the result (for a payer nobody identified, the amount settling
    the named invoice vouches for its customer: a payer who is someone else finds one by
    chance only). A pair without reference rests on the amount and on how surely the payer was
    identified: an exact (or exactly discounted) amount weighs the odds that it is a
    coincidence, ``chance``, against the odds that an identified payer's unreferenced credit is
    something else; a fee window is too wide for that reckoning (short pays, instalments fall
    in it): a flat cut, ``AMOUNT_ONLY_FEE_CUT``. Another customer's invoice without reference:
    ``OTHER_AMOUNT_SHARE`` of the amount evidence.

    ``chance`` is, per pair, how many of the customer's open invoices would fall in the
    amount window by chance (block size × window width / amount): an amount-only match that
    could easily be a coincidence (a wide bank-fee window on a large customer) is worth less.
    """
    from cashmatch.engine import scoring_kernel

    return scoring_kernel.confidences(
        np.asarray(ref, np.float64), np.asarray(relation, np.int8),
        np.asarray(customer_relation, np.int8), np.asarray(identity, np.float64),
        np.asarray(chance, np.float64), _AMOUNT_EVIDENCE, FEE_EVIDENCE_FEW_NEAR,
        _PARTIAL_FACTOR, _AMOUNT_ONLY, _FACTOR_STRONG, _FACTOR_WEAK, STRONG_REF, SAME, UNKNOWN,
        AMOUNT_ONLY_MAX_CHANCE, AMOUNT_ONLY_OTHER_ODDS, AMOUNT_ONLY_FEE_CUT,
        OTHER_AMOUNT_SHARE)


# An exhaustive fit of the amount is wrong when the payment is something else (a larger set, a
# part or over payment) and a set fits it by chance: the odds against the fit are
# COINCIDENCE_ODDS x ``chance`` (the expected number of chance fits, see `coincidence`). A fit
# only within the fee tolerance also needs the payer to have deducted a fee from a set
# payment, which FEE_DEDUCTED of them do. Fitted on generated days (13 x 5k, seeds 1-3, 10-19,
# 2,550 sets: exact fits 98.8% right at 0.92-0.95 where the steps this replaces said 0.85;
# none of 215 sets that fit only within the fee tolerance was right).
COINCIDENCE_MAX = 0.985
COINCIDENCE_ODDS = 0.3
FEE_DEDUCTED = 0.01
LARGER_SETS_UNTRIED_MAX = 0.94  # a fit unique among sets no larger, larger sets untried


# (exact integers, a few block sizes and set sizes a day: each counted once, for the tens of
# thousands of sets of a large day)
comb_count = functools.lru_cache(maxsize=4096)(math.comb)


@functools.lru_cache(maxsize=4096)
def subset_count(block_size: int, max_size: int) -> int:
    """How many subsets of sizes 1..max_size a block has."""
    return sum(comb_count(block_size, k) for k in range(1, min(max_size, block_size) + 1))


def coincidence(*, block_size: int, max_size: int, target: int, tolerance: int) -> float:
    """Expected number of subsets of a block that hit a random target by chance: the number of
    subsets (sizes 1..max_size) times the width of the window, over the amount scale. Small
    means a unique fit is unlikely to be a coincidence."""
    return subset_count(block_size, max_size) * (tolerance + 1) / max(target, 1)


def fewest_share(*, block_size: int, size: int, rival_sizes: list[int]) -> float:
    """How likely the fit with the fewest invoices is the right one when larger sets are known
    to fit as well: if it is right, each rival fits by chance (about ``comb(block_size, its
    size)`` sets could); if a rival is right, it does (``comb(block_size, size)``). A smaller
    set is far likelier only when it is much smaller than the block is large."""
    mine = comb_count(block_size, size)
    return 1.0 / (1.0 + sum(mine / max(comb_count(block_size, r), 1) for r in rival_sizes))


def subset_confidence(*, quoted_share: float, exact: bool, identity: float,
                      exhaustive: bool, chance: float) -> float:
    """A one-payment-many-invoices proposal: by how much of it the reference quotes, whether
    the amount fits exactly, whether the search proved the fit the only one and how likely
    such a fit is by chance, and how surely the payer was identified."""
    base = 0.90 + 0.09 * quoted_share  # all invoices quoted: 0.99; none: 0.90
    if not exhaustive and quoted_share == 0.0:
        base = 0.85  # amount alone, and other subsets may fit too: a person decides
    if exhaustive and quoted_share < 1.0:
        odds = COINCIDENCE_ODDS * chance / (1.0 if exact else FEE_DEDUCTED)
        base = COINCIDENCE_MAX / (1.0 + odds)
    elif not exact:
        base -= 0.03
    return float(min(base * (identity if quoted_share < 1.0 else 1.0), 0.995))
