"""Where a small Match's CPU goes, in one process, stage by stage (reports; asserts nothing).

    python benchmarks/call_stages.py [--calls 300] [--invoices 10000] [--digest]

``bench_grpc``'s day batch (100 payments and their remittance lines against the server's
10k-invoice ledger, ``use_ledger``) sent ``--calls`` times straight to the servicer's
``Match`` (no network, no gRPC server; a warm-up first). Every figure is the calling thread's
CPU (``time.thread_time``; a busy machine inflates it far less than wall time), min and
median of the calls, in ms:

- ``grpc: parse request`` / ``grpc: serialize response``: what gRPC does around the servicer
  (nothing: ``Match`` reads and returns the wire format; the rows kept to compare with
  earlier figures, where gRPC parsed the request and serialised the response);
- ``servicer: request``: from ``Match``'s start until the engine is called (the proto ->
  Arrow conversion);
- the engine's stages (its ``timings``, their clock made the thread's CPU clock) and
  ``engine (all)``, the service's ``match`` as a whole;
- ``servicer: response``: from the engine's return until ``Match`` returns;
- ``total``: the four rows of gRPC's and the servicer's.

With ``--digest``, the sha256 of the response parsed and serialised (deterministic: maps by
key), the same for every call: a change that should not alter the answers shows the same
digest.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import statistics
import sys
import tempfile
import time
import types
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_grpc import day_match_request, load_day_ledger  # noqa: E402

WARM = 10


class _TimedService:
    """The service, with the thread's CPU clock read as its ``match`` starts and returns and
    the result kept (the servicer's own work is what lies before and after)."""

    def __init__(self, service: Any) -> None:
        self.service = service
        self.entered = self.returned = 0.0
        self.result: Any = None

    def match(self, **kwargs: Any) -> Any:
        self.entered = time.thread_time()
        self.result = self.service.match(**kwargs)
        self.returned = time.thread_time()
        return self.result

    def __getattr__(self, name: str) -> Any:
        return getattr(self.service, name)


def run(calls: int, n_invoices: int, digest: bool) -> dict[str, list[float]]:
    """The seconds of thread CPU of each row (see the module), one value a call."""
    from cashmatch.engine import ledger
    from cashmatch.server.app import _warm_kernels
    from cashmatch.server.pb import cash_application_pb2 as pb
    from cashmatch.server.service import LedgerService
    from cashmatch.server.servicers import CashApplicationServicer
    from cashmatch.server.store import open_store

    # the engine's stages timed by the thread's CPU clock (``ledger.stage`` reads this module)
    ledger.time = types.SimpleNamespace(perf_counter=time.thread_time)
    _warm_kernels()
    with tempfile.TemporaryDirectory() as tmp:
        day = load_day_ledger(Path(tmp) / "day.db", n_invoices=n_invoices)
        data = day_match_request(day).SerializeToString()
        timed = _TimedService(LedgerService(open_store(Path(tmp) / "day.db")))
        servicer = CashApplicationServicer(timed)  # type: ignore[arg-type]
        loop = asyncio.new_event_loop()
        rows: dict[str, list[float]] = {}
        digests = set()
        try:
            for i in range(WARM + calls):
                t0 = time.thread_time()
                t1 = time.thread_time()  # (gRPC hands Match the bytes it received)
                response = loop.run_until_complete(servicer.Match(data, None))
                t2 = time.thread_time()
                sent = bytes(response)  # (what gRPC does with the wire format Match returns)
                t3 = time.thread_time()
                if digest:
                    digests.add(hashlib.sha256(pb.MatchResponse.FromString(sent).SerializeToString(
                        deterministic=True)).hexdigest())  # fmt: skip
                if i < WARM:
                    continue
                engine = timed.returned - timed.entered
                record = {
                    "grpc: parse request": t1 - t0,
                    "servicer: request": timed.entered - t1,
                    **{f"  {k}": v for k, v in timed.result.timings.items() if k != "total"},
                    "engine (all)": engine,
                    "servicer: response": t2 - timed.returned,
                    "grpc: serialize response": t3 - t2,
                    "total": t3 - t0,
                }
                for k, v in record.items():
                    rows.setdefault(k, []).append(v)
        finally:
            loop.close()
            timed.service.store.close()
    print(f"Match, {calls} calls of bench_grpc's day batch (100 payments vs {n_invoices} "
          f"invoices), thread CPU ms:")  # fmt: skip
    print(f"  {'':<30}{'min':>8}{'p50':>8}")
    for k, v in rows.items():
        print(f"  {k:<30}{min(v) * 1000:>8.3f}{statistics.median(v) * 1000:>8.3f}")
    if digest:
        print(f"  response sha256: {', '.join(sorted(digests))}"
              + ("" if len(digests) == 1 else "  (NOT the same for every call)"))  # fmt: skip
    return rows


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=300)
    ap.add_argument("--invoices", type=int, default=10_000)
    ap.add_argument("--digest", action="store_true",
                    help="print the sha256 of the serialised response")  # fmt: skip
    a = ap.parse_args()
    run(a.calls, a.invoices, a.digest)
