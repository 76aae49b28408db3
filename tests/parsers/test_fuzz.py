"""Any bytes give a ParseResult or a clean CashmatchError: never a traceback, never a hang.

Two strategies per format: arbitrary bytes behind the format's magic (so the sniffer's choice
is exercised), and mutations of the hand-written samples (so the deep paths are exercised).
Example counts stay modest so the suite stays fast.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from _parser_golden import FIXTURES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cashmatch.engine.errors import CashmatchError
from cashmatch.parsers import FORMATS, ParseResult, module_for, parse_file

FOLDERS = {
    "mt940": "mt940",
    "camt": "camt",
    "ofx": "ofx",
    "bai2": "bai2",
    "bank-csv": "bank_csv",
    "x12-820": "x12_820",
    "payments-csv": "interchange",
    "remittance-csv": "interchange",
}
MAGIC = {
    "mt940": b":20:X\n:25:A\n",
    "camt": b"<Document><BkToCstmrStmt>",
    "ofx": b"<OFX>",
    "bai2": b"01,",
    "x12-820": b"ISA*",
    "bank-csv": b"Date;Amount;Currency;Counterparty;Reference\n",
    "payments-csv": b"payment_id,value_date,amount,currency\n",
    "remittance-csv": b"invoice_ref,paid_amount\n",
}
FUZZ = settings(
    max_examples=int(__import__("os").environ.get("CASHMATCH_FUZZ_EXAMPLES", "40")),
    deadline=timedelta(seconds=10),
    suppress_health_check=[HealthCheck.too_slow],
)


def _samples(fmt: str) -> list[bytes]:
    folder = FIXTURES / FOLDERS[fmt]
    return [
        p.read_bytes()
        for p in sorted(folder.iterdir())
        if p.is_file() and not p.name.endswith(".json")
    ]


def _check(data: bytes, fmt: str | None) -> None:
    try:
        if fmt is not None and FORMATS[fmt] != "interchange":
            # straight into the module: the door's safety net must not hide a parser's bug
            result = module_for(fmt).parse(data, source="fuzz")
        else:
            result = parse_file(data, format=fmt, source="fuzz")
    except CashmatchError as exc:
        assert str(exc)  # a message a person can read
        return
    assert isinstance(result, ParseResult)
    for p in result.problems:
        assert p.source == "fuzz" and p.reason


@st.composite
def mutated(draw, samples: list[bytes]) -> bytes:
    data = bytearray(draw(st.sampled_from(samples)))
    for _ in range(draw(st.integers(1, 6))):
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        op = draw(st.sampled_from(["flip", "cut", "dup", "insert"]))
        if op == "flip":
            data[i] = draw(st.integers(0, 255))
        elif op == "cut":
            del data[i : i + draw(st.integers(1, 64))]
        elif op == "dup":
            data[i:i] = data[i : i + draw(st.integers(1, 128))]
        else:
            data[i:i] = draw(st.binary(min_size=1, max_size=16))
    return bytes(data)


@pytest.mark.parametrize("fmt", sorted(FOLDERS))
def test_mutated_samples(fmt):
    samples = _samples(fmt)

    @FUZZ
    @given(data=mutated(samples))
    def run(data):
        _check(data, fmt)
        _check(data, None)

    run()


@pytest.mark.parametrize("fmt", sorted(MAGIC))
def test_arbitrary_bytes_behind_the_magic(fmt):
    @FUZZ
    @given(tail=st.binary(max_size=600))
    def run(tail):
        _check(MAGIC[fmt] + tail, fmt)
        _check(MAGIC[fmt] + tail, None)

    run()


@FUZZ
@given(data=st.binary(max_size=400))
def test_arbitrary_bytes_through_the_door(data):
    _check(data, None)


def test_every_registered_format_is_fuzzed():
    assert set(FORMATS) - {"interchange-parquet"} <= set(FOLDERS)
