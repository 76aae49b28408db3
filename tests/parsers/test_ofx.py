"""OFX: the linear fast path gives exactly what ofxparse (the reference) gives."""

from __future__ import annotations

import pytest
from _parser_golden import FIXTURES

from cashmatch.parsers import ofx

SAMPLES = sorted((FIXTURES / "ofx").glob("*.*[!n]"))


def _without_lines(table):
    return table.drop(["source_line"]) if "source_line" in table.column_names else table


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.name)
def test_fast_path_equals_ofxparse(sample):
    data = sample.read_bytes()
    fast = ofx.parse(data, source=sample.name)
    ref = ofx.parse_reference(data, source=sample.name)
    assert fast.payments.num_rows > 0
    # ofxparse keeps no line numbers; every other column must be identical
    assert _without_lines(fast.payments).equals(_without_lines(ref.payments))
    assert fast.statements.equals(ref.statements)


def test_samples_cover_the_header_quirks():
    names = {p.name for p in SAMPLES}
    assert {
        "ofx1_oneline_charset_none.qfx",
        "ofx1_sgml_cp1252.ofx",
        "ofx2_creditcard_utf8.ofx",
    } <= names


def test_dates_are_the_banks_local_dates():
    # 20:00 EST is the next day in UTC; the bank means the 15th
    r = ofx.parse((FIXTURES / "ofx" / "ofx1_sgml_cp1252.ofx").read_bytes(), source="x")
    assert str(r.payments.column("value_date")[0]) == "2026-01-15"


def test_generated_file_differential():
    """A generated statement of a few hundred transactions agrees too."""
    from cashmatch.parsers.samples import ofx_statement

    data = ofx_statement(300)
    fast = ofx.parse(data, source="gen")
    ref = ofx.parse_reference(data, source="gen")
    assert fast.payments.num_rows == 300
    assert _without_lines(fast.payments).equals(_without_lines(ref.payments))


def test_missing_fitid_is_reported():
    data = (
        (FIXTURES / "ofx" / "ofx2_creditcard_utf8.ofx")
        .read_bytes()
        .replace(b"<FITID>CC-2026-0120-02</FITID>", b"")
    )
    r = ofx.parse(data, source="x.ofx")
    assert r.payments.num_rows == 1
    assert any(p.column == "FITID" for p in r.problems)
