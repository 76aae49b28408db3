"""Interchange files (``spec/interchange.md``): CSV and Parquet in, CSV and Parquet out.

Each input kind is declared once as a list of :class:`Column` specs. Reading is vectorised:
Arrow reads every column as text, then each column is converted as a whole; a row whose value
does not convert is reported as a :class:`RowProblem` (file, line, column, reason) and left
out, and the other rows go on.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from cashmatch.engine import schema as S
from cashmatch.engine.errors import InvalidInput, RowProblem
from cashmatch.engine.money import (
    KERNEL_ROWS,
    decimal_text,
    exponents_of,
    format_minor_array,
    minor_exponents,
    parse_minor_array,
    parse_plain_minor,
)
from cashmatch.engine.normalize import string_parts
from cashmatch.engine.threads import side_by_side

Source = str | Path | bytes


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    kind: str  # "str" | "date" | "money" | "int" | "float" | "list" | "percent_bp"
    required: bool = False
    target: str | None = None  # schema field name when it differs from the CSV column


@dataclass(slots=True)
class ReadResult:
    table: pa.Table
    problems: list[RowProblem] = field(default_factory=list)


INVOICE_COLUMNS = [
    Column("invoice_id", "str", True),
    Column("customer_id", "str", True),
    Column("customer_name", "str"),
    Column("amount", "money", True),
    Column("currency", "str", True),
    Column("issue_date", "date"),
    Column("due_date", "date"),
    Column("po_number", "str"),
    Column("discount_pct", "percent_bp", target="discount_bp"),
    Column("discount_days", "int"),
]
CUSTOMER_COLUMNS = [
    Column("customer_id", "str", True),
    Column("name", "str", True),
    Column("accounts", "list"),
    Column("aliases", "list"),
    Column("parent_id", "str"),
]
PAYMENT_COLUMNS = [
    Column("payment_id", "str", True),
    Column("value_date", "date", True),
    Column("amount", "money", True),
    Column("currency", "str", True),
    Column("payer_name", "str"),
    Column("payer_account", "str"),
    Column("reference", "str"),
    Column("end_to_end_id", "str"),
    Column("direction", "str"),
    Column("bank_code", "str"),
    Column("statement_id", "str"),
]
REMITTANCE_COLUMNS = [
    Column("payment_id", "str"),
    Column("end_to_end_id", "str"),
    Column("invoice_ref", "str", True),
    Column("paid_amount", "money", True),
    Column("discount_amount", "money"),
    Column("deduction_amount", "money"),
    Column("reason_code", "str"),
    Column("currency", "str"),
]
ALLOCATION_COLUMNS = [
    Column("payment_id", "str", True),
    Column("invoice_id", "str", True),
    Column("applied_amount", "money", True),
    Column("adjustment_amount", "money"),
    Column("adjustment_reason", "str"),
    Column("invoice_open_after", "money"),
    Column("confidence", "float"),
    Column("rule", "str"),
    Column("currency", "str"),
]
ADJUSTMENT_COLUMNS = [
    Column("invoice_id", "str", True),
    Column("date", "date", True),
    Column("amount", "money", True),
    Column("reason", "str"),
    Column("currency", "str"),
]
PROMISE_COLUMNS = [
    Column("customer_id", "str", True),
    Column("invoice_id", "str"),
    Column("amount", "money", True),
    Column("currency", "str", True),
    Column("promised_date", "date", True),
    Column("made_on", "date"),
]


def _source_name(src: Source, source: str | None) -> str:
    if source:
        return source
    return "<bytes>" if isinstance(src, bytes) else str(src)


def _is_parquet(src: Source) -> bool:
    if isinstance(src, bytes):
        return src[:4] == b"PAR1"
    with open(src, "rb") as fh:
        return fh.read(4) == b"PAR1"


@dataclass(frozen=True)
class TextTable:
    """A file read as text columns, and the line of the file each row came from."""

    table: pa.Table
    lines: np.ndarray  # int64, per row: its line in the file (the header is line 1)


def _read_text_table(src: Source, name: str, problems: list[RowProblem]) -> TextTable:
    """Every column as (nullable) text; malformed CSV rows and lines that are not UTF-8 text
    reported, not fatal (the other rows go on, each with its own line)."""
    if _is_parquet(src):
        data = pq.read_table(io.BytesIO(src) if isinstance(src, bytes) else src)
        return TextTable(data, np.arange(2, data.num_rows + 2, dtype=np.int64))
    raw = src if isinstance(src, bytes) else Path(src).read_bytes()
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    raw = _utf8_lines(raw, name, problems)
    first_line = raw.split(b"\n", 1)[0].decode("utf-8", "replace").strip("\r")
    names = [c.strip().strip('"') for c in first_line.split(",")]
    skipped: list[int | None] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        skipped.append(row.number)
        problems.append(
            RowProblem(
                name,
                row.number,
                None,
                f"expected {row.expected_columns} columns, found {row.actual_columns}",
            )
        )
        return "skip"

    try:
        table = pacsv.read_csv(
            io.BytesIO(raw),
            read_options=pacsv.ReadOptions(use_threads=False, block_size=1 << 22),
            parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names},
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{name}: not a readable CSV file: {exc}") from exc
    return TextTable(table, _row_lines(raw, skipped, table.num_rows))


def _utf8_lines(raw: bytes, name: str, problems: list[RowProblem]) -> bytes:
    """``raw`` with each line that is not UTF-8 text reported and emptied (its newline kept, so
    every other line keeps its number; Arrow skips an empty line). Checked line by line only
    when the file as a whole does not decode."""
    try:
        raw.decode("utf-8")
        return raw
    except UnicodeDecodeError:
        pass
    lines = raw.split(b"\n")
    for i, text in enumerate(lines):
        try:
            text.decode("utf-8")
        except UnicodeDecodeError as exc:
            where = f"byte 0x{text[exc.start]:02x} at character {exc.start + 1}"
            if i == 0:
                raise InvalidInput(
                    f"{name}: line 1 (the header) is not UTF-8 text ({where})") from exc
            problems.append(RowProblem(name, i + 1, None, f"not UTF-8 text ({where})"))
            lines[i] = b""
    return b"\n".join(lines)


def _row_lines(raw: bytes, skipped: list[int | None], rows: int) -> np.ndarray:
    """The line of each row Arrow read from ``raw``: the lines that are not empty (nor a lone
    carriage return), after the header's, less those the invalid-row handler skipped. Should
    the count disagree with the rows read (a line ending Arrow knows and this does not, such
    as a lone carriage return), the rows are numbered one after the other as before."""
    buf = np.frombuffer(raw, np.uint8)  # (not empty: Arrow refuses an empty file)
    ends = np.flatnonzero(buf == 10)
    starts = np.concatenate([[0], ends + 1])
    length = np.append(ends, len(buf)) - starts
    lone_cr = (length == 1) & (buf[np.minimum(starts, len(buf) - 1)] == 13)
    lines = np.flatnonzero((length > 0) & ~lone_cr)[1:] + 1  # after the header
    if None not in skipped and skipped:
        lines = lines[~np.isin(lines, np.asarray(skipped, np.int64))]
    if len(lines) != rows:
        return np.arange(2, rows + 2, dtype=np.int64)
    return lines.astype(np.int64)


def _text(col: pa.ChunkedArray) -> pa.Array:
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    if not pa.types.is_string(arr.type) and not pa.types.is_large_string(arr.type):
        arr = pc.cast(arr, pa.string())
    trimmed = pc.utf8_trim_whitespace(arr)
    return pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed)


_FAST_TYPES = {
    "str": pa.string(),
    "date": pa.date32(),
    "money": pa.string(),  # converted exactly by money.parse_plain_minor
    "int": pa.int32(),
    "percent_bp": pa.decimal128(9, 2),  # unscaled value = basis points
}
# CSV bytes per block of the fast path: 4 MiB (1 MiB blocks touched ~100 MiB less memory
# reading the 5M history but cost 0.3-0.5 s more CPU)
BLOCK_SIZE = 1 << 22
_WHITESPACE = np.zeros(256, dtype=bool)
_WHITESPACE[[9, 10, 11, 12, 13, 32]] = True
_LOWER = np.zeros(256, dtype=bool)
_LOWER[ord("a") : ord("z") + 1] = True


def _has_edge_whitespace(col: pa.Array | pa.ChunkedArray) -> bool:
    """Does any string start or end with whitespace? (numpy over the Arrow buffers)

    A chunk without any byte <= 0x20 has none (one vectorised compare); otherwise the first
    and last byte of each string are looked at. Null and empty slots may look at a
    neighbour's byte: at worst a needless careful trim."""
    for arr in col.chunks if isinstance(col, pa.ChunkedArray) else [col]:
        offsets, data = string_parts(arr)
        data = data[offsets[0] : offsets[-1]] if len(arr) else data[:0]
        if len(data) == 0 or not (data <= 32).any():
            continue
        offsets = offsets - offsets[0]
        last = len(data) - 1
        first = data[np.minimum(offsets[:-1], last)]
        end = data[np.clip(offsets[1:] - 1, 0, last)]
        if _WHITESPACE[first].any() or _WHITESPACE[end].any():
            return True
    return False


