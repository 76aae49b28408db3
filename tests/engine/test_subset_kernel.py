"""The compiled subset search finds exactly what the numpy search finds: the same first two (or
``limit``) solutions in the same order, the same exact, exhaustive and complete-up-to flags."""

import numpy as np

from cashmatch.engine import subset


def test_compiled_search_equals_the_numpy_search_on_random_blocks():
    rng = np.random.default_rng(1)
    tiers = {"none": 0, "one": 0, "two": 0, "three": 0, "tolerant": 0}
    for t in range(4000):
        n = int(rng.integers(0, 70 if t % 10 else 2200))  # MITM, medium and triple-size blocks
        small = t % 2 == 1  # small amounts: many solutions, so the order of the first two counts
        amounts = rng.integers(-3 if t % 7 == 0 else 1, 40 if small else 5000, n)
        target = int(rng.integers(1, 200 if small else 20_000))
        kw = dict(tolerance=int(rng.integers(0, 5)), max_size=int(rng.integers(1, 9)),
                  min_size=int(rng.integers(1, 3)),
                  due_order=rng.integers(0, 30, n) if t % 3 else None,
                  limit=3 if t % 4 == 3 else 2)
        fast = subset.search(amounts, target, **kw)
        slow = subset.search_numpy(amounts, target, **kw)
        assert fast == slow, (amounts.tolist(), target, kw)
        tiers[("none", "one", "two", "three")[len(fast.solutions)]] += 1
        tiers["tolerant"] += bool(fast.solutions) and not fast.exact
    assert min(tiers.values()) > 50, tiers  # every outcome was exercised


def test_compiled_search_finds_a_prefix_and_a_mitm_subset():
    due = np.array([3, 1, 2, 0, 9, 8])
    amounts = np.array([100, 200, 400, 800, 1600, 3200])
    found = subset.search(amounts, 1500, tolerance=0, max_size=8, due_order=due)
    assert found.solutions == [(0, 1, 2, 3)] and found.exact and found.exhaustive
    assert subset.search(amounts, 6300, tolerance=0, max_size=8).solutions == [(0, 1, 2, 3, 4, 5)]


def test_fewest_names_the_smallest_fit_only_when_the_search_proves_it():
    from cashmatch.engine.subset import SubsetSearch

    def found(sols, exhaustive, upto):
        return SubsetSearch(sols, True, exhaustive, 0, upto)

    assert found([(1,), (2, 3, 4)], False, 3).fewest(3) == (1,)  # singles searched first
    assert found([(1, 2), (3, 4), (5, 6, 7)], False, 3).fewest(3) is None  # two as small
    # a set of four past the complete sizes: only a finished search that ran out of sets
    assert found([(1, 2, 3, 4), (5, 6, 7, 8, 9)], False, 3).fewest(3) is None
    assert found([(1, 2, 3, 4), (5, 6, 7, 8, 9)], True, 8).fewest(3) == (1, 2, 3, 4)
    assert found([(1, 2, 3, 4), (5, 6, 7, 8, 9), (0, 5, 6, 7, 8)], True, 8).fewest(3) is None
    assert found([], True, 0).fewest(3) is None
    # on a real search: 23 alone, or 6 + 9 + 8
    amounts = np.array([23, 6, 9, 8, 55] * 1 + list(range(100, 130)), np.int64)
    got = subset.search(amounts, 23, tolerance=0, max_size=8, limit=3)
    assert got.unique is None and got.fewest(3) == (0,)
