"""OFX / QFX statements: 1.x SGML and 2.x XML.

Two paths over the same preprocessed body:

- :func:`parse` — the production path: one regular-expression scan over the tags, a small state
  machine for ``STMTRS``/``CCSTMTRS``/``STMTTRN``; linear in the file size.
- :func:`parse_reference` — the same fields read through ``ofxparse``, kept as the reference.
  ofxparse is quadratic (its SGML tag closer tests every open tag against a *list* of all
  closing tags), so it is not the production path; ``tests/parsers/test_ofx.py`` proves both
  give identical results on every fixture.

Corrections (``CORRECTFITID``/``CORRECTACTION``: REPLACE or DELETE an earlier STMTTRN) are
applied per statement by one function both paths share (:func:`apply_corrections`).

Header quirks banks send are named preprocessing steps: one-line OFX 1 headers, ``CHARSET:NONE``
(ofxparse looks up a codec called ``cpNONE``), UTF-8 bodies under an ASCII header, OFX 2's
``<?xml?>``/``<?OFX?>`` header. Text is decoded as strict UTF-8 first, then cp1252.
"""

from __future__ import annotations

import html
import re

from cashmatch.engine.errors import InvalidInput, RowProblem
from cashmatch.parsers._common import (
    CRDT,
    DBIT,
    ParseResult,
    PaymentRows,
    StatementInfo,
    check_size,
    clean,
    decode_text,
    finish_statements,
    minor,
    pause_gc,
    reconcile,
)

NAME = "ofx"
KINDS = frozenset({"payments"})

_TOKEN = re.compile(r"<(/?)([A-Za-z0-9_.]+)>([^<]*)")
_OFX_START = re.compile(r"<OFX>", re.IGNORECASE)
_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})", re.ASCII)
_STMT_AGGREGATES = frozenset({"STMTRS", "CCSTMTRS"})
_BAL_AGGREGATES = frozenset({"LEDGERBAL", "AVAILBAL"})


def sniff(head: bytes) -> bool:
    h = head[:4096].upper()
    return b"OFXHEADER" in h or b"<OFX>" in h


# ------------------------------------------------------------------------ preprocessing


def split_header(data: bytes, *, source: str) -> tuple[dict[str, str], str]:
    """Decode and cut the header off: ``(headers, body from <OFX>)``.

    Handles multi-line and one-line OFX 1 headers and OFX 2 processing instructions.
    """
    check_size(data, source)
    text, _ = decode_text(data)
    m = _OFX_START.search(text)
    if m is None:
        raise InvalidInput(f"{source}: no <OFX> element: not an OFX file")
    head, body = text[: m.start()], text[m.start() :]
    headers: dict[str, str] = {}
    for key, value in re.findall(r"([A-Za-z]+):(\S*)", head):  # OFX 1, any line layout
        headers.setdefault(key.upper(), value)
    for key, value in re.findall(r'([A-Za-z]+)="([^"]*)"', head):  # OFX 2 <?OFX ...?>
        headers.setdefault(key.upper(), value)
    return headers, body


def _amount_text(value: str) -> str:
    """The decimal normalisation ofxparse applies to TRNAMT/BALAMT, without Decimal."""
    d = value.strip()
    if "," in d:
        if re.search(r".*\..*,", d):
            d = d.replace(".", "")
        if re.search(r".*,.*\.", d):
            d = d.replace(",", "")
        if "." not in d and "," in d:
            d = d.replace(",", ".")
    return d.replace(" ", "").replace("+", "")


def _iso(value: str | None) -> str | None:
    if not value:
        return None
    m = _DATE.match(value.strip())
    return f"{m[1]}-{m[2]}-{m[3]}" if m else value.strip()


# ------------------------------------------------------------------------ the fast path


class _Stmt:
    __slots__ = ("fields", "bal", "line", "txs")

    def __init__(self, line: int) -> None:
        self.fields: dict[str, str] = {}
        self.bal: dict[str, str] = {}
        self.line = line
        self.txs: list[tuple] = []  # TXN_FIELDS


@pause_gc
def parse(data: bytes, *, source: str) -> ParseResult:
    headers, body = split_header(data, source=source)
    del headers
    base_line = data[: max(0, data.upper().find(b"<OFX>"))].count(b"\n") + 1
    problems: list[RowProblem] = []
    payments = PaymentRows(source)
    infos: list[StatementInfo] = []
    stmt: _Stmt | None = None
    tx: dict[str, str] | None = None
    tx_line = 0
    aggregate: str | None = None
    line = base_line
    pos = 0
    for m in _TOKEN.finditer(body):
        closing, tag, text = m.group(1), m.group(2).upper(), m.group(3)
        if closing:
            if tag == "STMTTRN" and tx is not None and stmt is not None:
                line += body.count("\n", pos, m.start())
                pos = m.start()
                _emit(tx, stmt, tx_line, payments, problems, source)
                tx = None
            elif tag in _STMT_AGGREGATES and stmt is not None:
                infos.append(_statement(stmt, payments, problems, source))
                stmt = None
            elif tag in _BAL_AGGREGATES:
                aggregate = None
            continue
        if tag == "STMTTRN":
            line += body.count("\n", pos, m.start())
            pos = m.start()
            tx, tx_line = {}, line
            continue
        if tag in _STMT_AGGREGATES:
            line += body.count("\n", pos, m.start())
            pos = m.start()
            stmt = _Stmt(line)
            continue
        if tag in _BAL_AGGREGATES:
            aggregate = tag
            continue
        value = text.strip()
        if not value:
            continue
        if tx is not None:
            if tag not in tx:
                tx[tag] = value
        elif stmt is not None:
            if aggregate == "LEDGERBAL":
                stmt.bal.setdefault(tag, value)
            elif aggregate is None and tag not in stmt.fields:
                stmt.fields[tag] = value
    if tx is not None and stmt is not None:
        problems.append(
            RowProblem(
                source, tx_line, "STMTTRN", "the file ends inside this transaction; left out"
            )
        )
    if stmt is not None:
        infos.append(_statement(stmt, payments, problems, source))
    return _finish(payments, infos, problems, source)


