"""Receivables analytics: open amounts as of any date, aging, DSO/CEI/turnover, payment
behaviour per account and at-risk accounts with plain-language reasons.

The definitions are the contract's (``spec/interchange.md``, "Receivables analytics"). The
ledger is read as a history: every invoice issued, every allocation dated by its payment's
value date, every adjustment dated on its own. All of it is arrays: the reductions sorted by
(invoice, day), open amounts, settlement days and the per-account sums in compiled passes
(:mod:`receivables_kernel`, exact int64), group-bys by integer codes, with string ids joined
once as integer codes; independent parts (the payment side and the invoice side of the joins,
the behaviour windows) run on threads side by side. No Python loop per invoice; loops only
over signals, currencies and the reason texts of flagged accounts.

Definitions this module adds where the contract names a column but not its formula (the
reference implementation in ``tests/engine/receivables_reference.py`` spells out the same):

- an invoice is *settled* on the first day ``d`` (among the days it has reductions) on which
  ``open(i, d) <= 0``; only invoices with a positive amount are ever settled;
- payment behaviour of an account over a window ``[lo, hi]`` (this period: ``A-P+1 .. A``,
  previous: ``A-2P+1 .. A-P``) is amount-weighted over (a) invoices settled in the window,
  weight = amount, days to pay = settled - issue, days beyond terms = settled - due, and (b)
  invoices still open and past due at ``hi``, weight = open(i, hi), days = ``hi - issue`` and
  ``hi - due`` (an unpaid overdue invoice is late by at least its days past due);
- deductions: reductions whose reason starts with ``DEDUCTION`` dated in the window (count and
  non-cash amount);
- a promise is judged when ``promised_date + grace <= A`` and ``promised_date`` is in the
  window; it is kept when the invoice (or, without one, the account's cash) was reduced by at
  least its amount between ``made_on`` and ``promised_date + grace``, or the invoice was no
  longer open at ``promised_date + grace``.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cashmatch.engine import schema as S
from cashmatch.engine.errors import InvalidInput, PolicyError, RowProblem
from cashmatch.engine.ids import IdIndex
from cashmatch.engine.money import sums_by_code

_EPOCH = date(1970, 1, 1)
NEVER = np.iinfo(np.int32).max  # a day that never comes
METRICS = (
    "days_beyond_terms_change",
    "recent_days_beyond_terms_change",
    "days_beyond_terms",
    "deductions_change",
    "deductions",
    "promises_broken",
    "share_over_60",
    "share_over_60_change",
    "share_later_than_usual",
    "silence_beyond_usual",
)


# ---------------------------------------------------------------- risk model (data)


@dataclass(frozen=True, slots=True)
class Signal:
    name: str
    metric: str
    fires_at: float
    full_at: float
    weight: float
    reason: str
    group: str = ""  # signals of one group count once: only the strongest scores and speaks

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise PolicyError(
                f"risk signal {self.name!r}: unknown metric {self.metric!r} "
                f"(one of {', '.join(METRICS)})"
            )
        if self.full_at < self.fires_at:
            raise PolicyError(f"risk signal {self.name!r}: full_at must be >= fires_at")
        if self.weight < 0:
            raise PolicyError(f"risk signal {self.name!r}: weight must be >= 0")


@dataclass(frozen=True, slots=True)
class RiskModel:
    signals: tuple[Signal, ...]
    at_risk_score: float = 50
    promise_grace_days: int = 3
    recent_share: float = 1 / 3  # the recent window is this share of the period (30 of 90 days)
    usual_margin_days: float = 15  # "later than usual": past due by the usual delay + this

    def __post_init__(self) -> None:
        if not 0 <= self.at_risk_score <= 100:
            raise PolicyError("at_risk_score must be within 0..100")
        if not 0 < self.recent_share <= 1:
            raise PolicyError("recent_share must be within (0, 1]")
        if self.promise_grace_days < 0:
            raise PolicyError("promise_grace_days must be >= 0")

    @classmethod
    def from_mapping(cls, data: dict) -> RiskModel:
        table = data.get("receivables", data)
        try:
            signals = tuple(Signal(**s) for s in table.get("signals", []))
        except TypeError as exc:
            raise PolicyError(f"risk signal: {exc}") from exc
        return cls(
            signals=signals,
            at_risk_score=float(table.get("at_risk_score", 50)),
            promise_grace_days=int(table.get("promise_grace_days", 3)),
            recent_share=float(table.get("recent_share", 1 / 3)),
            usual_margin_days=float(table.get("usual_margin_days", 15)),
        )

    @classmethod
    def from_toml(cls, path: str | Path) -> RiskModel:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise PolicyError(f"{path}: cannot read risk model: {exc}") from exc
        return cls.from_mapping(data)

    @classmethod
    def default(cls) -> RiskModel:
        text = resources.files("cashmatch.engine").joinpath("risk.toml").read_text("utf-8")
        return cls.from_mapping(tomllib.loads(text))


# ---------------------------------------------------------------- helpers


def day_number(d: date) -> int:
    return (d - _EPOCH).days


def _days(
    col: pa.ChunkedArray | pa.Array,
    fill: int | np.ndarray | None = None,
    dtype: type[np.signedinteger] = np.int64,
) -> np.ndarray:
    """Day numbers (int64, or ``dtype``: date32 fits int32) of a date column, read from each
    chunk's buffer; nulls become ``fill`` (a number, or an array giving a value per row) when
    one is given."""
    out = np.empty(len(col), dtype)
    pos = 0
    for chunk in col.chunks if isinstance(col, pa.ChunkedArray) else [col]:
        if not pa.types.is_date32(chunk.type):
            chunk = pc.cast(chunk, pa.date32())
        n = len(chunk)
        if n:
            out[pos : pos + n] = np.frombuffer(chunk.buffers()[1], np.int32)[
                chunk.offset : chunk.offset + n
            ]
        if chunk.null_count and fill is not None:
            part = out[pos : pos + n]
            null = np.asarray(chunk.is_null(), bool)
            part[null] = fill[pos : pos + n][null] if isinstance(fill, np.ndarray) else fill
        pos += n
    return out


def _ints(col: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Integers as int64 (nulls 0); zero-copy for one chunk without nulls (read-only then)."""
    arr = S.flat(col)
    if arr.null_count:
        arr = pc.fill_null(arr, 0)
    return np.asarray(arr.to_numpy(zero_copy_only=False), dtype=np.int64)


