import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cashmatch.engine import interchange as io
from cashmatch.engine import schema as S


def test_bad_rows_are_reported_and_the_rest_go_on(tmp_path):
    f = tmp_path / "invoices.csv"
    f.write_text(
        "invoice_id,customer_id,amount,currency,due_date,discount_pct,discount_days\n"
        "INV-1,C1,1234.50,USD,2026-01-10,2,10\n"
        "INV-2,C1,12,JPY,2026-01-11,,\n"
        "INV-3,C2,1.234,USD,2026-01-12,,\n"
        "INV-4,C2,100.00,USD,2026-02-30,,\n"
        "INV-5,,5.00,KWD,,,\n"
        '"INV-6, x",C3,7.125,KWD,,1.5,\n'
    )
    r = io.read_invoices(f)
    assert r.table.schema == S.INVOICES
    assert r.table.column("invoice_id").to_pylist() == ["INV-1", "INV-2", "INV-6, x"]
    assert r.table.column("amount").to_pylist() == [123450, 12, 7125]
    assert r.table.column("discount_bp").to_pylist() == [200, None, 150]
    got = {(p.line, p.column) for p in r.problems}
    assert got == {(4, "amount"), (5, "due_date"), (6, "customer_id")}
    assert all(p.source == str(f) for p in r.problems)
    assert "2026-02-30" in str(next(p for p in r.problems if p.column == "due_date"))


def test_each_problem_names_its_own_line_after_skipped_and_blank_lines(tmp_path):
    f = tmp_path / "payments.csv"
    f.write_bytes(
        b"payment_id,value_date,amount,currency\r\n"
        b"P1,2026-01-02,10.00,USD\r\n"
        b"P2,2026-01-02,10.00,USD,extra\r\n"  # line 3: a column too many, skipped
        b"\r\n"  # line 4: blank
        b"P3,2026-01-02,1x.00,USD\r\n"  # line 5
        b"P\xff4,2026-01-02,10.00,USD\r\n"  # line 6: not UTF-8
        b"P5,2026-02-30,10.00,USD\r\n"  # line 7
        b"P6,2026-01-02,10.00,USD\r\n"
    )
    r = io.read_payments(f)
    assert r.table.column("payment_id").to_pylist() == ["P1", "P6"]
    assert [(p.line, p.column) for p in r.problems] == [
        (3, None), (5, "amount"), (6, None), (7, "value_date")]
    assert "0xff" in r.problems[2].reason and "2026-02-30" in r.problems[3].reason


def test_missing_required_column_is_a_clear_error(tmp_path):
    f = tmp_path / "payments.csv"
    f.write_text("payment_id,amount,currency\nP1,1.00,USD\n")
    try:
        io.read_payments(f)
    except io.InvalidInput as exc:
        assert "value_date" in str(exc) and str(f) in str(exc)
    else:
        raise AssertionError("expected InvalidInput")


def test_required_columns_outside_only_can_be_left_unchecked(tmp_path):
    f = tmp_path / "payments.csv"
    f.write_text(
        "payment_id,value_date,amount,currency\n"
        "P1,2026-01-05,1.00,USD\n"
        "P2,2026-01-06,1.2.3,USD\n"  # line 3: a bad amount
        "P3,2026-01-07,2.00,\n"  # line 4: no currency
        "P4,2026-13-01,3.00,USD\n"  # line 5: a bad date (still read, so still reported)
    )
    only = ("payment_id", "value_date")
    checked = io.read_payments(f, only=only)
    assert {(p.line, p.column) for p in checked.problems} == {
        (3, "amount"),
        (4, "amount"),  # no currency: the amount cannot be read
        (5, "value_date"),
    }
    assert checked.table.column("payment_id").to_pylist() == ["P1"]
    loose = io.read_payments(f, only=only, check_required=False)
    assert {(p.line, p.column) for p in loose.problems} == {(5, "value_date")}
    assert loose.table.schema == S.PAYMENTS
    assert loose.table.column("payment_id").to_pylist() == ["P1", "P2", "P3"]
    assert loose.table.column("amount").null_count == 3
    # a clean file takes the fast path and skips the same columns
    clean = tmp_path / "clean.csv"
    clean.write_text("payment_id,value_date,amount,currency\nP1,2026-01-05,1.00,USD\n")
    fast = io.read_payments(clean, only=only, check_required=False)
    assert fast.problems == [] and fast.table.column("amount").to_pylist() == [None]
    assert fast.table.column("value_date").to_pylist()[0].isoformat() == "2026-01-05"


