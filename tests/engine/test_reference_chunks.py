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
