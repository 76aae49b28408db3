"""The one door: sniffing, declared formats, kinds, paths and bytes, clean errors."""

from __future__ import annotations

import pytest
from _parser_golden import FIXTURES, FOLDER_FORMAT, sample_files

from cashmatch.engine.errors import InvalidInput
from cashmatch.parsers import FORMATS, parse_file, sniff


@pytest.mark.parametrize("sample", sample_files(), ids=lambda p: p.name)
def test_sniffing_finds_the_folder_format(sample):
    expected = FOLDER_FORMAT.get(sample.parent.name)
    if expected is None:  # interchange: by header
        expected = "remittance-csv" if "remit" in sample.name else "payments-csv"
    assert sniff(sample.read_bytes()[:65536]) == expected


def test_unknown_format_names_the_file_and_the_formats_tried():
    with pytest.raises(InvalidInput) as err:
        parse_file(b"hello world\n", source="mystery.dat")
    msg = str(err.value)
    assert "mystery.dat" in msg and all(f in msg for f in FORMATS)


def test_kind_limits_the_candidates():
    edi = (FIXTURES / "x12_820" / "two_sets.edi").read_bytes()
    assert parse_file(edi, kind="remittances").format == "x12-820"
    with pytest.raises(InvalidInput, match="tried"):
        parse_file(edi, kind="payments", source="x.edi")
    with pytest.raises(InvalidInput, match="carries no payments"):
        parse_file(edi, format="x12-820", kind="payments", source="x.edi")


def test_declared_format_and_aliases(tmp_path):
    data = (FIXTURES / "mt940" / "swift_freetext.sta").read_bytes()
    assert parse_file(data, format="MT940").format == "mt940"
    assert parse_file(data, format="sta").format == "mt940"
    with pytest.raises(InvalidInput, match="unknown format"):
        parse_file(data, format="mt942x")


def test_path_and_bytes_give_the_same_result(tmp_path):
    src = FIXTURES / "camt" / "camt053_v08_batch.xml"
    a = parse_file(src, source="s")
    b = parse_file(src.read_bytes(), source="s")
    assert a.payments.equals(b.payments) and a.remittances.equals(b.remittances)
    assert parse_file(str(src)).payments.column("source")[0].as_py() == str(src)


def test_missing_file_is_a_clean_error(tmp_path):
    with pytest.raises(InvalidInput, match="cannot read"):
        parse_file(tmp_path / "nope.sta")


def test_interchange_parquet_through_the_door(tmp_path):
    from cashmatch.engine.interchange import write_payments, write_remittances

    res = parse_file(FIXTURES / "camt" / "camt053_v08_batch.xml")
    write_payments(res.payments, tmp_path / "p.parquet")
    write_remittances(res.remittances, tmp_path / "r.parquet")
    p = parse_file(tmp_path / "p.parquet")
    r = parse_file(tmp_path / "r.parquet")
    assert (p.format, r.format) == ("payments-csv", "remittance-csv")
    assert p.payments.column("amount").equals(res.payments.column("amount"))
    assert r.remittances.column("invoice_ref").equals(res.remittances.column("invoice_ref"))


def test_csv_round_trip_keeps_ids_amounts_and_directions(tmp_path):
    from cashmatch.engine.interchange import write_payments

    res = parse_file(FIXTURES / "mt940" / "envelope_multi.sta")
    write_payments(res.payments, tmp_path / "p.csv")
    back = parse_file(tmp_path / "p.csv")
    assert back.problems == []
    for col in ("payment_id", "value_date", "amount", "currency", "direction", "statement_id"):
        assert back.payments.column(col).equals(res.payments.column(col)), col


def test_interchange_remittances_take_their_payments_currency_through_the_door():
    import pyarrow as pa

    data = (
        b"payment_id,end_to_end_id,invoice_ref,paid_amount\n"
        b"P1,,INV-1,10.00\n"
        b",E2E-2,INV-2,1000\n"
        b"P9,,INV-3,5.00\n"
    )
    payments = pa.table(
        {
            "payment_id": ["P1", "P2"],
            "end_to_end_id": [None, "E2E-2"],
            "currency": ["EUR", "JPY"],
        }
    )
    by_table = parse_file(data, kind="remittances", currency_of=payments, source="r.csv")
    seen = []

    def lookup(lines: pa.Table) -> pa.Array:
        seen.append(lines.num_rows)
        return pa.array(["EUR", "JPY", None])

    by_call = parse_file(data, kind="remittances", currency_of=lookup, source="r.csv")
    for r in (by_table, by_call):
        rem = r.remittances.slice(0, 2)  # the lines whose payment is known
        assert rem.column("invoice_ref").to_pylist() == ["INV-1", "INV-2"]
        assert rem.column("currency").to_pylist() == ["EUR", "JPY"]
        assert rem.column("paid_amount").to_pylist() == [1000, 1000]  # JPY has no minor unit
    assert seen == [3]  # the function saw the lines once