def _lookup(keys: pa.Array, values: pa.Array) -> np.ndarray:
    """Index of each key's first occurrence in ``values`` (-1 where absent)."""
    return IdIndex(values).find(keys)


def _gcount(codes: np.ndarray, n: int, mask: np.ndarray | None = None) -> np.ndarray:
    if mask is not None:
        codes = codes[mask]
    return np.bincount(codes, minlength=n)[:n].astype(np.int64)


def _problems_where(
    source: str, ids: pa.Array | pa.ChunkedArray, mask: np.ndarray, reason: str
) -> list[RowProblem]:
    """One problem line naming the ids under ``mask`` (filtered only when there are any: the
    column's chunks are never combined otherwise)."""
    if not mask.any():
        return []
    return _problem_list(source, ids.filter(pa.array(mask)), reason)


def _problem_list(
    source: str, ids: pa.Array | pa.ChunkedArray, reason: str, limit: int = 20
) -> list[RowProblem]:
    n = len(ids)
    if n == 0:
        return []
    shown = ", ".join(str(x) for x in ids.slice(0, limit).to_pylist())
    more = f" and {n - limit} more" if n > limit else ""
    return [RowProblem(source, None, None, f"{n} rows {reason}: {shown}{more}")]


# ---------------------------------------------------------------- the ledger as arrays


@dataclass(slots=True)
class Ledger:
    """Invoices, their reductions sorted by (invoice, day), and promises — as arrays.

    Build once with :func:`build_ledger`, then query any ``as_of``.
    """

    invoice_id: pa.Array
    amount: np.ndarray  # int64 minor units (invoiced)
    issue: np.ndarray  # day numbers (int32, like date32; differences stay int32)
    due: np.ndarray
    account: np.ndarray  # account code per invoice (customer x currency)
    currency_code: np.ndarray  # per invoice, index into `currencies`
    currencies: pa.Array  # sorted distinct currencies
    account_customer: pa.Array  # per account code
    account_currency: np.ndarray  # per account code, index into `currencies`
    account_name: pa.Array  # per account code (customer name or null)
    # reductions, sorted by (invoice, day)
    ev_inv: np.ndarray  # int32 (invoice rows)
    ev_day: np.ndarray  # int32 day numbers
    ev_total: np.ndarray  # applied + adjustment (what it takes off the open amount)
    ev_adj: np.ndarray  # non-cash part (the cash is ev_total - ev_adj)
    ev_reason: np.ndarray  # index into `reasons`, -1 none
    reasons: pa.Array
    settled: np.ndarray  # per invoice: settlement day (NEVER if not settled), int32
    # promises
    pr_inv: np.ndarray  # -1 for account-level promises
    pr_account: np.ndarray
    pr_amount: np.ndarray
    pr_date: np.ndarray
    pr_made: np.ndarray
    pr_id: np.ndarray  # per promise: its ``promise_id`` column if given, else its row number
    problems: list[RowProblem] = field(default_factory=list)
    _ev_start: np.ndarray | None = None  # first event index per invoice (len n+1 offsets)
    _open_cache: dict = field(default_factory=dict)

    @property
    def n_invoices(self) -> int:
        return len(self.amount)

    @property
    def n_accounts(self) -> int:
        return len(self.account_customer)

    @property
    def ev_cash(self) -> np.ndarray:
        """Applied cash per reduction (a new array: held as the total less the adjustment)."""
        return self.ev_total - self.ev_adj

    def open_at(self, t: int) -> np.ndarray:
        """open(i, t): invoiced amount minus reductions dated <= t; 0 if issued after t."""
        if t not in self._open_cache:
            if len(self._open_cache) > 8:
                self._open_cache.clear()
            self._open_cache[t] = _kernels().open_at(
                self._ev_start, self.ev_day, self.ev_total, self.amount, self.issue, t
            )
        return self._open_cache[t]


def _kernels():  # noqa: ANN202
    """:mod:`receivables_kernel`, imported on first use (numba's import takes a moment)."""
    from cashmatch.engine import receivables_kernel

    return receivables_kernel


def _no_events() -> tuple[np.ndarray, ...]:
    """An empty part of (invoice, day, cash, adjustment, reason) rows."""
    return (
        np.zeros(0, np.int32),
        np.zeros(0, np.int32),
        *np.zeros((2, 0), np.int64),
        np.zeros(0, np.int16),
    )


def _events(
    a: tuple[np.ndarray, ...], b: tuple[np.ndarray, ...], amount: np.ndarray
) -> tuple[np.ndarray, ...]:
    """The reductions of two parts of (invoice, day, cash, adjustment, reason) rows, sorted by
    (invoice, day, row) as ``(inv, day, total, adj, reason, start, settled)``: ``total`` cash
    plus adjustment, ``start`` the offsets of each invoice's events (``n + 1``), ``settled`` per
    invoice the first day at whose end its reductions reach its amount (``NEVER`` if none; only
    positive amounts settle)."""
    K = _kernels()
    start, inv, day, total, adj, reason = K.sort_events(a, b, len(amount))
    settled = K.settlement_days(day, total, start, amount, NEVER)
    return inv, day, total, adj, reason, start, settled


