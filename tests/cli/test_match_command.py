"""`cashmatch match` end to end through the command line."""

import csv
from pathlib import Path

import pyarrow.csv as pacsv

from cashmatch.cli import main
from cashmatch.engine import evaluate
from cashmatch.engine.interchange import read_allocations
from cashmatch.fixtures import HERE
from cashmatch.fixtures.generator import generate_day, write_day


def _match(day: Path, out: Path, *extra: str) -> int:
    return main(["match", "--invoices", str(day / "invoices.csv"),
                 "--payments", str(day / "payments.csv"),
                 "--remittances", str(day / "remittances.csv"),
                 "--customers", str(day / "customers.csv"), "--out", str(out), *extra])


def test_two_runs_are_byte_identical_and_parquet_agrees(tmp_path, capsys):
    write_day(generate_day(payments=300, seed=11), tmp_path / "day")
    assert _match(tmp_path / "day", tmp_path / "a") == 0
    assert _match(tmp_path / "day", tmp_path / "b") == 0
    for name in ("allocations.csv", "exceptions.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert _match(tmp_path / "day", tmp_path / "p", "--format", "parquet") == 0
    csv_rows = read_allocations(tmp_path / "a" / "allocations.csv").table
    pq_rows = read_allocations(tmp_path / "p" / "allocations.parquet").table
    assert csv_rows.column("applied_amount").equals(pq_rows.column("applied_amount"))
    printed = capsys.readouterr().out
    assert "auto-applied" in printed and "payments" in printed


def test_the_program_writes_what_main_writes(tmp_path):
    """``python -m cashmatch`` (cli.script: main, then the exit with the objects frozen out of
    the collector) writes the files main() writes, and exits with its codes."""
    import subprocess
    import sys

    write_day(generate_day(payments=200, seed=3), tmp_path / "day")
    assert _match(tmp_path / "day", tmp_path / "a") == 0
    args = [sys.executable, "-m", "cashmatch", "match"]
    for name in ("invoices", "payments", "remittances", "customers"):
        args += [f"--{name}", str(tmp_path / "day" / f"{name}.csv")]
    done = subprocess.run([*args, "--out", str(tmp_path / "b")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    for name in ("allocations.csv", "exceptions.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    missing = [*args[:6], "--payments", str(tmp_path / "none.csv"), "--out", str(tmp_path / "c")]
    done = subprocess.run(missing, capture_output=True, text=True)
    assert done.returncode == 2 and "none.csv" in done.stderr


def test_a_bank_file_is_matched_directly(tmp_path, capsys):
    sta = HERE / "parsers" / "mt940" / "german_subfields.sta"
    inv = tmp_path / "invoices.csv"
    inv.write_text(
        "invoice_id,customer_id,customer_name,amount,currency\n"
        "RE 2026-0311,C1,Mustermann Maschinenbau GmbH,1225.00,EUR\n"
        "RE 2026-0312,C1,Mustermann Maschinenbau GmbH,1225.00,EUR\n"
        "RE 2026-0415,C2,Baeckerei Korn und Sohn,119.00,EUR\n"
    )
    out = tmp_path / "out"
    assert main(["match", "--invoices", str(inv), "--payments", str(sta),
                 "--out", str(out)]) == 0
    rows = pacsv.read_csv(out / "allocations.csv").to_pylist()
    assert {r["invoice_id"] for r in rows} == {"RE 2026-0311", "RE 2026-0312", "RE 2026-0415"}
    exceptions = pacsv.read_csv(out / "exceptions.csv").to_pylist()
    assert exceptions == []  # the debit in the file is not a payment to apply


def test_bad_rows_are_reported_with_file_and_line(tmp_path, capsys):
    day = tmp_path / "day"
    write_day(generate_day(payments=40, seed=2), day)
    with open(day / "payments.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    rows[3][rows[0].index("value_date")] = "16/03/2026"  # line 4 of the file
    with open(day / "payments.csv", "w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    # and in the other files (read side by side): an amount of each, on line 3
    for name, column in (("invoices", "amount"), ("remittances", "paid_amount")):
        with open(day / f"{name}.csv", newline="") as fh:
            rows = list(csv.reader(fh))
        rows[2][rows[0].index(column)] = "12,50"
        with open(day / f"{name}.csv", "w", newline="") as fh:
            csv.writer(fh).writerows(rows)
    assert _match(day, tmp_path / "out") == 0
    err = capsys.readouterr().err
    assert "payments.csv:4" in err
    named = (("invoices", 3), ("payments", 4), ("remittances", 3))
    at = [err.index(f"{name}.csv:{line}") for name, line in named]
    assert at == sorted(at)  # in the order of the files
    assert "4 row(s) could not be read" not in err and "3 row(s) could not be read" in err
    assert (tmp_path / "out" / "allocations.csv").stat().st_size > 0  # the other rows went on


def test_accuracy_floor_on_a_generated_day(tmp_path):
    """Not a timing: the one-to-one floor of the foundation issue on a 2,000-payment day."""
    from cashmatch.engine.matcher import match

    day = generate_day(payments=2000, seed=21)
    result = match(invoices=day.invoices, payments=day.payments,
                   remittances=day.remittances, customers=day.customers)
    score = evaluate.evaluate(truth=day.truth, allocations=result.allocations,
                              exceptions=result.exceptions)
    assert score.overall.unmatchable_applied == 0
    assert score.overall.wrong_auto_pct <= 0.2
    assert score.one_to_one.auto_pct >= 95.0
    assert score.one_to_one.wrong_auto_pct <= 0.2


def test_a_large_match_loads_its_passes_ahead_and_writes_the_same(tmp_path, monkeypatch):
    """Every match counted large (the compiled passes loaded on a thread once the files are
    read; the exceptions written on a thread beside the allocations, each in halves) writes
    what it writes without: the same passes, loaded earlier."""
    from cashmatch.commands import match as match_command
    from cashmatch.engine import interchange, kernel_cache

    started = []
    real = kernel_cache.load_in_background
    monkeypatch.setattr(kernel_cache, "load_in_background",
                        lambda: started.append(real()) or started[-1])
    write_day(generate_day(payments=300, seed=5), tmp_path / "day")
    assert _match(tmp_path / "day", tmp_path / "a") == 0
    assert not started  # a small day: nothing loaded ahead
    monkeypatch.setattr(match_command, "LARGE_MATCH_BYTES", 0)
    monkeypatch.setattr(interchange, "PARALLEL_WRITE_ROWS", 1)
    assert _match(tmp_path / "day", tmp_path / "b") == 0
    assert len(started) == 1
    started[0].join(timeout=120)
    for name in ("allocations.csv", "exceptions.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_exit_now_runs_the_exit_handlers_flushes_and_waits_for_threads(tmp_path):
    """cli.exit_now ends the process without the interpreter's teardown, yet as the usual exit
    would: atexit handlers run, buffered output written, a running thread that is no daemon
    waited for, the exit code kept."""
    import subprocess
    import sys

    code = f"""
import atexit, sys, threading, time
from cashmatch.cli import exit_now
atexit.register(lambda: open({str(tmp_path / "atexit")!r}, "a").write(sys.argv[1]))
print("x" * 100_000, end="")
sys.stderr.write("err")
if sys.argv[1] == "thread":
    def late():
        time.sleep(0.3)
        open({str(tmp_path / "thread")!r}, "w").write("done")
    threading.Thread(target=late).start()
exit_now(3)
"""
    for mode in ("plain", "thread"):
        done = subprocess.run([sys.executable, "-c", code, mode], capture_output=True, text=True)
        assert done.returncode == 3, done.stderr
        assert done.stdout == "x" * 100_000 and done.stderr == "err"
    assert (tmp_path / "atexit").read_text() == "plainthread"
    assert (tmp_path / "thread").read_text() == "done"
