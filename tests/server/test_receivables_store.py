"""The ledger as a receivables history: invoiced amounts, the client's adjustments, migration 2."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from cashmatch.engine import schema as S
from cashmatch.engine.money import format_minor
from cashmatch.engine.receivables import RiskModel, analyse, build_ledger, day_number
from cashmatch.server import store as store_module
from cashmatch.server.service import AllocationInput, LedgerService
from cashmatch.server.store import SQLiteStore


def _invoices(rows: list[tuple[str, str, int]]) -> pa.Table:
    return pa.Table.from_pylist(
        [
            {
                "invoice_id": i,
                "customer_id": c,
                "amount": a,
                "currency": "EUR",
                "issue_date": date(2026, 3, 1),
                "due_date": date(2026, 3, 31),
            }
            for i, c, a in rows
        ],
        schema=S.INVOICES,
    )


STATEMENT = (
    b"payment_id,value_date,amount,currency,payer_name,payer_account,reference\n"
    b"P1,2026-04-02,40.00,EUR,Acme,,I1\n"
    b"P2,2026-04-03,100.00,EUR,Acme,,I2\n"
    b"P3,2026-04-04,25.00,EUR,Beta,,I3\n"
)


def _effective_open(store: SQLiteStore) -> dict[str, int]:
    conn = sqlite3.connect(store.path)
    try:
        rows = conn.execute("SELECT invoice_id, open_amount, closed FROM invoices").fetchall()
    finally:
        conn.close()
    return {i: 0 if closed else o for i, o, closed in rows}


def _ledger_open_today(store: SQLiteStore) -> dict[str, int]:
    h = store.history()
    led = build_ledger(
        invoices=h.invoices,
        payments=h.payments,
        allocations=h.allocations,
        adjustments=h.adjustments,
    )
    assert not led.problems
    opened = led.open_at(day_number(datetime.now(UTC).date()))
    return dict(zip(led.invoice_id.to_pylist(), opened.tolist(), strict=True))


def _submit(service: LedgerService, content: bytes, name: str) -> None:
    """Submit, then a reviewer applies whatever the matcher left open."""
    result = service.submit_statement(
        content=content,
        filename=name,
        format=None,
        idempotency_key=None,
        submitted_by="t",
        strict=False,
    )
    for row in result.exceptions.to_pylist():
        ref = {"P1": "I1", "P2": "I2", "P3": "I3"}[row["payment_id"]]
        service.resolve_exception(
            payment_id=row["payment_id"],
            action="APPLY",
            allocations=[AllocationInput(ref, format_minor(row["unapplied_amount"], "EUR"))],
            reviewer="reviewer",
        )


def test_history_open_amounts_equal_the_store_after_client_updates(
    service: LedgerService, store: SQLiteStore
) -> None:
    service.upsert_invoices(
        invoices=_invoices(
            [
                ("I1", "ACME", 10000),
                ("I2", "ACME", 10000),
                ("I3", "BETA", 5000),
                ("I4", "BETA", 700),
            ]
        )
    )
    _submit(service, STATEMENT, "s.csv")
    after_cash = _effective_open(store)
    assert after_cash["I1"] == 6000 and after_cash["I2"] == 0 and after_cash["I3"] == 2500
    assert _ledger_open_today(store) == after_cash

    # the client syncs: I1 at our open amount (no change), I3 lowered by a credit note of 5.00,
    # I4 raised (re-billed) to 9.00; I2 is re-sent closed; a new I5 arrives closed
    service.upsert_invoices(
        invoices=_invoices(
            [
                ("I1", "ACME", 6000),
                ("I3", "BETA", 2000),
                ("I4", "BETA", 900),
                ("I2", "ACME", 0),
                ("I5", "BETA", 0),
            ]
        )
    )
    now = _effective_open(store)
    assert now == {"I1": 6000, "I2": 0, "I3": 2000, "I4": 900, "I5": 0}
    assert _ledger_open_today(store) == now
    h = store.history()
    invoiced = dict(
        zip(h.invoices["invoice_id"].to_pylist(), h.invoices["amount"].to_pylist(), strict=True)
    )
    assert invoiced == {"I1": 10000, "I2": 10000, "I3": 5000, "I4": 900, "I5": 0}
    adj = h.adjustments.to_pylist()
    assert [(a["invoice_id"], a["amount"], a["reason"]) for a in adj] == [
        ("I3", 500, "LEDGER_UPDATE")
    ]
    assert adj[0]["date"] == datetime.now(UTC).date()
    # only the payments with allocations are part of the history
    assert sorted(h.payments["payment_id"].to_pylist()) == ["P1", "P2", "P3"]


def test_closing_an_open_invoice_is_an_adjustment(
    service: LedgerService, store: SQLiteStore
) -> None:
    service.upsert_invoices(invoices=_invoices([("I1", "ACME", 10000)]))
    _submit(service, STATEMENT.splitlines()[0] + b"\n" + STATEMENT.splitlines()[1] + b"\n", "a")
    service.upsert_invoices(invoices=_invoices([("I1", "ACME", 6000)]), closed=[True])
    h = store.history()
    assert h.adjustments["amount"].to_pylist() == [6000]
    assert _ledger_open_today(store) == {"I1": 0}


def _ledger_of_version(path: Path, version: int, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A ledger file as an older cashmatch left it: only the first ``version`` migrations."""
    monkeypatch.setattr(store_module, "MIGRATIONS", store_module.MIGRATIONS[:version])
    old = SQLiteStore(path)
    assert old.schema_version() == version
    old.close()
    monkeypatch.undo()
    return path