def _has_lowercase(col: pa.Array | pa.ChunkedArray) -> bool:
    chunks = col.chunks if isinstance(col, pa.ChunkedArray) else [col]
    return any(_LOWER[string_parts(a)[1]].any() for a in chunks if len(a))


def _read_typed(
    src: Source, columns: Sequence[Column], out_schema: pa.Schema, threads: bool = True,
    unread: Collection[str] = (),
) -> pa.Table | None:
    """The fast path for clean CSV files (a path, or the bytes of a file already read): Arrow
    parses the file block by block, each column's blocks are joined into one array at the end
    (see ``_contiguous``; the ``unread`` columns, which the caller never reads, are checked
    alike but left in the blocks: no copy), and the amounts are converted to minor units after
    the parse, block by block into one int64 column (no float, no loop per row; the amounts'
    text, ~10 bytes a row, is all that is held beyond the columns). Nothing of the parse waits
    for numba: a reader started as the process starts parses its whole file while numba is
    imported and the compiled amount pass loaded (~0.5 s) elsewhere.

    Returns ``None`` whenever anything is not plainly clean (a malformed row, an empty required
    value, a bad date or amount, an unknown currency, an amount without a currency, a list or
    float column, a BOM...): the careful text path then reads the file and reports every
    problem with its line.
    """
    if _is_parquet(src):
        return None
    if isinstance(src, bytes):  # a file already read (the parsers' door): Arrow reads it in place
        head, stream = src[: 1 << 16], pa.BufferReader(src)
    else:
        with open(src, "rb") as fh:
            head = fh.read(1 << 16)
        stream = src
    if head.startswith(b"\xef\xbb\xbf"):
        return None
    names = [
        c.strip().strip('"')
        for c in head.split(b"\n", 1)[0].decode("utf-8", "replace").strip("\r").split(",")
    ]
    wanted = [c for c in columns if c.name in names]
    if any(c.kind not in _FAST_TYPES for c in wanted):
        return None
    if any(c.required and c.name not in names for c in columns):
        return None
    money = [c for c in wanted if c.kind == "money"]
    if "currency" not in names and money:
        return None
    options = {
        "read_options": pacsv.ReadOptions(use_threads=threads, block_size=BLOCK_SIZE),
        "convert_options": pacsv.ConvertOptions(
            column_types={c.name: _FAST_TYPES[c.kind] for c in wanted},
            include_columns=[c.name for c in wanted],
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
        ),
    }
    try:
        chunks = _parsed_blocks(stream, options, [c.name for c in wanted], threads)
    except (pa.ArrowInvalid, UnicodeDecodeError, OSError):
        return None
    out: dict[str, pa.ChunkedArray | pa.Array] = {}
    for c in wanted:
        if c.kind == "money":
            continue
        target = c.target or c.name
        parts = chunks.pop(c.name)
        if c.name in unread:
            col = pa.chunked_array(parts, _FAST_TYPES[c.kind])
        else:
            col = _contiguous(parts, _FAST_TYPES[c.kind])
        if c.required and col.null_count:
            return None
        if c.kind == "str" and _has_edge_whitespace(col):
            col = _text(col)
        if c.name == "currency" and _has_lowercase(col):
            col = pc.utf8_upper(col)
        if c.kind == "percent_bp":
            col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
            if len(col) == 0:
                out[target] = pa.array([], pa.int32())
                continue
            unscaled = np.frombuffer(col.buffers()[1], dtype=np.int64)[
                2 * col.offset : 2 * (col.offset + len(col)) : 2
            ]
            col = pa.array(unscaled.astype(np.int32), mask=np.asarray(col.is_null()))
        out[target] = col
    if money:
        currency = out["currency"]  # (trimmed, upper case: the currencies as read)
        exps = _row_exponents(currency)
        if exps is None:
            return None
        for c in money:
            amounts = _minor_units(chunks.pop(c.name), currency, exps, required=c.required)
            if amounts is None:
                return None
            out[c.target or c.name] = amounts
    return S.conform(pa.table(out), out_schema)


