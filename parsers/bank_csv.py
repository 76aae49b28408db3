"""Bank CSV exports, read through mapping profiles (TOML).

A profile says which header identifies the layout, the delimiter, the encoding (``auto`` or a
declared one), decimal and thousands separators, the date format, and which columns hold the
amount (one signed column, or separate debit and credit columns, or a direction marker column),
the currency, the payer and the reference. Built-in profiles live in ``parsers/profiles/``; a
profile is picked by the best header match or declared by name or path.

Encodings are never guessed silently into mojibake: a BOM wins, then strict UTF-8, then
cp1252; bytes cp1252 does not define are reported. A declared encoding that does not fit is an
error naming the line. Conversion is per column (Arrow compute), not per row.
"""

from __future__ import annotations

import csv
import hashlib
import io
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from cashmatch.engine import schema as S
from cashmatch.engine.errors import InvalidInput, RowProblem
from cashmatch.engine.money import parse_minor_array
from cashmatch.parsers._common import (
    CRDT,
    DBIT,
    NO_REFERENCE,
    ParseResult,
    check_size,
    decode_text,
    pause_gc,
    strict_dates,
)

NAME = "bank-csv"
KINDS = frozenset({"payments"})
PROFILE_DIR = Path(__file__).resolve().parent / "profiles"
_FIELDS = (
    "payment_id",
    "value_date",
    "amount",
    "credit",
    "debit",
    "direction",
    "currency",
    "payer_name",
    "payer_account",
    "reference",
    "end_to_end_id",
    "bank_code",
    "account",
)


@dataclass(frozen=True)
class Profile:
    name: str
    header: tuple[str, ...]
    columns: dict[str, tuple[str, ...]]
    delimiter: str = ","
    encoding: str = "auto"
    decimal: str = "."
    thousands: str = ""
    date_format: str = "%Y-%m-%d"
    currency: str | None = None
    description: str = ""
    credit_values: tuple[str, ...] = ("C", "CR", "CRDT", "H", "+")
    debit_values: tuple[str, ...] = ("D", "DR", "DBIT", "S", "-")
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        cols = self.columns
        if "value_date" not in cols:
            raise InvalidInput(f"profile {self.name}: columns.value_date is required")
        if "amount" not in cols and not ("credit" in cols or "debit" in cols):
            raise InvalidInput(
                f"profile {self.name}: map columns.amount, or columns.credit and columns.debit"
            )
        if len(self.delimiter) != 1:
            raise InvalidInput(f"profile {self.name}: delimiter must be one character")
        if self.decimal not in (".", ","):
            raise InvalidInput(f"profile {self.name}: decimal must be '.' or ','")
        if self.decimal == self.thousands:
            raise InvalidInput(f"profile {self.name}: decimal and thousands separators clash")
        if self.currency is None and "currency" not in cols:
            raise InvalidInput(f"profile {self.name}: give a currency or a currency column")
        unknown = set(cols) - set(_FIELDS)
        if unknown:
            raise InvalidInput(f"profile {self.name}: unknown column keys {sorted(unknown)}")

    @classmethod
    def from_toml(cls, text: str, *, origin: str) -> Profile:
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise InvalidInput(f"profile {origin}: not valid TOML: {exc}") from exc
        cols_raw = raw.pop("columns", {})
        dirs = raw.pop("direction_values", {})
        columns = {k: (v,) if isinstance(v, str) else tuple(v) for k, v in cols_raw.items()}
        known = {
            "name",
            "header",
            "delimiter",
            "encoding",
            "decimal",
            "thousands",
            "date_format",
            "currency",
            "description",
        }
        extra = {k: v for k, v in raw.items() if k not in known}
        if extra:
            raise InvalidInput(f"profile {origin}: unknown keys {sorted(extra)}")
        kwargs = {k: v for k, v in raw.items() if k in known}
        kwargs["header"] = tuple(kwargs.get("header", ()))
        kwargs.setdefault("name", Path(origin).stem)
        if "credit" in dirs:
            kwargs["credit_values"] = tuple(dirs["credit"])
        if "debit" in dirs:
            kwargs["debit_values"] = tuple(dirs["debit"])
        return cls(columns=columns, **kwargs)


@lru_cache(maxsize=1)
def builtin_profiles() -> dict[str, Profile]:
    out: dict[str, Profile] = {}
    for path in sorted(PROFILE_DIR.glob("*.toml")):
        p = Profile.from_toml(path.read_text("utf-8"), origin=str(path))
        out[p.name] = p
    return out


