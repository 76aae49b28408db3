"""result._invariants_hold (compiled) against its reference, result._check_by_numpy: the
same verdict on random outputs, broken every way the check looks for (ids repeated, rows
naming no payment, payments missing, sums off by one, negative applied amounts, wrapping
sums); and result.checked_summary (one compiled pass) against check_invariants then
summarize on the same outputs, with currencies of every kind (null, not three capitals,
more than the compiled pass looks among)."""

from __future__ import annotations

import random
import re

import numpy as np
import pyarrow as pa
import pytest

from cashmatch.engine.errors import InvariantViolation
from cashmatch.engine.result import (
    _check_by_numpy,
    _invariants_hold,
    _payment_codes,
    check_invariants,
    checked_summary,
    summarize,
)

BIG = 1 << 62  # two of these wrap an int64 sum


def _int64(values: list[int]) -> pa.Array:
    return pa.array([(v + (1 << 63)) % (1 << 64) - (1 << 63) for v in values], pa.int64())


def _tables(rng: random.Random) -> tuple[pa.Table, pa.Table, pa.Table]:
    n = rng.choice([0, 1, 2, 5])
    ids = [f"P{i}" for i in range(n)]
    if n > 1 and rng.random() < 0.1:
        ids[1] = ids[0]  # not unique
    amount = [rng.choice([0, 1, 100, BIG, -5]) for _ in range(n)]
    a_pay, a_amt, e_pay, e_amt = [], [], [], []
    for i, a in enumerate(amount):  # a correct split of each payment...
        k = rng.choice([0, 1, 2])
        parts = [rng.randint(0, max(a, 0)) for _ in range(k)] if a < BIG else [BIG] * k
        parts = parts if sum(parts) <= a or a >= BIG else []
        a_pay += [ids[i]] * len(parts)
        a_amt += parts
        if rng.random() < 0.5 or not parts:
            e_pay.append(ids[i])
            e_amt.append(a - sum(parts))
    for _ in range(rng.choice([0, 0, 1, 2])):  # ...broken
        what = rng.choice(["stray", "missing", "off", "negative", "twice"])
        if what == "stray":
            e_pay.append("P9")
            e_amt.append(0)
        elif what == "missing" and e_pay:
            e_pay.pop(), e_amt.pop()
        elif what == "off" and e_amt:
            e_amt[-1] += rng.choice([1, -1, BIG])
        elif what == "negative" and n:  # (balanced: only the sign is wrong)
            a_pay.append(ids[0]), a_amt.append(-rng.choice([1, BIG]))
            e_pay.append(ids[0]), e_amt.append(-a_amt[-1])
        elif what == "twice" and a_pay:
            a_pay.append(a_pay[0]), a_amt.append(a_amt[0])
    return (pa.table({"payment_id": pa.array(ids, pa.string()),
                      "amount": _int64(amount)}),
            pa.table({"payment_id": pa.array(a_pay, pa.string()),
                      "applied_amount": _int64(a_amt)}),
            pa.table({"payment_id": pa.array(e_pay, pa.string()),
                      "unapplied_amount": _int64(e_amt)}))  # fmt: skip


def test_the_compiled_check_agrees_with_numpy() -> None:
    rng = random.Random(21)
    verdicts = set()
    for _ in range(4000):
        pays, allocations, exceptions = _tables(rng)
        code = _payment_codes(pays, allocations, exceptions)
        try:
            _check_by_numpy(pays, allocations, exceptions, code)
            want = True
        except InvariantViolation:
            want = False
        got = _invariants_hold(code, pays.num_rows, *(np.asarray(t.column(c), np.int64) for t, c in
                               ((pays, "amount"), (allocations, "applied_amount"),
                                (exceptions, "unapplied_amount"))))  # fmt: skip
        assert got == want, (pays.to_pydict(), allocations.to_pydict(), exceptions.to_pydict())
        verdicts.add(got)
        if want:
            assert list(check_invariants(pays, allocations, exceptions)) == list(
                code[pays.num_rows :])
        else:
            with pytest.raises(InvariantViolation):
                check_invariants(pays, allocations, exceptions)
    assert verdicts == {True, False}


def _currencies(rng: random.Random, k: int) -> pa.Array:
    pick = rng.choice([["EUR", "USD", "JPY"], ["EUR", None], ["EUR", "eur", "EURO", "E\u00dfR"]])
    return pa.array([rng.choice(pick) for _ in range(k)], pa.string())


def test_the_checked_summary_is_the_check_then_the_summary() -> None:
    rng = random.Random(22)
    verdicts = set()
    for _ in range(3000):
        pays, allocations, exceptions = (
            t.append_column("currency", _currencies(rng, t.num_rows)) for t in _tables(rng))
        exceptions = exceptions.append_column("reason", pa.array(
            [rng.choice(["A", "B", "C"]) for _ in range(exceptions.num_rows)], pa.string()))
        try:
            want = summarize(pays, allocations, exceptions,
                             check_invariants(pays, allocations, exceptions))
        except InvariantViolation as exc:
            with pytest.raises(InvariantViolation, match=re.escape(str(exc))):
                checked_summary(pays, allocations, exceptions)
            verdicts.add(False)
            continue
        got = checked_summary(pays, allocations, exceptions)
        assert got == want
        assert [list(d) for d in (got.amount_by_currency, got.applied_by_currency,
                got.unapplied_by_currency, got.exceptions_by_reason)] == [list(d) for d in (
            want.amount_by_currency, want.applied_by_currency, want.unapplied_by_currency,
            want.exceptions_by_reason)]  # (orders too)  # fmt: skip
        verdicts.add(True)
    assert verdicts == {True, False}
    many = [f"{a}{b}Z" for a in "ABCDEFGHIJ" for b in "ABCDEFGHIJ"]  # (more than MAX_CODES)
    pays = pa.table({"payment_id": [f"P{i}" for i in range(100)], "amount": pa.array(
        range(100), pa.int64()), "currency": many})  # fmt: skip
    exceptions = pa.table({"payment_id": pays.column(0), "unapplied_amount": pays.column(1),
                           "currency": many, "reason": ["A"] * 100})  # fmt: skip
    allocations = exceptions.slice(0, 0).rename_columns(
        ["payment_id", "applied_amount", "currency", "reason"]).drop_columns("reason")
    want = summarize(pays, allocations, exceptions)
    assert checked_summary(pays, allocations, exceptions) == want
    assert list(want.amount_by_currency) == many
