"""The packed-key sorts equal the lexsorts they replace, ties and duplicates included."""

import numpy as np

from cashmatch.engine.allocate import lexsort_ints, pay_conf_inv_order
from cashmatch.engine.candidates import Book, Pairs


def test_pay_conf_inv_order_equals_lexsort():
    rng = np.random.default_rng(1)
    for n in (0, 1, 7, 500, 5000, 40_000):  # (the packed key from PACKED_SORT_MIN rows)
        pay = rng.integers(0, 40, n)
        inv = rng.integers(0, 60, n)  # duplicates of (pay, inv) too
        conf = np.round(rng.random(n), 2) + (rng.random(n) < 0.3)
        np.testing.assert_array_equal(
            pay_conf_inv_order(pay, inv, conf), np.lexsort((inv, -conf, pay))
        )


def test_pay_conf_inv_order_of_pairs_sorted_by_pay_and_invoice_equals_lexsort():
    """Pairs as Pairs.concat leaves them (sorted by (pay, inv), each once), ranked within each
    payment's run (allocate_kernel.order_in_runs): short runs and long ones, ties of
    confidence; and the lexsort's order still when a pair repeats or a confidence is NaN."""
    rng = np.random.default_rng(4)
    for n in (0, 1, 2, 300, 20_000):
        pay = np.sort(rng.integers(0, max(n // 40, 1), n))  # runs of ~40, some past 32
        pay[: n // 2] = np.sort(rng.integers(0, max(n // 3, 1), n // 2))  # and short ones
        pay = np.sort(pay)
        key = np.unique(pay * 10_000 + rng.integers(0, 10_000, n))
        pay, inv = key // 10_000, key % 10_000
        conf = np.round(rng.random(len(pay)), 1)  # many ties
        for p, i, c in ((pay, inv, conf), (pay, inv[::-1].copy(), conf)):
            np.testing.assert_array_equal(pay_conf_inv_order(p, i, c), np.lexsort((i, -c, p)))
    pay, inv = np.array([0, 0, 1, 1, 1]), np.array([1, 1, 0, 2, 3])  # a pair twice
    conf = np.array([0.2, 0.9, 0.5, 0.5, np.nan])
    np.testing.assert_array_equal(pay_conf_inv_order(pay, inv, conf),
                                  np.lexsort((inv, -conf, pay)))


def test_lexsort_ints_equals_lexsort():
    rng = np.random.default_rng(3)
    for n in (0, 1, 9, 4000, 40_000):
        keys = (rng.integers(-5, 30, n), rng.integers(19000, 19040, n), rng.integers(0, 50, n))
        np.testing.assert_array_equal(lexsort_ints(keys), np.lexsort(keys))
        wide = (rng.integers(0, 2**40, n), rng.integers(0, 2**40, n))  # (too wide to pack)
        np.testing.assert_array_equal(lexsort_ints(wide), np.lexsort(wide))


def test_pairs_concat_keeps_the_strongest_row_per_pair():
    rng = np.random.default_rng(2)
    for n, high in ((0, 50), (1, 50), (2, 1), (3000, 50), (3000, 2**61)):  # 2**61: no one key
        pay, inv = rng.integers(0, 50, n) * (high // 50 or 1), rng.integers(0, 80, n)
        ref, fz = np.round(rng.random(n), 1), rng.random(n) < 0.5
        parts = [Pairs(pay[: n // 3], inv[: n // 3], ref[: n // 3], fz[: n // 3]),
                 Pairs(pay[n // 3 :], inv[n // 3 :], ref[n // 3 :], fz[n // 3 :])]
        got = Pairs.concat(parts)
        order = np.lexsort((-ref, inv, pay))
        first = np.ones(n, bool)
        first[1:] = (pay[order][1:] != pay[order][:-1]) | (inv[order][1:] != inv[order][:-1])
        keep = order[first]
        for got_col, want in ((got.pay, pay), (got.inv, inv), (got.ref, ref), (got.fuzzy, fz)):
            np.testing.assert_array_equal(got_col, want[keep])


def _book_of(rng: np.random.Generator, n: int, n_groups: int, n_cur: int) -> Book:
    """A book of ``n`` invoices for the amount index: unknown groups (-1), amounts that are zero,
    negative or repeated (ties), a few discount terms."""
    amount = rng.integers(-50, 3_000, n) * rng.choice([1, 1000, 37], n)
    amount[rng.random(n) < 0.02] = 0
    bp = np.where(rng.random(n) < 0.3, rng.integers(0, 300, n), 0).astype(np.int32)
    ints = np.zeros(n, np.int32)
    return Book(ids=None, amount=amount.astype(np.int64),
                currency=rng.integers(0, n_cur, n).astype(np.int32),
                group=rng.integers(-1, n_groups, n).astype(np.int32), customer=ints,
                issue=ints, due=ints, discount_bp=bp, discount_days=ints, keys=None)


def test_amount_index_orders_equal_the_stable_sorts_of_their_keys():
    """The amount index's orders equal ``np.argsort(key, kind="stable")`` of the keys it
    documents, on the compiled sorts' sizes (from HASH_COMPILED_MIN rows) and numpy's."""
    from cashmatch.engine.candidates import amount_index, discounted
    from cashmatch.engine.normalize import HASH_COMPILED_MIN

    rng = np.random.default_rng(7)
    for n, n_groups, n_cur in ((0, 1, 1), (1, 1, 1), (9, 2, 2), (3_000, 40, 3),
                               (HASH_COMPILED_MIN + 999, 5_000, 4), (HASH_COMPILED_MIN, 1, 1)):
        book = _book_of(rng, n, n_groups, n_cur)
        index = amount_index(book)
        ncur = index.n_currencies
        block = book.group.astype(np.int64) * ncur + book.currency
        known = book.group >= 0

        def stable(rows, key):
            return rows[np.argsort(key[rows], kind="stable")].astype(np.int32)

        key = block * 2**42 + book.amount
        by_amount = stable(np.flatnonzero(known & (book.amount > 0)), key)
        np.testing.assert_array_equal(index.by_amount, by_amount)
        np.testing.assert_array_equal(index.amount_key, key[by_amount])
        disc = discounted(book)
        key = block * 2**42 + disc
        by_discounted = stable(np.flatnonzero(known & (disc > 0)), key)
        np.testing.assert_array_equal(index.by_discounted, by_discounted)
        np.testing.assert_array_equal(index.discounted_key, key[by_discounted])
        key = book.currency.astype(np.int64) * 2**42 + np.maximum(book.amount, 0)
        by_currency = stable(np.arange(n), key)
        np.testing.assert_array_equal(index.by_currency, by_currency)
        np.testing.assert_array_equal(index.currency_key, key[by_currency])
        members = stable(np.flatnonzero(known & (book.amount > 0)), block)
        np.testing.assert_array_equal(index.members, members)
        for got in (index.by_amount, index.by_discounted, index.by_currency):
            assert got.dtype == np.int32