def _parsed_blocks(
    stream: str | Path | pa.BufferReader, options: dict, names: list[str], threads: bool
) -> dict[str, list[pa.Array]]:
    """Each column's blocks as Arrow parses them: ``threads``, by its table reader, the blocks
    parsed side by side on Arrow's threads; else by its streaming reader, on the calling thread
    (where it parses whatever ``use_threads`` says: 0.46 of its 0.51 s at 1M invoices)."""
    if threads:
        table = pacsv.read_csv(stream, **options)
        return {name: table.column(name).chunks for name in names}
    chunks: dict[str, list[pa.Array]] = {name: [] for name in names}
    for batch in pacsv.open_csv(stream, **options):
        for name, parts in chunks.items():
            parts.append(batch.column(name))
    return chunks


def _minor_units(
    parts: list[pa.Array], currency: pa.Array | pa.ChunkedArray, exps: np.ndarray, *,
    required: bool
) -> pa.Array | None:
    """One amount column of Arrow's blocks (text) in minor units (int64, null where empty),
    block by block by :func:`parse_plain_minor` (every block by the compiled pass, or none);
    ``None`` where the careful path must say what is wrong: an amount that does not convert,
    an amount without a currency, an empty required amount."""
    n = sum(len(part) for part in parts)
    minor = np.empty(n, np.int64)
    kernel = n >= KERNEL_ROWS
    null_rows: list[np.ndarray] = []
    start = 0
    for part in parts:
        k = len(part)
        cur = currency.slice(start, k)
        if part.null_count:
            null_rows.append(start + np.flatnonzero(part.is_null()))
            if pc.any(pc.and_(part.is_valid(), cur.is_null())).as_py():
                return None
        elif cur.null_count:
            return None
        # (a space in an amount fails the parse)
        out = minor[start : start + k]
        if parse_plain_minor(part, exps[start : start + k], out=out, kernel=kernel) is None:
            return None
        start += k
    mask = None
    if null_rows:
        if required:
            return None
        mask = np.zeros(n, bool)
        mask[np.concatenate(null_rows)] = True
    return pa.array(minor, pa.int64(), mask=mask)


