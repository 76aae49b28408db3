"""GetReceivables / GetAccount on a real server (subprocess, ephemeral loopback port).

The expected figures are computed here independently of the server's code: the invoices and
the statement the test sent, read as the CLI reads them, the allocations the server answered,
and ``engine.receivables`` (what ``cashmatch ar`` runs) called directly on those tables.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import grpc
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from server_harness import (
    AUTH,
    CRM_AUTH,
    READ_AUTH,
    ServerProcess,
    statement_csv,
    write_tokens,
)

from cashmatch.engine import interchange as io
from cashmatch.engine import schema as S
from cashmatch.engine.money import to_minor
from cashmatch.engine.receivables import build_ledger, day_number, open_items, receivables
from cashmatch.report import top_at_risk
from cashmatch.server.pb import cash_application_pb2 as pb

AS_OF = date(2026, 6, 30)
CUSTOMERS = [
    ("C-ACME", "Acme GmbH"),
    ("C-BETA", "Beta Ltd"),
    ("C-GAMMA", "Gamma SA"),
    ("C-EMPTY", "No Invoices Yet"),
]


def _history() -> tuple[list[dict], list[tuple[str, ...]]]:
    """~40 invoices over January..June 2026 (EUR, and USD for Beta) and the payments of
    most of them, late by a lag that differs per customer; Gamma slows down in the spring."""
    invoices, payments = [], []
    lag = {"C-ACME": 12, "C-BETA": 35, "C-GAMMA": 5}
    n = 0
    for month in range(1, 7):
        for cust, _name in CUSTOMERS[:3]:
            for k in range(2):
                n += 1
                cur = "USD" if cust == "C-BETA" and k == 1 else "EUR"
                issue = date(2026, month, 3 + 9 * k)
                due = issue + timedelta(days=30)
                minor = 10_000 + (n * 7919) % 250_000
                inv_id = f"INV-{n:04d}"
                invoices.append(
                    {
                        "invoice_id": inv_id,
                        "customer_id": cust,
                        "amount": minor,
                        "currency": cur,
                        "issue_date": issue,
                        "due_date": due,
                    }
                )
                late = lag[cust] + (40 if cust == "C-GAMMA" and month >= 3 else 0)
                paid_on = due + timedelta(days=late - 30 + (n % 9))
                if paid_on <= AS_OF and n % 5 != 0:
                    amount = Decimal(minor) / 100
                    payments.append(
                        (f"P-{n:04d}", paid_on.isoformat(), f"{amount:.2f}", cur, cust, "", inv_id)
                    )
    # an overpayment of an Acme invoice (an exception naming Acme) and an unknown payer
    payments.append(("P-OVER", "2026-06-20", "999999.00", "EUR", "Acme GmbH", "", "INV-0005"))
    payments.append(("P-ANON", "2026-06-21", "12.34", "EUR", "Somebody", "", "no reference"))
    return invoices, payments


INVOICES, PAYMENTS = _history()


def _invoice_proto(row: dict, amount: int | None = None, closed: bool = False) -> pb.Invoice:
    minor = row["amount"] if amount is None else amount
    return pb.Invoice(
        invoice_id=row["invoice_id"],
        customer_id=row["customer_id"],
        amount=str(Decimal(minor) / 100),
        currency=row["currency"],
        issue_date=row["issue_date"].isoformat(),
        due_date=row["due_date"].isoformat(),
        closed=closed,
    )


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory):
    """A server with the history loaded, and the tables to compute the expected figures."""
    d = tmp_path_factory.mktemp("ar")
    srv = ServerProcess(d / "ledger.db", write_tokens(d / "tokens"))
    srv.start()
    stub = srv.stub()
    stub.UpsertCustomers(
        iter(
            [
                pb.UpsertCustomersRequest(
                    customers=[pb.Customer(customer_id=c, name=n) for c, n in CUSTOMERS]
                )
            ]
        ),
        metadata=AUTH,
    )
    stub.UpsertInvoices(
        iter([pb.UpsertInvoicesRequest(invoices=[_invoice_proto(r) for r in INVOICES])]),
        metadata=AUTH,
    )
    content = statement_csv(PAYMENTS)
    resp = stub.SubmitStatement(
        pb.SubmitStatementRequest(content=content, filename="history.csv", idempotency_key="h1"),
        metadata=AUTH,
    )
    assert resp.summary.auto_applied >= len(PAYMENTS) // 2  # the history is mostly applied

    # the client's ledger closes one open invoice (credit note on its side): the rest of its
    # open amount leaves the ledger today as an adjustment
    applied = {a.invoice_id for a in resp.allocations}
    closed_row = next(r for r in INVOICES if r["invoice_id"] not in applied)
    stub.UpsertInvoices(
        iter([pb.UpsertInvoicesRequest(invoices=[_invoice_proto(closed_row, closed=True)])]),
        metadata=AUTH,
    )
    closed_on = datetime.now(UTC).date()

    # ---- the expected side: the CLI's readers and the engine, on what was sent and answered
    stmt = d / "payments.csv"
    stmt.write_bytes(content)
    payments = io.read_payments(stmt, source=str(stmt)).table
    invoices = pa.Table.from_pylist(
        [{**r, "customer_name": None} for r in INVOICES], schema=S.INVOICES
    )
    allocations = pa.Table.from_pylist(
        [
            {
                "payment_id": a.payment_id,
                "invoice_id": a.invoice_id,
                "applied_amount": to_minor(a.applied_amount, a.currency),
                "adjustment_amount": to_minor(a.adjustment_amount or "0", a.currency),
                "adjustment_reason": a.adjustment_reason or None,
                "invoice_open_after": to_minor(a.invoice_open_after, a.currency),
                "confidence": a.confidence,
                "rule": a.rule,
                "currency": a.currency,
            }
            for a in resp.allocations
        ],
        schema=S.ALLOCATIONS,
    )
    adjustments = pa.Table.from_pylist(
        [
            {
                "invoice_id": closed_row["invoice_id"],
                "date": closed_on,
                "amount": closed_row["amount"],
                "reason": "LEDGER_UPDATE",
                "currency": closed_row["currency"],
            }
        ],
        schema=S.ADJUSTMENTS,
    )
    customers = pa.Table.from_pylist(
        [{"customer_id": c, "name": n} for c, n in CUSTOMERS], schema=S.CUSTOMERS
    )
    tables = {
        "invoices": invoices,
        "payments": payments,
        "allocations": allocations,
        "adjustments": adjustments,
        "customers": customers,
    }
    yield srv, stub, tables, closed_on
    srv.kill()


def _minor(text: str, currency: str) -> int:
    return to_minor(text, currency)


def _ratio_matches(text: str, value: float | None) -> bool:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return text == ""
    return text != "" and abs(Decimal(text) - Decimal(repr(value))) <= Decimal("0.00005")


def _check_receivables(resp: pb.GetReceivablesResponse, want) -> None:  # noqa: ANN001
    assert resp.as_of == want.as_of.isoformat() and resp.period_days == want.period_days
    assert [m.currency for m in resp.metrics] == want.metrics.column("currency").to_pylist()
    for m, row in zip(resp.metrics, want.metrics.to_pylist(), strict=True):
        for name in ("ar", "current_ar", "sales", "overdue", "ar_start", "write_offs"):
            assert _minor(getattr(m, name), m.currency) == row[name], (m.currency, name)
        for name in ("dso", "best_possible_dso", "add", "cei", "turnover", "bad_debt_ratio"):
            assert _ratio_matches(getattr(m, name), row[name]), (m.currency, name, row[name])
    totals = want.aging.group_by("currency").aggregate(
        [(b, "sum") for b in (*S.AGING_BUCKETS, "total")] + [("customer_id", "count")]
    )
    by_cur = {r["currency"]: r for r in totals.to_pylist()}
    assert sorted(by_cur) == [a.currency for a in resp.aging]
    fields = ("current", "days_1_30", "days_31_60", "days_61_90", "days_90_plus", "total")
    for a in resp.aging:
        row = by_cur[a.currency]
        for f, b in zip(fields, (*S.AGING_BUCKETS, "total"), strict=True):
            assert _minor(getattr(a, f), a.currency) == row[f"{b}_sum"], (a.currency, f)
        assert a.accounts == row["customer_id_count"]
    assert resp.accounts == want.accounts.num_rows
    assert resp.accounts_at_risk == pc.sum(want.accounts.column("at_risk")).as_py()
    got_ded = [(x.currency, x.reason, x.count, x.prev_count) for x in resp.deductions]
    want_ded = [
        (r["currency"], r["reason"], r["count"], r["prev_count"])
        for r in want.deductions.to_pylist()
    ]
    assert got_ded == want_ded


@pytest.mark.parametrize("period_days", [0, 30])
def test_get_receivables_equals_the_engine(ledger, period_days: int) -> None:  # noqa: ANN001
    _srv, stub, tables, _ = ledger
    resp = stub.GetReceivables(
        pb.GetReceivablesRequest(as_of=AS_OF.isoformat(), period_days=period_days),
        metadata=READ_AUTH,
    )
    want = receivables(**tables, as_of=AS_OF, period_days=period_days or 90)
    assert want.metrics.num_rows == 2  # EUR and USD
    assert _minor(resp.metrics[0].ar, "EUR") > 0
    _check_receivables(resp, want)
    # the accounts to call first: the CLI's summary and report pick them the same way
    first = top_at_risk(want.accounts, want.metrics)
    assert 0 < len(first) == len(resp.top_at_risk)
    for got, row in zip(resp.top_at_risk, first, strict=True):
        assert (got.customer_id, got.currency) == (row["customer_id"], row["currency"])
        assert got.customer_name == dict(CUSTOMERS)[row["customer_id"]]
        assert (got.risk_score, got.at_risk) == (row["risk_score"], True)
        assert _minor(got.overdue_amount, got.currency) == row["overdue"]
        assert "; ".join(got.risk_reasons) == row["risk_reasons"]
    one = stub.GetReceivables(
        pb.GetReceivablesRequest(as_of=AS_OF.isoformat(), period_days=period_days, top_at_risk=1),
        metadata=READ_AUTH,
    )
    assert [a.customer_id for a in one.top_at_risk] == [first[0]["customer_id"]]


def test_get_receivables_today_includes_the_clients_adjustment(ledger) -> None:  # noqa: ANN001
    _srv, stub, tables, closed_on = ledger
    resp = stub.GetReceivables(pb.GetReceivablesRequest(), metadata=READ_AUTH)
    today = date.fromisoformat(resp.as_of)
    if today != closed_on:  # the clock crossed midnight (UTC) during the test
        pytest.skip("date changed during the test")
    want = receivables(**tables, as_of=today, period_days=90)
    without = receivables(**{**tables, "adjustments": None}, as_of=today, period_days=90)
    _check_receivables(resp, want)
    # the closed invoice really left the AR (the adjustment is not a no-op)
    assert pc.sum(want.metrics.column("ar")).as_py() < pc.sum(without.metrics.column("ar")).as_py()


@pytest.mark.parametrize("customer", ["C-ACME", "C-BETA", "C-GAMMA"])
def test_get_account_equals_the_engine(ledger, customer: str) -> None:  # noqa: ANN001
    _srv, stub, tables, _ = ledger
    got = stub.GetAccount(
        pb.GetAccountRequest(customer_id=customer, as_of=AS_OF.isoformat()), metadata=READ_AUTH
    )
    want = receivables(**tables, as_of=AS_OF, period_days=90)
    rows = [r for r in want.accounts.to_pylist() if r["customer_id"] == customer]
    assert got.customer_id == customer
    assert got.customer_name == dict(CUSTOMERS)[customer]
    assert [a.currency for a in got.accounts] == [r["currency"] for r in rows]
    for a, r in zip(got.accounts, rows, strict=True):
        for f, col in (
            ("open_amount", "open"),
            ("overdue_amount", "overdue"),
            ("over_60_amount", "over_60"),
            ("deduction_amount", "deduction_amount"),
        ):
            assert _minor(getattr(a, f), a.currency) == r[col], f
        for f in (
            "avg_days_to_pay",
            "prev_avg_days_to_pay",
            "avg_days_beyond_terms",
            "prev_avg_days_beyond_terms",
        ):
            assert _ratio_matches(getattr(a, f), r[f]), (f, r[f])
        assert (a.deductions, a.prev_deductions) == (r["deductions"], r["prev_deductions"])
        assert (a.promises_kept, a.promises_broken) == (r["promises_kept"], r["promises_broken"])
        assert (a.risk_score, a.at_risk) == (r["risk_score"], r["at_risk"])
        assert "; ".join(a.risk_reasons) == r["risk_reasons"]
        assert _minor(a.aging.total, a.currency) == r["open"]
    assert got.risk_score == max(r["risk_score"] for r in rows)
    assert got.at_risk == any(r["at_risk"] for r in rows)

    # open items: the engine's open_items of this customer's accounts
    led = build_ledger(**tables)
    codes = [i for i, c in enumerate(led.account_customer.to_pylist()) if c == customer]
    items = pa.concat_tables([open_items(led, as_of=AS_OF, account=a) for a in codes])
    want_items = {r["invoice_id"]: r for r in items.to_pylist()}
    assert {i.invoice_id for i in got.open_items} == set(want_items)
    assert got.open_items, "the history leaves every customer something open"
    dpd = [i.days_past_due for i in got.open_items]
    assert dpd == sorted(dpd, reverse=True)  # most overdue first
    for item in got.open_items:
        r = want_items[item.invoice_id]
        assert _minor(item.open_amount, item.currency) == r["open"]
        assert _minor(item.amount, item.currency) == r["amount"]
        assert item.days_past_due == r["days_past_due"]
        assert item.age_days == day_number(AS_OF) - day_number(r["issue_date"])
        assert item.due_date == r["due_date"].isoformat()


def test_get_account_lists_the_customers_open_exceptions(ledger) -> None:  # noqa: ANN001
    _srv, stub, _, _ = ledger
    queue = stub.ListExceptions(
        pb.ListExceptionsRequest(page_size=100, customer_id="C-ACME"), metadata=READ_AUTH
    )
    got = stub.GetAccount(pb.GetAccountRequest(customer_id="C-ACME"), metadata=READ_AUTH)
    assert "P-OVER" in {e.payment_id for e in queue.exceptions}
    assert [e.payment_id for e in got.open_exceptions] == sorted(
        (e.payment_id for e in queue.exceptions),
        key=lambda p: next(e.value_date for e in queue.exceptions if e.payment_id == p),
    )
    assert got.open_exceptions_total == queue.total
    assert all(e.status == "open" and e.customer_id == "C-ACME" for e in got.open_exceptions)
    # the anonymous payment's exception belongs to nobody's account
    assert "P-ANON" not in {e.payment_id for e in got.open_exceptions}


def test_get_account_of_a_customer_without_invoices(ledger) -> None:  # noqa: ANN001
    _srv, stub, _, _ = ledger
    got = stub.GetAccount(pb.GetAccountRequest(customer_id="C-EMPTY"), metadata=READ_AUTH)
    assert got.customer_name == "No Invoices Yet"
    assert not got.accounts and not got.open_items and not got.at_risk
    assert not got.undated_items and not got.problems


def test_undated_invoices_are_shown_apart_and_reported(ledger) -> None:  # noqa: ANN001
    """An invoice sent without issue_date cannot be aged by the analytics (as in the CLI, a
    problem row): the account still lists it, apart, with the reason."""
    _srv, stub, _, _ = ledger
    stub.UpsertInvoices(
        iter(
            [
                pb.UpsertInvoicesRequest(
                    invoices=[
                        pb.Invoice(
                            invoice_id="INV-UNDATED",
                            customer_id="C-LATECOMER",
                            customer_name="Latecomer AG",
                            amount="50.00",
                            currency="EUR",
                            due_date="2030-01-01",
                        )
                    ]
                )
            ]
        ),
        metadata=AUTH,
    )
    got = stub.GetAccount(
        pb.GetAccountRequest(customer_id="C-LATECOMER", as_of="2030-01-11"), metadata=READ_AUTH
    )
    assert not got.accounts and not got.open_items
    assert [
        (i.invoice_id, i.open_amount, i.days_past_due, i.bucket) for i in got.undated_items
    ] == [("INV-UNDATED", "50.00", 10, "1_30")]
    assert got.problems[0].column == "issue_date" and "INV-UNDATED" in got.problems[0].reason
    everyone = stub.GetReceivables(pb.GetReceivablesRequest(as_of="2030-01-11"), metadata=READ_AUTH)
    assert any("INV-UNDATED" in p.reason for p in everyone.problems)


def _code(fn, *args, **kw) -> tuple[grpc.StatusCode, str]:  # noqa: ANN001
    with pytest.raises(grpc.RpcError) as err:
        fn(*args, **kw)
    return err.value.code(), err.value.details()


def test_errors_name_the_field(ledger) -> None:  # noqa: ANN001
    _srv, stub, _, _ = ledger
    code, msg = _code(
        stub.GetAccount, pb.GetAccountRequest(customer_id="C-NOBODY"), metadata=READ_AUTH
    )
    assert code == grpc.StatusCode.NOT_FOUND and "C-NOBODY" in msg
    for req in (
        pb.GetReceivablesRequest(as_of="2026-13-01"),
        pb.GetReceivablesRequest(as_of="30/06/2026"),
        pb.GetReceivablesRequest(as_of="20260630"),
    ):
        code, msg = _code(stub.GetReceivables, req, metadata=READ_AUTH)
        assert code == grpc.StatusCode.INVALID_ARGUMENT and msg.startswith("as_of:"), msg
    code, msg = _code(
        stub.GetAccount,
        pb.GetAccountRequest(customer_id="C-ACME", as_of="yesterday"),
        metadata=READ_AUTH,
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT and msg.startswith("as_of:"), msg
    code, msg = _code(stub.GetAccount, pb.GetAccountRequest(), metadata=READ_AUTH)
    assert code == grpc.StatusCode.INVALID_ARGUMENT and msg.startswith("customer_id:"), msg
    code, msg = _code(
        stub.GetReceivables, pb.GetReceivablesRequest(period_days=-5), metadata=READ_AUTH
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT and msg.startswith("period_days:"), msg
    code, msg = _code(
        stub.GetReceivables, pb.GetReceivablesRequest(top_at_risk=5000), metadata=READ_AUTH
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT and msg.startswith("top_at_risk:"), msg


def test_read_only_token_reads_but_never_writes(ledger) -> None:  # noqa: ANN001
    _srv, stub, _, _ = ledger
    # reads: the receivables RPCs and the existing read RPCs
    assert stub.GetReceivables(pb.GetReceivablesRequest(), metadata=READ_AUTH).metrics
    assert stub.GetAccount(pb.GetAccountRequest(customer_id="C-BETA"), metadata=READ_AUTH)
    assert stub.GetPayment(pb.GetPaymentRequest(payment_id="P-OVER"), metadata=READ_AUTH)
    # writes: refused before anything runs
    code, _ = _code(
        stub.SubmitStatement,
        pb.SubmitStatementRequest(
            content=statement_csv([("P-RO", "2026-06-29", "1.00", "EUR", "X", "", "r")]),
            filename="ro.csv",
        ),
        metadata=READ_AUTH,
    )
    assert code == grpc.StatusCode.PERMISSION_DENIED
    code, _ = _code(
        stub.UpsertInvoices,
        iter([pb.UpsertInvoicesRequest(invoices=[_invoice_proto(INVOICES[0], amount=1)])]),
        metadata=READ_AUTH,
    )
    assert code == grpc.StatusCode.PERMISSION_DENIED
    code, _ = _code(
        stub.ResolveException,
        pb.ResolveExceptionRequest(
            payment_id="P-ANON", action=pb.ResolveExceptionRequest.REFUND, reviewer="x"
        ),
        metadata=READ_AUTH,
    )
    assert code == grpc.StatusCode.PERMISSION_DENIED
    # nothing changed, and without a token nothing is readable
    assert (
        stub.GetPayment(pb.GetPaymentRequest(payment_id="P-ANON"), metadata=READ_AUTH).status
        == "UNAPPLIED"
    )
    code, _ = _code(stub.GetReceivables, pb.GetReceivablesRequest())
    assert code == grpc.StatusCode.UNAUTHENTICATED
    code, _ = _code(
        stub.GetAccount,
        pb.GetAccountRequest(customer_id="C-ACME"),
        metadata=(("authorization", "Bearer not-a-known-token"),),
    )
    assert code == grpc.StatusCode.UNAUTHENTICATED


def test_receivables_token_reads_the_figures_and_nothing_else(ledger) -> None:  # noqa: ANN001
    """A CRM integration's token (scope ``receivables``): GetReceivables and GetAccount answer
    as they do for a read token; the payments, payers and exception queue are refused."""
    _srv, stub, _, _ = ledger
    want = stub.GetReceivables(pb.GetReceivablesRequest(), metadata=READ_AUTH)
    assert stub.GetReceivables(pb.GetReceivablesRequest(), metadata=CRM_AUTH) == want
    account = pb.GetAccountRequest(customer_id="C-BETA")
    assert stub.GetAccount(account, metadata=CRM_AUTH) == stub.GetAccount(
        account, metadata=READ_AUTH
    )
    refused = [
        (stub.GetPayment, pb.GetPaymentRequest(payment_id="P-OVER")),
        (stub.ListExceptions, pb.ListExceptionsRequest()),
        (stub.Match, pb.MatchRequest()),
        (stub.RecordPromise, pb.RecordPromiseRequest(customer_id="C-BETA")),
    ]
    for rpc, request in refused:
        code, msg = _code(rpc, request, metadata=CRM_AUTH)
        assert code == grpc.StatusCode.PERMISSION_DENIED and "crm" in msg, (rpc, msg)


def test_record_promise_is_judged_by_get_account(ledger) -> None:  # noqa: ANN001
    """RecordPromise stores a promise (write scope, idempotent); GetAccount lists it with its
    status and counts it. Dated in 2030, after every as_of the other tests read."""
    _srv, stub, _, _ = ledger
    item = stub.GetAccount(
        pb.GetAccountRequest(customer_id="C-GAMMA", as_of="2030-01-10"), metadata=AUTH
    ).open_items[-1]  # not the one test_new_payment_changes_the_figures pays
    req = pb.RecordPromiseRequest(
        customer_id="C-GAMMA",
        invoice_id=item.invoice_id,
        promised_date="2030-02-01",
        made_on="2030-01-20",
        idempotency_key="crm-1",
    )
    code, _ = _code(stub.RecordPromise, req, metadata=READ_AUTH)
    assert code == grpc.StatusCode.PERMISSION_DENIED
    got = stub.RecordPromise(req, metadata=AUTH)
    assert (got.amount, got.currency, got.recorded_by) == (
        item.open_amount,
        item.currency,
        "tester",
    )
    assert stub.RecordPromise(req, metadata=AUTH).promise_id == got.promise_id  # a retry
    code, msg = _code(
        stub.RecordPromise,
        pb.RecordPromiseRequest(
            customer_id="C-NOBODY", amount="1", currency="EUR", promised_date="2030-02-01"
        ),
        metadata=AUTH,
    )
    assert code == grpc.StatusCode.NOT_FOUND, msg
    code, msg = _code(
        stub.RecordPromise,
        pb.RecordPromiseRequest(
            customer_id="C-GAMMA", invoice_id=item.invoice_id, promised_date="1st of May"
        ),
        metadata=AUTH,
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT and msg.startswith("promised_date:"), msg

    early = stub.GetAccount(
        pb.GetAccountRequest(customer_id="C-GAMMA", as_of="2030-01-25"), metadata=READ_AUTH
    )
    assert [(p.promise_id, p.status) for p in early.promises] == [(got.promise_id, "PENDING")]
    late = stub.GetAccount(
        pb.GetAccountRequest(customer_id="C-GAMMA", as_of="2030-03-01"), metadata=READ_AUTH
    )
    assert [p.status for p in late.promises] == ["BROKEN"]  # no cash came for it
    account = next(a for a in late.accounts if a.currency == item.currency)
    assert (account.promises_kept, account.promises_broken) == (0, 1)


def test_new_payment_changes_the_figures(ledger) -> None:  # noqa: ANN001
    """The cache is keyed on the store's version: a write shows in the next read. (Dated
    after every as_of the other tests use, so they see the same history in any order.)"""
    _srv, stub, _, _ = ledger
    later = "2030-01-05"
    before = stub.GetAccount(
        pb.GetAccountRequest(customer_id="C-GAMMA", as_of=later), metadata=AUTH
    )
    item = before.open_items[0]
    resp = stub.SubmitStatement(
        pb.SubmitStatementRequest(
            content=statement_csv(
                [
                    (
                        "P-LATE",
                        "2030-01-04",
                        item.open_amount,
                        item.currency,
                        "Gamma SA",
                        "",
                        item.invoice_id,
                    )
                ]
            ),
            filename="late.csv",
        ),
        metadata=AUTH,
    )
    assert [a.invoice_id for a in resp.allocations] == [item.invoice_id]
    after = stub.GetAccount(pb.GetAccountRequest(customer_id="C-GAMMA", as_of=later), metadata=AUTH)
    assert item.invoice_id not in {i.invoice_id for i in after.open_items}


def test_a_generated_year_gives_the_digits_of_cashmatch_ar(tmp_path: Path) -> None:
    """A year of labelled history (the issue's generator) in the server's ledger: GetReceivables
    answers the very strings ``cashmatch ar`` writes in metrics.csv, and aging.csv's sums."""
    import csv

    from cashmatch.cli import main as cli
    from cashmatch.fixtures.history import generate_history, write_history
    from cashmatch.server.store import SQLiteStore

    h = generate_history(n_customers=40, seed=3)
    # the ledger as the server would hold it after a year: invoices, applied payments, the
    # client's write-offs and credit notes (loaded straight into the store: cash application
    # of a year is not what this test is about)
    store = SQLiteStore(tmp_path / "ledger.db")
    at = "2026-01-01T00:00:00.000000+00:00"
    with store.transaction():
        store.upsert_invoices(h.invoices, closed=np.zeros(h.invoices.num_rows, bool), at=at)
        used = pc.is_in(h.payments.column("payment_id"), value_set=h.allocations["payment_id"])
        pays = h.payments.filter(used)
        store.insert_payments(
            pays,
            status=["APPLIED"] * pays.num_rows,
            customer_ids=[None] * pays.num_rows,
            submission_id="history",
            at=at,
        )
        store.insert_allocations(h.allocations, by="history", at=at)
        store.insert_ledger_adjustments(h.adjustments, by="history", at=at)
    store.close()
    assert h.adjustments.num_rows and h.allocations.num_rows

    paths = write_history(h, tmp_path / "csv")
    out = tmp_path / "ar"
    argv = ["ar", "--as-of", h.as_of.isoformat(), "--out", str(out), "--no-report", "--quiet"]
    for name in ("invoices", "payments", "allocations", "adjustments"):
        argv += [f"--{name}", str(paths[name])]  # promises: see test_promises.py
    assert cli(argv) == 0
    with open(out / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    with open(out / "aging.csv", newline="") as f:
        aging_rows = list(csv.DictReader(f))

    srv = ServerProcess(tmp_path / "ledger.db", write_tokens(tmp_path / "tokens")).start()
    try:
        resp = srv.stub().GetReceivables(
            pb.GetReceivablesRequest(as_of=h.as_of.isoformat()), metadata=READ_AUTH
        )
    finally:
        srv.kill()
    assert [m.currency for m in resp.metrics] == [r["currency"] for r in rows]
    for m, r in zip(resp.metrics, rows, strict=True):
        for name in (
            "ar",
            "current_ar",
            "sales",
            "dso",
            "best_possible_dso",
            "add",
            "cei",
            "turnover",
            "bad_debt_ratio",
            "overdue",
            "ar_start",
            "write_offs",
        ):
            assert getattr(m, name) == (r[name] or ""), (m.currency, name)
    assert any(_minor(m.write_offs, m.currency) > 0 for m in resp.metrics)
    fields = ("current", "days_1_30", "days_31_60", "days_61_90", "days_90_plus", "total")
    for a in resp.aging:
        mine = [r for r in aging_rows if r["currency"] == a.currency]
        assert a.accounts == len(mine)
        for f, col in zip(fields, (*S.AGING_BUCKETS, "total"), strict=True):
            assert Decimal(getattr(a, f)) == sum(Decimal(r[col]) for r in mine), (a.currency, f)
