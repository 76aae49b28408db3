"""Subset search per solve for customers with 20, 200 and 1,000 open invoices.

Run: ``pytest benchmarks/bench_subset.py --benchmark-enable --benchmark-columns=median,max,rounds``
(the suite reports; it asserts nothing about time). Each round solves one payment that settles
three random invoices of the customer, plus a fee-tolerant search.
"""

from __future__ import annotations

import numpy as np
import pytest

from cashmatch.engine.subset import search


@pytest.mark.parametrize("n", [20, 200, 1000])
@pytest.mark.parametrize("tolerance", [0, 1500])
def test_subset_solve(benchmark, n: int, tolerance: int) -> None:
    rng = np.random.default_rng(n)
    amounts = rng.integers(5_000, 500_000, size=n)
    targets = [int(amounts[rng.choice(n, size=3, replace=False)].sum()) - tolerance // 2
               for _ in range(64)]
    it = iter(targets * 1000)

    def solve() -> None:
        search(amounts, next(it), tolerance=tolerance, max_size=8, node_limit=400,
               due_order=np.arange(n))

    benchmark(solve)
