"""Small customer groups compared in one rapidfuzz call (their comparisons across groups
dropped) find the fuzzy hits one call per group finds, in the same order."""

import numpy as np

from cashmatch.engine import candidates as C
from cashmatch.engine.ledger import prepare_ledger
from cashmatch.engine.matcher import match
from cashmatch.fixtures.generator import generate_day


def test_blocks_of_groups_decide_as_one_call_per_group(monkeypatch):
    day = generate_day(payments=2000, seed=4)
    ledger = prepare_ledger(invoices=day.invoices, customers=day.customers)
    calls: list[int] = []
    cdist = C.process.cdist

    def counted(*args, **kw):
        calls.append(1)
        return cdist(*args, **kw)

    monkeypatch.setattr(C.process, "cdist", counted)
    results = {}
    for cells in (0, C.BATCH_CELLS):  # 0: every group alone
        monkeypatch.setattr(C, "BATCH_CELLS", cells)
        calls.clear()
        results[cells] = match(ledger=ledger, payments=day.payments,
                               remittances=day.remittances), len(calls)
    (alone, n_alone), (blocks, n_blocks) = results[0], results[C.BATCH_CELLS]
    assert n_blocks < n_alone / 2  # the blocks did join groups
    assert alone.allocations.equals(blocks.allocations)
    assert alone.exceptions.equals(blocks.exceptions)


def test_fuzzy_hits_per_block_equal_per_group(monkeypatch):
    day = generate_day(payments=2000, seed=6)
    ledger = prepare_ledger(invoices=day.invoices, customers=day.customers)
    texts = day.payments.column("reference").combine_chunks().fill_null("")
    _, tokens = C.reference_hits(texts, ledger.book)
    n = len(texts)
    group = ledger.index.group_of(np.random.default_rng(0).integers(0, 300, n))
    got = {}
    for cells in (0, 4096):
        monkeypatch.setattr(C, "BATCH_CELLS", cells)
        got[cells] = C.fuzzy_hits(tokens, np.ones(n, bool), group, ledger.book, cutoff=80.0)
    assert len(got[0]) > 100
    for field in ("pay", "inv", "ref", "fuzzy"):
        np.testing.assert_array_equal(getattr(got[0], field), getattr(got[4096], field))
