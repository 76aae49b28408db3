"""The small call's compiled passes (:mod:`cashmatch.engine.allocate_kernel`'s
``gather_quoted`` and ``join_spans`` of ``DayMatch.prefill_subsets``,
``remittance_line_choices`` of ``DayMatch.remittance_lines``, ``settle_counted`` and
``settle_walked`` of ``DayMatch.settle``, ``sole_group`` of the groups a payment's quoted
invoices name) against the numpy steps they replaced, kept here as
their reference: the same values and dtypes, for none, one, repeats, empty runs, ties of
scores and ranks."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from cashmatch.engine.allocate import best_per_payment
from cashmatch.engine.allocate_kernel import (
    contested_and_fitting,
    gather_quoted,
    join_spans,
    remittance_line_choices,
    settle_counted,
    settle_walked,
    sole_group,
    walk_capacity,
)
from cashmatch.engine.candidates import Pairs
from cashmatch.engine.normalize import spans
from cashmatch.engine.pipeline import REMITTANCE_AMOUNT_REF


def gather_quoted_numpy(ps, quoted_starts, quoted_rows, amount):  # noqa: ANN001, ANN201
    """The numpy steps of ``prefill_subsets`` before the kernel."""
    n_fixed = quoted_starts[ps + 1] - quoted_starts[ps]
    fixed = quoted_rows[spans(quoted_starts[ps], n_fixed)]
    fixed_at = np.zeros(len(ps) + 1, np.int64)
    np.cumsum(n_fixed, out=fixed_at[1:])
    fixed_sum = np.zeros(len(fixed) + 1, np.int64)
    np.cumsum(amount[fixed], out=fixed_sum[1:])
    return fixed, fixed_at, fixed_sum[fixed_at[1:]] - fixed_sum[fixed_at[:-1]]


def join_spans_numpy(a, a_lo, a_n, b, b_lo, b_n):  # noqa: ANN001, ANN201
    """The numpy steps of ``prefill_subsets`` before the kernel (an owner per row, a stable
    sort by it)."""
    at = np.arange(len(a_lo))
    owner = np.concatenate([np.repeat(at, a_n), np.repeat(at, b_n)])
    rows = np.concatenate([a[spans(a_lo, a_n)], b[spans(b_lo, b_n)]])
    return rows[np.argsort(owner, kind="stable")]


def equal(got: tuple[np.ndarray, ...], want: tuple[np.ndarray, ...]) -> None:
    for g, w in zip(got, want, strict=True):
        assert g.dtype == w.dtype
        np.testing.assert_array_equal(g, w)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 4), max_size=12), st.integers(0, 12), st.booleans(),
       st.integers(0, 2**32 - 1))
def test_gather_quoted_equals_the_numpy_steps(counts: list[int], n_ps: int, int32_rows: bool,
                                              seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_pay = len(counts)
    quoted_starts = np.zeros(n_pay + 1, np.int64)
    np.cumsum(counts, out=quoted_starts[1:])
    amount = rng.integers(-5_000, 10**12, 50).astype(np.int64)
    quoted_rows = rng.integers(0, 50, int(quoted_starts[-1])).astype(
        np.int32 if int32_rows else np.int64)  # (the day's pairs' invoices are int32)
    # any payments, repeats and those without quoted rows included, in any order
    ps = rng.integers(0, n_pay, n_ps if n_pay else 0).astype(np.int64)
    args = (ps, quoted_starts, quoted_rows, amount)
    equal(gather_quoted(*args), gather_quoted_numpy(*args))


def test_gather_quoted_of_none_and_one() -> None:
    quoted_starts = np.array([0, 2, 2, 3], np.int64)
    quoted_rows = np.array([4, 1, 0], np.int32)
    amount = np.array([7, 100, 0, 0, 2_000], np.int64)
    for ps in (np.zeros(0, np.int64), np.array([0]), np.array([1]), np.array([2, 0])):
        args = (ps, quoted_starts, quoted_rows, amount)
        equal(gather_quoted(*args), gather_quoted_numpy(*args))
    rows, at, total = gather_quoted(np.array([2, 0]), quoted_starts, quoted_rows, amount)
    assert rows.tolist() == [0, 4, 1] and at.tolist() == [0, 1, 3]
    assert total.tolist() == [7, 2_100]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 4)), max_size=10),
       st.booleans(), st.integers(0, 2**32 - 1))
def test_join_spans_equals_the_numpy_steps(sizes: list[tuple[int, int]], int32_a: bool,
                                           seed: int) -> None:
    rng = np.random.default_rng(seed)
    a_n = np.array([s[0] for s in sizes], np.int64)
    b_n = np.array([s[1] for s in sizes], np.int64)
    a = rng.integers(0, 10**6, 20).astype(np.int32 if int32_a else np.int64)
    b = rng.integers(0, 10**6, 20).astype(np.int64)
    a_lo = rng.integers(0, 20 - a_n + 1) if len(sizes) else np.zeros(0, np.int64)
    b_lo = rng.integers(0, 20 - b_n + 1) if len(sizes) else np.zeros(0, np.int64)
    args = (a, a_lo.astype(np.int64), a_n, b, b_lo.astype(np.int64), b_n)
    equal((join_spans(*args),), (join_spans_numpy(*args),))


def test_join_spans_of_none_and_one() -> None:
    a, b = np.array([5, 6, 7], np.int32), np.array([1, 2, 3, 4], np.int64)
    none = np.zeros(0, np.int64)
    assert join_spans(a, none, none, b, none, none).tolist() == []
    one = (a, np.array([1]), np.array([2]), b, np.array([0]), np.array([1]))
    assert join_spans(*one).tolist() == [6, 7, 1] == join_spans_numpy(*one).tolist()
    # a set of added invoices only, then one of quoted only
    two = (a, np.array([0, 2]), np.array([0, 1]), b, np.array([3, 0]), np.array([1, 0]))
    assert join_spans(*two).tolist() == [4, 7] == join_spans_numpy(*two).tolist()


def line_choices_numpy(lp, hits, fz, anyones, line_group, line_total, line_currency, book_group,  # noqa: ANN001, ANN201, PLR0913
                       book_amount, book_currency):
    """The numpy steps of ``remittance_lines`` before the kernel."""
    n_inv = len(book_amount)
    n_lines = len(line_group)
    key = lp.pay * n_inv + lp.inv

    def named_by(part):  # noqa: ANN001, ANN202
        k = part.pay * n_inv + part.inv
        at = np.minimum(np.searchsorted(key, k), len(key) - 1)
        out = np.zeros(len(key), bool)
        out[at[key[at] == k]] = True
        return out

    unseen = named_by(anyones) & ~named_by(hits) & ~named_by(fz)
    same = np.where(line_group[lp.pay] >= 0, book_group[lp.inv] == line_group[lp.pay], ~unseen)
    settles = line_total[lp.pay] == book_amount[lp.inv]
    in_currency = book_currency[lp.inv] == line_currency[lp.pay]
    score = lp.ref * np.where(same, 1.0, 0.5) * np.where(settles, 1.0, 0.9) * in_currency
    best, second, best_s, second_s = best_per_payment(lp.pay, lp.inv, score, n_lines)
    line_inv = (np.where((best >= 0) & (best_s > 0), lp.inv[np.maximum(best, 0)], -1)
                if len(lp.pay) else np.full(n_lines, -1, lp.inv.dtype))  # (numpy's raised)
    ambiguous = (best >= 0) & (second_s >= best_s - 0.02) & (second >= 0)
    line_inv[ambiguous] = -1
    b = np.maximum(best, 0)
    settles_best = (best >= 0) & settles[b] if len(lp.pay) else np.zeros(n_lines, bool)
    rival = np.zeros(n_lines, dtype=bool)
    if len(lp.pay):
        np.logical_or.at(rival, lp.pay, settles & same & (lp.ref >= 0.7))
    doubtful = (~settles_best & rival) | ((best >= 0) & ~same[b] if len(lp.pay)
                                          else np.zeros(n_lines, bool))
    order = np.argsort(lp.pay, kind="stable")
    starts = np.searchsorted(lp.pay[order], np.arange(n_lines + 1))
    return score, line_inv, best_s, doubtful, starts


REFS = (0.0, 0.5, 0.69, 0.7, 0.72, 0.9, 0.97, 1.0, REMITTANCE_AMOUNT_REF)


@settings(max_examples=400, deadline=None)
@given(st.integers(0, 8), st.integers(1, 12), st.integers(0, 4), st.booleans(),
       st.integers(0, 2**32 - 1))
def test_remittance_line_choices_equal_the_numpy_steps(n_lines: int, n_inv: int, density: int,
                                                       int32: bool, seed: int) -> None:
    rng = np.random.default_rng(seed)
    book_group = rng.integers(-1, 3, n_inv)
    book_amount = rng.choice(np.array([0, 100, 250, 100_000]), n_inv).astype(np.int64)
    book_currency = rng.integers(0, 2, n_inv)
    line_group = rng.integers(-1, 3, n_lines)
    line_total = rng.choice(np.array([100, 250, 999]), n_lines).astype(np.int64)
    line_currency = rng.integers(0, 2, n_lines)
    dt = np.int32 if int32 else np.int64

    def part(ref_any: bool) -> Pairs:
        m = int(rng.integers(0, density * n_lines + 1)) if n_lines else 0
        pay, inv = rng.integers(0, max(n_lines, 1), m).astype(dt), rng.integers(0, n_inv, m)
        ref = (rng.choice(np.array(REFS), m) if ref_any
               else np.full(m, REMITTANCE_AMOUNT_REF))
        return Pairs(pay, inv.astype(dt), ref, np.zeros(m, bool))

    hits, fz, by_amount, anyones = part(True), part(True), part(False), part(False)
    lp = Pairs.concat([hits, fz, by_amount, anyones])
    assert (np.diff(lp.pay) >= 0).all()  # (the kernel's premise: rows in line order)
    got = remittance_line_choices(lp.pay, lp.inv, lp.ref, hits.pay, hits.inv, fz.pay, fz.inv,
                                  anyones.pay, anyones.inv, line_group, line_total,
                                  line_currency, book_group, book_amount, book_currency)
    want = line_choices_numpy(lp, hits, fz, anyones, line_group, line_total, line_currency,
                              book_group, book_amount, book_currency)
    equal(got, want)


def test_remittance_line_choices_of_one_line() -> None:
    """One line, two candidates 0.01 apart: ambiguous (no invoice); the best alone: its
    invoice, not doubtful (its amount settles it, the payer's own)."""
    book = (np.array([0, 0]), np.array([100, 100], np.int64), np.array([0, 0]))
    line = (np.array([0]), np.array([100], np.int64), np.array([0]))
    none = np.zeros(0, np.int64)
    lp = Pairs(np.array([0, 0]), np.array([0, 1]), np.array([0.97, 0.96]), np.zeros(2, bool))
    for p in (lp, Pairs(lp.pay[1:], lp.inv[1:], lp.ref[1:], lp.fuzzy[1:])):
        args = (p.pay, p.inv, p.ref, p.pay, p.inv, none, none, none, none, *line, *book)
        got = remittance_line_choices(*args)
        p_none = Pairs(none, none, np.zeros(0), np.zeros(0, bool))
        equal(got, line_choices_numpy(p, p, p_none, p_none, *line, *book))
    assert got[1].tolist() == [1] and got[3].tolist() == [False]
    args = (lp.pay, lp.inv, lp.ref, lp.pay, lp.inv, none, none, none, none, *line, *book)
    assert remittance_line_choices(*args)[1].tolist() == [-1]


def test_remittance_line_choices_of_lines_without_candidates() -> None:
    """Lines none of whose searches found a row: no invoice, no strength, nothing doubtful
    (the numpy steps raised IndexError when no line had a row)."""
    none = np.zeros(0, np.int64)
    got = remittance_line_choices(none, none, np.zeros(0), none, none, none, none, none, none,
                                  np.array([-1, 2]), np.array([5, 6], np.int64),
                                  np.array([0, 0]), np.array([2]), np.array([5], np.int64),
                                  np.array([0]))
    assert [a.tolist() for a in got] == [[], [-1, -1], [0.0, 0.0], [False, False], [0, 0, 0]]


def settle_decisions(start, inv, need, amount, conf, rule, rule_ok, threshold, pay_rank,  # noqa: ANN001, ANN201, PLR0913
                     n_ranked):
    """``DayMatch.settle``'s steps with the kernels: counted, ranked, walked."""
    order, walk, ok, eligible = settle_counted(start, inv, need, amount, conf, rule, rule_ok,
                                               threshold, n_ranked)
    order = order[np.lexsort((pay_rank[order], -conf[order]))]
    return settle_walked(start, inv, need, amount, order, walk, ok, eligible, n_ranked)


def settle_numpy(start, inv, need, amount, conf, rule, rule_ok, threshold, pay_rank, n_ranked):  # noqa: ANN001, ANN201, PLR0913
    """The numpy steps of ``DayMatch.settle`` before the kernel (around the two kernels it
    called)."""
    n = len(start) - 1
    eligible = (conf >= threshold) & rule_ok[rule]
    walk, fits = contested_and_fitting(start, inv, need, eligible, amount)
    ok = eligible & fits
    order = np.flatnonzero(walk | ~ok | (np.arange(n) < n_ranked))
    order = order[np.lexsort((pay_rank[order], -conf[order]))]
    contested = order[walk[order]]
    if len(contested):
        walk_capacity(start, inv, need, amount, contested, ok)
    accepted = np.concatenate([order[ok[order] & (order < n_ranked)],
                               n_ranked + np.flatnonzero(ok[n_ranked:])])
    rejected = order[~ok[order]]
    return accepted, rejected, ~eligible[rejected]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.integers(1, 3), max_size=60), st.integers(0, 60), st.integers(1, 8),
       st.integers(0, 2**32 - 1))
