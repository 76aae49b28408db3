"""The service: every decision and every rule of the server, as plain Python.

The gRPC servicers (:mod:`cashmatch.server.servicers`) and the reviewers' web page are thin
adapters over :class:`LedgerService`; a decision has exactly one implementation here. Inputs and
outputs are plain dataclasses and Arrow tables in the schemas of :mod:`cashmatch.engine.schema`;
amounts cross this boundary as exact decimal strings (``"1234.50"``) where a person or a client
typed them, and as int64 minor units inside tables. Errors are :mod:`cashmatch.engine.errors`
exceptions, each carrying its gRPC status code.

Guarantees (``spec/grpc.md``):

- *Idempotent*: a statement is keyed by its idempotency key and by the SHA-256 of its content;
  a repeat returns the first result with ``duplicate=True`` and changes nothing. A payment id is
  stored once, so it is never applied twice, whichever file it arrives in.
- *Durable*: every effect of a call is committed in one transaction before the call returns.
- *Serialised*: read-match-write of a submission runs in one write transaction, so two
  concurrent submissions cannot allocate the same open amount; two reviewers resolving the same
  exception: the second gets :class:`AlreadyResolved` (who and when).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import struct
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cashmatch.engine import schema as S
from cashmatch.engine.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidInput,
    NotFound,
    RowProblem,
)
from cashmatch.engine.ledger import PreparedLedger, prepare_ledger
from cashmatch.engine.money import MAX_EXPONENT, format_minor, to_minor
from cashmatch.engine.policy import Policy
from cashmatch.engine.result import MatchResult, Summary, credits_only, summarize
from cashmatch.server.store import (
    SORTS,
    AuditEntry,
    ExceptionQuery,
    ExceptionRecord,
    StatementRecord,
    Store,
    content_hash,
    utcnow,
)

# Payment statuses (as stored and returned).
APPLIED = "APPLIED"  # fully applied to invoices (by the engine or a reviewer)
PARTIALLY_APPLIED = "PARTIALLY_APPLIED"  # some cash applied, the rest waits in an exception
UNAPPLIED = "UNAPPLIED"  # nothing applied, an open exception
ON_ACCOUNT = "ON_ACCOUNT"  # (the rest of) the cash is held as a credit on a customer's account
REFUND = "REFUND"  # to be returned to the payer
WRITTEN_OFF = "WRITTEN_OFF"  # the unapplied cash was written off
IGNORED = "IGNORED"  # a debit or reversal: stored, never applied
DUPLICATE = "DUPLICATE"  # response only: the payment id was already received earlier

# Reviewer actions.
ACTIONS = ("APPLY", "ON_ACCOUNT", "REFUND", "WRITE_OFF")
ENGINE_ACTOR = "cashmatch"
MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 50


class AlreadyResolved(FailedPrecondition):
    """The exception was already resolved: says by whom and when (gRPC FAILED_PRECONDITION)."""

    def __init__(self, payment_id: str, *, resolved_by: str, resolved_at: str, resolution: str):
        super().__init__(
            f"the exception of payment {payment_id} was already resolved ({resolution}) by "
            f"{resolved_by} at {resolved_at}"
        )
        self.payment_id = payment_id
        self.resolved_by = resolved_by
        self.resolved_at = resolved_at
        self.resolution = resolution


# --------------------------------------------------------------------------- data


@dataclass(frozen=True, slots=True)
class AllocationInput:
    """One line of a reviewer's APPLY: amounts as exact decimal strings in the payment's
    currency (``"1234.50"``)."""

    invoice_id: str
    applied_amount: str | Decimal
    adjustment_amount: str | Decimal = "0"
    adjustment_reason: str | None = None


@dataclass(slots=True)
class SubmitResult:
    """What SubmitStatement / SubmitRemittance return.

    ``payments`` has one row per payment of the file: ``payment_id, status, amount, currency,
    value_date, payer_name, first_statement_id`` (``status`` is ``DUPLICATE`` for an id received
    before, in ``first_statement_id``). ``allocations`` / ``exceptions`` are what this submission
    did, in :data:`schema.ALLOCATIONS` / :data:`schema.EXCEPTIONS`.
    """

    statement_id: str
    duplicate: bool
    payments: pa.Table
    allocations: pa.Table
    exceptions: pa.Table
    summary: Summary
    problems: list[RowProblem] = field(default_factory=list)
    received_at: str = ""
    format: str = ""


@dataclass(slots=True)
class ExceptionPage:
    """One page of the reviewers' queue."""

    items: list[ExceptionRecord]
    next_page_token: str  # "" on the last page
    total: int  # items matching the filters
    counts_by_reason: dict[str, int]  # over the filters except ``reason``


@dataclass(slots=True)
class PaymentView:
    """One payment with everything a reviewer or a client asks about it."""

    payment: dict[str, Any]  # schema.PAYMENTS fields + status + customer_id
    status: str
    allocations: pa.Table  # schema.ALLOCATIONS + created_by, created_at
    exception: ExceptionRecord | None  # the open one, else the latest resolved one
    remittances: pa.Table  # schema.REMITTANCES linked to this payment
    audit: list[AuditEntry]
    unapplied_amount: int  # minor units not applied to invoices


@dataclass(slots=True)
class AccountView:
    """One customer's AR status (GetAccount)."""

    customer_id: str
    customer_name: str | None
    as_of: date
    period_days: int
    accounts: pa.Table  # schema.ACCOUNTS rows of the customer (one per currency)
    aging: pa.Table  # schema.AGING rows of the customer
    open_items: pa.Table | None  # engine.receivables.open_items rows, most overdue first
    open_exceptions: list[ExceptionRecord]
    open_exceptions_total: int
    undated_items: pa.Table | None = None  # open invoices without issue_date (schema.INVOICES)
    promises: list[dict[str, Any]] = field(default_factory=list)  # store rows plus "status"


@dataclass(slots=True)
class ParsedFile:
    format: str
    payments: pa.Table
    remittances: pa.Table
    problems: list[RowProblem]


# --------------------------------------------------------------------------- parsing


def _parse_statement(content: bytes, filename: str, format: str | None) -> ParsedFile:
    """Bank file -> payments (+ remittances, e.g. CAMT.054). The one place that knows the
    parsers: :func:`cashmatch.parsers.parse_file` sniffs the format unless ``format`` names it.
    """
    from cashmatch.parsers import parse_file

    res = parse_file(
        content, format=(format or None), source=filename or "<content>", kind="payments"
    )
    return ParsedFile(res.format, res.payments, res.remittances, list(res.problems))


def _parse_remittance(
    content: bytes, filename: str, format: str | None, store: Store
) -> ParsedFile:
    """Remittance advice (CSV, Parquet, EDI 820, CAMT.054) -> remittance lines.

    Interchange lines without a currency column take their payment's currency (looked up
    among the payments already received)."""
    from cashmatch.parsers import parse_file

    res = parse_file(
        content,
        format=(format or None),
        source=filename or "<content>",
        kind="remittances",
        currency_of=lambda lines: _stored_currencies(lines, store),
    )
    return ParsedFile(res.format, S.empty(S.PAYMENTS), res.remittances, list(res.problems))


