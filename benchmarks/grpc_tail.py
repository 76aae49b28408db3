"""Where the slow calls of a small Match spend their time (reports; asserts nothing).

    python benchmarks/grpc_tail.py [--calls 600] [--invoices 10000]

One closed-loop client sends ``bench_grpc``'s day batch (100 payments against a 10k-invoice
ledger) to a real server process on loopback whose servicer records, per call, its wall time,
its thread CPU time and its thread's involuntary context switches (``getrusage``). Joined with
the client's latency of the same call, each call splits into:

- **server CPU**: the servicer's own work (the boundary and the engine), on the loop's thread;
- **waiting to run**: servicer wall minus its CPU: the thread was runnable but another
  process had the core (involuntary switches count the preemptions);
- **outside the servicer**: client latency minus servicer wall: gRPC in both processes,
  loopback, the auth interceptor, the client's own work.

It prints these for the median call, the fastest half and the slowest 10%, the calls never
preempted, whether slow calls come in bursts (the next call slow too: a burst of other load
on the machine, not something a call does), the collector's runs during the load, and every
thread's CPU per call in both processes.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "server"))

from bench_grpc import day_match_request, load_day_ledger  # noqa: E402
from server_harness import AUTH, write_tokens  # noqa: E402

WARM = 30


def _serve_traced(out: str, argv: list[str]) -> int:
    """``cashmatch serve`` with a per-call record of Match, written to ``out`` at exit."""
    import atexit
    import resource

    from cashmatch.server import servicers
    from cashmatch.server.__main__ import main

    calls: list[tuple[float, ...]] = []
    collections: list[tuple[str, float]] = []
    gc.callbacks.append(lambda phase, info: collections.append((phase, time.perf_counter())))
    match = servicers.CashApplicationServicer.Match

    async def traced(self, request, context):  # noqa: ANN001, ANN202
        r0 = resource.getrusage(resource.RUSAGE_THREAD)
        w0, c0 = time.perf_counter(), time.thread_time()
        response = await match(self, request, context)
        c1, w1 = time.thread_time(), time.perf_counter()
        r1 = resource.getrusage(resource.RUSAGE_THREAD)
        calls.append((w0, w1, c1 - c0, r1.ru_nivcsw - r0.ru_nivcsw))
        return response

    servicers.CashApplicationServicer.Match = traced
    atexit.register(lambda: Path(out).write_text(json.dumps({"calls": calls, "gc": collections})))
    return main(argv)


def _threads(pid: int) -> dict[tuple[str, str], float]:
    """CPU seconds of each thread of a process so far (Linux ``/proc``)."""
    out = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        stat = (task / "stat").read_text()
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        f = stat.rsplit(")", 1)[1].split()
        out[(task.name, name)] = (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
    return out


def _q(values: list[float], q: float) -> float:
    v = sorted(values)
    return v[min(len(v) - 1, int(q * len(v)))]


def run(calls: int, n_invoices: int) -> None:
    import grpc

    from cashmatch.server.pb import cash_application_pb2_grpc as pb_grpc

    d = Path(tempfile.mkdtemp(prefix="grpc-tail-"))
    try:
        day = load_day_ledger(d / "day.db", n_invoices=n_invoices)
        request = day_match_request(day)
        env = {k: v for k, v in os.environ.items() if k != "CASHMATCH_TOKEN"}
        proc = subprocess.Popen(
            [sys.executable, __file__, "--serve-traced", str(d / "trace.json"), "--addr",
             "127.0.0.1:0", "--db", str(d / "day.db"), "--token-file",
             str(write_tokens(d / "tokens"))],
            stdout=subprocess.PIPE, env=env,
        )  # fmt: skip
        try:
            buf = b""
            while not (m := re.search(rb"serving on [^:]+:(\d+)", buf)):
                chunk = os.read(proc.stdout.fileno(), 4096)
                if not chunk:
                    raise RuntimeError(f"server did not start: {buf!r}")
                buf += chunk

            async def load(calls: int) -> tuple[list[float], float]:
                async with grpc.aio.insecure_channel(f"127.0.0.1:{int(m.group(1))}") as ch:
                    stub = pb_grpc.CashApplicationStub(ch)
                    lat = []
                    cpu0 = time.process_time()
                    for _ in range(calls):
                        t0 = time.perf_counter()
                        await stub.Match(request, metadata=AUTH)
                        lat.append(time.perf_counter() - t0)
                    return lat, time.process_time() - cpu0

            asyncio.run(load(WARM))
            before = (_threads(proc.pid), _threads(os.getpid()))
            latencies, client_cpu = asyncio.run(load(calls))
            after = (_threads(proc.pid), _threads(os.getpid()))
        finally:  # (stopped however the load ended: the trace is written as it stops)
            proc.terminate()
            proc.wait()
        trace = json.loads((d / "trace.json").read_text())
    finally:
        shutil.rmtree(d, ignore_errors=True)
    served = trace["calls"][WARM:]
    start = served[0][0]
    rows = [
        {"latency": lat * 1000, "wall": (w1 - w0) * 1000, "cpu": cpu * 1000, "preempted": niv}
        for lat, (w0, w1, cpu, niv) in zip(latencies, served, strict=True)
    ]
    for r in rows:
        r["waiting"] = r["wall"] - r["cpu"]
        r["outside"] = r["latency"] - r["wall"]
    lat = [r["latency"] for r in rows]
    print(f"Match, day batch, 1 client, {calls} calls: latency p50 {_q(lat, .5):.2f} "
          f"p90 {_q(lat, .9):.2f} p99 {_q(lat, .99):.2f} max {max(lat):.2f} ms; "
          f"client CPU {client_cpu / calls * 1000:.2f} ms a call")  # fmt: skip
    keys = ("latency", "cpu", "waiting", "outside", "preempted")
    by_latency = sorted(rows, key=lambda r: r["latency"])
    groups = {
        "all calls": rows,
        "median call": [by_latency[len(rows) // 2]],
        "fastest half": by_latency[: len(rows) // 2],
        "slowest 10%": by_latency[-max(1, len(rows) // 10) :],
        "never preempted": [r for r in rows if r["preempted"] == 0],
    }
    print(f"  {'ms (mean)':<18}" + "".join(f"{k:>11}" for k in keys) + "      calls")
    for name, group in groups.items():
        if group:
            means = [statistics.fmean(r[k] for r in group) for k in keys]
            print(f"  {name:<18}" + "".join(f"{v:>11.2f}" for v in means) + f"{len(group):>11}")
    cpu = [r["cpu"] for r in rows]
    cut = _q(cpu, 0.9)
    slow = [c > cut for c in cpu]
    follow = sum(a and b for a, b in zip(slow, slow[1:], strict=False))
    print(f"  server CPU above its p90 ({cut:.2f} ms): {sum(slow)} calls, the next call too in "
          f"{follow} (~{sum(slow) // 10} if independent)")  # fmt: skip
    runs = [t for phase, t in trace["gc"] if phase == "start" and t >= start]
    print(f"  collections during the load: {len(runs)}")
    for name, (a, b) in (("server", (before[0], after[0])), ("client", (before[1], after[1]))):
        per = {f"{k[1]}:{k[0]}": (b[k] - a.get(k, 0.0)) / calls * 1000 for k in b}
        print(f"  {name} threads, CPU ms a call: "
              + ", ".join(f"{k} {v:.2f}" for k, v in per.items() if v > 0))  # fmt: skip
        if name == "server":  # the busiest thread runs the loop, gRPC's part and the servicer
            print(f"  server, its busiest thread outside the servicer: "
                  f"{max(per.values()) - statistics.fmean(cpu):.2f} ms a call")  # fmt: skip


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--serve-traced":
        sys.exit(_serve_traced(sys.argv[2], sys.argv[3:]))
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=600)
    ap.add_argument("--invoices", type=int, default=10_000)
    a = ap.parse_args()
    run(a.calls, a.invoices)
