"""``match``: the engine's one entry point. Pure over Arrow tables.

The stages of one partition are :class:`cashmatch.engine.pipeline.DayMatch` (built from
:mod:`normalize`, :mod:`identify`, :mod:`candidates`, :mod:`scoring`, :mod:`subset` and
:mod:`allocate`); this module splits a day into independent partitions by customer group,
runs them on an executor, and checks the invariants on every result.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cashmatch.engine import schema as S
from cashmatch.engine.executors import Executor, LocalExecutor
from cashmatch.engine.identify import identify
from cashmatch.engine.kernel_cache import njit
from cashmatch.engine.ledger import PreparedLedger, gc_paused, prepare_ledger, stage
from cashmatch.engine.normalize import string_parts
from cashmatch.engine.pipeline import DayMatch
from cashmatch.engine.policy import Policy
from cashmatch.engine.result import MatchResult, checked_summary, credits_only


@gc_paused()
def match(
    *,
    invoices: pa.Table | None = None,
    payments: pa.Table,
    remittances: pa.Table | None = None,
    customers: pa.Table | None = None,
    policy: Policy | None = None,
    executor: Executor | None = None,
    partitions: int | None = None,
    ledger: PreparedLedger | None = None,
) -> MatchResult:
    """Apply ``payments`` (bank credits) to open ``invoices``.

    Inputs are tables in (or conformable to) the schemas of :mod:`cashmatch.engine.schema`.
    Debits and reversals in ``payments`` are ignored. Every credit comes back either in
    ``allocations`` or in ``exceptions`` (or both, for a partly applied payment), and
    applied + unapplied equals its amount to the minor unit.

    With an ``executor`` the day is split into ``partitions`` independent parts by customer
    group (default: one per worker, twice over); payments of unknown payers are matched after
    them, against what the parts left open. The same ``partitions`` give the same result on
    every executor.

    ``ledger`` (instead of ``invoices`` and ``customers``) is the ledger side prepared once by
    :func:`cashmatch.engine.ledger.prepare_ledger`, to reuse across calls; the result is the
    same as with the tables it was prepared from.
    """
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    executor = executor or LocalExecutor()
    parts = partitions if partitions is not None else (
        1 if executor.workers <= 1 else 2 * executor.workers
    )
    if ledger is None:
        if invoices is None:
            raise TypeError("match() needs invoices or a prepared ledger")
        # (a match in one part reads only the book: not the invoices in its order)
        ledger = prepare_ledger(invoices=invoices, customers=customers, timings=timings,
                                keep_invoices=parts > 1, single_use=True)
    elif invoices is not None or customers is not None:
        raise TypeError("match() takes invoices and customers or a prepared ledger, not both")
    policy = policy or Policy()
    with stage(timings, "payments"):
        # a canonical order, so that ties fall the same way whatever order the rows came in
        payments = _in_order(credits_only(S.conform(payments, S.PAYMENTS)))
        inputs = _Inputs(
            invoices=None,  # the ledger's, taken in its order only if a partition needs them
            payments=payments,
            remittances=S.conform(remittances, S.REMITTANCES) if remittances is not None
            else None,
            customers=ledger.customers,
            policy=policy,
            ledger=ledger,
        )
    if parts <= 1:
        allocations, exceptions, part_timings = _match_part(inputs, None)
        timings.update(part_timings)
    else:
        allocations, exceptions = _match_partitioned(inputs, executor, parts)
    with stage(timings, "check"):
        result = MatchResult(
            allocations, exceptions, checked_summary(payments, allocations, exceptions)
        )
    result.timings.update(timings)
    result.timings["total"] = time.perf_counter() - t0
    return result


#: the columns of the payments a match reads (of bank credits: :func:`credits_only` applied);
#: the others (the file's name and line, its statement, the transaction code) decide nothing
READ_PAYMENT_COLUMNS = ("payment_id", "value_date", "amount", "currency", "payer_name",
                        "payer_account", "reference", "end_to_end_id")


def read_columns(credits: pa.Table) -> pa.Table:
    """``credits`` (bank credits only) with only the columns a match reads, the others null (no
    memory: :func:`cashmatch.engine.schema.nulls`): the same result, ~58 MB fewer held through
    a match of a million credits read from a file (its name alone: ~38 MB)."""
    return S.conform(credits.select(list(READ_PAYMENT_COLUMNS)), S.PAYMENTS)


def _in_order(payments: pa.Table) -> pa.Table:
    """The payments by value date and id; as they are when they came so (a request's batch
    often does), which saves a copy of every column (~50 us of a 100-payment Match): seen in
    one compiled pass over the two columns when neither has a null (:func:`_rows_in_order`;
    a sort's fixed cost is most of a small batch's), else by the sort."""
    single = all(c.num_chunks <= 1 for c in payments.columns)
    if single and _kept_in_order(payments.column("value_date"), payments.column("payment_id")):
        return payments
    order = np.asarray(pc.sort_indices(
        payments, sort_keys=[("value_date", "ascending"), ("payment_id", "ascending")]))
    if (order == np.arange(len(order))).all() and single:
        return payments
    return payments.take(pa.array(order))


def _kept_in_order(dates: pa.ChunkedArray, ids: pa.ChunkedArray) -> bool:
    """Whether rows of these value dates and payment ids (one chunk each, or none) are known to
    be in (date, id) order already: neither has a null, and :func:`_rows_in_order` says so.
    False says only: sort them."""
    if len(ids) < 2:
        return True
    if dates.null_count or ids.null_count:
        return False
    off, raw = string_parts(ids)
    return _rows_in_order(np.asarray(dates.chunk(0).cast(pa.int32()), np.int64), off, raw)


@njit(cache=True, nogil=True)
def _rows_in_order(days: np.ndarray, offsets: np.ndarray, raw: np.ndarray) -> bool:
    """Whether no row's (day, id) is above the next row's (equal keys are in order: the sort is
    stable): the days as numbers, the ids ``raw[offsets[i]:offsets[i + 1]]`` as Arrow orders
    utf8 strings, byte by byte, a prefix first. Its reference: ``pc.sort_indices`` giving
    the rows' own order (:func:`_in_order`)."""
    for i in range(len(days) - 1):
        if days[i] != days[i + 1]:
            if days[i] > days[i + 1]:
                return False
            continue
        a, c = offsets[i], offsets[i + 1]
        la, lc = c - a, offsets[i + 2] - c
        j = 0
        while j < la and j < lc and raw[a + j] == raw[c + j]:
            j += 1
        if (raw[a + j] > raw[c + j]) if (j < la and j < lc) else la > lc:
            return False
    return True


