"""The compiled scoring passes (:mod:`cashmatch.engine.scoring_kernel`) against the numpy steps
they replaced, kept here as their reference: the same float64 bits on random pairs. (The
relations are checked against :func:`cashmatch.engine.reference.amount_relation` in
``test_differential.py``.)"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from cashmatch.engine import scoring_kernel
from cashmatch.engine.candidates import CURRENCY, DISCOUNT, EXACT, FEE, OVER, PARTIAL, SETTLED
from cashmatch.engine.scoring import (
    AMOUNT_EVIDENCE,
    AMOUNT_ONLY,
    AMOUNT_ONLY_FEE_CUT,
    AMOUNT_ONLY_MAX_CHANCE,
    AMOUNT_ONLY_OTHER_ODDS,
    CUSTOMER_FACTOR_STRONG,
    CUSTOMER_FACTOR_WEAK,
    FEE_EVIDENCE_FEW_NEAR,
    OTHER,
    OTHER_AMOUNT_SHARE,
    PARTIAL_FACTOR,
    SAME,
    STRONG_REF,
    UNKNOWN,
    pair_confidence,
)

FULL = np.zeros(7, dtype=bool)
FULL[[EXACT, FEE, DISCOUNT]] = True


def _lookup(table: dict[int, float], keys: np.ndarray) -> np.ndarray:
    lut = np.zeros(max(table) + 1)
    for k, v in table.items():
        lut[k] = v
    return lut[keys]


def vouched(belief: np.ndarray, chance: np.ndarray) -> np.ndarray:
    odds_against = (1.0 - belief) * np.minimum(chance, 1.0)
    return np.where(belief > 0, belief / np.maximum(belief + odds_against, 1e-9), 0.0)


def numpy_confidence(
    ref: np.ndarray,
    relation: np.ndarray,
    customer_relation: np.ndarray,
    identity: np.ndarray,
    chance: np.ndarray,
) -> np.ndarray:
    """``scoring.pair_confidence`` as numpy steps (what it was before the compiled pass)."""
    a = _lookup(AMOUNT_EVIDENCE, relation)
    a = np.where((relation == FEE) & (chance < 1.0), FEE_EVIDENCE_FEW_NEAR, a)
    combined = 1.0 - (1.0 - ref) * (1.0 - a)
    partial = np.isin(relation, (PARTIAL, OVER))
    combined[partial] = ref[partial] * _lookup(
        {PARTIAL: PARTIAL_FACTOR[PARTIAL], OVER: PARTIAL_FACTOR[OVER], 0: 0}, relation[partial]
    )
    strong = ref >= STRONG_REF
    cidx = customer_relation + 1
    f_strong = np.array([CUSTOMER_FACTOR_STRONG[k] for k in (OTHER, UNKNOWN, SAME)])
    f_weak = np.array([CUSTOMER_FACTOR_WEAK[k] for k in (OTHER, UNKNOWN, SAME)])
    factor = np.where(strong, f_strong[cidx], f_weak[cidx])
    u = np.flatnonzero(FULL[relation] & (customer_relation == UNKNOWN))
    factor[u] = vouched(factor[u], chance[u])
    conf = combined * factor
    no_ref = np.flatnonzero(ref <= 0)
    rel_n, chance_n = relation[no_ref], chance[no_ref]
    amount_only = _lookup(AMOUNT_ONLY, rel_n) * vouched(identity[no_ref], chance_n)
    amount_only = np.where(
        chance_n <= AMOUNT_ONLY_MAX_CHANCE,
        amount_only,
        np.where(
            rel_n == FEE,
            amount_only * AMOUNT_ONLY_FEE_CUT,
            amount_only / (1.0 + AMOUNT_ONLY_OTHER_ODDS * chance_n),
        ),
    )
    conf[no_ref] = np.where(
        customer_relation[no_ref] == SAME, amount_only, OTHER_AMOUNT_SHARE * a[no_ref]
    )
    conf[np.isin(relation, (SETTLED, CURRENCY))] = 0.0
    return np.clip(conf, 0.0, 1.0)


def numpy_chance(
    pay: np.ndarray,
    inv: np.ndarray,
    rel: np.ndarray,
    ref: np.ndarray,
    block_size: np.ndarray,
    fee: np.ndarray,
    amount: np.ndarray,
    n: int,
) -> np.ndarray:
    """``DayMatch.amount_chance`` as numpy steps."""
    size = block_size[inv]
    window = np.where(rel == FEE, fee[pay] + 1, 1)
    chance = size * window / np.maximum(amount[pay], 1)
    named = (ref > 0) & FULL[rel]
    n_named = np.bincount(pay[named], minlength=n)
    return np.where(named & (n_named[pay] == 1), chance / np.maximum(size, 1), chance)


REFS = st.sampled_from([0.0, 0.0, 0.5, 0.7, 0.79, 0.85, 0.9, 0.97, 0.99, 1.0])
CHANCES = st.one_of(st.sampled_from([0.0, 0.01, 0.02, 0.021, 0.5, 1.0, 1.5]), st.floats(0.0, 50.0))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            REFS,
            st.integers(0, 6),
            st.sampled_from([OTHER, UNKNOWN, SAME]),
            st.sampled_from([0.0, 0.5, 0.85, 0.95, 1.0]),
            CHANCES,
        ),
        min_size=1,
        max_size=40,
    )
)
def test_confidences_are_the_numpy_steps_bit_for_bit(rows):
    ref, rel, cust, ident, chance = (np.array(c) for c in zip(*rows, strict=True))
    rel, cust = rel.astype(np.int8), cust.astype(np.int64)
    got = pair_confidence(
        ref=ref, relation=rel, customer_relation=cust, identity=ident, chance=chance
    )
    want = numpy_confidence(ref, rel, cust, ident, chance)
    assert got.tobytes() == want.tobytes()


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 5), st.integers(0, 7), st.integers(0, 6), REFS),
        min_size=1,
        max_size=40,
    ),
    st.lists(st.integers(1, 400), min_size=8, max_size=8),
    st.lists(st.integers(-3, 20_000), min_size=6, max_size=6),
)
def test_chances_are_the_numpy_steps_bit_for_bit(rows, sizes, amounts):
    pay, inv, rel, ref = (np.array(c) for c in zip(*rows, strict=True))
    pay, inv, rel = pay.astype(np.int64), inv.astype(np.int64), rel.astype(np.int8)
    block_size, amount = np.array(sizes, np.int64), np.array(amounts, np.int64)
    fee = np.array([0, 150, 300, 0, 1, 2500], np.int64)
    got = scoring_kernel.chances(pay, inv, rel, ref, block_size, fee, amount, 6)
    want = numpy_chance(pay, inv, rel, ref, block_size, fee, amount, 6)
    assert got.tobytes() == want.tobytes()


def numpy_customer_relations(pay: np.ndarray, inv: np.ndarray, pay_group: np.ndarray,
                             group: np.ndarray) -> np.ndarray:
    """The customer relations as numpy steps (what DayMatch.candidates did before the pass)."""
    pg, ig = pay_group[pay], group[inv]
    return np.where(pg < 0, np.int8(UNKNOWN), np.where(pg == ig, np.int8(SAME), np.int8(OTHER)))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 5), st.integers(0, 7)), min_size=0, max_size=80),
    st.lists(st.integers(-2, 3), min_size=6, max_size=6),
    st.lists(st.integers(-2, 3), min_size=8, max_size=8),
)
def test_customer_relations_are_the_numpy_steps(rows, pay_groups, groups):
    """Payers and invoices of no group (-1, -2), the same group, others; more pairs than the
    prefetch distance and none."""
    pay = np.array([p for p, _ in rows], np.int64)
    inv = np.array([i for _, i in rows], np.int64)
    pay_group, group = np.array(pay_groups, np.int64), np.array(groups, np.int32)
    got = scoring_kernel.customer_relations(pay, inv, pay_group, group, SAME, UNKNOWN, OTHER)
    want = numpy_customer_relations(pay, inv, pay_group, group)
    assert got.dtype == np.int8 and got.tobytes() == want.tobytes()
