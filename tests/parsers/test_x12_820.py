"""X12 820: separators from the ISA header, RMR/ADX lines linked by the TRN trace number."""

from __future__ import annotations

from _parser_golden import FIXTURES

from cashmatch.parsers import x12_820

EDI = (FIXTURES / "x12_820" / "two_sets.edi").read_text()


def test_other_separators_read_the_same():
    alt = EDI.replace("*", "|").replace("~", "\n").replace("\n\n", "\n")
    isa_len = len(EDI.split("~")[0]) + 1
    assert isa_len == 106
    a = x12_820.parse(EDI.encode(), source="x")
    b = x12_820.parse(alt.encode(), source="x")
    keep = [
        "end_to_end_id",
        "invoice_ref",
        "paid_amount",
        "discount_amount",
        "deduction_amount",
        "reason_code",
    ]
    assert a.remittances.select(keep).equals(b.remittances.select(keep))


def test_lines_link_by_trace_and_sum_to_the_payment():
    r = x12_820.parse(EDI.encode(), source="x")
    first = [x for x in r.remittances.to_pylist() if x["end_to_end_id"] == "ACH-TRACE-0001"]
    assert sum(x["paid_amount"] for x in first) == 242500  # BPR02 2425.00
    assert not any("ACH-TRACE-0001" in p.reason for p in r.problems)
    assert any("ACH-TRACE-0002" in p.reason for p in r.problems)


def test_missing_se_is_reported():
    cut = EDI.split("SE*18*0001~")[0]
    r = x12_820.parse(cut.encode(), source="x")
    assert any(p.column == "SE" for p in r.problems)
    assert r.remittances.num_rows == 4
