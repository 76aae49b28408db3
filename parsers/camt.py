"""ISO 20022 CAMT.052/053/054 (every published version: the namespace is taken from the root).

Streamed with lxml ``iterparse`` hardened as the house asks: any DTD is refused before parsing,
entities are not resolved, the network is off, ``huge_tree`` stays off (libxml2's depth and
text-node limits apply) and the input size is capped. Each ``Ntry`` is read when it closes and
then freed, so memory stays flat on large files.

- one payment per ``TxDtls`` (batched entries with several ``TxDtls`` become several payments;
  a ``Btch`` without details stays one payment); entries that are not booked are reported and
  left out;
- structured remittance (``Strd/RfrdDocInf/Nb`` with ``RfrdDocAmt``) becomes remittance lines
  linked to their payment;
- balances ``OPBD`` (or ``PRCD``) and ``CLBD`` and the ``TxsSummry`` totals feed the statement
  reconciliation.
"""

from __future__ import annotations

import io
import re
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from cashmatch.engine.errors import InvalidInput, RowProblem
from cashmatch.parsers._common import (
    CRDT,
    DBIT,
    ParseResult,
    PaymentRows,
    RemittanceRows,
    StatementInfo,
    check_size,
    finish_statements,
    minor,
    reconcile,
    reference_or_none,
)

NAME = "camt"
KINDS = frozenset({"payments", "remittances"})

_CONTAINERS = ("Stmt", "Rpt", "Ntfctn")
_DOCTYPE = re.compile(rb"<!DOCTYPE|<!ENTITY", re.IGNORECASE)
_FIRST_ELEMENT = re.compile(rb"<[A-Za-z_]")


def sniff(head: bytes) -> bool:
    return (b"urn:iso:std:iso:20022:tech:xsd:camt.05" in head
            or b"BkToCstmrStmt" in head or b"BkToCstmrDbtCdtNtfctn" in head
            or b"BkToCstmrAcctRpt" in head)


def _refuse_dtd(data: bytes, source: str) -> None:
    first = _FIRST_ELEMENT.search(data)
    prolog = data[: first.start()] if first else data
    if _DOCTYPE.search(prolog):
        raise InvalidInput(f"{source}: XML with a DTD or entity declarations is refused")


@lru_cache(maxsize=256)
def _path(ns: str, path: str) -> str:
    return "/".join(f"{ns}{p}" for p in path.split("/"))


class _Doc:
    """Namespace-agnostic lookups (every element of a CAMT document shares one namespace)."""

    __slots__ = ("ns",)

    def __init__(self, ns: str) -> None:
        self.ns = ns

    def text(self, el, path: str) -> str | None:
        v = el.findtext(_path(self.ns, path))
        if v is None:
            return None
        v = v.strip()
        return v or None

    def find(self, el, path: str):
        return el.find(_path(self.ns, path))

    def findall(self, el, path: str):
        return el.findall(_path(self.ns, path))

    def texts(self, el, path: str) -> list[str]:
        return [t.strip() for x in el.findall(_path(self.ns, path)) if (t := x.text) and
                t.strip()]

    def amount(self, el, path: str) -> tuple[str | None, str | None]:
        a = el.find(_path(self.ns, path))
        if a is None or a.text is None:
            return None, None
        return a.text.strip(), (a.get("Ccy") or "").strip().upper() or None

    def date(self, el, path: str) -> str | None:
        d = self.text(el, f"{path}/Dt")
        if d is None:
            d = self.text(el, f"{path}/DtTm")
        return d[:10] if d else None


