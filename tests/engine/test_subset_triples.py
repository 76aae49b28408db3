"""The vectorised triple search finds exactly the triples the loop over i finds, in order."""

import numpy as np

from cashmatch.engine import subset


def test_vectorised_triples_equal_the_loop_on_random_blocks():
    rng = np.random.default_rng(0)
    for t in range(1500):
        n = int(rng.integers(0, 60))
        small = t % 2 == 1
        amounts = rng.integers(1, 50 if small else 10_000, n)
        target = int(rng.integers(1, 150 if small else 30_000))
        lo, hi = target, target + int(rng.integers(0, 5))
        order = np.argsort(amounts, kind="stable")
        want = subset._triples_loop(amounts[order], order, lo, hi, 2) if n else []
        assert subset._triples(amounts, lo, hi, 2) == want, (amounts, lo, hi)


def test_triples_find_a_known_triple():
    assert subset._triples(np.array([5, 100, 7, 300, 11]), 23, 23, 2) == [(0, 2, 4)]