def _contiguous(parts: list[pa.Array], kind: pa.DataType) -> pa.Array | pa.ChunkedArray:
    """One column of Arrow's blocks, as one array: the engine sorts, takes and slices whole
    columns, and a column of many chunks cost it a copy at each (the 1M day's invoices came in
    64 chunks, its payments in 33); one copy here, a column at a time, as the blocks are let go.
    A string column too large for one array (its text over 2 GiB) stays in its chunks."""
    if not parts:
        return pa.array([], kind)
    try:
        return pa.concat_arrays(parts)
    except (pa.ArrowInvalid, pa.ArrowCapacityError):
        return pa.chunked_array(parts, kind)


def _row_exponents(cur: pa.Array) -> np.ndarray | None:
    """The minor-unit exponent per row (int8; 2 where no currency), ``None`` if a code is not
    a currency (the careful path reports it)."""
    exps = exponents_of(cur)
    unusable = exps < 0
    if unusable.any():
        if (unusable & np.asarray(cur.is_valid(), bool)).any():
            return None
        exps[unusable] = 2
    return exps


def read_table(
    src: Source,
    columns: Sequence[Column],
    out_schema: pa.Schema,
    *,
    source: str | None = None,
    currency_of: Callable[[pa.Table], pa.Array] | None = None,
    only: Sequence[str] | None = None,
    check_required: bool = True,
    threads: bool = True,
    unread: Collection[str] = (),
) -> ReadResult:
    """Read a CSV or Parquet interchange file into ``out_schema``.

    ``currency_of`` supplies a currency per row when the file has no currency column (remittance
    advices inherit their payment's currency). ``only`` names the columns the caller needs
    (required columns are always read and checked, unless ``check_required`` is false: then a
    required column outside ``only`` is neither parsed nor checked, for a caller that never
    looks at it); the others are left null, which lets a clean CSV file take the fast typed
    path. ``threads``: a clean CSV file is parsed on all cores; false, on the calling thread
    only (less CPU in all for a caller that reads several files side by side). ``unread``
    names columns the caller never reads: parsed and checked all the same, but a clean CSV
    file's are left in Arrow's blocks, not joined into one array (a copy saved).
    """
    if only is not None:
        columns = [c for c in columns if (c.required and check_required) or c.name in only]
    # (``currency_of`` is for a file without a currency column, which the fast path refuses)
    fast = _read_typed(src, columns, out_schema, threads, unread)
    if fast is not None:
        return ReadResult(fast, [])
    return _read_careful(src, columns, out_schema, source=source, currency_of=currency_of)