@dataclass(frozen=True, slots=True)
class _Inputs:
    invoices: pa.Table | None  # None: the ledger's
    payments: pa.Table
    remittances: pa.Table | None
    customers: pa.Table | None
    policy: Policy
    ledger: PreparedLedger | None = None  # invoices and customers, prepared (None: derive)

    def subset(self, inv_rows: np.ndarray | None, pay_rows: np.ndarray) -> _Inputs:
        payments = self.payments.take(pa.array(pay_rows, pa.int64()))
        invoices = self.invoices if inv_rows is None else self.invoices.take(
            pa.array(inv_rows, pa.int64()))
        rem = self.remittances
        if rem is not None and rem.num_rows:
            linked = pc.or_(
                pc.fill_null(pc.is_in(rem.column("payment_id"),
                                      value_set=payments.column("payment_id")), False),
                pc.fill_null(pc.is_in(rem.column("end_to_end_id"),
                                      value_set=pc.drop_null(payments.column("end_to_end_id"))),
                             False),
            )
            rem = rem.filter(linked)
        ledger = self.ledger if inv_rows is None else None  # a part prepares its own
        return _Inputs(invoices, payments, rem, self.customers, self.policy, ledger)


@gc_paused()  # (a Ray worker's part runs here, not through match)
def _match_part(inputs: _Inputs, rows: tuple[np.ndarray | None, np.ndarray] | None
                ) -> tuple[pa.Table, pa.Table, dict[str, float]]:
    """Match one partition (``rows`` = invoice rows, payment rows; None = everything)."""
    part = inputs if rows is None else inputs.subset(*rows)
    ledger = part.ledger or prepare_ledger(invoices=part.invoices, customers=part.customers,
                                           single_use=True)
    day = DayMatch(ledger=ledger, payments=part.payments, remittances=part.remittances,
                   policy=part.policy)
    allocations, exceptions = day.run()
    return allocations, exceptions, day.timings


def _match_partitioned(inputs: _Inputs, executor: Executor, parts: int
                       ) -> tuple[pa.Table, pa.Table]:
    assert inputs.ledger is not None
    inputs = dataclasses.replace(inputs, invoices=inputs.ledger.invoices)
    index = inputs.ledger.index
    ident = identify(payments=inputs.payments, index=index,
                     name_cutoff=inputs.policy.payer_name_cutoff)
    pay_group = index.group_of(ident.customer)
    inv_cust = index.lookup(inputs.invoices.column("customer_id"))
    inv_group = index.group_of(inv_cust)
    # balanced parts: groups sorted by payment count, dealt round-robin
    groups, counts = np.unique(pay_group[pay_group >= 0], return_counts=True)
    part_of_group = np.full(len(index.ids) + 1, -1, dtype=np.int64)
    part_of_group[groups[np.argsort(-counts, kind="stable")]] = np.arange(len(groups)) % parts
    pay_part = np.where(pay_group >= 0, part_of_group[np.maximum(pay_group, 0)], -1)
    inv_part = np.where(inv_group >= 0, part_of_group[np.maximum(inv_group, 0)], -1)
    items = [(np.flatnonzero(inv_part == k), np.flatnonzero(pay_part == k)) for k in range(parts)]
    items = [it for it in items if len(it[1])]
    # the parts prepare their own ledgers (the whole one stays here, out of the object store)
    results = executor.map(_match_part, dataclasses.replace(inputs, ledger=None), items)
    allocs = [r[0] for r in results]
    excs = [r[1] for r in results]
    unknown = np.flatnonzero(pay_part < 0)
    if len(unknown):
        # the payers nobody could identify: against every invoice, net of what the parts used
        done = pa.concat_tables(allocs) if allocs else S.empty(S.ALLOCATIONS)
        used = done.group_by("invoice_id").aggregate(
            [("applied_amount", "sum"), ("adjustment_amount", "sum")])
        idx = pc.index_in(inputs.invoices.column("invoice_id"), value_set=used.column("invoice_id"))
        idx_np = np.asarray(pc.fill_null(idx, -1), np.int64)
        spent = np.asarray(used.column("applied_amount_sum"), np.int64) + np.asarray(
            used.column("adjustment_amount_sum"), np.int64)
        amount = inputs.ledger.book.amount.copy()
        amount[idx_np >= 0] -= spent[idx_np[idx_np >= 0]]
        ledger = inputs.ledger.with_open_amounts(amount)
        rest = dataclasses.replace(inputs, invoices=ledger.invoices, ledger=ledger)
        a, e, _ = _match_part(rest, (None, unknown))
        allocs.append(a)
        excs.append(e)
    return (pa.concat_tables(allocs) if allocs else S.empty(S.ALLOCATIONS),
            pa.concat_tables(excs) if excs else S.empty(S.EXCEPTIONS))
