"""The exact reference hits of a day come out the same whether its texts are tokenised and
joined in one piece or in chunks (the bound on memory at scale), on one thread or on several."""

import numpy as np
import pytest

from cashmatch.engine import candidates as C
from cashmatch.engine.ledger import prepare_ledger
from cashmatch.engine.pipeline import DayMatch
from cashmatch.engine.policy import Policy
from cashmatch.fixtures.generator import generate_day


@pytest.mark.parametrize("thread_texts", [10**9, 500])
def test_reference_hits_in_chunks_equal_one_piece(monkeypatch, thread_texts):
    day = generate_day(payments=2000, seed=4)
    dm = DayMatch(ledger=prepare_ledger(invoices=day.invoices, customers=day.customers),
                  payments=day.payments, remittances=day.remittances, policy=Policy())
    texts = dm.reference_text()
    whole, whole_tokens = C.reference_hits(texts, dm.ledger.book)
    monkeypatch.setattr(C, "REFERENCE_CHUNK", 333)  # chunk edges fall between payments
    monkeypatch.setattr(C, "REFERENCE_THREAD_TEXTS", thread_texts)  # shares on threads
    parts, part_tokens = C.reference_hits(texts, dm.ledger.book)
    assert len(whole) > 1000
    for name in ("pay", "inv", "ref", "fuzzy"):
        np.testing.assert_array_equal(getattr(parts, name), getattr(whole, name))
    assert _rows(part_tokens) == _rows(whole_tokens)


def _rows(tokens):
    return sorted(zip(tokens.column("pay").to_pylist(), tokens.column("digits").to_pylist(),
                      strict=True))


def test_the_kept_tokens_are_all_that_later_stages_read():
    from cashmatch.engine import review

    assert C.FUZZY_MIN_LEN >= C.KEPT_TOKEN_DIGITS
    assert review.MIN_PART >= C.KEPT_TOKEN_DIGITS


def test_a_texts_repeated_numbers_change_no_later_stage():
    """The kept tokens are each text's distinct digits forms (its repeats dropped,
    candidates_kernel.first_forms); the stages that read them answer the same with every token
    twice (the fuzzy hits, the fuzzy references of pairs), so dropping repeats changes
    nothing."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from cashmatch.engine.normalize import reference_tokens

    day = generate_day(payments=2000, seed=5)
    dm = DayMatch(ledger=prepare_ledger(invoices=day.invoices, customers=day.customers),
                  payments=day.payments, remittances=day.remittances, policy=Policy())
    dm.prepare()
    dm.identify_payers()
    book, texts = dm.book, dm.reference_text()
    _, tokens = C.reference_hits(texts, book)
    every = reference_tokens(texts)
    long = pc.greater_equal(pc.binary_length(every.column("digits")), C.KEPT_TOKEN_DIGITS)
    every = every.filter(long)
    assert every.num_rows > tokens.num_rows * 1.2  # (repeats there were)
    assert _rows(tokens) == sorted(set(_rows(every)))
    twice = pa.table({"pay": pa.concat_arrays([tokens.column("pay").combine_chunks()] * 2),
                      "digits": pa.concat_arrays([tokens.column("digits").combine_chunks()] * 2)})
    group = np.asarray(dm.pay_group, np.int64)
    want = np.ones(dm.n, bool)
    cutoff = dm.policy.fuzzy_reference_cutoff
    once_hits = C.fuzzy_hits(tokens, want, group, book, cutoff=cutoff)
    twice_hits = C.fuzzy_hits(twice, want, group, book, cutoff=cutoff)
    assert len(once_hits) > 50
    pairs = C.unknown_payer_amount_hits(pay_amount=dm.pay_amount, pay_currency=dm.pay_currency,
                                        pay_group=np.full(dm.n, -1), book=book)
    once_refs = C.fuzzy_pair_refs(tokens, pairs, book, cutoff=cutoff)
    twice_refs = C.fuzzy_pair_refs(twice, pairs, book, cutoff=cutoff)
    assert once_refs.fuzzy.any()
    for a, b in ((once_hits, twice_hits), (once_refs, twice_refs)):
        for name in ("pay", "inv", "ref", "fuzzy"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
