from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from cashmatch.engine import schema as S
from cashmatch.engine.errors import InvariantViolation
from cashmatch.engine.interchange import read_customers, read_invoices
from cashmatch.server.store import MIGRATIONS, SQLiteStore, Store, utcnow


def _invoices(csv: str) -> pa.Table:
    return read_invoices(csv.encode()).table


def test_sqlite_store_implements_the_interface(store: SQLiteStore) -> None:
    assert isinstance(store, Store)


def test_migrations_are_versioned_and_reopen_is_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    s = SQLiteStore(path)
    assert s.schema_version() == max(v for v, _, _ in MIGRATIONS)
    s.close()
    s = SQLiteStore(path)
    rows = s._conn().execute("SELECT version FROM schema_migrations").fetchall()
    assert [r[0] for r in rows] == [v for v, _, _ in MIGRATIONS]
    assert s._conn().execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert s._conn().execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    s.close()


def test_audit_trail_is_append_only(store: SQLiteStore) -> None:
    with store.transaction():
        store.append_audit(
            actor="ann", action="X", entity="payment", entity_id="P1", detail={"a": 1}, at=utcnow()
        )
    conn = store._conn()
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("UPDATE audit SET actor = 'mallory'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("DELETE FROM audit")
    assert [e.actor for e in store.audit_of("P1")] == ["ann"]


def test_write_outside_transaction_is_refused(store: SQLiteStore) -> None:
    with pytest.raises(InvariantViolation):
        store.append_audit(actor="a", action="b", entity="c", entity_id="d", detail={}, at=utcnow())


def test_failed_transaction_rolls_back(store: SQLiteStore) -> None:
    inv = _invoices("invoice_id,customer_id,amount,currency\nI1,C1,10.00,EUR\n")
    with pytest.raises(RuntimeError), store.transaction():
        store.upsert_invoices(inv, closed=np.zeros(1, bool), at=utcnow())
        raise RuntimeError("boom")
    assert store.count("invoices") == 0


def test_over_application_is_refused(store: SQLiteStore) -> None:
    inv = _invoices("invoice_id,customer_id,amount,currency\nI1,C1,10.00,EUR\n")
    pay = pa.table(
        {
            "payment_id": ["P1"],
            "value_date": pa.array([0], pa.int32()).cast(pa.date32()),
            "amount": [2000],
            "currency": ["EUR"],
        }
    )
    with store.transaction():
        store.upsert_invoices(inv, closed=np.zeros(1, bool), at=utcnow())
        store.insert_payments(
            S.conform(pay, S.PAYMENTS),
            status=["UNAPPLIED"],
            customer_ids=[None],
            submission_id="s",
            at=utcnow(),
        )
    alloc = pa.Table.from_pylist(
        [
            {
                "payment_id": "P1",
                "invoice_id": "I1",
                "applied_amount": 1500,
                "adjustment_amount": 0,
                "invoice_open_after": -500,
                "confidence": 1.0,
                "rule": "x",
                "currency": "EUR",
            }
        ],
        schema=S.ALLOCATIONS,
    )
    with pytest.raises(InvariantViolation, match="over-apply"), store.transaction():
        store.insert_allocations(alloc, by="t", at=utcnow())
    assert store.open_invoices().column("amount").to_pylist() == [1000]
    assert store.count("allocations") == 0


def test_open_invoices_round_trip_in_schema(store: SQLiteStore) -> None:
    inv = _invoices(
        "invoice_id,customer_id,amount,currency,due_date,discount_pct,discount_days\n"
        "I1,C1,10.50,EUR,2026-03-01,2,10\nI2,C1,0,EUR,,,\nI3,C2,180318,JPY,,,\n"
    )
    with store.transaction():
        store.upsert_invoices(inv, closed=np.array([False, False, True]), at=utcnow())
    out = store.open_invoices()
    assert out.schema == S.INVOICES
    assert out.column("invoice_id").to_pylist() == ["I1"]  # amount 0 and closed are not open
    row = out.to_pylist()[0]
    assert row["amount"] == 1050 and row["discount_bp"] == 200 and row["discount_days"] == 10
    assert str(row["due_date"]) == "2026-03-01"


def test_remembered_mappings_survive_master_upserts(store: SQLiteStore) -> None:
    cust = read_customers(b"customer_id,name,accounts,aliases\nC1,Acme,DE1;DE2,ACME GMBH\n").table
    with store.transaction():
        store.upsert_customers(cust, at=utcnow())
        store.add_payer_mapping(
            customer_id="C1", account="NL99", name="A.C.M.E.", by="ann", at=utcnow()
        )
    cust2 = read_customers(b"customer_id,name,accounts\nC1,Acme AG,DE3\n").table
    with store.transaction():
        store.upsert_customers(cust2, at=utcnow())
    row = store.customers().to_pylist()[0]
    assert row["name"] == "Acme AG"
    assert sorted(row["accounts"]) == ["DE3", "NL99"]
    assert row["aliases"] == ["A.C.M.E."]
