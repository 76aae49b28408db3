"""ANSI X12 820 (Payment Order / Remittance Advice) into remittance lines.

Separators come from the ISA envelope (element separator after ``ISA``, segment terminator
after ISA16). Per transaction set (``ST*820`` ... ``SE``): ``BPR`` is the payment (amount,
credit/debit flag, date), ``TRN02`` its trace number, ``CUR02`` the currency (``USD`` when
absent, as X12 assumes), and every ``RMR`` inside the ``ENT`` loops a remittance line
(``RMR02`` invoice, ``RMR04`` paid, ``RMR06`` discount) with the ``ADX`` adjustments that
follow it as deductions (``ADX01`` negated, ``ADX02`` reason). Lines are linked to their payment
through ``end_to_end_id`` = the TRN trace number, which banks report on the ACH credit.
Checks: SE segment counts, and the lines summing to the BPR amount.
"""

from __future__ import annotations

import contextlib
from decimal import Decimal, InvalidOperation

from cashmatch.engine.errors import InvalidInput, RowProblem
from cashmatch.parsers._common import (
    ParseResult,
    RemittanceRows,
    check_size,
    clean,
    decode_text,
    pause_gc,
)

NAME = "x12-820"
KINDS = frozenset({"remittances"})


def sniff(head: bytes) -> bool:
    h = head.lstrip(b"\xef\xbb\xbf \r\n\t")
    if not h.startswith(b"ISA") or len(h) < 4:
        return False
    sep = h[3:4]
    return b"ST" + sep + b"820" in h


def _segments(text: str, source: str) -> tuple[list[tuple[int, list[str]]], str]:
    start = text.find("ISA")
    if start < 0 or len(text) < start + 106:
        raise InvalidInput(f"{source}: no ISA interchange header: not an X12 file")
    sep = text[start + 3]
    parts = text[start:].split(sep, 16)
    if len(parts) < 17 or len(parts[16]) < 2:
        raise InvalidInput(f"{source}: ISA header is not 16 elements: not an X12 file")
    component = parts[16][0]
    term = parts[16][1]
    if term in (sep, component) or term.isalnum():
        raise InvalidInput(f"{source}: cannot tell the segment terminator from the ISA header")
    out: list[tuple[int, list[str]]] = []
    line = text.count("\n", 0, start) + 1
    pos = start
    for raw in text[start:].split(term):
        seg = raw.strip("\r\n\t ")
        lead = len(raw) - len(raw.lstrip("\r\n\t "))
        seg_line = line + raw.count("\n", 0, lead)
        line += raw.count("\n")
        pos += len(raw) + 1
        if seg:
            out.append((seg_line, seg.split(sep)))
    return out, component


def _el(seg: list[str], i: int) -> str | None:
    return clean(seg[i]) if len(seg) > i else None


def _neg(amount: str | None) -> str | None:
    if amount is None:
        return None
    return amount[1:] if amount.startswith("-") else f"-{amount.lstrip('+')}"


@pause_gc
def parse(data: bytes, *, source: str) -> ParseResult:
    check_size(data, source)
    text, _ = decode_text(data)
    segments, _component = _segments(text, source)
    problems: list[RowProblem] = []
    rows = RemittanceRows(source)
    st_line = 0
    st_count = 0
    in_set = False
    trace: str | None = None
    currency = "USD"
    bpr_amount: str | None = None
    pending: list | None = None  # the RMR line waiting for its ADX
    set_lines: list[list] = []

    def flush() -> None:
        nonlocal pending
        if pending is not None:
            set_lines.append(pending)
            pending = None

    def close_set(line: int) -> None:
        flush()
        total = Decimal(0)
        ok = True
        for ln in set_lines:
            ln[1] = trace
            ln[7] = currency
            try:
                total += Decimal(ln[3] or "0")
            except InvalidOperation:
                ok = False
            rows.add(*ln)
        if ok and bpr_amount is not None and set_lines:
            try:
                paid = Decimal(bpr_amount)
            except InvalidOperation:
                paid = None
            if paid is not None and paid != total:
                problems.append(
                    RowProblem(
                        source,
                        line,
                        "BPR02",
                        f"820 with trace {trace}: remittance lines sum to {total} but the payment "
                        f"(BPR) is {paid}",
                    )
                )
        set_lines.clear()

    for line, seg in segments:
        tag = seg[0].strip().upper()
        if in_set:
            st_count += 1
        if tag == "ST":
            if in_set:
                problems.append(
                    RowProblem(source, line, "ST", "transaction set opened before the previous SE")
                )
                close_set(line)
            in_set = _el(seg, 1) == "820"
            if not in_set:
                problems.append(
                    RowProblem(
                        source, line, "ST01", f"expected an 820 transaction set, got {_el(seg, 1)}"
                    )
                )
            st_line, st_count = line, 1
            trace, currency, bpr_amount = None, "USD", None
        elif not in_set:
            if tag not in ("ISA", "GS", "GE", "IEA", "SE", "TA1"):
                problems.append(RowProblem(source, line, tag, "segment outside a transaction set"))
        elif tag == "BPR":
            bpr_amount = _el(seg, 2)
        elif tag == "TRN":
            trace = _el(seg, 2)
        elif tag == "CUR":
            currency = (_el(seg, 2) or "USD").upper()
        elif tag == "ENT":
            flush()
        elif tag == "RMR":
            flush()
            qual = (_el(seg, 1) or "").upper()
            ref = _el(seg, 2)
            if qual not in ("IV", "OI", "PO", "R7", "IK", "11", "1Z", "CR", "AH", "RV"):
                problems.append(
                    RowProblem(
                        source, line, "RMR01", f"reference qualifier {qual!r} is not an invoice"
                    )
                )
            pending = [None, None, ref, _el(seg, 4), _el(seg, 6), None, None, currency, line]
        elif tag == "ADX":
            amount = _el(seg, 1)
            if pending is None:
                problems.append(
                    RowProblem(
                        source,
                        line,
                        "ADX",
                        f"adjustment {amount} ({_el(seg, 2)}) names no invoice; not a remittance "
                        f"line, the payer withheld or added it on the whole payment",
                    )
                )
                continue
            prev = pending[5]
            ded = _neg(amount)
            if prev is not None and ded is not None:
                with contextlib.suppress(InvalidOperation):
                    ded = str(Decimal(prev) + Decimal(ded))
            pending[5] = ded
            reason = _el(seg, 2)
            if reason:
                pending[6] = reason if pending[6] is None else f"{pending[6]};{reason}"
        elif tag == "SE":
            declared = _el(seg, 1)
            if (
                declared is not None
                and declared.isascii()
                and declared.isdigit()
                and int(declared) != st_count
            ):
                problems.append(
                    RowProblem(
                        source,
                        line,
                        "SE01",
                        f"transaction set from line {st_line} declares {declared} segments, has "
                        f"{st_count}; segments are missing",
                    )
                )
            close_set(line)
            in_set = False
    if in_set:
        problems.append(
            RowProblem(source, st_line, "SE", "the file ends inside a transaction set (no SE)")
        )
        close_set(st_line)
    result = ParseResult.empty(NAME)
    result.remittances = rows.finish(problems)
    result.problems = problems
    return result
