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


CORRECTIONS = FIXTURES / "ofx" / "ofx1_corrections.ofx"


@pytest.mark.parametrize("parse", [ofx.parse, ofx.parse_reference], ids=["fast", "ofxparse"])
def test_corrections_replace_and_delete_as_the_spec_says(parse):
    r = parse(CORRECTIONS.read_bytes(), source="c.ofx")
    # 1002 replaced by 1002-R (250.00 -> 205.00); 1003 deleted by 1003-D, which is no payment
    assert r.payments.column("payment_id").to_pylist() == ["1001", "1002-R", "1004-R"]
    assert r.payments.column("amount").to_pylist() == [10000, 20500, 7500]
    assert r.statements.column("total_credits").to_pylist() == [38000]  # LEDGERBAL 380.00
    assert r.statements.column("total_debits").to_pylist() == [0]
    # 1004-R corrects a transaction of an earlier download: kept, and said so
    assert [(p.column, "0999" in p.reason) for p in r.problems] == [("CORRECTFITID", True)]


def test_corrections_agree_between_paths():
    data = CORRECTIONS.read_bytes()
    fast, ref = ofx.parse(data, source="c"), ofx.parse_reference(data, source="c")
    assert _without_lines(fast.payments).equals(_without_lines(ref.payments))
    assert [(p.column, p.reason) for p in fast.problems] == [
        (p.column, p.reason) for p in ref.problems
    ]


def test_unknown_correction_action_is_reported_and_left_out():
    data = CORRECTIONS.read_bytes().replace(b"<CORRECTACTION>DELETE", b"<CORRECTACTION>UNDO")
    for parse in (ofx.parse, ofx.parse_reference):
        r = parse(data, source="c")
        assert "1003" in r.payments.column("payment_id").to_pylist()  # nothing was deleted
        assert "1003-D" not in r.payments.column("payment_id").to_pylist()
        assert any(p.column == "CORRECTACTION" and "UNDO" in p.reason for p in r.problems)
