"""engine.prefetch: a hint inside a compiled pass, with no effect on what the pass reads."""

from __future__ import annotations

import numpy as np
from numba import njit

from cashmatch.engine.prefetch import PREFETCH_AHEAD, prefetch


@njit(nogil=True)
def _gathered(values: np.ndarray, rows: np.ndarray) -> np.ndarray:
    out = np.empty(len(rows), values.dtype)
    for j in range(len(rows)):
        if j + PREFETCH_AHEAD < len(rows):
            prefetch(values, rows[j + PREFETCH_AHEAD])
        out[j] = values[rows[j]]
    return out


def test_a_pass_with_prefetch_reads_what_it_did_without():
    rng = np.random.default_rng(7)
    for dtype in (np.int8, np.int32, np.int64, np.float64):
        values = rng.integers(-100, 100, 100_000).astype(dtype)
        for n in (0, 1, PREFETCH_AHEAD, PREFETCH_AHEAD + 1, 5_000):
            rows = rng.integers(0, len(values), n)
            assert np.array_equal(_gathered(values, rows), values[rows])
