"""Parser throughput at 10k and 100k transactions (reported, never asserted).

    pytest benchmarks/bench_parsers.py --benchmark-enable      # pytest-benchmark table
    python benchmarks/bench_parsers.py                         # plain table: tx/s and growth

Targets (issue 3): MT940 and CAMT >= 50k tx/s, OFX >= 20k tx/s, linear growth (the 100k/10k
time ratio near 10). The references the fast paths are checked against (ofxparse, the
streaming CAMT reader) are timed at small sizes to show why they are not the production path.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from functools import partial

import pytest

from cashmatch.parsers import bai, bank_csv, camt, mt940, ofx, samples

FAST: dict[str, tuple[Callable[[int], bytes], Callable]] = {
    "mt940": (samples.mt940_file, mt940.parse),
    "camt": (samples.camt053_file, camt.parse),
    "ofx": (samples.ofx_statement, ofx.parse),
    "bai2": (samples.bai2_file, bai.parse),
    "bank-csv": (samples.bank_csv_file, partial(bank_csv.parse, profile="uk-paid-in-out")),
}
REFERENCE: dict[str, tuple[Callable[[int], bytes], Callable]] = {
    "camt-reference": (samples.camt053_file, camt.parse_reference),
    "ofx-reference (ofxparse)": (samples.ofx_statement, ofx.parse_reference),
}


@pytest.mark.parametrize("n", [10_000, 100_000])
@pytest.mark.parametrize("fmt", sorted(FAST))
def test_parse_throughput(benchmark, fmt, n):
    make, parse = FAST[fmt]
    data = make(n)
    result = benchmark.pedantic(
        parse, args=(data,), kwargs={"source": fmt}, rounds=1, iterations=1, warmup_rounds=0
    )
    assert result.payments.num_rows == n
    benchmark.extra_info["transactions"] = n
    benchmark.extra_info["tx_per_s"] = round(n / benchmark.stats.stats.min)


@pytest.mark.parametrize("n", [1_000, 2_000])
@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_reference_throughput(benchmark, name, n):
    make, parse = REFERENCE[name]
    data = make(n)
    result = benchmark.pedantic(
        parse, args=(data,), kwargs={"source": name}, rounds=1, iterations=1
    )
    assert result.payments.num_rows == n
    benchmark.extra_info["tx_per_s"] = round(n / benchmark.stats.stats.min)


def _time(parse: Callable, data: bytes, name: str, repeat: int) -> tuple[float, float]:
    """Best (wall seconds, CPU seconds): on a shared box the CPU time is the fairer figure."""
    best, best_cpu = float("inf"), float("inf")
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        parse(data, source=name)
        best = min(best, time.perf_counter() - t)
        best_cpu = min(best_cpu, time.process_time() - c)
    return best, best_cpu


def main(argv: list[str]) -> None:
    import os

    sizes = [int(x) for x in argv] or [10_000, 100_000]
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; tx/s as wall (cpu)")
    print(f"{'format':28} " + " ".join(f"{f'{n:,} tx/s':>22}" for n in sizes) + "   growth")
    for name, (make, parse) in FAST.items():
        times = [_time(parse, make(n), name, 3 if n <= 20_000 else 1) for n in sizes]
        rates = " ".join(
            f"{f'{n / w:,.0f} ({n / c:,.0f})':>22}" for n, (w, c) in zip(sizes, times, strict=True)
        )
        growth = times[-1][1] / times[0][1] / (sizes[-1] / sizes[0]) if len(sizes) > 1 else 1
        print(f"{name:28} {rates}   x{growth:.2f} cpu per tx")
    small = [1_000, 2_000, 4_000]
    for name, (make, parse) in REFERENCE.items():
        times = [_time(parse, make(n), name, 1) for n in small]
        rates = " ".join(f"{n:,}: {n / c:,.0f}/s" for n, (_, c) in zip(small, times, strict=True))
        print(f"{name:28} cpu {rates}")


if __name__ == "__main__":
    main(sys.argv[1:])