def _read_careful(
    src: Source,
    columns: Sequence[Column],
    out_schema: pa.Schema,
    *,
    source: str | None = None,
    currency_of: Callable[[pa.Table], pa.Array] | None = None,
) -> ReadResult:
    """:func:`read_table` column by column from text: every problem reported with its line."""
    name = _source_name(src, source)
    problems: list[RowProblem] = []
    text_table = _read_text_table(src, name, problems)
    raw, lines = text_table.table, text_table.lines
    n = raw.num_rows
    bad = np.zeros(n, dtype=bool)
    present = set(raw.column_names)
    for col in columns:
        if col.required and col.name not in present:
            if col.name == "currency" and currency_of is not None:
                continue
            raise InvalidInput(f"{name}: missing required column {col.name!r}")
    out: dict[str, pa.Array] = {}

    def report(mask: np.ndarray, column: str, reason: str) -> None:
        for i in np.flatnonzero(mask & ~bad):
            problems.append(RowProblem(name, int(lines[i]), column, reason))
        bad[mask] = True

    # currency first: money needs it
    if "currency" in present:
        currency = pc.utf8_upper(_text(raw.column("currency")))
    elif currency_of is not None:
        currency = currency_of(raw)
    else:
        currency = pa.nulls(n, pa.string())
    for col in columns:
        target = col.target or col.name
        if col.name not in present:
            if target == "currency":
                out[target] = currency
            continue
        is_parquet_typed = not (
            pa.types.is_string(raw.column(col.name).type)
            or pa.types.is_large_string(raw.column(col.name).type)
        )
        if col.kind == "money" and is_parquet_typed and pa.types.is_integer(
            raw.column(col.name).type
        ):
            values = raw.column(col.name).combine_chunks()
            missing = np.asarray(values.is_null(), dtype=bool)
            if col.required:
                report(missing, col.name, "required value is empty")
            out[target] = pc.cast(values, pa.int64())
            continue
        text = _text(raw.column(col.name)) if col.kind != "list" or not is_parquet_typed else None
        if col.kind == "list" and is_parquet_typed:
            out[target] = raw.column(col.name).combine_chunks()
            continue
        missing = np.asarray(text.is_null(), dtype=bool)
        if col.required:
            report(missing, col.name, "required value is empty")
        if col.kind == "str":
            out[target] = pc.utf8_upper(text) if target == "currency" else text
        elif col.kind == "date":
            parsed = pc.strptime(text, format="%Y-%m-%d", unit="s", error_is_null=True)
            # strptime rolls impossible dates over (2026-02-30 -> 03-02): round-trip to refuse them
            same = pc.equal(pc.strftime(parsed, format="%Y-%m-%d"), text)
            failed = ~np.asarray(pc.fill_null(same, False), dtype=bool) & ~missing
            report(failed, col.name, "expected a date YYYY-MM-DD, got {}")
            out[target] = pc.cast(parsed, pa.date32())
        elif col.kind == "money":
            values, errors = parse_minor_array(text, currency)
            failed = np.not_equal(errors, None) & ~missing
            for reason in {e for e in errors[failed]}:
                report(failed & (errors == reason), col.name, reason)
            out[target] = pa.array(values, mask=missing | failed)
        elif col.kind == "int":
            ok = np.asarray(
                pc.fill_null(pc.match_substring_regex(text, r"^[+-]?[0-9]{1,9}$"), False), bool
            )
            report(~ok & ~missing, col.name, "expected a whole number")
            vals = pc.cast(pc.if_else(pa.array(ok), text, None), pa.int32())
            out[target] = vals
        elif col.kind == "percent_bp":
            values, errors = parse_minor_array(text, pa.array(["USD"] * n))
            failed = np.not_equal(errors, None) & ~missing
            report(failed, col.name, "expected a percentage like 2 or 1.5")
            out[target] = pa.array(values.astype(np.int32), mask=missing | failed)
        elif col.kind == "float":
            ok = np.asarray(
                pc.fill_null(pc.match_substring_regex(text, r"^[+-]?[0-9]*\.?[0-9]+$"), False), bool
            )
            report(~ok & ~missing, col.name, "expected a number")
            out[target] = pc.cast(pc.if_else(pa.array(ok), text, None), pa.float64())
        elif col.kind == "list":
            out[target] = _clean_list(pc.split_pattern(pc.fill_null(text, ""), ";"))
        else:  # pragma: no cover - a spec error
            raise AssertionError(col.kind)
    # fix the "{}" placeholder in date reasons with the offending value
    problems = sorted((_fill_value(p, raw, lines) for p in problems), key=lambda p: (p.line or 0))
    table = S.conform(pa.table(out), out_schema)
    keep = ~bad
    if not keep.all():
        table = table.filter(pa.array(keep))
    return ReadResult(table, problems)


def _fill_value(p: RowProblem, raw: pa.Table, lines: np.ndarray) -> RowProblem:
    if "{}" not in p.reason or p.line is None or p.column is None:
        return p
    value = raw.column(p.column)[int(np.searchsorted(lines, p.line))].as_py()
    return RowProblem(p.source, p.line, p.column, p.reason.format(repr(value)))


def _clean_list(lists: pa.ListArray) -> pa.ListArray:
    """Trim every item of a list column and drop the empty ones (``"a; ;b"`` -> ``[a, b]``)."""
    arr = pa.ListArray.from_arrays(lists.offsets, pc.utf8_trim_whitespace(pc.list_flatten(lists)))
    flat = pc.list_flatten(arr)
    parent = pc.list_parent_indices(arr)
    keep = pc.not_equal(flat, "")
    flat = pc.filter(flat, keep)
    parent = np.asarray(pc.filter(parent, keep), dtype=np.int64)
    counts = np.bincount(parent, minlength=len(arr))
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), flat)


# ---------------------------------------------------------------- the four input kinds


def read_invoices(
    src: Source,
    *,
    source: str | None = None,
    only: Sequence[str] | None = None,
    threads: bool = True,
    unread: Collection[str] = (),
) -> ReadResult:
    return read_table(src, INVOICE_COLUMNS, S.INVOICES, source=source, only=only,
                      threads=threads, unread=unread)


