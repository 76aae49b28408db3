"""Small customer groups compared in one rapidfuzz call (their comparisons across groups
dropped) find the fuzzy hits one call per group finds, in the same order."""

import dataclasses

import numpy as np
import pyarrow as pa
import pytest

from cashmatch.engine import candidates as C
from cashmatch.engine import identify as I
from cashmatch.engine import reference as ref
from cashmatch.engine import threads as T
from cashmatch.engine.ledger import prepare_ledger
from cashmatch.engine.matcher import match
from cashmatch.engine.normalize import name_key
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


def _tokens_and_groups(group_seed: int) -> tuple[C.Book, pa.Table, int, np.ndarray]:
    """A generated day's book, its references' tokens, and a random customer group per
    payment (300 customers' groups)."""
    day = generate_day(payments=2000, seed=6)
    ledger = prepare_ledger(invoices=day.invoices, customers=day.customers)
    texts = day.payments.column("reference").combine_chunks().fill_null("")
    _, tokens = C.reference_hits(texts, ledger.book)
    n = len(texts)
    return ledger.book, tokens, n, ledger.index.group_of(
        np.random.default_rng(group_seed).integers(0, 300, n))


def _assert_same_hits(a: C.Pairs, b: C.Pairs) -> None:
    assert len(a) > 100
    for field in ("pay", "inv", "ref", "fuzzy"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))


def test_fuzzy_hits_per_block_equal_per_group(monkeypatch):
    book, tokens, n, group = _tokens_and_groups(0)
    got = {}
    for cells in (0, 4096):
        monkeypatch.setattr(C, "BATCH_CELLS", cells)
        got[cells] = C.fuzzy_hits(tokens, np.ones(n, bool), group, book, cutoff=80.0)
    _assert_same_hits(got[0], got[4096])


def test_fuzzy_hits_from_the_ledgers_key_strings_equal_those_converted_per_call():
    """A prepared ledger's digits keys kept as Python strings give the hits that converting
    the groups' keys on every call (a ledger over KEY_TEXT_MAX keys) gives."""
    book, tokens, n, group = _tokens_and_groups(1)
    assert book.digit_key_text is not None
    kept = C.fuzzy_hits(tokens, np.ones(n, bool), group, book, cutoff=80.0)
    converted = C.fuzzy_hits(tokens, np.ones(n, bool), group,
                             dataclasses.replace(book, digit_key_text=None), cutoff=80.0)
    _assert_same_hits(kept, converted)


@pytest.mark.parametrize("threads", [1, 3])
def test_fuzzy_names_are_the_references(monkeypatch, threads: int):
    """Payer names scored block by block identify and resemble the customers that comparing
    them pair by pair within their blocks does; the blocks shared among threads or not."""
    monkeypatch.setattr(I, "PARALLEL_COMPARISONS", 2 if threads > 1 else 10**12)
    monkeypatch.setattr(T.os, "cpu_count", lambda: threads)
    day = generate_day(payments=3000, seed=8)
    index = prepare_ledger(invoices=day.invoices, customers=day.customers).index
    names = name_key(day.payments.column("payer_name"))
    names = names.filter(pa.array(index.names.index_in(names) < 0))  # not known exactly
    keys, order, k_block = index.name_blocks
    cust = np.asarray(index.name_keys.column("cust"), np.int64)
    want = []
    for name in names.to_pylist():
        block = order[k_block == name[: I.NAME_BLOCK]]
        want.append(ref.fuzzy_name(name, keys[block].tolist(), cust[block].tolist(),
                                   index.group[cust[block]].tolist(), cutoff=88.0,
                                   margin=I.NAME_MARGIN) if len(block) else (-1, -1))
    want_result, want_closest = (np.array(c) for c in zip(*want, strict=True))
    assert (want_result >= 0).sum() > 20 and ((want_closest >= 0) & (want_result < 0)).sum() > 5
    result, closest = I._fuzzy_names(names, index, cutoff=88.0)
    np.testing.assert_array_equal(result, want_result)
    np.testing.assert_array_equal(closest, want_closest)


def test_fuzzy_hits_outgrowing_their_room_are_the_same(monkeypatch):
    """The room for hits starting at one: it grows block by block to the same hits."""
    book, tokens, n, group = _tokens_and_groups(2)
    want = C.fuzzy_hits(tokens, np.ones(n, bool), group, book, cutoff=80.0)
    monkeypatch.setattr(C, "FUZZY_HITS_START", 1)
    _assert_same_hits(C.fuzzy_hits(tokens, np.ones(n, bool), group, book, cutoff=80.0), want)
