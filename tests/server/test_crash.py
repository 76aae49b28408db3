"""SIGKILL the server in the middle of submissions and decisions, restart it on the same
database: nothing acknowledged is lost, nothing is applied twice."""

from __future__ import annotations

import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
from server_harness import AUTH, ServerProcess, write_tokens

from cashmatch.server.pb import cash_application_pb2 as pb

FILES = 48
PER_FILE = 300
STEP = 250  # consecutive files share 50 payment ids


def _file(k: int) -> bytes:
    rows = ["payment_id,value_date,amount,currency,payer_name,payer_account,reference"]
    for i in range(k * STEP, k * STEP + PER_FILE):
        rows.append(
            f"K{i:06d},2026-01-{1 + i % 28:02d},{100 + i % 900}.{i % 100:02d},EUR,"
            f"Payer {i % 50},DE{i % 50:020d},order {i}"
        )
    return ("\n".join(rows) + "\n").encode()


def _invoices() -> list[pb.Invoice]:
    return [
        pb.Invoice(
            invoice_id=f"INV-{i:06d}", customer_id=f"C{i % 50}", amount="100000.00", currency="EUR"
        )
        for i in range(FILES * STEP + PER_FILE)
    ]


def test_sigkill_loses_nothing_acknowledged_and_applies_nothing_twice(tmp_path: Path) -> None:
    db, tokens = tmp_path / "ledger.db", write_tokens(tmp_path / "tokens")
    srv = ServerProcess(db, tokens).start()
    stub = srv.stub()
    stub.UpsertInvoices(iter([pb.UpsertInvoicesRequest(invoices=_invoices())]), metadata=AUTH)

    acked_files: dict[int, str] = {}
    acked_resolves: dict[str, str] = {}
    lock = threading.Lock()
    stop = threading.Event()

    def submit(k: int) -> None:
        if stop.is_set():
            return
        try:
            resp = stub.SubmitStatement(
                pb.SubmitStatementRequest(
                    content=_file(k), filename=f"day{k}.csv", idempotency_key=f"day-{k}"
                ),
                metadata=AUTH,
                timeout=30,
            )
        except grpc.RpcError:
            return
        with lock:
            acked_files[k] = resp.statement_id
        for p in list(resp.payments)[:40]:
            if p.status != "UNAPPLIED" or stop.is_set():
                continue
            i = int(p.payment_id[1:])
            try:
                stub.ResolveException(
                    pb.ResolveExceptionRequest(
                        payment_id=p.payment_id,
                        action=pb.ResolveExceptionRequest.APPLY,
                        allocations=[
                            pb.AllocationInput(invoice_id=f"INV-{i:06d}", applied_amount=p.amount)
                        ],
                        reviewer=f"r{k}",
                    ),
                    metadata=AUTH,
                    timeout=30,
                )
            except grpc.RpcError:
                continue
            with lock:
                acked_resolves[p.payment_id] = f"r{k}"

    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(submit, k) for k in range(FILES)]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with lock:
                if len(acked_files) >= 4 and len(acked_resolves) >= 10:
                    break
            time.sleep(0.01)
        srv.kill()  # SIGKILL, mid-flight
        stop.set()
        for f in futures:
            f.result()
    assert acked_files, "nothing was acknowledged before the kill"
    assert len(acked_files) < FILES, "the kill came after everything finished"

    srv = ServerProcess(db, tokens).start()
    stub = srv.stub()
    try:
        for k, statement_id in acked_files.items():  # acknowledged submissions are there
            again = stub.SubmitStatement(
                pb.SubmitStatementRequest(content=_file(k), idempotency_key=f"day-{k}"),
                metadata=AUTH,
            )
            assert again.duplicate and again.statement_id == statement_id
        for pid, reviewer in acked_resolves.items():  # acknowledged decisions are there
            detail = stub.GetPayment(pb.GetPaymentRequest(payment_id=pid), metadata=AUTH)
            assert detail.status == "APPLIED" and detail.exception.resolved_by == reviewer
            assert len(detail.allocations) == 1
        # the client retries everything: whatever was not acknowledged goes in now, once
        for k in range(FILES):
            stub.SubmitStatement(
                pb.SubmitStatementRequest(content=_file(k), idempotency_key=f"day-{k}"),
                metadata=AUTH,
            )
    finally:
        srv.terminate()

    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    distinct = FILES * STEP + (PER_FILE - STEP)
    assert conn.execute("SELECT count(*) FROM payments").fetchone()[0] == distinct
    assert (
        conn.execute("SELECT count(*) FROM audit WHERE action = 'RECEIVED'").fetchone()[0]
        == distinct
    )
    assert conn.execute("SELECT count(*) FROM statements").fetchone()[0] == FILES
    over = conn.execute(
        "SELECT p.payment_id FROM payments p JOIN allocations a USING (payment_id)"
        " GROUP BY p.payment_id HAVING sum(a.applied_amount) > max(p.amount)"
    ).fetchall()
    assert over == []
    twice = conn.execute(
        "SELECT payment_id, invoice_id FROM allocations GROUP BY payment_id, invoice_id"
        " HAVING count(*) > 1"
    ).fetchall()
    assert twice == []
    assert conn.execute("SELECT count(*) FROM invoices WHERE open_amount < 0").fetchone()[0] == 0
    two_open = conn.execute(
        "SELECT payment_id FROM exceptions WHERE status = 'open' GROUP BY payment_id"
        " HAVING count(*) > 1"
    ).fetchall()
    assert two_open == []
    # invoice open amounts agree with the allocations stored
    drift = conn.execute(
        "SELECT i.invoice_id FROM invoices i LEFT JOIN (SELECT invoice_id,"
        " sum(applied_amount + adjustment_amount) s FROM allocations GROUP BY invoice_id) a"
        " USING (invoice_id) WHERE i.open_amount != i.amount - coalesce(a.s, 0)"
    ).fetchall()
    assert drift == []
