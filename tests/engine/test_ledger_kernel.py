"""The ledger's key index in one compiled pass (``ledger._index_keys``,
:func:`cashmatch.engine.ledger_kernel.key_index`) against its reference, the table of every key
(``normalize.invoice_keys``) coded and filtered by ``candidates.usable_keys`` and
``candidates.digit_keys_by_invoice``: the same arrays, of the same types; and the amount index's
orders in one pass (``ledger_kernel.amount_orders``) against numpy's steps."""

from __future__ import annotations

import dataclasses
import random

import numpy as np
import pyarrow as pa
import pytest

from cashmatch.engine import ledger, ledger_kernel
from cashmatch.engine.candidates import (
    MAX_INVOICES_PER_KEY,
    NUMBER_DIGITS,
    Book,
    StringKeys,
    digit_keys_by_invoice,
    usable_keys,
)
from cashmatch.engine.normalize import KEY_PART_KIND, invoice_keys, key_pass_args, string_order


def _book(ids: pa.Array) -> Book:
    z = np.zeros(len(ids), np.int32)
    return Book(ids=ids, amount=z.astype(np.int64), currency=z, group=z, customer=z, issue=z,
                due=z, discount_bp=z, discount_days=z, keys=None)


def _ids(rng: random.Random, n: int, long_numbers: bool = False) -> pa.Array:
    """Ids whose keys collide within and across invoices and kinds: few numbers, written with
    and without prefixes, separators, look-alikes and leading zeros, some bare (their alnum
    key a decimal equal to others' digits, tail or prefix keys), some shared by more than
    ``MAX_INVOICES_PER_KEY`` invoices; with ``long_numbers`` some of 15 digits (sorted without
    their rows packed beside them)."""
    forms = ["INV-{y}-{n}", "{n}", "{y}{n}", "SO/{y}/{n}", "0{n}", "A{n}B", "inv {n}-{m}",
             "{n}.{m}", "X-{m}", "Q{n}", "{y}-{n}-0{m}", "INV-2O{y}-{n}", "ab"]
    common = [str(rng.randrange(10**5, 10**6)) for _ in range(30)]
    values = []
    for _ in range(n):
        if rng.random() < 0.25:  # a number of many invoices, behind letters of their own
            prefix = "".join(rng.choice("ACEFHKMNPRTUVWXY") for _ in range(rng.randint(1, 3)))
            values.append(f"{prefix}-{rng.choice(common)}")
            continue
        form = rng.choice(forms)
        values.append(form.format(y=rng.choice(["25", "26", "2026"]),
                                  n=rng.randrange(10 ** rng.randint(1, 7)),
                                  m=rng.randrange(10 ** rng.randint(1, 4))))
    if long_numbers:  # 15 digits (alnum keys of 16 bytes): with their rows, more than a word
        values += [f"L-{rng.choice(common)}{rng.randrange(10**8, 10**9)}" for _ in range(n // 10)]
    ids = pa.array(values, pa.string())
    return ids.take(pa.array(string_order(ids)))


@pytest.fixture(scope="module", autouse=True)
def _loaded() -> None:  # (so that ledger._index_keys takes the pass at any size)
    ledger_kernel.key_index(*key_pass_args(pa.array(["INV-1"])), KEY_PART_KIND, NUMBER_DIGITS,
                            MAX_INVOICES_PER_KEY)


def _assert_same_keys(a: StringKeys, b: StringKeys) -> None:
    for f in ("starts", "inv", "strength", "bloom"):
        x, y = getattr(a, f), getattr(b, f)
        assert x.dtype == y.dtype and np.array_equal(x, y), f
    for f in ("hashes", "by_hash", "bucket_start"):
        assert np.array_equal(getattr(a.keys, f), getattr(b.keys, f)), f
    assert a.keys.values.equals(b.keys.values) and a.keys.shift == b.keys.shift


@pytest.mark.parametrize(("seed", "n", "long_numbers"), [
    (1, 0, False), (2, 1, False), (3, 40, False), (4, 3000, False), (5, 20_000, False),
    (6, 70_000, False), (7, 3000, True), (8, 40, True)])  # (70k: hash partitions)
def test_the_compiled_key_index_is_the_key_tables(seed: int, n: int, long_numbers: bool):
    _assert_the_pass_is_the_key_tables(_ids(random.Random(seed), n, long_numbers))


@pytest.mark.parametrize(("seed", "n"), [(1, 1), (2, 50), (3, 5000)])
def test_ids_that_all_have_alnum_and_digits_keys(seed: int, n: int):
    """Every id with an alnum and a digits key (the pass then reads them where it wrote them,
    as it does a real ledger's)."""
    rng = random.Random(seed)
    common = [str(rng.randrange(10**5, 10**6)) for _ in range(20)]
    forms = ["INV-{n}", "{y}-{n}", "SO/{y}/{n}", "A{n}B", "{n}"]
    ids = pa.array([rng.choice(forms).format(
        y=rng.choice(["25", "2026"]),
        n=rng.choice(common) if rng.random() < 0.3 else str(rng.randrange(1000, 10**7)))
        for _ in range(n)])
    _assert_the_pass_is_the_key_tables(ids.take(pa.array(string_order(ids))))


def _assert_the_pass_is_the_key_tables(ids: pa.Array) -> None:
    n = len(ids)
    fast, ref = _book(ids), _book(ids)
    assert ledger._index_keys(fast)
    ref.keys = invoice_keys(ids)
    usable_keys(ref)
    digit_keys_by_invoice(ref)
    for f in ("number", "number_inv", "number_kind"):
        x, y = getattr(fast.usable, f), getattr(ref.usable, f)
        assert x.dtype == y.dtype and np.array_equal(x, y), f
    _assert_same_keys(fast.usable.alnum, ref.usable.alnum)
    _assert_same_keys(fast.usable.long_digits, ref.usable.long_digits)
    (fi, fk), (ri, rk) = fast.invoice_digit_keys, ref.invoice_digit_keys
    assert fi.dtype == ri.dtype and np.array_equal(fi, ri) and fk.equals(rk)
    if n >= 3000:  # (the cases the pass must get right do occur)
        usable = ref.usable
        assert len(usable.number) and len(usable.alnum.keys.values)
        all_keys = ref.keys.num_rows
        assert len(usable.number) + len(usable.alnum.inv) < all_keys  # some keys not usable
        assert (np.diff(usable.alnum.starts) > 1).any()  # an alnum key of several invoices


@pytest.mark.parametrize("odd", ["INV-" + "7" * 19, "ABCDEFGHIJKLMNOPQ-1", "ÜBER-12345"])
def test_ids_the_pass_does_not_code_are_left_to_the_key_table(odd: str):
    ids = pa.array(["INV-2026-0001", odd, "SO/26/000123"])
    assert not ledger._index_keys(_book(ids))
    prepared = ledger.prepare_ledger(invoices=pa.table({
        "invoice_id": ids, "customer_id": ["C1", "C2", "C1"], "amount": [100, 200, 300],
        "currency": ["EUR"] * 3}))
    assert prepared.book.usable is not None and prepared.book.keys is None


@pytest.mark.parametrize(("n", "top", "row_bits"), [
    (0, 1, 4), (1, 0, 4), (5000, 2**35, 25), (5000, 7, 3),  # packed: value and row in a word
    (5000, 2**40, 25), (5000, 2**62, 2)])  # the values' order beside, the rows gathered by it
def test_by_value_is_a_stable_sort_of_the_values(n: int, top: int, row_bits: int):
    rng = np.random.default_rng(n + row_bits)
    value = rng.integers(0, top + 1, n, dtype=np.int64)
    value[: n // 3] = value[n // 3: 2 * (n // 3)]  # ties, in both orders of their rows
    value[-1:] = top  # the largest value, all its bits
    row = np.sort(rng.integers(0, 2**row_bits, n, dtype=np.int64))  # ascending, as written
    want = np.argsort(value, kind="stable")
    got_value, got_row = ledger_kernel._by_value(value.copy(), row.copy(), row_bits)
    np.testing.assert_array_equal(got_value, value[want])
    np.testing.assert_array_equal(got_row, row[want])


def _amount_book(rng: np.random.Generator, n: int, n_groups: int, n_cur: int, top: int) -> Book:
    """A book for the amount index: unknown groups, amounts zero, negative or tied (few
    values), discount terms (some of more than 100%: a negative amount's discounted one above
    0), amounts up to ``top``."""
    amount = rng.choice(rng.integers(-50, top, 40), n)
    amount[rng.random(n) < 0.05] = 0
    bp = np.where(rng.random(n) < 0.3, rng.integers(0, 300, n), 0)
    bp[rng.random(n) < 0.01] = 30_000
    z = np.zeros(n, np.int32)
    return Book(ids=None, amount=amount.astype(np.int64),
                currency=rng.integers(0, n_cur, n).astype(np.int32),
                group=rng.integers(-1, n_groups, n).astype(np.int32), customer=z, issue=z,
                due=z, discount_bp=bp.astype(np.int32), discount_days=z, keys=None)


@pytest.mark.parametrize(("n", "n_groups", "n_cur", "top"), [
    (0, 1, 1, 10), (1, 1, 1, 10), (7, 3, 2, 5), (2_000, 300, 3, 10**6),
    (3_000, 1, 1, 40),  # one block: a run far longer than SHORT_RUN, all ties
    (5_000, 40, 7, 2**41),  # amounts near the keys' limit
    (20_000, 5_000, 4, 10**9), (40_000, 100, 1, 10**7),
    (3_000, 20, 3, 2**43)])  # amounts past it: amount_index takes numpy's steps
def test_the_compiled_amount_index_is_numpys(n: int, n_groups: int, n_cur: int, top: int):
    """``amount_orders`` gives every array of the amount index that numpy's steps give
    (``amount_index_steps``), of the same types, and the block sizes numpy's ``block_sizes``
    counts; so does ``amount_index``, which calls it."""
    from cashmatch.engine.candidates import (
        AmountIndex,
        amount_index,
        amount_index_steps,
        block_sizes,
        discounted,
    )

    rng = np.random.default_rng(n + n_groups)
    book = _amount_book(rng, n, n_groups, n_cur, top)
    want = amount_index_steps(book)
    want_size = block_sizes(dataclasses.replace(book))  # (numpy's: no amount index yet)
    fields = [f for f in AmountIndex.__dataclass_fields__ if f not in ("n_currencies", "span")]
    if top < 2**42:
        *got, size = ledger_kernel.amount_orders(book.amount, discounted(book), book.group,
                                                 book.currency, want.n_currencies)
        assert size.dtype == want_size.dtype
        np.testing.assert_array_equal(size, want_size)
        assert len(got) == len(fields)
        for name, array in zip(fields, got, strict=True):
            assert array.dtype == getattr(want, name).dtype, name
            np.testing.assert_array_equal(array, getattr(want, name), err_msg=name)
    index = amount_index(book)
    np.testing.assert_array_equal(block_sizes(book), want_size)
    assert (index.n_currencies, index.span) == (want.n_currencies, want.span)
    for name in fields:
        assert getattr(index, name).dtype == getattr(want, name).dtype, name
        np.testing.assert_array_equal(getattr(index, name), getattr(want, name), err_msg=name)
