"""The ledger store: one interface (:class:`Store`), SQLite as the embedded default.

Every decision lives in :mod:`cashmatch.server.service`; the store only keeps and returns
facts. It is written so that a PostgreSQL implementation can provide the same interface:

- writes happen inside ``with store.transaction():`` (SQLite: ``BEGIN IMMEDIATE`` under a
  process-wide lock, so read-match-write of a submission is serialised and two submissions can
  never allocate the same open amount; PostgreSQL: ``SERIALIZABLE`` or an advisory lock);
- bulk data goes in and out as Arrow tables in the schemas of :mod:`cashmatch.engine.schema`
  (``executemany`` over Arrow columns here; ``COPY``/ADBC for PostgreSQL);
- the schema is versioned (table ``schema_migrations``), migrations are applied in order at
  open;
- the audit trail is append-only (triggers refuse UPDATE and DELETE).

Money is int64 minor units throughout; timestamps are ISO 8601 UTC strings.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cashmatch.engine import schema as S
from cashmatch.engine.errors import FailedPrecondition, InvariantViolation
from cashmatch.engine.money import MAX_EXPONENT, exponents_of

# --------------------------------------------------------------------------- records


def utcnow() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True, slots=True)
class StatementRecord:
    """A submitted file (bank statement or remittance advice) and the result first returned."""

    statement_id: str
    kind: str  # "statement" | "remittance"
    idempotency_key: str | None
    content_hash: str
    filename: str
    format: str
    received_at: str
    submitted_by: str
    result: bytes  # opaque snapshot of the first result (the service serialises it)


@dataclass(frozen=True, slots=True)
class ExceptionRecord:
    """One exception of a payment (at most one open per payment)."""

    exception_id: int
    payment_id: str
    reason: str
    unapplied_amount: int
    currency: str
    candidates: list[str]
    candidate_scores: list[float]
    detail: str | None
    customer_id: str | None
    status: str  # "open" | "resolved"
    created_at: str
    resolved_by: str | None = None
    resolved_at: str | None = None
    resolution: str | None = None  # APPLY / ON_ACCOUNT / REFUND / WRITE_OFF / REMATCHED
    note: str | None = None
    value_date: str | None = None  # of the payment (for ageing)
    payer_name: str | None = None
    payer_account: str | None = None
    reference: str | None = None
    amount: int | None = None  # the payment's amount


@dataclass(frozen=True, slots=True)
class AuditEntry:
    seq: int
    at: str
    actor: str
    action: str
    entity: str
    entity_id: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class History:
    """The ledger as a receivables history, in the schemas of :mod:`cashmatch.engine.schema`.

    ``invoices``: every invoice ever received (closed ones too), ``amount`` = the invoiced
    amount; ``payments``: those with allocations (their value date dates the allocation);
    ``allocations``: every allocation; ``adjustments``: reductions the client's ledger made;
    ``promises``: the recorded promises to pay (``schema.PROMISES`` plus ``promise_id``).
    """

    invoices: pa.Table
    payments: pa.Table
    allocations: pa.Table
    adjustments: pa.Table
    customers: pa.Table
    promises: pa.Table


@dataclass(frozen=True, slots=True)
class ExceptionQuery:
    """Filters of the reviewers' queue (all optional; amounts in 1e-4 major units)."""

    status: str = "open"
    reason: str | None = None
    customer_id: str | None = None
    currency: str | None = None
    min_amount_e4: int | None = None
    max_amount_e4: int | None = None
    value_date_before: str | None = None  # ISO date: payments received before this date
    payment_id: str | None = None


SORTS = {
    # name: (column, direction)
    "age": ("value_date", "ASC"),  # oldest first (default)
    "-age": ("value_date", "DESC"),
    "amount": ("amount_e4", "ASC"),
    "-amount": ("amount_e4", "DESC"),
    "payment_id": ("payment_id", "ASC"),
    "reason": ("reason", "ASC"),
    "customer_id": ("customer_id", "ASC"),
}


# --------------------------------------------------------------------------- interface


@runtime_checkable
class Store(Protocol):
    """What the service needs from a ledger store (SQLite here; PostgreSQL can follow)."""

    def transaction(self) -> contextlib.AbstractContextManager[None]:
        """A serialised write transaction; commits on normal exit, rolls back on error."""

    def close(self) -> None: ...

    def schema_version(self) -> int: ...

    # statements
    def find_statement(
        self, *, idempotency_key: str | None, content_hash: str, kind: str
    ) -> StatementRecord | None: ...
    def insert_statement(self, record: StatementRecord) -> None: ...

    # ledger
    def upsert_invoices(self, invoices: pa.Table, *, closed: np.ndarray, at: str) -> int: ...
    def upsert_customers(self, customers: pa.Table, *, at: str) -> int: ...
    def open_invoices(
        self,
        *,
        invoice_ids: Sequence[str] | None = None,
        customer_id: str | None = None,
        search: str | None = None,
        limit: int | None = None,
    ) -> pa.Table: ...
    def invoice_states(self, invoice_ids: Sequence[str]) -> dict[str, dict[str, Any]]: ...
    def customers(self) -> pa.Table: ...
    def customer_exists(self, customer_id: str) -> bool: ...
    def ensure_customer(self, customer_id: str, *, name: str, at: str) -> None: ...
    def add_payer_mapping(
        self, *, customer_id: str, account: str | None, name: str | None, by: str, at: str
    ) -> None: ...
    def ledger_version(self) -> int:
        """A number that changes whenever a write is committed, by any process (the prepared
        ledger is cached per version)."""

    # payments, remittances
    def known_payment_ids(self, payment_ids: Sequence[str]) -> dict[str, str]: ...
    def insert_payments(
        self,
        payments: pa.Table,
        *,
        status: Sequence[str],
        customer_ids: Sequence[str | None],
        submission_id: str,
        at: str,
    ) -> None: ...
    def payments(self, payment_ids: Sequence[str]) -> pa.Table: ...
    def payments_by_end_to_end(self, end_to_end_ids: Sequence[str]) -> pa.Table: ...
    def set_payment_statuses(
        self,
        payment_ids: Sequence[str],
        statuses: Sequence[str],
        customer_ids: Sequence[str | None],
    ) -> None: ...
    def payment_row(self, payment_id: str) -> dict[str, Any] | None: ...
    def set_payment_status(
        self, payment_id: str, status: str, *, customer_id: str | None
    ) -> None: ...
    def insert_remittances(self, remittances: pa.Table, *, statement_id: str) -> None: ...
    def remittances_for(
        self, *, payment_ids: Sequence[str], end_to_end_ids: Sequence[str]
    ) -> pa.Table: ...

    # allocations, exceptions
    def insert_allocations(self, allocations: pa.Table, *, by: str, at: str) -> None: ...
    def allocations_of(self, payment_id: str) -> pa.Table: ...
    def insert_exceptions(self, exceptions: pa.Table, *, at: str) -> None: ...
    def exception_of(
        self, payment_id: str, *, open_only: bool = False
    ) -> ExceptionRecord | None: ...
    def resolve_exception(
        self, payment_id: str, *, by: str, at: str, resolution: str, note: str | None
    ) -> None: ...
    def query_exceptions(
        self, query: ExceptionQuery, *, sort: str, after: tuple[Any, str] | None, limit: int
    ) -> list[ExceptionRecord]: ...
    def count_exceptions(self, query: ExceptionQuery) -> tuple[int, dict[str, int]]: ...

    # audit
    def append_audit(
        self,
        *,
        actor: str,
        action: str,
        entity: str,
        entity_id: str,
        detail: dict[str, Any],
        at: str,
    ) -> None: ...
    def append_audit_many(
        self,
        *,
        actor: str,
        action: str,
        entity: str,
        entity_ids: Sequence[str],
        details: Sequence[dict[str, Any]],
        at: str,
    ) -> None: ...
    def audit_of(self, entity_id: str) -> list[AuditEntry]: ...
    def sort_value(self, record: ExceptionRecord, sort: str) -> Any: ...
    def count(self, table: str) -> int: ...

    # receivables
    def history(self) -> History: ...
    def insert_ledger_adjustments(self, adjustments: pa.Table, *, by: str, at: str) -> None: ...
    def insert_promise(self, promise: dict[str, Any], *, by: str, at: str) -> int: ...
    def promise_by_key(self, idempotency_key: str) -> dict[str, Any] | None: ...
    def promises_of(self, customer_id: str) -> list[dict[str, Any]]: ...