def _local(tag: object) -> str:
    if not isinstance(tag, str):
        return ""
    return tag.rpartition("}")[2]


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[RowProblem] = []
        self.payments = PaymentRows(source)
        self.remit: list[tuple] = []  # (payment row index, e2e, inv, paid, disc, ded, rsn, ccy, ln)
        self.infos: list[StatementInfo] = []
        self.doc = _Doc("")
        self.position = 0

    # ---------------------------------------------------------------- statement level
    def statement_info(self, st) -> StatementInfo:
        d = self.doc
        sid = d.text(st, "Id") or f"statement@{st.sourceline}"
        info = StatementInfo(statement_id=sid, line=st.sourceline)
        info.account = d.text(st, "Acct/Id/IBAN") or d.text(st, "Acct/Id/Othr/Id")
        info.currency = d.text(st, "Acct/Ccy")
        info.sequence = d.text(st, "ElctrncSeqNb") or d.text(st, "LglSeqNb")
        return info

    def finish_statement(self, st, info: StatementInfo) -> None:
        d = self.doc
        for bal in d.findall(st, "Bal"):
            code = d.text(bal, "Tp/CdOrPrtry/Cd") or d.text(bal, "Tp/CdOrPrtry/Prtry")
            amt, ccy = d.amount(bal, "Amt")
            if amt is None:
                continue
            info.currency = info.currency or ccy
            value = minor(amt, ccy or info.currency)
            if value is None:
                self.problems.append(RowProblem(self.source, bal.sourceline, "Bal/Amt",
                                                f"expected a decimal amount, got {amt!r}"))
                continue
            if d.text(bal, "CdtDbtInd") == DBIT:
                value = -value
            when = d.date(bal, "Dt")
            if code in ("OPBD", "PRCD") and (info.opening_balance is None or code == "OPBD"):
                info.opening_balance, info.opening_date = value, when
            elif code == "CLBD":
                info.closing_balance, info.closing_date = value, when
                info.closing_line = bal.sourceline
        for tag, attr in (("TxsSummry/TtlCdtNtries/Sum", "declared_credits"),
                          ("TxsSummry/TtlDbtNtries/Sum", "declared_debits")):
            s = d.text(st, tag)
            if s is not None and info.currency:
                setattr(info, attr, minor(s, info.currency))

    # ---------------------------------------------------------------- entries
    def entry(self, ntry, info: StatementInfo) -> None:
        d = self.doc
        line = ntry.sourceline
        status = d.text(ntry, "Sts/Cd") or d.text(ntry, "Sts")
        if status and status not in ("BOOK",):
            self.problems.append(RowProblem(
                self.source, line, "Sts",
                f"statement {info.statement_id}: entry with status {status} is not booked; "
                f"left out"))
            return
        amt, ccy = d.amount(ntry, "Amt")
        ccy = ccy or info.currency
        info.currency = info.currency or ccy
        cdi = d.text(ntry, "CdtDbtInd")
        if cdi not in (CRDT, DBIT):
            self.problems.append(RowProblem(self.source, line, "CdtDbtInd",
                                            f"expected CRDT or DBIT, got {cdi!r}"))
            return
        reversal = (d.text(ntry, "RvslInd") or "").lower() in ("true", "1")
        value_date = d.date(ntry, "ValDt") or d.date(ntry, "BookgDt")
        entry_ref = reference_or_none(d.text(ntry, "AcctSvcrRef")) or reference_or_none(
            d.text(ntry, "NtryRef"))
        code = self.bank_code(ntry)
        txs = d.findall(ntry, "NtryDtls/TxDtls")
        extra = d.text(ntry, "AddtlNtryInf")
        if not txs:
            self.add(None, entry_ref, value_date, amt, ccy, cdi, reversal, code, info, line,
                     extra)
            return
        multi = len(txs) > 1
        if multi:
            self.check_batch(ntry, txs, amt, info)
        for k, tx in enumerate(txs, 1):
            tamt, tccy = d.amount(tx, "Amt")
            if tamt is None:
                tamt, tccy = d.amount(tx, "AmtDtls/TxAmt/Amt")
            if tamt is None and not multi:
                tamt, tccy = amt, ccy
            if tamt is None:
                self.problems.append(RowProblem(
                    self.source, tx.sourceline, "TxDtls/Amt",
                    f"statement {info.statement_id}: batched transaction {k} of the entry at "
                    f"line {line} carries no amount"))
                continue
            pid = reference_or_none(d.text(tx, "Refs/AcctSvcrRef"))
            if pid is None and entry_ref is not None:
                pid = f"{entry_ref}/{k}" if multi else entry_ref
            tcdi = d.text(tx, "CdtDbtInd") or cdi
            self.add(tx, pid, value_date, tamt, tccy or ccy, tcdi, reversal, code, info,
                     tx.sourceline if multi else line, extra)

    def check_batch(self, ntry, txs, amt: str | None, info: StatementInfo) -> None:
        d = self.doc
        try:
            total = Decimal(0)
            for tx in txs:
                a = d.text(tx, "Amt") or d.text(tx, "AmtDtls/TxAmt/Amt")
                if a is None:
                    return
                total += Decimal(a)
            if amt is not None and total != Decimal(amt):
                self.problems.append(RowProblem(
                    self.source, ntry.sourceline, "TxDtls/Amt",
                    f"statement {info.statement_id}: the {len(txs)} batched transactions sum "
                    f"to {total} but the entry amount is {amt}"))
        except InvalidOperation:
            return

    def bank_code(self, ntry) -> str | None:
        d = self.doc
        dom = d.text(ntry, "BkTxCd/Domn/Cd")
        if dom:
            fam = d.text(ntry, "BkTxCd/Domn/Fmly/Cd") or ""
            sub = d.text(ntry, "BkTxCd/Domn/Fmly/SubFmlyCd") or ""
            return "/".join(x for x in (dom, fam, sub) if x)
        return d.text(ntry, "BkTxCd/Prtry/Cd")

    def add(self, tx, pid, value_date, amt, ccy, cdi, reversal, code, info, line, extra):
        d = self.doc
        name = account = e2e = None
        refs: list[str] = []
        if tx is not None:
            e2e = reference_or_none(d.text(tx, "Refs/EndToEndId"))
            party, acct = ("Dbtr", "DbtrAcct") if cdi == CRDT else ("Cdtr", "CdtrAcct")
            name = (d.text(tx, f"RltdPties/{party}/Nm") or d.text(tx, f"RltdPties/{party}/Pty/Nm")
                    or d.text(tx, f"RltdPties/Ultmt{party}/Nm"))
            account = (d.text(tx, f"RltdPties/{acct}/Id/IBAN")
                       or d.text(tx, f"RltdPties/{acct}/Id/Othr/Id"))
            refs.extend(d.texts(tx, "RmtInf/Ustrd"))
            index = len(self.payments)
            strds = d.findall(tx, "RmtInf/Strd")
            for strd in strds:
                docs = d.texts(strd, "RfrdDocInf/Nb")
                cref = d.text(strd, "CdtrRefInf/Ref")
                refs.extend(docs)
                if cref:
                    refs.append(cref)
                self.remittance(strd, docs, index, e2e, amt if len(strds) == 1 else None, ccy)
            if not refs:
                refs.extend(d.texts(tx, "AddtlTxInf"))
        if not refs and extra:
            refs.append(extra)
        self.payments.add(pid, value_date, amt, ccy, name, account, " ".join(refs) or None, e2e,
                          cdi, reversal, code, info.statement_id, line)

    def remittance(self, strd, docs: list[str], index: int, e2e, tx_amt, ccy) -> None:
        d = self.doc
        paid, pccy = d.amount(strd, "RfrdDocAmt/RmtdAmt")
        disc, _ = d.amount(strd, "RfrdDocAmt/DscntApldAmt/Amt")
        if disc is None:
            disc, _ = d.amount(strd, "RfrdDocAmt/DscntApldAmt")
        ded, _ = d.amount(strd, "RfrdDocAmt/AdjstmntAmtAndRsn/Amt")
        rsn = d.text(strd, "RfrdDocAmt/AdjstmntAmtAndRsn/Rsn")
        if paid is None and len(docs) == 1:
            paid = tx_amt  # the whole transaction pays the one document it names
        if not docs:
            return
        if len(docs) > 1:
            paid = disc = ded = None
            rsn = None
        for doc in docs:
            if paid is None:
                self.problems.append(RowProblem(
                    self.source, strd.sourceline, "RfrdDocAmt/RmtdAmt",
                    f"remittance for {doc} states no amount paid; line left out"))
                continue
            if ded is not None and ded.startswith("-"):
                ded = ded[1:]
            self.remit.append((index, e2e, doc, paid, disc, ded, rsn, pccy or ccy,
                               strd.sourceline))


