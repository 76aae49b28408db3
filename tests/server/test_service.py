"""The service functions, directly over a real SQLite store (no server)."""

from __future__ import annotations

import threading
from datetime import date

import pyarrow as pa
import pytest

from cashmatch.engine.errors import AlreadyExists, FailedPrecondition, InvalidInput, NotFound
from cashmatch.engine.interchange import read_customers, read_invoices
from cashmatch.server.service import (
    APPLIED,
    DUPLICATE,
    IGNORED,
    ON_ACCOUNT,
    UNAPPLIED,
    AllocationInput,
    AlreadyResolved,
    LedgerService,
)

HEAD = "payment_id,value_date,amount,currency,payer_name,payer_account,reference\n"


def _csv(*rows: str) -> bytes:
    return (HEAD + "".join(r + "\n" for r in rows)).encode()


@pytest.fixture
def ledger(service: LedgerService) -> LedgerService:
    service.upsert_invoices(
        invoices=read_invoices(
            b"invoice_id,customer_id,customer_name,amount,currency\n"
            b"INV-1,C1,Acme,100.00,EUR\nINV-2,C1,Acme,50.00,EUR\nINV-3,C2,Beta,70.00,EUR\n"
            b"INV-9,C3,Yen,5000,JPY\n"
        ).table
    )
    service.upsert_customers(
        customers=read_customers(b"customer_id,name,accounts\nC1,Acme,DE11\nC2,Beta,\n").table
    )
    return service


def test_same_key_or_same_content_returns_first_result(ledger: LedgerService) -> None:
    content = _csv("P1,2026-01-05,100.00,EUR,Acme,DE11,INV-1", "P2,2026-01-06,5.00,EUR,X,,")
    first = ledger.submit_statement(content=content, filename="a.csv", idempotency_key="k1")
    assert not first.duplicate
    counts = {t: ledger.store.count(t) for t in ("payments", "exceptions", "allocations")}
    again = ledger.submit_statement(content=content, filename="a.csv", idempotency_key="k1")
    same_content = ledger.submit_statement(content=content, filename="renamed.csv")
    for r in (again, same_content):
        assert r.duplicate and r.statement_id == first.statement_id
        assert r.payments.to_pylist() == first.payments.to_pylist()
        assert r.exceptions.to_pylist() == first.exceptions.to_pylist()
        assert r.summary == first.summary
    assert counts == {t: ledger.store.count(t) for t in counts}
    with pytest.raises(AlreadyExists, match="k1"):
        ledger.submit_statement(content=_csv("P3,2026-01-05,1.00,EUR,,,"), idempotency_key="k1")


def test_payment_id_is_never_stored_or_applied_twice(ledger: LedgerService) -> None:
    ledger.submit_statement(content=_csv("P1,2026-01-05,100.00,EUR,Acme,DE11,INV-1"))
    r = ledger.submit_statement(
        content=_csv("P1,2026-01-05,100.00,EUR,Acme,DE11,INV-1", "P2,2026-01-06,5.00,EUR,X,,")
    )
    status = dict(
        zip(
            r.payments.column("payment_id").to_pylist(),
            r.payments.column("status").to_pylist(),
            strict=True,
        )
    )
    assert status["P1"] == DUPLICATE and status["P2"] == UNAPPLIED
    assert r.summary.payments == 1
    assert ledger.store.count("payments") == 2
    assert r.payments.column("first_statement_id")[0].as_py() != r.statement_id


