"""The fast, vectorised stages against the slow reference implementations."""

from itertools import combinations

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from cashmatch.engine import reference as ref
from cashmatch.engine.candidates import (
    Book,
    Pairs,
    amount_relation,
    fuzzy_pair_refs,
    reference_hits,
)
from cashmatch.engine.normalize import invoice_keys, name_key, reference_tokens
from cashmatch.engine.subset import search

invoice_id = st.one_of(
    st.builds(lambda y, n: f"INV-{y}-{n:06d}", st.integers(2024, 2026), st.integers(0, 99999)),
    st.builds(str, st.integers(10**7, 10**8 - 1)),
    st.builds(lambda y, n: f"SO/{y}/{n}", st.integers(20, 26), st.integers(1, 9999)),
    st.text("AB0123456789-/ ", min_size=1, max_size=12),
)
noise = st.sampled_from(["", "PAYMENT", "inv", "thanks", "re:", "O", "2O26", "REF 12"])


@st.composite
def references(draw, ids):
    parts = []
    for _ in range(draw(st.integers(0, 3))):
        if ids and draw(st.booleans()):
            text = draw(st.sampled_from(ids))
            mess = draw(st.sampled_from(["asis", "lower", "spaces", "ocr", "cut"]))
            if mess == "lower":
                text = text.lower()
            elif mess == "spaces":
                text = " ".join(text[i:i + 3] for i in range(0, len(text), 3))
            elif mess == "ocr":
                text = text.replace("0", "O")
            elif mess == "cut":
                text = text[:-2]
            parts.append(text)
        else:
            parts.append(draw(noise))
    return " ".join(parts)


def plain_book(ids: list[str]) -> Book:
    """A book of these invoice ids, one customer group, amounts and dates zero."""
    zeros = np.zeros(len(ids), np.int64)
    return Book(ids=pa.array(ids), amount=zeros, currency=zeros, group=zeros, customer=zeros,
                issue=zeros, due=zeros, discount_bp=zeros, discount_days=zeros,
                keys=invoice_keys(pa.array(ids)))


@settings(max_examples=80, deadline=None)
@given(st.data())
def test_exact_hits_match_the_reference(data):
    ids = data.draw(st.lists(invoice_id, min_size=1, max_size=12, unique=True))
    texts = data.draw(st.lists(references(ids), min_size=1, max_size=8))
    fast, _ = reference_hits(pa.array(texts), plain_book(ids))
    got = {(int(p), int(i)): round(float(s), 6)
           for p, i, s in zip(fast.pay, fast.inv, fast.ref, strict=True)}
    want = {k: round(v, 6) for k, v in ref.exact_hits(texts, ids).items()}
    assert got == want


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_fuzzy_pair_refs_match_the_reference(data):
    ids = data.draw(st.lists(invoice_id, min_size=1, max_size=10, unique=True))
    texts = data.draw(st.lists(references(ids), min_size=1, max_size=6))
    rows = data.draw(st.lists(st.tuples(st.integers(0, len(texts) - 1),
                                        st.integers(0, len(ids) - 1),
                                        st.sampled_from([0.0, 0.75, 0.95])), max_size=20))
    pay = np.array([r[0] for r in rows], np.int64)
    inv = np.array([r[1] for r in rows], np.int64)
    strength = np.array([r[2] for r in rows], np.float64)
    fast = fuzzy_pair_refs(reference_tokens(pa.array(texts)),
                           Pairs(pay, inv, strength, np.zeros(len(rows), bool)),
                           plain_book(ids), cutoff=84.0)
    slow = ref.fuzzy_pair_refs(texts, ids, rows, cutoff=84.0)
    np.testing.assert_allclose(fast.ref, slow)


def test_fuzzy_pair_refs_raise_the_mangled_numbers_pairs():
    ids = ["INV-2026-004600", "90012345", "SO/26/7781", "INV-2025-000001"]
    texts = ["INV-2026-004609", "pay 90012354 thanks", "7718", "", "inv 2025 00001 / 4600"]
    rows = [(0, 0, 0.0), (0, 1, 0.0), (1, 1, 0.0), (1, 2, 0.95), (2, 2, 0.0), (3, 0, 0.0),
            (4, 3, 0.0), (4, 0, 0.0)]
    pairs = Pairs(*(np.array(c) for c in zip(*rows, strict=True)), np.zeros(len(rows), bool))
    fast = fuzzy_pair_refs(reference_tokens(pa.array(texts)), pairs, plain_book(ids),
                           cutoff=84.0)
    np.testing.assert_allclose(fast.ref, ref.fuzzy_pair_refs(texts, ids, rows, cutoff=84.0))
    assert fast.ref[0] > 0.7 and fast.ref[2] > 0.7 and fast.ref[1] == 0  # 4609 ~ 4600 only


@given(st.lists(st.text(max_size=30), max_size=20))
def test_name_keys_match_the_reference(names):
    assert name_key(pa.array(names, pa.string())).to_pylist() == [ref.name_key(n) for n in names]


NAME_PARTS = ["B.V.", "a.", "S.A.R.L", "Inc", "inc.", "& Co", "the", "O'Brien", "  ", "\t", "-"]


@given(st.lists(st.one_of(st.text(st.characters(max_codepoint=127), max_size=30),
                          st.lists(st.sampled_from(NAME_PARTS), max_size=6).map(" ".join),
                          st.none()), max_size=20))
def test_name_keys_of_a_few_ascii_names_in_python_are_arrows(names):
    """Small batches of ASCII names take the Python steps; they give Arrow's keys."""
    arr = pa.array(names, pa.string())
    assert name_key(arr).to_pylist() == name_key(arr, few=0).to_pylist()


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(
    st.integers(1, 20000), st.integers(1, 20000), st.sampled_from([0, 0, 200]),
    st.integers(0, 20), st.sampled_from(["USD", "EUR"]), st.integers(-5, 25)),
    min_size=1, max_size=30))