def load_profile(spec: str | Path) -> Profile:
    """A built-in profile by name, or a TOML file by path."""
    if isinstance(spec, str) and spec in builtin_profiles():
        return builtin_profiles()[spec]
    path = Path(spec)
    if not path.is_file():
        raise InvalidInput(
            f"unknown CSV profile {spec!r}; built in: "
            f"{', '.join(builtin_profiles())}, or give a TOML file"
        )
    return Profile.from_toml(path.read_text("utf-8"), origin=str(path))


def _cells(line: str, delimiter: str) -> list[str]:
    return [c.strip().strip('"').strip().lower() for c in line.split(delimiter)]


def _find_header(text: str, profile: Profile) -> int | None:
    """Index of the header line among the first lines (exports often carry a preamble)."""
    want = {h.lower() for h in profile.header}
    for i, line in enumerate(text.split("\n", 30)[:30]):
        if want <= set(_cells(line.rstrip("\r"), profile.delimiter)):
            return i
    return None


def match_profile(head_text: str) -> Profile | None:
    best: tuple[int, Profile] | None = None
    for p in builtin_profiles().values():
        if _find_header(head_text, p) is not None and (best is None or len(p.header) > best[0]):
            best = (len(p.header), p)
    return best[1] if best else None


def sniff(head: bytes) -> bool:
    text, _ = decode_text(head[:8192]) if head else ("", "")
    return match_profile(text) is not None


def _record_lines(
    body: str, delimiter: str, n_fields: int, header_at: int
) -> tuple[list[int], list[int]]:
    """The file line where each record after the header starts - a quoted field may hold line
    breaks, so records are not lines - split into the rows Arrow keeps (as many fields as the
    header) and the rows it hands to the invalid-row handler, each in file order."""
    valid: list[int] = []
    invalid: list[int] = []
    reader = csv.reader(io.StringIO(body), delimiter=delimiter)
    next(reader, None)  # the header, on file line header_at + 1
    start = header_at + reader.line_num + 1
    for record in reader:
        if record:  # Arrow skips empty lines
            (valid if len(record) == n_fields else invalid).append(start)
        start = header_at + reader.line_num + 1
    return valid, invalid


def _decode(data: bytes, profile: Profile, source: str, problems: list[RowProblem]) -> str:
    declared = None if profile.encoding.lower() == "auto" else profile.encoding
    try:
        text, used = decode_text(data, declared=declared)
    except InvalidInput as exc:
        raise InvalidInput(
            f"{source}: {exc} (profile {profile.name} declares {profile.encoding})"
        ) from exc
    if used == "latin-1":
        problems.append(
            RowProblem(
                source,
                None,
                "encoding",
                "bytes that neither UTF-8 nor cp1252 define; read as latin-1"
                " - declare the encoding in the profile if this is wrong",
            )
        )
    return text


def _amount_text(text: pa.Array, profile: Profile) -> tuple[pa.Array, np.ndarray]:
    """Locale amount text -> plain decimal text without sign, and a negative mask."""
    t = pc.utf8_trim_whitespace(pc.fill_null(text, ""))
    t = pc.replace_substring(t, "\u00a0", "")
    neg = np.asarray(pc.fill_null(pc.match_substring_regex(t, r"^-|-$|^\(.*\)$"), False), bool)
    t = pc.replace_substring_regex(t, r"^[+-]|[+-]$|^\(|\)$", "")
    for sym in ("EUR", "USD", "GBP", "CHF", "€", "$", "£"):
        t = pc.replace_substring(t, sym, "")
    t = pc.utf8_trim_whitespace(t)
    if profile.thousands:
        t = pc.replace_substring(t, profile.thousands, "")
        if profile.thousands == " ":
            t = pc.replace_substring(t, "\u202f", "")
    if profile.decimal == ",":
        t = pc.replace_substring(t, ",", ".")
    return t, neg


