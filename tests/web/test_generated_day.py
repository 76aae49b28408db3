"""A generated day loaded into the server, cleared through the page: one page load (the item
shows the right invoices, as a suggestion or among the customer's open items) and one submit
per exception. The generator's truth plays the reviewer."""

from __future__ import annotations

import io
import re

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from web_harness import TOKEN, Client, LiveApp

from cashmatch.engine.money import format_minor_array


@pytest.fixture
def day_service(tmp_path):
    from cashmatch.fixtures.generator import generate_day
    from cashmatch.server.service import LedgerService
    from cashmatch.server.store import SQLiteStore

    day = generate_day(payments=300, seed=11)
    store = SQLiteStore(tmp_path / "ledger.db")
    svc = LedgerService(store)
    svc.upsert_customers(customers=day.customers)
    svc.upsert_invoices(invoices=day.invoices)
    p = day.payments
    csv = pa.table(
        {
            "payment_id": p["payment_id"],
            "value_date": p["value_date"],
            "amount": format_minor_array(p["amount"], p["currency"]),
            "currency": p["currency"],
            "payer_name": p["payer_name"],
            "payer_account": p["payer_account"],
            "reference": p["reference"],
            "end_to_end_id": p["end_to_end_id"],
        }
    )
    buf = io.BytesIO()
    pacsv.write_csv(csv, buf)
    svc.submit_statement(content=buf.getvalue(), filename="day.csv")
    yield svc, day
    store.close()


def test_clearing_a_generated_day_takes_one_load_and_one_submit_per_item(day_service):
    svc, day = day_service
    truth = {r["payment_id"]: r for r in day.truth.to_pylist()}
    app = LiveApp(svc, [TOKEN]).start()
    try:
        client = Client(app.port).signin("carol")
        queue = svc.list_exceptions(page_size=1000).items
        assert queue, "the day produced no exception"
        on_page = cleared = 0
        matchable = [e for e in queue if truth[e.payment_id]["matchable"]]
        for exc in matchable:
            t = truth[exc.payment_id]
            _, _, body = client.get(f"/exceptions/{exc.payment_id}")  # the one page load
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', body).group(1)
            # what the engine already applied of this payment (e.g. an overpayment's invoice)
            done = {
                a["invoice_id"] for a in svc.get_payment(exc.payment_id).allocations.to_pylist()
            }
            todo = [
                (i, a)
                for i, a in zip(t["invoice_ids"], t["applied_amounts"], strict=True)
                if i not in done
            ]
            if todo:
                shown = set(
                    re.findall(
                        r'data-testid="(?:candidate|open-item)" data-invoice-id="([^"]+)"', body
                    )
                )
                if not {i for i, _ in todo} <= shown:
                    print("not on the page:", exc.payment_id, exc.reason, t["scenario"])
                    continue
                ids = [i for i, _ in todo]
                amounts = format_minor_array(
                    pa.array([a for _, a in todo], pa.int64()),
                    pa.array([t["currency"]] * len(todo)),
                ).to_pylist()
                decision = {"action": "APPLY", "invoice_id": ids, "applied_amount": amounts}
            else:  # the invoices are paid; the excess goes on the customer's account
                ids = []
                decision = {"action": "ON_ACCOUNT"}
            on_page += 1
            status, _, body = client.post(  # the one submit
                f"/exceptions/{exc.payment_id}/decision",
                {"csrf_token": csrf, "customer_id": t["customer_id"] or "", **decision},
            )
            assert 'data-testid="decision-result"' in body
            if status == 200:
                assert 'data-status="applied"' in body
                cleared += 1
                view = svc.get_payment(exc.payment_id)
                mine = {
                    a["invoice_id"] for a in view.allocations.to_pylist() if a["rule"] == "reviewer"
                }
                assert mine == set(ids)
            else:  # refused, with the reason in words
                print(exc.payment_id, t["scenario"], re.search(r"Not applied: [^<]*", body)[0])
                assert status in (409, 422) and 'data-status="rejected"' in body
        print(
            f"\n{len(queue)} exceptions, {len(matchable)} matchable; the right invoices were "
            f"on the item page for {on_page}; {cleared} cleared with one load + one submit"
        )
        assert on_page >= len(matchable) // 2
        assert cleared >= on_page * 9 // 10
        assert svc.list_exceptions().total == len(queue) - cleared
    finally:
        app.stop()