def _emit(
    tx: dict[str, str],
    stmt: _Stmt,
    line: int,
    payments: PaymentRows,
    problems: list[RowProblem],
    source: str,
) -> None:
    fitid = tx.get("FITID")
    amount = tx.get("TRNAMT")
    posted = tx.get("DTPOSTED")
    if fitid is None or amount is None or posted is None:
        missing = [
            k for k, v in (("FITID", fitid), ("TRNAMT", amount), ("DTPOSTED", posted)) if v is None
        ]
        problems.append(
            RowProblem(
                source, line, missing[0], f"transaction without {', '.join(missing)}; left out"
            )
        )
        return
    name, memo = tx.get("NAME"), tx.get("MEMO")
    if name and "&" in name:
        name = html.unescape(name)
    if memo and "&" in memo:
        memo = html.unescape(memo)
    stmt.txs.append(
        (
            fitid,
            _amount_text(amount),
            _iso(posted),
            name,
            memo,
            tx.get("CHECKNUM"),
            tx.get("TRNTYPE"),
            line,
            tx.get("CORRECTFITID"),
            tx.get("CORRECTACTION"),
        )
    )


#: one STMTTRN as either path reads it (a plain tuple: a file holds many)
TXN_FIELDS = (
    "fitid",
    "amount",
    "posted",
    "name",
    "memo",
    "checknum",
    "trntype",
    "line",
    "correct_fitid",
    "correct_action",
)


def apply_corrections(txs: list[tuple], problems: list[RowProblem], source: str) -> list[tuple]:
    """A statement's transactions after its corrections (OFX 2.1.1, 11.4.3: ``CORRECTFITID``
    names the transaction a STMTTRN corrects, ``CORRECTACTION`` says how): ``REPLACE`` puts
    the correcting transaction in place of the one it names, ``DELETE`` removes the one it
    names and is itself no transaction. Corrections apply in file order; one that names a
    transaction not in this statement (sent in an earlier download) is reported, and a
    REPLACE is then kept as the transaction's current version."""
    if not any(t[8] or t[9] for t in txs):
        return txs
    live: dict[str, int] = {}
    kept: list[tuple | None] = []
    for t in txs:
        fitid, line, correct_fitid, correct_action = t[0], t[7], t[8], t[9]
        action = (correct_action or "").strip().upper()
        target = (correct_fitid or "").strip()
        if not target and not action:
            live[fitid] = len(kept)
            kept.append(t)
            continue
        if action not in ("REPLACE", "DELETE") or not target:
            problems.append(
                RowProblem(
                    source,
                    line,
                    "CORRECTACTION",
                    f"correction {fitid}: expected CORRECTFITID with CORRECTACTION REPLACE or "
                    f"DELETE, got {target or None!r} / {correct_action!r}; left out",
                )
            )
            continue
        if target in live:
            kept[live.pop(target)] = None
        else:
            problems.append(
                RowProblem(
                    source,
                    line,
                    "CORRECTFITID",
                    f"correction {fitid} ({action}) names transaction {target}, which is not in "
                    f"this statement (an earlier download?); "
                    + ("kept as its new version" if action == "REPLACE" else "nothing to delete"),
                )
            )
        if action == "REPLACE":
            live[fitid] = len(kept)
            kept.append(t)
    return [t for t in kept if t is not None]


def add_transaction(payments: PaymentRows, fields: dict[str, str], t: tuple) -> None:
    """One STMTTRN (:data:`TXN_FIELDS`) into the payments builder (shared by both paths)."""
    fitid, amount, posted, name, memo, checknum, trntype, line = t[:8]
    direction = CRDT
    if amount.startswith("-"):
        direction, amount = DBIT, amount[1:]
    ref = clean(memo)
    if checknum:
        ref = f"{ref} CHECK {checknum}" if ref else f"CHECK {checknum}"
    currency = (fields.get("CURDEF") or "").upper() or None
    payments.add(
        fitid,
        posted,
        amount,
        currency,
        clean(name),
        None,
        ref,
        None,
        direction,
        False,
        trntype.upper() if trntype else None,
        statement_id(fields),
        line,
    )


