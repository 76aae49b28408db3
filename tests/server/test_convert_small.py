"""The boundary's conversions of a few rows against their references: the exact amounts
(``money.parse_plain_minor``, compiled once warm) against ``money.to_minor`` row by row, the
currency code check over bytes against the regular expression."""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from cashmatch.engine.errors import InvalidInput
from cashmatch.engine.money import to_minor
from cashmatch.engine.normalize import warm_kernels
from cashmatch.server.convert import _direction, _exponents, _money, _three_letters

TEXTS = [
    "1",
    "1.",
    ".5",
    "-0",
    "-0.00",
    "12.50",
    "0012.5",
    "1.230",
    "1.235",
    "+5",
    "1e2",
    "- 1",
    "",
    "-",
    ".",
    "99999999999999.99",
    "123456789012345678",
    "7.0000",
    "3.14159",
]
CURRENCIES = ["EUR", "JPY", "KWD", "CLF", "eur", None, "EURO"]


def _expected(text: str | None, cur: str | None) -> tuple[int | None, bool]:
    if text is None:
        return None, False
    try:
        minor = to_minor(text, cur or "")
    except InvalidInput:
        return None, True
    return (minor, False) if abs(minor) < 1 << 63 else (None, True)  # an int64 or an error


@pytest.mark.parametrize("warm", [False, True])
def test_few_amounts_convert_as_row_by_row(warm: bool) -> None:
    if warm:
        warm_kernels()
    rng = random.Random(7)
    for _ in range(300):
        n = rng.randint(1, 8)
        texts = [rng.choice(TEXTS + [None]) for _ in range(n)]
        one_cur = rng.random() < 0.5
        curs = [rng.choice(CURRENCIES)] * n if one_cur else [rng.choice(CURRENCIES) for _ in texts]
        expected = [_expected(t, c) for t, c in zip(texts, curs, strict=True)]
        errors: list[str] = []
        cur = pa.array(curs, pa.string())
        got = _money(pa.array(texts, pa.string()), cur, _exponents(cur), "payments",
                     "amount", errors, required=False).to_pylist()  # fmt: skip
        bad = [i for i, (_, err) in enumerate(expected) if err]
        assert [e.split("]")[0] for e in errors] == [f"payments[{i}" for i in bad]
        ok = np.array([not err for _, err in expected])
        assert [g for g, k in zip(got, ok, strict=True) if k] == [
            v for (v, _), k in zip(expected, ok, strict=True) if k
        ]


def test_currency_codes_checked_as_the_regular_expression_does() -> None:
    rng = random.Random(1)
    alphabet = "ABZaz€é1 -ÄQ"
    values = [None if rng.random() < 0.1 else "".join(
        rng.choice(alphabet) for _ in range(rng.choice([0, 1, 2, 3, 3, 3, 4])))
        for _ in range(5000)]  # fmt: skip
    upper = pc.utf8_upper(pa.array(values, pa.string()))
    for codes in (upper, upper.slice(5), pa.array([None, None], pa.string())):
        want = pc.fill_null(pc.match_substring_regex(codes, r"^[A-Z]{3}$"), True)
        assert _three_letters(codes).tolist() == want.to_pylist()


def test_directions_checked_as_the_value_set_does() -> None:
    rng = random.Random(2)

    def value() -> str | None:  # CRDT or DBIT, or one of them with a character changed
        text = list(rng.choice(["CRDT", "DBIT"]))
        if rng.random() < 0.5:
            text[rng.randrange(4)] = rng.choice(["", "C", "B", "Ä", " ", "XY"])
        return None if rng.random() < 0.1 else "".join(text)

    values = [value() for _ in range(5000)]
    codes = pa.array(values, pa.string())
    for part in (codes, codes.slice(7), pa.array([None], pa.string())):
        want = pc.or_(part.is_null(), pc.is_in(part, value_set=pa.array(["CRDT", "DBIT"])))
        assert _direction(part).tolist() == want.to_pylist()


def test_a_remittance_line_without_a_currency_takes_its_payments() -> None:
    from cashmatch.server.convert import payments_from_proto, remittances_from_proto
    from cashmatch.server.pb import cash_application_pb2 as pb

    pays = payments_from_proto(
        [
            pb.Payment(payment_id="P1", value_date="2026-01-05", amount="10", currency="JPY"),
            pb.Payment(
                payment_id="P2",
                value_date="2026-01-05",
                amount="10.00",
                currency="EUR",
                end_to_end_id="E2",
                direction="crdt",
            ),
        ]
    )
    assert pays.column("direction").to_pylist() == [None, "CRDT"]
    lines = [
        pb.RemittanceLine(payment_id="P1", invoice_ref="A", paid_amount="10"),
        pb.RemittanceLine(end_to_end_id="E2", invoice_ref="B", paid_amount="2.50"),
        pb.RemittanceLine(payment_id="P2", invoice_ref="C", paid_amount="1.5", currency="usd"),
    ]
    rem = remittances_from_proto(lines, pays)
    assert rem.column("currency").to_pylist() == ["JPY", "EUR", "USD"]
    assert rem.column("paid_amount").to_pylist() == [10, 250, 150]
    same = remittances_from_proto(lines[2:], pays)  # (every line with its own currency)
    assert same.column("currency").to_pylist() == ["USD"]


