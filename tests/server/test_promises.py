"""Promises to pay kept by the server: recorded (validated, idempotent, audited), stored by
migration 3, and judged kept or broken by the engine exactly as ``cashmatch ar --promises``."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pytest
from test_receivables_store import STATEMENT, _invoices, _ledger_of_version, _submit

from cashmatch.engine import interchange as io
from cashmatch.engine.errors import AlreadyExists, InvalidInput, NotFound
from cashmatch.engine.receivables import receivables
from cashmatch.server.service import LedgerService
from cashmatch.server.store import SQLiteStore

AS_OF = date(2026, 4, 30)


@pytest.fixture
def ledger(service: LedgerService, store: SQLiteStore) -> LedgerService:
    """I1 (Acme, 100.00, 40.00 paid on 04-02), I2 (Acme, 100.00, paid on 04-03), I3 (Beta,
    25.00, paid on 04-04); four promises recorded before the cash came in."""
    at = "2026-03-01T09:00:00.000000+00:00"
    with store.transaction():
        inv = _invoices([("I1", "ACME", 10000), ("I2", "ACME", 10000), ("I3", "BETA", 2500)])
        store.upsert_invoices(inv, closed=np.zeros(3, bool), at=at)
    promise = service.record_promise
    # 60.00 of I1 by 04-10: only 40.00 came -> broken
    promise(
        customer_id="ACME",
        invoice_id="I1",
        amount="60.00",
        promised_date="2026-04-10",
        made_on="2026-04-01",
        recorded_by="collector",
    )
    # I2's open amount (no amount given) by 04-05: paid on 04-03 -> kept
    promise(
        customer_id="ACME",
        invoice_id="I2",
        promised_date="2026-04-05",
        made_on="2026-03-30",
        recorded_by="collector",
        note="CFO on the phone",
    )
    # Beta's account, 25.00 EUR by 04-20: its cash of 04-04 -> kept
    promise(
        customer_id="BETA",
        amount="25",
        currency="eur",
        promised_date="2026-04-20",
        made_on="2026-04-01",
        recorded_by="collector",
    )
    # the rest of I1 by 05-20: not due as of 04-30 -> pending, in no count
    promise(
        customer_id="ACME",
        invoice_id="I1",
        amount="60.00",
        promised_date="2026-05-20",
        made_on="2026-04-25",
        recorded_by="collector",
        idempotency_key="crm-77",
    )
    _submit(service, STATEMENT, "s.csv")
    return service


def test_promises_are_judged_like_the_cli_judges_promises_csv(
    ledger: LedgerService, store: SQLiteStore, tmp_path: Path
) -> None:
    view = ledger.get_account(customer_id="ACME", as_of=AS_OF)
    status = {(p["invoice_id"], p["promised_date"]): p["status"] for p in view.promises}
    assert status == {
        ("I1", "2026-05-20"): "PENDING",
        ("I1", "2026-04-10"): "BROKEN",
        ("I2", "2026-04-05"): "KEPT",
    }
    assert [p["promised_date"] for p in view.promises] == ["2026-05-20", "2026-04-10", "2026-04-05"]
    assert {p["recorded_by"] for p in view.promises} == {"collector"}
    row = view.accounts.to_pylist()[0]
    assert (row["promises_kept"], row["promises_broken"]) == (1, 1)
    beta = ledger.get_account(customer_id="BETA", as_of=AS_OF)
    assert [p["status"] for p in beta.promises] == ["KEPT"]
    assert beta.accounts.column("promises_kept").to_pylist() == [1]

    # the same promises as a promises.csv, read by the CLI's reader, through the engine
    lines = ["customer_id,invoice_id,amount,currency,promised_date,made_on"]
    for c in ("ACME", "BETA"):
        for p in store.promises_of(c):
            amount = f"{p['amount'] // 100}.{p['amount'] % 100:02d}"
            lines.append(
                f"{c},{p['invoice_id'] or ''},{amount},{p['currency']},"
                f"{p['promised_date']},{p['made_on']}"
            )
    path = tmp_path / "promises.csv"
    path.write_text("\n".join(lines) + "\n")
    read = io.read_promises(path)
    assert not read.problems
    h = store.history()
    want = receivables(
        invoices=h.invoices,
        payments=h.payments,
        allocations=h.allocations,
        adjustments=h.adjustments,
        promises=read.table,
        as_of=AS_OF,
    ).accounts
    got = ledger.get_receivables(as_of=AS_OF).accounts
    cols = ["customer_id", "promises_kept", "promises_broken", "risk_score"]
    assert got.select(cols).to_pylist() == want.select(cols).to_pylist()


def test_a_new_promise_shows_in_the_next_read(ledger: LedgerService) -> None:
    before = ledger.get_account(customer_id="BETA", as_of=AS_OF)
    ledger.record_promise(
        customer_id="BETA",
        invoice_id="I3",
        amount="5.00",
        promised_date="2026-04-06",
        made_on="2026-04-05",
        recorded_by="collector",
    )  # after its payment of 04-04, and I3 closed by then: kept
    after = ledger.get_account(customer_id="BETA", as_of=AS_OF)
    assert len(after.promises) == len(before.promises) + 1
    assert after.accounts.column("promises_kept").to_pylist() == [2]


def test_recording_is_validated_and_names_the_field(ledger: LedgerService) -> None:
    base = {"promised_date": "2026-05-01", "made_on": "2026-04-01", "recorded_by": "c"}
    with pytest.raises(NotFound, match="customer 'NOBODY'"):
        ledger.record_promise(customer_id="NOBODY", amount="1", currency="EUR", **base)
    with pytest.raises(NotFound, match="invoice 'I9'"):
        ledger.record_promise(customer_id="ACME", invoice_id="I9", **base)
    with pytest.raises(InvalidInput, match="invoice_id: I3 is billed to BETA"):
        ledger.record_promise(customer_id="ACME", invoice_id="I3", **base)
    with pytest.raises(InvalidInput, match="currency: invoice I1 is in EUR, not USD"):
        ledger.record_promise(customer_id="ACME", invoice_id="I1", currency="USD", **base)
    with pytest.raises(InvalidInput, match="currency: required"):
        ledger.record_promise(customer_id="ACME", amount="1", **base)
    with pytest.raises(InvalidInput, match="amount: required"):
        ledger.record_promise(customer_id="ACME", currency="EUR", **base)
    with pytest.raises(InvalidInput, match="amount: .*more decimals"):
        ledger.record_promise(customer_id="ACME", invoice_id="I1", amount="1.234", **base)
    with pytest.raises(InvalidInput, match="amount: must be more than 0"):
        ledger.record_promise(customer_id="ACME", invoice_id="I2", **base)  # I2 is paid
    with pytest.raises(InvalidInput, match="promised_date: expected a date"):
        ledger.record_promise(
            **{**base, "promised_date": "05/01/2026"}, customer_id="ACME", invoice_id="I1"
        )
    with pytest.raises(InvalidInput, match="promised_date: 2026-03-01 is before made_on"):
        ledger.record_promise(
            **{**base, "promised_date": "2026-03-01"}, customer_id="ACME", invoice_id="I1"
        )
    with pytest.raises(InvalidInput, match="recorded_by: required"):
        ledger.record_promise(**{**base, "recorded_by": " "}, customer_id="ACME", invoice_id="I1")


def test_idempotency_key_returns_the_first_promise(
    ledger: LedgerService, store: SQLiteStore
) -> None:
    first = store.promise_by_key("crm-77")
    again = ledger.record_promise(
        customer_id="ACME",
        invoice_id="I1",
        amount="60",
        promised_date="2026-05-20",
        made_on="2026-04-25",
        recorded_by="someone else",
        idempotency_key="crm-77",
    )
    assert again["promise_id"] == first["promise_id"]
    assert len(store.promises_of("ACME")) == 3
    with pytest.raises(AlreadyExists, match="crm-77"):
        ledger.record_promise(
            customer_id="ACME",
            invoice_id="I1",
            amount="61",
            promised_date="2026-05-20",
            made_on="2026-04-25",
            recorded_by="c",
            idempotency_key="crm-77",
        )
    audit = [e for e in store.audit_of("ACME") if e.action == "promise_recorded"]
    assert len(audit) == 3 and audit[0].actor == "collector"


def test_migration_3_adds_promises_to_a_version_2_ledger(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _ledger_of_version(tmp_path / "v2.db", 2, monkeypatch)
    new = SQLiteStore(path)
    try:
        assert new.schema_version() == 3
        assert new.history().promises.num_rows == 0
        with new.transaction():
            pid = new.insert_promise(
                {
                    "customer_id": "C",
                    "amount": 5,
                    "currency": "EUR",
                    "promised_date": "2026-05-01",
                    "made_on": "2026-04-01",
                },
                by="t",
                at="2026-04-01T00:00:00+00:00",
            )
        h = new.history().promises
        assert h.column("promise_id").to_pylist() == [pid]
        assert pc.is_null(h.column("invoice_id")).to_pylist() == [True]
        with pytest.raises(sqlite3.IntegrityError), new.transaction():  # amounts are > 0
            new.insert_promise(
                {
                    "customer_id": "C",
                    "amount": 0,
                    "currency": "EUR",
                    "promised_date": "2026-05-01",
                    "made_on": "2026-04-01",
                },
                by="t",
                at="2026-04-01T00:00:00+00:00",
            )
    finally:
        new.close()