def read_customers(src: Source, *, source: str | None = None) -> ReadResult:
    return read_table(src, CUSTOMER_COLUMNS, S.CUSTOMERS, source=source)


def read_payments(
    src: Source,
    *,
    source: str | None = None,
    only: Sequence[str] | None = None,
    check_required: bool = True,
    threads: bool = True,
) -> ReadResult:
    return read_table(
        src,
        PAYMENT_COLUMNS,
        S.PAYMENTS,
        source=source,
        only=only,
        check_required=check_required,
        threads=threads,
    )


def read_allocations(
    src: Source,
    *,
    source: str | None = None,
    only: Sequence[str] | None = None,
    threads: bool = True,
) -> ReadResult:
    return read_table(
        src, ALLOCATION_COLUMNS, S.ALLOCATIONS, source=source, only=only, threads=threads
    )


def read_adjustments(
    src: Source, *, invoices: pa.Table | None = None, source: str | None = None
) -> ReadResult:
    """Ledger adjustments (write-offs, credit notes); without a currency column each row takes
    its invoice's currency."""

    def currency_of(raw: pa.Table) -> pa.Array:
        n = raw.num_rows
        if invoices is None or invoices.num_rows == 0 or "invoice_id" not in raw.column_names:
            return pa.nulls(n, pa.string())
        idx = pc.index_in(_text(raw.column("invoice_id")), value_set=invoices.column("invoice_id"))
        cur = pc.take(invoices.column("currency"), idx)
        return cur.combine_chunks() if isinstance(cur, pa.ChunkedArray) else cur

    return read_table(
        src, ADJUSTMENT_COLUMNS, S.ADJUSTMENTS, source=source, currency_of=currency_of
    )


def read_promises(src: Source, *, source: str | None = None, threads: bool = True) -> ReadResult:
    return read_table(src, PROMISE_COLUMNS, S.PROMISES, source=source, threads=threads)


#: remittance lines as read (text columns) -> the currency of each line's payment
CurrencyLookup = Callable[[pa.Table], pa.Array]


def link_keys(lines: pa.Table) -> tuple[list[str], list[str]]:
    """The payment ids and end-to-end ids remittance lines name (to look their payments up)."""
    out = []
    for key in ("payment_id", "end_to_end_id"):
        found = _text(lines.column(key)).drop_null() if key in lines.column_names else []
        out.append(pc.unique(found).to_pylist() if len(found) else [])
    return out[0], out[1]


def currencies_of(payments: pa.Table | None) -> CurrencyLookup:
    """Each line takes the currency of the payment it names among ``payments`` (columns
    payment_id, end_to_end_id, currency), by end-to-end id first, then payment id."""

    def currency_of(raw: pa.Table) -> pa.Array:
        n = raw.num_rows
        if payments is None or payments.num_rows == 0:
            return pa.nulls(n, pa.string())
        result = pa.nulls(n, pa.string())
        for key in ("end_to_end_id", "payment_id"):
            if key not in raw.column_names:
                continue
            idx = pc.index_in(_text(raw.column(key)), value_set=payments.column(key))
            cur = pc.take(payments.column("currency"), idx)
            result = pc.coalesce(cur.combine_chunks() if hasattr(cur, "combine_chunks") else cur,
                                 result)
        return result

    return currency_of


def read_remittances(
    src: Source,
    *,
    payments: pa.Table | None = None,
    currency_of: CurrencyLookup | None = None,
    source: str | None = None,
) -> ReadResult:
    """Remittance lines; without a currency column each line takes its payment's currency:
    ``currency_of`` says it, or else it is looked up among ``payments``."""
    if currency_of is None:
        currency_of = currencies_of(payments)
    res = read_table(src, REMITTANCE_COLUMNS, S.REMITTANCES, source=source,
                     currency_of=currency_of)
    t = res.table
    no_link = np.asarray(
        pc.and_(pc.is_null(t.column("payment_id")), pc.is_null(t.column("end_to_end_id"))),
        dtype=bool,
    )
    if no_link.any():
        name = _source_name(src, source)
        res.problems.append(
            RowProblem(name, None, "payment_id", f"{int(no_link.sum())} lines name no payment")
        )
        res.table = t.filter(pa.array(~no_link))
    return res


# ---------------------------------------------------------------- outputs


#: the order of the written rows (a stable sort: rows equal in both keep theirs)
ALLOCATIONS_ORDER = [("payment_id", "ascending"), ("invoice_id", "ascending")]
EXCEPTIONS_ORDER = [("payment_id", "ascending"), ("reason", "ascending")]


def sort_allocations(table: pa.Table) -> pa.Table:
    return table.sort_by(ALLOCATIONS_ORDER)


def sort_exceptions(table: pa.Table) -> pa.Table:
    return table.sort_by(EXCEPTIONS_ORDER)