@pause_gc
def parse(data: bytes, *, source: str, profile: str | Path | Profile | None = None) -> ParseResult:
    check_size(data, source)
    problems: list[RowProblem] = []
    if isinstance(profile, Profile):
        prof = profile
    elif profile is not None:
        prof = load_profile(profile)
    else:
        text_head, _ = decode_text(data[:65536]) if data else ("", "")
        prof = match_profile(text_head)
        if prof is None:
            raise InvalidInput(
                f"{source}: no CSV profile matches its header; declare one with "
                f"--profile (built in: {', '.join(builtin_profiles())})"
            )
    text = _decode(data, prof, source, problems)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    header_at = _find_header(text, prof) if prof.header else 0
    if header_at is None:
        raise InvalidInput(
            f"{source}: header does not have the columns profile {prof.name} "
            f"expects: {', '.join(prof.header)}"
        )
    body = "\n".join(text.split("\n")[header_at:])
    header_names = next(
        csv.reader([body.split("\n", 1)[0].rstrip("\r")], delimiter=prof.delimiter), []
    )
    bad_rows: list[RowProblem] = []
    valid_lines, invalid_lines = _record_lines(body, prof.delimiter, len(header_names), header_at)

    def on_invalid(row: pacsv.InvalidRow) -> str:
        k = len(bad_rows)
        bad_rows.append(
            RowProblem(
                source,
                invalid_lines[k] if k < len(invalid_lines) else None,
                None,
                f"expected {row.expected_columns} fields, found {row.actual_columns}",
            )
        )
        return "skip"

    try:
        table = pacsv.read_csv(
            io.BytesIO(body.encode("utf-8")),
            read_options=pacsv.ReadOptions(use_threads=False, block_size=1 << 22),
            parse_options=pacsv.ParseOptions(
                delimiter=prof.delimiter, invalid_row_handler=on_invalid
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={h: pa.string() for h in header_names},
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
                null_values=[""],
                check_utf8=True,
            ),
        )
    except pa.ArrowInvalid as exc:
        raise InvalidInput(
            f"{source}: not readable as CSV with profile {prof.name}: {exc}"
        ) from exc
    problems.extend(bad_rows)
    table = table.cast(pa.schema([pa.field(n, pa.string()) for n in table.column_names]))
    names: dict[str, int] = {}
    for i, col_name in enumerate(table.column_names):
        names.setdefault(col_name.strip().lower(), i)  # a repeated header: the first wins
    n = table.num_rows
    if len(valid_lines) != n:  # Arrow and the csv module split records differently: no lines
        valid_lines = [-1] * n
    lines = np.array(valid_lines, dtype=np.int64)

    def col(key: str) -> pa.Array | None:
        for c in prof.columns.get(key, ()):
            real = names.get(c.lower())
            if real is not None:
                arr = table.column(real).combine_chunks()
                return pc.utf8_trim_whitespace(arr)
        return None

    def cols(key: str) -> list[pa.Array]:
        out = []
        for c in prof.columns.get(key, ()):
            real = names.get(c.lower())
            if real is not None:
                out.append(pc.utf8_trim_whitespace(table.column(real).combine_chunks()))
        return out

    bad = np.zeros(n, dtype=bool)

    def report(mask: np.ndarray, column: str, reason: str, values: pa.Array | None = None) -> None:
        idx = np.flatnonzero(mask & ~bad)
        vals = values.to_pylist() if values is not None and len(idx) else None
        for i in idx:
            why = reason if vals is None else f"{reason}, got {vals[i]!r}"
            problems.append(
                RowProblem(source, int(lines[i]) if lines[i] > 0 else None, column, why)
            )
        bad[mask] = True

    currency = col("currency")
    if currency is None:
        currency = pa.array([prof.currency] * n, pa.string())
    else:
        currency = pc.utf8_upper(pc.fill_null(currency, prof.currency or ""))
    # amount and direction
    amount_src = col("amount")
    if amount_src is not None:
        missing = np.asarray(amount_src.is_null(), bool)
        report(missing, prof.columns["amount"][0], "amount is empty")
        text_amt, neg = _amount_text(amount_src, prof)
    else:
        credit, debit = col("credit"), col("debit")
        cr_t, _ = _amount_text(credit if credit is not None else pa.nulls(n, pa.string()), prof)
        db_t, _ = _amount_text(debit if debit is not None else pa.nulls(n, pa.string()), prof)
        zero = r"^0*\.?0*$"
        has_cr = np.asarray(pc.invert(pc.match_substring_regex(cr_t, zero)), bool)
        has_db = np.asarray(pc.invert(pc.match_substring_regex(db_t, zero)), bool)
        report(~has_cr & ~has_db, "credit/debit", "neither a credit nor a debit amount")
        report(has_cr & has_db, "credit/debit", "both a credit and a debit amount")
        neg = has_db & ~has_cr
        text_amt = pc.if_else(pa.array(neg), db_t, cr_t)
    values, errors = parse_minor_array(text_amt, pc.fill_null(currency, ""))
    failed = np.not_equal(errors, None)
    for reason in {e for e in errors[failed & ~bad]}:
        report(
            failed & (errors == reason),
            "amount",
            str(reason),
            amount_src if amount_src is not None else text_amt,
        )
    direction_col = col("direction")
    if direction_col is not None:
        upper = pc.utf8_upper(pc.fill_null(direction_col, ""))
        is_cr = np.asarray(
            pc.is_in(upper, value_set=pa.array([v.upper() for v in prof.credit_values])), bool
        )
        is_db = np.asarray(
            pc.is_in(upper, value_set=pa.array([v.upper() for v in prof.debit_values])), bool
        )
        report(
            ~is_cr & ~is_db,
            prof.columns["direction"][0],
            "expected a credit or debit marker",
            direction_col,
        )
        neg = is_db  # the marker decides; amounts beside a marker are magnitudes
    magnitude = np.abs(values)
    direction = pa.array(np.where(neg, DBIT, CRDT))
    # dates
    date_src = col("value_date")
    if date_src is None:
        raise InvalidInput(
            f"{source}: no column {prof.columns['value_date'][0]!r} (profile {prof.name})"
        )
    parsed = strict_dates(date_src, prof.date_format)
    report(
        np.asarray(parsed.is_null(), bool),
        prof.columns["value_date"][0],
        f"expected a date as {prof.date_format}",
        date_src,
    )
    # texts
    refs = cols("reference")
    if refs:
        reference = refs[0]
        for other in refs[1:]:
            reference = pc.binary_join_element_wise(
                pc.fill_null(reference, ""), pc.fill_null(other, ""), " "
            )
        reference = pc.utf8_trim_whitespace(reference)
        reference = pc.if_else(pc.equal(reference, ""), None, reference)
    else:
        reference = pa.nulls(n, pa.string())
    name = col("payer_name")
    account = col("payer_account")
    e2e = col("end_to_end_id")
    if e2e is not None:
        absent = pc.is_in(pc.utf8_upper(e2e), value_set=pa.array(sorted(NO_REFERENCE)))
        e2e = pc.if_else(pc.fill_null(absent, False), pa.scalar(None, pa.string()), e2e)
    code = col("bank_code")
    own = col("account")
    pid = col("payment_id")
    sid = _statement_id(prof, own, data)
    ids = _row_ids(pid, parsed, text_amt, currency, name, account, reference, prof)
    out = pa.table(
        {
            "payment_id": pa.array(ids, pa.string()),
            "value_date": pc.cast(parsed, pa.date32()),
            "amount": pa.array(magnitude, pa.int64()),
            "currency": currency,
            "payer_name": name if name is not None else pa.nulls(n, pa.string()),
            "payer_account": account if account is not None else pa.nulls(n, pa.string()),
            "reference": reference,
            "end_to_end_id": e2e if e2e is not None else pa.nulls(n, pa.string()),
            "direction": direction,
            "reversal": pa.array(np.zeros(n, bool)),
            "bank_code": code if code is not None else pa.nulls(n, pa.string()),
            "statement_id": pa.array([sid] * n, pa.string()),
            "source": pa.array([source] * n, pa.string()),
            "source_line": pa.array(lines.astype(np.int32), mask=lines < 0),
        }
    )
    if bad.any():
        out = out.filter(pa.array(~bad))
    result = ParseResult.empty(NAME)
    result.payments = S.conform(out, S.PAYMENTS)
    result.problems = sorted(problems, key=lambda p: p.line or 0)
    return result


