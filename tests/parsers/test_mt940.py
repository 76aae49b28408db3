"""MT940: the :86: dialects, wrapping, envelopes, reversals, stable ids, and a differential
test against the ``mt-940`` library (the reference) on every well-formed fixture."""

from __future__ import annotations

from decimal import Decimal

import mt940 as mt940_lib
import pytest
from _parser_golden import FIXTURES

from cashmatch.parsers import mt940

VALID = ["swift_freetext.sta", "dutch_codes.sta", "german_subfields.sta", "envelope_multi.sta"]


def test_dutch_code_word_wrapped_at_65_is_rejoined():
    lines = [
        "/TRTP/SEPA OVERBOEKING/IBAN/NL44RABO0123456789/BIC/RABONL2U/NAME/",
        "ACME TRADING B.V. - AFDELING CREDITEUREN ROTTERDAM ZUID-OOST 1/RE",
        "MI/INV-2026-0042/EREF/E2E-1",
    ]
    assert all(len(x) == 65 for x in lines[:2])
    name, account, ref, e2e, code = mt940.parse_details(lines)
    assert ref == "INV-2026-0042"
    assert name.endswith("ZUID-OOST 1")
    assert (account, e2e, code) == ("NL44RABO0123456789", "E2E-1", "SEPA OVERBOEKING")


def test_german_subfields_join_full_subfields_without_separator():
    text = "166?00GUTSCHRIFT?20EREF+X-1?21SVWZ+RE 2026-0311 UND RE 20?2226-0312?32NAME ONE"
    name, account, ref, e2e, gvc = mt940.details_german(text)
    assert ref == "RE 2026-0311 UND RE 2026-0312"
    assert (name, e2e, gvc, account) == ("NAME ONE", "X-1", "166", None)


def test_german_notprovided_eref_is_absent():
    _, _, ref, e2e, _ = mt940.details_german("105?20EREF+NOTPROVIDED?21SVWZ+MIETE")
    assert e2e is None and ref == "MIETE"


def test_free_text_joins_short_lines_with_a_space_and_full_lines_without():
    full = "X" * 64 + "A"
    assert mt940.parse_details([full, "B C", "D"])[2] == full + "B C D"


def test_ing_cntp_positional():
    name, account, ref, e2e, _ = mt940.details_dutch(
        "/CNTP/NL69INGB0123456789/INGBNL2A/J.DE VRIES/AMSTERDAM/REMI/USTD//INV-7/EREF/A//"
    )
    assert (name, account, ref, e2e) == ("J.DE VRIES", "NL69INGB0123456789", "INV-7", "A")


def test_reversals_keep_cash_direction():
    r = mt940.parse((FIXTURES / "mt940" / "envelope_multi.sta").read_bytes(), source="x")
    rows = {p["payment_id"]: p for p in r.payments.to_pylist()}
    assert rows["BK000000000002"]["direction"] == "DBIT" and rows["BK000000000002"]["reversal"]
    assert rows["BK000000000004"]["direction"] == "CRDT" and rows["BK000000000004"]["reversal"]
    assert r.problems == []  # both statements reconcile, numbers 31 and 32 are consecutive


def test_ids_without_bank_reference_are_stable_and_unique():
    data = (
        b":20:A\n:25:ACC\n:28C:1/1\n:60F:C260101EUR0,00\n"
        b":61:260101C1,00NTRFNONREF\n:86:X\n:61:260101C1,00NTRFNONREF\n:86:X\n"
        b":62F:C260101EUR2,00\n"
    )
    one = mt940.parse(data, source="a").payments.column("payment_id").to_pylist()
    two = mt940.parse(data, source="b").payments.column("payment_id").to_pylist()
    assert one == two == ["ACC/1/1:1", "ACC/1/1:2"]


def test_bad_statement_line_is_reported_and_others_kept():
    r = mt940.parse((FIXTURES / "mt940" / "broken.sta").read_bytes(), source="broken.sta")
    assert r.payments.column("payment_id").to_pylist() == ["OK0001", "OK0004"]
    where = {(p.line, p.column) for p in r.problems}
    assert (7, ":61:") in where and (9, "value_date") in where
    assert any("does not reconcile" in p.reason for p in r.problems)
    assert any("statement 6 is missing" in p.reason for p in r.problems)


@pytest.mark.parametrize("name", VALID)
def test_differential_against_the_mt940_library(name):
    """Amounts, dates, marks, references and balances agree with the reference library."""
    data = (FIXTURES / "mt940" / name).read_bytes()
    ours = mt940.parse(data, source=name)
    text = data.decode("utf-8")
    text = "\n".join(
        line
        for line in text.splitlines()
        if not line.startswith(("{1:", "-}")) and line.strip() != "-"
    )
    # the library cannot read wrapped :28C: or envelopes; give it the bare statements
    text = text.replace(":28C:00031/\n001", ":28C:00031/001")
    ref_statements = mt940_lib.parse_statements(text)
    ref_tx = [t for st in ref_statements for t in st]
    assert len(ref_tx) == ours.payments.num_rows
    for t, p in zip(ref_tx, ours.payments.to_pylist(), strict=True):
        d = t.data
        amount = Decimal(p["amount"]).scaleb(-2)
        assert abs(d["amount"].amount) == amount
        assert (d["status"] in ("C", "RD")) == (p["direction"] == "CRDT")
        assert d["date"] == p["value_date"]
        assert d["id"] == p["bank_code"]
        assert (d["bank_reference"] or None) == p["payment_id"]
        assert d["amount"].currency == p["currency"]
    st_rows = ours.statements.to_pylist()
    assert len(st_rows) == len(ref_statements)
    for st, row in zip(ref_statements, st_rows, strict=True):
        opening = st.data["final_opening_balance"].amount.amount
        closing = st.data["final_closing_balance"].amount.amount
        assert Decimal(row["opening_balance"]).scaleb(-2) == opening
        assert Decimal(row["closing_balance"]).scaleb(-2) == closing
        assert st.data["account_identification"] == row["account"]


def test_library_differential_on_german_details():
    """Our ?NN reading agrees with the library's processor on what both define."""
    from mt940.processors import transaction_details_post_processor

    data = (FIXTURES / "mt940" / "german_subfields.sta").read_text("utf-8")
    ref = mt940_lib.parse(
        data,
        processors={"post_transaction_details": [transaction_details_post_processor]},
        options=mt940_lib.Options(applicant_iban=True),
    )
    ours = mt940.parse(data.encode(), source="g").payments.to_pylist()
    for t, p in zip(ref, ours, strict=True):
        assert t.data["applicant_iban"] == p["payer_account"]
        # the library joins ?32/?33 and ?2x without separators; we add one after a short field
        assert t.data["applicant_name"].replace(" ", "") == p["payer_name"].replace(" ", "")
