"""``cashmatch ar`` stage by stage, in one process: when each stage starts, its wall time, the
process's CPU over it (every thread) and the CPU of the thread that called it. Reports, never
asserts. Uses the histories of ``bench_receivables.py`` (``CASHMATCH_AR_CACHE``).

    CASHMATCH_AR_CACHE=/work/ar-data python benchmarks/ar_stages.py 5000000

A stage whose process CPU exceeds its caller's ran partly on other threads; the wall time a
stage would take on an idle 2-core machine lies between process CPU / 2 and its caller's CPU.
"""

from __future__ import annotations

import functools
import os
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _timed(module: object, name: str, t0: float) -> None:
    f = getattr(module, name)

    @functools.wraps(f)
    def stage(*args: object, **kwargs: object) -> object:
        wall, cpu, own = time.perf_counter(), _cpu(), time.thread_time()
        out = f(*args, **kwargs)
        print(
            f"  {name:18s} starts {wall - t0:5.2f} s  wall {time.perf_counter() - wall:5.2f} s  "
            f"process CPU {_cpu() - cpu:5.2f} s  caller's CPU {time.thread_time() - own:5.2f} s  "
            f"[{threading.current_thread().name}]",
            flush=True,
        )
        return out

    setattr(module, name, stage)


def main(n_invoices: int) -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_receivables import history_files

    d, as_of = history_files(n_invoices)
    t0, cpu0 = time.perf_counter(), _cpu()
    import cashmatch.report as report
    from cashmatch.commands import ar
    from cashmatch.engine import interchange, receivables

    for name in (
        "read_invoices",
        "read_payments",
        "read_allocations",
        "read_adjustments",
        "read_promises",
        "read_customers",
        "write_receivables",
    ):
        _timed(interchange, name, t0)
    _timed(receivables, "build_ledger", t0)
    _timed(receivables, "analyse", t0)
    _timed(report, "render_report", t0)
    names = ("invoices", "payments", "allocations", "adjustments", "promises", "customers")
    with tempfile.TemporaryDirectory() as out:
        argv = [x for n in names for x in (f"--{n}", str(d / f"{n}.csv"))]
        ar.main([*argv, "--as-of", as_of, "--out", out, "--quiet"])
    print(
        f"ar {n_invoices:,} invoices: {time.perf_counter() - t0:.2f} s wall, "
        f"{_cpu() - cpu0:.2f} s CPU "
        f"(load {os.getloadavg()[0]:.1f})"
    )


if __name__ == "__main__":
    for n in [int(x) for x in sys.argv[1:]] or [1_000_000]:
        main(n)
