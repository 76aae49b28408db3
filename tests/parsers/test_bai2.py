"""BAI2: our record reader agrees with the ``bai2`` library (the reference) on a valid file,
and keeps going where the library gives up."""

from __future__ import annotations

import bai2.bai2 as bai2_lib
import pytest
from _parser_golden import FIXTURES

from cashmatch.parsers import bai
from cashmatch.parsers.samples import bai2_file

VALID = FIXTURES / "bai2" / "two_accounts.bai2"


@pytest.mark.parametrize("data", [VALID.read_bytes(), bai2_file(300)], ids=["fixture", "gen"])
def test_differential_against_the_bai2_library(data):
    ref = bai2_lib.parse_from_string(data.decode(), check_integrity=True)
    ref_tx = [
        (t.type_code.code, t.amount, t.bank_reference, t.customer_reference, t.text)
        for g in ref.children
        for a in g.children
        for t in a.children
    ]
    ours = bai.parse(data, source="x")
    assert ours.problems == []
    rows = ours.payments.to_pylist()
    assert len(rows) == len(ref_tx)
    for (code, amount, bank_ref, cust_ref, text), p in zip(ref_tx, rows, strict=True):
        assert p["bank_code"] == code and p["amount"] == amount
        assert p["end_to_end_id"] == cust_ref
        assert p["reference"] == " ".join(x for x in (cust_ref, text) if x)
        if bank_ref:
            assert p["payment_id"] == bank_ref


def test_library_gives_up_where_we_report():
    data = (FIXTURES / "bai2" / "broken.bai2").read_text()
    with pytest.raises(Exception):  # noqa: B017 - the library raises its own types
        bai2_lib.parse_from_string(data, check_integrity=True)
    ours = bai.parse(data.encode(), source="broken.bai2")
    assert ours.payments.column("payment_id").to_pylist() == ["BR0004", "BR0006"]
    cols = {p.column for p in ours.problems}
    assert {"amount", "record", "account_control_total", "closing_balance"} <= cols


def test_truncated_file_is_reported():
    data = VALID.read_bytes().split(b"49,514000")[0]
    r = bai.parse(data, source="t.bai2")
    assert any("truncated" in p.reason for p in r.problems)
    assert r.payments.num_rows == 5


def test_not_bai2_without_header():
    from cashmatch.engine.errors import InvalidInput

    with pytest.raises(InvalidInput):
        bai.parse(b"16,195,100,0,X,,Y/\n", source="x")
