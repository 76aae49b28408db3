import os

import pytest

from cashmatch.engine.threads import in_background, in_chunks, in_parts, side_by_side


def test_in_parts_covers_every_item_once_in_order_and_threads_only_above_the_size():
    cores = min(os.cpu_count() or 1, 4)
    for n, per_thread, shares in [
        (0, 10, 1),
        (19, 10, 1),
        (5, 10, 1),
        (20, 10, min(cores, 2)),
        (1000, 10, cores),
        (1000, 1, cores),
    ]:
        parts = in_parts(lambda a, b: (a, b), n, per_thread=per_thread)
        assert len(parts) == shares
        assert parts[0][0] == 0 and parts[-1][1] == n
        assert all(p[1] == q[0] for p, q in zip(parts[:-1], parts[1:], strict=True))
    assert in_parts(lambda a, b: list(range(a, b)), 7, per_thread=1, max_threads=3) == (
        [[0, 1], [2, 3, 4], [5, 6]]
        if cores >= 3
        else [[0, 1, 2], [3, 4, 5, 6]]
        if cores == 2
        else [[0, 1, 2, 3, 4, 5, 6]]
    )


def test_in_parts_by_weight_cuts_shares_of_about_equal_work(monkeypatch):
    monkeypatch.setattr("cashmatch.engine.threads.os.cpu_count", lambda: 2)
    weights = [1, 1, 1, 1, 8, 1, 1, 1, 1]  # 16 in all: 8 each side of item 4
    assert in_parts(lambda a, b: (a, b), 9, per_thread=8, weights=weights) == [(0, 4), (4, 9)]
    assert in_parts(lambda a, b: (a, b), 9, per_thread=9, weights=weights) == [(0, 9)]


def test_side_by_side_returns_each_jobs_answer_in_order(monkeypatch):
    for cores in (1, 2, 4):
        monkeypatch.setattr("cashmatch.engine.threads.os.cpu_count", lambda c=cores: c)
        jobs = [lambda i=i: i * i for i in range(5)]
        assert side_by_side(jobs, threads=True) == side_by_side(jobs, threads=False) == [
            0, 1, 4, 9, 16]


def test_in_background_gives_the_jobs_answer_or_error_on_a_thread_or_at_once():
    def fails():
        raise ValueError("no")

    for thread in (True, False):
        ran: list[int] = []

        def job(ran: list[int] = ran) -> int:
            ran.append(1)
            return 42

        answer = in_background(job, thread=thread)
        assert answer() == 42 and answer() == 42 and ran == [1]  # (run once)
        with pytest.raises(ValueError, match="no"):
            in_background(fails, thread=thread)()


@pytest.mark.parametrize("cores", [1, 2, 3])
def test_in_chunks_answers_every_chunk_once_in_order_beside_the_first_job(monkeypatch, cores):
    """The chunks cover the items once, in order, none over ``chunk`` items, whichever thread
    took each; ``first`` runs once, and while it runs the other threads take chunks (on two
    cores one chunk at a time beside it), then its thread takes chunks too."""
    import threading
    import time

    monkeypatch.setattr("os.cpu_count", lambda: cores)
    for n, chunk in [(0, 5), (1, 5), (5, 5), (6, 5), (103, 7), (1000, 1000), (1000, 10)]:
        for threads in (False, True):
            assert in_chunks(lambda a, b: list(range(a, b)), n, chunk=chunk,
                             threads=threads) == _chunked(n, chunk, cores if threads else 1)
    lock = threading.Lock()
    running, firsts, took = set(), [], []  # (chunks being answered; first's runs; takers)
    alone = []  # the chunks running while first ran

    def first() -> None:
        firsts.append(threading.current_thread())
        deadline = time.monotonic() + 10
        while cores > 1 and len(took) < 3 and time.monotonic() < deadline:  # (others take)
            with lock:
                alone.append(len(running))
            time.sleep(0.001)

    def part(a: int, b: int) -> list[int]:
        with lock:
            running.add(a)
        time.sleep(0.005)
        with lock:
            running.discard(a)
            took.append(threading.current_thread())
        return list(range(a, b))

    got = in_chunks(part, 200, chunk=10, threads=True, first=first)
    assert got == _chunked(200, 10, cores) and len(firsts) == 1
    assert len(took) == 20 + (cores if cores > 1 else 0)  # (the last of each thread halved)
    if cores == 1:
        assert took[0] is firsts[0] is threading.current_thread()  # (after first, at once)
    else:
        assert 1 <= max(alone) <= cores - 1  # (chunks taken beside first, no more than that)
        assert firsts[0] in took  # (and its thread took some once done)


def test_in_chunks_raises_a_chunks_or_the_first_jobs_error(monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 2)

    def part(a: int, b: int) -> int:
        if a >= 50:
            raise ValueError("chunk")
        return a

    with pytest.raises(ValueError, match="chunk"):
        in_chunks(part, 100, chunk=10, threads=True)

    def first() -> None:
        raise KeyError("first")

    with pytest.raises(KeyError, match="first"):
        in_chunks(lambda a, b: a, 100, chunk=10, threads=True, first=first)


def _chunked(n: int, chunk: int, threads: int) -> list[list[int]]:
    """What in_chunks answers for ``list(range(a, b))``: equal chunks of at most ``chunk``
    items, at least two a thread on several, the last ``threads`` of them then cut in two."""
    n_chunks = max(-(-n // chunk), 2 * threads if threads > 1 else 1)
    bounds = [n * i // n_chunks for i in range(n_chunks + 1)]
    if threads > 1:
        for i in range(n_chunks - threads, n_chunks):
            bounds.append((bounds[i] + bounds[i + 1]) // 2)
        bounds.sort()
    return [list(range(a, b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