def test_a_payments_direction_is_crdt_dbit_or_absent() -> None:
    from cashmatch.server.convert import payments_from_proto
    from cashmatch.server.pb import cash_application_pb2 as pb

    ok = pb.Payment(payment_id="P1", value_date="2026-01-05", amount="1", currency="EUR")
    bad = pb.Payment(
        payment_id="P2", value_date="2026-01-05", amount="1", currency="EUR", direction="sideways"
    )
    with pytest.raises(InvalidInput, match=r"payments\[1\]\.direction: expected CRDT or DBIT"):
        payments_from_proto([ok, bad])


def _convert(request: object, careful: bool, monkeypatch: pytest.MonkeyPatch
             ) -> tuple[object, object] | str:  # fmt: skip
    """A request's payments and lines as the servicer converts them (the lines from the
    request's wire format); with ``careful``, without the compiled pass."""
    from cashmatch.server import wire
    from cashmatch.server.convert import payments_from_proto, remittances_from_proto

    with monkeypatch.context() as m:
        if careful:
            m.setattr(wire, "plain_columns", lambda *_: None)
        data = request.SerializeToString()  # type: ignore[attr-defined]
        try:
            pays = payments_from_proto(wire.Repeated(request, "payments", data))
            return pays, remittances_from_proto(wire.Repeated(request, "remittances", data), pays)
        except InvalidInput as exc:
            return str(exc)


def test_plain_requests_convert_as_the_careful_converters_do(monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:  # fmt: skip
    """The compiled pass over plain values (``wire.plain_columns``) against the careful
    converters, over requests with a value now and then that is not plain (which the careful
    converters then convert, or name): the same tables, or the same error."""
    from cashmatch.server import wire
    from cashmatch.server.pb import cash_application_pb2 as pb

    rng = random.Random(11)
    calls = {"plain": 0, "declined": 0}
    plain_columns = wire.plain_columns

    def counted(*args: object) -> object:
        out = plain_columns(*args)  # type: ignore[arg-type]
        calls["plain" if out is not None else "declined"] += 1
        return out

    monkeypatch.setattr(wire, "plain_columns", counted)

    def pick(plain: list[str], odd: list[str]) -> str:
        return rng.choice(odd) if rng.random() < 0.03 else rng.choice(plain)

    amounts = ["1", "12.50", "-3.2", "0.07", ".5", "100."]
    odd_amounts = ["", "+5", "1e2", "1.234", "12,50", " 7.25 ", "1.2.3", "99999999999999999"]
    days = ["2026-01-31", "2025-12-01"]
    odd_days = ["", "2026-02-30", "31.01.2026", "2026-1-31", "20260131"]
    curs = ["EUR", "JPY", "KWD", "usd"]
    odd_curs = ["", "EURO", "XYZ", "eu", "€UR", " EUR"]
    directions = ["", "CRDT", "dbit"]
    odd_directions = ["CRD", "sideways", "ĐBIT"]
    for _ in range(300):
        n = rng.randint(1, 12)
        pays = [pb.Payment(payment_id=pick([f"P{i}"], [""]), value_date=pick(days, odd_days),
                           amount=pick(amounts, odd_amounts), currency=pick(curs, odd_curs),
                           payer_name=rng.choice(["", "ACME", " Ann "]),
                           end_to_end_id=rng.choice(["", f"E{i}"]),
                           direction=pick(directions, odd_directions))
                for i in range(n)]  # fmt: skip
        lines = [pb.RemittanceLine(payment_id=f"P{rng.randrange(n)}",
                                   end_to_end_id=pick([""], [f"E{rng.randrange(n)}"]),
                                   invoice_ref=pick(["INV-1", "2"], [""]),
                                   paid_amount=pick(amounts, odd_amounts),
                                   discount_amount=rng.choice(["", "", "0.5"]),
                                   deduction_amount=pick([""], odd_amounts + amounts),
                                   currency=pick(curs, odd_curs + [""] * 5))
                 for _ in range(rng.randint(0, 4))]  # fmt: skip
        request = pb.MatchRequest(payments=pays, remittances=lines, use_ledger=True)
        fast, slow = _convert(request, False, monkeypatch), _convert(request, True, monkeypatch)
        if isinstance(slow, str):
            assert fast == slow
            continue
        assert not isinstance(fast, str)
        for got, want in zip(fast, slow, strict=True):
            assert (got is None and want is None) or got.equals(want)  # type: ignore[attr-defined]
    assert min(calls.values()) > 50  # (both ways taken, many times)
