"""The reviewers' page under a large queue: p50/p95/p99 of the queue page and the item page
with 10k open exceptions (20k open invoices, 500 customers) in the store, over real HTTP on a
loopback port. Reports; asserts nothing about time (target: p95 <= 100 ms).

    pytest benchmarks/bench_web.py -s --benchmark-enable
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "web"))

from web_harness import TOKEN, Client, LiveApp  # noqa: E402
from web_seed import seed_day  # noqa: E402

N_EXCEPTIONS = 10_000
N_INVOICES = 20_000
REQUESTS = 200


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    from cashmatch.server.service import LedgerService
    from cashmatch.server.store import SQLiteStore

    store = SQLiteStore(tmp_path_factory.mktemp("bench-web") / "ledger.db")
    service = LedgerService(store)
    t0 = time.perf_counter()
    seed_day(service, exceptions=N_EXCEPTIONS, invoices=N_INVOICES, customers=500)
    print(
        f"\nseeded {N_EXCEPTIONS} exceptions / {N_INVOICES} invoices in "
        f"{time.perf_counter() - t0:.1f} s"
    )
    app = LiveApp(service, [TOKEN]).start()
    client = Client(app.port).signin("bench")
    yield service, client
    app.stop()
    store.close()


def _timed(client: Client, paths: list[str]) -> list[float]:
    out = []
    for path in paths:
        t0 = time.perf_counter()
        status, _, body = client.get(path)
        out.append((time.perf_counter() - t0) * 1000)
        assert status == 200, (path, status)
    return out


def _report(name: str, ms: list[float], benchmark) -> None:
    ms = sorted(ms)
    q = statistics.quantiles(ms, n=100)
    line = (
        f"{name}: n={len(ms)} p50={q[49]:.1f} ms p95={q[94]:.1f} ms p99={q[98]:.1f} ms "
        f"max={ms[-1]:.1f} ms (target p95 <= 100 ms)"
    )
    print(line)
    benchmark.extra_info[name] = {"p50_ms": q[49], "p95_ms": q[94], "p99_ms": q[98]}


def test_queue_page_p95(big, benchmark):
    _, client = big
    rng = random.Random(1)
    filters = [
        "",
        "?reason=AMBIGUOUS",
        "?sort=-amount",
        "?older_than_days=30",
        "?min_amount=100&max_amount=5000",
        "?customer_id=C00042",
        "?page_size=200",
        "?reason=UNKNOWN_PAYER&sort=-age",
    ]
    paths = [f"/exceptions{rng.choice(filters)}" for _ in range(REQUESTS)]
    _timed(client, paths[:10])  # warm up
    _report("queue page", _timed(client, paths), benchmark)
    benchmark.pedantic(client.get, args=("/exceptions",), rounds=20, iterations=1)


def test_item_page_p95(big, benchmark):
    _, client = big
    rng = random.Random(2)
    paths = [f"/exceptions/P{rng.randrange(N_EXCEPTIONS):07d}" for _ in range(REQUESTS)]
    _timed(client, paths[:10])
    _report("item page", _timed(client, paths), benchmark)
    # deep in the queue: "next item" has to find its place far down
    deep = [f"/exceptions/P{rng.randrange(N_EXCEPTIONS):07d}?sort=payment_id" for _ in range(50)]
    _report("item page (sorted by id)", _timed(client, deep), benchmark)
    benchmark.pedantic(client.get, args=(paths[0],), rounds=20, iterations=1)


def test_item_page_after_a_decision(big, benchmark):
    """Every decision changes the ledger, so the next page load re-reads the open invoices."""
    service, client = big
    ms = []
    rng = random.Random(3)
    for _ in range(20):
        pid = f"P{rng.randrange(N_EXCEPTIONS):07d}"
        if service.store.exception_of(pid, open_only=True) is None:
            continue
        tok = client.csrf(f"/exceptions/{pid}")
        t0 = time.perf_counter()
        status, _, _ = client.post(
            f"/exceptions/{pid}/decision", {"csrf_token": tok, "action": "REFUND"}
        )
        ms.append((time.perf_counter() - t0) * 1000)
        assert status == 200
    _report("decision + result page", ms, benchmark)
    benchmark.pedantic(client.get, args=("/exceptions",), rounds=5, iterations=1)
