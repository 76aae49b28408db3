"""result._sum_by (the compiled sums by currency code, result._sums_by_currency) against its
reference, result._sum_by_encoding: the same sums in the same key order on random keys and
amounts, chunked or not, with the keys the pass does not take (nulls, lower case, other
lengths and bytes, more than MAX_CODES distinct) and sums that wrap an int64."""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa

from cashmatch.engine.normalize import string_parts
from cashmatch.engine.result import (
    MAX_CODES,
    _code_letters,
    _sum_by,
    _sum_by_encoding,
    _sums_by_currency,
    summarize,
)

BIG = 1 << 62  # two of these wrap an int64 sum
CODES = ["EUR", "USD", "JPY", "GBP", "AAA", "ZZZ", "CHF"]
ODD = ["eur", "EU", "EURO", "", "É€", "E1R", "[AA", "@ZZ", None]


def _chunked(values: list, type_: pa.DataType, rng: random.Random) -> pa.ChunkedArray:
    cut = rng.randint(0, len(values))
    parts = [values[:cut], values[cut:]] if rng.random() < 0.5 else [values]
    return pa.chunked_array([pa.array(p, type_) for p in parts], type_)


def _case(rng: random.Random) -> tuple[pa.ChunkedArray, pa.ChunkedArray]:
    n = rng.choice([1, 2, 5, 40, 300])
    pool = list(CODES)
    roll = rng.random()
    if roll < 0.2:
        pool.append(rng.choice(ODD))  # (the reference's keys)
    elif roll < 0.3:  # more distinct codes than the pass looks among (or just as many)
        letters = [chr(65 + i) for i in range(26)]
        size = rng.choice([MAX_CODES, MAX_CODES + 1, 2 * MAX_CODES])
        pool = sorted({a + b + c for a in letters for b in letters[:5] for c in letters[:3]})[:size]
        n = max(n, 3 * size)
    keys = [rng.choice(pool) for _ in range(n)]
    values = [rng.choice([0, 1, -7, 12345, BIG, -BIG]) for _ in range(n)]
    return _chunked(keys, pa.string(), rng), _chunked(values, pa.int64(), rng)


def test_the_compiled_sums_agree_with_the_encoding() -> None:
    rng = random.Random(5)
    taken = 0
    for _ in range(3000):
        keys, values = _case(rng)
        want = _sum_by_encoding(keys, values)
        got = _sum_by(keys, values)
        assert list(got.items()) == list(want.items()), (keys, values)
        offsets, raw = string_parts(keys)
        taken += _sums_by_currency(offsets, raw, np.asarray(values, np.int64))[2]
    assert 1000 < taken < 3000  # (both paths were taken)


def test_codes_and_letters() -> None:
    keys = pa.array(["AAA", "ZZZ", "EUR", "AAA"])
    offsets, raw = string_parts(keys)
    codes, sums, ok = _sums_by_currency(offsets, raw, np.array([1, 2, 3, 4], np.int64))
    assert ok and codes.tolist() == [0, 26**3 - 1, 4 * 676 + 20 * 26 + 17]
    assert sums.tolist() == [5, 2, 3]
    assert [_code_letters(c) for c in codes.tolist()] == ["AAA", "ZZZ", "EUR"]
    assert _sum_by(pa.chunked_array([], pa.string()), pa.chunked_array([], pa.int64())) == {}


def test_summary_sums_by_currency_in_order_of_first_appearance() -> None:
    payments = pa.table({"payment_id": ["P1", "P2", "P3"], "currency": ["USD", "EUR", "USD"],
                         "amount": pa.array([BIG, 5, BIG], pa.int64())})  # fmt: skip
    allocations = pa.table({"payment_id": ["P2", "P1"], "currency": ["EUR", "USD"],
                            "applied_amount": pa.array([5, 1], pa.int64())})  # fmt: skip
    exceptions = pa.table({"payment_id": ["P1", "P3"], "currency": ["USD", "USD"],
                           "unapplied_amount": pa.array([BIG - 1, BIG], pa.int64()),
                           "reason": ["X", "X"]})  # fmt: skip
    s = summarize(payments, allocations, exceptions)
    assert list(s.amount_by_currency.items()) == [("USD", -(1 << 63)), ("EUR", 5)]
    assert list(s.applied_by_currency.items()) == [("EUR", 5), ("USD", 1)]
    assert s.unapplied_by_currency == {"USD": (1 << 63) - 1}
