import os

import pytest

from cashmatch.engine.threads import in_background, in_parts, side_by_side


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
