"""BAI2 cash-management files (01/02/03/16/88/49/98/99 records).

Records are assembled here with their line numbers (``88`` continuations joined the way the
``bai2`` library joins them); the type-code table (credit/debit/summary per code) is the
library's. The library itself is the reference in ``tests/parsers/test_bai2.py`` but not the
production path: it raises on the first unknown type code or control-total mismatch and so
loses the whole file; here those are row problems and the good records go on.

Every ``03`` account record is a statement: opening ledger (``010``) + credits - debits must
equal the closing ledger (``015``); the declared totals (``100`` total credits, ``400`` total
debits), the ``49``/``98``/``99`` control totals and record counts are checked.
"""

from __future__ import annotations

import re

from cashmatch.engine.errors import InvalidInput, RowProblem
from cashmatch.engine.money import format_minor
from cashmatch.parsers._common import (
    CRDT,
    DBIT,
    ParseResult,
    PaymentRows,
    StatementInfo,
    check_size,
    decode_text,
    finish_statements,
    pause_gc,
    reconcile,
    reference_or_none,
)

NAME = "bai2"
KINDS = frozenset({"payments"})
_INT = re.compile(r"^[+-]?\d{1,18}$", re.ASCII)


def sniff(head: bytes) -> bool:
    return head.lstrip(b"\xef\xbb\xbf \r\n")[:3] == b"01,"


def _type_direction(code: str) -> str | None:
    from bai2.constants import TypeCodes, TypeCodeTransaction

    tc = TypeCodes.get(code)
    if tc is not None and tc.transaction is not None:
        if tc.transaction == TypeCodeTransaction.credit:
            return CRDT
        if tc.transaction == TypeCodeTransaction.debit:
            return DBIT
    if code.isascii() and code.isdigit():
        n = int(code)
        if 100 <= n <= 399:
            return CRDT
        if 400 <= n <= 699:
            return DBIT
    return None


def records(text: str) -> list[tuple[str, int, int, list[str]]]:
    """``(code, first line, physical record count, fields)`` with 88s folded in."""
    out: list[tuple[str, int, int, list[str]]] = []
    cur: list | None = None
    for n, raw in enumerate(text.split("\n"), 1):
        line = raw.rstrip("\r").rstrip()
        if not line:
            continue
        code = line[:2]
        body = line[3:] if len(line) > 2 and line[2] == "," else line[2:]
        if code == "88" and cur is not None:
            prev = cur[3]
            cur[3] = prev[:-1] + "," + body if prev.endswith("/") else prev + " " + body
            cur[2] += 1
            continue
        if cur is not None:
            out.append(cur)
        cur = [code, n, 1, body]
    if cur is not None:
        out.append(cur)
    result = []
    for code, n, count, body in out:
        body = body[:-1] if body.endswith("/") else body
        result.append((code, n, count, body.split(",")))
    return result


def _int(value: str) -> int | None:
    v = value.strip()
    return int(v) if _INT.match(v) else None


def _iso(yymmdd: str) -> str | None:
    v = yymmdd.strip()
    if len(v) != 6 or not (v.isascii() and v.isdigit()):
        return None
    return f"20{v[0:2]}-{v[2:4]}-{v[4:6]}"


def _availability(funds: str, rest: list[str]) -> list[str]:
    """Skip the availability fields that follow a funds type."""
    f = funds.strip().upper()
    if f == "S":
        return rest[3:]
    if f == "V":
        return rest[2:]
    if f == "D":
        k = _int(rest[0]) if rest else None
        return rest[1 + 2 * (k or 0) :]
    return rest


class _Account:
    __slots__ = ("info", "control", "records", "credits_summary", "debits_summary")

    def __init__(self, info: StatementInfo) -> None:
        self.info = info
        self.control = 0
        self.records = 0
        self.credits_summary: int | None = None
        self.debits_summary: int | None = None