def test_settle_kernels_equal_the_numpy_steps(lens: list[int], n_ranked: int, n_inv: int,
                                                seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = len(lens)
    start = np.zeros(n + 1, np.int64)
    np.cumsum(lens, out=start[1:])
    inv = rng.integers(0, n_inv, int(start[-1])).astype(np.int64)  # (few: contested ones)
    need = rng.integers(0, 4, int(start[-1])).astype(np.int64)
    amount = rng.integers(0, 6, n_inv).astype(np.int64)
    conf = rng.choice(np.array([0.0, 0.5, 0.9, 0.95, 0.95, 0.99]), n)  # (ties, the bound)
    rule = rng.integers(0, 3, n)
    rule_ok = np.array([True, True, False])
    pay_rank = rng.integers(0, max(n // 2, 1), n).astype(np.int64)  # (ties too)
    args = (start, inv, need, amount, conf, rule, rule_ok, 0.95, pay_rank, min(n_ranked, n))
    equal(settle_decisions(*args), settle_numpy(*args))


def test_settle_kernels_of_none_and_one() -> None:
    none = np.zeros(0, np.int64)
    args = (np.zeros(1, np.int64), none, none, np.array([5], np.int64), np.zeros(0), none,
            np.array([True]), 0.95, none, 0)
    equal(settle_decisions(*args), settle_numpy(*args))
    for conf, n_ranked in ((0.99, 0), (0.99, 1), (0.5, 0), (0.5, 1)):
        args = (np.array([0, 1]), np.array([0]), np.array([5]), np.array([5], np.int64),
                np.array([conf]), np.array([0]), np.array([True]), 0.95, np.array([0]),
                n_ranked)
        equal(settle_decisions(*args), settle_numpy(*args))
    # two proposals of one invoice that fits one: the stronger, then the lower rank, wins
    args = (np.array([0, 1, 2]), np.array([0, 0]), np.array([5, 5]), np.array([5], np.int64),
            np.array([0.96, 0.96]), np.array([0, 0]), np.array([True]), 0.95,
            np.array([1, 0]), 2)
    assert [a.tolist() for a in settle_decisions(*args)] == [[1], [0], [False]]


def sole_group_numpy(pay, group, n):  # noqa: ANN001, ANN201
    """``pipeline.sole_group`` before the kernel: two ``ufunc.at`` passes."""
    gmin = np.full(n, np.iinfo(np.int64).max)
    gmax = np.full(n, -1)
    group = group.astype(np.int64, copy=False)
    np.minimum.at(gmin, pay, group)
    np.maximum.at(gmax, pay, group)
    return np.where((gmin == gmax) & (gmax >= 0), gmax, -1)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(-3, 3)), max_size=20),
       st.integers(0, 3), st.booleans())
def test_sole_group_equals_the_numpy_steps(entries: list[tuple[int, int]], extra: int,
                                           int32_group: bool) -> None:
    pay = np.array([p for p, _ in entries], np.int64)
    group = np.array([g for _, g in entries], np.int32 if int32_group else np.int64)
    n = int(pay.max()) + 1 + extra if len(pay) else extra
    got = sole_group(pay, group, n)
    assert got.dtype == np.int64
    assert got.tolist() == sole_group_numpy(pay, group, n).tolist()


def test_sole_group_of_none_one_and_several() -> None:
    none = np.zeros(0, np.int64)
    assert sole_group(none, none, 0).tolist() == []
    assert sole_group(none, none, 2).tolist() == [-1, -1]
    # one group; the same twice; two groups; a negative (no group) with a group; only negative
    pay = np.array([0, 1, 1, 2, 2, 3, 3, 4, 4], np.int64)
    group = np.array([7, 5, 5, 5, 6, -1, 4, -2, -2], np.int64)
    assert sole_group(pay, group, 6).tolist() == [7, 5, -1, -1, -1, -1]
