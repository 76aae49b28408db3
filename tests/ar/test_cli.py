"""``cashmatch ar`` end to end: files in, aging/metrics/accounts/report out."""

from __future__ import annotations

import csv
from datetime import timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from engine.receivables_reference import reference  # tests/engine (tests/ is on sys.path)

from cashmatch.cli import COMMANDS
from cashmatch.engine import interchange as io
from cashmatch.engine.money import format_minor
from cashmatch.engine.receivables import RiskModel

from .conftest import ar_args, run_ar


def test_ar_is_a_registered_command() -> None:
    assert "ar" in COMMANDS


def _rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_outputs_match_the_reference_and_are_byte_identical(small_history, tmp_path) -> None:  # noqa: ANN001
    h, files = small_history
    as_of = h.as_of - timedelta(days=20)
    out1, out2 = tmp_path / "a", tmp_path / "b"
    assert run_ar(ar_args(files, out1, as_of.isoformat(), "--quiet")) == 0
    assert run_ar(ar_args(files, out2, as_of.isoformat(), "--quiet")) == 0
    for name in ("aging.csv", "metrics.csv", "accounts.csv", "report.html"):
        assert (out1 / name).read_bytes() == (out2 / name).read_bytes(), name
    # the figures, read back from the CSV files, equal the slow reference (tables read by the
    # same interchange readers the command uses)
    inv = io.read_invoices(files["invoices"]).table
    ref = reference(
        invoices=inv,
        payments=io.read_payments(files["payments"]).table,
        allocations=io.read_allocations(files["allocations"]).table,
        adjustments=io.read_adjustments(files["adjustments"], invoices=inv).table,
        promises=io.read_promises(files["promises"]).table,
        as_of=as_of,
        period_days=90,
        grace=RiskModel.default().promise_grace_days,
    )
    metrics = _rows(out1 / "metrics.csv")
    assert [m["currency"] for m in metrics] == sorted(ref["metrics"])
    for m in metrics:
        r = ref["metrics"][m["currency"]]
        for k in ("ar", "current_ar", "sales", "overdue", "ar_start", "write_offs"):
            assert m[k] == format_minor(r[k], m["currency"]), k
        for k in ("dso", "best_possible_dso", "add", "cei", "turnover", "bad_debt_ratio"):
            want = "" if r[k] is None else f"{float(r[k]):.4f}"
            assert m[k] == want, (k, m[k], want)
    aging = _rows(out1 / "aging.csv")
    assert [(a["customer_id"], a["currency"]) for a in aging] == sorted(ref["aging"])
    for a in aging:
        cells = ref["aging"][(a["customer_id"], a["currency"])]
        assert a["total"] == format_minor(cells["total"], a["currency"])
        assert a["90_plus"] == format_minor(cells["90_plus"], a["currency"])
    accounts = _rows(out1 / "accounts.csv")
    assert [(a["customer_id"], a["currency"]) for a in accounts] == sorted(ref["accounts"])
    for a in accounts:
        r = ref["accounts"][(a["customer_id"], a["currency"])]
        assert a["open"] == format_minor(r["open"], a["currency"])
        assert int(a["promises_broken"]) == r["promises_broken"]
        want = (
            "" if r["avg_days_beyond_terms"] is None else f"{float(r['avg_days_beyond_terms']):.4f}"
        )
        assert a["avg_days_beyond_terms"] == want
        assert a["at_risk"] in ("true", "false") and 0 <= int(a["risk_score"]) <= 100
        assert (a["risk_reasons"] != "") == (int(a["risk_score"]) > 0)


def test_parquet_output_keeps_minor_units(small_history, tmp_path) -> None:  # noqa: ANN001
    h, files = small_history
    assert (
        run_ar(
            ar_args(
                files,
                tmp_path,
                h.as_of.isoformat(),
                "--format",
                "parquet",
                "--quiet",
                "--no-report",
            )
        )
        == 0
    )
    metrics = pq.read_table(tmp_path / "metrics.parquet")
    csv_dir = tmp_path / "csv"
    run_ar(ar_args(files, csv_dir, h.as_of.isoformat(), "--quiet", "--no-report"))

    for row, text in zip(metrics.to_pylist(), _rows(csv_dir / "metrics.csv"), strict=True):
        assert format_minor(row["ar"], row["currency"]) == text["ar"]
    assert not (tmp_path / "report.html").exists()


