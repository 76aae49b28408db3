"""Streaming payments in chunks: CSV rows split right, one chunk equals the in-memory run, and
many chunks keep every invariant (each credit accounted for, no invoice applied beyond its
amount across chunks)."""

from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pytest

from cashmatch.cli import main
from cashmatch.engine import streaming
from cashmatch.engine.interchange import (
    read_allocations,
    read_exceptions,
    read_invoices,
    read_payments,
)
from cashmatch.fixtures.generator import generate_day, write_day


def test_csv_chunks_split_between_rows_never_inside_quotes(tmp_path, monkeypatch):
    path = tmp_path / "p.csv"
    path.write_bytes(b'a,b\n1,"x\ny"\n2,z\n3,w\n4,"q""\n"\n5,e')
    monkeypatch.setattr(streaming, "READ_BLOCK", 3)  # blocks end mid-row and mid-quote
    for rows in (1, 2, 3, 10):
        chunks = list(streaming.csv_chunks(path, rows))
        assert all(c.startswith(b"a,b\n") for c, _ in chunks)
        body = b"".join(c[4:] for c, _ in chunks)
        assert body == b'1,"x\ny"\n2,z\n3,w\n4,"q""\n"\n5,e'
        assert [line for _, line in chunks] == list(range(2, 7, rows))[: len(chunks)]
        assert len(chunks) == -(-5 // rows)


def _match(day: Path, out: Path, *extra: str) -> int:
    return main(
        [
            "match",
            "--invoices",
            str(day / "invoices.csv"),
            "--payments",
            str(day / "payments.csv"),
            "--remittances",
            str(day / "remittances.csv"),
            "--customers",
            str(day / "customers.csv"),
            "--out",
            str(out),
            *extra,
        ]
    )


@pytest.fixture(scope="module")
def day(tmp_path_factory):
    d = tmp_path_factory.mktemp("day")
    write_day(generate_day(payments=400, seed=3), d)
    return d


def test_one_chunk_is_byte_identical_to_the_in_memory_run(day, tmp_path):
    assert _match(day, tmp_path / "mem") == 0
    assert _match(day, tmp_path / "one", "--chunk-size", "100000") == 0
    for name in ("allocations.csv", "exceptions.csv"):
        assert (tmp_path / "mem" / name).read_bytes() == (tmp_path / "one" / name).read_bytes()


def test_many_chunks_keep_the_invariants_across_chunks(day, tmp_path):
    assert _match(day, tmp_path / "many", "--chunk-size", "70") == 0
    al = read_allocations(tmp_path / "many" / "allocations.csv").table
    ex = read_exceptions(tmp_path / "many" / "exceptions.csv").table
    pay = read_payments(day / "payments.csv").table
    credits = pay.filter(pc.equal(pc.fill_null(pay.column("direction"), "CRDT"), "CRDT"))
    seen = set(al.column("payment_id").to_pylist()) | set(ex.column("payment_id").to_pylist())
    assert seen == set(credits.column("payment_id").to_pylist())
    # no invoice is applied beyond its open amount, though its payments sit in different chunks
    inv = read_invoices(day / "invoices.csv").table
    used = al.group_by("invoice_id").aggregate(
        [("applied_amount", "sum"), ("adjustment_amount", "sum")]
    )
    idx = np.asarray(pc.index_in(used.column("invoice_id"), value_set=inv.column("invoice_id")))
    total = np.asarray(used.column("applied_amount_sum")) + np.asarray(
        used.column("adjustment_amount_sum")
    )
    assert (total <= np.asarray(inv.column("amount"))[idx]).all()
    assert al.num_rows > 200  # the chunks did apply cash


def test_parquet_payments_stream_in_batches_like_the_in_memory_run(tmp_path):
    d = tmp_path / "pq"
    write_day(generate_day(payments=250, seed=4), d, format="parquet")
    args = ["match", "--invoices", str(d / "invoices.parquet"),
            "--payments", str(d / "payments.parquet"),
            "--customers", str(d / "customers.parquet")]  # fmt: skip
    assert main([*args, "--out", str(tmp_path / "mem")]) == 0
    assert main([*args, "--out", str(tmp_path / "one"), "--chunk-size", "1000"]) == 0
    for name in ("allocations.csv", "exceptions.csv"):
        assert (tmp_path / "mem" / name).read_bytes() == (tmp_path / "one" / name).read_bytes()
    chunks = list(streaming.payment_chunks(d / "payments.parquet", 100))
    assert [c.table.num_rows for c in chunks] == [100, 100, 50]
