"""Compiled passes of a day's output tables (:meth:`pipeline.DayMatch.build_outputs`), each
with its numpy reference here and a differential test (tests/engine/test_output_kernel.py).
"""

from __future__ import annotations

import numpy as np

from cashmatch.engine.kernel_cache import njit


@njit(cache=True, nogil=True)
def open_after(order: np.ndarray, inv: np.ndarray, used: np.ndarray, open_amount: np.ndarray
               ) -> np.ndarray:  # fmt: skip
    """What stays open of each application's invoice once it is made: ``open_amount`` of its
    invoice ``inv[j]`` less ``used`` by it and by the applications to that invoice before it
    in ``order`` (by invoice first: each invoice's applications one after another), in
    wrapping int64 as numpy's sums. Its reference: :func:`open_after_by_numpy`."""
    out = np.empty(len(order), np.int64)
    running = 0
    for t in range(len(order)):
        j = order[t]
        if t == 0 or inv[j] != inv[order[t - 1]]:
            running = 0
        running += used[j]
        out[j] = open_amount[inv[j]] - running
    return out


def open_after_by_numpy(order: np.ndarray, inv: np.ndarray, used: np.ndarray,
                        open_amount: np.ndarray) -> np.ndarray:  # fmt: skip
    """:func:`open_after` in numpy (cumulative sums restarted at each invoice's first row)."""
    used = used[order]
    inv_sorted = inv[order]
    csum = np.cumsum(used)
    first = np.ones(len(order), bool)
    first[1:] = inv_sorted[1:] != inv_sorted[:-1]
    base = np.maximum.accumulate(np.where(first, np.arange(len(order)), 0))
    before = np.where(base > 0, csum[np.maximum(base - 1, 0)], 0)
    out = np.empty(len(order), np.int64)
    out[order] = open_amount[inv_sorted] - (csum - before)
    return out
