"""Load benchmark of the gRPC service on loopback (reports; asserts nothing).

    python benchmarks/bench_grpc.py [--clients 1,2,4,8] [--calls 200] [--invoices 10000]
    pytest benchmarks/bench_grpc.py --benchmark-enable -s

Starts the real server (subprocess, SQLite ledger in a temp dir) and measures with concurrent
closed-loop grpc.aio clients (latency per call as the client sees it, and the server process's
CPU seconds per call, which a busy machine inflates far less):

- Match with 100 payments against the server's ledger (``use_ledger``) of a generated day: the
  day generator's 10k open invoices and customers, and the first 100 of its payments with their
  remittance lines (the generator's scenario mix: most apply, a few go to a person);
- the same against a synthetic 10k ledger whose 100 payments each quote one invoice and pay the
  amount of another (95% exceptions: the figure of earlier runs), and with the 10k invoices
  carried in each request;
- SubmitStatement of a 10k-transaction file (each call a new file: parse, match, store).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "server"))

from server_harness import AUTH, ServerProcess, big_statement, write_tokens  # noqa: E402

from cashmatch.server.pb import cash_application_pb2 as pb  # noqa: E402
from cashmatch.server.pb import cash_application_pb2_grpc as pb_grpc  # noqa: E402

LOADED_AT = "2026-01-01T00:00:00.000000+00:00"


def load_day_ledger(path: Path, *, n_invoices: int, seed: int = 1):  # noqa: ANN201
    """A generated day's open invoices (``n_invoices``: 2.5 a payment) and customers, written
    into a SQLite ledger; returns the day."""
    import numpy as np

    from cashmatch.fixtures.generator import generate_day
    from cashmatch.server.store import SQLiteStore

    day = generate_day(payments=max(1, n_invoices * 2 // 5), seed=seed)
    store = SQLiteStore(path)
    with store.transaction():
        store.upsert_customers(day.customers, at=LOADED_AT)
        store.upsert_invoices(
            day.invoices, closed=np.zeros(day.invoices.num_rows, bool), at=LOADED_AT
        )
    store.close()
    return day


def day_match_request(day, n: int = 100) -> pb.MatchRequest:  # noqa: ANN001
    """The first ``n`` payments of the day and their remittance lines, against the ledger."""
    import pyarrow.compute as pc

    from cashmatch.server import convert as C

    pays = day.payments.slice(0, n)
    rem = day.remittances
    linked = pc.or_(
        pc.fill_null(pc.is_in(rem.column("payment_id"), value_set=pays.column("payment_id")),
                     False),
        pc.fill_null(pc.is_in(rem.column("end_to_end_id"),
                              value_set=pc.drop_null(pays.column("end_to_end_id"))), False),
    )  # fmt: skip
    return pb.MatchRequest(
        payments=[C.payment_to_proto(p) for p in pays.to_pylist()],
        remittances=C.remittances_to_proto(rem.filter(linked)),
        use_ledger=True,
    )


def _invoices(n: int) -> list[pb.Invoice]:
    return [
        pb.Invoice(
            invoice_id=f"INV-{i:06d}",
            customer_id=f"C{i % 1000:04d}",
            customer_name=f"Customer {i % 1000}",
            amount=f"{100 + i % 9000}.{i % 100:02d}",
            currency="EUR",
            due_date=f"2026-02-{1 + i % 28:02d}",
        )
        for i in range(n)
    ]


def _payments(n: int, offset: int = 0) -> list[pb.Payment]:
    return [
        pb.Payment(
            payment_id=f"BM-{offset + i:06d}",
            value_date="2026-01-15",
            amount=f"{100 + i % 9000}.{i % 100:02d}",
            currency="EUR",
            payer_name=f"Customer {i % 1000}",
            reference=f"INV-{(i * 7) % 10000:06d}",
        )
        for i in range(n)
    ]


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its children (``serve --workers``) so far
    (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK") + sum(
        _cpu_seconds(int(c)) for c in children
    )


def _stats(
    name: str,
    latencies: list[float],
    wall: float,
    server_cpu: float,
    client_cpu: float,
    unit: int = 1,
) -> dict[str, float]:
    lat = sorted(latencies)
    p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000  # noqa: E731
    row = {
        "calls": len(lat),
        "calls_per_s": len(lat) / wall,
        "p50_ms": p(0.50),
        "p90_ms": p(0.90),
        "p99_ms": p(0.99),
        "mean_ms": statistics.fmean(lat) * 1000,
        "server_cpu_ms_per_call": server_cpu / len(lat) * 1000,
        "client_cpu_ms_per_call": client_cpu / len(lat) * 1000,
        # cores the server and this client process kept busy together: near the machine's
        # count, the client competes with the server for CPU
        "busy_cores": (server_cpu + client_cpu) / wall,
        "items_per_s": len(lat) * unit / wall,
    }
    print(
        f"{name:<58} {row['calls']:>5} calls  {row['calls_per_s']:>8.1f} calls/s  "
        f"p50 {row['p50_ms']:>8.2f} ms  p90 {row['p90_ms']:>8.2f} ms  "
        f"p99 {row['p99_ms']:>8.2f} ms  server CPU {row['server_cpu_ms_per_call']:>8.2f} ms/call  "
        f"client CPU {row['client_cpu_ms_per_call']:>6.2f} ms/call  "
        f"busy cores {row['busy_cores']:>4.2f}"
        + (f"  {row['items_per_s']:>9.0f} items/s" if unit > 1 else ""),
        flush=True,
    )
    return row


async def _load(
    addr: str, make_call: Callable[..., Awaitable[object]], clients: int, calls: int
) -> tuple[list[float], float, float]:
    """Latencies of ``clients`` closed-loop clients' ``calls`` each, the wall seconds of them
    all, and this process's CPU seconds meanwhile (every thread: the clients' share)."""
    import grpc

    channels = [
        grpc.aio.insecure_channel(
            addr,
            options=[
                ("grpc.max_receive_message_length", 256 << 20),
                ("grpc.max_send_message_length", 256 << 20),
                # a connection of its own, as separate client processes would have (channels of
                # one process otherwise share one TCP connection: one server worker for all)
                ("grpc.use_local_subchannel_pool", 1),
            ],
        )
        for _ in range(clients)
    ]
    stubs = [pb_grpc.CashApplicationStub(ch) for ch in channels]
    latencies: list[float] = []

    async def client(k: int) -> None:
        for j in range(calls):
            t0 = time.perf_counter()
            await make_call(stubs[k], k, j)
            latencies.append(time.perf_counter() - t0)

    t0, cpu0 = time.perf_counter(), time.process_time()
    await asyncio.gather(*(client(k) for k in range(clients)))
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    for ch in channels:
        await ch.close()
    return latencies, wall, cpu


def _measure(srv: ServerProcess, results: dict, key: str, name: str, call, c: int, n: int,
             unit: int) -> None:  # fmt: skip
    cpu0 = _cpu_seconds(srv.proc.pid)
    lat, wall, own = asyncio.run(_load(srv.addr, call, c, n))
    cpu = _cpu_seconds(srv.proc.pid) - cpu0
    results[key] = _stats(name, lat, wall, cpu, own, unit)


def _day(d: Path, tokens: Path, day, results: dict, *, clients: tuple[int, ...], calls: int,
         n_invoices: int, workers: int) -> None:  # noqa: ANN001 - fmt: skip
    """Match of the day's first 100 payments against its ledger on ``workers`` processes."""
    serve_args = ("--max-message-mb", "256", "--workers", str(workers))
    srv = ServerProcess(d / "day.db", tokens, *serve_args).start()
    tag = "" if workers == 1 else f"_w{workers}"
    on = "" if workers == 1 else f", {workers} server processes"
    try:
        day_req = day_match_request(day)

        async def match_day(s, k, j):
            await s.Match(day_req, metadata=AUTH)

        # warm up (every worker's ledger cache: connections are dealt out to them)
        asyncio.run(_load(srv.addr, match_day, 4 * workers, 10))
        for c in clients:
            _measure(srv, results, f"match_day{tag}_c{c}",
                     f"Match 100 day payments vs {n_invoices} day ledger, {c} client(s){on}",
                     match_day, c, calls, 100)  # fmt: skip
    finally:
        srv.terminate()