def test_outputs_are_sorted_and_formatted(tmp_path):
    import pyarrow as pa

    alloc = pa.table(
        {"payment_id": ["P2", "P1"], "invoice_id": ["I1", "I9"], "applied_amount": [100, 5],
         "adjustment_amount": [0, 250], "adjustment_reason": [None, "BANK_FEE"],
         "invoice_open_after": [0, 0], "confidence": [0.99, 0.951234], "rule": ["a", "b"],
         "currency": ["USD", "JPY"]}, schema=S.ALLOCATIONS)
    io.write_allocations(alloc, tmp_path / "a.csv")
    rows = pacsv.read_csv(tmp_path / "a.csv").to_pylist()
    assert [r["payment_id"] for r in rows] == ["P1", "P2"]
    assert rows[0]["adjustment_amount"] == 250 and rows[1]["applied_amount"] == 1.0
    text = (tmp_path / "a.csv").read_text()
    assert '"1.00"' in text or ",1.00," in text
    assert "0.9512" in text
    io.write_allocations(alloc, tmp_path / "a.parquet")
    back = io.read_allocations(tmp_path / "a.parquet").table
    assert sorted(back.column("applied_amount").to_pylist()) == [5, 100]


@pytest.mark.parametrize("rows", [1, 2, 7, 8])
def test_a_large_output_written_in_two_halves_is_the_same_file(tmp_path, monkeypatch, rows):
    """_write_csv's halves (taken in the sorted order, formatted and written side by side, the
    second appended) give the bytes of one write of the sorted table: the header once, every
    row once, in order, quoting as needed."""
    rng = np.random.default_rng(rows)
    pids = [f"P{i:03d}" for i in rng.integers(0, 50, rows)]
    alloc = pa.table(
        {"payment_id": pids, "invoice_id": [f'I,{i}"x' if i % 3 else f"I{i}" for i in range(rows)],
         "applied_amount": rng.integers(-10**12, 10**12, rows),
         "adjustment_amount": rng.integers(0, 1000, rows),
         "adjustment_reason": [None if i % 2 else "BANK_FEE" for i in range(rows)],
         "invoice_open_after": rng.integers(0, 10**6, rows), "confidence": rng.random(rows),
         "rule": ["a"] * rows, "currency": rng.choice(["USD", "JPY", "BHD"], rows).tolist()},
        schema=S.ALLOCATIONS)
    io.write_allocations(alloc, tmp_path / "one.csv")
    monkeypatch.setattr(io, "PARALLEL_WRITE_ROWS", 1)
    io.write_allocations(alloc, tmp_path / "halves.csv")
    one = (tmp_path / "one.csv").read_bytes()
    assert (tmp_path / "halves.csv").read_bytes() == one
    # (each half takes its sorted rows: the bytes of the table sorted first, then written)
    io.write_table(io.sort_allocations(alloc), tmp_path / "sorted.csv",
                   csv_view=io.allocations_for_csv)
    assert (tmp_path / "sorted.csv").read_bytes() == one
    assert one.count(b"payment_id") == 1 and len(pacsv.read_csv(tmp_path / "one.csv")) == rows


def test_fast_typed_path_equals_the_careful_reader(tmp_path):
    """A clean file takes the fast path (from its path or its bytes, unless it has a float
    column): the careful reader's table. One bad amount sends the file to the careful reader,
    which names it."""
    from cashmatch.engine.interchange import _read_careful, _read_typed
    from cashmatch.fixtures.history import generate_history, write_history

    paths = write_history(generate_history(n_customers=30, seed=5), tmp_path / "h")
    readers = {
        "invoices": (io.read_invoices, io.INVOICE_COLUMNS, S.INVOICES),
        "payments": (io.read_payments, io.PAYMENT_COLUMNS, S.PAYMENTS),
        "allocations": (io.read_allocations, io.ALLOCATION_COLUMNS, S.ALLOCATIONS),
        "promises": (io.read_promises, io.PROMISE_COLUMNS, S.PROMISES),
    }
    for name, (read, columns, schema) in readers.items():
        raw = paths[name].read_bytes()
        if name != "allocations":  # (a float column: the careful reader's)
            assert _read_typed(raw, columns, schema) is not None, name
        careful = _read_careful(raw, columns, schema, source=str(paths[name]))
        assert not careful.problems
        for src in (paths[name], raw):
            fast = read(src)
            assert not fast.problems
            assert fast.table.combine_chunks().equals(careful.table.combine_chunks()), name
    lines = paths["allocations"].read_text().splitlines()
    lines[7] = lines[7].replace('"', "").split(",")
    lines[7][2] = "12,5"
    lines[7] = ",".join(f'"{x}"' for x in lines[7])
    broken = tmp_path / "allocations.csv"
    broken.write_text("\n".join(lines) + "\n")
    r = io.read_allocations(broken)
    assert [(p.source, p.line, p.column) for p in r.problems] == [
        (str(broken), 8, "applied_amount")
    ]
    assert r.table.num_rows == len(lines) - 2