# --------------------------------------------------------------------------- SQLite

MIGRATIONS: list[tuple[int, str, str]] = [
    (
        1,
        "initial ledger",
        """
        CREATE TABLE customers (
            customer_id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            parent_id TEXT,
            updated_at TEXT NOT NULL
        );
        -- accounts and aliases: source 'master' (customer master data, replaced by upserts)
        -- or 'reviewer' (remembered decisions, kept across upserts)
        CREATE TABLE customer_accounts (
            account TEXT NOT NULL,
            customer_id TEXT NOT NULL,
            source TEXT NOT NULL,
            created_by TEXT,
            created_at TEXT NOT NULL,
            PRIMARY KEY (account, customer_id, source)
        );
        CREATE INDEX customer_accounts_customer ON customer_accounts(customer_id);
        CREATE TABLE customer_aliases (
            alias TEXT NOT NULL,
            customer_id TEXT NOT NULL,
            source TEXT NOT NULL,
            created_by TEXT,
            created_at TEXT NOT NULL,
            PRIMARY KEY (alias, customer_id, source)
        );
        CREATE INDEX customer_aliases_customer ON customer_aliases(customer_id);
        CREATE TABLE invoices (
            invoice_id TEXT PRIMARY KEY,
            customer_id TEXT NOT NULL,
            customer_name TEXT,
            amount INTEGER NOT NULL,          -- open amount as last sent by the client
            open_amount INTEGER NOT NULL,     -- what is still open after our allocations
            currency TEXT NOT NULL,
            issue_date TEXT,
            due_date TEXT,
            po_number TEXT,
            discount_bp INTEGER,
            discount_days INTEGER,
            closed INTEGER NOT NULL DEFAULT 0,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX invoices_open ON invoices(closed, customer_id);
        CREATE TABLE statements (
            statement_id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            idempotency_key TEXT,
            content_hash TEXT NOT NULL,
            filename TEXT,
            format TEXT,
            received_at TEXT NOT NULL,
            submitted_by TEXT,
            result BLOB NOT NULL
        );
        CREATE UNIQUE INDEX statements_key ON statements(kind, idempotency_key)
            WHERE idempotency_key IS NOT NULL;
        CREATE UNIQUE INDEX statements_hash ON statements(kind, content_hash);
        CREATE TABLE payments (
            payment_id TEXT PRIMARY KEY,       -- stable id: a payment is stored (and applied) once
            statement_id TEXT,
            value_date TEXT NOT NULL,
            amount INTEGER NOT NULL,
            currency TEXT NOT NULL,
            payer_name TEXT,
            payer_account TEXT,
            reference TEXT,
            end_to_end_id TEXT,
            direction TEXT,
            reversal INTEGER,
            bank_code TEXT,
            source TEXT,
            source_line INTEGER,
            status TEXT NOT NULL,
            customer_id TEXT,
            received_at TEXT NOT NULL,
            submission_id TEXT NOT NULL        -- the statements row it arrived in
        );
        CREATE INDEX payments_e2e ON payments(end_to_end_id);
        CREATE INDEX payments_submission ON payments(submission_id);
        CREATE TABLE remittances (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            statement_id TEXT NOT NULL,
            payment_id TEXT,
            end_to_end_id TEXT,
            invoice_ref TEXT NOT NULL,
            paid_amount INTEGER NOT NULL,
            discount_amount INTEGER,
            deduction_amount INTEGER,
            reason_code TEXT,
            currency TEXT,
            source TEXT,
            source_line INTEGER
        );
        CREATE INDEX remittances_payment ON remittances(payment_id);
        CREATE INDEX remittances_e2e ON remittances(end_to_end_id);
        CREATE TABLE allocations (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            payment_id TEXT NOT NULL REFERENCES payments(payment_id),
            invoice_id TEXT NOT NULL,
            applied_amount INTEGER NOT NULL,
            adjustment_amount INTEGER NOT NULL,
            adjustment_reason TEXT,
            invoice_open_after INTEGER NOT NULL,
            confidence REAL NOT NULL,
            rule TEXT NOT NULL,
            currency TEXT NOT NULL,
            created_by TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE INDEX allocations_payment ON allocations(payment_id);
        CREATE INDEX allocations_invoice ON allocations(invoice_id);
        CREATE TABLE exceptions (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            payment_id TEXT NOT NULL REFERENCES payments(payment_id),
            reason TEXT NOT NULL,
            unapplied_amount INTEGER NOT NULL,
            amount_e4 INTEGER NOT NULL,        -- unapplied in 1e-4 major units (for filters)
            currency TEXT NOT NULL,
            candidates TEXT NOT NULL,          -- JSON list, best first
            candidate_scores TEXT NOT NULL,    -- JSON list aligned with candidates
            detail TEXT,
            customer_id TEXT,
            value_date TEXT NOT NULL,
            status TEXT NOT NULL,              -- open | resolved
            created_at TEXT NOT NULL,
            resolved_by TEXT,
            resolved_at TEXT,
            resolution TEXT,
            note TEXT
        );
        CREATE UNIQUE INDEX exceptions_one_open ON exceptions(payment_id) WHERE status = 'open';
        CREATE INDEX exceptions_queue ON exceptions(status, value_date, payment_id);
        CREATE INDEX exceptions_payment ON exceptions(payment_id);
        CREATE TABLE audit (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            entity TEXT NOT NULL,
            entity_id TEXT NOT NULL,
            detail TEXT NOT NULL
        );
        CREATE INDEX audit_entity ON audit(entity_id);
        CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
            BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
        CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
            BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
        """,
    ),
    (
        2,
        "receivables history: invoiced amounts and ledger adjustments",
        """
        -- what was invoiced (first amount received, raised by upward corrections); `amount`
        -- stays the open amount as last sent by the client
        ALTER TABLE invoices ADD COLUMN invoiced_amount INTEGER;
        ALTER TABLE invoices ADD COLUMN first_seen_at TEXT;
        -- reductions of an invoice's open amount that are not our allocations (the client's
        -- ledger closed or lowered it: credit note, paid elsewhere, written off); negative
        -- amounts never occur (raises go to invoiced_amount)
        CREATE TABLE ledger_adjustments (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            invoice_id TEXT NOT NULL,
            date TEXT NOT NULL,
            amount INTEGER NOT NULL,
            reason TEXT NOT NULL,
            currency TEXT NOT NULL,
            created_by TEXT,
            created_at TEXT NOT NULL
        );
        CREATE INDEX ledger_adjustments_invoice ON ledger_adjustments(invoice_id);
        -- backfill: invoiced = what is open now plus what our allocations took off
        UPDATE invoices SET first_seen_at = updated_at, invoiced_amount = open_amount + coalesce(
            (SELECT sum(a.applied_amount + a.adjustment_amount) FROM allocations a
             WHERE a.invoice_id = invoices.invoice_id), 0);
        -- invoices the client closed with an amount still open: that amount left the ledger
        INSERT INTO ledger_adjustments (invoice_id, date, amount, reason, currency, created_by,
            created_at)
            SELECT invoice_id, substr(updated_at, 1, 10), open_amount, 'LEDGER_UPDATE',
                currency, 'migration', updated_at
            FROM invoices WHERE closed = 1 AND open_amount > 0;
        """,
    ),
    (
        3,
        "promises to pay",
        """
        -- a customer's promise to pay an amount of one invoice (invoice_id) or of its account
        -- (invoice_id NULL) by promised_date; kept or broken is judged by the analytics
        CREATE TABLE promises (
            promise_id INTEGER PRIMARY KEY AUTOINCREMENT,
            customer_id TEXT NOT NULL,
            invoice_id TEXT,
            amount INTEGER NOT NULL CHECK (amount > 0),
            currency TEXT NOT NULL,
            promised_date TEXT NOT NULL,
            made_on TEXT NOT NULL,
            recorded_by TEXT NOT NULL,
            note TEXT,
            idempotency_key TEXT UNIQUE,
            created_at TEXT NOT NULL
        );
        CREATE INDEX promises_customer ON promises(customer_id);
        """,
    ),
]
LEDGER_UPDATE = "LEDGER_UPDATE"  # reason of a ledger adjustment made by the client's upsert