def run(
    *,
    clients: tuple[int, ...] = (1, 2, 4, 8),
    calls: int = 200,
    n_invoices: int = 10_000,
    statement_rows: int = 10_000,
    statement_calls: int = 4,
    synthetic: bool = True,
    workers: tuple[int, ...] = (1,),
) -> dict[str, dict[str, float]]:
    """The day batch once per count of server processes in ``workers`` (one process per core
    takes calls of concurrent clients side by side); the other rows on the first count."""
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        tokens = write_tokens(d / "tokens")
        # a generated day's ledger, 100 of its payments
        day = load_day_ledger(d / "day.db", n_invoices=n_invoices)
        for w in workers:
            _day(d, tokens, day, results, clients=clients, calls=calls, n_invoices=n_invoices,
                 workers=w)  # fmt: skip
        if not synthetic:
            return results
        serve_args = ("--max-message-mb", "256", "--workers", str(workers[0]))
        srv = ServerProcess(d / "bench.db", tokens, *serve_args).start()
        try:
            stub = srv.stub()
            invoices = _invoices(n_invoices)
            stub.UpsertInvoices(
                iter(
                    [
                        pb.UpsertInvoicesRequest(invoices=invoices[i : i + 2000])
                        for i in range(0, n_invoices, 2000)
                    ]
                ),
                metadata=AUTH,
            )
            ledger_req = pb.MatchRequest(payments=_payments(100), use_ledger=True)
            carried_req = pb.MatchRequest(payments=_payments(100), invoices=invoices)

            async def match_ledger(s, k, j):
                await s.Match(ledger_req, metadata=AUTH)

            async def match_carried(s, k, j):
                await s.Match(carried_req, metadata=AUTH)

            files = {}

            async def submit(s, k, j):
                await s.SubmitStatement(
                    pb.SubmitStatementRequest(content=files[(k, j)], filename=f"f{k}-{j}.csv"),
                    metadata=AUTH,
                )

            asyncio.run(_load(srv.addr, match_ledger, 4 * workers[0], 10))  # warm up
            for c in clients:
                _measure(srv, results, f"match_ledger_c{c}",
                         f"Match 100 synthetic payments vs {n_invoices} ledger, {c} client(s)",
                         match_ledger, c, calls, 100)  # fmt: skip
            _measure(srv, results, "match_carried_c2",
                     f"Match 100 payments + {n_invoices} invoices in the request, 2 clients",
                     match_carried, 2, 5, 100)  # fmt: skip
            for c in sorted({1, 2}):
                files.clear()
                for k in range(c):
                    for j in range(statement_calls):
                        files[(k, j)] = big_statement(
                            statement_rows, prefix=f"S{c}", seed=k * 100 + j
                        )
                _measure(srv, results, f"submit_c{c}",
                         f"SubmitStatement {statement_rows}-transaction file, {c} client(s)",
                         submit, c, statement_calls, statement_rows)  # fmt: skip
        finally:
            srv.terminate()
    return results


def test_grpc_load(benchmark) -> None:  # pytest-benchmark entry point; reports only
    results = benchmark.pedantic(lambda: run(calls=100, statement_calls=2), rounds=1, iterations=1)
    benchmark.extra_info.update({k: v for k, v in results.items()})


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", default="1,2,4,8", help="concurrent clients, comma-separated")
    ap.add_argument("--calls", type=int, default=200, help="Match calls per client")
    ap.add_argument("--invoices", type=int, default=10_000)
    ap.add_argument("--statement-rows", type=int, default=10_000)
    ap.add_argument("--statement-calls", type=int, default=4, help="files per client")
    ap.add_argument("--day-only", action="store_true", help="only the generated day's Match")
    ap.add_argument("--workers", default="1",
                    help="server processes (serve --workers), comma-separated: the day batch "
                         "once per count (e.g. 1,2: one process, then one per core)")  # fmt: skip
    a = ap.parse_args()
    run(
        clients=tuple(int(c) for c in a.clients.split(",")),
        synthetic=not a.day_only,
        calls=a.calls,
        n_invoices=a.invoices,
        statement_rows=a.statement_rows,
        statement_calls=a.statement_calls,
        workers=tuple(int(w) for w in a.workers.split(",")),
    )
