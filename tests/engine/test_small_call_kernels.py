"""The small call's compiled passes of ``DayMatch.prefill_subsets``
(:func:`cashmatch.engine.allocate_kernel.gather_quoted` and :func:`join_spans`) against the
numpy steps they replaced, kept here as their reference: the same rows, offsets, totals and
dtypes, for no payments, one, payments without quoted rows, repeated payments, any order."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from cashmatch.engine.allocate_kernel import gather_quoted, join_spans
from cashmatch.engine.normalize import spans


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