def test_migration_2_backfills_a_version_1_ledger(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _ledger_of_version(tmp_path / "v1.db", 1, monkeypatch)
    # a version 1 ledger: I1 part paid, I2 paid, I3 part paid then re-sent at its open amount
    # and closed by the client (version 1 kept no trace of what it had invoiced)
    at = "2026-05-01T10:00:00.000000+00:00"
    conn = sqlite3.connect(path)
    with conn:
        conn.executemany(
            "INSERT INTO invoices (invoice_id, customer_id, amount, open_amount, currency,"
            " issue_date, due_date, closed, updated_at) VALUES (?, ?, ?, ?, 'EUR',"
            " '2026-03-01', '2026-03-31', ?, ?)",
            [
                ("I1", "ACME", 10000, 6000, 0, at),
                ("I2", "ACME", 10000, 0, 1, at),
                ("I3", "BETA", 2500, 2500, 1, at),
            ],
        )
        conn.executemany(
            "INSERT INTO payments (payment_id, value_date, amount, currency, status,"
            " received_at, submission_id) VALUES (?, ?, ?, 'EUR', 'APPLIED', ?, 's1')",
            [
                ("P1", "2026-04-02", 4000, at),
                ("P2", "2026-04-03", 10000, at),
                ("P3", "2026-04-04", 2500, at),
            ],
        )
        conn.executemany(
            "INSERT INTO allocations (payment_id, invoice_id, applied_amount, adjustment_amount,"
            " invoice_open_after, confidence, rule, currency, created_by, created_at)"
            " VALUES (?, ?, ?, 0, ?, 1.0, 'reference', 'EUR', 'engine', ?)",
            [
                ("P1", "I1", 4000, 6000, at),
                ("P2", "I2", 10000, 0, at),
                ("P3", "I3", 2500, 2500, at),
            ],
        )
    conn.close()

    new = SQLiteStore(path)
    try:
        assert new.schema_version() == 3  # migration 2, and 3 (promises) after it
        h = new.history()
        assert h.promises.num_rows == 0
        ids, amounts = h.invoices["invoice_id"].to_pylist(), h.invoices["amount"].to_pylist()
        assert dict(zip(ids, amounts, strict=True)) == {"I1": 10000, "I2": 10000, "I3": 5000}
        assert [
            (a["invoice_id"], a["amount"], str(a["date"])) for a in h.adjustments.to_pylist()
        ] == [("I3", 2500, "2026-05-01")]
        assert _ledger_open_today(new) == _effective_open(new) == {"I1": 6000, "I2": 0, "I3": 0}
    finally:
        new.close()


def test_the_servers_risk_model_is_data(service: LedgerService, store: SQLiteStore) -> None:
    """``cashmatch serve --risk FILE`` (like ``cashmatch ar --risk``) replaces the signals."""
    service.upsert_invoices(
        invoices=_invoices([("I1", "ACME", 10000), ("I2", "ACME", 10000), ("I3", "BETA", 5000)])
    )
    _submit(service, STATEMENT, "s.csv")
    model = RiskModel.from_mapping(
        {
            "at_risk_score": 1,
            "signals": [
                {
                    "name": "everyone",
                    "metric": "days_beyond_terms",
                    "fires_at": -1000,
                    "full_at": -1000,
                    "weight": 100,
                    "reason": "flagged by the test model ({value:.0f} days beyond terms)",
                }
            ],
        }
    )
    custom = LedgerService(store, risk=model)
    as_of = date(2026, 6, 30)
    got = custom.get_receivables(as_of=as_of).accounts
    h = store.history()
    want = analyse(
        build_ledger(
            invoices=h.invoices,
            payments=h.payments,
            allocations=h.allocations,
            adjustments=h.adjustments,
            customers=h.customers,
        ),
        as_of=as_of,
        risk=model,
    ).accounts
    assert got.drop_columns(["customer_name"]).equals(want.drop_columns(["customer_name"]))
    assert got["at_risk"].to_pylist() == [True, True]
    assert all(r.startswith("flagged by the test model") for r in got["risk_reasons"].to_pylist())
    default = service.get_receivables(as_of=as_of).accounts
    assert not all(default["risk_reasons"].to_pylist()[i].startswith("flagged") for i in range(2))


def test_serve_refuses_an_unreadable_risk_model(tmp_path: Path) -> None:
    import subprocess
    import sys

    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "cashmatch.server",
            "--db",
            str(tmp_path / "x.db"),
            "--risk",
            str(tmp_path / "missing.toml"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "CASHMATCH_TOKEN": "a-token-123456"},
    )
    assert out.returncode == 2 and "missing.toml" in out.stderr