def _statement_id(prof: Profile, own: pa.Array | None, data: bytes) -> str:
    account = None
    if own is not None:
        vals = pc.unique(pc.drop_null(own)).to_pylist()
        account = vals[0] if len(vals) == 1 else None
    digest = hashlib.sha256(data).hexdigest()[:12]
    return f"{prof.name}:{account + ':' if account else ''}{digest}"


def _row_ids(pid, dates, amounts, currency, name, account, reference, prof) -> list[str]:
    """The bank's id column where mapped; else a hash of the row's content (stable across
    re-exports of overlapping periods), with ``#n`` on identical rows."""
    n = len(dates)
    given = pid.to_pylist() if pid is not None else [None] * n
    parts = [pc.cast(dates, pa.string()), amounts, currency, name, account, reference]
    cols = [p.to_pylist() if p is not None else [None] * n for p in parts]
    seen: dict[str, int] = {}
    out: list[str] = []
    for i in range(n):
        base = given[i]
        if not base:
            key = "|".join("" if c[i] is None else str(c[i]) for c in cols)
            base = f"{prof.name}:{hashlib.sha1(key.encode('utf-8')).hexdigest()[:16]}"
        k = seen.get(base, 0) + 1
        seen[base] = k
        out.append(base if k == 1 else f"{base}#{k}")
    return out