def test_amount_relations_match_the_reference(rows):
    n = len(rows)
    pay_amount = np.array([r[0] for r in rows], np.int64)
    open_ = np.array([r[1] for r in rows], np.int64)
    bp = np.array([r[2] for r in rows], np.int64)
    days = np.array([r[3] for r in rows], np.int64)
    cur = np.array([0 if r[4] == "USD" else 1 for r in rows])
    pay_date = np.array([r[5] for r in rows], np.int64)
    book = Book(ids=pa.array([str(i) for i in range(n)]), amount=open_, currency=cur,
                group=np.zeros(n, np.int64), customer=np.zeros(n, np.int64),
                issue=np.zeros(n, np.int64), due=np.zeros(n, np.int64), discount_bp=bp,
                discount_days=days, keys=invoice_keys(pa.array(["x"])))
    idx = np.arange(n)
    pairs = Pairs(idx, idx, np.zeros(n), np.zeros(n, bool))
    fee = np.full(n, 150, np.int64)
    rel, _ = amount_relation(pairs=pairs, pay_amount=pay_amount,
                             pay_currency=np.zeros(n, np.int64), pay_date=pay_date, book=book,
                             fee_ceiling=fee, grace_days=3, allow_discounts=True)
    want = [ref.amount_relation(pay_amount=r[0], pay_currency="USD", pay_date=r[5],
                                open_amount=r[1], currency=r[4], issue=0, discount_bp=r[2],
                                discount_days=r[3], fee_ceiling=150, grace_days=3)
            for r in rows]
    assert rel.tolist() == want


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(1, 60), min_size=1, max_size=9), st.integers(1, 200),
       st.sampled_from([0, 3]))
def test_subset_search_agrees_with_brute_force(amounts, target, tolerance):
    arr = np.array(amounts, np.int64) * 100
    fast = search(arr, target * 100, tolerance=tolerance * 100, max_size=len(amounts))
    slow, exact = ref.subsets(arr.tolist(), target * 100, tolerance=tolerance * 100,
                              max_size=len(amounts))
    slow_set = {tuple(sorted(s)) for s in slow}
    # every subset found is a real solution, and uniqueness is told right
    assert all(s in slow_set for s in fast.solutions)
    assert bool(fast.solutions) == bool(slow_set)
    assert (len(fast.solutions) >= 2) == (len(slow_set) >= 2)
    if fast.solutions:
        assert fast.exact == exact


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 400), min_size=25, max_size=32), st.integers(2, 900),
       st.sampled_from([0, 3]), st.integers(2, 4))
def test_a_unique_small_fit_is_the_only_one_up_to_the_size_claimed(amounts, target, tolerance,
                                                                  limit):
    """Large blocks too (no meet-in-the-middle when more than 24 items can take part; sets of
    four by pair sums up to 60): a unique fit of at most ``complete_upto`` items is the only fit
    of four items or fewer."""
    arr = np.array(amounts, np.int64) * 100
    fast = search(arr, target * 100, tolerance=tolerance * 100, max_size=8, limit=limit)
    assert not fast.solutions or fast.complete_upto == (8 if fast.exhaustive else 4)
    slow, _ = ref.subsets(arr.tolist(), target * 100, tolerance=tolerance * 100, max_size=4)
    if fast.unique is not None and len(fast.unique) <= min(fast.complete_upto, 4):
        assert {tuple(sorted(s)) for s in slow} == {fast.unique}
    if not slow:
        assert all(len(s) > 4 for s in fast.solutions)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 400), min_size=25, max_size=32), st.integers(2, 900),
       st.sampled_from([0, 3]), st.integers(2, 4), st.sampled_from([1, 2]))
def test_the_fewest_fit_named_has_no_rival_of_its_size_or_smaller(amounts, target, tolerance,
                                                                   limit, min_size):
    """``SubsetSearch.fewest`` against brute force over sets of up to its size (four at most in
    these blocks): the set it names fits, and no other set of its size or fewer does."""
    arr = np.array(amounts, np.int64) * 100
    fast = search(arr, target * 100, tolerance=tolerance * 100, max_size=8, limit=limit,
                  min_size=min_size)
    fewest = fast.fewest(limit)
    if fewest is None:
        return
    lo, hi = target * 100, (target + tolerance) * 100
    sums = {c: int(arr[list(c)].sum()) for k in range(min_size, len(fewest) + 1)
            for c in combinations(range(len(arr)), k)}
    exact = [c for c, v in sums.items() if v == lo]
    assert (exact or [c for c, v in sums.items() if lo < v <= hi]) == [fewest]
    assert fast.exact == bool(exact)


@settings(max_examples=300, deadline=None)  # (the first example compiles the pass)
@given(st.lists(st.one_of(st.text(max_size=30),
                          st.text(st.characters(max_codepoint=127), max_size=30),
                          st.lists(st.sampled_from(NAME_PARTS + ["A.B.C.", "x_A.", "1A.b.", "ı"]),
                                   max_size=6).map("".join),
                          st.lists(st.sampled_from(NAME_PARTS), max_size=6).map(" ".join),
                          st.none()), max_size=20))
def test_name_keys_of_the_compiled_pass_match_the_reference(names):
    """The compiled pass of name_key (the ASCII names; Arrow's steps for the others) gives the
    reference's keys."""
    from unittest import mock

    with mock.patch("cashmatch.engine.normalize.compiled", lambda *a: True):
        got = name_key(pa.array(names, pa.string())).to_pylist()
    assert got == [ref.name_key(n or "") for n in names]