def test_imported_adjustments_take_the_invoices_currency(
    service: LedgerService, store: SQLiteStore
) -> None:
    service.upsert_invoices(invoices=_invoices([("I1", "ACME", 10000)]))
    adj = pa.Table.from_pylist(
        [{"invoice_id": "I1", "date": date(2026, 5, 2), "amount": 1500, "reason": "WRITE_OFF"}],
        schema=S.ADJUSTMENTS,
    )
    with store.transaction():
        store.insert_ledger_adjustments(adj, by="import", at="2026-05-02T00:00:00+00:00")
    got = store.history().adjustments.to_pylist()
    assert got == [{**adj.to_pylist()[0], "currency": "EUR"}]


def test_concurrent_reads_of_many_dates_agree_with_one_at_a_time(
    service: LedgerService, store: SQLiteStore
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    service.upsert_invoices(
        invoices=_invoices([("I1", "ACME", 10000), ("I2", "ACME", 10000), ("I3", "BETA", 5000)])
    )
    _submit(service, STATEMENT, "s.csv")
    dates = [date(2026, 3, 1 + k) for k in range(24)] * 3

    def one(d: date) -> list:
        return service.get_account(customer_id="ACME", as_of=d).accounts.to_pylist()

    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(one, dates))
    alone = LedgerService(store)  # a fresh cache, one call at a time
    for d, got in zip(dates, together, strict=True):
        assert got == alone.get_account(customer_id="ACME", as_of=d).accounts.to_pylist(), d
