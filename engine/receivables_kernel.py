"""Compiled (numba) passes of :mod:`receivables` over the ledger's arrays.

Each replaces a sort or a scatter that numpy does in several passes over new arrays (an
``argsort`` of packed keys, ``ufunc.at``): here one pass over the rows, in memory already
touched, without the GIL (so the CLI's threads run them beside each other). Their numpy
references live in ``tests/engine/test_receivables_kernel.py``, with a differential test.
Imported on first use only (numba takes a moment to import; compiled code is cached on disk).
"""

from __future__ import annotations

import numpy as np

from cashmatch.engine.kernel_cache import njit


@njit(cache=True, nogil=True)
def _count(inv: np.ndarray, start: np.ndarray) -> None:
    for r in range(len(inv)):
        start[inv[r] + 1] += 1


@njit(cache=True, nogil=True)
def _scatter(
    part: tuple[np.ndarray, ...],
    start: np.ndarray,
    day: np.ndarray,
    total: np.ndarray,
    adj: np.ndarray,
    reason: np.ndarray,
) -> None:
    inv, day_p, cash_p, adj_p, reason_p = part
    for r in range(len(inv)):
        k = start[inv[r]]
        start[inv[r]] = k + 1
        day[k], total[k], adj[k], reason[k] = day_p[r], cash_p[r] + adj_p[r], adj_p[r], reason_p[r]


@njit(cache=True, nogil=True)
def _sort_events(
    a: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    b: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    start: np.ndarray,
    inv: np.ndarray,
    day: np.ndarray,
    total: np.ndarray,
    adj: np.ndarray,
    reason: np.ndarray,
) -> None:
    n = len(start) - 1
    _count(a[0], start)
    _count(b[0], start)
    for i in range(n):
        start[i + 1] += start[i]
    # start[i] is invoice i's next free slot while scattering, its end afterwards
    _scatter(a, start, day, total, adj, reason)
    _scatter(b, start, day, total, adj, reason)
    for i in range(n, 0, -1):
        start[i] = start[i - 1]
    start[0] = 0
    for i in range(n):
        lo, hi = start[i], start[i + 1]
        for k in range(lo, hi):
            inv[k] = i
        for k in range(lo + 1, hi):  # insertion sort by day: a handful of events per invoice
            d, t, x, y = day[k], total[k], adj[k], reason[k]
            j = k - 1
            while j >= lo and day[j] > d:
                day[j + 1], total[j + 1], adj[j + 1], reason[j + 1] = (
                    day[j],
                    total[j],
                    adj[j],
                    reason[j],
                )
                j -= 1
            day[j + 1], total[j + 1], adj[j + 1], reason[j + 1] = d, t, x, y


def _index_dtype(size: int) -> type[np.signedinteger]:
    return np.int32 if size < 2**31 else np.int64


