"""Payments larger than memory: read in chunks, matched chunk after chunk, written as they go.

The open-invoice ledger is loaded once as Arrow columns (about a hundred bytes per invoice);
the payments file (interchange CSV or Parquet) is read ``chunk_size`` rows at a time, each
chunk is matched by :func:`cashmatch.engine.matcher.match` against what the earlier chunks left
open, and its allocations and exceptions are appended to the output files. Memory is bounded
by the ledger plus one chunk, whatever the number of payments.

The trade-off, exactly: chunks are sequential. A chunk sees the open amounts the earlier
chunks left, never the payments of later chunks. So the result equals the in-memory one when
no invoice is a candidate of payments in two different chunks (in particular whenever one
chunk holds every payment); otherwise a payment of an earlier chunk may take an invoice that
the whole-day conflict resolution would have given to a stronger payment of a later chunk,
and a later payment naming an invoice an earlier chunk settled is a ``DUPLICATE``. Order the
payments file by value date (as the in-memory matcher orders payments) to get the
first-come-first-served reading of that rule. Deterministic for a given file and chunk size.
Within each chunk the output rows are sorted as the in-memory writer sorts them; the files
are the concatenation of the chunks.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from cashmatch.engine import interchange as inter
from cashmatch.engine import schema as S
from cashmatch.engine.errors import RowProblem
from cashmatch.engine.executors import Executor
from cashmatch.engine.policy import Policy
from cashmatch.engine.result import MatchResult, Summary

READ_BLOCK = 1 << 24  # bytes read from a CSV at a time


def csv_chunks(path: Path, rows: int) -> Iterator[tuple[bytes, int]]:
    """``(header + up to rows lines, line number of the first line)`` for a CSV file.

    Rows end at newlines outside quotes (a quoted field may hold a newline): the parity of the
    quote characters before each newline, found with numpy over each block read.
    """
    rows = max(int(rows), 1)
    with open(path, "rb") as fh:
        header = fh.readline()
        if header.startswith(b"\xef\xbb\xbf"):
            header = header[3:]
        if not header.endswith(b"\n"):
            header += b"\n"
        line_no = 2
        carry = b""
        while True:
            block = fh.read(READ_BLOCK)
            data = carry + block
            if not data:
                break
            arr = np.frombuffer(data, np.uint8)
            even = np.cumsum(arr == ord('"')) % 2 == 0
            ends = np.flatnonzero((arr == ord("\n")) & even)
            start = 0
            for c in range(len(ends) // rows):
                end = int(ends[(c + 1) * rows - 1]) + 1
                yield header + data[start:end], line_no
                line_no += rows
                start = end
            carry = data[start:]
            if not block:
                if carry.strip():
                    yield header + carry, line_no
                break


def payment_chunks(path: Path, rows: int) -> Iterator[inter.ReadResult]:
    """The payments of an interchange CSV or Parquet file, ``rows`` at a time, read and checked
    by :func:`cashmatch.engine.interchange.read_payments` (problems keep their file lines)."""
    name = str(path)
    with open(path, "rb") as fh:
        parquet = fh.read(4) == b"PAR1"
    if parquet:
        first = 0
        for batch in pq.ParquetFile(path).iter_batches(batch_size=rows):
            buf = io.BytesIO()
            pq.write_table(pa.Table.from_batches([batch]), buf)
            r = inter.read_payments(buf.getvalue(), source=name)
            yield _shift(r, first)
            first += batch.num_rows
        return
    for data, line in csv_chunks(path, rows):
        yield _shift(inter.read_payments(data, source=name), line - 2)


def _shift(r: inter.ReadResult, offset: int) -> inter.ReadResult:
    if offset and r.problems:
        r.problems = [
            dataclasses.replace(p, line=p.line + offset) if p.line is not None else p
            for p in r.problems
        ]
    return r


def merge_summaries(a: Summary | None, b: Summary) -> Summary:
    if a is None:
        return b

    def add(x: dict[str, int], y: dict[str, int]) -> dict[str, int]:
        out = dict(x)
        for k, v in y.items():
            out[k] = out.get(k, 0) + v
        return dict(sorted(out.items()))

    return Summary(
        payments=a.payments + b.payments,
        auto_applied=a.auto_applied + b.auto_applied,
        exceptions_by_reason=add(a.exceptions_by_reason, b.exceptions_by_reason),
        amount_by_currency=add(a.amount_by_currency, b.amount_by_currency),
        applied_by_currency=add(a.applied_by_currency, b.applied_by_currency),
        unapplied_by_currency=add(a.unapplied_by_currency, b.unapplied_by_currency),
    )


class ResultWriter:
    """Allocations and exceptions appended chunk by chunk (CSV or Parquet by suffix)."""

    def __init__(self, *, allocations: Path, exceptions: Path) -> None:
        self._paths = {"a": allocations, "e": exceptions}
        self._writers: dict[str, object] = {}

    def _write(self, key: str, table: pa.Table) -> None:
        path = self._paths[key]
        if path.suffix == ".parquet":
            w = self._writers.get(key)
            if w is None:
                w = self._writers[key] = pq.ParquetWriter(path, table.schema)
            w.write_table(table)
            return
        view = (inter.allocations_for_csv if key == "a" else inter.exceptions_for_csv)(table)
        w = self._writers.get(key)
        if w is None:
            w = self._writers[key] = pacsv.CSVWriter(
                path, view.schema, write_options=pacsv.WriteOptions(quoting_style="needed")
            )
        w.write_table(view)

    def write(self, result: MatchResult) -> None:
        self._write("a", inter.sort_allocations(result.allocations))
        self._write("e", inter.sort_exceptions(result.exceptions))

    def close(self) -> None:
        for key in ("a", "e"):  # a file for each, even when no chunk had a row for it
            if key not in self._writers:
                self._write(key, S.empty(S.ALLOCATIONS if key == "a" else S.EXCEPTIONS))
        for w in self._writers.values():
            w.close()


def match_chunks(
    *,
    invoices: pa.Table,
    chunks: Iterator[pa.Table],
    remittances: pa.Table | None = None,
    customers: pa.Table | None = None,
    policy: Policy | None = None,
    executor: Executor | None = None,
    on_result: Callable[[MatchResult], None],
) -> Summary:
    """Match payment ``chunks`` one after another against one invoice ledger; each chunk's
    result goes to ``on_result`` and the summary of the whole day comes back.

    The ledger side (invoice keys, customer index) is prepared once; after each chunk the open
    amounts of the invoices it applied to are reduced (applied plus adjustments), so a later
    chunk sees what is still open.
    """
    from cashmatch.engine.ledger import prepare_ledger
    from cashmatch.engine.matcher import match

    prepared = prepare_ledger(invoices=invoices, customers=customers,  # (one part: the book)
                              keep_invoices=executor is not None and executor.workers > 1)
    open_amount = prepared.book.amount.copy()
    ids = prepared.book.ids  # (not prepared.invoices: a sorted copy of every column, kept)
    summary: Summary | None = None
    for payments in chunks:
        result = match(
            payments=payments,
            remittances=remittances,
            policy=policy,
            executor=executor,
            ledger=prepared.with_open_amounts(open_amount),
        )
        al = result.allocations
        if al.num_rows:
            used = al.group_by("invoice_id").aggregate(
                [("applied_amount", "sum"), ("adjustment_amount", "sum")]
            )
            idx = np.asarray(pc.fill_null(pc.index_in(ids, value_set=used.column("invoice_id")),
                                          -1), np.int64)  # fmt: skip
            spent = np.asarray(used.column("applied_amount_sum"), np.int64) + np.asarray(
                used.column("adjustment_amount_sum"), np.int64
            )
            hit = idx >= 0
            open_amount[hit] -= spent[idx[hit]]
        on_result(result)
        summary = merge_summaries(summary, result.summary)
    return summary if summary is not None else merge_summaries(None, Summary(0, 0, {}, {}, {}, {}))


def problems_of(results: list[inter.ReadResult]) -> list[RowProblem]:
    return [p for r in results for p in r.problems]