def allocations_for_csv(table: pa.Table) -> pa.Table:
    cur = table.column("currency")
    exps = minor_exponents(cur)  # once for the three amount columns
    return pa.table(
        {
            "payment_id": table.column("payment_id"),
            "invoice_id": table.column("invoice_id"),
            "applied_amount": decimal_text(table.column("applied_amount"), exps),
            "adjustment_amount": decimal_text(table.column("adjustment_amount"), exps),
            "adjustment_reason": pc.fill_null(table.column("adjustment_reason"), ""),
            "invoice_open_after": decimal_text(table.column("invoice_open_after"), exps),
            "confidence": _ratio_text(table.column("confidence")),  # in [0, 1]: "%.4f"
            "rule": table.column("rule"),
            "currency": cur,
        }
    )


def exceptions_for_csv(table: pa.Table) -> pa.Table:
    cur = table.column("currency")
    cands = table.column("candidates").combine_chunks()
    joined = pc.binary_join(pc.fill_null(cands, pa.scalar([], pa.list_(pa.string()))), ";")
    return pa.table(
        {
            "payment_id": table.column("payment_id"),
            "reason": table.column("reason"),
            "unapplied_amount": format_minor_array(table.column("unapplied_amount"), cur),
            "candidates": joined,
            "detail": pc.fill_null(table.column("detail"), ""),
            "currency": cur,
            "customer_id": pc.fill_null(table.column("customer_id"), ""),
        }
    )


def write_table(table: pa.Table, path: Path, *, csv_view: Callable[[pa.Table], pa.Table],
                sort_keys: list[tuple[str, str]] | None = None) -> None:
    """Write ``table`` as CSV (decimal strings) or Parquet (int64 minor units) by suffix, its
    rows sorted by ``sort_keys`` (``Table.sort_by``'s; None: as they are)."""
    path = Path(path)
    order = pc.sort_indices(table, sort_keys=sort_keys) if sort_keys else None
    if path.suffix == ".parquet":
        meta = dict(table.schema.metadata or {})
        meta[b"amounts"] = b"int64 minor units per ISO 4217 exponent of currency"
        table = table if order is None else table.take(order)
        pq.write_table(table.replace_schema_metadata(meta), path)
    else:
        _write_csv(table, path, csv_view, order)


#: from this many rows a table's CSV is written in two halves side by side (:func:`_write_csv`)
PARALLEL_WRITE_ROWS = 200_000


def _write_csv(table: pa.Table, path: Path, csv_view: Callable[[pa.Table], pa.Table],
               order: pa.Array | None = None) -> None:
    """``csv_view(table)`` written to ``path`` as CSV, its rows in ``order`` (None: as they
    are). A row's text depends on no other row: a large table's second half is taken, formatted
    and written to memory on a thread while its first half is taken, formatted and written to
    the file, then appended (the same bytes; at a million allocations ~0.09 s of ~0.18 s off
    the path, and half of the ~0.08 s take of the sorted rows)."""
    options = pacsv.WriteOptions(quoting_style="needed")

    def rows(start: int, stop: int) -> pa.Table:
        if order is None:
            return table.slice(start, stop - start)
        return table.take(order.slice(start, stop - start))

    if table.num_rows < PARALLEL_WRITE_ROWS:
        pacsv.write_csv(csv_view(rows(0, table.num_rows)), path, write_options=options)
        return
    half = table.num_rows // 2

    def head() -> None:
        pacsv.write_csv(csv_view(rows(0, half)), path, write_options=options)

    def tail() -> pa.Buffer:
        sink = pa.BufferOutputStream()
        pacsv.write_csv(csv_view(rows(half, table.num_rows)), sink, write_options=(
            pacsv.WriteOptions(quoting_style="needed", include_header=False)))
        return sink.getvalue()

    _, rest = side_by_side([head, tail], threads=True)
    with open(path, "ab") as f:
        f.write(rest)


def write_allocations(table: pa.Table, path: Path) -> None:
    write_table(table, path, csv_view=allocations_for_csv, sort_keys=ALLOCATIONS_ORDER)


def write_exceptions(table: pa.Table, path: Path) -> None:
    write_table(table, path, csv_view=exceptions_for_csv, sort_keys=EXCEPTIONS_ORDER)


# ---------------------------------------------------------------- receivables outputs


def _ratio_text(values: pa.ChunkedArray | pa.Array, decimals: int = 4) -> pa.Array:
    """Floats as fixed-decimal text (``45.1234``); nulls (undefined ratios) stay empty."""
    arr = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    v = np.asarray(pc.fill_null(arr, 0.0).to_numpy(zero_copy_only=False), dtype=np.float64)
    v = np.round(v, decimals) + 0.0  # no "-0.0000"
    scale = 10**decimals
    if decimals > 0 and len(v) and np.isfinite(v).all() and np.abs(v).max() < 2**50 / scale:
        # each value is the double nearest a whole number k of 10**-decimals, which "%.4f"
        # prints as k's digits: those are written (np.char.mod formats one by one)
        text = decimal_text(np.rint(v * scale).astype(np.int64), decimals)
    else:
        text = pa.array(
            np.char.mod(f"%.{decimals}f", v) if len(v) else np.array([], str), pa.string()
        )
    return pc.if_else(arr.is_null(), pa.scalar("", pa.string()), text) if arr.null_count else text