def test_an_amount_without_a_currency_is_reported_by_every_reader(tmp_path) -> None:
    """An amount whose row has no currency (an optional currency column) cannot be read: the
    row is reported, whichever reader would have read the clean file (remittance advices, from
    bytes, and allocations, from a path, both clean otherwise), and the other rows go on."""
    rem = b"payment_id,invoice_ref,paid_amount,currency\nP1,INV-1,10.00,EUR\nP2,INV-2,20.00,\n"
    assert io.read_remittances(rem.replace(b",\n", b",JPY\n")).problems == []  # clean: fast
    r = io.read_remittances(rem, source="rem.csv")
    assert [(p.source, p.line, p.column) for p in r.problems] == [("rem.csv", 3, "paid_amount")]
    assert r.table.column("paid_amount").to_pylist() == [1000]
    path = tmp_path / "allocations.csv"
    path.write_bytes(b"payment_id,invoice_id,applied_amount,currency\nP1,I1,1.00,USD\nP2,I2,2,\n")
    r = io.read_allocations(path)
    assert [(p.line, p.column) for p in r.problems] == [(3, "applied_amount")]
    assert r.table.column("payment_id").to_pylist() == ["P1"]


@settings(deadline=None)
@given(
    st.lists(
        st.one_of(
            st.none(),
            st.floats(allow_nan=False, width=64),
            st.floats(-1e7, 1e7),
            st.integers(-(10**9), 10**9).map(lambda k: k / 10**4),  # on and near the grid
            st.integers(-(10**9), 10**9).map(lambda k: (k + 0.5) / 10**4),
            st.floats(1e10, 1e12),
        ),
        max_size=40,
    )
)
def test_ratio_text_prints_like_printf(values) -> None:  # noqa: ANN001
    """Ratios in the receivables CSVs: "%.4f" of the value rounded to 4 places, nulls empty."""
    got = io._ratio_text(pa.array(values, pa.float64())).to_pylist()
    want = ["" if v is None else "%.4f" % (np.round(v, 4) + 0.0) for v in values]
    assert got == want


def test_fast_path_over_many_blocks_equals_the_careful_reader(tmp_path, monkeypatch) -> None:
    """A file of several Arrow blocks (long rows first), with currencies of 0, 2 and 3
    decimals, lower-case and padded codes and empty amounts in later blocks: the fast path
    (amounts converted block by block after the parse) gives the careful reader's table, each
    column in one array."""
    from cashmatch.engine.interchange import ALLOCATION_COLUMNS, _read_careful, _read_typed

    lines = ["payment_id,invoice_id,applied_amount,adjustment_amount,rule,currency"]
    monkeypatch.setattr(io, "BLOCK_SIZE", 1 << 18)
    for i in range(60_000):
        cur = ["USD", "JPY", "KWD", "eur", " GBP "][i % (5 if i > 30_000 else 3)]
        applied = {"JPY": f"{i}", "KWD": f"{i}.125"}.get(cur, f"{i}.5")
        adjustment = "" if i > 40_000 and i % 7 == 0 else "-1"
        rule = "x" * 400 if i < 300 else "history"
        lines.append(f"P{i:07d},INV-{i % 977:05d},{applied},{adjustment},{rule},{cur}")
    path = tmp_path / "allocations.csv"
    path.write_text("\n".join(lines) + "\n")
    assert path.stat().st_size > 8 * io.BLOCK_SIZE  # several blocks
    for threads in (True, False):
        assert _read_typed(path, ALLOCATION_COLUMNS, S.ALLOCATIONS, threads) is not None
        fast = io.read_allocations(path, threads=threads)
        careful = _read_careful(path.read_bytes(), ALLOCATION_COLUMNS, S.ALLOCATIONS)
        assert not fast.problems and not careful.problems
        assert fast.table.combine_chunks().equals(careful.table.combine_chunks())
        # one array per column, however many blocks: the engine's sorts and takes copy less
        assert [c.num_chunks for c in fast.table.columns] == [1] * fast.table.num_columns
    assert fast.table.column("applied_amount")[2].as_py() == 2125  # KWD: 3 decimals
    assert fast.table.column("adjustment_amount").null_count > 0


