"""Bank CSV profiles: validation, selection, encodings never silently mangled."""

from __future__ import annotations

import pytest
from _parser_golden import FIXTURES

from cashmatch.engine.errors import InvalidInput
from cashmatch.parsers import bank_csv, parse_file

SPARKASSE = (FIXTURES / "bank_csv" / "sparkasse_cp1252.csv").read_bytes()


def test_builtin_profiles_load_and_validate():
    names = set(bank_csv.builtin_profiles())
    assert {"de-sparkasse", "us-debit-credit", "uk-paid-in-out", "eu-signed-amount"} <= names


def test_cp1252_is_detected_not_mangled():
    r = bank_csv.parse(SPARKASSE, source="s.csv")
    assert r.payments.column("payer_name").to_pylist()[0] == "Müller & Söhne GmbH"
    assert not any(p.column == "encoding" for p in r.problems)


def test_wrong_declared_encoding_names_the_line(tmp_path):
    prof = (
        (bank_csv.PROFILE_DIR / "de-sparkasse.toml")
        .read_text()
        .replace('encoding = "auto"', 'encoding = "utf-8"')
        .replace('name = "de-sparkasse"', 'name = "strict"')
    )
    path = tmp_path / "strict.toml"
    path.write_text(prof)
    with pytest.raises(InvalidInput, match="line 2"):
        parse_file(SPARKASSE, profile=str(path), source="s.csv")


def test_bytes_cp1252_does_not_define_are_reported():
    data = SPARKASSE.replace("Köln".encode("cp1252"), b"K\x81ln")
    r = bank_csv.parse(data, source="s.csv")
    assert any(p.column == "encoding" for p in r.problems)


@pytest.mark.parametrize(
    "bad, why",
    [
        ('[columns]\nvalue_date = "D"\n', "amount"),
        (
            'delimiter = ";;"\n[columns]\nvalue_date = "D"\namount = "A"\ncurrency = "C"\n',
            "delimiter",
        ),
        (
            'currency = "EUR"\ndecimal = ","\nthousands = ","\n[columns]\nvalue_date = "D"\n'
            'amount = "A"\n',
            "clash",
        ),
        ('currency = "EUR"\n[columns]\nvalue_date = "D"\namount = "A"\npayee = "P"\n', "unknown"),
        ("this is = not toml [", "TOML"),
    ],
)
def test_profile_validation(bad, why):
    with pytest.raises(InvalidInput, match=why):
        bank_csv.Profile.from_toml(bad, origin="p.toml")


def test_declared_profile_by_name_and_custom_file(tmp_path):
    data = b"When|What|Sum\n2026-01-05|INV-9|1.234,50\n2026-01-06|FEE|-3,00\n"
    prof = tmp_path / "mybank.toml"
    prof.write_text(
        'header = ["When", "What", "Sum"]\ndelimiter = "|"\ndecimal = ","\n'
        'thousands = "."\ncurrency = "EUR"\n[columns]\nvalue_date = "When"\n'
        'amount = "Sum"\nreference = "What"\n'
    )
    r = parse_file(data, profile=str(prof), source="m.csv")
    assert r.format == "bank-csv"
    assert r.payments.column("amount").to_pylist() == [123450, 300]
    assert r.payments.column("direction").to_pylist() == ["CRDT", "DBIT"]
    with pytest.raises(InvalidInput, match="unknown CSV profile"):
        parse_file(data, profile="no-such-bank", source="m.csv")


def test_row_ids_are_stable_across_reexports():
    r1 = bank_csv.parse(SPARKASSE, source="a")
    lines = SPARKASSE.split(b"\r\n")
    reexport = b"\r\n".join([lines[0], lines[2], lines[1], lines[3]])
    r2 = bank_csv.parse(reexport, source="b")
    assert set(r1.payments.column("payment_id").to_pylist()) == set(
        r2.payments.column("payment_id").to_pylist()
    )


def test_marker_column_decides_direction():
    data = (
        b"Datum;Betrag;S/H;Text\n01.02.2026;10,00;S;A\n02.02.2026;5,00;H;B\n03.02.2026;1,00;X;C\n"
    )
    prof = bank_csv.Profile.from_toml(
        'header = ["Datum", "Betrag", "S/H"]\ndelimiter = ";"\ndecimal = ","\n'
        'date_format = "%d.%m.%Y"\ncurrency = "EUR"\n[columns]\nvalue_date = "Datum"\n'
        'amount = "Betrag"\ndirection = "S/H"\nreference = "Text"\n',
        origin="sh.toml",
    )
    r = bank_csv.parse(data, source="x", profile=prof)
    assert r.payments.column("direction").to_pylist() == ["DBIT", "CRDT"]
    assert [p.line for p in r.problems] == [4]


def test_lines_count_line_breaks_inside_quoted_fields():
    data = (
        b"Date,Type,Description,Paid in,Paid out,Balance\n"
        b'15/01/2026,FPI,"NORTHWIND LTD\nINV-2026-0042\nTHANK YOU","1,500.00",,"14,250.00"\n'
        b"\n"
        b"16/01/2026,FPI,TOO,MANY,FIELDS,1,2\n"
        b"17/01/2026,FPI,CONTOSO PLC,not money,,1\n"
        b"18/01/2026,FPI,FABRIKAM,10.00,,2\n"
    )
    r = bank_csv.parse(data, source="u.csv", profile="uk-paid-in-out")
    assert r.payments.column("source_line").to_pylist() == [2, 8]
    assert r.payments.column("reference").to_pylist()[0].startswith("NORTHWIND LTD")
    assert [(p.line, p.column) for p in r.problems] == [(6, None), (7, "amount")]
