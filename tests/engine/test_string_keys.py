"""Strings looked up by their sorted 64-bit hashes (:class:`StringLookup`; the exact join of
tokens against the ledger's keys, :class:`StringKeys`) find exactly what Arrow's hash lookup of
the strings finds."""

import dataclasses
import random

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cashmatch.engine import candidates_kernel
from cashmatch.engine import normalize as N
from cashmatch.engine.candidates import KIND_REF, NUMBER_DIGITS, StringKeys

ALPHABET = "0123456789ABCé€-"


def _texts(rng: random.Random, n: int) -> list[str]:
    return ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 6))) for _ in range(n)]


def _expected(keys: StringKeys, text: pa.Array) -> list[tuple[int, int]]:
    """(text row, key) pairs by Arrow's hash lookup of the strings (what the join replaced)."""
    at = pc.index_in(text, value_set=keys.keys.values).to_pylist()
    return [(i, k) for i, k in enumerate(at) if k is not None]


def test_lookup_equals_the_string_lookup():
    rng = random.Random(11)
    key_values = _texts(rng, 2000)
    keys = StringKeys.build(pa.array(key_values), np.arange(2000), np.ones(2000))
    text = pa.array(_texts(rng, 3000) + [None, "", "ABC"] + key_values[:50])
    for t in (text, text.slice(9, 2500)):  # a sliced array has an offset into its buffers
        row, key = keys.keys.matches(t)
        want = pc.fill_null(pc.index_in(t, value_set=keys.keys.values), -1)
        np.testing.assert_array_equal(keys.keys.index_in(t), np.asarray(want))
        assert list(zip(row.tolist(), key.tolist(), strict=True)) == _expected(keys, t)
    assert len(keys.keys.matches(pa.array([], pa.string()))[0]) == 0


def test_a_collision_of_hashes_is_never_a_hit():
    values = ["INV1", "INV2", "X", "INV10", "é"]
    keys = StringKeys.build(pa.array(values), np.arange(5), np.ones(5))
    # every key given the hash of "INV2" (all in its bucket): only the strings tell them apart
    lookup = keys.keys
    inv2 = N.string_hash64(pa.array(["INV2"]))[0]
    bucket_start = np.zeros_like(lookup.bucket_start)
    bucket_start[int(inv2 >> lookup.shift) + 1 :] = len(values)
    collided = dataclasses.replace(lookup, hashes=np.full(len(values), inv2),
                                   bucket_start=bucket_start)
    row, key = collided.matches(pa.array(["INV3", "INV2", "é", "", "INV2"]))
    assert [(i, values[k]) for i, k in zip(row, key, strict=True)] == [(1, "INV2"), (4, "INV2")]


def _hits(keys: StringKeys, pay: np.ndarray, text: pa.Array) -> list[tuple]:
    """(pay, invoice, strength) of the tokens ``text`` (alnum forms; no digits forms) of texts
    ``pay`` by the exact join (:func:`candidates_kernel.exact_hits`)."""
    got = candidates_kernel.exact_hits(
        pay, int(pay.max(initial=0)) + 1, *N.string_parts(text),
        *N.string_parts(pa.array([""] * len(text))), NUMBER_DIGITS, 10**9,
        np.zeros(0, np.int64), np.zeros(0, np.int32), np.zeros(0, np.int8), KIND_REF,
        keys.arrays(), StringKeys.build(pa.array([], pa.string()), np.zeros(0, np.int64),
                                        np.zeros(0)).arrays(), N.HASH_BASE, N.HASH_MIX)
    return list(zip(*(a.tolist() for a in got), strict=True))


def test_hits_expand_each_key_to_its_invoices():
    keys = StringKeys.build(pa.array(["A1", "B2", "A1", "C3"]), np.array([10, 11, 12, 13]),
                            np.array([1.0, 0.9, 0.8, 0.7]))
    assert _hits(keys, np.array([5, 6, 7]), pa.array(["A1", "Z9", "C3"])) == [
        (5, 10, 1.0), (5, 12, 0.8), (7, 13, 0.7)]


def test_strings_equal_compares_bytes():
    a = pa.array(["abc", "ab", "", "é", "xyz"])
    b = pa.array(["abd", "ab", "", "e", "xyz", "abc"])
    same = N.strings_equal(a, np.array([0, 1, 2, 3, 4, 0]), b, np.array([0, 1, 2, 3, 4, 5]))
    assert same.tolist() == [False, True, True, False, True, True]
    hashed = N.string_hash64(pa.array(["abc", "abc", "acb", "", "é"]))
    assert hashed[0] == hashed[1] and len(set(hashed[1:].tolist())) == 4


def test_compiled_bucket_order_is_the_stable_sort_by_bucket(monkeypatch):
    values = pa.array(sorted(set(_texts(random.Random(4), 5000))))
    monkeypatch.setattr(N, "HASH_COMPILED_MIN", 1)  # the compiled counting sort at any size
    lookup = N.StringLookup.build(values)
    hashed = N.string_hash64(values)
    bucket = (hashed >> lookup.shift).astype(np.int64)
    by_hash = np.argsort(bucket, kind="stable")
    np.testing.assert_array_equal(lookup.by_hash, by_hash)
    np.testing.assert_array_equal(lookup.hashes, hashed[by_hash])
    np.testing.assert_array_equal(np.diff(lookup.bucket_start),
                                  np.bincount(bucket, minlength=len(lookup.bucket_start) - 1))


def test_stable_order_compiled_or_not_is_numpys_stable_argsort(monkeypatch):
    key = np.random.default_rng(3).integers(0, 50, 4000)
    for least in (10**9, 1):  # numpy's sort, then the compiled counting sort
        monkeypatch.setattr(N, "HASH_COMPILED_MIN", least)
        order, start = N.stable_order(key, 60)
        np.testing.assert_array_equal(order, np.argsort(key, kind="stable"))
        np.testing.assert_array_equal(np.diff(start), np.bincount(key, minlength=60))


def _expected_hits(keys: StringKeys, pay: np.ndarray, text: pa.Array) -> list[tuple]:
    """(pay, invoice, strength) of each text's key by Arrow's lookup, one row per (pay,
    invoice) (its strongest), sorted."""
    best: dict[tuple[int, int], float] = {}
    for i, k in _expected(keys, text):
        for r in range(keys.starts[k], keys.starts[k + 1]):
            at = (int(pay[i]), int(keys.inv[r]))
            best[at] = max(best.get(at, 0.0), float(keys.strength[r]))
    return [(*at, s) for at, s in sorted(best.items())]


def test_hits_are_every_invoice_of_the_key_arrow_finds():
    """The exact join's string lookup: keys shared by several invoices, a sliced array, and
    texts (tokens) of one payment or several."""
    rng = random.Random(5)
    key_values = ["A1", *_texts(rng, 600), "A1"]  # (a key of two invoices)
    n = len(key_values)
    keys = StringKeys.build(pa.array(key_values), np.arange(n) % 97,
                            np.array(rng.choices([1.0, 0.8], k=n)))
    text = pa.array(_texts(rng, 900) + ["", "ABC"] + key_values[:40])
    for pay in (np.arange(len(text), dtype=np.int64) * 3, np.arange(len(text)) // 4):
        for t, p in ((text, pay), (text.slice(9, 700), pay[9:709])):
            assert _hits(keys, p, t) == _expected_hits(keys, p, t)