def _background(fn: Callable[..., object], *args: object) -> Future:
    """``fn(*args)`` on a thread of its own (numpy and Arrow leave the GIL in their loops, so it
    runs beside the caller on another core); ``.result()`` waits for it."""
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        return pool.submit(fn, *args)
    finally:
        pool.shutdown(wait=False)


def _allocations_by_payment(
    allocations: pa.Table, payments: pa.Table
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, tuple[np.ndarray, pa.Array] | None]:
    """What the allocations take from their payments, needing no invoice: per allocation its
    payment's row (-1 if none), that payment's value day (meaningless where -1), the applied
    and adjustment amounts, and its currency encoded as (codes, distinct) if it has any."""
    a_pay = _lookup(allocations.column("payment_id"), payments.column("payment_id"))
    day = _days(payments.column("value_date"), dtype=np.int32)[a_pay]
    cash = _ints(allocations.column("applied_amount"))
    adj = _ints(allocations.column("adjustment_amount"))
    a_cur = allocations.column("currency")
    cur = IdIndex(a_cur).encode() if a_cur.null_count < len(a_cur) else None
    return a_pay, day, cash, adj, cur


@dataclass(slots=True)
class _Reductions:
    events: tuple[np.ndarray, ...]  # what _events returns
    reason_names: list[str]
    problems: list[RowProblem]
    ok: np.ndarray | None = None  # per allocation: kept
    a_inv: np.ndarray | None = None  # per allocation: its invoice's row
    a_cur: tuple[np.ndarray, pa.Array] | None = None  # allocations' currencies, encoded


def _reductions(
    inv_index: IdIndex,
    amount: np.ndarray,
    allocations: pa.Table | None,
    by_payment: Future | None,
    adjustments: pa.Table | None,
    src: dict[str, str],
    drop: np.ndarray | None = None,
) -> _Reductions:
    """The reductions of the invoices (rows of ``inv_index``): allocations dated by their
    payment (``by_payment``: the future of :func:`_allocations_by_payment`), leaving out the
    rows under ``drop``, and adjustments; rows naming unknown payments or invoices reported."""
    problems: list[RowProblem] = []
    reason_names: list[str] = []

    def reason_codes(col: pa.ChunkedArray | pa.Array, keep: np.ndarray) -> np.ndarray:
        """Reason per row as an index into ``reason_names`` (-1 none); few distinct values.
        Chunk by chunk (Arrow encodes a chunked column against one dictionary; each chunk's
        is read anyway): the column's strings are never combined into one copy."""
        enc = pc.dictionary_encode(col)
        out = np.empty(len(col), np.int16)
        pos = 0
        for chunk in enc.chunks if isinstance(enc, pa.ChunkedArray) else [enc]:
            local = []
            for r in chunk.dictionary.to_pylist():
                r = (r or "").strip()
                if not r:
                    local.append(-1)
                    continue
                if r not in reason_names:
                    reason_names.append(r)
                local.append(reason_names.index(r))
            table = np.array(local + [-1], dtype=np.int16)
            idx = pc.fill_null(chunk.indices, len(local)).to_numpy(zero_copy_only=False)
            out[pos : pos + len(chunk)] = table[idx]
            pos += len(chunk)
        return out if keep.all() else out[keep]

    # two parts of (invoice, day, cash, adjustment, reason) rows: allocations, adjustments
    alloc_part = adjust_part = _no_events()
    out = _Reductions((), reason_names, problems)
    if by_payment is not None:
        a_inv = inv_index.find(allocations.column("invoice_id"))  # while the payments' job runs
        a_pay, a_day, a_cash, a_adj, out.a_cur = by_payment.result()
        bad_pay = a_pay < 0
        bad_inv = (a_inv < 0) & ~bad_pay
        ok = ~bad_pay & ~bad_inv
        if drop is not None:
            ok &= ~drop
        problems += _problems_where(
            src["allocations"],
            allocations.column("payment_id"),
            bad_pay,
            "name a payment not in the payments file (left out)",
        )
        problems += _problems_where(
            src["allocations"],
            allocations.column("invoice_id"),
            bad_inv,
            "name an invoice not in the invoices file (left out)",
        )
        every = bool(ok.all())  # the usual case: no copies of the kept rows
        alloc_part = tuple(
            values if every else values[ok] for values in (a_inv, a_day, a_cash, a_adj)
        ) + (reason_codes(allocations.column("adjustment_reason"), ok),)
        out.ok, out.a_inv = ok, a_inv
        del a_pay, a_day, a_cash, a_adj
    if adjustments is not None and adjustments.num_rows:
        d_inv = inv_index.find(adjustments.column("invoice_id"))
        bad = d_inv < 0
        problems += _problems_where(
            src["adjustments"],
            adjustments.column("invoice_id"),
            bad,
            "name an invoice not in the invoices file (left out)",
        )
        ok = ~bad
        adjust_part = (
            d_inv[ok],
            _days(adjustments.column("date"), dtype=np.int32)[ok],
            np.zeros(int(ok.sum()), np.int64),
            _ints(adjustments.column("amount"))[ok],
            reason_codes(adjustments.column("reason"), ok),
        )
    out.events = _events(alloc_part, adjust_part, amount)
    return out