@pause_gc
def parse(data: bytes, *, source: str) -> ParseResult:
    check_size(data, source)
    text, _ = decode_text(data)
    problems: list[RowProblem] = []
    payments = PaymentRows(source)
    infos: list[StatementInfo] = []
    file_id = ""
    as_of: str | None = None
    group_currency = "USD"
    acct: _Account | None = None
    group_control = file_control = 0
    group_accounts = file_groups = 0
    group_records = file_records = 0
    saw_header = False

    def bad(n: int, col: str, why: str) -> None:
        problems.append(RowProblem(source, n, col, why))

    for code, n, count, f in records(text):
        file_records += count
        group_records += count
        if acct is not None:
            acct.records += count
        if code == "01":
            saw_header = True
            file_id = f[4].strip() if len(f) > 4 else ""
            file_records = count
        elif code == "02":
            group_control, group_accounts, group_records = 0, 0, count
            file_groups += 1
            as_of = _iso(f[3]) if len(f) > 3 else None
            if as_of is None:
                bad(
                    n,
                    "as_of_date",
                    f"expected the group's as-of date YYMMDD, got {f[3] if len(f) > 3 else ''!r}",
                )
            group_currency = f[5].strip().upper() if len(f) > 5 and f[5].strip() else "USD"
        elif code == "03":
            account = f[0].strip() if f else ""
            currency = f[1].strip().upper() if len(f) > 1 and f[1].strip() else group_currency
            sid = f"{account}/{as_of or '?'}" + (f"/{file_id}" if file_id else "")
            info = StatementInfo(
                statement_id=sid,
                account=account or None,
                currency=currency,
                line=n,
                opening_date=as_of,
                closing_date=as_of,
            )
            acct = _Account(info)
            acct.records = count
            group_accounts += 1
            infos.append(info)
            rest = f[2:]
            while len(rest) >= 2 and rest[0].strip():
                tcode, raw_amount = rest[0].strip(), rest[1]
                amount = _int(raw_amount) if raw_amount.strip() else 0
                funds = rest[3] if len(rest) > 3 else ""
                rest = _availability(funds, rest[4:])
                if amount is None:
                    bad(
                        n,
                        f"summary {tcode}",
                        f"expected a whole amount in minor units, got {raw_amount!r}",
                    )
                    continue
                acct.control += amount
                if tcode == "010":
                    info.opening_balance = amount
                elif tcode == "015":
                    info.closing_balance = amount
                    info.closing_line = n
                elif tcode == "100":
                    info.declared_credits = amount
                elif tcode == "400":
                    info.declared_debits = amount
        elif code == "16":
            if acct is None:
                bad(n, "16", "transaction detail outside an account (no 03 record before it)")
                continue
            if len(f) < 3:
                bad(n, "16", "expected type code, amount and funds type")
                continue
            tcode = f[0].strip()
            amount = _int(f[1]) if f[1].strip() else None
            direction = _type_direction(tcode)
            rest = _availability(f[2], f[3:])
            bank_ref = reference_or_none(rest[0]) if rest else None
            cust_ref = reference_or_none(rest[1]) if len(rest) > 1 else None
            text_field = ",".join(rest[2:]).strip() or None
            if amount is None:
                bad(n, "amount", f"expected a whole amount in minor units, got {f[1]!r}")
                continue
            acct.control += amount
            if direction is None:
                bad(n, "type_code", f"type code {tcode!r} is not a credit or debit detail code")
                continue
            info = acct.info
            try:
                amount_text = format_minor(amount, info.currency or "USD")
            except InvalidInput:
                amount_text = str(amount)
            reference = " ".join(x for x in (cust_ref, text_field) if x) or None
            payments.add(
                bank_ref,
                as_of,
                amount_text,
                info.currency,
                None,
                None,
                reference,
                cust_ref,
                direction,
                False,
                tcode,
                info.statement_id,
                n,
            )
        elif code == "49":
            if acct is None:
                bad(n, "49", "account trailer without an account")
                continue
            declared = _int(f[0]) if f else None
            if declared is not None and declared != acct.control:
                bad(
                    n,
                    "account_control_total",
                    f"statement {acct.info.statement_id}: account control total {declared} but "
                    f"the account's records sum to {acct.control}",
                )
            nrec = _int(f[1]) if len(f) > 1 else None
            if nrec is not None and nrec != acct.records:
                bad(
                    n,
                    "number_of_records",
                    f"statement {acct.info.statement_id}: trailer counts {nrec} records, the "
                    f"account has {acct.records}; records are missing or extra",
                )
            group_control += declared if declared is not None else acct.control
            acct = None
        elif code == "98":
            declared = _int(f[0]) if f else None
            if declared is not None and declared != group_control:
                bad(
                    n,
                    "group_control_total",
                    f"group control total {declared} but its accounts sum to {group_control}",
                )
            k = _int(f[1]) if len(f) > 1 else None
            if k is not None and k != group_accounts:
                bad(
                    n,
                    "number_of_accounts",
                    f"group trailer counts {k} accounts, found {group_accounts}",
                )
            file_control += declared if declared is not None else group_control
        elif code == "99":
            declared = _int(f[0]) if f else None
            if declared is not None and declared != file_control:
                bad(
                    n,
                    "file_control_total",
                    f"file control total {declared} but its groups sum to {file_control}",
                )
            k = _int(f[1]) if len(f) > 1 else None
            if k is not None and k != file_groups:
                bad(n, "number_of_groups", f"file trailer counts {k} groups, found {file_groups}")
            nrec = _int(f[2]) if len(f) > 2 else None
            if nrec is not None and nrec != file_records:
                bad(
                    n,
                    "number_of_records",
                    f"file trailer counts {nrec} records, the file has {file_records}",
                )
        else:
            bad(n, "record", f"expected a BAI2 record code (01 02 03 16 88 49 98 99), got {code!r}")
    if not saw_header:
        raise InvalidInput(f"{source}: no 01 file header record: not a BAI2 file")
    if acct is not None:
        bad(
            acct.info.line or 0,
            "49",
            f"statement {acct.info.statement_id}: account has no 49 trailer; the file is truncated",
        )
    result = ParseResult.empty(NAME)
    result.payments = payments.finish(problems)
    result.statements = finish_statements(infos, result.payments, source=source)
    problems.extend(reconcile(infos, result.statements, source=source))
    result.problems = problems
    return result
