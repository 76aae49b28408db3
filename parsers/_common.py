"""What every parser shares: the result type, row builders, decoding, reconciliation.

A parser walks its bytes once and appends one Python tuple per transaction to a builder; the
builder then converts whole columns at once (amount text -> int64 minor units, ISO date text ->
date32) and reports the rows that do not convert as :class:`RowProblem` data. Statement
reconciliation (balances, sequence gaps) is computed from the finished tables.
"""

from __future__ import annotations

import codecs
import functools
import gc
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cashmatch.engine import schema as S
from cashmatch.engine.errors import InvalidInput, RowProblem
from cashmatch.engine.money import format_minor, parse_minor_array

#: Refuse inputs larger than this (bytes); a bank file of a million transactions is far below.
MAX_INPUT_BYTES = 1 << 30

CRDT = "CRDT"
DBIT = "DBIT"

#: References that banks write when there is none.
NO_REFERENCE = frozenset({"", "NONREF", "NOTPROVIDED", "NONE", "N/A", "NOREF"})


@dataclass(slots=True)
class ParseResult:
    """What a parser returns: payments (credits and debits), remittance lines, statements."""

    format: str
    payments: pa.Table
    remittances: pa.Table
    statements: pa.Table
    problems: list[RowProblem] = field(default_factory=list)

    @classmethod
    def empty(cls, fmt: str) -> ParseResult:
        return cls(fmt, S.empty(S.PAYMENTS), S.empty(S.REMITTANCES), S.empty(S.STATEMENTS), [])


