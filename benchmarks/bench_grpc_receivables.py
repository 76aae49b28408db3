"""GetReceivables / GetAccount on loopback over a generated year (reports; asserts nothing).

    python benchmarks/bench_grpc_receivables.py [--customers 5000] [--accounts 200]
    pytest benchmarks/bench_grpc_receivables.py --benchmark-enable -s

Loads a year of history (``fixtures.history``: ~40 invoices a customer, their payments,
allocations, write-offs and credit notes) into a SQLite ledger, starts the real server on it
and measures: the first GetReceivables (reads the history from the store, builds the ledger
arrays, analyses), a repeated one (cached per ledger version), GetAccount for many customers
(the CRM's call) and a GetReceivables for another as_of (a new analysis on the cached ledger).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow.compute as pc

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "server"))

from server_harness import READ_AUTH, ServerProcess, write_tokens  # noqa: E402

from cashmatch.server.pb import cash_application_pb2 as pb  # noqa: E402


def load_ledger(path: Path, *, customers: int, seed: int = 1):  # noqa: ANN201
    from cashmatch.fixtures.history import generate_history
    from cashmatch.server.store import SQLiteStore

    h = generate_history(n_customers=customers, seed=seed)
    store = SQLiteStore(path)
    at = "2026-01-01T00:00:00.000000+00:00"
    with store.transaction():
        store.upsert_customers(h.customers, at=at)
        store.upsert_invoices(h.invoices, closed=np.zeros(h.invoices.num_rows, bool), at=at)
        used = pc.is_in(h.payments.column("payment_id"), value_set=h.allocations["payment_id"])
        pays = h.payments.filter(used)
        n = pays.num_rows
        store.insert_payments(
            pays, status=["APPLIED"] * n, customer_ids=[None] * n, submission_id="h", at=at
        )
        store.insert_allocations(h.allocations, by="history", at=at)
        store.insert_ledger_adjustments(h.adjustments, by="history", at=at)
    store.close()
    return h


def run(*, customers: int = 5000, accounts: int = 200) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        t0 = time.perf_counter()
        h = load_ledger(d / "ledger.db", customers=customers)
        load_s = time.perf_counter() - t0
        srv = ServerProcess(d / "ledger.db", write_tokens(d / "tokens")).start()
        try:
            stub = srv.stub()
            as_of = h.as_of.isoformat()
            t0 = time.perf_counter()
            first = stub.GetReceivables(pb.GetReceivablesRequest(as_of=as_of), metadata=READ_AUTH)
            cold = time.perf_counter() - t0
            t0 = time.perf_counter()
            stub.GetReceivables(pb.GetReceivablesRequest(as_of=as_of), metadata=READ_AUTH)
            warm = time.perf_counter() - t0
            billed = pc.unique(h.invoices.column("customer_id")).to_pylist()
            ids = billed[:: max(1, len(billed) // accounts)][:accounts]
            lat = []
            for cid in ids:
                t0 = time.perf_counter()
                stub.GetAccount(
                    pb.GetAccountRequest(customer_id=cid, as_of=as_of), metadata=READ_AUTH
                )
                lat.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            stub.GetReceivables(pb.GetReceivablesRequest(as_of="2026-06-30"), metadata=READ_AUTH)
            other = time.perf_counter() - t0
        finally:
            srv.kill()
    lat.sort()
    return {
        "invoices": h.invoices.num_rows,
        "allocations": h.allocations.num_rows,
        "load_store_s": round(load_s, 2),
        "get_receivables_cold_s": round(cold, 3),
        "get_receivables_cached_ms": round(warm * 1e3, 2),
        "get_receivables_new_as_of_s": round(other, 3),
        "get_account_p50_ms": round(statistics.median(lat) * 1e3, 2),
        "get_account_p99_ms": round(lat[int(0.99 * (len(lat) - 1))] * 1e3, 2),
        "accounts_at_risk": first.accounts_at_risk,
    }


def test_grpc_receivables(benchmark) -> None:  # noqa: ANN001 - pytest-benchmark; reports only
    results = benchmark.pedantic(lambda: run(customers=2000), rounds=1, iterations=1)
    benchmark.extra_info.update(results)
    print(results)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=5000)
    ap.add_argument("--accounts", type=int, default=200)
    a = ap.parse_args()
    for k, v in run(customers=a.customers, accounts=a.accounts).items():
        print(f"{k:32s} {v}")