def test_row_problems_name_file_line_and_field(ledger: LedgerService) -> None:
    r = ledger.submit_statement(
        content=_csv(
            "P1,2026-01-05,100.00,EUR,,,",
            "P2,2026-13-45,1.00,EUR,,,",
            "P3,2026-01-05,1.234,EUR,,,",
            "P1,2026-01-07,3.00,EUR,,,",
        ),
        filename="day.csv",
    )
    probs = {(p.line, p.column) for p in r.problems}
    assert {(3, "value_date"), (4, "amount"), (5, "payment_id")} <= probs
    assert all(p.source == "day.csv" for p in r.problems)
    assert r.payments.column("payment_id").to_pylist() == ["P1"]
    with pytest.raises(InvalidInput, match=r"bad\.csv:2 \[amount\]"):
        ledger.submit_statement(content=_csv("P9,2026-01-05,abc,EUR,,,"), filename="bad.csv")
    with pytest.raises(InvalidInput, match="strict.csv"):
        ledger.submit_statement(
            content=_csv("P8,2026-01-05,1,EUR,,,", "P7,x,1,EUR,,,"),
            filename="strict.csv",
            strict=True,
        )
    with pytest.raises(InvalidInput, match="empty"):
        ledger.submit_statement(content=b"", filename="e.csv")
    with pytest.raises(InvalidInput, match="x.csv: not a format"):
        ledger.submit_statement(content=b"a,b\n1,2\n", filename="x.csv")


def test_debits_are_stored_but_never_applied(ledger: LedgerService) -> None:
    content = (HEAD.strip() + ",direction\nP1,2026-01-05,100.00,EUR,,,,DBIT\n").encode()
    r = ledger.submit_statement(content=content)
    assert r.payments.column("status").to_pylist() == [IGNORED]
    assert ledger.get_payment("P1").status == IGNORED
    assert ledger.list_exceptions().total == 0


def _queue(ledger: LedgerService) -> None:
    rows = [f"Q{i:02d},2026-01-{1 + i:02d},{10 + i}.00,EUR,Payer {i},,ref {i}" for i in range(12)]
    rows.append("QJ,2026-01-20,700,JPY,Yen payer,,x")
    ledger.submit_statement(content=_csv(*rows))


def test_list_exceptions_pages_filters_and_sorts(ledger: LedgerService) -> None:
    _queue(ledger)
    seen, token = [], None
    while True:
        page = ledger.list_exceptions(page_size=5, page_token=token)
        seen += [e.payment_id for e in page.items]
        assert page.total == 13
        token = page.next_page_token
        if not token:
            break
    assert len(seen) == len(set(seen)) == 13
    assert seen[0] == "Q00"  # oldest first
    by_amount = ledger.list_exceptions(sort="-amount", page_size=3, currency="EUR")
    assert [e.payment_id for e in by_amount.items] == ["Q11", "Q10", "Q09"]
    nxt = ledger.list_exceptions(
        sort="-amount", page_size=3, currency="EUR", page_token=by_amount.next_page_token
    )
    assert [e.payment_id for e in nxt.items] == ["Q08", "Q07", "Q06"]
    for sort in ("customer_id", "reason", "-age", "payment_id"):  # every sort pages fully
        seen, token = [], None
        while True:
            page = ledger.list_exceptions(page_size=4, page_token=token, sort=sort)
            seen += [e.payment_id for e in page.items]
            token = page.next_page_token
            if not token:
                break
        assert sorted(seen) == sorted(set(seen)) and len(seen) == 13, sort
    assert ledger.list_exceptions(min_amount="15", max_amount="17.00").total == 3
    assert ledger.list_exceptions(min_amount="600").total == 1  # 700 JPY
    assert ledger.list_exceptions(currency="jpy").items[0].payment_id == "QJ"
    old = ledger.list_exceptions(older_than_days=10, today=date(2026, 1, 14))
    assert {e.payment_id for e in old.items} == {"Q00", "Q01", "Q02"}
    counts = ledger.list_exceptions().counts_by_reason
    assert sum(counts.values()) == 13
    reason = next(iter(counts))
    only = ledger.list_exceptions(reason=reason)
    assert only.total == counts[reason] and {e.reason for e in only.items} == {reason}
    assert only.counts_by_reason == counts  # counts ignore the reason filter
    with pytest.raises(InvalidInput, match="page_token"):
        ledger.list_exceptions(page_token=by_amount.next_page_token)  # other sort
    with pytest.raises(InvalidInput, match="page_token"):
        ledger.list_exceptions(page_token="garbage!")
    with pytest.raises(InvalidInput, match="sort"):
        ledger.list_exceptions(sort="colour")
    with pytest.raises(InvalidInput, match="min_amount"):
        ledger.list_exceptions(min_amount="ten")