def statement_id(fields: dict[str, str]) -> str:
    acct = fields.get("ACCTID") or "?"
    bank = fields.get("BANKID")
    end = _iso(fields.get("DTEND")) or ""
    return f"{bank + '/' if bank else ''}{acct}/{end}"


def _statement(
    stmt: _Stmt, payments: PaymentRows, problems: list[RowProblem], source: str
) -> StatementInfo:
    for t in apply_corrections(stmt.txs, problems, source):
        add_transaction(payments, stmt.fields, t)
    f = stmt.fields
    cur = (f.get("CURDEF") or "").upper() or None
    info = StatementInfo(
        statement_id=statement_id(f), account=f.get("ACCTID"), currency=cur, line=stmt.line
    )
    info.opening_date = _iso(f.get("DTSTART"))
    bal = stmt.bal.get("BALAMT")
    if bal is not None and cur:
        info.closing_balance = minor(_amount_text(bal), cur)
        info.closing_date = _iso(stmt.bal.get("DTASOF"))
        if info.closing_balance is None:
            problems.append(
                RowProblem(
                    source, stmt.line, "LEDGERBAL", f"expected a balance amount, got {bal!r}"
                )
            )
    return info


def _finish(
    payments: PaymentRows, infos: list[StatementInfo], problems: list[RowProblem], source: str
) -> ParseResult:
    result = ParseResult.empty(NAME)
    result.payments = payments.finish(problems)
    result.statements = finish_statements(infos, result.payments, source=source)
    problems.extend(reconcile(infos, result.statements, source=source))
    result.problems = problems
    return result


# ------------------------------------------------------------------------ the reference


def canonical_for_ofxparse(body: str) -> bytes:
    """A clean OFX 1 header ofxparse can read, then the (already decoded) body as UTF-8."""
    header = (
        "OFXHEADER:100\nDATA:OFXSGML\nVERSION:102\nSECURITY:NONE\nENCODING:UTF-8\n"
        "CHARSET:NONE\nCOMPRESSION:NONE\nOLDFILEUID:NONE\nNEWFILEUID:NONE\n\n"
    )
    return (header + body).encode("utf-8")


@pause_gc
def parse_reference(data: bytes, *, source: str) -> ParseResult:
    """The same result through ofxparse (quadratic; for differential tests)."""
    import io

    from ofxparse import OfxParser

    class _LocalDateParser(OfxParser):
        """Dates as the bank wrote them: ofxparse shifts them to UTC by the ``[tz]`` suffix."""

        @classmethod
        def parseOfxDateTime(cls, ofxDateTime):  # noqa: N802, N803 - ofxparse's names
            return super().parseOfxDateTime(re.sub(r"\[.*\]$", "", ofxDateTime))

        @classmethod
        def parseTransaction(cls, txn_ofx):  # noqa: N802 - ofxparse's name
            """ofxparse drops the correction fields: read them from the same element."""
            t = super().parseTransaction(txn_ofx)
            for field in ("correctfitid", "correctaction"):
                tag = txn_ofx.find(field)
                text = tag.contents[0].strip() if getattr(tag, "contents", None) else None
                setattr(t, field, text or None)
            return t

    _headers, body = split_header(data, source=source)
    ofx = _LocalDateParser.parse(io.BytesIO(canonical_for_ofxparse(body)), fail_fast=True)
    problems: list[RowProblem] = []
    payments = PaymentRows(source)
    infos: list[StatementInfo] = []
    for account in ofx.accounts:
        st = account.statement
        fields: dict[str, str] = {}
        if getattr(account, "curdef", None):
            fields["CURDEF"] = account.curdef
        elif getattr(st, "currency", None):
            fields["CURDEF"] = st.currency
        if account.account_id:
            fields["ACCTID"] = account.account_id
        if account.routing_number:
            fields["BANKID"] = account.routing_number
        if getattr(st, "end_date", None):
            fields["DTEND"] = st.end_date.strftime("%Y%m%d")
        if getattr(st, "start_date", None):
            fields["DTSTART"] = st.start_date.strftime("%Y%m%d")
        txs = [
            (
                t.id,
                format(t.amount, "f"),
                t.date.strftime("%Y-%m-%d"),
                t.payee or None,
                t.memo or None,
                t.checknum or None,
                t.type or None,
                None,
                t.correctfitid,
                t.correctaction,
            )
            for t in st.transactions
        ]
        for t in apply_corrections(txs, problems, source):
            add_transaction(payments, fields, t)
        cur = (fields.get("CURDEF") or "").upper() or None
        info = StatementInfo(
            statement_id=statement_id(fields), account=fields.get("ACCTID"), currency=cur
        )
        info.opening_date = _iso(fields.get("DTSTART"))
        if getattr(st, "balance", None) is not None and cur:
            info.closing_balance = minor(format(st.balance, "f"), cur)
            info.closing_date = (
                st.balance_date.strftime("%Y-%m-%d") if getattr(st, "balance_date", None) else None
            )
        infos.append(info)
    return _finish(payments, infos, problems, source)
