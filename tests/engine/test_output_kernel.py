"""output_kernel's compiled passes against their numpy references."""

from __future__ import annotations

import numpy as np

from cashmatch.engine.output_kernel import open_after, open_after_by_numpy


def test_open_after_equals_numpy() -> None:
    rng = np.random.default_rng(31)
    for _ in range(3000):
        n = int(rng.choice([0, 1, 2, 7, 40]))
        n_inv = int(rng.integers(1, 6))
        inv = rng.integers(0, n_inv, n)
        used = rng.choice(np.array([0, 1, -1, 250, 10**12, 2**62], np.int64), n)
        open_amount = rng.choice(np.array([0, 5, 10**12, 2**62, -(2**63)], np.int64), n_inv)
        if rng.random() < 0.7:  # by invoice, then another key (as the outputs order them)
            order = np.lexsort((rng.integers(0, 3, n), inv))
        else:  # any order: each run of one invoice restarts the sum
            order = rng.permutation(n)
        with np.errstate(over="ignore"):
            want = open_after_by_numpy(order, inv, used, open_amount)
        assert np.array_equal(open_after(order, inv, used, open_amount), want)