def test_apply_decision_with_remember_and_audit(ledger: LedgerService) -> None:
    ledger.submit_statement(content=_csv("P1,2026-01-05,148.00,EUR,A.C.M.E. Ltd,NL77,paid"))
    view = ledger.resolve_exception(
        payment_id="P1",
        action="APPLY",
        allocations=[
            AllocationInput("INV-1", "100.00"),
            AllocationInput("INV-2", "48.00", "2.00", "BANK_FEE"),
        ],
        reviewer="ann",
        note="phoned the customer",
        remember=True,
    )
    assert view.status == APPLIED and view.unapplied_amount == 0
    assert view.exception.status == "resolved" and view.exception.resolved_by == "ann"
    assert sorted(view.allocations.column("invoice_id").to_pylist()) == ["INV-1", "INV-2"]
    assert set(view.allocations.column("created_by").to_pylist()) == {"ann"}
    assert "INV-1" not in ledger.store.open_invoices().column("invoice_id").to_pylist()
    assert "INV-2" not in ledger.store.open_invoices().column("invoice_id").to_pylist()
    resolve = [e for e in view.audit if e.action == "RESOLVE_APPLY"]
    assert resolve and resolve[0].actor == "ann" and resolve[0].at
    assert resolve[0].detail["note"] == "phoned the customer"
    customers = {r["customer_id"]: r for r in ledger.ledger()[1].to_pylist()}
    assert "NL77" in customers["C1"]["accounts"]
    assert "A.C.M.E. Ltd" in customers["C1"]["aliases"]
    assert ledger.list_exceptions().total == 0
    with pytest.raises(AlreadyResolved) as err:
        ledger.resolve_exception(payment_id="P1", action="REFUND", reviewer="bob")
    assert err.value.resolved_by == "ann" and err.value.grpc_code == "FAILED_PRECONDITION"
    assert "ann" in str(err.value)


def test_decision_validation(ledger: LedgerService) -> None:
    ledger.submit_statement(
        content=_csv("P1,2026-01-05,80.00,EUR,Nobody,,?", "P2,2026-01-05,10.00,EUR,Nobody,,?")
    )
    cases = [
        (
            dict(action="APPLY", allocations=[AllocationInput("INV-1", "90.00")]),
            InvalidInput,
            "exceeds the 80.00 EUR",
        ),
        (
            dict(action="APPLY", allocations=[AllocationInput("INV-3", "80.00")]),
            InvalidInput,
            "exceeds the open amount 70.00",
        ),
        (dict(action="APPLY", allocations=[AllocationInput("INV-9", "1")]), InvalidInput, "JPY"),
        (dict(action="APPLY", allocations=[AllocationInput("NOPE", "1.00")]), NotFound, "NOPE"),
        (
            dict(action="APPLY", allocations=[AllocationInput("INV-1", "1.001")]),
            InvalidInput,
            r"allocations\[0\]",
        ),
        (dict(action="APPLY", allocations=[]), InvalidInput, "at least one"),
        (dict(action="ON_ACCOUNT"), InvalidInput, "customer"),
        (dict(action="ON_ACCOUNT", customer_id="C-NONE"), NotFound, "C-NONE"),
        (
            dict(action="REFUND", allocations=[AllocationInput("INV-1", "1.00")]),
            InvalidInput,
            "only APPLY",
        ),
        (dict(action="DANCE"), InvalidInput, "action"),
    ]
    for kwargs, error, pattern in cases:
        with pytest.raises(error, match=pattern):
            ledger.resolve_exception(payment_id="P1", reviewer="ann", **kwargs)
    with pytest.raises(InvalidInput, match="reviewer"):
        ledger.resolve_exception(payment_id="P1", action="REFUND", reviewer=" ")
    with pytest.raises(NotFound):
        ledger.resolve_exception(payment_id="P404", action="REFUND", reviewer="ann")
    assert ledger.list_exceptions().total == 2  # nothing changed
    # a partial APPLY puts the rest on account of the invoices' customer
    view = ledger.resolve_exception(
        payment_id="P1",
        action="APPLY",
        reviewer="ann",
        allocations=[AllocationInput("INV-1", "60.00")],
    )
    assert view.status == ON_ACCOUNT and view.unapplied_amount == 2000
    assert view.payment["customer_id"] == "C1"
    view = ledger.resolve_exception(payment_id="P2", action="WRITE_OFF", reviewer="ann")
    assert view.status == "WRITTEN_OFF"
    with pytest.raises(FailedPrecondition):
        ledger.resolve_exception(payment_id="P2", action="WRITE_OFF", reviewer="bob")


