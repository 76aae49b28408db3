"""The compiled passes of :mod:`cashmatch.engine.receivables_kernel` against numpy references."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from cashmatch.engine import receivables_kernel as K

NEVER = 2**31 - 1


def part(draw, n: int) -> tuple[np.ndarray, ...]:  # noqa: ANN001
    """(invoice, day, cash, adjustment, reason) rows, as build_ledger's parts."""
    m = draw(st.integers(0, 40))

    def ints(lo: int, hi: int, dtype: type) -> np.ndarray:
        return np.array(draw(st.lists(st.integers(lo, hi), min_size=m, max_size=m)), dtype)

    return (
        ints(0, n - 1, np.int32),
        ints(-5, 5, np.int32),
        ints(-50, 100, np.int64),
        ints(-20, 20, np.int64),
        ints(-1, 3, np.int16),
    )


@st.composite
def ledgers(draw):  # noqa: ANN001, ANN201
    n = draw(st.integers(1, 8))
    amount = np.array(draw(st.lists(st.integers(-20, 150), min_size=n, max_size=n)), np.int64)
    return n, part(draw, n), part(draw, n), amount


def sorted_events(ledger) -> tuple[np.ndarray, ...]:  # noqa: ANN001
    """(start, inv, day, total) of a drawn ledger, by the kernel."""
    n, a, b, _ = ledger
    start, inv, day, total, _, _ = K.sort_events(a, b, n)
    return start, inv, day, total


def settlement_reference(inv, day, total, amount) -> np.ndarray:  # noqa: ANN001
    """The first day at whose end an invoice's reductions reach its positive amount."""
    out = np.full(len(amount), NEVER, np.int32)
    for i, due in enumerate(amount):
        mine = np.flatnonzero(inv == i)
        got = 0
        for pos, k in enumerate(mine):
            got += total[k]
            last_of_day = pos + 1 == len(mine) or day[mine[pos + 1]] != day[k]
            if due > 0 and got >= due and last_of_day:
                out[i] = day[k]
                break
    return out


@settings(max_examples=300, deadline=None)
@given(ledgers())
def test_sort_and_settlement_equal_numpy(ledger) -> None:  # noqa: ANN001
    n, a, b, amount = ledger
    rows = [np.concatenate([x, y]).astype(np.int64) for x, y in zip(a, b, strict=True)]
    rows[2] = rows[2] + rows[3]  # the kernel gives the total (cash + adjustment), not the cash
    got = K.sort_events(a, b, n)
    want = np.lexsort((np.arange(len(rows[0])), rows[1], rows[0]))  # invoice, day, row
    for column, values in zip(got[1:], rows, strict=True):
        assert column.tolist() == values[want].tolist()
    assert [x.dtype for x in got[:4]] == [np.int32, np.int32, np.int32, np.int64]
    assert got[0].tolist() == [0, *np.cumsum(np.bincount(rows[0], minlength=n)).tolist()]
    start, inv, day, total = sorted_events(ledger)
    settled = K.settlement_days(day, total, start, amount, NEVER)
    assert settled.tolist() == settlement_reference(inv, day, total, amount).tolist()


@settings(max_examples=200, deadline=None)
@given(ledgers(), st.data())
def test_reductions_between_days_equal_numpy(ledger, data) -> None:  # noqa: ANN001
    n = ledger[0]
    start, inv, day, total = sorted_events(ledger)
    q = data.draw(st.integers(0, 10))
    ask = np.array(data.draw(st.lists(st.integers(0, n - 1), min_size=q, max_size=q)), np.int64)
    since = np.array(data.draw(st.lists(st.integers(-7, 7), min_size=q, max_size=q)), np.int64)
    until = np.array(data.draw(st.lists(st.integers(-7, 7), min_size=q, max_size=q)), np.int64)
    between, upto = K.reduced_between(start, day, total, ask, since, until)
    for j in range(q):
        mine = inv == ask[j]
        assert between[j] == total[mine & (day >= since[j]) & (day <= until[j])].sum()
        assert upto[j] == total[mine & (day <= until[j])].sum()


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_group_maximum_equals_ufunc_at(data) -> None:  # noqa: ANN001
    m = data.draw(st.integers(0, 30))
    codes = np.array(data.draw(st.lists(st.integers(0, 4), min_size=m, max_size=m)), np.int64)
    values = np.array(data.draw(st.lists(st.integers(-9, 9), min_size=m, max_size=m)), np.int32)
    keep = np.array(data.draw(st.lists(st.booleans(), min_size=m, max_size=m)), bool)
    got, want = np.zeros(5, np.int64), np.zeros(5, np.int64)
    K.max_at(got, codes, values, keep)
    np.maximum.at(want, codes[keep], values[keep])
    assert got.tolist() == want.tolist()


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_currency_mismatch_equals_numpy(data) -> None:  # noqa: ANN001
    def ints(lo: int, hi: int, size: int) -> np.ndarray:
        return np.array(data.draw(st.lists(st.integers(lo, hi), min_size=size, max_size=size)))

    m = data.draw(st.integers(0, 30))
    known = ints(-2, 2, 4).astype(np.int32)  # per distinct code: -2 none given, -1 unknown
    codes, inv = ints(0, 3, m).astype(np.int32), ints(-1, 5, m).astype(np.int32)
    keep = (inv >= 0) & ints(0, 1, m).astype(bool)  # rows naming no invoice are never kept
    inv_currency = ints(0, 2, 6).astype(np.int32)
    row = known[codes]
    want = (row != -2) & (row != inv_currency[np.where(keep, inv, 0)]) & keep
    assert K.currency_mismatch(known, codes, inv, keep, inv_currency).tolist() == want.tolist()