def _stored_currencies(lines: pa.Table, store: Store) -> pa.Array:
    from cashmatch.engine.interchange import currencies_of, link_keys

    ids, e2e = link_keys(lines)
    known = store.payments(ids)
    if e2e:
        known = pa.concat_tables([known, store.payments_by_end_to_end(e2e)])
    return currencies_of(known)(lines)


def _raw_lines(content: bytes, column: str) -> list[tuple[int, str | None]]:
    """``(line, value)`` of one column of a CSV (header = line 1), for problem reports."""
    import pyarrow.csv as pacsv

    if content[:4] == b"PAR1":
        import pyarrow.parquet as pq

        values = pq.read_table(io.BytesIO(content), columns=[column]).column(0).to_pylist()
        return [(i + 1, v) for i, v in enumerate(values)]
    try:
        raw = pacsv.read_csv(
            io.BytesIO(content),
            convert_options=pacsv.ConvertOptions(
                include_columns=[column], column_types={column: pa.string()}
            ),
            parse_options=pacsv.ParseOptions(newlines_in_values=False),
        )
    except (pa.ArrowInvalid, KeyError):
        return []
    return [(i + 2, (v or "").strip() or None) for i, v in enumerate(raw.column(0).to_pylist())]


# --------------------------------------------------------------------------- snapshots