def test_two_reviewers_race_one_wins(ledger: LedgerService) -> None:
    ledger.submit_statement(content=_csv("P1,2026-01-05,33.33,EUR,Nobody,,x"))
    results: list[object] = []
    barrier = threading.Barrier(6)

    def decide(name: str) -> None:
        barrier.wait()
        try:
            ledger.resolve_exception(
                payment_id="P1",
                action="APPLY",
                reviewer=name,
                allocations=[AllocationInput("INV-1", "33.33")],
            )
            results.append(name)
        except AlreadyResolved as exc:
            results.append(exc)

    threads = [threading.Thread(target=decide, args=(f"r{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [r for r in results if isinstance(r, str)]
    assert len(winners) == 1
    assert all(r.resolved_by == winners[0] for r in results if not isinstance(r, str))
    assert ledger.store.count("allocations") == 1


def test_remittance_before_and_after_its_payment(ledger: LedgerService) -> None:
    rem1 = b"payment_id,invoice_ref,paid_amount,currency\nP5,INV-3,70.00,EUR\n"
    r = ledger.submit_remittance(content=rem1, filename="adv1.csv")
    assert not r.duplicate and r.payments.num_rows == 0  # the payment has not arrived yet
    assert ledger.submit_remittance(content=rem1, filename="adv1.csv").duplicate
    r = ledger.submit_statement(
        content=_csv(
            "P5,2026-01-05,70.00,EUR,Zed Corp,,remit", "P6,2026-01-05,49.00,EUR,Unknown Co,,payment"
        )
    )
    status = dict(
        zip(*r.payments.select(["payment_id", "status"]).to_pydict().values(), strict=True)
    )
    assert status == {"P5": APPLIED, "P6": UNAPPLIED}  # P5 by its advice, kept for it
    p5 = ledger.get_payment("P5")
    assert p5.remittances.column("invoice_ref").to_pylist() == ["INV-3"]
    assert p5.allocations.column("invoice_id").to_pylist() == ["INV-3"]
    # an advice for a payment already waiting in the queue (no currency column: the
    # payment's) re-opens its matching
    rem2 = b"payment_id,invoice_ref,paid_amount\nP6,INV-2,49.00\n"
    r = ledger.submit_remittance(content=rem2, filename="adv2.csv")
    assert r.payments.column("payment_id").to_pylist() == ["P6"]
    p6 = ledger.get_payment("P6")
    assert p6.remittances.column("currency").to_pylist() == ["EUR"]
    assert p6.status == APPLIED
    assert p6.allocations.column("invoice_id").to_pylist() == ["INV-2"]
    assert p6.exception.status == "resolved" and p6.exception.resolution == "REMATCHED"
    assert "P6" not in {e.payment_id for e in ledger.list_exceptions().items}
    assert [e.action for e in ledger.store.audit_of(r.statement_id)] == ["SUBMIT_REMITTANCE"]
    assert "REMATCHED" in [e.action for e in p6.audit]


def test_match_is_stateless_and_can_use_the_ledger(ledger: LedgerService) -> None:
    from cashmatch.engine.interchange import read_payments

    pays = read_payments(_csv("M1,2026-01-05,100.00,EUR,Acme,DE11,INV-1")).table
    before = ledger.store.count("payments")
    res = ledger.match(invoices=None, payments=pays, use_ledger=True)
    assert res.summary.payments == 1
    assert ledger.store.count("payments") == before
    with pytest.raises(InvalidInput, match="use_ledger"):
        ledger.match(invoices=ledger.store.open_invoices(), payments=pays, use_ledger=True)
    with pytest.raises(InvalidInput, match="unique"):
        ledger.match(invoices=None, payments=pa.concat_tables([pays, pays]))


def test_upsert_invoices_closes_and_validates(ledger: LedgerService) -> None:
    inv = read_invoices(b"invoice_id,customer_id,amount,currency\nINV-1,C1,0,EUR\n").table
    ledger.upsert_invoices(invoices=inv)
    assert "INV-1" not in ledger.store.open_invoices().column("invoice_id").to_pylist()
    inv = read_invoices(b"invoice_id,customer_id,amount,currency\nINV-2,C1,-5.00,EUR\n").table
    with pytest.raises(InvalidInput, match=r"invoices\[0\]\.amount"):
        ledger.upsert_invoices(invoices=inv)
    # the last row of an id wins within one call
    inv = read_invoices(
        b"invoice_id,customer_id,amount,currency\nINV-5,C1,1.00,EUR\nINV-5,C1,2.00,EUR\n"
    ).table
    assert ledger.upsert_invoices(invoices=inv) == 1
    states = ledger.store.invoice_states(["INV-5"])
    assert states["INV-5"]["open_amount"] == 200


def test_remembered_payer_is_auto_applied_next_time(ledger: LedgerService) -> None:
    # a name unlike any customer's ("Beta Trading" would resemble Beta enough for its exact
    # amounts): only the remembered account can tell who pays next time
    ledger.submit_statement(content=_csv("P1,2026-01-05,70.00,EUR,Zeta Holdings SARL,FR7612,x"))
    ledger.resolve_exception(
        payment_id="P1",
        action="APPLY",
        reviewer="ann",
        remember=True,
        allocations=[AllocationInput("INV-3", "70.00")],
    )
    ledger.upsert_invoices(
        invoices=read_invoices(
            b"invoice_id,customer_id,amount,currency\nINV-4,C2,45.00,EUR\n"
        ).table
    )
    r = ledger.submit_statement(
        content=_csv("P2,2026-02-05,45.00,EUR,Zeta Holdings SARL,FR7612,february")
    )
    assert r.payments.column("status").to_pylist() == [APPLIED]
    assert ledger.get_payment("P2").allocations.column("invoice_id").to_pylist() == ["INV-4"]


def test_open_items_for_the_reviewer(ledger: LedgerService) -> None:
    items = ledger.open_items(customer_id="C1")
    assert items.column("invoice_id").to_pylist() == ["INV-1", "INV-2"]
    assert ledger.open_items(search="inv-3").column("customer_id").to_pylist() == ["C2"]
    assert ledger.open_items(invoice_ids=["INV-9", "NOPE"]).num_rows == 1
    with pytest.raises(InvalidInput):
        ledger.open_items(limit=0)


def test_statement_against_an_empty_ledger(service: LedgerService) -> None:
    r = service.submit_statement(content=_csv("P1,2026-01-05,10.00,EUR,Bob,,x"))
    assert r.payments.column("status").to_pylist() == [UNAPPLIED]
    assert service.list_exceptions().items[0].detail == "The ledger has no open invoices."


def test_match_on_the_ledger_follows_every_write(ledger: LedgerService) -> None:
    from cashmatch.engine.interchange import read_payments

    def match(row: str):
        pays = read_payments(_csv(row)).table
        cached = ledger.match(invoices=None, payments=pays, use_ledger=True)
        fresh = ledger.match(  # the same tables, prepared afresh
            invoices=ledger.store.open_invoices(),
            customers=ledger.store.customers(),
            payments=pays,
        )
        assert cached.allocations.equals(fresh.allocations)
        assert cached.exceptions.equals(fresh.exceptions)
        held = ledger.match(invoices=None, payments=pays, use_ledger=True,
                            ledger=ledger.ledger_at_hand())  # (the servicer's) fmt: skip
        assert held.allocations.equals(cached.allocations)
        assert held.exceptions.equals(cached.exceptions)
        return cached.allocations.select(["invoice_id", "invoice_open_after"]).to_pylist()

    assert match("M1,2026-01-05,100.00,EUR,Acme,DE11,INV-1") == [
        {"invoice_id": "INV-1", "invoice_open_after": 0}
    ]
    usable = ledger.prepared_ledger().book.usable
    assert ledger.ledger_is_prepared()
    assert ledger.ledger_at_hand() is ledger.prepared_ledger()  # (what the servicer passes on)
    # an upserted invoice is seen by the next match
    ledger.upsert_invoices(
        invoices=read_invoices(
            b"invoice_id,customer_id,amount,currency\nINV-7,C2,30.00,EUR\n"
        ).table
    )
    assert not ledger.ledger_is_prepared()  # the servicer then matches off the event loop
    assert ledger.ledger_at_hand() is None
    assert match("M2,2026-01-05,30.00,EUR,Beta,,INV-7") == [
        {"invoice_id": "INV-7", "invoice_open_after": 0}
    ]
    assert ledger.prepared_ledger().book.usable is not usable
    # cash applied in part lowers the open amount; the keys are kept
    usable = ledger.prepared_ledger().book.usable
    r = ledger.submit_statement(content=_csv("P1,2026-01-05,40.00,EUR,Acme,DE11,INV-1"))
    assert r.payments.column("status").to_pylist() == [APPLIED]
    assert match("M3,2026-01-06,60.00,EUR,Acme,DE11,INV-1") == [
        {"invoice_id": "INV-1", "invoice_open_after": 0}
    ]
    assert ledger.prepared_ledger().book.usable is usable
    # cash that settles an invoice takes it off the ledger
    ledger.submit_statement(content=_csv("P2,2026-01-07,60.00,EUR,Acme,DE11,INV-1"))
    assert match("M4,2026-01-08,60.00,EUR,Acme,DE11,INV-1") == []


def test_a_write_by_another_process_moves_the_ledger(ledger: LedgerService) -> None:
    """Server workers share one file: a commit through another connection (another process's
    store) invalidates this service's prepared ledger."""
    from cashmatch.engine.interchange import read_payments
    from cashmatch.server.store import SQLiteStore

    pays = read_payments(_csv("M1,2026-01-05,30.00,EUR,Beta,,INV-8")).table
    assert ledger.match(invoices=None, payments=pays, use_ledger=True).allocations.num_rows == 0
    assert ledger.ledger_is_prepared()
    other = SQLiteStore(ledger.store.path)
    try:
        LedgerService(other).upsert_invoices(
            invoices=read_invoices(
                b"invoice_id,customer_id,amount,currency\nINV-8,C2,30.00,EUR\n"
            ).table
        )
    finally:
        other.close()
    assert not ledger.ledger_is_prepared()
    applied = ledger.match(invoices=None, payments=pays, use_ledger=True).allocations
    assert applied.column("invoice_id").to_pylist() == ["INV-8"]