def build_ledger(
    *,
    invoices: pa.Table,
    payments: pa.Table,
    allocations: pa.Table,
    adjustments: pa.Table | None = None,
    promises: pa.Table | None = None,
    customers: pa.Table | None = None,
    sources: dict[str, str] | None = None,
) -> Ledger:
    """Arrays of the history, with the rows that cannot be placed reported as problems.

    Tables are in the schemas of :mod:`cashmatch.engine.schema` (INVOICES with the invoiced
    amount, PAYMENTS, ALLOCATIONS, ADJUSTMENTS, PROMISES, CUSTOMERS).
    """
    src = {
        "invoices": "invoices",
        "allocations": "allocations",
        "adjustments": "adjustments",
        "promises": "promises",
        **(sources or {}),
    }
    problems: list[RowProblem] = []
    by_payment = None
    if allocations is not None and allocations.num_rows:  # while the invoices are indexed
        by_payment = _background(_allocations_by_payment, allocations, payments)

    # ---- invoices
    no_issue = np.asarray(invoices.column("issue_date").is_null(), dtype=bool)
    if no_issue.any():
        problems += _problems_where(
            src["invoices"],
            invoices.column("invoice_id"),
            no_issue,
            "have no issue_date (a history needs it)",
        )
        invoices = invoices.filter(pa.array(~no_issue))
    inv_index = IdIndex(invoices.column("invoice_id"))
    dup = inv_index.duplicate
    if dup.any():
        problems += _problems_where(
            src["invoices"], invoices.column("invoice_id"), dup, "repeat an invoice_id (first kept)"
        )
        invoices = invoices.filter(pa.array(~dup))
        inv_index = IdIndex(invoices.column("invoice_id"))
    inv_id = inv_index.values
    amount = _ints(invoices.column("amount"))
    # the reductions need only the invoice rows and amounts: sorted on a thread of their own
    # while the accounts are built here
    reductions = _background(
        _reductions, inv_index, amount, allocations, by_payment, adjustments, src
    )
    issue = _days(invoices.column("issue_date"), dtype=np.int32)  # int32: half the memory
    due = _days(invoices.column("due_date"), fill=issue, dtype=np.int32)  # none: due on issue

    cur_codes, cur_dict = IdIndex(invoices.column("currency")).encode()
    cur_order = np.asarray(pc.sort_indices(cur_dict), dtype=np.int64)
    cur_rank = np.empty(len(cur_dict), np.int32)  # currency codes: int32 per invoice
    cur_rank[cur_order] = np.arange(len(cur_dict))
    currencies = cur_dict.take(pa.array(cur_order))
    currency_code = cur_rank[cur_codes]
    n_cur = max(len(currencies), 1)

    cus_codes, cus_dict = IdIndex(invoices.column("customer_id")).encode()
    if len(cus_dict) * n_cur >= 2**31:  # int32 codes would overflow
        cus_codes = cus_codes.astype(np.int64)
    raw_account = cus_codes * n_cur + currency_code
    # accounts numbered in (customer_id, currency) order so outputs come out sorted
    present = np.zeros(len(cus_dict) * n_cur, dtype=bool)
    present[raw_account] = True
    acc_raw = np.flatnonzero(present)
    acc_cust = cus_dict.take(pa.array(acc_raw // n_cur))
    acc_cur = acc_raw % n_cur
    order = np.asarray(
        pc.sort_indices(
            pa.table({"c": acc_cust, "k": pa.array(acc_cur)}),
            sort_keys=[("c", "ascending"), ("k", "ascending")],
        ),
        dtype=np.int64,
    )
    remap = np.full(len(present), -1, np.int32 if len(order) < 2**31 else np.int64)
    remap[acc_raw[order]] = np.arange(len(order))
    account = remap[raw_account]  # int32 while it fits
    del cus_codes, cur_codes, raw_account  # 3 x 8 bytes per invoice, before the events peak
    account_customer = acc_cust.take(pa.array(order))
    account_currency = acc_cur[order]
    if customers is not None and customers.num_rows:
        idx = _lookup(account_customer, S.flat(customers.column("customer_id")))
        names = S.flat(customers.column("name"))
        account_name = pc.take(names, pa.array(np.where(idx >= 0, idx, 0)))
        account_name = pc.if_else(pa.array(idx >= 0), account_name, pa.scalar(None, pa.string()))
    else:
        account_name = pa.nulls(len(order), pa.string())

    # ---- reductions (their thread, started above), then the check that needs the currencies
    red = reductions.result()
    if red.a_cur is not None and red.ok.any():
        codes, distinct = red.a_cur
        known = _lookup(distinct, currencies)  # -1: not a currency of any invoice
        known[np.asarray(distinct.is_null(), bool)] = -2  # no currency given: no check
        mismatch = _kernels().currency_mismatch(known, codes, red.a_inv, red.ok, currency_code)
        if mismatch.any():  # rare: the reductions again without those rows
            problems += _problems_where(
                src["allocations"],
                allocations.column("invoice_id"),
                mismatch,
                "are in another currency than their invoice (left out)",
            )
            red = _reductions(
                inv_index, amount, allocations, by_payment, adjustments, src, mismatch
            )
    problems += red.problems
    reasons = pa.array(red.reason_names, pa.string())
    ev_inv, ev_day, ev_total, ev_adj, ev_reason, ev_start, settled = red.events

    # ---- promises
    if promises is not None and promises.num_rows:
        p_inv_id = S.flat(promises.column("invoice_id"))
        p_inv = np.where(
            np.asarray(p_inv_id.is_null(), bool), -1, inv_index.find(p_inv_id).astype(np.int64)
        )
        has_inv = np.asarray(p_inv_id.is_null(), bool) == False  # noqa: E712
        bad_inv = has_inv & (p_inv < 0)
        p_cus = _lookup(S.flat(promises.column("customer_id")), cus_dict).astype(np.int64)
        p_cur = _lookup(S.flat(promises.column("currency")), currencies)
        raw = np.where((p_cus >= 0) & (p_cur >= 0), p_cus * n_cur + np.maximum(p_cur, 0), 0)
        p_acc = np.where((p_cus >= 0) & (p_cur >= 0), remap[raw], -1)
        bad_acc = p_acc < 0
        problems += _problems_where(
            src["promises"],
            p_inv_id,
            bad_inv,
            "name an invoice not in the invoices file (left out)",
        )
        problems += _problems_where(
            src["promises"],
            S.flat(promises.column("customer_id")),
            bad_acc & ~bad_inv,
            "name a customer with no invoices in that currency (left out)",
        )
        ok = ~bad_inv & ~bad_acc
        # an invoice-level promise belongs to the invoice's account
        p_acc = np.where(p_inv >= 0, account[np.maximum(p_inv, 0)], p_acc)
        pr_inv, pr_account = p_inv[ok], p_acc[ok].astype(np.int64)
        pr_amount = _ints(promises.column("amount"))[ok]
        pr_date = _days(promises.column("promised_date"))[ok]
        pr_made = _days(promises.column("made_on"), fill=-(1 << 30))[ok]
        pr_id = (
            _ints(promises.column("promise_id"))[ok]
            if "promise_id" in promises.column_names
            else np.flatnonzero(ok)
        )
    else:
        pr_inv = pr_account = pr_amount = pr_date = pr_made = pr_id = np.zeros(0, np.int64)

    return Ledger(
        invoice_id=inv_id,
        amount=amount,
        issue=issue,
        due=due,
        account=account,
        currency_code=currency_code,
        currencies=currencies,
        account_customer=account_customer,
        account_currency=account_currency,
        account_name=account_name,
        ev_inv=ev_inv,
        ev_day=ev_day,
        ev_total=ev_total,
        ev_adj=ev_adj,
        ev_reason=ev_reason,
        reasons=reasons,
        settled=settled,
        pr_inv=pr_inv,
        pr_account=pr_account,
        pr_amount=pr_amount,
        pr_date=pr_date,
        pr_made=pr_made,
        pr_id=pr_id,
        problems=problems,
        _ev_start=ev_start,
    )


# ---------------------------------------------------------------- analytics


@dataclass(slots=True)
class Receivables:
    """Everything ``cashmatch ar`` writes, as Arrow tables (money in int64 minor units)."""

    as_of: date
    period_days: int
    aging: pa.Table  # schema.AGING
    metrics: pa.Table  # schema.RECEIVABLES_METRICS
    accounts: pa.Table  # schema.ACCOUNTS
    deductions: pa.Table  # schema.DEDUCTIONS_BY_REASON
    problems: list[RowProblem] = field(default_factory=list)


def bucket_of(days_past_due: np.ndarray) -> np.ndarray:
    """Aging bucket index (0 current, 1 1_30, 2 31_60, 3 61_90, 4 90_plus)."""
    return np.searchsorted(np.array([0, 30, 60, 90]), days_past_due, side="left")


def _ratio(num: float, den: float, scale: float = 1.0) -> float | None:
    return None if den == 0 else num / den * scale


def _behaviour(led: Ledger, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per account: (weight, weighted days to pay, weighted days beyond terms) over [lo, hi]
    (the definition in the module's docstring; :func:`receivables_kernel.behaviour_sums`)."""
    invoices = (led.account, led.amount, led.issue, led.due, led.settled, led.open_at(hi))
    return _kernels().behaviour_sums(*invoices, lo, hi, led.n_accounts)


def _avg(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.full(len(num), np.nan)
    ok = den > 0
    out[ok] = num[ok] / den[ok]
    return out


def promise_outcomes(led: Ledger, *, as_of: int, grace: int) -> tuple[np.ndarray, np.ndarray]:
    """Per promise of the ledger: (due, kept) as of day ``as_of``.

    A promise is due once ``promised_date + grace <= as_of`` (and it was made by then); it is
    kept when the invoice (or, without one, the account's cash) was reduced by at least its
    amount between ``made_on`` and that deadline, or the invoice was no longer open by then.
    ``kept`` is meaningful where ``due``. Rows align with ``led.pr_id``.
    """
    deadline = led.pr_date + grace
    due = (deadline <= as_of) & (led.pr_made <= as_of)
    inv = led.pr_inv
    on_inv = inv >= 0
    kept = np.zeros(len(inv), bool)
    if on_inv.any():
        # reductions of the invoice between made_on and deadline, and all up to the deadline
        i = inv[on_inv]
        got, reduced_by_deadline = _kernels().reduced_between(
            led._ev_start, led.ev_day, led.ev_total, i, led.pr_made[on_inv], deadline[on_inv]
        )
        still_open = led.amount[i] - reduced_by_deadline
        kept[on_inv] = (got >= led.pr_amount[on_inv]) | (still_open <= 0)
    if (~on_inv).any():
        # the account's cash between made_on and deadline (events of those accounts only)
        acc = led.pr_account[~on_inv]
        ev_acc = led.account[led.ev_inv]
        mine = np.flatnonzero(np.isin(ev_acc, acc))
        order = mine[np.lexsort((led.ev_day[mine], ev_acc[mine]))]
        akey = ev_acc[order].astype(np.int64) * (1 << 32) + led.ev_day[order]
        cash = led.ev_total[order] - led.ev_adj[order]
        acsum = np.concatenate([[0], np.cumsum(cash, dtype=np.int64)])
        hi_k = np.searchsorted(akey, acc * (1 << 32) + deadline[~on_inv], side="right")
        lo_k = np.searchsorted(akey, acc * (1 << 32) + led.pr_made[~on_inv], side="left")
        got = acsum[np.maximum(hi_k, lo_k)] - acsum[lo_k]
        kept[~on_inv] = got >= led.pr_amount[~on_inv]
    return due, kept


def _promises(
    led: Ledger, lo: int, hi: int, as_of: int, grace: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per account: (kept, broken) promises dated in [lo, hi] and judged by ``as_of``."""
    na = led.n_accounts
    if not len(led.pr_inv):
        return np.zeros(na, np.int64), np.zeros(na, np.int64)
    due, kept = promise_outcomes(led, as_of=as_of, grace=grace)
    judged = due & (led.pr_date >= lo) & (led.pr_date <= hi)
    return _gcount(led.pr_account, na, judged & kept), _gcount(led.pr_account, na, judged & ~kept)


def analyse(
    ledger: Ledger,
    *,
    as_of: date,
    period_days: int = 90,
    risk: RiskModel | None = None,
) -> Receivables:
    """Aging, metrics per currency, and accounts with behaviour and risk, as of ``as_of``."""
    if period_days < 1:
        raise InvalidInput("period_days must be at least 1")
    led = ledger
    risk = risk or RiskModel.default()
    A = day_number(as_of)
    P = int(period_days)
    lo, lo_prev = A - P + 1, A - 2 * P + 1
    na, nk = led.n_accounts, max(len(led.currencies), 1)

    open_a = led.open_at(A)
    open_p = led.open_at(A - P)
    # the behaviour windows and the promises on a thread of their own (numpy and the kernels
    # leave the GIL), while the aging and the metrics are summed here
    recent = max(1, int(round(P * risk.recent_share)))
    windows = _background(
        lambda: (
            _behaviour(led, lo, A),
            _behaviour(led, lo_prev, A - P),
            _behaviour(led, A - recent + 1, A),
            _promises(led, lo, A, A, risk.promise_grace_days),
        )
    )
    # ---- aging per account, and what the metrics and risk need per account, in one pass
    aging_cells, has_row, open_p_acc, over60_p, acc_issued, first_issue, sales = (
        _kernels().account_sums(
            led.account,
            led.currency_code,
            led.amount,
            led.issue,
            led.due,
            open_a,
            open_p,
            A,
            P,
            na,
            nk,
        )
    )
    acc_open = aging_cells.sum(axis=1)
    acc_overdue = acc_open - aging_cells[:, 0]
    acc_over60 = aging_cells[:, 3] + aging_cells[:, 4]

    # ---- metrics per currency (AR, AR at the start and current AR summed from the accounts:
    # the same integers, without another pass over every invoice)
    k = led.currency_code
    acc_k = led.account_currency
    ar = sums_by_code(acc_k, acc_open, nk)
    ar_start = sums_by_code(acc_k, open_p_acc, nk)
    current_ar = sums_by_code(acc_k, aging_cells[:, 0], nk)  # bucket "current": dpd <= 0
    in_period = (led.ev_day >= lo) & (led.ev_day <= A)
    in_prev = (led.ev_day >= lo_prev) & (led.ev_day < lo)
    reasons = led.reasons.to_pylist()
    wo_codes = np.array([i for i, r in enumerate(reasons) if r == S.WRITE_OFF], np.int64)
    ded_codes = np.array(
        [i for i, r in enumerate(reasons) if r.upper().startswith(S.DEDUCTION)], np.int64
    )
    ev_acc = led.account[led.ev_inv] if len(led.ev_inv) else np.zeros(0, led.account.dtype)
    is_wo = np.isin(led.ev_reason, wo_codes)
    is_ded = np.isin(led.ev_reason, ded_codes) & (led.ev_adj != 0)
    wo = np.flatnonzero(is_wo & in_period)  # few: sums over those rows only
    write_offs = sums_by_code(k[led.ev_inv[wo]], led.ev_adj[wo], nk)
    ded = np.flatnonzero(is_ded & (in_period | in_prev))
    ded_now = in_period[ded]

    rows = []
    for c in range(len(led.currencies)):
        s, a_, a0, cur = int(sales[c]), int(ar[c]), int(ar_start[c]), int(current_ar[c])
        dso = _ratio(a_, s, P)
        best = _ratio(cur, s, P)
        rows.append(
            {
                "currency": led.currencies[c].as_py(),
                "ar": a_,
                "current_ar": cur,
                "sales": s,
                "dso": dso,
                "best_possible_dso": best,
                "add": None if dso is None else dso - best,
                "cei": _ratio(a0 + s - a_, a0 + s - cur, 100.0),
                "turnover": _ratio(s, (a0 + a_) / 2),
                "bad_debt_ratio": _ratio(int(write_offs[c]), s),
                "overdue": a_ - cur,
                "ar_start": a0,
                "write_offs": int(write_offs[c]),
            }
        )
    metrics = pa.Table.from_pylist(rows, schema=S.RECEIVABLES_METRICS)

    # ---- behaviour per account
    (w, dtp, dbt), (w0, dtp0, dbt0), (wr, _, dbtr), (kept, broken) = windows.result()
    recent_dbt = _avg(dbtr, wr)
    avg_dtp, avg_dbt = _avg(dtp, w), _avg(dbt, w)
    prev_dtp, prev_dbt = _avg(dtp0, w0), _avg(dbt0, w0)
    ded_acc = ev_acc[ded]
    ded_n = _gcount(ded_acc, na, ded_now)
    ded_amt = sums_by_code(ded_acc, led.ev_adj[ded], na, ded_now)
    ded_n0 = _gcount(ded_acc, na, ~ded_now)

    # ---- risk
    share60 = np.where(acc_open > 0, acc_over60 / np.where(acc_open > 0, acc_open, 1), 0.0)
    share60_p = np.where(open_p_acc > 0, over60_p / np.where(open_p_acc > 0, open_p_acc, 1), 0.0)
    # open balance past due by more than this account usually takes (+ margin)
    # (over the open invoices only: a per-invoice float array for each step otherwise)
    open_now = np.flatnonzero(open_a > 0)  # 0 where issued later
    open_acc = led.account[open_now]
    usual = np.nan_to_num(np.maximum(prev_dbt, 0.0))[open_acc] + risk.usual_margin_days
    unusual = (A - led.due[open_now]) > usual
    late_unusual = sums_by_code(open_acc, open_a[open_now], na, unusual)
    share_unusual = np.where(acc_open > 0, late_unusual / np.where(acc_open > 0, acc_open, 1), 0.0)
    # days without any cash while overdue, beyond the account's usual gap between payments
    cash_ev = (led.ev_total > led.ev_adj) & (led.ev_day <= A)  # some cash, by as_of
    last_cash = np.full(na, np.iinfo(np.int64).min // 4, np.int64)
    _kernels().max_at(last_cash, ev_acc, led.ev_day, cash_ev)
    last_cash = np.maximum(last_cash, first_issue)
    prev_cash = cash_ev & in_prev
    seen = np.zeros(na * P, dtype=bool)  # (account, day of the previous period) had cash
    seen[ev_acc[prev_cash].astype(np.int64) * P + (led.ev_day[prev_cash] - lo_prev)] = True
    n_pay_days = seen.reshape(na, P).sum(axis=1)
    usual_gap = P / np.maximum(n_pay_days, 1)
    silent = (A - last_cash).astype(float)
    silence = np.where(acc_overdue > 0, silent - usual_gap, 0.0)
    dbt_change = np.where(np.isnan(avg_dbt) | np.isnan(prev_dbt), 0.0, avg_dbt - prev_dbt)
    values = {
        "days_beyond_terms_change": (dbt_change, avg_dbt, prev_dbt),
        "recent_days_beyond_terms_change": (
            np.where(np.isnan(recent_dbt) | np.isnan(prev_dbt), 0.0, recent_dbt - prev_dbt),
            recent_dbt,
            prev_dbt,
        ),
        "days_beyond_terms": (np.nan_to_num(avg_dbt), avg_dbt, prev_dbt),
        "deductions_change": ((ded_n - ded_n0).astype(float), ded_n, ded_n0),
        "deductions": (ded_n.astype(float), ded_n, ded_n0),
        "promises_broken": (broken.astype(float), broken, broken),
        "share_over_60": (share60, share60, share60_p),
        "share_over_60_change": (share60 - share60_p, share60, share60_p),
        "share_later_than_usual": (share_unusual, share_unusual, prev_dbt),
        "silence_beyond_usual": (silence, silent, usual_gap),
    }
    contributions = []
    for sig in risk.signals:
        v = values[sig.metric][0]
        fired = v >= sig.fires_at
        span = sig.full_at - sig.fires_at
        strength = np.ones(na) if span == 0 else np.clip((v - sig.fires_at) / span, 0, 1)
        # a fired signal counts at least a third of its weight
        part = np.where(fired, sig.weight * (1 / 3 + 2 / 3 * strength), 0.0)
        contributions.append([sig, part, fired])
    # within a group only the strongest signal counts (and gives the reason)
    groups: dict[str, list[int]] = {}
    for j, (sig, _, _) in enumerate(contributions):
        if sig.group:
            groups.setdefault(sig.group, []).append(j)
    for members in groups.values():
        parts = np.stack([contributions[j][1] for j in members])
        best = np.argmax(parts, axis=0)
        for pos, j in enumerate(members):
            loser = best != pos
            contributions[j][1] = np.where(loser, 0.0, contributions[j][1])
            contributions[j][2] = contributions[j][2] & ~loser
    # independent signals combine like probabilities: 100 * (1 - prod(1 - part / 100)), so a
    # score keeps ranking the worst accounts instead of piling up at 100
    keep = np.ones(na)
    for c in contributions:
        keep *= 1 - np.minimum(c[1], 100) / 100
    score = 100 * (1 - keep)
    risk_score = np.minimum(100, np.round(score)).astype(np.int64)
    at_risk = risk_score >= risk.at_risk_score
    reasons_text = _reasons(contributions, values, na, P, recent)

    accounts = pa.table(
        {
            "customer_id": led.account_customer,
            "currency": led.currencies.take(pa.array(led.account_currency)),
            "open": acc_open,
            "overdue": acc_overdue,
            "avg_days_to_pay": pa.array(avg_dtp, from_pandas=True),
            "avg_days_beyond_terms": pa.array(avg_dbt, from_pandas=True),
            "prev_avg_days_beyond_terms": pa.array(prev_dbt, from_pandas=True),
            "deductions": ded_n,
            "deduction_amount": ded_amt,
            "promises_broken": broken,
            "risk_score": risk_score,
            "at_risk": at_risk,
            "risk_reasons": pa.array(reasons_text, pa.string()),
            "customer_name": led.account_name,
            "prev_avg_days_to_pay": pa.array(prev_dtp, from_pandas=True),
            "prev_deductions": ded_n0,
            "promises_kept": kept,
            "over_60": acc_over60,
        },
        schema=S.ACCOUNTS,
    )
    # accounts: every account with an invoice issued by as_of
    accounts = accounts.filter(pa.array(acc_issued))

    aging = pa.table(
        {
            "customer_id": led.account_customer,
            "currency": led.currencies.take(pa.array(led.account_currency)),
            **{b: aging_cells[:, j] for j, b in enumerate(S.AGING_BUCKETS)},
            "total": acc_open,
        },
        schema=S.AGING,
    ).filter(pa.array(has_row))

    deductions = _deductions_by_reason(led, ded, ded_now)
    return Receivables(
        as_of=as_of,
        period_days=P,
        aging=aging,
        metrics=metrics,
        accounts=accounts,
        deductions=deductions,
        problems=list(led.problems),
    )


def _period_name(p: int) -> str:
    return {7: "week", 30: "month", 90: "quarter", 91: "quarter", 365: "year"}.get(p, f"{p} days")


def _fmt(template: str, **kw: object) -> str:
    clean = {k: (0.0 if isinstance(v, float) and math.isnan(v) else v) for k, v in kw.items()}
    return template.format(**clean)


def _reasons(contributions: list, values: dict, na: int, period: int, recent: int) -> list[str]:
    """Reason sentences per account, strongest contribution first (loops over flagged only)."""
    if not contributions:
        return [""] * na
    parts = np.stack([c[1] for c in contributions])  # signals x accounts
    fired_any = np.flatnonzero(parts.max(axis=0) > 0)
    out = [""] * na
    pname = _period_name(period)
    # per fired account: the signals strongest first, and as Python lists (one conversion
    # per column instead of a numpy scalar per sentence)
    orders = np.argsort(-parts[:, fired_any], axis=0, kind="stable").T.tolist()
    fired = [c[2][fired_any].tolist() for c in contributions]
    figures = [
        [np.asarray(values[c[0].metric][j], float)[fired_any].tolist() for j in range(3)]
        for c in contributions
    ]
    for pos, a in enumerate(fired_any.tolist()):  # few accounts, and each needs text
        texts = []
        for s in orders[pos]:
            if not fired[s][pos]:
                continue
            value, cur, prev = (figures[s][j][pos] for j in range(3))
            texts.append(
                _fmt(
                    contributions[s][0].reason,
                    value=value,
                    current=cur,
                    previous=prev,
                    period=pname,
                    period_days=period,
                    recent_days=recent,
                )
            )
        out[a] = "; ".join(texts)
    return out


def _deductions_by_reason(led: Ledger, ded: np.ndarray, now: np.ndarray) -> pa.Table:
    """Deductions per currency and reason; ``ded`` indexes the deduction events of this or the
    previous period, ``now`` tells which are of this one."""
    nr, nk = max(len(led.reasons), 1), max(len(led.currencies), 1)
    code = led.currency_code[led.ev_inv[ded]] * nr + np.maximum(led.ev_reason[ded], 0)
    adj = led.ev_adj[ded]
    cnt = _gcount(code, nk * nr, now)
    amt = sums_by_code(code, adj, nk * nr, now)
    cnt0 = _gcount(code, nk * nr, ~now)
    amt0 = sums_by_code(code, adj, nk * nr, ~now)
    cells = np.flatnonzero((cnt > 0) | (cnt0 > 0))
    reasons = led.reasons.to_pylist() or [""]
    label = [r.split(":", 1)[1] if ":" in r else r for r in reasons]
    table = pa.table(
        {
            "currency": led.currencies.take(pa.array(cells // nr))
            if len(cells)
            else pa.array([], pa.string()),
            "reason": pa.array([label[c % nr] for c in cells], pa.string()),
            "count": cnt[cells],
            "amount": amt[cells],
            "prev_count": cnt0[cells],
            "prev_amount": amt0[cells],
        },
        schema=S.DEDUCTIONS_BY_REASON,
    )
    return table.sort_by(
        [("currency", "ascending"), ("amount", "descending"), ("reason", "ascending")]
    )


def receivables(
    *,
    invoices: pa.Table,
    payments: pa.Table,
    allocations: pa.Table,
    as_of: date,
    period_days: int = 90,
    adjustments: pa.Table | None = None,
    promises: pa.Table | None = None,
    customers: pa.Table | None = None,
    risk: RiskModel | None = None,
) -> Receivables:
    """One call: build the ledger of the history and analyse it as of ``as_of``."""
    led = build_ledger(
        invoices=invoices,
        payments=payments,
        allocations=allocations,
        adjustments=adjustments,
        promises=promises,
        customers=customers,
    )
    return analyse(led, as_of=as_of, period_days=period_days, risk=risk)


def open_items(ledger: Ledger, *, as_of: date, account: int | None = None) -> pa.Table:
    """Open invoices as of ``as_of`` with their days past due (for account views / GetAccount)."""
    A = day_number(as_of)
    open_a = ledger.open_at(A)
    keep = (ledger.issue <= A) & (open_a != 0)
    if account is not None:
        keep &= ledger.account == account
    idx = np.flatnonzero(keep)
    return pa.table(
        {
            "invoice_id": S.take(ledger.invoice_id, idx),
            "currency": ledger.currencies.take(pa.array(ledger.currency_code[idx])),
            "amount": ledger.amount[idx],
            "open": open_a[idx],
            "issue_date": pa.array(ledger.issue[idx].astype(np.int32), pa.date32()),
            "due_date": pa.array(ledger.due[idx].astype(np.int32), pa.date32()),
            "days_past_due": (A - ledger.due[idx]).astype(np.int64),
        }
    )