@settings(max_examples=200, deadline=None)
@given(ledgers(), st.integers(-7, 7), st.data())
def test_open_at_equals_numpy(ledger, t: int, data) -> None:  # noqa: ANN001
    n, amount = ledger[0], ledger[3]
    start, inv, day, total = sorted_events(ledger)
    issue = np.array(data.draw(st.lists(st.integers(-7, 7), min_size=n, max_size=n)), np.int32)
    reduced = np.bincount(inv, weights=np.where(day <= t, total, 0), minlength=n)
    want = np.where(issue <= t, amount - reduced.astype(np.int64), 0)
    assert K.open_at(start, day, total, amount, issue, t).tolist() == want.tolist()


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_account_sums_equal_numpy(data) -> None:  # noqa: ANN001
    n, na, nk, as_of, period = data.draw(st.integers(0, 25)), 4, 2, 100, 30

    def ints(lo: int, hi: int, dtype: type) -> np.ndarray:
        return np.array(data.draw(st.lists(st.integers(lo, hi), min_size=n, max_size=n)), dtype)

    account, currency = ints(0, na - 1, np.int64), ints(0, nk - 1, np.int32)
    amount, issue = ints(-50, 100, np.int64), ints(50, 110, np.int32)
    # days past due on and around every bucket's edge and the start's 60 days (at as_of - 30)
    edges = [-1, 0, 1, 29, 30, 31, 59, 60, 61, 89, 90, 91, 119, 120, 121, 200]
    past_due = data.draw(st.lists(st.sampled_from(edges), min_size=n, max_size=n))
    due = as_of - np.array(past_due, np.int32)
    open_now = np.where(issue <= as_of, ints(-50, 100, np.int64), 0)
    open_start = np.where(issue <= as_of - period, ints(-50, 100, np.int64), 0)
    got = K.account_sums(
        account, currency, amount, issue, due, open_now, open_start, as_of, period, na, nk
    )
    bucket = np.searchsorted(np.array([0, 30, 60, 90]), as_of - due, side="left")
    cells = np.zeros((na, 5), np.int64)
    np.add.at(cells, (account, bucket), open_now)
    issued = issue <= as_of
    first = np.full(na, as_of, np.int64)
    np.minimum.at(first, account[issued], issue[issued])
    over60 = due < as_of - period - 60
    in_period = issued & (issue > as_of - period)
    want = (
        cells,
        np.isin(np.arange(na), account[issued & (open_now != 0)]),
        np.bincount(account, weights=open_start, minlength=na).astype(np.int64),
        np.bincount(account[over60], weights=open_start[over60], minlength=na).astype(np.int64),
        np.isin(np.arange(na), account[issued]),
        first,
        np.bincount(currency[in_period], weights=amount[in_period], minlength=nk).astype(np.int64),
    )
    for g, w in zip(got, want, strict=True):
        assert g.tolist() == w.tolist()


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_behaviour_sums_equal_numpy(data) -> None:  # noqa: ANN001
    def ints(lo: int, hi: int, dtype: type) -> np.ndarray:
        return np.array(data.draw(st.lists(st.integers(lo, hi), min_size=n, max_size=n)), dtype)

    n, na = data.draw(st.integers(0, 30)), 4
    account, amount = ints(0, na - 1, np.int32), ints(-20, 100, np.int64)
    issue, due, settled = ints(0, 20, np.int32), ints(0, 30, np.int32), ints(0, 40, np.int32)
    settled[data.draw(st.lists(st.integers(0, max(n - 1, 0)), max_size=n)) if n else []] = NEVER
    open_hi = ints(-10, 100, np.int64)
    lo, hi = sorted(data.draw(st.lists(st.integers(0, 40), min_size=2, max_size=2)))
    # the numpy formulation receivables used before the compiled pass
    pos = amount > 0
    paid = pos & (settled >= lo) & (settled <= hi)
    unpaid = pos & (issue <= hi) & (settled > hi) & (due < hi) & (open_hi > 0)
    idx = np.flatnonzero(paid | unpaid)
    w = np.where(paid[idx], amount[idx], open_hi[idx])
    end = np.where(paid[idx], settled[idx], hi)
    acc = account[idx]
    want = [
        np.bincount(acc, weights=x, minlength=na).astype(np.int64).tolist()
        for x in (w, w * (end - issue[idx]), w * (end - due[idx]))
    ]
    got = K.behaviour_sums(account, amount, issue, due, settled, open_hi, lo, hi, na)
    assert [x.tolist() for x in got] == want