def pause_gc(fn):
    """Run a parser with the cyclic GC paused: parsing allocates millions of small tuples
    that hold no cycles, and full collections over them make large files superlinear."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if not gc.isenabled():
            return fn(*args, **kwargs)
        gc.disable()
        try:
            return fn(*args, **kwargs)
        finally:
            gc.enable()

    return wrapper


def clean(value: str | None) -> str | None:
    """Strip; empty becomes ``None``."""
    if value is None:
        return None
    value = value.strip()
    return value or None


def reference_or_none(value: str | None) -> str | None:
    value = clean(value)
    if value is None or value.upper() in NO_REFERENCE:
        return None
    return value


def check_size(data: bytes, source: str) -> None:
    if len(data) > MAX_INPUT_BYTES:
        raise InvalidInput(
            f"{source}: {len(data)} bytes is more than the {MAX_INPUT_BYTES} bytes cashmatch reads"
            " from one file; split it"
        )


def decode_text(data: bytes, *, declared: str | None = None) -> tuple[str, str]:
    """Bytes -> text: a BOM wins, then ``declared``, then strict UTF-8, then cp1252/latin-1.

    Returns ``(text, encoding used)``. Bytes that do not fit a BOM's or a declared encoding
    raise :class:`InvalidInput` naming the line, rather than being replaced.
    """
    if data.startswith(codecs.BOM_UTF8):
        return _strict(data[3:], "utf-8", "a UTF-8 byte-order mark", offset=3), "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _strict(data, "utf-16", "a UTF-16 byte-order mark"), "utf-16"
    if declared:
        try:
            codecs.lookup(declared)
        except LookupError as exc:
            raise InvalidInput(f"unknown encoding {declared!r}") from exc
        return _strict(data, declared, f"the declared encoding {declared}"), declared
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def _strict(data: bytes, encoding: str, why: str, offset: int = 0) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InvalidInput(
            f"line {line}: byte {exc.start + offset} ({data[exc.start : exc.start + 4]!r}) is not "
            f"{encoding}, as {why} says it must be"
        ) from exc


# ------------------------------------------------------------------------------- builders


class PaymentRows:
    """Collects payments as Python values; :meth:`finish` converts columns at once.

    ``value_date`` is ISO text (``YYYY-MM-DD``), ``amount`` unsigned decimal text with ``.``
    (the direction is its own column).
    """

    __slots__ = ("source", "rows", "final_ids")

    def __init__(self, source: str) -> None:
        self.source = source
        self.rows: list[tuple] = []
        self.final_ids: list[str] = []

    def add(
        self,
        payment_id: str | None,
        value_date: str | None,
        amount: str | None,
        currency: str | None,
        payer_name: str | None,
        payer_account: str | None,
        reference: str | None,
        end_to_end_id: str | None,
        direction: str,
        reversal: bool,
        bank_code: str | None,
        statement_id: str | None,
        line: int | None,
    ) -> None:
        self.rows.append(
            (
                payment_id,
                value_date,
                amount,
                currency,
                payer_name,
                payer_account,
                reference,
                end_to_end_id,
                direction,
                reversal,
                bank_code,
                statement_id,
                line,
            )
        )

    def __len__(self) -> int:
        return len(self.rows)

    def finish(self, problems: list[RowProblem]) -> pa.Table:
        if not self.rows:
            return S.empty(S.PAYMENTS)
        cols = list(zip(*self.rows, strict=True))
        n = len(self.rows)
        (
            pid,
            vdate,
            amount,
            currency,
            name,
            account,
            ref,
            e2e,
            direction,
            reversal,
            code,
            sid,
            line,
        ) = cols
        ids = _stable_ids(pid, sid)
        self.final_ids = ids
        cur = pa.array(currency, pa.string())
        amount_arr = pa.array(amount, pa.string())
        values, errors = parse_minor_array(pc.fill_null(amount_arr, ""), pc.fill_null(cur, ""))
        dates = strict_dates(pa.array(vdate, pa.string()), "%Y-%m-%d")
        lines = np.array([-1 if x is None else x for x in line], dtype=np.int64)
        bad = np.zeros(n, dtype=bool)
        date_bad = np.asarray(dates.is_null(), dtype=bool)
        cur_bad = np.asarray(
            pc.invert(pc.fill_null(pc.match_substring_regex(cur, r"^[A-Z]{3}$"), False)), dtype=bool
        )
        for i in np.flatnonzero(cur_bad | date_bad | np.not_equal(errors, None)):
            ln = int(lines[i]) if lines[i] >= 0 else None
            if cur_bad[i]:
                problems.append(
                    RowProblem(
                        self.source,
                        ln,
                        "currency",
                        f"expected an ISO 4217 currency, got {currency[i]!r}",
                    )
                )
            elif errors[i] is not None:
                problems.append(
                    RowProblem(self.source, ln, "amount", f"{errors[i]}: {amount[i]!r}")
                )
            if date_bad[i]:
                problems.append(
                    RowProblem(
                        self.source, ln, "value_date", f"expected a valid date, got {vdate[i]!r}"
                    )
                )
            bad[i] = True
        table = pa.table(
            {
                "payment_id": pa.array(ids, pa.string()),
                "value_date": pc.cast(dates, pa.date32()),
                "amount": pa.array(values, pa.int64()),
                "currency": cur,
                "payer_name": pa.array(name, pa.string()),
                "payer_account": pa.array(account, pa.string()),
                "reference": pa.array(ref, pa.string()),
                "end_to_end_id": pa.array(e2e, pa.string()),
                "direction": pa.array(direction, pa.string()),
                "reversal": pa.array(reversal, pa.bool_()),
                "bank_code": pa.array(code, pa.string()),
                "statement_id": pa.array(sid, pa.string()),
                "source": pa.array([self.source] * n, pa.string()),
                "source_line": pa.array(
                    np.where(lines >= 0, lines, 0).astype(np.int32), mask=lines < 0
                ),
            }
        )
        if bad.any():
            table = table.filter(pa.array(~bad))
        return S.conform(table, S.PAYMENTS)


def _stable_ids(pid: Iterable[str | None], sid: Iterable[str | None]) -> list[str]:
    """The bank's reference where given, else ``<statement>:<position>``; repeats get ``#n``.

    Positions count within a statement (1-based), so re-importing a file gives the same ids.
    """
    out: list[str] = []
    seen: dict[str, int] = {}
    position: dict[str | None, int] = {}
    for p, s in zip(pid, sid, strict=True):
        k = position.get(s, 0) + 1
        position[s] = k
        base = p if p else f"{s or 'file'}:{k}"
        n = seen.get(base, 0) + 1
        seen[base] = n
        out.append(base if n == 1 else f"{base}#{n}")
    return out


class RemittanceRows:
    """Remittance lines; amounts as decimal text with ``.``, converted at :meth:`finish`."""

    __slots__ = ("source", "rows")

    def __init__(self, source: str) -> None:
        self.source = source
        self.rows: list[tuple] = []

    def add(
        self,
        payment_id: str | None,
        end_to_end_id: str | None,
        invoice_ref: str | None,
        paid_amount: str | None,
        discount_amount: str | None,
        deduction_amount: str | None,
        reason_code: str | None,
        currency: str | None,
        line: int | None,
    ) -> None:
        self.rows.append(
            (
                payment_id,
                end_to_end_id,
                invoice_ref,
                paid_amount,
                discount_amount,
                deduction_amount,
                reason_code,
                currency,
                line,
            )
        )

    def __len__(self) -> int:
        return len(self.rows)

    def finish(self, problems: list[RowProblem]) -> pa.Table:
        if not self.rows:
            return S.empty(S.REMITTANCES)
        pid, e2e, inv, paid, disc, ded, reason, currency, line = zip(*self.rows, strict=True)
        n = len(self.rows)
        cur = pa.array(currency, pa.string())
        curf = pc.fill_null(cur, "")
        lines = np.array([-1 if x is None else x for x in line], dtype=np.int64)
        bad = np.zeros(n, dtype=bool)
        out: dict[str, pa.Array] = {}
        for name, col, required in (
            ("paid_amount", paid, True),
            ("discount_amount", disc, False),
            ("deduction_amount", ded, False),
        ):
            arr = pa.array(col, pa.string())
            missing = np.asarray(arr.is_null(), dtype=bool)
            values, errors = parse_minor_array(pc.fill_null(arr, "0"), curf)
            failed = np.not_equal(errors, None) & ~missing
            if required:
                failed |= missing
            for i in np.flatnonzero(failed & ~bad):
                ln = int(lines[i]) if lines[i] >= 0 else None
                why = "required amount is missing" if missing[i] else f"{errors[i]}: {col[i]!r}"
                problems.append(RowProblem(self.source, ln, name, why))
            bad |= failed
            out[name] = pa.array(values, pa.int64(), mask=missing | failed)
        no_ref = np.array([not r for r in inv], dtype=bool)
        for i in np.flatnonzero(no_ref & ~bad):
            ln = int(lines[i]) if lines[i] >= 0 else None
            problems.append(RowProblem(self.source, ln, "invoice_ref", "no invoice reference"))
        bad |= no_ref
        table = pa.table(
            {
                "payment_id": pa.array(pid, pa.string()),
                "end_to_end_id": pa.array(e2e, pa.string()),
                "invoice_ref": pa.array(inv, pa.string()),
                **out,
                "reason_code": pa.array(reason, pa.string()),
                "currency": cur,
                "source": pa.array([self.source] * n, pa.string()),
                "source_line": pa.array(
                    np.where(lines >= 0, lines, 0).astype(np.int32), mask=lines < 0
                ),
            }
        )
        if bad.any():
            table = table.filter(pa.array(~bad))
        return S.conform(table, S.REMITTANCES)


@dataclass(slots=True)
class StatementInfo:
    """One statement (an account's report for a period) as the file states it."""

    statement_id: str
    account: str | None = None
    currency: str | None = None
    sequence: str | None = None
    opening_date: str | None = None  # ISO text
    opening_balance: int | None = None  # signed minor units
    closing_date: str | None = None
    closing_balance: int | None = None
    line: int | None = None  # where the statement starts
    closing_line: int | None = None
    #: totals the file itself declares (BAI2 summaries, CAMT TxsSummry), checked against ours
    declared_credits: int | None = None
    declared_debits: int | None = None


def finish_statements(infos: list[StatementInfo], payments: pa.Table, *, source: str) -> pa.Table:
    """STATEMENTS rows with ``total_credits``/``total_debits`` summed from ``payments``."""
    if not infos:
        return S.empty(S.STATEMENTS)
    credits, debits = _totals(payments)
    ids = [s.statement_id for s in infos]
    table = pa.table(
        {
            "statement_id": pa.array(ids, pa.string()),
            "account": pa.array([s.account for s in infos], pa.string()),
            "currency": pa.array([s.currency for s in infos], pa.string()),
            "sequence": pa.array([s.sequence for s in infos], pa.string()),
            "opening_date": _dates([s.opening_date for s in infos]),
            "opening_balance": pa.array([s.opening_balance for s in infos], pa.int64()),
            "closing_date": _dates([s.closing_date for s in infos]),
            "closing_balance": pa.array([s.closing_balance for s in infos], pa.int64()),
            "total_credits": pa.array([credits.get(i, 0) for i in ids], pa.int64()),
            "total_debits": pa.array([debits.get(i, 0) for i in ids], pa.int64()),
            "source": pa.array([source] * len(infos), pa.string()),
        }
    )
    return S.conform(table, S.STATEMENTS)


def _dates(values: list[str | None]) -> pa.Array:
    return pc.cast(strict_dates(pa.array(values, pa.string()), "%Y-%m-%d"), pa.date32())


def _totals(payments: pa.Table) -> tuple[dict[str, int], dict[str, int]]:
    if payments.num_rows == 0:
        return {}, {}
    t = payments.select(["statement_id", "direction", "amount"]).filter(
        pc.is_valid(payments.column("statement_id"))
    )
    g = t.group_by(["statement_id", "direction"]).aggregate([("amount", "sum")])
    credits: dict[str, int] = {}
    debits: dict[str, int] = {}
    for sid, d, total in zip(
        g.column("statement_id").to_pylist(),
        g.column("direction").to_pylist(),
        g.column("amount_sum").to_pylist(),
        strict=True,
    ):
        (debits if d == DBIT else credits)[sid] = int(total)
    return credits, debits


def reconcile(infos: list[StatementInfo], statements: pa.Table, *, source: str) -> list[RowProblem]:
    """Balance and sequence checks; each finding names its statement.

    - opening balance + credits - debits must equal the closing balance;
    - totals the file declares must equal the transactions read;
    - statements of one account must be numbered without gaps, and each must open where the
      previous one closed.
    """
    problems: list[RowProblem] = []
    if not infos:
        return problems
    rows = statements.to_pylist()
    by_id = {r["statement_id"]: r for r in rows}
    for info in infos:
        r = by_id.get(info.statement_id)
        if r is None:
            continue
        cur = info.currency or "XXX"
        credits, debits = r["total_credits"], r["total_debits"]

        def fmt(v: int, cur: str = cur) -> str:
            try:
                return format_minor(v, cur)
            except InvalidInput:
                return str(v)

        if info.declared_credits is not None and info.declared_credits != credits:
            problems.append(
                RowProblem(
                    source,
                    info.closing_line or info.line,
                    "total_credits",
                    f"statement {info.statement_id}: the file declares credits of "
                    f"{fmt(info.declared_credits)} but its transactions sum to {fmt(credits)}",
                )
            )
        if info.declared_debits is not None and info.declared_debits != debits:
            problems.append(
                RowProblem(
                    source,
                    info.closing_line or info.line,
                    "total_debits",
                    f"statement {info.statement_id}: the file declares debits of "
                    f"{fmt(info.declared_debits)} but its transactions sum to {fmt(debits)}",
                )
            )
        if info.opening_balance is None or info.closing_balance is None:
            continue
        expected = info.opening_balance + credits - debits
        if expected != info.closing_balance:
            problems.append(
                RowProblem(
                    source,
                    info.closing_line or info.line,
                    "closing_balance",
                    f"statement {info.statement_id} does not reconcile: opening "
                    f"{fmt(info.opening_balance)} + credits {fmt(credits)} - debits "
                    f"{fmt(debits)} = {fmt(expected)}, but the closing balance is "
                    f"{fmt(info.closing_balance)} (difference "
                    f"{fmt(info.closing_balance - expected)}); the file is incomplete or altered",
                )
            )
    problems.extend(_sequence_gaps(infos, source=source))
    return problems


def _seq_number(seq: str | None) -> int | None:
    if not seq:
        return None
    head = seq.split("/", 1)[0].strip()
    return int(head) if head.isascii() and head.isdigit() else None


def _sequence_gaps(infos: list[StatementInfo], *, source: str) -> list[RowProblem]:
    problems: list[RowProblem] = []
    by_account: dict[tuple[str | None, str | None], list[StatementInfo]] = {}
    for info in infos:
        by_account.setdefault((info.account, info.currency), []).append(info)
    for (account, _cur), group in by_account.items():
        numbered = [(n, i) for i in group if (n := _seq_number(i.sequence)) is not None]
        numbered.sort(key=lambda x: x[0])
        for (n1, a), (n2, b) in zip(numbered, numbered[1:], strict=False):
            if n2 > n1 + 1:
                missing = f"{n1 + 1}" if n2 == n1 + 2 else f"{n1 + 1}..{n2 - 1}"
                problems.append(
                    RowProblem(
                        source,
                        b.line,
                        "sequence",
                        f"statement {b.statement_id}: account {account} jumps from statement "
                        f"number {n1} to {n2}; statement {missing} is missing",
                    )
                )
            elif (
                n2 == n1 + 1
                and a.closing_balance is not None
                and b.opening_balance is not None
                and a.closing_balance != b.opening_balance
            ):
                problems.append(
                    RowProblem(
                        source,
                        b.line,
                        "opening_balance",
                        f"statement {b.statement_id} opens at {b.opening_balance} minor units but "
                        f"statement {a.statement_id} closed at {a.closing_balance}",
                    )
                )
            elif n2 == n1 and a.sequence == b.sequence and a is not b:
                problems.append(
                    RowProblem(
                        source,
                        b.line,
                        "sequence",
                        f"statement {b.statement_id}: sequence {b.sequence} of account {account} "
                        f"appears twice",
                    )
                )
    return problems


def statement_status(statements: pa.Table, problems: list[RowProblem]) -> dict[str, str]:
    """``statement_id -> "ok" | short findings``, for summaries (the CLI's table)."""
    status: dict[str, list[str]] = {
        sid: [] for sid in statements.column("statement_id").to_pylist()
    }
    for p in problems:
        if p.column in (
            "closing_balance",
            "sequence",
            "opening_balance",
            "total_credits",
            "total_debits",
        ) and p.reason.startswith("statement "):
            sid = p.reason[len("statement ") :].split(" ", 1)[0].rstrip(":")
            if sid in status:
                label = {
                    "closing_balance": "BALANCE MISMATCH",
                    "sequence": "SEQUENCE GAP",
                    "opening_balance": "DISCONTINUOUS",
                    "total_credits": "TOTALS MISMATCH",
                    "total_debits": "TOTALS MISMATCH",
                }[p.column]
                if label not in status[sid]:
                    status[sid].append(label)
    return {sid: ", ".join(v) if v else "ok" for sid, v in status.items()}


def strict_dates(text: pa.Array, fmt: str) -> pa.Array:
    """``strptime`` that refuses impossible dates (Arrow rolls 31 February into March).

    A parsed date must format back to its text (leading zeros aside); others become null.
    A statement has few distinct dates: each is checked once and the results taken per row.
    """
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    codes = pc.dictionary_encode(text)
    return pc.take(_strict_dates(codes.dictionary, fmt), codes.indices)


def _strict_dates(text: pa.Array, fmt: str) -> pa.Array:
    text = pc.utf8_trim_whitespace(text)
    parsed = pc.strptime(text, format=fmt, unit="s", error_is_null=True)
    back = pc.strftime(parsed, format=fmt)
    strip0 = r"(^|[^0-9])0+([0-9])"
    same = pc.equal(
        pc.replace_substring_regex(back, strip0, r"\1\2"),
        pc.replace_substring_regex(text, strip0, r"\1\2"),
    )
    return pc.if_else(pc.fill_null(same, False), parsed, pa.scalar(None, parsed.type))


def minor(amount_text: str, currency: str | None) -> int | None:
    """One decimal text -> signed minor units (statement balances; a handful per file)."""
    if not currency:
        return None
    values, errors = parse_minor_array(pa.array([amount_text]), pa.array([currency]))
    return None if errors[0] is not None else int(values[0])
