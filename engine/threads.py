"""Work on threads: compiled passes (numba, ``nogil=True``) or rapidfuzz calls over contiguous
shares of their input, and independent jobs side by side.

A pass whose items are independent runs as ``part(a, b)`` over items ``a .. b - 1``; above a
size where threads pay, the items are cut into contiguous shares, one a thread, and the
answers come back in item order (joined, the same arrays as one call). Not numba's own
``parallel=True``: its default threading layer aborts the process when two Python threads
(the server's, the AR reader's) call into it at once.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np

T = TypeVar("T")


def in_parts(
    part: Callable[[int, int], T], n: int, *, per_thread: int, max_threads: int = 4,
    weights: np.ndarray | None = None,
) -> list[T]:
    """``part(a, b)`` over contiguous shares ``a .. b - 1`` of ``n`` items, in order: one
    share (on the calling thread, no pool) below ``2 * per_thread`` items, else a thread for
    each ``per_thread`` items, up to ``max_threads`` and the machine's cores. With ``weights``
    (per item: its work, e.g. its comparisons) the threads are counted by weight and the
    shares cut at about equal weight."""
    size = n if weights is None else int(np.sum(weights))
    n_threads = min(max_threads, max(size // per_thread, 1))
    if n_threads > 1:  # (the cores counted only then: os.cpu_count reads a file, ~7 us)
        n_threads = min(n_threads, os.cpu_count() or 1)
    if n_threads == 1:
        return [part(0, n)]
    if weights is None:
        bounds = np.linspace(0, n, n_threads + 1).astype(np.int64).tolist()
    else:
        work = np.cumsum(weights)
        cuts = np.searchsorted(work, work[-1] * np.arange(1, n_threads) / n_threads)
        bounds = [0, *cuts.tolist(), n]
    with ThreadPoolExecutor(n_threads) as pool:
        return list(pool.map(part, bounds[:-1], bounds[1:]))


def side_by_side(jobs: list[Callable[[], T]], *, threads: bool) -> list[T]:
    """``[job() for job in jobs]``, on a thread for each core (or job, if fewer) when ``threads``
    and the machine has more than one core (for jobs of Arrow kernels and compiled passes,
    which release the GIL)."""
    n_threads = min(os.cpu_count() or 1, len(jobs)) if threads else 1
    if n_threads < 2:
        return [job() for job in jobs]
    with ThreadPoolExecutor(n_threads) as pool:
        return list(pool.map(lambda job: job(), jobs))


def in_background(job: Callable[[], T], *, thread: bool) -> Callable[[], T]:
    """``job()`` started on a thread of its own when ``thread`` (for a compiled pass, which
    releases the GIL, beside the caller's own work), else run at once; the call returned waits
    for it and gives its answer (or raises its error)."""
    if not thread:
        answer = job()
        return lambda: answer
    pool = ThreadPoolExecutor(1)
    future = pool.submit(job)
    pool.shutdown(wait=False)  # (the thread ends with the job)
    return future.result
