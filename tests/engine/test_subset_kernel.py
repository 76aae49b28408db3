"""The compiled subset search finds exactly what the numpy search finds: the same first two (or
``limit``) solutions in the same order, the same exact, exhaustive and complete-up-to flags."""

import numpy as np
import pytest

from cashmatch.engine import subset, subset_kernel


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


def test_compiled_sets_of_four_and_more_equal_the_numpy_search_near_the_cap():
    """Blocks of meet-in-the-middle size and of the sets of four whose amounts are large
    against the target, so most sums of a half, or of a pair, pass the cap (target +
    tolerance) and are left out of the compiled halves and pair table: the same first sets in
    the same order, fitting exactly, within the tolerance (the second tier shares the halves
    and pairs the first built) or at the cap itself."""
    rng = np.random.default_rng(3)
    seen = {"none": 0, "exact": 0, "tolerant": 0}
    for _ in range(2500):
        n = int(rng.integers(8, 61))
        small = rng.random() < 0.5
        target = int(rng.integers(50, 400) if small else rng.integers(10_000, 100_000))
        # (now and then a tolerance wide enough that a pair past the target completes a set)
        tolerance = int(rng.integers(0, 4) if rng.random() < 0.8 else rng.integers(0, target))
        amounts = rng.integers(max(target // 7, 1), target + tolerance + 3, n)
        if rng.random() < 0.3:  # a set that reaches the cap exactly
            pick = rng.choice(n, int(rng.integers(4, 7)), replace=False)
            amounts[pick[-1]] = max(target + tolerance - int(amounts[pick[:-1]].sum()), 1)
        kw = dict(tolerance=tolerance, max_size=int(rng.integers(4, 9)), min_size=4,
                  limit=int(rng.integers(1, 4)))
        fast = subset.search(amounts, target, **kw)
        slow = subset.search_numpy(amounts, target, **kw)
        assert fast == slow, (amounts.tolist(), target, kw)
        seen["none" if not fast.solutions else "exact" if fast.exact else "tolerant"] += 1
    assert min(seen.values()) > 50, seen


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


@pytest.mark.parametrize(("per_thread", "with_due"), [(None, True), (150, True), (None, False)])
def test_block_searches_equal_one_numpy_search_per_query(monkeypatch, per_thread, with_due):
    """``search_blocks`` (all queries in one compiled call, each over its block less the
    excluded and its own fixed rows) answers each query as ``search_numpy`` does over the rows
    left, its solutions mapped to rows; in one call, or in threads of 150 queries each; with the
    due dates (a due-date prefix tried) or without. Its ``fewest`` (all queries at once) names
    the set each query's ``SubsetSearch.fewest`` gives."""
    if per_thread:
        monkeypatch.setattr(subset, "SEARCH_THREAD_QUERIES", per_thread)
        monkeypatch.setattr(subset.os, "cpu_count", lambda: 4)
    rng = np.random.default_rng(2)
    sizes = rng.choice([0, 1, 3, 10, 20, 30, 200, 900], 40)
    starts = np.concatenate([[0], np.cumsum(sizes)])
    n_rows = int(starts[-1]) + 100
    amount = rng.integers(-2, 3000, n_rows)
    amount = np.where(rng.random(n_rows) < 0.5, rng.integers(1, 60, n_rows), amount)
    due = rng.integers(0, 40, n_rows)
    members = rng.permutation(n_rows)[: starts[-1]]
    members = np.concatenate([np.sort(members[a:b]) for a, b in zip(starts[:-1], starts[1:],
                                                                      strict=True)])
    excluded = rng.random(n_rows) < 0.1
    nq = 600
    q_block = rng.integers(-1, len(sizes), nq)
    fixed, fixed_starts = [], [0]
    for b in q_block:
        rows = members[starts[b] : starts[b + 1]] if b >= 0 else np.zeros(0, np.int64)
        k = min(int(rng.integers(0, 3)), len(rows))
        fixed.extend(rng.choice(rows, k, replace=False).tolist() if k else [])
        fixed_starts.append(len(fixed))
    fixed, fixed_starts = np.array(fixed, np.int64), np.array(fixed_starts)
    small = rng.random(nq) < 0.5
    target = np.where(small, rng.integers(-5, 200, nq), rng.integers(1, 8000, nq))
    tolerance = rng.integers(0, 5, nq)
    max_size = rng.integers(1, 9, nq)
    min_size = rng.integers(1, 3, nq)
    got = subset.search_blocks(
        amount=amount, due=due if with_due else None, members=members, starts=starts,
        excluded=excluded, q_block=q_block, fixed=fixed, fixed_starts=fixed_starts, target=target,
        tolerance=tolerance, max_size=max_size, min_size=min_size, limit=3)
    outcomes, fewest = set(), set()
    slots = got.fewest(3)
    for q in range(nq):
        b = q_block[q]
        rows = members[starts[b] : starts[b + 1]] if b >= 0 else np.zeros(0, np.int64)
        rows = rows[~excluded[rows] & ~np.isin(rows, fixed[fixed_starts[q] : fixed_starts[q + 1]])]
        assert got.size[q] == (len(rows) if b >= 0 and target[q] > 0 else 0)
        if len(rows) == 0 or target[q] <= 0:
            assert got.n_found[q] == 0 and slots[q] == -1
            continue
        want = subset.search_numpy(amount[rows], int(target[q]), tolerance=int(tolerance[q]),
                                   max_size=int(max_size[q]), min_size=int(min_size[q]),
                                   due_order=due[rows] if with_due else None, limit=3)
        mapped = [tuple(int(rows[i]) for i in s) for s in want.solutions]
        if not want.solutions:
            assert got.n_found[q] == 0 and slots[q] == -1
            continue
        found = got.get(q)
        assert found.solutions == mapped, q
        assert (found.exact, found.exhaustive, found.complete_upto) == (
            want.exact, want.exhaustive, want.complete_upto), q
        outcomes.add((len(found.solutions), found.exact))
        s = slots[q]
        named = got.rows[got.sol_start[s] : got.sol_start[s] + got.sol_len[s]] if s >= 0 else None
        assert (None if named is None else tuple(named.tolist())) == found.fewest(3), q
        fewest.add((s >= 0, len(found.solutions)))
    assert len(outcomes) >= 5, outcomes  # one, two and three sets, exact and tolerant
    assert {(True, 1), (True, 2), (False, 2)} <= fewest, fewest


def test_a_day_decides_the_same_with_sets_searched_one_payment_at_a_time(monkeypatch):
    """The batched set searches (``DayMatch.prefill_subsets``) and the per-payment path that
    the HiGHS fallback takes give the same allocations and exceptions."""
    from cashmatch.engine.matcher import match
    from cashmatch.engine.pipeline import DayMatch
    from cashmatch.fixtures.generator import generate_day

    day = generate_day(payments=3000, seed=2)
    tables = dict(invoices=day.invoices, payments=day.payments, remittances=day.remittances,
                  customers=day.customers)
    batched = match(**tables)
    searched = []
    monkeypatch.setattr(DayMatch, "prefill_subsets",
                        lambda self, ps: searched.append(len(ps)) or (lambda: None))
    one_by_one = match(**tables)
    assert searched and searched[0] > 50  # the batch had work to do
    assert batched.allocations.equals(one_by_one.allocations)
    assert batched.exceptions.equals(one_by_one.exceptions)


def test_a_day_decides_the_same_with_the_set_search_beside_the_other_work(monkeypatch):
    """``prefill_subsets``' search on a thread of its own (beside the remittance advice and
    the quoted sets, as on a large day) and at once (a small day) give the same allocations
    and exceptions; its threads' error reaches the caller."""
    from cashmatch.engine import threads
    from cashmatch.engine.matcher import match
    from cashmatch.fixtures.generator import generate_day

    day = generate_day(payments=3000, seed=2)
    tables = dict(invoices=day.invoices, payments=day.payments, remittances=day.remittances,
                  customers=day.customers)
    at_once = match(**tables)
    background = []
    real = threads.in_background

    def counted(job, *, thread):
        background.append(thread)
        return real(job, thread=thread)

    monkeypatch.setattr(subset, "in_background", counted)
    monkeypatch.setattr(subset, "SEARCH_THREAD_QUERIES", 20)
    beside = match(**tables)
    assert any(background)  # the search ran on its own thread
    assert at_once.allocations.equals(beside.allocations)
    assert at_once.exceptions.equals(beside.exceptions)

    search = subset_kernel.search_blocks

    def broken(*args):  # (the fill search: with due dates; the quoted one has none)
        if args[-1]:
            raise RuntimeError("search failed")
        return search(*args)

    monkeypatch.setattr(subset_kernel, "search_blocks", broken)
    with pytest.raises(RuntimeError, match="search failed"):
        match(**tables)


def test_a_day_decides_the_same_with_quoted_sets_searched_one_payment_at_a_time(monkeypatch):
    """The quoted invoices' set searches in one batch (``DayMatch.quoted_subsets``) and one
    payment at a time (``subset_proposal``, below QUOTED_BATCH_MIN payments) give the same
    allocations and exceptions."""
    from cashmatch.engine import pipeline
    from cashmatch.engine.matcher import match
    from cashmatch.engine.pipeline import DayMatch
    from cashmatch.fixtures.generator import generate_day

    day = generate_day(payments=3000, seed=2)
    tables = dict(invoices=day.invoices, payments=day.payments, remittances=day.remittances,
                  customers=day.customers)
    one_by_one = []
    real = DayMatch.subset_proposal

    def counted(self, p, *, quoted_only):
        one_by_one.append(quoted_only)
        return real(self, p, quoted_only=quoted_only)

    monkeypatch.setattr(DayMatch, "subset_proposal", counted)
    monkeypatch.setattr(pipeline, "QUOTED_BATCH_MIN", 1)
    batched = match(**tables)
    in_batch = sum(one_by_one)  # (a payment with no customer group or one quoted invoice
    # left is still answered one by one)
    monkeypatch.setattr(pipeline, "QUOTED_BATCH_MIN", 10**9)
    searched = match(**tables)
    assert sum(one_by_one) - in_batch > 10 * max(in_batch, 2)  # the batch had work to do
    assert batched.allocations.equals(searched.allocations)
    assert batched.exceptions.equals(searched.exceptions)


def test_sets_of_four_are_found_past_the_meet_in_the_middle_blocks():
    # 40 amounts; four of them make the target, and no other set of four or fewer does
    from itertools import combinations

    amounts = np.random.default_rng(4).integers(10_000, 1_000_000, 40)
    target = int(amounts[[3, 11, 20, 37]].sum())
    fits = [c for k in range(1, 5) for c in combinations(range(40), k)
            if int(amounts[list(c)].sum()) == target]
    assert fits == [(3, 11, 20, 37)]
    for run in (subset.search, subset.search_numpy):
        found = run(amounts, target, tolerance=0, max_size=8, limit=3)
        assert found.solutions == [(3, 11, 20, 37)] and found.exact
        assert not found.exhaustive and found.complete_upto == 4
        assert found.fewest(3) == (3, 11, 20, 37)  # the only fit of four or fewer


def test_compiled_stable_argsort_equals_numpys_with_ties_and_extremes():
    """The packed-key sort and the merge sort it falls back on (a span of values too wide to
    pack with the positions) give numpy's stable order."""
    from cashmatch.engine import subset_kernel

    rng = np.random.default_rng(5)
    for n in (0, 1, 2, 7, 100, 3000):
        for a in (rng.integers(-5, 5, n), rng.integers(-(2**62), 2**62, n),
                  np.where(rng.random(n) < 0.5, np.iinfo(np.int64).min, np.iinfo(np.int64).max)):
            a = a.astype(np.int64)
            assert subset_kernel._argsort_stable(a).tolist() == np.argsort(
                a, kind="stable").tolist()


@pytest.mark.parametrize("cap", [2, 5, 10**6])
def test_count_fits_equals_counting_every_single_and_pair(cap):
    """``count_fits`` counts what a count of every single amount and every pair (i < j) of
    the block in the window gives, up to ``cap``: blocks with repeated amounts, windows of one
    amount and wide ones, empty blocks and none."""
    rng = np.random.default_rng(5)
    sizes = rng.choice([0, 1, 2, 5, 40, 300], 30)
    starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    amounts = np.concatenate([np.sort(rng.choice([rng.integers(1, 30), 10**6], n) if n % 2
                                      else rng.integers(1, 400, n)) for n in sizes])
    nq = 400
    q_block = rng.integers(-1, len(sizes), nq)
    lo = rng.integers(1, 800, nq)
    hi = lo + rng.choice([0, 0, 3, 50, -1], nq)
    got = subset_kernel.count_fits(amounts.astype(np.int64), starts, q_block, lo, hi, cap)
    for q in range(nq):
        b = q_block[q]
        s = amounts[starts[b] : starts[b + 1]] if b >= 0 else np.zeros(0, np.int64)
        sums = np.concatenate([s, (s[:, None] + s[None, :])[np.triu_indices(len(s), 1)]])
        want = int(((sums >= lo[q]) & (sums <= hi[q])).sum()) if hi[q] >= lo[q] else 0
        assert got[q] == min(want, cap), q


def test_block_searches_reuse_their_scratch_from_query_to_query():
    """``search_blocks`` keeps one scratch for all its queries (the meet-in-the-middle halves'
    sums shared by a query's two tiers, built afresh for the next query): queries of
    meet-in-the-middle size one after another, over blocks of growing and shrinking sizes, sets
    of four or more that fit only within the tolerance (after the exact tier searched them),
    and targets on the bounds of what four or ``max_size`` amounts can make, each answered as
    ``search_numpy`` answers it alone."""
    rng = np.random.default_rng(5)
    sizes = np.array([24, 4, 23, 5, 16, 24, 7, 13, 1, 24, 9])
    starts = np.concatenate([[0], np.cumsum(sizes)])
    amount = rng.integers(1, 400, int(starts[-1]))
    members = np.arange(int(starts[-1]))
    q_block, target, tolerance, max_size = [], [], [], []
    for t in range(3000):
        b = int(rng.integers(0, len(sizes)))
        s = np.sort(amount[starts[b] : starts[b + 1]])
        k = int(rng.integers(1, 9))
        edge = [int(s[:4].sum()), int(s[-k:].sum()), int(s[:4].sum()) + 1, int(s[-k:].sum()) - 1]
        tol = int(rng.integers(0, 4))
        # a subset's sum less the tolerance: exact fits rare, tolerant ones common
        pick = rng.random(len(s)) < 0.4
        aim = [int(s[pick].sum()) - tol, int(rng.integers(1, int(s.sum()) + 2))] + edge
        q_block.append(b)
        target.append(max(aim[t % len(aim)], 1))
        tolerance.append(tol)
        max_size.append(k)
    q_block, target, tolerance, max_size = map(np.array, (q_block, target, tolerance, max_size))
    got = subset.search_blocks(
        amount=amount, due=None, members=members, starts=starts,
        excluded=np.zeros(len(amount), bool), q_block=q_block, fixed=np.zeros(0, np.int64),
        fixed_starts=np.zeros(len(q_block) + 1, np.int64), target=target, tolerance=tolerance,
        max_size=max_size, min_size=np.ones(len(q_block), np.int64), limit=2)
    tolerant_sets = 0
    for q in range(len(q_block)):
        rows = members[starts[q_block[q]] : starts[q_block[q] + 1]]
        want = subset.search_numpy(amount[rows], int(target[q]), tolerance=int(tolerance[q]),
                                   max_size=int(max_size[q]))
        found = got.get(q)
        assert found.solutions == [tuple(int(rows[i]) for i in s) for s in want.solutions], q
        assert (found.exact, found.exhaustive, found.complete_upto) == (
            want.exact, want.exhaustive, want.complete_upto), q
        tolerant_sets += any(len(s) >= 4 for s in want.solutions) and not want.exact
    assert tolerant_sets > 100, tolerant_sets