_PAYMENT_COLS = [f.name for f in S.PAYMENTS]
_INVOICE_COLS = [f.name for f in S.INVOICES]


def _date_col(values: list[str | None]) -> pa.Array:
    return pc.cast(
        pc.strptime(pa.array(values, pa.string()), format="%Y-%m-%d", unit="s"), pa.date32()
    )


def _columns(table: pa.Table, names: Sequence[str]) -> list[list[Any]]:
    """Arrow columns as Python lists (dates as ISO strings) for executemany."""
    out = []
    for name in names:
        col = table.column(name)
        if pa.types.is_date(col.type):
            col = pc.strftime(col, format="%Y-%m-%d")
        out.append(col.to_pylist())
    return out


def _rows(table: pa.Table, names: Sequence[str], *extra: Sequence[Any]) -> Iterator[tuple]:
    return zip(*_columns(table, names), *extra, strict=True)


class SQLiteStore:
    """The embedded ledger: one SQLite file in WAL mode with synchronous=FULL.

    Thread-safe: each thread gets its own connection (WAL lets readers run beside the one
    writer); writes are serialised by a process-wide lock plus ``BEGIN IMMEDIATE`` (which also
    serialises writers of other processes on the same file).
    """

    def __init__(self, path: str | Path, *, busy_timeout_ms: int = 30_000) -> None:
        self.path = str(path)
        self._busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()
        self._write_lock = threading.RLock()
        self._conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        self._watch: sqlite3.Connection | None = None  # never writes: sees others' commits
        self._watch_lock = threading.Lock()
        self._closed = False
        self._migrate()

    # ----------------------------------------------------------------- connections

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if self._closed:
                raise FailedPrecondition("the store is closed")
            conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=30
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute(f"PRAGMA busy_timeout={int(self._busy_timeout_ms)}")
            self._local.conn = conn
            self._local.depth = 0
            with self._conns_lock:
                self._conns.append(conn)
        return conn

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        conn = self._conn()
        if self._local.depth:  # nested: part of the outer transaction
            self._local.depth += 1
            try:
                yield
            finally:
                self._local.depth -= 1
            return
        with self._write_lock:
            conn.execute("BEGIN IMMEDIATE")
            self._local.depth = 1
            try:
                yield
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            else:
                conn.execute("COMMIT")
            finally:
                self._local.depth = 0

    def _in_tx(self) -> sqlite3.Connection:
        conn = self._conn()
        if not self._local.depth:
            raise InvariantViolation("store write outside a transaction")
        return conn

    def close(self) -> None:
        self._closed = True
        with self._watch_lock:
            if self._watch is not None:
                self._watch.close()
                self._watch = None
        with self._conns_lock:
            for conn in self._conns:
                with contextlib.suppress(sqlite3.Error):
                    conn.close()
            self._conns.clear()
        self._local = threading.local()

    def ledger_version(self) -> int:
        """Changes whenever a write is committed to the file, by this process or another (the
        worker processes of one server): SQLite's ``data_version`` as seen by a connection
        that never writes itself. ~4 us."""
        with self._watch_lock:
            if self._watch is None:
                if self._closed:
                    raise FailedPrecondition("the store is closed")
                self._watch = sqlite3.connect(self.path, isolation_level=None,
                                              check_same_thread=False)  # fmt: skip
            return int(self._watch.execute("PRAGMA data_version").fetchone()[0])

    # ----------------------------------------------------------------- migrations

    def _migrate(self) -> None:
        conn = self._conn()
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
        with self.transaction():
            done = {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}
            for version, name, sql in MIGRATIONS:
                if version in done:
                    continue
                for stmt in _split_sql(sql):
                    conn.execute(stmt)
                conn.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?, ?)", (version, name, utcnow())
                )

    def schema_version(self) -> int:
        row = self._conn().execute("SELECT max(version) FROM schema_migrations").fetchone()
        return int(row[0] or 0)

    # ----------------------------------------------------------------- statements

    def find_statement(
        self, *, idempotency_key: str | None, content_hash: str, kind: str
    ) -> StatementRecord | None:
        conn = self._conn()
        row = None
        if idempotency_key:
            row = conn.execute(
                "SELECT * FROM statements WHERE kind = ? AND idempotency_key = ?",
                (kind, idempotency_key),
            ).fetchone()
        if row is None:
            row = conn.execute(
                "SELECT * FROM statements WHERE kind = ? AND content_hash = ?",
                (kind, content_hash),
            ).fetchone()
        if row is None:
            return None
        return StatementRecord(*row)

    def insert_statement(self, record: StatementRecord) -> None:
        self._in_tx().execute(
            "INSERT INTO statements VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                record.statement_id,
                record.kind,
                record.idempotency_key,
                record.content_hash,
                record.filename,
                record.format,
                record.received_at,
                record.submitted_by,
                record.result,
            ),
        )

    # ----------------------------------------------------------------- invoices, customers

    def upsert_invoices(self, invoices: pa.Table, *, closed: np.ndarray, at: str) -> int:
        """Insert or replace invoices; keeps the receivables history consistent.

        A new invoice is invoiced at its open amount. When the client lowers (or closes) an invoice
        beyond our allocations, the difference is a ledger adjustment (``LEDGER_UPDATE``) dated
        today; when it raises one, the invoiced amount grows by the difference.
        """
        conn = self._in_tx()
        t = S.conform(invoices, S.INVOICES)
        flags = np.asarray(closed, dtype=bool)
        closed_flags = [int(x) for x in flags]
        ids = t.column("invoice_id").to_pylist()
        before = {
            r[0]: (int(r[1]), bool(r[2]))
            for r in conn.execute(
                "SELECT invoice_id, open_amount, closed FROM invoices"
                " WHERE invoice_id IN (SELECT value FROM json_each(?))",
                (json.dumps(ids),),
            )
        }
        amount = np.asarray(t.column("amount"), dtype=np.int64)
        new_open = np.where(flags, 0, amount)
        known = np.array([i in before for i in ids], dtype=bool)
        old_open = np.array(
            [0 if before.get(i, (0, True))[1] else before[i][0] for i in ids], dtype=np.int64
        )
        # a new invoice is invoiced at its open amount (one first seen closed: 0, its history
        # is not ours to date)
        raise_by = np.where(known, np.maximum(new_open - old_open, 0), new_open)
        lower_by = np.where(known, np.maximum(old_open - new_open, 0), 0)
        conn.executemany(
            """
            INSERT INTO invoices (invoice_id, customer_id, customer_name, amount, currency,
                issue_date, due_date, po_number, discount_bp, discount_days, closed, open_amount,
                updated_at, invoiced_amount, first_seen_at)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?4, ?12, ?13, ?12)
            ON CONFLICT(invoice_id) DO UPDATE SET
                customer_id = excluded.customer_id, customer_name = excluded.customer_name,
                amount = excluded.amount, open_amount = excluded.amount,
                currency = excluded.currency, issue_date = excluded.issue_date,
                due_date = excluded.due_date, po_number = excluded.po_number,
                discount_bp = excluded.discount_bp, discount_days = excluded.discount_days,
                closed = excluded.closed, updated_at = excluded.updated_at,
                invoiced_amount = coalesce(invoices.invoiced_amount, 0) + ?13
            """,
            _rows(t, _INVOICE_COLS, closed_flags, [at] * t.num_rows, raise_by.tolist()),
        )
        cur = t.column("currency").to_pylist()
        conn.executemany(
            "INSERT INTO ledger_adjustments (invoice_id, date, amount, reason, currency,"
            " created_by, created_at) VALUES (?, ?, ?, ?, ?, 'client', ?)",
            (
                (ids[k], at[:10], int(lower_by[k]), LEDGER_UPDATE, cur[k], at)
                for k in np.flatnonzero(lower_by > 0)
            ),
        )
        return t.num_rows

    def upsert_customers(self, customers: pa.Table, *, at: str) -> int:
        conn = self._in_tx()
        t = S.conform(customers, S.CUSTOMERS)
        ids, names, accounts, aliases, parents = _columns(t, [f.name for f in S.CUSTOMERS])
        conn.executemany(
            """
            INSERT INTO customers VALUES (?, ?, ?, ?)
            ON CONFLICT(customer_id) DO UPDATE SET name = excluded.name,
                parent_id = excluded.parent_id, updated_at = excluded.updated_at
            """,
            zip(ids, names, parents, [at] * len(ids), strict=True),
        )
        conn.executemany(
            "DELETE FROM customer_accounts WHERE customer_id = ? AND source = 'master'",
            ((i,) for i in ids),
        )
        conn.executemany(
            "DELETE FROM customer_aliases WHERE customer_id = ? AND source = 'master'",
            ((i,) for i in ids),
        )
        conn.executemany(
            "INSERT OR IGNORE INTO customer_accounts VALUES (?, ?, 'master', NULL, ?)",
            ((a, i, at) for i, accs in zip(ids, accounts, strict=True) for a in (accs or [])),
        )
        conn.executemany(
            "INSERT OR IGNORE INTO customer_aliases VALUES (?, ?, 'master', NULL, ?)",
            ((a, i, at) for i, als in zip(ids, aliases, strict=True) for a in (als or [])),
        )
        return t.num_rows

    def open_invoices(
        self,
        *,
        invoice_ids: Sequence[str] | None = None,
        customer_id: str | None = None,
        search: str | None = None,
        limit: int | None = None,
    ) -> pa.Table:
        """Open invoices in :data:`schema.INVOICES` with ``amount`` = the open amount.

        ``search`` is a case-insensitive substring of the invoice id or PO number."""
        sql = (
            "SELECT invoice_id, customer_id, customer_name, open_amount, currency, issue_date,"
            " due_date, po_number, discount_bp, discount_days FROM invoices"
            " WHERE closed = 0 AND open_amount > 0"
        )
        params: list[Any] = []
        if invoice_ids is not None:
            sql += " AND invoice_id IN (SELECT value FROM json_each(?))"
            params.append(json.dumps(list(invoice_ids)))
        if customer_id is not None:
            sql += " AND customer_id = ?"
            params.append(customer_id)
        if search:
            sql += " AND (instr(lower(invoice_id), ?) > 0 OR instr(lower(po_number), ?) > 0)"
            params += [search.lower(), search.lower()]
        sql += " ORDER BY invoice_id"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        rows = self._conn().execute(sql, params).fetchall()
        cols = list(zip(*rows, strict=True)) if rows else [[] for _ in range(10)]
        return pa.Table.from_arrays(
            [
                pa.array(cols[0], pa.string()),
                pa.array(cols[1], pa.string()),
                pa.array(cols[2], pa.string()),
                pa.array(cols[3], pa.int64()),
                pa.array(cols[4], pa.string()),
                _date_col(list(cols[5])),
                _date_col(list(cols[6])),
                pa.array(cols[7], pa.string()),
                pa.array(cols[8], pa.int32()),
                pa.array(cols[9], pa.int32()),
            ],
            schema=S.INVOICES,
        )

    def invoice_states(self, invoice_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        rows = (
            self._conn()
            .execute(
                "SELECT invoice_id, customer_id, customer_name, open_amount, currency, closed"
                " FROM invoices WHERE invoice_id IN (SELECT value FROM json_each(?))",
                (json.dumps(list(invoice_ids)),),
            )
            .fetchall()
        )
        return {
            r[0]: {
                "customer_id": r[1],
                "customer_name": r[2],
                "open_amount": r[3],
                "currency": r[4],
                "closed": bool(r[5]),
            }
            for r in rows
        }

    def customers(self) -> pa.Table:
        """Customer master with every account and alias (master and remembered) as lists."""
        conn = self._conn()
        rows = conn.execute(
            "SELECT customer_id, name, parent_id FROM customers ORDER BY customer_id"
        ).fetchall()
        accounts: dict[str, list[str]] = {}
        for acc, cid in conn.execute(
            "SELECT DISTINCT account, customer_id FROM customer_accounts ORDER BY account"
        ):
            accounts.setdefault(cid, []).append(acc)
        aliases: dict[str, list[str]] = {}
        for al, cid in conn.execute(
            "SELECT DISTINCT alias, customer_id FROM customer_aliases ORDER BY alias"
        ):
            aliases.setdefault(cid, []).append(al)
        ids = [r[0] for r in rows]
        return pa.Table.from_arrays(
            [
                pa.array(ids, pa.string()),
                pa.array([r[1] for r in rows], pa.string()),
                pa.array([accounts.get(i, []) for i in ids], pa.list_(pa.string())),
                pa.array([aliases.get(i, []) for i in ids], pa.list_(pa.string())),
                pa.array([r[2] for r in rows], pa.string()),
            ],
            schema=S.CUSTOMERS,
        )

    def customer_exists(self, customer_id: str) -> bool:
        conn = self._conn()
        return (
            conn.execute("SELECT 1 FROM customers WHERE customer_id = ?", (customer_id,)).fetchone()
            is not None
            or conn.execute(
                "SELECT 1 FROM invoices WHERE customer_id = ? LIMIT 1", (customer_id,)
            ).fetchone()
            is not None
        )

    def ensure_customer(self, customer_id: str, *, name: str, at: str) -> None:
        self._in_tx().execute(
            "INSERT OR IGNORE INTO customers VALUES (?, ?, NULL, ?)", (customer_id, name, at)
        )

    def add_payer_mapping(
        self, *, customer_id: str, account: str | None, name: str | None, by: str, at: str
    ) -> None:
        """Remember a payer: the latest reviewer decision for an account or name wins."""
        conn = self._in_tx()
        if account:
            conn.execute(
                "DELETE FROM customer_accounts WHERE account = ? AND source = 'reviewer'",
                (account,),
            )
            conn.execute(
                "INSERT OR IGNORE INTO customer_accounts VALUES (?, ?, 'reviewer', ?, ?)",
                (account, customer_id, by, at),
            )
        if name:
            conn.execute(
                "DELETE FROM customer_aliases WHERE alias = ? AND source = 'reviewer'", (name,)
            )
            conn.execute(
                "INSERT OR IGNORE INTO customer_aliases VALUES (?, ?, 'reviewer', ?, ?)",
                (name, customer_id, by, at),
            )

    # ----------------------------------------------------------------- payments, remittances

    def known_payment_ids(self, payment_ids: Sequence[str]) -> dict[str, str]:
        """``{payment_id: submission_id}`` for the ids already stored."""
        rows = (
            self._conn()
            .execute(
                "SELECT payment_id, submission_id FROM payments"
                " WHERE payment_id IN (SELECT value FROM json_each(?))",
                (json.dumps(list(payment_ids)),),
            )
            .fetchall()
        )
        return {r[0]: r[1] for r in rows}

    def insert_payments(
        self,
        payments: pa.Table,
        *,
        status: Sequence[str],
        customer_ids: Sequence[str | None],
        submission_id: str,
        at: str,
    ) -> None:
        conn = self._in_tx()
        t = S.conform(payments, S.PAYMENTS)
        cols = _PAYMENT_COLS
        n = t.num_rows
        conn.executemany(
            f"INSERT INTO payments ({', '.join(cols)}, status, customer_id, received_at,"
            f" submission_id) VALUES ({', '.join('?' * len(cols))}, ?, ?, ?, ?)",
            _rows(t, cols, status, customer_ids, [at] * n, [submission_id] * n),
        )

    def _payments_query(self, where: str, params: Sequence[Any]) -> pa.Table:
        cols = _PAYMENT_COLS
        rows = (
            self._conn()
            .execute(
                f"SELECT {', '.join(cols)}, status, customer_id FROM payments WHERE {where}"
                " ORDER BY payment_id",
                params,
            )
            .fetchall()
        )
        data = list(zip(*rows, strict=True)) if rows else [[] for _ in range(len(cols) + 2)]
        arrays = []
        for i, f in enumerate(S.PAYMENTS):
            if pa.types.is_date(f.type):
                arrays.append(_date_col(list(data[i])))
            elif pa.types.is_boolean(f.type):
                arrays.append(pa.array([None if v is None else bool(v) for v in data[i]], f.type))
            else:
                arrays.append(pa.array(data[i], f.type))
        t = pa.Table.from_arrays(arrays, schema=S.PAYMENTS)
        t = t.append_column("status", pa.array(data[len(cols)], pa.string()))
        return t.append_column("customer_id", pa.array(data[len(cols) + 1], pa.string()))

    def payments(self, payment_ids: Sequence[str]) -> pa.Table:
        """Stored payments in :data:`schema.PAYMENTS` plus ``status`` and ``customer_id``."""
        return self._payments_query(
            "payment_id IN (SELECT value FROM json_each(?))", (json.dumps(list(payment_ids)),)
        )

    def payments_by_end_to_end(self, end_to_end_ids: Sequence[str]) -> pa.Table:
        return self._payments_query(
            "end_to_end_id IN (SELECT value FROM json_each(?))", (json.dumps(list(end_to_end_ids)),)
        )

    def payment_row(self, payment_id: str) -> dict[str, Any] | None:
        t = self.payments([payment_id])
        return t.to_pylist()[0] if t.num_rows else None

    def set_payment_status(self, payment_id: str, status: str, *, customer_id: str | None) -> None:
        self._in_tx().execute(
            "UPDATE payments SET status = ?, customer_id = coalesce(?, customer_id)"
            " WHERE payment_id = ?",
            (status, customer_id, payment_id),
        )

    def set_payment_statuses(
        self,
        payment_ids: Sequence[str],
        statuses: Sequence[str],
        customer_ids: Sequence[str | None],
    ) -> None:
        self._in_tx().executemany(
            "UPDATE payments SET status = ?, customer_id = coalesce(?, customer_id)"
            " WHERE payment_id = ?",
            zip(statuses, customer_ids, payment_ids, strict=True),
        )

    def insert_remittances(self, remittances: pa.Table, *, statement_id: str) -> None:
        conn = self._in_tx()
        t = S.conform(remittances, S.REMITTANCES)
        cols = [f.name for f in S.REMITTANCES]
        conn.executemany(
            f"INSERT INTO remittances (statement_id, {', '.join(cols)})"
            f" VALUES (?, {', '.join('?' * len(cols))})",
            ((statement_id, *r) for r in _rows(t, cols)),
        )

    def remittances_for(
        self, *, payment_ids: Sequence[str], end_to_end_ids: Sequence[str]
    ) -> pa.Table:
        cols = [f.name for f in S.REMITTANCES]
        rows = (
            self._conn()
            .execute(
                f"SELECT {', '.join(cols)} FROM remittances"
                " WHERE payment_id IN (SELECT value FROM json_each(?))"
                " OR end_to_end_id IN (SELECT value FROM json_each(?)) ORDER BY id",
                (json.dumps(list(payment_ids)), json.dumps(list(end_to_end_ids))),
            )
            .fetchall()
        )
        data = list(zip(*rows, strict=True)) if rows else [[] for _ in cols]
        return pa.Table.from_arrays(
            [pa.array(data[i], f.type) for i, f in enumerate(S.REMITTANCES)], schema=S.REMITTANCES
        )

    # ----------------------------------------------------------------- allocations, exceptions

    def insert_allocations(self, allocations: pa.Table, *, by: str, at: str) -> None:
        """Store allocations and reduce the invoices' open amounts; never below zero."""
        if allocations.num_rows == 0:
            return
        conn = self._in_tx()
        t = S.conform(allocations, S.ALLOCATIONS)
        cols = [f.name for f in S.ALLOCATIONS]
        conn.executemany(
            f"INSERT INTO allocations ({', '.join(cols)}, created_by, created_at)"
            f" VALUES ({', '.join('?' * len(cols))}, ?, ?)",
            _rows(t, cols, [by] * t.num_rows, [at] * t.num_rows),
        )
        reduce = pc.add(t.column("applied_amount"), t.column("adjustment_amount"))
        ids = t.column("invoice_id").to_pylist()
        conn.executemany(
            "UPDATE invoices SET open_amount = open_amount - ?,"
            " closed = CASE WHEN open_amount - ? <= 0 THEN 1 ELSE closed END,"
            " updated_at = ? WHERE invoice_id = ?",
            ((r, r, at, i) for r, i in zip(reduce.to_pylist(), ids, strict=True)),
        )
        bad = conn.execute(
            "SELECT invoice_id, open_amount FROM invoices WHERE open_amount < 0"
            " AND invoice_id IN (SELECT value FROM json_each(?)) LIMIT 5",
            (json.dumps(ids),),
        ).fetchall()
        if bad:
            raise InvariantViolation(f"allocations would over-apply invoices {bad}")
        missing = set(ids) - set(self.invoice_states(ids))
        if missing:
            raise InvariantViolation(f"allocations name unknown invoices {sorted(missing)[:5]}")

    def allocations_of(self, payment_id: str) -> pa.Table:
        cols = [f.name for f in S.ALLOCATIONS]
        rows = (
            self._conn()
            .execute(
                f"SELECT {', '.join(cols)}, created_by, created_at FROM allocations"
                " WHERE payment_id = ? ORDER BY id",
                (payment_id,),
            )
            .fetchall()
        )
        data = list(zip(*rows, strict=True)) if rows else [[] for _ in range(len(cols) + 2)]
        t = pa.Table.from_arrays(
            [pa.array(data[i], f.type) for i, f in enumerate(S.ALLOCATIONS)], schema=S.ALLOCATIONS
        )
        t = t.append_column("created_by", pa.array(data[len(cols)], pa.string()))
        return t.append_column("created_at", pa.array(data[len(cols) + 1], pa.string()))

    def insert_exceptions(self, exceptions: pa.Table, *, at: str) -> None:
        if exceptions.num_rows == 0:
            return
        conn = self._in_tx()
        t = S.conform(exceptions, S.EXCEPTIONS)
        ids = t.column("payment_id").to_pylist()
        vdates = dict(
            conn.execute(
                "SELECT payment_id, value_date FROM payments"
                " WHERE payment_id IN (SELECT value FROM json_each(?))",
                (json.dumps(ids),),
            ).fetchall()
        )
        exps = exponents_of(t.column("currency")).astype(np.int64)
        exps[exps < 0] = 2
        e4 = np.asarray(t.column("unapplied_amount"), dtype=np.int64) * 10 ** (MAX_EXPONENT - exps)
        conn.executemany(
            """
            INSERT INTO exceptions (payment_id, reason, unapplied_amount, amount_e4, currency,
                candidates, candidate_scores, detail, customer_id, value_date, status, created_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', ?)
            """,
            (
                (
                    pid,
                    reason,
                    amt,
                    int(a4),
                    cur,
                    json.dumps(c or []),
                    json.dumps(s or []),
                    d,
                    cust,
                    vdates.get(pid, ""),
                    at,
                )
                for pid, reason, amt, a4, cur, c, s, d, cust in zip(
                    ids,
                    t.column("reason").to_pylist(),
                    t.column("unapplied_amount").to_pylist(),
                    e4,
                    t.column("currency").to_pylist(),
                    t.column("candidates").to_pylist(),
                    t.column("candidate_scores").to_pylist(),
                    t.column("detail").to_pylist(),
                    t.column("customer_id").to_pylist(),
                    strict=True,
                )
            ),
        )

    _EXC_SELECT = (
        "SELECT e.id, e.payment_id, e.reason, e.unapplied_amount, e.currency, e.candidates,"
        " e.candidate_scores, e.detail, e.customer_id, e.status, e.created_at, e.resolved_by,"
        " e.resolved_at, e.resolution, e.note, e.value_date, p.payer_name, p.payer_account,"
        " p.reference, p.amount FROM exceptions e JOIN payments p USING (payment_id)"
    )

    @staticmethod
    def _exc(row: Sequence[Any]) -> ExceptionRecord:
        r = list(row)
        r[5] = json.loads(r[5])
        r[6] = json.loads(r[6])
        return ExceptionRecord(*r)

    def exception_of(self, payment_id: str, *, open_only: bool = False) -> ExceptionRecord | None:
        """The open exception of a payment, else (unless ``open_only``) its latest one."""
        row = (
            self._conn()
            .execute(
                self._EXC_SELECT
                + " WHERE e.payment_id = ?"
                + (" AND e.status = 'open'" if open_only else "")
                + " ORDER BY (e.status = 'open') DESC, e.id DESC LIMIT 1",
                (payment_id,),
            )
            .fetchone()
        )
        return self._exc(row) if row else None

    def resolve_exception(
        self, payment_id: str, *, by: str, at: str, resolution: str, note: str | None
    ) -> None:
        cur = self._in_tx().execute(
            "UPDATE exceptions SET status = 'resolved', resolved_by = ?, resolved_at = ?,"
            " resolution = ?, note = ? WHERE payment_id = ? AND status = 'open'",
            (by, at, resolution, note, payment_id),
        )
        if cur.rowcount != 1:
            raise FailedPrecondition(f"payment {payment_id} has no open exception")

    @staticmethod
    def _where(q: ExceptionQuery) -> tuple[str, list[Any]]:
        clauses = ["e.status = ?"]
        params: list[Any] = [q.status]
        for col, value in (
            ("e.reason", q.reason),
            ("e.customer_id", q.customer_id),
            ("e.currency", q.currency),
            ("e.payment_id", q.payment_id),
        ):
            if value is not None:
                clauses.append(f"{col} = ?")
                params.append(value)
        if q.min_amount_e4 is not None:
            clauses.append("e.amount_e4 >= ?")
            params.append(q.min_amount_e4)
        if q.max_amount_e4 is not None:
            clauses.append("e.amount_e4 <= ?")
            params.append(q.max_amount_e4)
        if q.value_date_before is not None:
            clauses.append("e.value_date < ?")
            params.append(q.value_date_before)
        return " AND ".join(clauses), params

    def query_exceptions(
        self, query: ExceptionQuery, *, sort: str, after: tuple[Any, str] | None, limit: int
    ) -> list[ExceptionRecord]:
        """Keyset paging: ``after`` is ``(sort value, payment_id)`` of the last row seen."""
        column, direction = SORTS[sort]
        where, params = self._where(query)
        # NULL never compares: page over coalesce(column, '') (nullable: customer_id)
        col = f"coalesce(e.{column}, '')" if column == "customer_id" else f"e.{column}"
        if after is not None:
            op = ">" if direction == "ASC" else "<"
            if column == "payment_id":
                where += f" AND e.payment_id {op} ?"
                params.append(after[1])
            else:
                where += f" AND ({col} {op} ? OR ({col} = ? AND e.payment_id {op} ?))"
                params.extend([after[0], after[0], after[1]])
        order = f"{col} {direction}" + (
            "" if column == "payment_id" else f", e.payment_id {direction}"
        )
        rows = (
            self._conn()
            .execute(
                self._EXC_SELECT + f" WHERE {where} ORDER BY {order} LIMIT ?", [*params, limit]
            )
            .fetchall()
        )
        return [self._exc(r) for r in rows]

    def sort_value(self, record: ExceptionRecord, sort: str) -> Any:
        column = SORTS[sort][0]
        if column == "amount_e4":
            exp = int(exponents_of(pa.array([record.currency]))[0])
            return record.unapplied_amount * 10 ** (MAX_EXPONENT - max(exp, 0))
        value = getattr(record, column)
        return "" if value is None else value

    def count_exceptions(self, query: ExceptionQuery) -> tuple[int, dict[str, int]]:
        """Total matching the filters, and counts by reason (ignoring the reason filter)."""
        conn = self._conn()
        where, params = self._where(query)
        total = conn.execute(f"SELECT count(*) FROM exceptions e WHERE {where}", params).fetchone()[
            0
        ]
        no_reason = ExceptionQuery(**{**_asdict(query), "reason": None})
        where2, params2 = self._where(no_reason)
        counts = dict(
            conn.execute(
                f"SELECT e.reason, count(*) FROM exceptions e WHERE {where2}"
                " GROUP BY e.reason ORDER BY count(*) DESC, e.reason",
                params2,
            ).fetchall()
        )
        return int(total), counts

    # ----------------------------------------------------------------- audit

    def append_audit(
        self,
        *,
        actor: str,
        action: str,
        entity: str,
        entity_id: str,
        detail: dict[str, Any],
        at: str,
    ) -> None:
        self._in_tx().execute(
            "INSERT INTO audit (at, actor, action, entity, entity_id, detail)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (at, actor, action, entity, entity_id, json.dumps(detail, sort_keys=True)),
        )

    def append_audit_many(
        self,
        *,
        actor: str,
        action: str,
        entity: str,
        entity_ids: Sequence[str],
        details: Sequence[dict[str, Any]],
        at: str,
    ) -> None:
        self._in_tx().executemany(
            "INSERT INTO audit (at, actor, action, entity, entity_id, detail)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                (at, actor, action, entity, i, json.dumps(d, sort_keys=True))
                for i, d in zip(entity_ids, details, strict=True)
            ),
        )

    def audit_of(self, entity_id: str) -> list[AuditEntry]:
        rows = (
            self._conn()
            .execute(
                "SELECT seq, at, actor, action, entity, entity_id, detail FROM audit"
                " WHERE entity_id = ? ORDER BY seq",
                (entity_id,),
            )
            .fetchall()
        )
        return [AuditEntry(*r[:6], json.loads(r[6])) for r in rows]

    # ----------------------------------------------------------------- receivables history

    def _select(self, table: str, schema: pa.Schema, columns: Sequence[str], tail: str) -> pa.Table:
        """``SELECT columns FROM table tail`` as ``schema`` (the other columns null)."""
        fields = [schema.field(c) for c in columns]
        exprs = ["coalesce(invoiced_amount, amount)" if c == "invoiced" else c for c in columns]
        rows = self._conn().execute(f"SELECT {', '.join(exprs)} FROM {table} {tail}").fetchall()
        data = list(zip(*rows, strict=True)) if rows else [[] for _ in fields]
        arrays = []
        for values, f in zip(data, fields, strict=True):
            if pa.types.is_date(f.type):
                arrays.append(_date_col(list(values)))
            else:
                arrays.append(pa.array(values, f.type))
        return S.conform(pa.Table.from_arrays(arrays, schema=pa.schema(fields)), schema)

    def insert_ledger_adjustments(self, adjustments: pa.Table, *, by: str, at: str) -> None:
        """Reductions made outside cash application (``schema.ADJUSTMENTS``: write-offs, credit
        notes), e.g. imported from the client's ledger. History only: open amounts are the
        client's to send (UpsertInvoices)."""
        t = S.conform(adjustments, S.ADJUSTMENTS)
        self._in_tx().executemany(
            "INSERT INTO ledger_adjustments (invoice_id, date, amount, reason, currency,"
            " created_by, created_at) VALUES (?1, ?2, ?3, ?4,"
            " coalesce(?5, (SELECT currency FROM invoices WHERE invoice_id = ?1)), ?6, ?7)",
            _rows(
                t,
                ["invoice_id", "date", "amount", "reason", "currency"],
                [by] * t.num_rows,
                [at] * t.num_rows,
            ),
        )

    _PROMISE_COLS = (
        "promise_id",
        "customer_id",
        "invoice_id",
        "amount",
        "currency",
        "promised_date",
        "made_on",
        "recorded_by",
        "note",
        "idempotency_key",
        "created_at",
    )

    def insert_promise(self, promise: dict[str, Any], *, by: str, at: str) -> int:
        """Store a promise to pay (keys of ``schema.PROMISES`` with ISO dates and minor
        units, plus optional ``note`` and ``idempotency_key``); returns its ``promise_id``."""
        cur = self._in_tx().execute(
            "INSERT INTO promises (customer_id, invoice_id, amount, currency, promised_date,"
            " made_on, recorded_by, note, idempotency_key, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                promise["customer_id"],
                promise.get("invoice_id"),
                int(promise["amount"]),
                promise["currency"],
                promise["promised_date"],
                promise["made_on"],
                by,
                promise.get("note"),
                promise.get("idempotency_key"),
                at,
            ),
        )
        return int(cur.lastrowid)

    def _promise_rows(self, where: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        rows = self._conn().execute(
            f"SELECT {', '.join(self._PROMISE_COLS)} FROM promises {where}", params
        )
        return [dict(zip(self._PROMISE_COLS, r, strict=True)) for r in rows.fetchall()]

    def promise_by_key(self, idempotency_key: str) -> dict[str, Any] | None:
        rows = self._promise_rows("WHERE idempotency_key = ?", (idempotency_key,))
        return rows[0] if rows else None

    def promises_of(self, customer_id: str) -> list[dict[str, Any]]:
        """A customer's promises, latest promised date first."""
        return self._promise_rows(
            "WHERE customer_id = ? ORDER BY promised_date DESC, promise_id DESC", (customer_id,)
        )

    def history(self) -> History:
        """Every invoice with its invoiced amount, the allocations, their payments and the
        client's ledger adjustments, read in one snapshot (one read transaction). Only the
        columns the receivables analytics read are filled (the others are null)."""
        conn = self._conn()
        nested = bool(self._local.depth)
        if not nested:
            conn.execute("BEGIN")  # a consistent snapshot across the selects (WAL reader)
        try:
            inv_schema = S.INVOICES.set(
                S.INVOICES.get_field_index("amount"),
                S.INVOICES.field("amount").with_name("invoiced"),
            )
            invoices = self._select(
                "invoices",
                inv_schema,
                [
                    "invoice_id",
                    "customer_id",
                    "customer_name",
                    "invoiced",
                    "currency",
                    "issue_date",
                    "due_date",
                ],
                "ORDER BY invoice_id",
            ).rename_columns(S.INVOICES.names)
            payments = self._select(
                "payments",
                S.PAYMENTS,
                ["payment_id", "value_date", "amount", "currency"],
                "WHERE payment_id IN (SELECT payment_id FROM allocations) ORDER BY payment_id",
            )
            allocations = self._select(
                "allocations",
                S.ALLOCATIONS,
                [
                    "payment_id",
                    "invoice_id",
                    "applied_amount",
                    "adjustment_amount",
                    "adjustment_reason",
                    "currency",
                ],
                "ORDER BY id",
            )
            adjustments = self._select(
                "ledger_adjustments",
                S.ADJUSTMENTS,
                ["invoice_id", "date", "amount", "reason", "currency"],
                "ORDER BY id",
            )
            customers = self.customers()
            promises = self._select(
                "promises",
                S.PROMISES.append(pa.field("promise_id", pa.int64())),
                [*S.PROMISES.names, "promise_id"],
                "ORDER BY promise_id",
            )
        finally:
            if not nested:
                conn.execute("COMMIT")
        return History(invoices, payments, allocations, adjustments, customers, promises)

    # ----------------------------------------------------------------- counts (tests, health)

    def count(self, table: str) -> int:
        if table not in {
            "payments",
            "allocations",
            "exceptions",
            "statements",
            "audit",
            "invoices",
            "customers",
            "remittances",
        }:
            raise ValueError(table)
        return int(self._conn().execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def _asdict(q: ExceptionQuery) -> dict[str, Any]:
    return {name: getattr(q, name) for name in q.__dataclass_fields__}


def _split_sql(script: str) -> list[str]:
    """Split a migration into statements (triggers keep their inner ``;``)."""
    out: list[str] = []
    buf = ""
    for piece in script.split(";"):
        buf += piece
        if sqlite3.complete_statement(buf + ";"):
            if buf.strip():
                out.append(buf.strip())
            buf = ""
        else:
            buf += ";"
    return out


def content_hash(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def open_store(url: str | Path) -> Store:
    """``path.db`` or ``sqlite:///path.db`` (a ``postgresql://`` store would plug in here)."""
    text = str(url)
    if text.startswith("sqlite:///"):
        text = text[len("sqlite:///") :]
    elif "://" in text:
        scheme = text.split("://", 1)[0]
        from cashmatch.engine.errors import InvalidInput

        raise InvalidInput(f"unsupported store {scheme!r}: only SQLite files are built in")
    return SQLiteStore(text)
