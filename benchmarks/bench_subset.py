"""Subset search per solve for customers with 20, 200 and 1,000 open invoices.

Run: ``pytest benchmarks/bench_subset.py --benchmark-enable --benchmark-columns=median,max,rounds``
(the suite reports; it asserts nothing about time). Each round solves one payment that settles
three random invoices of the customer, plus a fee-tolerant search.

Percentiles per solve (wall and CPU, as the matcher calls it: up to three sets for AMBIGUOUS):
``python benchmarks/bench_subset.py [--solves 2000]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pytest

from cashmatch.engine.subset import search

SIZES = (20, 40, 200, 1000)  # 40: sets of four by pair sums (past meet-in-the-middle)
TOLERANCES = (0, 1500)


def _case(n: int, tolerance: int, solves: int = 64) -> tuple[np.ndarray, list[int]]:
    """A customer's open amounts and payments that each settle three of them (less half the
    tolerance, as a bank fee would)."""
    rng = np.random.default_rng(n)
    amounts = rng.integers(5_000, 500_000, size=n)
    targets = [
        int(amounts[rng.choice(n, size=3, replace=False)].sum()) - tolerance // 2
        for _ in range(solves)
    ]
    return amounts, targets


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("tolerance", TOLERANCES)
def test_subset_solve(benchmark, n: int, tolerance: int) -> None:
    amounts, targets = _case(n, tolerance)
    it = iter(targets * 1000)

    def solve() -> None:
        search(
            amounts,
            next(it),
            tolerance=tolerance,
            max_size=8,
            node_limit=400,
            due_order=np.arange(n),
        )

    benchmark(solve)


def main() -> None:
    p = argparse.ArgumentParser(description="p50/p99 per subset solve, wall and CPU")
    p.add_argument("--solves", type=int, default=2000)
    p.add_argument("--limit", type=int, default=3, help="sets looked for (the matcher: 3)")
    args = p.parse_args()
    print(
        "| open invoices | fee tolerance | solves | p50 ms | p99 ms | max ms | "
        "CPU p50 ms | CPU p99 ms |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in SIZES:
        for tolerance in TOLERANCES:
            amounts, targets = _case(n, tolerance, args.solves)
            due = np.arange(n)
            wall, cpu = [], []
            for target in targets:
                w0, c0 = time.perf_counter(), time.process_time()
                search(
                    amounts,
                    target,
                    tolerance=tolerance,
                    max_size=8,
                    due_order=due,
                    limit=args.limit,
                )
                cpu.append(time.process_time() - c0)
                wall.append(time.perf_counter() - w0)
            w, c = np.array(wall) * 1e3, np.array(cpu) * 1e3
            print(
                f"| {n:,} | {tolerance / 100:.2f} | {len(targets):,} | "
                f"{np.percentile(w, 50):.3f} | {np.percentile(w, 99):.3f} | {w.max():.3f} | "
                f"{np.percentile(c, 50):.3f} | {np.percentile(c, 99):.3f} |"
            )


if __name__ == "__main__":
    main()
