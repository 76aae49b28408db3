"""Proposals as columns: ``take`` and ``concat`` against the proposals written out one by one
(payment, confidence, rule, remainder and each line with its reason as text)."""

import numpy as np

from cashmatch.engine.allocate import RULES, Proposals


def spelled(props: Proposals) -> list[tuple]:
    """Each proposal as plain Python values, its lines' reasons as text."""
    out = []
    for i in range(len(props)):
        lines = range(props.start[i], props.start[i + 1])
        out.append((int(props.pay[i]), float(props.confidence[i]), RULES[props.rule[i]],
                    int(props.remainder[i]),
                    [(int(props.inv[j]), int(props.applied[j]), int(props.adjustment[j]),
                      props.reasons[props.reason[j]]) for j in lines]))
    return out


def random_batch(rng: np.random.Generator, n: int, reasons: tuple) -> Proposals:
    lens = rng.integers(1, 4, n)
    m = int(lens.sum())
    return Proposals.of(rng.integers(0, 100, n), lens, rng.integers(0, 50, m),
                        rng.integers(1, 10_000, m), rng.integers(0, 50, m), rng.random(n),
                        rng.integers(0, len(RULES), n), reason=rng.integers(0, len(reasons), m),
                        reasons=reasons, remainder=rng.integers(0, 3, n))


def test_take_and_concat_keep_every_proposal_and_its_reasons():
    rng = np.random.default_rng(5)
    a = random_batch(rng, 30, (None, "BANK_FEE", "DISCOUNT"))
    b = random_batch(rng, 20, (None, "BANK_FEE", "DISCOUNT", "DEDUCTION:X", "DEDUCTION:Y"))
    c = random_batch(rng, 10, ("DEDUCTION:Y", None, "DEDUCTION:Z"))
    empty = Proposals.empty()
    both = Proposals.concat([a, empty, b, c])
    assert spelled(both) == spelled(a) + spelled(b) + spelled(c)
    assert len(set(both.reasons)) == len(both.reasons) == 6
    rows = rng.permutation(len(both))[:25]
    assert spelled(both.take(rows)) == [spelled(both)[r] for r in rows]
    assert spelled(both.take(np.zeros(0, np.int64))) == []
    assert spelled(Proposals.concat([empty, b])) == spelled(b)
    assert len(Proposals.concat([])) == 0
    a2 = random_batch(rng, 15, a.reasons)  # (the same reasons: nothing recoded)
    assert spelled(Proposals.concat([a, a2, a])) == spelled(a) + spelled(a2) + spelled(a)


def test_of_gives_a_bank_fee_where_a_line_has_an_adjustment_and_one_rule_to_all():
    props = Proposals.of(np.array([3, 4]), np.array([2, 1]), np.array([7, 8, 9]),
                         np.array([100, 50, 20]), np.array([0, 5, 0]), np.array([0.9, 0.8]),
                         RULES.index("subset_amount"))
    assert spelled(props) == [
        (3, 0.9, "subset_amount", 0, [(7, 100, 0, None), (8, 50, 5, "BANK_FEE")]),
        (4, 0.8, "subset_amount", 0, [(9, 20, 0, None)])]


def test_candidate_list_stops_at_the_cap_as_cutting_the_whole_list_would():
    """``candidate_list`` stops looking once it holds MAX_CANDIDATES (or all of ``extra``):
    the same list as every invoice not in ``extra``, first seen first, cut at the cap."""
    from cashmatch.engine.allocate import MAX_CANDIDATES
    from cashmatch.engine.pipeline import candidate_list

    def whole_then_cut(extra, invs, confs):
        cands, scores = list(extra), [0.5] * len(extra)
        for inv, conf in zip(invs, confs, strict=True):
            if inv not in cands:
                cands.append(inv)
                scores.append(conf)
        cap = max(MAX_CANDIDATES, len(extra))
        return cands[:cap], scores[:cap]

    rng = np.random.default_rng(3)
    for _ in range(3000):
        extra = rng.integers(0, 12, int(rng.integers(0, 9))).tolist()
        invs = rng.integers(0, 12, int(rng.integers(0, 30))).tolist()  # repeats, in extra too
        confs = rng.random(len(invs)).tolist()
        assert candidate_list(extra, invs, confs) == whole_then_cut(extra, invs, confs)


def test_in_payment_order_interleaves_the_parts_by_payment():
    """``in_payment_order`` lists the items of all parts by their payments, whatever order the
    parts and the items within them come in (empty parts and arrays or lists of payments)."""
    from cashmatch.engine.pipeline import in_payment_order

    rng = np.random.default_rng(5)
    pays = rng.permutation(60)
    cuts = np.sort(rng.choice(np.arange(1, 60), 4, replace=False))
    parts = [(p, [f"item{x}" for x in p.tolist()]) for p in np.split(pays, cuts)]
    parts.append((np.zeros(0, np.int64), []))
    parts.append(([70, 65], ["item70", "item65"]))
    got = in_payment_order(*parts)
    assert got == [f"item{x}" for x in [*range(60), 65, 70]]
    assert in_payment_order((np.zeros(0, np.int64), [])) == []