def _ipc(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def _from_ipc(data: bytes) -> pa.Table:
    return pa.ipc.open_stream(data).read_all()


def _pack_result(result: SubmitResult) -> bytes:
    header = {
        "summary": asdict(result.summary),
        "problems": [asdict(p) for p in result.problems],
        "format": result.format,
    }
    parts = [
        json.dumps(header).encode(),
        _ipc(result.payments),
        _ipc(result.allocations),
        _ipc(result.exceptions),
    ]
    return b"CMR1" + b"".join(struct.pack("<Q", len(p)) + p for p in parts)


def _unpack_result(record: StatementRecord) -> SubmitResult:
    data = record.result
    if data[:4] != b"CMR1":
        raise FailedPrecondition(f"statement {record.statement_id}: unknown result format")
    pos, parts = 4, []
    while pos < len(data):
        (n,) = struct.unpack_from("<Q", data, pos)
        parts.append(data[pos + 8 : pos + 8 + n])
        pos += 8 + n
    header = json.loads(parts[0])
    return SubmitResult(
        statement_id=record.statement_id,
        duplicate=True,
        payments=_from_ipc(parts[1]),
        allocations=_from_ipc(parts[2]),
        exceptions=_from_ipc(parts[3]),
        summary=Summary(**header["summary"]),
        problems=[RowProblem(**p) for p in header["problems"]],
        received_at=record.received_at,
        format=header.get("format", record.format),
    )


# --------------------------------------------------------------------------- helpers


def _decimal_e4(text: str | Decimal | None, name: str) -> int | None:
    if text is None or (isinstance(text, str) and not text.strip()):
        return None
    try:
        value = Decimal(str(text).strip())
    except InvalidOperation:
        raise InvalidInput(f"{name}: expected a decimal amount like 100.00, got {text!r}") from None
    scaled = value.scaleb(MAX_EXPONENT)
    if not value.is_finite() or scaled != scaled.to_integral_value():
        raise InvalidInput(f"{name}: expected a decimal amount like 100.00, got {text!r}")
    return int(scaled)


def _statuses(payment_ids: pa.Array | pa.ChunkedArray, result: MatchResult) -> np.ndarray:
    """Per payment: APPLIED / PARTIALLY_APPLIED / UNAPPLIED from the match result (vectorised)."""
    has_alloc = np.asarray(
        pc.is_in(payment_ids, value_set=result.allocations.column("payment_id").combine_chunks()),
        dtype=bool,
    )
    has_exc = np.asarray(
        pc.is_in(payment_ids, value_set=result.exceptions.column("payment_id").combine_chunks()),
        dtype=bool,
    )
    out = np.full(len(payment_ids), UNAPPLIED, dtype=object)
    out[has_alloc & ~has_exc] = APPLIED
    out[has_alloc & has_exc] = PARTIALLY_APPLIED
    return out


def _customer_of_payments(
    payment_ids: pa.Array | pa.ChunkedArray, result: MatchResult, invoices: pa.Table
) -> list[str | None]:
    """The identified customer: the exception's, else the customer of the invoices applied."""
    exc = result.exceptions.select(["payment_id", "customer_id"]).rename_columns(["p", "c1"])
    inv = invoices.select(["invoice_id", "customer_id"])
    al = result.allocations.select(["payment_id", "invoice_id"]).join(inv, "invoice_id")
    al = al.group_by("payment_id").aggregate([("customer_id", "min")])
    al = al.rename_columns(["p", "c2"])
    t = pa.table({"p": payment_ids}).join(exc, "p", join_type="left outer")
    t = t.join(al, "p", join_type="left outer")
    t = t.join(pa.table({"p": payment_ids, "i": np.arange(len(payment_ids))}), "p")
    t = t.sort_by("i")
    return pc.coalesce(t.column("c1"), t.column("c2")).to_pylist()


def _nothing_open(payments: pa.Table) -> MatchResult:
    """Every credit an exception: the ledger has no open invoice."""
    credits = credits_only(S.conform(payments, S.PAYMENTS))
    n = credits.num_rows
    exceptions = pa.Table.from_pydict(
        {
            "payment_id": credits.column("payment_id"),
            "reason": pa.array([S.NO_CANDIDATE] * n, pa.string()),
            "unapplied_amount": credits.column("amount"),
            "candidates": pa.array([[]] * n, pa.list_(pa.string())),
            "detail": pa.array(["The ledger has no open invoices."] * n, pa.string()),
            "currency": credits.column("currency"),
            "candidate_scores": pa.array([[]] * n, pa.list_(pa.float64())),
            "customer_id": pa.nulls(n, pa.string()),
        },
        schema=S.EXCEPTIONS,
    )
    allocations = S.empty(S.ALLOCATIONS)
    return MatchResult(allocations, exceptions, summarize(credits, allocations, exceptions))


# --------------------------------------------------------------------------- the service


def _iso_date_field(name: str, text: str | None) -> date:
    try:
        return date.fromisoformat((text or "").strip())
    except ValueError:
        raise InvalidInput(f"{name}: expected a date YYYY-MM-DD, got {text!r}") from None


def _names_with_invoice_names(customers: pa.Table, invoices: pa.Table) -> pa.Table:
    """Customer master names, completed by the names on invoices of customers not in it."""
    named = invoices.filter(pc.invert(pc.is_null(invoices.column("customer_name"))))
    extra = named.group_by("customer_id").aggregate([("customer_name", "max")])
    extra = extra.filter(
        pc.invert(pc.is_in(extra.column("customer_id"), value_set=customers.column("customer_id")))
    )
    if extra.num_rows == 0:
        return customers
    names = pa.schema([("customer_id", pa.string()), ("name", pa.string())])
    master = customers.select(["customer_id", "name"]).cast(names)
    add = pa.table([extra.column("customer_id"), extra.column("customer_name_max")], schema=names)
    return pa.concat_tables([master, add])


class LedgerService:
    """Every RPC's and every reviewer page's behaviour, over one :class:`Store`."""

    def __init__(
        self,
        store: Store,
        *,
        policy: Policy | None = None,
        executor: object | None = None,
        risk: Any | None = None,
    ) -> None:
        self.store = store
        self.policy = policy or Policy()
        self.executor = executor
        self._cache_lock = threading.Lock()
        self._ledger_build_lock = threading.Lock()
        self._ledger_cache: tuple[int, PreparedLedger] | None = None
        self.risk = risk
        self._ar_cache: tuple[int, Any] | None = None
        self._ar_build_lock = threading.Lock()
        self._ar_results: dict[tuple[int, date, int], Any] = {}

    # ------------------------------------------------------------------ ledger cache

    def ledger(self) -> tuple[pa.Table, pa.Table]:
        """(open invoices, customers with accounts/aliases), cached per store version."""
        prepared = self.prepared_ledger()
        return prepared.invoices, prepared.customers

    def ledger_is_prepared(self) -> bool:
        """Is the prepared ledger of the store's current version at hand (no build to wait for)?"""
        return self.ledger_at_hand() is not None

    def ledger_at_hand(self) -> PreparedLedger | None:
        """The prepared ledger of the store's current version when it is at hand (no build to
        wait for), else None; one read of the version (~30-60 us of a served call's CPU)."""
        cached = self._ledger_cache
        if cached is None or cached[0] != self.store.ledger_version():
            return None
        return cached[1]

    def prepared_version(self) -> int | None:
        """The store version of the prepared ledger at hand (None before the first); no read of
        the store."""
        cached = self._ledger_cache
        return None if cached is None else cached[0]

    def prepared_ledger(self) -> PreparedLedger:
        """The open invoices and customers (with remembered payer mappings) prepared for the
        engine, once per store version. Any committed write moves the version (upserts,
        applied cash, remembered mappings); the tables are read again and, when only open
        amounts changed (a partial payment), the keys and customer index are kept."""
        version = self.store.ledger_version()
        cached = self._ledger_cache
        if cached is not None and cached[0] == version:
            return cached[1]
        with self._ledger_build_lock:  # one build per version, however many callers wait
            cached = self._ledger_cache
            if cached is not None and cached[0] == version:
                return cached[1]
            invoices = self.store.open_invoices()
            customers = self.store.customers()
            prepared = (
                prepare_ledger(invoices=invoices, customers=customers)
                if cached is None
                else cached[1].refreshed(invoices=invoices, customers=customers)
            )
            self._ledger_cache = (version, prepared)
        return prepared

    def _run_match(
        self,
        *,
        ledger: PreparedLedger,
        payments: pa.Table,
        remittances: pa.Table | None,
        policy: Policy | None = None,
    ) -> MatchResult:
        from cashmatch.engine.matcher import match as engine_match

        if ledger.invoices.num_rows == 0:
            # nothing can be applied; answered here because the engine trips over an empty
            # ledger today (IndexError in identify_payers; reported)
            return _nothing_open(payments)
        return engine_match(
            ledger=ledger,
            payments=payments,
            remittances=remittances,
            policy=policy or self.policy,
            executor=self.executor,
        )

    # ------------------------------------------------------------------ stateless match

    def match(
        self,
        *,
        invoices: pa.Table | None,
        payments: pa.Table,
        remittances: pa.Table | None = None,
        customers: pa.Table | None = None,
        policy: Policy | None = None,
        use_ledger: bool = False,
        ledger: PreparedLedger | None = None,
    ) -> MatchResult:
        """Match without storing anything.

        With ``use_ledger`` the server's open invoices and customers (with remembered payer
        mappings) are used and ``invoices``/``customers`` must be empty: ``ledger``, when the
        caller holds them prepared (:meth:`ledger_at_hand`), else :meth:`prepared_ledger`.
        """
        carried = (invoices is not None and invoices.num_rows) or (
            customers is not None and customers.num_rows
        )
        if use_ledger and carried:
            raise InvalidInput("use_ledger: send either invoices/customers or use_ledger")
        dup = pc.count_distinct(payments.column("payment_id")).as_py() != payments.num_rows
        if dup:
            raise InvalidInput("payments: payment_id values must be unique within a request")
        if use_ledger:
            ledger = ledger or self.prepared_ledger()
        else:
            ledger = prepare_ledger(
                invoices=S.empty(S.INVOICES) if invoices is None else invoices,
                customers=customers,
            )
        return self._run_match(
            ledger=ledger, payments=payments, remittances=remittances, policy=policy
        )

    # ------------------------------------------------------------------ ledger upserts

    def upsert_invoices(
        self,
        *,
        invoices: pa.Table,
        closed: Sequence[bool] | np.ndarray | None = None,
        actor: str = ENGINE_ACTOR,
    ) -> int:
        """Insert or replace open invoices (the client's open amount replaces ours).

        An invoice with amount 0 or ``closed`` is closed. Within one call the last row of an
        invoice id wins.
        """
        t = S.conform(invoices, S.INVOICES)
        n = t.num_rows
        flags = np.zeros(n, dtype=bool) if closed is None else np.asarray(closed, dtype=bool)
        if len(flags) != n:
            raise InvalidInput("closed: one flag per invoice")
        amounts = np.asarray(t.column("amount"), dtype=np.int64)
        neg = np.flatnonzero(amounts < 0)
        if len(neg):
            raise InvalidInput(
                f"invoices[{int(neg[0])}].amount: must not be negative "
                f"(invoice {t.column('invoice_id')[int(neg[0])].as_py()})"
            )
        flags = flags | (amounts == 0)
        # last row of an id wins
        ids = t.column("invoice_id").to_numpy(zero_copy_only=False)
        _, first_rev = np.unique(ids[::-1], return_index=True)
        keep = np.sort(n - 1 - first_rev)
        if len(keep) != n:
            t = t.take(pa.array(keep))
            flags = flags[keep]
        at = utcnow()
        with self.store.transaction():
            count = self.store.upsert_invoices(t, closed=flags, at=at)
            self.store.append_audit(
                actor=actor,
                action="UPSERT_INVOICES",
                entity="ledger",
                entity_id="invoices",
                detail={"upserted": count, "closed": int(flags.sum())},
                at=at,
            )
        return count

    def upsert_customers(self, *, customers: pa.Table, actor: str = ENGINE_ACTOR) -> int:
        """Insert or replace customers; master accounts/aliases are replaced, remembered
        (reviewer) mappings are kept."""
        t = S.conform(customers, S.CUSTOMERS)
        at = utcnow()
        with self.store.transaction():
            count = self.store.upsert_customers(t, at=at)
            self.store.append_audit(
                actor=actor,
                action="UPSERT_CUSTOMERS",
                entity="ledger",
                entity_id="customers",
                detail={"upserted": count},
                at=at,
            )
        return count

    # ------------------------------------------------------------------ statements

    def submit_statement(
        self,
        *,
        content: bytes,
        filename: str = "",
        format: str | None = None,
        idempotency_key: str | None = None,
        submitted_by: str = ENGINE_ACTOR,
        strict: bool = False,
    ) -> SubmitResult:
        """Parse a bank file, match its new credits against the ledger, store it all.

        A repeat (same idempotency key, or same content) returns the first result with
        ``duplicate=True``. The same key with different content is ``AlreadyExists``. Rows that
        cannot be read are returned as ``problems`` and the other rows go on (``strict``: any
        problem rejects the whole file). Payment ids already received are not applied again
        (status ``DUPLICATE``).
        """
        if not content:
            raise InvalidInput(f"{filename or 'content'}: the file is empty")
        key = (idempotency_key or "").strip() or None
        digest = content_hash(content)
        first = self._replay(kind="statement", key=key, digest=digest, filename=filename)
        if first is not None:
            return first
        parsed = _parse_statement(content, filename, format)
        self._check_problems(parsed, filename, strict=strict, rows=parsed.payments.num_rows)
        payments = parsed.payments
        # a payment id repeated inside the file: the first row counts, the others are problems
        ids = payments.column("payment_id").to_numpy(zero_copy_only=False)
        _, first_idx = np.unique(ids, return_index=True)
        if len(first_idx) != len(ids):
            repeat = np.setdiff1d(np.arange(len(ids)), first_idx)
            lines = payments.column("source_line").to_pylist()
            raw_lines = _raw_lines(content, "payment_id")
            for i in repeat:
                line = lines[i]
                if line is None:  # the n-th occurrence of the id in the raw file
                    nth = int((ids[: i + 1] == ids[i]).sum())
                    found = [n for n, v in raw_lines if v == ids[i]]
                    line = found[nth - 1] if len(found) >= nth else None
                parsed.problems.append(
                    RowProblem(
                        filename or "<content>",
                        line,
                        "payment_id",
                        f"payment id {ids[i]!r} repeats an earlier row; ignored",
                    )
                )
            payments = payments.take(pa.array(np.sort(first_idx)))
        at = utcnow()
        with self.store.transaction():
            first = self._replay(kind="statement", key=key, digest=digest, filename=filename)
            if first is not None:  # a concurrent submission of the same file won
                return first
            statement_id = f"st_{digest[:24]}"
            known = self.store.known_payment_ids(payments.column("payment_id").to_pylist())
            is_new = np.asarray(
                [pid not in known for pid in payments.column("payment_id").to_pylist()],
                dtype=bool,
            )
            new = payments.filter(pa.array(is_new))
            credits = credits_only(new)
            ledger = self.prepared_ledger()
            remittances = self._linked_remittances(credits, parsed.remittances, statement_id)
            result = self._run_match(ledger=ledger, payments=credits, remittances=remittances)
            status = np.full(new.num_rows, IGNORED, dtype=object)
            cust: list[str | None] = [None] * new.num_rows
            credit_mask = np.asarray(
                pc.is_in(new.column("payment_id"), value_set=credits.column("payment_id")), bool
            )
            status[credit_mask] = _statuses(credits.column("payment_id"), result)
            for i, c in zip(
                np.flatnonzero(credit_mask),
                _customer_of_payments(credits.column("payment_id"), result, ledger.invoices),
                strict=True,
            ):
                cust[i] = c
            self.store.insert_payments(
                new, status=list(status), customer_ids=cust, submission_id=statement_id, at=at
            )
            self.store.insert_allocations(result.allocations, by=ENGINE_ACTOR, at=at)
            self.store.insert_exceptions(result.exceptions, at=at)
            self._audit_received(new, status, result, statement_id, at)
            out = SubmitResult(
                statement_id=statement_id,
                duplicate=False,
                payments=self._payment_rows(payments, new, status, known, statement_id),
                allocations=result.allocations,
                exceptions=result.exceptions,
                summary=result.summary,
                problems=parsed.problems,
                received_at=at,
                format=parsed.format,
            )
            self._record_submission(
                out, kind="statement", key=key, digest=digest, filename=filename,
                submitted_by=submitted_by,
                detail={"payments": len(ids), "new": int(is_new.sum())},
            )
        return out

    def submit_remittance(
        self,
        *,
        content: bytes,
        filename: str = "",
        format: str | None = None,
        idempotency_key: str | None = None,
        submitted_by: str = ENGINE_ACTOR,
        strict: bool = False,
    ) -> SubmitResult:
        """Store remittance advice lines; payments they name that wait unapplied in an open
        exception are matched again with the advice (re-opened matching). Lines whose payment
        has not arrived yet are kept and used when it does. Idempotent like statements."""
        if not content:
            raise InvalidInput(f"{filename or 'content'}: the file is empty")
        key = (idempotency_key or "").strip() or None
        digest = content_hash(content)
        first = self._replay(kind="remittance", key=key, digest=digest, filename=filename)
        if first is not None:
            return first
        parsed = _parse_remittance(content, filename, format, self.store)
        self._check_problems(parsed, filename, strict=strict, rows=parsed.remittances.num_rows)
        at = utcnow()
        with self.store.transaction():
            first = self._replay(kind="remittance", key=key, digest=digest, filename=filename)
            if first is not None:
                return first
            statement_id = f"rm_{digest[:24]}"
            rem = parsed.remittances
            self.store.insert_remittances(rem, statement_id=statement_id)
            ids = [x for x in rem.column("payment_id").to_pylist() if x]
            e2e = [x for x in rem.column("end_to_end_id").to_pylist() if x]
            linked = self.store.payments(ids)
            if e2e:
                linked = pa.concat_tables([linked, self.store.payments_by_end_to_end(e2e)])
            waiting = linked.filter(pc.equal(linked.column("status"), UNAPPLIED))
            waiting = (
                waiting.take(
                    pa.array(
                        np.unique(
                            waiting.column("payment_id").to_numpy(zero_copy_only=False),
                            return_index=True,
                        )[1]
                    )
                )
                if waiting.num_rows
                else waiting
            )
            result = self._rematch(waiting, at)
            status = _statuses(waiting.column("payment_id"), result) if waiting.num_rows else []
            rows = pa.table(
                {
                    "payment_id": waiting.column("payment_id"),
                    "status": pa.array(list(status), pa.string()),
                    "amount": waiting.column("amount"),
                    "currency": waiting.column("currency"),
                    "value_date": waiting.column("value_date"),
                    "payer_name": waiting.column("payer_name"),
                    "first_statement_id": pa.nulls(waiting.num_rows, pa.string()),
                }
            )
            out = SubmitResult(
                statement_id=statement_id,
                duplicate=False,
                payments=rows,
                allocations=result.allocations,
                exceptions=result.exceptions,
                summary=result.summary,
                problems=parsed.problems,
                received_at=at,
                format=parsed.format,
            )
            self._record_submission(
                out, kind="remittance", key=key, digest=digest, filename=filename,
                submitted_by=submitted_by,
                detail={"lines": rem.num_rows, "rematched": waiting.num_rows},
            )
        return out

    def _record_submission(
        self, out: SubmitResult, *, kind: str, key: str, digest: str, filename: str,
        submitted_by: str, detail: dict[str, int],
    ) -> None:
        """Store a submitted file's result (what a retry gets back) and its audit line, inside
        the caller's transaction."""
        self.store.insert_statement(
            StatementRecord(out.statement_id, kind, key, digest, filename, out.format,
                            out.received_at, submitted_by, _pack_result(out))
        )
        self.store.append_audit(
            actor=submitted_by,
            action=f"SUBMIT_{kind.upper()}",
            entity="statement",
            entity_id=out.statement_id,
            detail={"filename": filename, "idempotency_key": key, **detail,
                    "problems": len(out.problems)},
            at=out.received_at,
        )

    def _rematch(self, waiting: pa.Table, at: str) -> MatchResult:
        """Match unapplied payments again (inside the caller's transaction); keep what the
        engine now applies, leave the others' exceptions as they are."""
        payments = S.conform(waiting, S.PAYMENTS)
        if payments.num_rows == 0:
            return MatchResult(
                S.empty(S.ALLOCATIONS),
                S.empty(S.EXCEPTIONS),
                summarize(payments, S.empty(S.ALLOCATIONS), S.empty(S.EXCEPTIONS)),
            )
        remittances = self.store.remittances_for(
            payment_ids=payments.column("payment_id").to_pylist(),
            end_to_end_ids=[x for x in payments.column("end_to_end_id").to_pylist() if x],
        )
        result = self._run_match(
            ledger=self.prepared_ledger(), payments=payments, remittances=remittances
        )
        changed = pc.unique(result.allocations.column("payment_id")).to_pylist()
        if not changed:
            return result
        keep_exc = result.exceptions.filter(
            pc.is_in(result.exceptions.column("payment_id"), value_set=pa.array(changed))
        )
        for pid in changed:
            self.store.resolve_exception(
                pid,
                by=ENGINE_ACTOR,
                at=at,
                resolution="REMATCHED",
                note="matched again after a remittance advice arrived",
            )
        self.store.insert_allocations(result.allocations, by=ENGINE_ACTOR, at=at)
        self.store.insert_exceptions(keep_exc, at=at)
        ch = pa.array(changed, pa.string())
        st = _statuses(ch, result)
        self.store.set_payment_statuses(changed, list(st), [None] * len(changed))
        self.store.append_audit_many(
            actor=ENGINE_ACTOR,
            action="REMATCHED",
            entity="payment",
            entity_ids=changed,
            details=[{"status": s} for s in st],
            at=at,
        )
        return result

    def _replay(
        self, *, kind: str, key: str | None, digest: str, filename: str
    ) -> SubmitResult | None:
        record = self.store.find_statement(idempotency_key=key, content_hash=digest, kind=kind)
        if record is None:
            return None
        if key is not None and record.idempotency_key == key and record.content_hash != digest:
            from cashmatch.engine.errors import AlreadyExists

            raise AlreadyExists(
                f"idempotency_key {key!r} was already used for a different file "
                f"({record.filename!r}, statement {record.statement_id}); use a new key"
            )
        return _unpack_result(record)

    @staticmethod
    def _check_problems(parsed: ParsedFile, filename: str, *, strict: bool, rows: int) -> None:
        if parsed.problems and (strict or rows == 0):
            shown = "; ".join(str(p) for p in parsed.problems[:10])
            more = len(parsed.problems) - 10
            raise InvalidInput(
                f"{filename or '<content>'}: {len(parsed.problems)} row(s) could not be read: "
                f"{shown}" + (f"; and {more} more" if more > 0 else "")
            )

    def _linked_remittances(
        self, credits: pa.Table, in_file: pa.Table, statement_id: str
    ) -> pa.Table | None:
        if in_file.num_rows:
            self.store.insert_remittances(in_file, statement_id=statement_id)
        if credits.num_rows == 0:
            return None
        rem = self.store.remittances_for(
            payment_ids=credits.column("payment_id").to_pylist(),
            end_to_end_ids=[x for x in credits.column("end_to_end_id").to_pylist() if x],
        )
        return rem if rem.num_rows else None

    def _audit_received(
        self, new: pa.Table, status: np.ndarray, result: MatchResult, statement_id: str, at: str
    ) -> None:
        if new.num_rows == 0:
            return
        # one thread: each list in the allocations' (payment, invoice) order, run after run
        alloc = result.allocations.group_by("payment_id", use_threads=False).aggregate(
            [("invoice_id", "list")]
        )
        applied = dict(
            zip(
                alloc.column("payment_id").to_pylist(),
                alloc.column("invoice_id_list").to_pylist(),
                strict=True,
            )
        )
        ids = new.column("payment_id").to_pylist()
        self.store.append_audit_many(
            actor=ENGINE_ACTOR,
            action="RECEIVED",
            entity="payment",
            entity_ids=ids,
            details=[
                {"statement_id": statement_id, "status": s, "invoices": applied.get(i, [])}
                for i, s in zip(ids, status, strict=True)
            ],
            at=at,
        )

    @staticmethod
    def _payment_rows(
        payments: pa.Table,
        new: pa.Table,
        status: np.ndarray,
        known: dict[str, str],
        statement_id: str,
    ) -> pa.Table:
        by_id = dict(zip(new.column("payment_id").to_pylist(), status, strict=True))
        ids = payments.column("payment_id").to_pylist()
        return pa.table(
            {
                "payment_id": payments.column("payment_id"),
                "status": pa.array([by_id.get(i, DUPLICATE) for i in ids], pa.string()),
                "amount": payments.column("amount"),
                "currency": payments.column("currency"),
                "value_date": payments.column("value_date"),
                "payer_name": payments.column("payer_name"),
                "first_statement_id": pa.array(
                    [known.get(i, statement_id) for i in ids], pa.string()
                ),
            }
        )

    # ------------------------------------------------------------------ reviewers' queue

    def list_exceptions(
        self,
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        page_token: str | None = None,
        reason: str | None = None,
        customer_id: str | None = None,
        currency: str | None = None,
        min_amount: str | Decimal | None = None,
        max_amount: str | Decimal | None = None,
        older_than_days: int | None = None,
        sort: str = "age",
        status: str = "open",
        today: date | None = None,
    ) -> ExceptionPage:
        """A page of exceptions matching the filters (keyset paging, stable under inserts).

        ``min_amount``/``max_amount`` compare the unapplied amount in major units of each row's
        currency; ``older_than_days`` keeps payments whose value date is more than that many days
        before ``today``. ``sort``: ``age`` (oldest first, default), ``-age``, ``amount``,
        ``-amount``, ``payment_id``, ``reason``, ``customer_id``. ``status``: ``open`` (the queue)
        or ``resolved``.
        """
        if page_size < 0:
            raise InvalidInput("page_size: must not be negative")
        size = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        if sort not in SORTS:
            raise InvalidInput(f"sort: {sort!r} is not one of {sorted(SORTS)}")
        if status not in ("open", "resolved"):
            raise InvalidInput(f"status: expected open or resolved, got {status!r}")
        if older_than_days is not None and older_than_days < 0:
            raise InvalidInput("older_than_days: must not be negative")
        before = None
        if older_than_days is not None:
            before = (today or datetime.now(UTC).date()) - timedelta(days=older_than_days)
            before = before.isoformat()
        query = ExceptionQuery(
            status=status,
            reason=reason or None,
            customer_id=customer_id or None,
            currency=(currency or "").upper() or None,
            min_amount_e4=_decimal_e4(min_amount, "min_amount"),
            max_amount_e4=_decimal_e4(max_amount, "max_amount"),
            value_date_before=before,
        )
        fingerprint = hashlib.sha256(json.dumps([asdict(query), sort]).encode()).hexdigest()[:16]
        after = None
        if page_token:
            try:
                tok = json.loads(base64.urlsafe_b64decode(page_token.encode() + b"=="))
                if tok["f"] != fingerprint:
                    raise InvalidInput(
                        "page_token: belongs to other filters or sort; start again without it"
                    )
                after = (tok["v"], tok["p"])
            except (ValueError, KeyError, TypeError):
                raise InvalidInput("page_token: not a token this server issued") from None
        items = self.store.query_exceptions(query, sort=sort, after=after, limit=size + 1)
        token = ""
        if len(items) > size:
            items = items[:size]
            last = items[-1]
            token = (
                base64.urlsafe_b64encode(
                    json.dumps(
                        {
                            "f": fingerprint,
                            "v": self.store.sort_value(last, sort),
                            "p": last.payment_id,
                        }
                    ).encode()
                )
                .decode()
                .rstrip("=")
            )
        total, counts = self.store.count_exceptions(query)
        return ExceptionPage(items, token, total, counts)

    # ------------------------------------------------------------------ decisions

    def resolve_exception(
        self,
        *,
        payment_id: str,
        action: str,
        allocations: Sequence[AllocationInput] = (),
        customer_id: str | None = None,
        reviewer: str,
        note: str | None = None,
        remember: bool = False,
    ) -> PaymentView:
        """A reviewer's decision on a payment's open exception.

        - ``APPLY``: apply the payment to ``allocations`` (decimal amounts in the payment's
          currency, each at most the invoice's open amount; ``adjustment_amount`` is written off
          against the invoice beside the cash). Cash left over goes on account of the customer
          (``customer_id``, else the engine's identified customer, else the invoices' customer).
        - ``ON_ACCOUNT``: hold the whole unapplied amount as a credit of ``customer_id``.
        - ``REFUND``: to be returned to the payer. ``WRITE_OFF``: written off.

        ``remember`` maps the payer's account and name to the customer, so the matcher identifies
        the next payment from that payer. Raises :class:`AlreadyResolved` when the exception is
        no longer open (who resolved it and when), ``NotFound`` for an unknown payment or
        invoice, ``InvalidInput`` for a malformed decision.
        """
        action = (action or "").strip().upper()
        if action not in ACTIONS:
            raise InvalidInput(f"action: expected one of {', '.join(ACTIONS)}, got {action!r}")
        reviewer = (reviewer or "").strip()
        if not reviewer:
            raise InvalidInput("reviewer: required (who made the decision)")
        if action != "APPLY" and allocations:
            raise InvalidInput(f"allocations: only APPLY takes allocations, not {action}")
        if action == "APPLY" and not allocations:
            raise InvalidInput("allocations: APPLY needs at least one invoice and amount")
        customer_id = (customer_id or "").strip() or None
        at = utcnow()
        with self.store.transaction():
            pay = self.store.payment_row(payment_id)
            if pay is None:
                raise NotFound(f"payment {payment_id!r} not found")
            exc = self.store.exception_of(payment_id)
            if exc is None:
                raise FailedPrecondition(
                    f"payment {payment_id} has no exception to resolve (status {pay['status']})"
                )
            if exc.status != "open":
                raise AlreadyResolved(
                    payment_id,
                    resolved_by=exc.resolved_by or "?",
                    resolved_at=exc.resolved_at or "?",
                    resolution=exc.resolution or "?",
                )
            currency = pay["currency"]
            unapplied = exc.unapplied_amount
            target = customer_id or exc.customer_id
            detail: dict[str, Any] = {"action": action, "note": note, "remember": remember}
            status = {"ON_ACCOUNT": ON_ACCOUNT, "REFUND": REFUND, "WRITE_OFF": WRITTEN_OFF}.get(
                action, APPLIED
            )
            if action == "APPLY":
                table, inv_customers = self._decision_allocations(
                    payment_id, currency, unapplied, allocations
                )
                if target is None and len(inv_customers) == 1:
                    target = next(iter(inv_customers))
                applied = int(pc.sum(table.column("applied_amount")).as_py() or 0)
                rest = unapplied - applied
                if rest > 0:
                    if target is None:
                        raise InvalidInput(
                            f"allocations: {format_minor(rest, currency)} {currency} would stay "
                            "unapplied; apply the whole amount or give customer_id to put the "
                            "rest on account"
                        )
                    status = ON_ACCOUNT
                    detail["on_account"] = format_minor(rest, currency)
                self.store.insert_allocations(table, by=reviewer, at=at)
                detail["allocations"] = [
                    {
                        "invoice_id": r["invoice_id"],
                        "applied_amount": format_minor(r["applied_amount"], currency),
                        "adjustment_amount": format_minor(r["adjustment_amount"], currency),
                        "adjustment_reason": r["adjustment_reason"],
                    }
                    for r in table.to_pylist()
                ]
            elif action == "ON_ACCOUNT":
                if target is None:
                    raise InvalidInput("customer_id: ON_ACCOUNT needs the customer to credit")
                detail["on_account"] = format_minor(unapplied, currency)
            if target is not None and not self.store.customer_exists(target):
                raise NotFound(f"customer_id: customer {target!r} not found")
            detail["customer_id"] = target
            if remember:
                self._remember(pay, target, reviewer, at)
            self.store.resolve_exception(
                payment_id, by=reviewer, at=at, resolution=action, note=note
            )
            self.store.set_payment_status(payment_id, status, customer_id=target)
            self.store.append_audit(
                actor=reviewer,
                action=f"RESOLVE_{action}",
                entity="payment",
                entity_id=payment_id,
                detail=detail,
                at=at,
            )
        return self.get_payment(payment_id)

    def _decision_allocations(
        self,
        payment_id: str,
        currency: str,
        unapplied: int,
        allocations: Sequence[AllocationInput],
    ) -> tuple[pa.Table, set[str]]:
        rows = []
        seen: set[str] = set()
        states = self.store.invoice_states([a.invoice_id for a in allocations])
        for i, a in enumerate(allocations):
            where = f"allocations[{i}]"
            inv_id = (a.invoice_id or "").strip()
            if not inv_id:
                raise InvalidInput(f"{where}.invoice_id: required")
            if inv_id in seen:
                raise InvalidInput(f"{where}.invoice_id: {inv_id} appears twice")
            seen.add(inv_id)
            try:
                amt = to_minor(a.applied_amount, currency)
                adj = to_minor(a.adjustment_amount or "0", currency)
            except InvalidInput as exc:
                raise InvalidInput(f"{where}: {exc}") from None
            if amt <= 0:
                raise InvalidInput(f"{where}.applied_amount: must be positive")
            if adj < 0:
                raise InvalidInput(f"{where}.adjustment_amount: must not be negative")
            if adj and not a.adjustment_reason:
                raise InvalidInput(f"{where}.adjustment_reason: required with an adjustment")
            st = states.get(inv_id)
            if st is None:
                raise NotFound(f"{where}.invoice_id: invoice {inv_id!r} not found")
            if st["currency"] != currency:
                raise InvalidInput(
                    f"{where}.invoice_id: invoice {inv_id} is in {st['currency']}, the payment "
                    f"in {currency}"
                )
            if st["closed"] or st["open_amount"] <= 0:
                raise FailedPrecondition(f"{where}.invoice_id: invoice {inv_id} is closed")
            if amt + adj > st["open_amount"]:
                raise InvalidInput(
                    f"{where}.applied_amount: {format_minor(amt + adj, currency)} exceeds the "
                    f"open amount {format_minor(st['open_amount'], currency)} of {inv_id}"
                )
            rows.append(
                {
                    "payment_id": payment_id,
                    "invoice_id": inv_id,
                    "applied_amount": amt,
                    "adjustment_amount": adj,
                    "adjustment_reason": a.adjustment_reason,
                    "invoice_open_after": st["open_amount"] - amt - adj,
                    "confidence": 1.0,
                    "rule": "reviewer",
                    "currency": currency,
                }
            )
        total = sum(r["applied_amount"] for r in rows)
        if total > unapplied:
            raise InvalidInput(
                f"allocations: {format_minor(total, currency)} applied exceeds the "
                f"{format_minor(unapplied, currency)} {currency} left on payment {payment_id}"
            )
        table = pa.Table.from_pylist(rows, schema=S.ALLOCATIONS)
        return table, {states[r["invoice_id"]]["customer_id"] for r in rows}

    def _remember(
        self, pay: dict[str, Any], customer_id: str | None, reviewer: str, at: str
    ) -> None:
        if customer_id is None:
            raise InvalidInput("remember: needs a customer (customer_id)")
        account, name = pay.get("payer_account"), pay.get("payer_name")
        if not account and not name:
            raise InvalidInput("remember: the payment names no payer account or payer name")
        states = self.store.customers()
        if customer_id not in set(states.column("customer_id").to_pylist()):
            self.store.ensure_customer(customer_id, name=customer_id, at=at)
        self.store.add_payer_mapping(
            customer_id=customer_id, account=account, name=name, by=reviewer, at=at
        )
        self.store.append_audit(
            actor=reviewer,
            action="REMEMBER_PAYER",
            entity="customer",
            entity_id=customer_id,
            detail={"payer_account": account, "payer_name": name, "payment_id": pay["payment_id"]},
            at=at,
        )

    # ------------------------------------------------------------------ ledger reads

    def open_items(
        self,
        *,
        customer_id: str | None = None,
        invoice_ids: Sequence[str] | None = None,
        search: str | None = None,
        limit: int = 200,
    ) -> pa.Table:
        """Open invoices (:data:`schema.INVOICES`, ``amount`` = open amount) of a customer, or
        by id (e.g. an exception's candidates), optionally filtered by a substring of the
        invoice id or PO number. For the reviewer's "other open items" and candidate details."""
        if limit <= 0 or limit > 10_000:
            raise InvalidInput("limit: must be 1..10000")
        return self.store.open_invoices(
            invoice_ids=invoice_ids, customer_id=customer_id, search=search, limit=limit
        )

    # ------------------------------------------------------------------ receivables

    def receivables_ledger(self) -> Any:
        """The store's history as an engine :class:`~cashmatch.engine.receivables.Ledger`,
        built by :func:`~cashmatch.engine.receivables.build_ledger` (the CLI's code path) and
        cached per store version."""
        return self._versioned_ledger()[1]

    def _versioned_ledger(self) -> tuple[int, Any]:
        version = self.store.ledger_version()
        cached = self._ar_cache
        if cached is not None and cached[0] == version:
            return cached
        with self._ar_build_lock:  # one build per version, however many readers wait for it
            cached = self._ar_cache
            if cached is not None and cached[0] == version:
                return cached
            return version, self._build_receivables_ledger(version)

    def _build_receivables_ledger(self, version: int) -> Any:
        from cashmatch.engine.receivables import build_ledger

        h = self.store.history()
        ledger = build_ledger(
            invoices=h.invoices,
            payments=h.payments,
            allocations=h.allocations,
            adjustments=h.adjustments,
            promises=h.promises,
            customers=_names_with_invoice_names(h.customers, h.invoices),
            sources={
                "invoices": "ledger invoices",
                "allocations": "ledger allocations",
                "adjustments": "ledger adjustments",
                "promises": "ledger promises",
            },
        )
        with self._cache_lock:
            self._ar_cache = (version, ledger)
            self._ar_results.clear()
        return ledger

    def get_receivables(self, *, as_of: date | None = None, period_days: int = 90) -> Any:
        """Aging, metrics, accounts and deductions as of ``as_of`` (default: today, UTC):
        :func:`~cashmatch.engine.receivables.analyse` over :meth:`receivables_ledger`."""
        return self._analysis(as_of=as_of, period_days=period_days)[1]

    def _analysis(self, *, as_of: date | None, period_days: int) -> tuple[Any, Any]:
        """(ledger, its analysis as of ``as_of``), both of one store version."""
        from cashmatch.engine.receivables import analyse

        as_of = as_of or datetime.now(UTC).date()
        if period_days < 1 or period_days > 3660:
            raise InvalidInput(f"period_days: must be 1..3660, got {period_days}")
        version, ledger = self._versioned_ledger()
        key = (version, as_of, period_days)
        with self._cache_lock:
            hit = self._ar_results.get(key)
        if hit is not None:
            return ledger, hit
        # one analysis at a time: the engine's Ledger memoises open amounts per day in a plain
        # dict, which concurrent analyses of different dates would race on
        with self._ar_build_lock:
            with self._cache_lock:
                hit = self._ar_results.get(key)
            if hit is not None:
                return ledger, hit
            result = analyse(ledger, as_of=as_of, period_days=period_days, risk=self.risk)
        with self._cache_lock:
            if len(self._ar_results) >= 16 or any(k[0] != version for k in self._ar_results):
                self._ar_results.clear()
            self._ar_results[key] = result
        return ledger, result

    def get_account(
        self, *, customer_id: str, as_of: date | None = None, period_days: int = 90
    ) -> AccountView:
        """One customer's AR status: its accounts (per currency) with behaviour and risk, its
        aging rows, open items with their age, and its open exceptions."""
        from cashmatch.engine.receivables import open_items

        if not customer_id:
            raise InvalidInput("customer_id: required")
        if not self.store.customer_exists(customer_id):
            raise NotFound(f"customer {customer_id!r} not found")
        ledger, result = self._analysis(as_of=as_of, period_days=period_days)
        mine = pc.equal(ledger.account_customer, customer_id)
        codes = np.flatnonzero(np.asarray(mine.to_numpy(zero_copy_only=False), dtype=bool))
        items = [open_items(ledger, as_of=result.as_of, account=int(a)) for a in codes]
        if items:
            table = pa.concat_tables(items)
            table = table.sort_by([("days_past_due", "descending"), ("invoice_id", "ascending")])
        else:
            table = None
        query = ExceptionQuery(status="open", customer_id=customer_id)
        total, _ = self.store.count_exceptions(query)
        exceptions = self.store.query_exceptions(query, sort="age", after=None, limit=100)
        accounts = result.accounts.filter(
            pc.equal(result.accounts.column("customer_id"), customer_id)
        )
        aging = result.aging.filter(pc.equal(result.aging.column("customer_id"), customer_id))
        name = None
        if accounts.num_rows:
            name = accounts.column("customer_name")[0].as_py()
        if name is None:
            master = self.store.customers()
            row = master.filter(pc.equal(master.column("customer_id"), customer_id))
            name = row.column("name")[0].as_py() if row.num_rows else None
        promises = self._promise_statuses(ledger, customer_id, as_of=result.as_of)
        undated = self.store.open_invoices(customer_id=customer_id)
        undated = undated.filter(pc.is_null(undated.column("issue_date")))
        return AccountView(
            undated_items=undated,
            customer_id=customer_id,
            customer_name=name,
            as_of=result.as_of,
            period_days=result.period_days,
            accounts=accounts,
            aging=aging,
            open_items=table,
            open_exceptions=exceptions,
            open_exceptions_total=total,
            promises=promises,
        )

    def _promise_statuses(
        self, ledger: Any, customer_id: str, *, as_of: date
    ) -> list[dict[str, Any]]:
        """The customer's recorded promises with their status as of ``as_of``: PENDING before
        the deadline, then KEPT or BROKEN by the engine's rule (``promise_outcomes``)."""
        from cashmatch.engine.receivables import RiskModel, day_number, promise_outcomes

        rows = self.store.promises_of(customer_id)
        if not rows:
            return rows
        grace = (self.risk or RiskModel.default()).promise_grace_days
        due, kept = promise_outcomes(ledger, as_of=day_number(as_of), grace=grace)
        status = {
            int(pid): ("KEPT" if k else "BROKEN") if d else "PENDING"
            for pid, d, k in zip(ledger.pr_id, due, kept, strict=True)
        }
        # a promise the ledger could not place (no invoice of the customer in its currency yet)
        # has no status
        return [{**r, "status": status.get(r["promise_id"], "")} for r in rows]

    def record_promise(
        self,
        *,
        customer_id: str,
        promised_date: str,
        recorded_by: str,
        invoice_id: str | None = None,
        amount: str | None = None,
        currency: str | None = None,
        made_on: str | None = None,
        note: str | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Store a customer's promise to pay ``amount`` (of ``invoice_id``, else of the
        account) by ``promised_date``; the receivables figures judge it kept or broken.

        Without ``amount`` an invoice's promise is for its open amount; without ``currency``
        it is the invoice's. The same ``idempotency_key`` returns the first promise (with
        different content: ``AlreadyExists``). Returns the stored row."""
        customer_id = (customer_id or "").strip()
        invoice_id = (invoice_id or "").strip() or None
        recorded_by = (recorded_by or "").strip()
        if not customer_id:
            raise InvalidInput("customer_id: required")
        if not recorded_by:
            raise InvalidInput("recorded_by: required (who took the promise)")
        promised = _iso_date_field("promised_date", promised_date)
        made = _iso_date_field("made_on", made_on) if made_on else datetime.now(UTC).date()
        if promised < made:
            raise InvalidInput(f"promised_date: {promised} is before made_on {made}")
        currency = (currency or "").strip().upper() or None
        with self.store.transaction():
            if not self.store.customer_exists(customer_id):
                raise NotFound(f"customer {customer_id!r} not found")
            open_amount = None
            if invoice_id is not None:
                inv = self.store.invoice_states([invoice_id]).get(invoice_id)
                if inv is None:
                    raise NotFound(f"invoice {invoice_id!r} not found")
                if inv["customer_id"] != customer_id:
                    raise InvalidInput(
                        f"invoice_id: {invoice_id} is billed to {inv['customer_id']}, "
                        f"not {customer_id}"
                    )
                if currency not in (None, inv["currency"]):
                    raise InvalidInput(
                        f"currency: invoice {invoice_id} is in {inv['currency']}, not {currency}"
                    )
                currency = inv["currency"]
                open_amount = 0 if inv["closed"] else int(inv["open_amount"])
            elif currency is None:
                raise InvalidInput("currency: required for a promise without invoice_id")
            if amount:
                try:
                    minor = to_minor(amount, currency)
                except InvalidInput as exc:
                    raise InvalidInput(f"amount: {exc}") from None
            elif open_amount is not None:
                minor = open_amount
            else:
                raise InvalidInput("amount: required for a promise without invoice_id")
            if minor <= 0:
                raise InvalidInput(
                    f"amount: must be more than 0, got {format_minor(minor, currency)}"
                )
            promise = {
                "customer_id": customer_id,
                "invoice_id": invoice_id,
                "amount": minor,
                "currency": currency,
                "promised_date": promised.isoformat(),
                "made_on": made.isoformat(),
                "note": (note or "").strip() or None,
                "idempotency_key": (idempotency_key or "").strip() or None,
            }
            if promise["idempotency_key"]:
                first = self.store.promise_by_key(promise["idempotency_key"])
                if first is not None:
                    # made_on defaults to the day of the call: a retry on a later day is the same
                    keys = [k for k in promise if k not in ("note", "made_on")]
                    same = all(first[k] == promise[k] for k in keys)
                    if not same or (made_on and first["made_on"] != promise["made_on"]):
                        raise AlreadyExists(
                            f"idempotency_key {promise['idempotency_key']!r} was used for "
                            f"promise {first['promise_id']} with other content"
                        )
                    return first
            at = utcnow()
            pid = self.store.insert_promise(promise, by=recorded_by, at=at)
            detail = {**promise, "amount": format_minor(minor, currency), "promise_id": pid}
            self.store.append_audit(
                actor=recorded_by,
                action="promise_recorded",
                entity="customer",
                entity_id=customer_id,
                detail=detail,
                at=at,
            )
        return {**promise, "promise_id": pid, "recorded_by": recorded_by, "created_at": at}

    # ------------------------------------------------------------------ payments

    def get_payment(self, payment_id: str) -> PaymentView:
        """A payment with its allocations, exception, remittance lines and audit trail."""
        pay = self.store.payment_row(payment_id)
        if pay is None:
            raise NotFound(f"payment {payment_id!r} not found")
        allocations = self.store.allocations_of(payment_id)
        applied = int(pc.sum(allocations.column("applied_amount")).as_py() or 0)
        return PaymentView(
            payment=pay,
            status=pay["status"],
            allocations=allocations,
            exception=self.store.exception_of(payment_id),
            remittances=self.store.remittances_for(
                payment_ids=[payment_id],
                end_to_end_ids=[pay["end_to_end_id"]] if pay.get("end_to_end_id") else [],
            ),
            audit=self.store.audit_of(payment_id),
            unapplied_amount=pay["amount"] - applied,
        )