def test_bad_rows_are_reported_with_file_and_line_and_the_rest_goes_on(
    small_history,
    tmp_path,
    capsys,  # noqa: ANN001
) -> None:
    h, files = small_history
    broken = dict(files)
    lines = files["invoices"].read_text().splitlines()
    lines[3] = lines[3].replace("2026-", "2026/", 1)  # line 4: a date that is not ISO
    lines[5] = lines[5].replace("USD", "US$", 1) if "USD" in lines[5] else lines[5] + ",extra"
    broken["invoices"] = tmp_path / "invoices.csv"
    broken["invoices"].write_text("\n".join(lines) + "\n")
    assert run_ar(ar_args(broken, tmp_path / "out", h.as_of.isoformat())) == 0
    err = capsys.readouterr().err
    assert f"{broken['invoices']}:4" in err
    assert f"{broken['invoices']}:6" in err
    # the other rows were analysed: every customer still has its account row
    accounts = _rows(tmp_path / "out" / "accounts.csv")
    assert len(accounts) >= h.labels.num_rows - 2


def test_missing_file_is_a_clear_error(tmp_path) -> None:  # noqa: ANN001
    from cashmatch.engine.errors import InvalidInput

    with pytest.raises(InvalidInput, match="--payments: no such file"):
        (tmp_path / "inv.csv").write_text("invoice_id,customer_id,amount,currency\n")
        run_ar(
            [
                "--invoices",
                str(tmp_path / "inv.csv"),
                "--payments",
                str(tmp_path / "nope.csv"),
                "--allocations",
                str(tmp_path / "x.csv"),
                "--as-of",
                "2026-01-01",
                "--out",
                str(tmp_path / "o"),
            ]
        )


def test_summary_names_the_accounts_most_at_risk(small_history, tmp_path, capsys) -> None:  # noqa: ANN001
    h, files = small_history
    run_ar(ar_args(files, tmp_path, h.as_of.isoformat(), "--no-report"))
    out = capsys.readouterr().out
    assert "Receivables as of" in out and "Accounts most at risk" in out
    flagged = [a for a in _rows(tmp_path / "accounts.csv") if a["at_risk"] == "true"]
    top = max(flagged, key=lambda a: int(a["risk_score"]))
    assert top["customer_id"] in out


def test_through_the_cashmatch_command_line(small_history, tmp_path, capsys) -> None:  # noqa: ANN001
    from cashmatch.cli import main

    h, files = small_history
    assert main(["ar", *ar_args(files, tmp_path, h.as_of.isoformat(), "--no-report")]) == 0
    assert (tmp_path / "metrics.csv").exists()
    argv = ar_args(files, tmp_path, h.as_of.isoformat())
    argv[argv.index("--payments") + 1] = str(tmp_path / "missing.csv")
    assert main(["ar", *argv]) == 2
    assert "--payments: no such file" in capsys.readouterr().err


def test_bad_allocation_rows_are_reported_with_file_and_line(
    small_history,
    tmp_path,
    capsys,  # noqa: ANN001
) -> None:
    """A bad value is reported with its file and line; rows naming an unknown payment or
    invoice (found when joining, after reading) are reported with the file and their ids, and
    the other rows go on."""
    h, files = small_history
    broken = dict(files)
    lines = files["allocations"].read_text().splitlines()
    head = lines[0].replace('"', "").split(",")
    applied, pay, inv = (head.index(c) for c in ("applied_amount", "payment_id", "invoice_id"))

    def edit(line_no: int, col: int, value: str) -> None:
        cells = lines[line_no - 1].split(",")
        cells[col] = value
        lines[line_no - 1] = ",".join(cells)

    edit(3, applied, '"12.3.4"')  # not an amount
    edit(6, pay, '"P-NOT-A-PAYMENT"')
    edit(9, inv, '"INV-NOT-AN-INVOICE"')
    broken["allocations"] = tmp_path / "allocations.csv"
    broken["allocations"].write_text("\n".join(lines) + "\n")
    assert run_ar(ar_args(broken, tmp_path / "out", h.as_of.isoformat())) == 0
    err = capsys.readouterr().err.replace("\n", " ")
    where = str(broken["allocations"])
    assert f"{where}:3 " in err and "expected a decimal amount" in err
    assert f"{where}:4" not in err
    assert "name a payment not in the payments file" in err and "P-NOT-A-PAYMENT" in err
    assert "name an invoice not in the invoices file" in err and "INV-NOT-AN-INVOICE" in err
    assert err.count(where) == 3
    assert len(_rows(tmp_path / "out" / "accounts.csv")) >= h.labels.num_rows - 3
