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
from queue import Empty, SimpleQueue
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


def in_chunks(
    part: Callable[[int, int], T], n: int, *, chunk: int, threads: bool,
    first: Callable[[], None] | None = None, max_threads: int = 4,
) -> list[T]:
    """``part(a, b)`` over the chunks ``a .. b - 1`` of ``n`` items, equal ones of at most
    ``chunk`` items, answers in chunk order. When ``threads``: taken in turn by a thread for
    each core, up to ``max_threads`` (at least two chunks a thread, the last chunk of each cut
    in two, so that they end within about half a chunk of each other); with ``first``, one of
    those threads runs ``first()`` before it takes chunks (a job beside them: while it runs,
    its temporaries live beside one chunk's on two cores, not two chunks'). Else one after
    another on the calling thread, after ``first()``."""
    n_threads = min(os.cpu_count() or 1, max_threads) if threads else 1
    n_chunks = max(-(-n // chunk), 2 * n_threads if n_threads > 1 else 1)
    bounds = [n * i // n_chunks for i in range(n_chunks + 1)]
    if n_threads < 2:
        if first is not None:
            first()
        return [part(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    last = bounds[-n_threads - 1:]  # (the last chunk of each thread, halved)
    bounds[-n_threads - 1:] = [
        *(x for a, b in zip(last[:-1], last[1:], strict=True) for x in (a, (a + b) // 2)), n]
    n_chunks += n_threads
    untaken: SimpleQueue[int] = SimpleQueue()
    for i in range(n_chunks):
        untaken.put(i)
    answers: list[T | None] = [None] * n_chunks

    def take() -> None:
        while True:
            try:
                i = untaken.get_nowait()
            except Empty:
                return
            answers[i] = part(bounds[i], bounds[i + 1])

    def first_then_take() -> None:
        assert first is not None
        first()
        take()

    jobs = [take] * (n_threads - 1) + [take if first is None else first_then_take]
    with ThreadPoolExecutor(n_threads) as pool:
        for done in [pool.submit(job) for job in jobs]:
            done.result()  # (raises a thread's error)
    return answers  # type: ignore[return-value]  (every chunk answered)


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
