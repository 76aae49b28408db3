"""Scoring a match result against the truth of a labelled day.

Truth file (``truth.csv`` / ``truth.parquet``, schema :data:`cashmatch.engine.schema.TRUTH`):

| column | meaning |
|---|---|
| payment_id | |
| scenario | what kind of credit it is (``clean_ref``, ``multi_invoice``, ``trap_amount``, ...) |
| matchable | ``true`` when some open invoice is really paid by it |
| invoice_ids | ``;``-separated invoices it truly pays (empty when not matchable) |
| applied_amounts | ``;``-separated decimal amounts, the cash applied to each invoice, aligned |
| currency | *extra*: the payment's currency (to read the amounts exactly) |
| customer_id | *extra*: the customer whose invoices it pays |
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from cashmatch.engine import schema as S
from cashmatch.engine.errors import InvalidInput, RowProblem
from cashmatch.engine.interchange import ReadResult, Source, _read_text_table, _text
from cashmatch.engine.money import format_minor_array, parse_minor_array

# ---------------------------------------------------------------- truth files


def _list_parents(lists: pa.ListArray) -> np.ndarray:
    return np.asarray(pc.list_parent_indices(lists), dtype=np.int64)


def truth_for_csv(truth: pa.Table) -> pa.Table:
    amounts = truth.column("applied_amounts").combine_chunks()
    parents = _list_parents(amounts)
    cur = pc.take(truth.column("currency").combine_chunks(), pa.array(parents))
    flat = format_minor_array(pc.list_flatten(amounts), cur)
    offsets = amounts.offsets
    text_lists = pa.ListArray.from_arrays(offsets, flat)
    empty = pa.scalar([], pa.list_(pa.string()))
    return pa.table(
        {
            "payment_id": truth.column("payment_id"),
            "scenario": truth.column("scenario"),
            "matchable": pc.if_else(truth.column("matchable"), "true", "false"),
            "invoice_ids": pc.binary_join(pc.fill_null(truth.column("invoice_ids"), empty), ";"),
            "applied_amounts": pc.binary_join(pc.fill_null(text_lists, empty), ";"),
            "currency": pc.fill_null(truth.column("currency"), ""),
            "customer_id": pc.fill_null(truth.column("customer_id"), ""),
        }
    )


def write_truth(truth: pa.Table, path: str | Path) -> None:
    """Truth as CSV (decimal strings) or Parquet (int64 minor units), by suffix."""
    path = Path(path)
    truth = truth.sort_by([("payment_id", "ascending")])
    if path.suffix == ".parquet":
        pq.write_table(truth, path)
    else:
        pacsv.write_csv(
            truth_for_csv(truth), path, write_options=pacsv.WriteOptions(quoting_style="needed")
        )


def read_truth(src: Source, *, source: str | None = None) -> ReadResult:
    """Read a truth file; rows that cannot be read are reported (line, column) and left out."""
    name = source or ("<bytes>" if isinstance(src, bytes) else str(src))
    problems: list[RowProblem] = []
    raw = _read_text_table(src, name, problems)
    for col in ("payment_id", "scenario", "matchable", "invoice_ids", "applied_amounts"):
        if col not in raw.column_names:
            raise InvalidInput(f"{name}: missing required column {col!r}")
    if raw.schema.field("applied_amounts").type != pa.string():  # parquet, already typed
        return ReadResult(S.conform(raw, S.TRUTH), problems)
    n = raw.num_rows
    lines = np.arange(2, n + 2)
    bad = np.zeros(n, dtype=bool)

    def report(mask: np.ndarray, column: str, reason: str) -> None:
        for i in np.flatnonzero(mask & ~bad):
            problems.append(RowProblem(name, int(lines[i]), column, reason))
        bad[mask] = True

    pid = _text(raw.column("payment_id"))
    report(np.asarray(pid.is_null(), bool), "payment_id", "required value is empty")
    matchable_txt = pc.utf8_lower(pc.fill_null(_text(raw.column("matchable")), ""))
    is_true = np.asarray(pc.is_in(matchable_txt, value_set=pa.array(["true", "1", "yes"])), bool)
    is_false = np.asarray(pc.is_in(matchable_txt, value_set=pa.array(["false", "0", "no"])), bool)
    report(~is_true & ~is_false, "matchable", "expected true or false")
    currency = (
        pc.utf8_upper(_text(raw.column("currency")))
        if "currency" in raw.column_names
        else pa.nulls(n, pa.string())
    )
    currency = pc.fill_null(currency, "USD")

    def split(col: str) -> pa.ListArray:
        parts = pc.split_pattern(pc.fill_null(_text(raw.column(col)), ""), ";")
        flat = pc.utf8_trim_whitespace(pc.list_flatten(parts))
        parents = _list_parents(parts)
        keep = np.asarray(pc.not_equal(flat, ""), bool)
        counts = np.bincount(parents[keep], minlength=n)
        offsets = pa.array(np.r_[0, np.cumsum(counts)].astype(np.int32))
        return pa.ListArray.from_arrays(offsets, pc.filter(flat, pa.array(keep)))

    ids = split("invoice_ids")
    amount_text = split("applied_amounts")
    parents = _list_parents(amount_text)
    flat_cur = pc.take(currency, pa.array(parents))
    values, errors = parse_minor_array(pc.list_flatten(amount_text), flat_cur)
    failed = np.zeros(n, dtype=bool)
    failed[parents[np.not_equal(errors, None)]] = True
    report(failed, "applied_amounts", "expected ';'-separated decimal amounts")
    id_len = np.asarray(pc.list_value_length(ids), dtype=np.int64)
    amt_len = np.asarray(pc.list_value_length(amount_text), dtype=np.int64)
    report(id_len != amt_len, "applied_amounts", "not as many amounts as invoice_ids")
    report(is_false & (id_len > 0), "invoice_ids", "an unmatchable payment names invoices")
    amounts = pa.ListArray.from_arrays(amount_text.offsets, pa.array(values, pa.int64()))
    table = pa.table(
        {
            "payment_id": pid,
            "scenario": pc.fill_null(_text(raw.column("scenario")), "unknown"),
            "matchable": pa.array(is_true),
            "invoice_ids": ids,
            "applied_amounts": amounts,
            "currency": currency,
            "customer_id": _text(raw.column("customer_id"))
            if "customer_id" in raw.column_names
            else pa.nulls(n, pa.string()),
        }
    )
    table = S.conform(table, S.TRUTH)
    if bad.any():
        table = table.filter(pa.array(~bad))
    return ReadResult(table, sorted(problems, key=lambda p: p.line or 0))