def parse(data: bytes, *, source: str) -> ParseResult:
    from lxml import etree

    check_size(data, source)
    _refuse_dtd(data, source)
    p = _Parser(source)
    info_stack: list[StatementInfo] = []
    events = etree.iterparse(
        io.BytesIO(data), events=("start", "end"), resolve_entities=False, no_network=True,
        load_dtd=False, huge_tree=False, remove_comments=True, remove_pis=True,
    )
    root_seen = False
    try:
        for event, el in events:
            tag = _local(el.tag)
            if event == "start":
                if not root_seen:
                    root_seen = True
                    p.doc = _Doc(el.tag[: el.tag.index("}") + 1] if el.tag.startswith("{")
                                 else "")
                continue
            if tag == "Ntry":
                parent = el.getparent()
                if parent is not None and _local(parent.tag) in _CONTAINERS:
                    if not info_stack or info_stack[-1].line != parent.sourceline:
                        info_stack.append(p.statement_info(parent))
                    p.entry(el, info_stack[-1])
                    el.clear(keep_tail=True)
                    prev = el.getprevious()
                    while prev is not None and _local(prev.tag) == "Ntry":
                        parent.remove(prev)
                        prev = el.getprevious()
            elif tag in _CONTAINERS and el.getparent() is not None and _local(
                    el.getparent().tag).startswith("BkToCstmr"):
                if info_stack and info_stack[-1].line == el.sourceline:
                    info = info_stack[-1]
                else:
                    info = p.statement_info(el)
                    info_stack.append(info)
                p.finish_statement(el, info)
                p.infos.append(info)
                el.clear()
    except etree.XMLSyntaxError as exc:
        line = exc.lineno if hasattr(exc, "lineno") else None
        if not root_seen or (not p.payments and not p.infos and not info_stack):
            raise InvalidInput(f"{source}: not well-formed XML at line {line}: {exc.msg}") from exc
        p.problems.append(RowProblem(source, line, None,
                                     f"XML breaks here ({exc.msg}); nothing after it is read"))
        for info in info_stack:
            if info not in p.infos:
                p.infos.append(info)
    result = ParseResult.empty(NAME)
    result.payments = p.payments.finish(p.problems)
    ids = p.payments.final_ids
    rr = RemittanceRows(source)
    for index, e2e, inv, paid, disc, ded, rsn, ccy, ln in p.remit:
        rr.add(ids[index] if index < len(ids) else None, e2e, inv, paid, disc, ded, rsn, ccy, ln)
    result.remittances = rr.finish(p.problems)
    result.statements = finish_statements(p.infos, result.payments, source=source)
    p.problems.extend(reconcile(p.infos, result.statements, source=source))
    result.problems = p.problems
    return result