def sort_events(
    a: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    b: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    n: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The events of two parts of (invoice, day, cash, adjustment, reason) rows (``a``'s rows,
    then ``b``'s; invoices in ``0..n-1``, days int32) sorted by invoice, day and row, as
    ``(start, inv, day, total, adj, reason)``: ``start`` the offsets of each invoice's events
    (``n + 1``), ``total`` cash + adjustment (what an event takes off the open amount). Offsets
    and invoices int32 while they fit (half the memory of int64), days int32, money int64.

    A counting sort by invoice (rows keep their order) and, within each invoice's few events,
    an insertion sort by day, which is stable: the order of ``np.lexsort((row, day, inv))``.
    """
    m = len(a[0]) + len(b[0])
    start = np.zeros(n + 1, _index_dtype(m))
    inv = np.empty(m, _index_dtype(n))
    day = np.empty(m, np.int32)
    total = np.empty(m, np.int64)
    adj = np.empty(m, np.int64)
    reason = np.empty(m, a[4].dtype)
    _sort_events(a, b, start, inv, day, total, adj, reason)
    return start, inv, day, total, adj, reason


@njit(cache=True, nogil=True)
def settlement_days(
    day: np.ndarray, total: np.ndarray, start: np.ndarray, amount: np.ndarray, never: int
) -> np.ndarray:
    """Per invoice, the first event day at whose end the reductions so far reach its amount
    (``never`` if none; only invoices with a positive amount settle). Events sorted by
    invoice and day, invoice ``i``'s at ``start[i]:start[i + 1]``."""
    n = len(amount)
    settled = np.full(n, never, np.int32)
    for i in range(n):
        due = amount[i]
        if due <= 0:
            continue
        hi = start[i + 1]
        got = 0
        for k in range(start[i], hi):
            got += total[k]
            if got >= due and (k + 1 == hi or day[k + 1] != day[k]):
                settled[i] = day[k]
                break
    return settled


@njit(cache=True, nogil=True)
def max_at(out: np.ndarray, codes: np.ndarray, values: np.ndarray, keep: np.ndarray) -> None:
    """``np.maximum.at(out, codes[keep], values[keep])`` in one pass."""
    for k in range(len(codes)):
        if keep[k] and values[k] > out[codes[k]]:
            out[codes[k]] = values[k]


@njit(cache=True, nogil=True)
def currency_mismatch(
    known: np.ndarray,
    row_code: np.ndarray,
    inv: np.ndarray,
    keep: np.ndarray,
    inv_currency: np.ndarray,
) -> np.ndarray:
    """Per row ``r`` under ``keep``: is its currency, ``known[row_code[r]]`` (``-2`` none
    given: no check), other than its invoice's, ``inv_currency[inv[r]]``? One pass, where
    numpy gathers, compares and combines over new arrays."""
    out = np.zeros(len(inv), np.bool_)
    for r in range(len(inv)):
        if keep[r]:
            k = known[row_code[r]]
            out[r] = k != -2 and k != inv_currency[inv[r]]
    return out


@njit(cache=True, nogil=True)
def reduced_between(
    start: np.ndarray,
    day: np.ndarray,
    total: np.ndarray,
    inv: np.ndarray,
    since: np.ndarray,
    until: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Per query ``q``: the reductions of invoice ``inv[q]`` dated ``since[q] .. until[q]``, and
    all of them dated up to ``until[q]`` (events sorted by invoice and day, invoice ``i``'s at
    ``start[i]:start[i + 1]``)."""
    m = len(inv)
    between = np.zeros(m, np.int64)
    upto = np.zeros(m, np.int64)
    for q in range(m):
        i = inv[q]
        for k in range(start[i], start[i + 1]):
            d = day[k]
            if d > until[q]:
                break
            upto[q] += total[k]
            if d >= since[q]:
                between[q] += total[k]
    return between, upto


@njit(cache=True, nogil=True)
def open_at(
    start: np.ndarray,
    day: np.ndarray,
    total: np.ndarray,
    amount: np.ndarray,
    issue: np.ndarray,
    t: int,
) -> np.ndarray:
    """Per invoice: its amount less its reductions dated up to day ``t`` (events sorted by
    invoice and day, invoice ``i``'s at ``start[i]:start[i + 1]``); 0 if issued after ``t``."""
    n = len(amount)
    out = np.zeros(n, np.int64)
    for i in range(n):
        if issue[i] > t:
            continue
        left = amount[i]
        for k in range(start[i], start[i + 1]):
            if day[k] > t:
                break
            left -= total[k]
        out[i] = left
    return out


@njit(cache=True, nogil=True)
def behaviour_sums(
    account: np.ndarray,
    amount: np.ndarray,
    issue: np.ndarray,
    due: np.ndarray,
    settled: np.ndarray,
    open_hi: np.ndarray,
    lo: int,
    hi: int,
    n_accounts: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per account, over the invoices with a positive amount settled in ``[lo, hi]`` (weight
    the amount, until the settlement day) or still open and past due at ``hi`` (weight
    ``open_hi``, the open amount then, until ``hi``): the weight, and the weighted days from
    issue and from due date to that day. One pass over the invoices."""
    wsum = np.zeros(n_accounts, np.int64)
    dtp = np.zeros(n_accounts, np.int64)
    dbt = np.zeros(n_accounts, np.int64)
    for i in range(len(account)):
        if amount[i] <= 0:
            continue
        s = settled[i]
        if lo <= s <= hi:
            w, end = amount[i], s
        elif s > hi and issue[i] <= hi and due[i] < hi and open_hi[i] > 0:
            w, end = open_hi[i], hi
        else:
            continue
        a = account[i]
        wsum[a] += w
        dtp[a] += w * (end - issue[i])
        dbt[a] += w * (end - due[i])
    return wsum, dtp, dbt


@njit(cache=True, nogil=True)
def account_sums(
    account: np.ndarray,
    currency: np.ndarray,
    amount: np.ndarray,
    issue: np.ndarray,
    due: np.ndarray,
    open_now: np.ndarray,
    open_start: np.ndarray,
    as_of: int,
    period: int,
    n_accounts: int,
    n_currencies: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One pass over the invoices for the aging and the metrics, as of day ``as_of`` with the
    period of ``period`` days before it; ``open_now``/``open_start`` are the open amounts at
    ``as_of`` and at ``as_of - period`` (0 where not yet issued). Per account: the open amount
    by aging bucket (``n_accounts x 5``, buckets by days past due ``<= 0, 1-30, 31-60, 61-90,
    > 90``), open rows (an open amount other than 0), the open amount at the start and its
    part over 60 days past due then, any invoice issued and the first issue day (``as_of`` if
    none); per currency the sales (invoiced amount issued within the period)."""
    cells = np.zeros((n_accounts, 5), np.int64)
    has_row = np.zeros(n_accounts, np.bool_)
    start_open = np.zeros(n_accounts, np.int64)
    start_over60 = np.zeros(n_accounts, np.int64)
    issued = np.zeros(n_accounts, np.bool_)
    first_issue = np.full(n_accounts, as_of, np.int64)
    sales = np.zeros(n_currencies, np.int64)
    lo = as_of - period + 1
    for i in range(len(account)):
        a = account[i]
        dpd = as_of - due[i]
        b = 0 if dpd <= 0 else 1 if dpd <= 30 else 2 if dpd <= 60 else 3 if dpd <= 90 else 4
        cells[a, b] += open_now[i]
        start_open[a] += open_start[i]
        if due[i] < as_of - period - 60:
            start_over60[a] += open_start[i]
        d = issue[i]
        if d <= as_of:
            issued[a] = True
            if open_now[i] != 0:
                has_row[a] = True
            if d < first_issue[a]:
                first_issue[a] = d
            if d >= lo:
                sales[currency[i]] += amount[i]
    return cells, has_row, start_open, start_over60, issued, first_issue, sales


def warm() -> None:
    """Load the compiled kernels for the dtypes :mod:`receivables` passes (numba's first call
    costs about half a second of CPU: a caller can pay it on a thread while reading files)."""
    i32, i64, i16 = (np.zeros(1, t) for t in (np.int32, np.int64, np.int16))
    part = (i32, i32, i64, i64, i16)
    start, inv, day, total, _, _ = sort_events(part, tuple(x[:0] for x in part), 1)
    settlement_days(day, total, start, i64, 1)
    keep = np.ones(1, np.bool_)
    max_at(i64.copy(), inv, day, keep)
    currency_mismatch(i32, i32, i32, keep, i32)
    reduced_between(start, day, total, i64, i64, i64)
    open_at(start, day, total, i64, i32, 0)
    account_sums(i32, i32, i64, i32, i32, i64, i64, 0, 1, 1, 1)
    behaviour_sums(i32, i64, i32, i32, i32, i64, 0, 1, 1)