def receivables_for_csv(table: pa.Table) -> pa.Table:
    """The CSV view of any receivables output: money as decimals, ratios to 4 decimals,
    booleans as ``true``/``false``, nulls empty."""
    cols: dict[str, pa.Array] = {}
    for f in table.schema:
        col = table.column(f.name)
        if f.metadata and f.metadata.get(b"unit") == b"minor":
            cols[f.name] = format_minor_array(col, table.column("currency"))
        elif pa.types.is_floating(f.type):
            cols[f.name] = _ratio_text(col)
        elif pa.types.is_boolean(f.type):
            cols[f.name] = pc.if_else(col, "true", "false")
        elif pa.types.is_string(f.type):
            cols[f.name] = pc.fill_null(col, "")
        else:
            cols[f.name] = col
    return pa.table(cols)


def write_receivables(result: object, out_dir: Path, *, fmt: str = "csv") -> list[Path]:
    """Write ``aging``, ``metrics`` and ``accounts`` of a receivables result into ``out_dir``.

    CSV: decimal money strings; Parquet: int64 minor units (see the schema metadata)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    suffix = ".parquet" if fmt == "parquet" else ".csv"
    paths = []
    for name in ("aging", "metrics", "accounts"):
        path = out / f"{name}{suffix}"
        write_table(getattr(result, name), path, csv_view=receivables_for_csv)
        paths.append(path)
    return paths

# ---------------------------------------------------------------- inputs and exceptions, both ways

EXCEPTION_COLUMNS = [
    Column("payment_id", "str", True),
    Column("reason", "str", True),
    Column("unapplied_amount", "money", True),
    Column("candidates", "list"),
    Column("detail", "str"),
    Column("currency", "str"),
    Column("customer_id", "str"),
]


def read_exceptions(src: Source, *, source: str | None = None) -> ReadResult:
    return read_table(src, EXCEPTION_COLUMNS, S.EXCEPTIONS, source=source)


def interchange_view(table: pa.Table, columns: Sequence[Column], *, parquet: bool) -> pa.Table:
    """The interchange columns of ``table`` (a table in an engine schema), ready to write.

    CSV: money as decimal strings, lists ``;``-joined, percentages as decimals. Parquet: money
    stays int64 minor units beside ``currency``, lists stay lists, percentages as decimals (the
    reader parses them the same way from both).
    """
    n = table.num_rows
    cur = table.column("currency") if "currency" in table.column_names else pa.nulls(n, pa.string())
    out: dict[str, pa.Array | pa.ChunkedArray] = {}
    for col in columns:
        target = col.target or col.name
        if target not in table.column_names:
            continue
        values = table.column(target)
        if col.kind == "money":
            if not parquet:
                text = format_minor_array(pc.fill_null(values, 0), cur)
                values = pc.if_else(pc.is_null(values), pa.scalar(None, pa.string()), text)
        elif col.kind == "percent_bp":
            usd = pc.fill_null(pa.nulls(n, pa.string()), "USD")  # two decimals: 2.00 = 2%
            text = format_minor_array(pc.fill_null(values, 0), usd)
            values = pc.if_else(pc.is_null(values), pa.scalar(None, pa.string()), text)
        elif col.kind == "list" and not parquet:
            values = pc.binary_join(values, ";")
        out[col.name] = values
    return pa.table(out)


def _write_input(table: pa.Table, path: Path, columns: Sequence[Column]) -> None:
    path = Path(path)
    if path.suffix == ".parquet":
        view = interchange_view(table, columns, parquet=True)
        meta = {b"amounts": b"int64 minor units per ISO 4217 exponent of currency"}
        pq.write_table(view.replace_schema_metadata(meta), path)
    else:
        pacsv.write_csv(
            interchange_view(table, columns, parquet=False),
            path,
            write_options=pacsv.WriteOptions(quoting_style="needed"),
        )


def write_invoices(table: pa.Table, path: Path) -> None:
    """Open invoices (schema.INVOICES) as ``invoices.csv`` / ``.parquet`` by suffix."""
    _write_input(table, path, INVOICE_COLUMNS)


def write_customers(table: pa.Table, path: Path) -> None:
    _write_input(table, path, CUSTOMER_COLUMNS)


def write_payments(table: pa.Table, path: Path) -> None:
    _write_input(table, path, PAYMENT_COLUMNS)


def write_remittances(table: pa.Table, path: Path) -> None:
    _write_input(table, path, REMITTANCE_COLUMNS)
