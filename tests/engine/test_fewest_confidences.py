"""DayMatch.fewest_confidences (the fill search's confidences, as arrays) against
fewest_confidence one fit at a time: the same floats, bit for bit."""

import numpy as np

from cashmatch.engine.pipeline import DayMatch


def scalar(n_fixed, n_added, rivals, exact, proven, block_size, rest, fee, identity):
    return np.array([DayMatch.fewest_confidence(
        nf, na, [r for r in rv if r >= 0], ex, pr, bs, r_, fe, ident)
        for nf, na, rv, ex, pr, bs, r_, fe, ident in zip(
            n_fixed.tolist(), n_added.tolist(), rivals.tolist(), exact.tolist(),
            proven.tolist(), block_size.tolist(), rest.tolist(), fee.tolist(),
            identity.tolist(), strict=True)])


def fits(rng, n, block_max, rest_max):
    n_added = rng.integers(1, 7, n)
    block_size = np.maximum(rng.integers(1, block_max, n), n_added)
    rivals = rng.integers(1, 8, (n, 2))
    rivals[rng.random((n, 2)) < 0.4] = -1
    rivals[rivals[:, 0] < 0, 1] = -1  # (the sizes first, -1 after them)
    return (rng.integers(0, 4, n), n_added, rivals, rng.random(n) < 0.5, rng.random(n) < 0.5,
            block_size, rng.integers(1, rest_max, n), rng.integers(0, 5000, n),
            rng.choice([1.0, 0.97, 0.6, 0.93], n) * rng.random(n))


def test_same_floats_as_one_by_one():
    rng = np.random.default_rng(7)
    for block_max, rest_max in ((40, 10**6), (3000, 10**9), (10**6, 10**12), (8, 3)):
        args = fits(rng, 3000, block_max, rest_max)
        got = DayMatch.fewest_confidences(*args)
        want = scalar(*args)
        assert got.dtype == np.float64
        assert got.tobytes() == want.tobytes()


def test_quotients_past_float_exactness():
    """Counts of subsets past 2**53 (huge blocks), amounts too: the reference decides them."""
    n = 6
    args = (np.array([0, 1, 0, 2, 0, 0]), np.array([6, 5, 2, 3, 1, 4]),
            np.array([[7, -1], [6, 7], [-1, -1], [4, -1], [2, 3], [5, -1]]),
            np.array([True, False, True, False, True, False]), np.ones(n, bool),
            np.array([10**6, 10**5, 3, 10**7, 1, 2 * 10**4]),
            np.array([10**16, 3, 7, 2**60, 1, 99]), np.array([0, 7, 3, 10**6, 0, 1]),
            np.full(n, 0.95))
    assert DayMatch.fewest_confidences(*args).tobytes() == scalar(*args).tobytes()


def test_no_fits():
    none = np.zeros(0, np.int64)
    got = DayMatch.fewest_confidences(none, none, np.zeros((0, 2), np.int64), none.astype(bool),
                                      none.astype(bool), none, none, none, np.zeros(0))
    assert len(got) == 0