@pytest.mark.parametrize(
    "row, column",
    [(45_000, "applied_amount"), (59_999, "applied_amount"), (52_000, "currency"),
     (30_001, "invoice_id")],
)
def test_a_flaw_in_a_late_block_sends_the_file_to_the_careful_reader(
    tmp_path, monkeypatch, row, column
) -> None:
    """One flaw in a later block of a large file (the compiled amount pass's size): a bad
    amount, an amount without a currency, an empty required id. The fast path refuses the
    file, and the reader reports that row's line as the careful reader does, the rest read."""
    from cashmatch.engine.interchange import ALLOCATION_COLUMNS, _read_careful, _read_typed
    from cashmatch.engine.money import KERNEL_ROWS

    monkeypatch.setattr(io, "BLOCK_SIZE", 1 << 18)
    lines = ["payment_id,invoice_id,applied_amount,currency"]
    for i in range(60_000):
        lines.append(f"P{i:07d},INV-{i % 977:05d},{i}.25,{['USD', 'eur', 'KWD'][i % 3]}")
    fields = lines[row + 1].split(",")
    index = {"invoice_id": 1, "applied_amount": 2, "currency": 3}[column]
    fields[index] = "1x.50" if column == "applied_amount" else ""
    lines[row + 1] = ",".join(fields)
    path = tmp_path / "allocations.csv"
    path.write_text("\n".join(lines) + "\n")
    assert len(lines) > KERNEL_ROWS and path.stat().st_size > 4 * io.BLOCK_SIZE
    careful = _read_careful(path.read_bytes(), ALLOCATION_COLUMNS, S.ALLOCATIONS,
                            source=str(path))
    want = "applied_amount" if column == "currency" else column  # (the amount lacks one)
    for threads in (False, True):  # (Arrow's streaming reader, its table reader)
        assert _read_typed(path, ALLOCATION_COLUMNS, S.ALLOCATIONS, threads) is None
        read = io.read_allocations(path, threads=threads)
        assert [(p.line, p.column) for p in read.problems] == [(row + 2, want)]
        assert read.problems == careful.problems
        assert read.table.equals(careful.table) and read.table.num_rows == 60_000 - 1


@pytest.mark.parametrize("flaw", [None, "padded", "malformed"])
def test_unread_columns_are_checked_alike_and_left_in_their_blocks(
    tmp_path, monkeypatch, flaw
) -> None:
    """``unread`` columns (the command line's invoices' ``po_number``): the same table, the
    same problems, but those columns in Arrow's blocks (not joined: no copy); padded values
    trimmed as in the joined columns (then in one array); a malformed row still reported on
    its line."""
    monkeypatch.setattr(io, "BLOCK_SIZE", 1 << 16)
    lines = ["invoice_id,customer_id,amount,currency,po_number"]
    for i in range(20_000):
        po = "" if i % 7 == 0 else f"PO{i}"
        po = f" {po} " if flaw == "padded" and i % 5 == 0 else po
        lines.append(f"INV-{i:06d},C{i % 97},{i}.25,{['USD', 'EUR'][i % 2]},{po}")
    if flaw == "malformed":
        lines[15_001] += ",extra"
    path = tmp_path / "invoices.csv"
    path.write_text("\n".join(lines) + "\n")
    assert path.stat().st_size > 4 * io.BLOCK_SIZE
    for threads in (True, False):
        joined = io.read_invoices(path, threads=threads)
        loose = io.read_invoices(path, threads=threads, unread=("po_number",))
        assert loose.problems == joined.problems
        assert [p.line for p in loose.problems] == ([15_002] if flaw == "malformed" else [])
        assert loose.table.combine_chunks().equals(joined.table.combine_chunks())
        assert loose.table.column("po_number")[5].as_py() == "PO5"
        if flaw is None:  # (the fast path's blocks; the careful reader's table is whole)
            assert loose.table.column("po_number").num_chunks > 1
            assert loose.table.column("invoice_id").num_chunks == 1
            assert joined.table.column("po_number").num_chunks == 1


def test_the_readers_import_no_numba() -> None:
    """The command line's readers (interchange files, the parsers' door) import nothing of
    numba: their parses run as numba is imported beside them (~0.5 s of CPU), the amounts
    converted after."""
    code = (
        "import sys, cashmatch.engine.interchange, cashmatch.parsers, cashmatch.commands.match; "
        "assert 'numba' not in sys.modules, 'numba imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