def test_candidate_lists_equal_candidate_list_of_each_run():
    """``candidate_lists`` (every run at once, each cut to its first MAX_CANDIDATES pairs unless
    an invoice repeats among them) lists what ``candidate_list`` lists of each whole run: runs
    empty, short, long, with invoices repeated at every distance (a repeat four pairs apart
    included), in any order of the pairs."""
    from cashmatch.engine.pipeline import candidate_list, candidate_lists

    rng = np.random.default_rng(7)
    n = rng.choice([0, 1, 2, 4, 5, 6, 9, 30], 400)
    order = rng.permutation(int(n.sum()))
    start = np.concatenate([[0], np.cumsum(n)[:-1]])
    inv = np.where(rng.random(len(order)) < 0.3, rng.integers(0, 4, len(order)),
                   rng.integers(0, 10**6, len(order)))
    conf = rng.random(len(order))
    picks = rng.permutation(len(n))[:300]  # (some runs, in any order)
    got = candidate_lists(order, start[picks], n[picks], inv, conf)
    want = [candidate_list([], inv[r].tolist(), conf[r].tolist())
            for r in (order[a : a + k] for a, k in zip(start[picks], n[picks], strict=True))]
    assert got == want
    firsts = [inv[order[a : a + min(k, 5)]].tolist() for a, k in zip(start[picks], n[picks],
                                                                     strict=True)]
    assert sum(len(set(f)) < len(f) for f in firsts) > 20  # repeats among the first five


def test_fee_sets_say_of_each_proposal_whether_it_is_a_set_fitting_only_less_a_fee():
    """``fee_sets`` (a batch at once) answers for each proposal what its definition says of it
    alone: a subset rule, a confidence below the threshold (on it: not below) and a line with
    an adjustment (proposals of one line and of several, adjustments on any line)."""
    from cashmatch.engine.allocate import SUBSET_RULES
    from cashmatch.engine.pipeline import fee_sets

    rng = np.random.default_rng(3)
    n = 1000
    lens = rng.integers(1, 5, n)
    lines = int(lens.sum())
    adjustment = np.where(rng.random(lines) < 0.3, rng.integers(1, 300, lines), 0)
    confidence = rng.choice([0.5, 0.9, 0.95, 0.99], n)
    rule = rng.integers(0, len(RULES), n)
    batch = Proposals.of(np.arange(n), lens, np.arange(lines), np.ones(lines, np.int64),
                         adjustment, confidence, rule)
    want = [RULES[int(batch.rule[i])] in SUBSET_RULES and float(batch.confidence[i]) < 0.95
            and bool(batch.adjustment[batch.start[i] : batch.start[i + 1]].any())
            for i in range(n)]
    assert fee_sets(batch, 0.95) == want
    assert 30 < sum(want) < n - 30


def one_by_one(picks: list[tuple[int, Proposals, int]]) -> Proposals:
    """The reference of ``gathered``: the picks sorted by payment, each batch joined at its
    first pick, the rows taken one by one."""
    at: dict[int, int] = {}
    batches, rows, n = [], [], 0
    for _, batch, row in sorted(picks, key=lambda pick: pick[0]):
        if id(batch) not in at:
            at[id(batch)] = n
            batches.append(batch)
            n += len(batch)
        rows.append(at[id(batch)] + row)
    return Proposals.concat(batches).take(np.array(rows, np.int64))


def test_gathered_equals_the_picks_joined_one_by_one():
    """``gathered`` over parts of single batches and of lists of picks (a batch in several
    parts, batches with reasons of their own, empty parts) gives the proposals, their reasons'
    codes and dictionary of the picks joined one by one in payment order."""
    from cashmatch.engine.pipeline import gathered, picks, rows_of

    rng = np.random.default_rng(11)
    for trial in range(30):
        batches = [random_batch(rng, int(rng.integers(1, 8)), reasons)
                   for reasons in (("a", "b"), ("b", "c", "d"), ("a", "b"), ("e",))]
        pays = rng.permutation(200)[: int(rng.integers(0, 40))]
        chosen = [(int(p), batches[int(rng.integers(0, 4))]) for p in pays]
        chosen = [(p, b, int(rng.integers(0, len(b)))) for p, b in chosen]
        cut = int(rng.integers(0, len(chosen) + 1))
        listed, bulk = chosen[:cut], chosen[cut:]
        parts = [picks(np.array([p for p, _, _ in listed], np.int64),
                       [(b, r) for _, b, r in listed]),
                 rows_of(np.zeros(0, np.int64), batches[3], np.zeros(0, np.int64))]
        for b in batches:
            mine = [(p, r) for p, bb, r in bulk if bb is b]
            parts.append(rows_of(np.array([p for p, _ in mine], np.int64), b,
                                 np.array([r for _, r in mine], np.int64)))
        got, want = gathered(*parts[::-1] if trial % 2 else parts), one_by_one(chosen)
        assert spelled(got) == spelled(want)
        assert got.reasons == want.reasons
        assert np.array_equal(got.reason, want.reason)
