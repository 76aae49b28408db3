"""``cashmatch ar`` throughput: a year of N invoices CSV -> CSV, wall time and peak RSS.

Reports, never asserts. Sizes from ``CASHMATCH_AR_SIZES`` (default ``500000,1000000,5000000``
invoices; 10 customers per 1000 invoices). Histories are generated once per size (vectorised,
seconds) and cached under ``CASHMATCH_AR_CACHE`` (default: the system temp dir).

    pytest benchmarks/bench_receivables.py --benchmark-enable -s
    python benchmarks/bench_receivables.py 1000000 2000000 5000000
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

SIZES = [int(x) for x in os.environ.get("CASHMATCH_AR_SIZES", "500000,1000000,5000000").split(",")]


def history_files(n_invoices: int) -> tuple[Path, str]:
    from cashmatch.fixtures.history import generate_history, write_history

    root = Path(os.environ.get("CASHMATCH_AR_CACHE", tempfile.gettempdir()))
    d = root / f"cashmatch-ar-history-{n_invoices}"
    h_as_of = "2026-09-30"
    if not (d / "labels.csv").exists():
        h = generate_history(n_customers=max(100, n_invoices // 100), n_invoices=n_invoices, seed=1)
        write_history(h, d)
        h_as_of = h.as_of.isoformat()
    return d, h_as_of


def run_ar(d: Path, as_of: str, out: Path) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds, peak RSS GiB) of one ``cashmatch ar`` run in a fresh process."""
    cmd = [
        sys.executable,
        "-m",
        "cashmatch.commands.ar",
        "--invoices",
        str(d / "invoices.csv"),
        "--payments",
        str(d / "payments.csv"),
        "--allocations",
        str(d / "allocations.csv"),
        "--adjustments",
        str(d / "adjustments.csv"),
        "--promises",
        str(d / "promises.csv"),
        "--customers",
        str(d / "customers.csv"),
        "--as-of",
        as_of,
        "--out",
        str(out),
        "--quiet",
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(cmd, check=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, after.ru_maxrss / (1 << 20)  # ru_maxrss is KiB on Linux


@pytest.mark.parametrize("n_invoices", SIZES)
def test_ar_csv_to_csv(benchmark, n_invoices: int, tmp_path: Path) -> None:  # noqa: ANN001
    d, as_of = history_files(n_invoices)
    result = {}

    def once() -> None:
        result["wall"], result["cpu"], result["rss"] = run_ar(d, as_of, tmp_path / "out")

    benchmark.pedantic(once, rounds=1, iterations=1)
    benchmark.extra_info.update(
        invoices=n_invoices,
        wall_s=round(result["wall"], 2),
        cpu_s=round(result["cpu"], 2),
        peak_rss_gib=round(result["rss"], 2),
        load=os.getloadavg()[0],
    )
    print(
        f"\nar {n_invoices:,} invoices: {result['wall']:.2f} s wall, {result['cpu']:.2f} s CPU, "
        f"peak RSS {result['rss']:.2f} GiB (load {os.getloadavg()[0]:.1f})"
    )


if __name__ == "__main__":
    for n in [int(x) for x in sys.argv[1:]] or SIZES:
        d, as_of = history_files(n)
        with tempfile.TemporaryDirectory() as tmp:
            wall, cpu, rss = run_ar(d, as_of, Path(tmp))
        print(
            f"ar {n:>10,} invoices: {wall:6.2f} s wall  {cpu:6.2f} s CPU  "
            f"peak RSS {rss:5.2f} GiB  (load {os.getloadavg()[0]:.1f})"
        )
