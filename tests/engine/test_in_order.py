"""A match's first steps over the payments against their references: their order
(``matcher._rows_in_order``, compiled, against ``pc.sort_indices`` giving the rows' own
order) and their currencies' codes (``DayMatch.prepare`` against ``pc.unique``)."""

from __future__ import annotations

import random
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cashmatch.engine import schema as S
from cashmatch.engine.matcher import _in_order, _kept_in_order

# ids with common prefixes, a prefix of another, bytes above 0x7F (é, €, a 4-byte character)
IDS = ["", "A", "AB", "ABC", "AB\x00", "B", "a", "é", "e\u0301", "€", "\U0001f600", "P-10",
       "P-9", "P-100", "Z" * 40]  # fmt: skip
DAYS = [date(2026, 1, 1), date(2026, 1, 2), date(1969, 12, 31), date(2026, 1, 1)]


def _sorted_by_reference(dates: pa.Array, ids: pa.Array) -> bool:
    table = pa.table({"value_date": dates, "payment_id": ids})
    order = np.asarray(pc.sort_indices(
        table, sort_keys=[("value_date", "ascending"), ("payment_id", "ascending")]))
    return bool((order == np.arange(len(order))).all())  # fmt: skip


def test_rows_in_order_agrees_with_the_sort() -> None:
    rng = random.Random(7)
    seen = set()
    for _ in range(3000):
        n = rng.choice([0, 1, 2, 3, 5, 12])
        ids = [rng.choice(IDS) for _ in range(n)]
        days = [rng.choice(DAYS) for _ in range(n)]
        if rng.random() < 0.5:  # sorted (as a batch often comes), equal keys too
            rows = sorted(zip(days, ids, strict=True), key=lambda r: (r[0], r[1].encode()))
            days, ids = [d for d, _ in rows], [i for _, i in rows]
        if rng.random() < 0.1 and n:  # a null: the sort decides
            ids[rng.randrange(n)] = None
        dates, text = pa.chunked_array([pa.array(days, pa.date32())]), pa.chunked_array(
            [pa.array(ids, pa.string())])
        if n > 2 and rng.random() < 0.2:  # a slice: offsets into the buffers
            dates, text = dates.slice(1), text.slice(1)
        want = _sorted_by_reference(dates, text)
        got = _kept_in_order(dates, text)
        assert got <= want  # never says so when it is not
        if not (dates.null_count or text.null_count):
            assert got == want, (days, ids)
        seen.add((got, want))
    assert seen >= {(True, True), (False, False)}


def test_in_order_keeps_an_ordered_batch_and_sorts_another() -> None:
    pays = pa.table({
        "payment_id": ["P1", "P2", "P10"], "value_date": [date(2026, 1, 2)] * 3,
        "amount": [1, 2, 3], "currency": ["EUR"] * 3}).cast(pa.schema([
            ("payment_id", pa.string()), ("value_date", pa.date32()), ("amount", pa.int64()),
            ("currency", pa.string())]))  # fmt: skip
    pays = S.conform(pays, S.PAYMENTS)
    assert _in_order(pays) is not pays  # "P10" sorts before "P2"
    assert _in_order(pays).column("payment_id").to_pylist() == ["P1", "P10", "P2"]
    ordered = _in_order(pays)
    assert _in_order(ordered) is ordered


def test_prepare_codes_the_payments_currencies_after_the_ledgers() -> None:
    """DayMatch.prepare's currency codes: the ledger's currencies, then the payments' others in
    the order first seen (pc.unique of both), whether or not the ledger has them all."""
    from cashmatch.engine.ledger import prepare_ledger
    from cashmatch.engine.pipeline import DayMatch
    from cashmatch.engine.policy import Policy

    invs = S.conform(pa.table({
        "invoice_id": ["I1", "I2", "I3"], "customer_id": ["C1"] * 3,
        "amount": pa.array([100, 200, 300], pa.int64()), "currency": ["USD", "EUR", "USD"]}),
        S.INVOICES)  # fmt: skip
    ledger = prepare_ledger(invoices=invs)
    for codes in (["EUR", "USD", "EUR"], ["GBP", "EUR", "JPY", "GBP"], ["USD"]):
        pays = S.conform(pa.table({
            "payment_id": [f"P{i}" for i in range(len(codes))],
            "value_date": pa.array([date(2026, 1, 1)] * len(codes), pa.date32()),
            "amount": pa.array([1] * len(codes), pa.int64()), "currency": codes}),
            S.PAYMENTS)  # fmt: skip
        day = DayMatch(ledger=ledger, payments=pays, remittances=None, policy=Policy())
        day.prepare()
        want = pc.unique(pa.concat_arrays([ledger.currencies,
                                           pays.column("currency").combine_chunks()]))  # fmt: skip
        assert day.currency_codes.to_pylist() == want.to_pylist()
        assert day.pay_currency.tolist() == [want.to_pylist().index(c) for c in codes]
