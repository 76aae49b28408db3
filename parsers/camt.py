"""ISO 20022 CAMT.052/053/054 (every published version: the namespace is taken from the root).

XML goes through lxml hardened as the house asks: any DTD is refused before parsing, entities
are not resolved, the network is off, ``huge_tree`` stays off (libxml2's depth and text-node
limits apply) and the input size is capped.

Two readings, checked against each other (``tests/parsers/test_camt.py``), both turn elements
into the same records (``_camt_scan.LAYOUT``: the raw text at each field path, first match)
for one set of decisions (:class:`_Parser`):

- :func:`parse` — the production path: libxml2 checks the document without building a tree,
  then the shape scanner reads each entry with one compiled regular expression per distinct
  entry shape (``_camt_scan``); anything it does not model exactly, or a document that is not
  well-formed, goes to the reference, which keeps what precedes a break;
- :func:`parse_reference` — streamed with ``iterparse``, one path lookup per field, each
  ``Ntry`` freed after reading (flat memory); obviously correct, about a fifth of the speed.

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

import numpy as np

from cashmatch.engine.errors import InvalidInput, RowProblem
from cashmatch.parsers._camt_scan import CONTAINERS, LAYOUT, Unusual, runs
from cashmatch.parsers._common import (
    CRDT,
    DBIT,
    NO_REFERENCE,
    ParseResult,
    PaymentRows,
    RemittanceRows,
    StatementInfo,
    check_size,
    finish_statements,
    minor,
    pause_gc,
    reconcile,
)

NAME = "camt"
KINDS = frozenset({"payments", "remittances"})

_DOCTYPE = re.compile(rb"<!DOCTYPE|<!ENTITY", re.IGNORECASE)
_FIRST_ELEMENT = re.compile(rb"<[A-Za-z_]")
#: libxml2 options of every parse: no entities, no DTD, no network, libxml2's size limits
_HARDENED = dict(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    huge_tree=False,
    remove_comments=True,
    remove_pis=True,
)


def sniff(head: bytes) -> bool:
    return (
        b"urn:iso:std:iso:20022:tech:xsd:camt.05" in head
        or b"BkToCstmrStmt" in head
        or b"BkToCstmrDbtCdtNtfctn" in head
        or b"BkToCstmrAcctRpt" in head
    )


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

    def record(self, el, kind: str) -> tuple:
        """``el`` -> (line, the raw text or attribute at each field path of ``kind`` - first
        match, None when absent -, then each listed path's records or raw texts)."""
        fields, lists = LAYOUT[kind]
        out: list = [el.sourceline]
        for path in fields:
            base, _, attr = path.partition("/@")
            found = el.find(_path(self.ns, base))
            out.append(None if found is None else (found.get(attr) if attr else found.text))
        for path, sub in lists:
            items = el.findall(_path(self.ns, path))
            out.append([self.record(x, sub) for x in items] if sub else [x.text for x in items])
        return tuple(out)


def _text(v: str | None) -> str | None:
    """A field's text as the parser uses it: white space collapsed; empty is None."""
    return (" ".join(v.split()) or None) if v else None


def _reference(v: str | None) -> str | None:
    """``reference_or_none(_text(v))``, with one call fewer (the normalised text is clean)."""
    t = _text(v)
    return None if t is None or t.upper() in NO_REFERENCE else t


def _texts(values: list[str | None]) -> list[str]:
    return [" ".join(t.split()) for t in values if t and t.strip()]


def _number(v: str | None) -> str | None:
    return (v.strip() or None) if v else None


def _amount(v: str | None, ccy: str | None) -> tuple[str | None, str | None]:
    """(amount, currency), both None without an amount."""
    v = _number(v)
    return (None, None) if v is None else (v, (ccy or "").strip().upper() or None)


def _date(d: str | None, dttm: str | None) -> str | None:
    found = _text(d) or _text(dttm)
    return found[:10] if found else None


def _local(tag: object) -> str:
    if not isinstance(tag, str):
        return ""
    return tag.rpartition("}")[2]


class _Parser:
    """The decisions, over records (:data:`LAYOUT`) whichever reader built them."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[RowProblem] = []
        self.payments = PaymentRows(source)
        self.remit: list[tuple] = []  # (payment row index, e2e, inv, paid, disc, ded, rsn, ccy, ln)
        self.infos: list[StatementInfo] = []

    # ---------------------------------------------------------------- statement level
    def statement_info(self, st: tuple) -> StatementInfo:
        line, sid, iban, othr, ccy, elctrnc, lgl = st[:7]
        info = StatementInfo(statement_id=_text(sid) or f"statement@{line}", line=line)
        info.account = _text(iban) or _text(othr)
        info.currency = _text(ccy)
        info.sequence = _text(elctrnc) or _text(lgl)
        return info

    def finish_statement(self, st: tuple, info: StatementInfo) -> None:
        for line, cd, prtry, amt_text, amt_ccy, cdi, dt, dttm in st[9]:
            code = _text(cd) or _text(prtry)
            amt, ccy = _amount(amt_text, amt_ccy)
            if amt is None:
                continue
            info.currency = info.currency or ccy
            value = minor(amt, ccy or info.currency)
            if value is None:
                why = f"expected a decimal amount, got {amt!r}"
                self.problems.append(RowProblem(self.source, line, "Bal/Amt", why))
                continue
            if _text(cdi) == DBIT:
                value = -value
            when = _date(dt, dttm)
            if code in ("OPBD", "PRCD") and (info.opening_balance is None or code == "OPBD"):
                info.opening_balance, info.opening_date = value, when
            elif code == "CLBD":
                info.closing_balance, info.closing_date = value, when
                info.closing_line = line
        for total, attr in ((st[7], "declared_credits"), (st[8], "declared_debits")):
            total = _text(total)
            if total is not None and info.currency:
                setattr(info, attr, minor(total, info.currency))

    # ---------------------------------------------------------------- entries
    def entry(self, e: tuple, info: StatementInfo) -> None:
        (line, sts_cd, sts, amt_text, amt_ccy, cdi, rvsl, val_dt, val_dttm, bookg_dt,
         bookg_dttm, svcr_ref, ntry_ref, dom, fam, sub, prtry, extra, txs) = e  # fmt: skip
        status = _text(sts_cd) or _text(sts)
        if status and status not in ("BOOK",):
            self.problems.append(
                RowProblem(
                    self.source,
                    line,
                    "Sts",
                    f"statement {info.statement_id}: entry with status {status} is not booked; "
                    f"left out",
                )
            )
            return
        amt, ccy = _amount(amt_text, amt_ccy)
        ccy = ccy or info.currency
        info.currency = info.currency or ccy
        cdi = _text(cdi)
        if cdi not in (CRDT, DBIT):
            self.problems.append(
                RowProblem(self.source, line, "CdtDbtInd", f"expected CRDT or DBIT, got {cdi!r}")
            )
            return
        reversal = bool(rvsl) and (_text(rvsl) or "").lower() in ("true", "1")
        value_date = _date(val_dt, val_dttm) or _date(bookg_dt, bookg_dttm)
        entry_ref = _reference(svcr_ref) or _reference(ntry_ref)
        dom = _text(dom)
        code = "/".join([x for x in (dom, _text(fam), _text(sub)) if x]) if dom else _text(prtry)
        extra = _text(extra)
        if not txs:
            self.add(None, entry_ref, value_date, amt, ccy, cdi, reversal, code, info, line, extra)
            return
        multi = len(txs) > 1
        if multi:
            self.check_batch(line, txs, amt, info)
        for k, tx in enumerate(txs, 1):
            tamt, tccy = _amount(tx[1], tx[2])
            if tamt is None:
                tamt, tccy = _amount(tx[3], tx[4])
            if tamt is None and not multi:
                tamt, tccy = amt, ccy
            if tamt is None:
                self.problems.append(
                    RowProblem(
                        self.source,
                        tx[0],
                        "TxDtls/Amt",
                        f"statement {info.statement_id}: batched transaction {k} of the entry at "
                        f"line {line} carries no amount",
                    )
                )
                continue
            pid = _reference(tx[5])
            if pid is None and entry_ref is not None:
                pid = f"{entry_ref}/{k}" if multi else entry_ref
            tcdi = _text(tx[7]) or cdi
            self.add(
                tx,
                pid,
                value_date,
                tamt,
                tccy or ccy,
                tcdi,
                reversal,
                code,
                info,
                tx[0] if multi else line,
                extra,
            )

    def check_batch(self, line: int, txs: list[tuple], amt: str | None, info) -> None:
        try:
            total = Decimal(0)
            for tx in txs:
                a = _text(tx[1]) or _text(tx[3])
                if a is None:
                    return
                total += Decimal(a)
            if amt is not None and total != Decimal(amt):
                self.problems.append(
                    RowProblem(
                        self.source,
                        line,
                        "TxDtls/Amt",
                        f"statement {info.statement_id}: the {len(txs)} batched transactions sum "
                        f"to {total} but the entry amount is {amt}",
                    )
                )
        except InvalidOperation:
            return

    def add(self, tx, pid, value_date, amt, ccy, cdi, reversal, code, info, line, extra):
        name = account = e2e = None
        refs: list[str] = []
        if tx is not None:
            e2e = _reference(tx[6])
            # debtor fields for a credit, creditor fields for anything else
            nm, pty_nm, ultmt_nm, iban, othr = tx[8:13] if cdi == CRDT else tx[13:18]
            name = _text(nm) or _text(pty_nm) or _text(ultmt_nm)
            account = _text(iban) or _text(othr)
            ustrd, strds, addtl = tx[18:21]
            refs.extend(_texts(ustrd))
            index = len(self.payments)
            for strd in strds:
                docs = _texts(strd[8])
                cref = _text(strd[1])
                refs.extend(docs)
                if cref:
                    refs.append(cref)
                self.remittance(strd, docs, index, e2e, amt if len(strds) == 1 else None, ccy)
            if not refs:
                refs.extend(_texts(addtl))
        if not refs and extra:
            refs.append(extra)
        self.payments.add(
            pid,
            value_date,
            amt,
            ccy,
            name,
            account,
            " ".join(refs) or None,
            e2e,
            cdi,
            reversal,
            code,
            info.statement_id,
            line,
        )

    def remittance(self, strd: tuple, docs: list[str], index: int, e2e, tx_amt, ccy) -> None:
        line, _, rmtd, rmtd_ccy, disc_amt, disc, ded, rsn, _ = strd
        paid, pccy = _amount(rmtd, rmtd_ccy)
        disc = _number(disc_amt) or _number(disc)
        ded = _number(ded)
        rsn = _text(rsn)
        if paid is None and len(docs) == 1:
            paid = tx_amt  # the whole transaction pays the one document it names
        if not docs:
            return
        if len(docs) > 1:
            paid = disc = ded = None
            rsn = None
        for doc in docs:
            if paid is None:
                self.problems.append(
                    RowProblem(
                        self.source,
                        line,
                        "RfrdDocAmt/RmtdAmt",
                        f"remittance for {doc} states no amount paid; line left out",
                    )
                )
                continue
            if ded is not None and ded.startswith("-"):
                ded = ded[1:]
            self.remit.append((index, e2e, doc, paid, disc, ded, rsn, pccy or ccy, line))

    def result(self) -> ParseResult:
        result = ParseResult.empty(NAME)
        result.payments = self.payments.finish(self.problems)
        ids = self.payments.final_ids
        rr = RemittanceRows(self.source)
        for index, *rest in self.remit:
            rr.add(ids[index] if index < len(ids) else None, *rest)
        result.remittances = rr.finish(self.problems)
        result.statements = finish_statements(self.infos, result.payments, source=self.source)
        self.problems.extend(reconcile(self.infos, result.statements, source=self.source))
        result.problems = self.problems
        return result


@pause_gc
def parse_reference(data: bytes, *, source: str) -> ParseResult:
    """The streaming, element-by-element reading: obviously correct, keeps what precedes a
    break in the XML, ~5k entries/s. :func:`parse` must agree with it (differential tests)."""
    from lxml import etree

    check_size(data, source)
    _refuse_dtd(data, source)
    p = _Parser(source)
    doc = _Doc("")
    # (container element, its statement): keyed by the element, not its line, since a
    # document written on one line has every statement on line 1
    opened: list[tuple[object, StatementInfo]] = []
    events = etree.iterparse(io.BytesIO(data), events=("start", "end"), **_HARDENED)
    root_seen = False
    try:
        for event, el in events:
            tag = _local(el.tag)
            if event == "start":
                if not root_seen:
                    root_seen = True
                    doc = _Doc(el.tag[: el.tag.index("}") + 1] if el.tag.startswith("{") else "")
                continue
            if tag == "Ntry":
                parent = el.getparent()
                if parent is not None and _local(parent.tag) in CONTAINERS:
                    if not opened or opened[-1][0] is not parent:
                        opened.append((parent, p.statement_info(doc.record(parent, "stmt"))))
                    p.entry(doc.record(el, "entry"), opened[-1][1])
                    el.clear(keep_tail=True)
                    prev = el.getprevious()
                    while prev is not None and _local(prev.tag) == "Ntry":
                        parent.remove(prev)
                        prev = el.getprevious()
            elif (
                tag in CONTAINERS
                and el.getparent() is not None
                and _local(el.getparent().tag).startswith("BkToCstmr")
            ):
                st = doc.record(el, "stmt")
                if opened and opened[-1][0] is el:
                    info = opened[-1][1]
                else:
                    info = p.statement_info(st)
                    opened.append((el, info))
                p.finish_statement(st, info)
                p.infos.append(info)
                el.clear()
    except etree.XMLSyntaxError as exc:
        line = exc.lineno if hasattr(exc, "lineno") else None
        if not root_seen or (not p.payments and not p.infos and not opened):
            raise InvalidInput(f"{source}: not well-formed XML at line {line}: {exc.msg}") from exc
        p.problems.append(
            RowProblem(source, line, None, f"XML breaks here ({exc.msg}); nothing after it is read")
        )
        for _, info in opened:
            if not any(info is x for x in p.infos):
                p.infos.append(info)
    return p.result()


# ------------------------------------------------------------------------------ fast path


class _Nothing:
    """A parser target that builds nothing: libxml2 only checks the document."""

    def close(self) -> bool:
        return True


#: libxml2 refuses a text or attribute value longer than about 10 MB unless ``huge_tree`` is
#: on, but only when it builds a tree: a file with so long a run goes to the reference
_LONGEST_RUN = 9_000_000


def _long_run(data: bytes) -> bool:
    """Whether ``data`` has :data:`_LONGEST_RUN` bytes or more without a ``<``. Such a run
    holds a whole aligned block of half that length, so only a block without one (found by
    ``memchr``, no copy) calls for the exact count."""
    half = _LONGEST_RUN // 2
    if all(data.find(b"<", lo, lo + half) >= 0 for lo in range(0, len(data) - half + 1, half)):
        return False
    tags = np.flatnonzero(np.frombuffer(data, np.uint8) == ord("<"))
    return bool(np.diff(tags, prepend=-1, append=len(data)).max() >= _LONGEST_RUN)


def _well_formed(data: bytes) -> bool:
    """libxml2's verdict, with the reference's hardening, without building a tree."""
    from lxml import etree

    if len(data) > _LONGEST_RUN and _long_run(data):
        return False
    parser = etree.XMLParser(target=_Nothing(), **_HARDENED)
    try:
        etree.fromstring(data, parser)
    except etree.XMLSyntaxError:
        return False
    return True


@pause_gc
def parse(data: bytes, *, source: str) -> ParseResult:
    """The production path: libxml2 checks the document (building nothing), the shape scanner
    of :mod:`._camt_scan` reads its entries into records, and the decisions every reading
    shares run over each run of them as it is read. A document the scanner does not model,
    or that is not well-formed, is read by :func:`parse_reference`; both give identical
    results (differential tests)."""
    check_size(data, source)
    _refuse_dtd(data, source)
    if _well_formed(data):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        if text is not None:
            p, st, info = _Parser(source), None, None
            try:
                for record, run in runs(text):  # entries decided as they are read
                    if record is not st:
                        st, info = record, p.statement_info(record)
                    if run is None:
                        p.finish_statement(st, info)
                        p.infos.append(info)
                    else:
                        for e in run:
                            p.entry(e, info)
            except Unusual:
                pass
            else:
                return p.result()
    return parse_reference(data, source=source)
