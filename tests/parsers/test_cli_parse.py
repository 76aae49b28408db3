"""``cashmatch parse`` end to end: files in, interchange files out, statement checks shown."""

from __future__ import annotations

import argparse

import pytest
from _parser_golden import FIXTURES

from cashmatch.commands import parse as parse_cmd
from cashmatch.engine.errors import InvalidInput
from cashmatch.parsers import parse_file


def _run(argv: list[str]) -> int:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="command")
    parse_cmd.register(sub)
    args = ap.parse_args(["parse", *argv])
    return args.func(args)


def test_parse_writes_payments_and_remittances(tmp_path, capsys):
    files = [
        FIXTURES / "mt940" / "dutch_codes.sta",
        FIXTURES / "camt" / "camt053_v08_batch.xml",
        FIXTURES / "ofx" / "ofx2_creditcard_utf8.ofx",
    ]
    out, rem, st = tmp_path / "p.csv", tmp_path / "r.parquet", tmp_path / "s.csv"
    code = _run(
        [
            *map(str, files),
            "--out",
            str(out),
            "--remittances-out",
            str(rem),
            "--statements-out",
            str(st),
        ]
    )
    assert code == 0
    pays = parse_file(out)
    assert pays.problems == [] and pays.payments.num_rows == 4 + 3 + 2
    assert parse_file(rem).remittances.num_rows == 2
    err = capsys.readouterr().err
    assert "statements" in err and "9 payments" in err


def test_credits_only_and_strict(tmp_path, capsys):
    out = tmp_path / "p.parquet"
    code = _run(
        [str(FIXTURES / "mt940" / "broken.sta"), "--out", str(out), "--strict", "--credits-only"]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert "BALANCE MISMATCH" in err and "SEQUENCE GAP" in err
    assert "broken.sta:7" in err
    dirs = parse_file(out).payments.column("direction").to_pylist()
    assert set(dirs) == {"CRDT"}


def test_output_suffix_is_checked(tmp_path):
    with pytest.raises(InvalidInput, match=".csv or .parquet"):
        _run([str(FIXTURES / "mt940" / "broken.sta"), "--out", str(tmp_path / "p.txt")])


def test_registered_in_the_cli():
    from cashmatch.cli import COMMANDS

    assert "parse" in COMMANDS
