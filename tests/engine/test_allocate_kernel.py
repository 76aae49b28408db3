"""The compiled per-payment evidence (:mod:`cashmatch.engine.allocate_kernel`) against the
numpy steps it replaced, kept here as its reference: the same pairs chosen and the same
float64 values on random pairs, ties of confidence and invoice included."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from cashmatch.engine.allocate import best_per_payment
from cashmatch.engine.allocate_kernel import (
    components,
    contested_and_fitting,
    first_two,
    max_assignment,
    payment_evidence,
    walk_capacity,
)
from cashmatch.engine.candidates import CURRENCY, DISCOUNT, EXACT, FEE
from cashmatch.engine.scoring import OTHER, SAME

QUOTED = 0.80
FULL = np.zeros(7, dtype=bool)
FULL[[EXACT, FEE, DISCOUNT]] = True


def reference(pay, inv, ref, rel, cust_rel, conf, n):
    """The numpy steps of ``DayMatch.propose`` before the kernel."""
    full = np.isin(rel, (EXACT, FEE, DISCOUNT))
    f_idx = np.flatnonzero(full)
    best, second, _, _ = best_per_payment(pay[f_idx], inv[f_idx], conf[f_idx] + (ref[f_idx] > 0),
                                          n)
    best = np.where(best >= 0, f_idx[np.maximum(best, 0)], -1) if len(f_idx) else best
    second = np.where(second >= 0, f_idx[np.maximum(second, 0)], -1) if len(f_idx) else second
    quoted = (ref >= QUOTED) & (cust_rel != OTHER)
    n_quoted = np.bincount(pay[quoted], minlength=n)
    quoted_ref, named_ref, contra_ref, max_ref = (np.zeros(n) for _ in range(4))
    np.maximum.at(quoted_ref, pay[quoted], ref[quoted])
    np.maximum.at(named_ref, pay, np.where(cust_rel != OTHER, ref, 0.0))
    contra = quoted & (rel != CURRENCY)
    np.maximum.at(contra_ref, pay[contra], ref[contra])
    own_exact = np.zeros(n, dtype=bool)
    np.logical_or.at(own_exact, pay, (cust_rel == SAME) & (rel == EXACT))
    np.maximum.at(max_ref, pay, ref)
    return best, second, n_quoted, quoted_ref, contra_ref, named_ref, own_exact, max_ref


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 12), st.integers(0, 60), st.integers(0, 2**32 - 1))
def test_payment_evidence_equals_the_numpy_steps(n: int, n_pairs: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    # distinct (pay, inv) pairs in a random order, few confidence levels (ties)
    key = rng.choice(n * 8, size=min(n_pairs, n * 8), replace=False)
    pay, inv = key // 8, key % 8
    m = len(pay)
    ref = rng.choice([0.0, 0.0, 0.5, 0.7, 0.8, 0.85, 0.97, 1.0], m)
    rel = rng.integers(0, 7, m).astype(np.int8)
    cust_rel = rng.choice([OTHER, 0, SAME], m).astype(np.int64)
    conf = rng.choice([0.3, 0.5, 0.9, 0.93, 0.99], m)
    got = payment_evidence(pay, inv, ref, rel, cust_rel, conf, n, FULL, QUOTED, OTHER, SAME,
                           EXACT, CURRENCY)
    want = reference(pay, inv, ref, rel, cust_rel, conf, n)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)
        assert g.dtype.kind == w.dtype.kind


def test_no_pairs() -> None:
    z = np.zeros(0, np.int64)
    got = payment_evidence(z, z, np.zeros(0), z.astype(np.int8), z, np.zeros(0), 3, FULL,
                           QUOTED, OTHER, SAME, EXACT, CURRENCY)
    assert got[0].tolist() == [-1, -1, -1] and not got[6].any() and not got[7].any()


def first_two_numpy(owner: np.ndarray, mask: np.ndarray, n: int) -> tuple[np.ndarray, ...]:
    """The numpy steps ``DayMatch.partial_outcomes`` took per mask before the kernel."""
    pos = np.flatnonzero(mask)
    o = owner[pos]
    new = np.ones(len(pos), bool)
    new[1:] = o[1:] != o[:-1]
    first, second = np.full(n, -1), np.full(n, -1)
    first[o[new]] = pos[new]
    two = np.flatnonzero(~new)
    two = two[new[two - 1]]
    second[o[two]] = pos[two]
    return first, second


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 4), max_size=30), st.integers(0, 2**32 - 1))
def test_first_two_equals_the_numpy_steps(runs: list[int], seed: int) -> None:
    rng = np.random.default_rng(seed)
    owner = np.repeat(np.arange(len(runs)), runs)
    masks = rng.random((3, len(owner))) < 0.5
    first, second = first_two(owner, masks, len(runs))
    for m in range(3):
        want = first_two_numpy(owner, masks[m], len(runs))
        np.testing.assert_array_equal(first[m], want[0])
        np.testing.assert_array_equal(second[m], want[1])


def settle_numpy(start, inv, need, eligible, amount, rank):
    """The numpy steps ``DayMatch.settle`` took before the kernels: which proposals are
    contested and fit, then the contested walked in ``rank`` order against what is left."""
    n = len(start) - 1
    owner = np.repeat(np.arange(n), np.diff(start))
    touches = np.bincount(inv[eligible[owner]], minlength=len(amount))
    walk = eligible & (np.bincount(owner, weights=touches[inv] >= 2, minlength=n) > 0)
    fits = np.bincount(owner, weights=amount[inv] < need, minlength=n) == 0
    ok = eligible & fits
    capacity = amount.copy()
    for j in rank[walk[rank]].tolist():
        invs, want = inv[start[j] : start[j + 1]], need[start[j] : start[j + 1]]
        ok[j] = not (capacity[invs] < want).any()
        if ok[j]:
            np.subtract.at(capacity, invs, want)
    return walk, fits, ok


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(1, 4), max_size=25), st.integers(0, 2**32 - 1))
def test_settle_kernels_equal_the_numpy_steps(lens: list[int], seed: int) -> None:
    rng = np.random.default_rng(seed)
    start = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
    amount = rng.integers(0, 100, 8)
    inv = rng.integers(0, 8, int(start[-1]))  # an invoice twice in one proposal too
    need = rng.integers(0, 80, int(start[-1]))
    eligible = rng.random(len(lens)) < 0.7
    rank = rng.permutation(len(lens))
    walk, fits = contested_and_fitting(start, inv, need, eligible, amount)
    ok = eligible & fits
    walk_capacity(start, inv, need, amount, rank[walk[rank]], ok)
    want = settle_numpy(start, inv, need, eligible, amount, rank)
    for g, w in zip((walk, fits, ok), want, strict=True):
        np.testing.assert_array_equal(g, w)


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 7), st.integers(1, 7), st.sampled_from(["ties", "levels", "any", "sparse"]),
       st.integers(0, 2**32 - 1))
def test_max_assignment_equals_scipys(nr: int, nc: int, kind: str, seed: int) -> None:
    """The compiled assignment picks what ``scipy.optimize.linear_sum_assignment(gain,
    maximize=True)`` picks, ties included (equal gains everywhere, a few levels, zeros where no
    pair is, as ``resolve_full_conflicts`` fills them), on wide, tall and square matrices."""
    from scipy.optimize import linear_sum_assignment

    rng = np.random.default_rng(seed)
    if kind == "ties":
        gain = np.full((nr, nc), 0.9)
    elif kind == "levels":
        gain = rng.choice([0.0, 0.8, 0.9, 0.95], (nr, nc))
    elif kind == "any":
        gain = rng.random((nr, nc))
    else:
        gain = np.where(rng.random((nr, nc)) < 0.4, rng.choice([0.85, 0.9, 0.97], (nr, nc)), 0.0)
    r, c = max_assignment(gain)
    want_r, want_c = linear_sum_assignment(gain, maximize=True)
    assert r.tolist() == want_r.tolist() and c.tolist() == want_c.tolist()


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 30), st.integers(1, 30), st.integers(0, 60), st.integers(0, 2**32 - 1))
def test_components_equal_scipys(n_left: int, n_right: int, n_edges: int, seed: int) -> None:
    """Two left nodes share a compiled component label exactly when scipy's
    ``connected_components`` of the same bipartite graph puts them together."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    rng = np.random.default_rng(seed)
    left = rng.integers(0, n_left, n_edges)
    right = rng.integers(0, n_right, n_edges)
    got = components(left, right, n_left, n_right)
    n = n_left + n_right
    graph = coo_matrix((np.ones(n_edges), (left, n_left + right)), shape=(n, n))
    want = connected_components(graph, directed=False)[1][:n_left]
    assert ((got[:, None] == got[None, :]) == (want[:, None] == want[None, :])).all()
