"""ISO 20022 CAMT.052/053/054 (every published version: the namespace is taken from the root).

XML goes through lxml hardened as the house asks: any DTD is refused before parsing, entities
are not resolved, the network is off, ``huge_tree`` stays off (libxml2's depth and text-node
limits apply) and the input size is capped.

Two paths, checked against each other on every fixture (``tests/parsers/test_camt.py``):

- :func:`parse` — the production path: one parse, then one walk over each entry's children
  that descends only into the wanted elements and yields flat records; a document that is not
  well-formed goes to the reference, which keeps what precedes the break;
- :func:`parse_reference` — streamed with ``iterparse``, one path lookup per field, each
  ``Ntry`` freed after reading (flat memory); obviously correct, about half the speed.

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
    pause_gc,
    reconcile,
    reference_or_none,
)

NAME = "camt"
KINDS = frozenset({"payments", "remittances"})

_CONTAINERS = ("Stmt", "Rpt", "Ntfctn")
_DOCTYPE = re.compile(rb"<!DOCTYPE|<!ENTITY", re.IGNORECASE)
_FIRST_ELEMENT = re.compile(rb"<[A-Za-z_]")


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

    def text(self, el, path: str) -> str | None:
        v = el.findtext(_path(self.ns, path))
        if v is None:
            return None
        v = " ".join(v.split())
        return v or None

    def find(self, el, path: str):
        return el.find(_path(self.ns, path))

    def findall(self, el, path: str):
        return el.findall(_path(self.ns, path))

    def texts(self, el, path: str) -> list[str]:
        return [
            " ".join(t.split())
            for x in el.findall(_path(self.ns, path))
            if (t := x.text) and t.strip()
        ]

    def amount(self, el, path: str) -> tuple[str | None, str | None]:
        a = el.find(_path(self.ns, path))
        if a is None or a.text is None or not a.text.strip():
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
                self.problems.append(
                    RowProblem(
                        self.source,
                        bal.sourceline,
                        "Bal/Amt",
                        f"expected a decimal amount, got {amt!r}",
                    )
                )
                continue
            if d.text(bal, "CdtDbtInd") == DBIT:
                value = -value
            when = d.date(bal, "Dt")
            if code in ("OPBD", "PRCD") and (info.opening_balance is None or code == "OPBD"):
                info.opening_balance, info.opening_date = value, when
            elif code == "CLBD":
                info.closing_balance, info.closing_date = value, when
                info.closing_line = bal.sourceline
        for tag, attr in (
            ("TxsSummry/TtlCdtNtries/Sum", "declared_credits"),
            ("TxsSummry/TtlDbtNtries/Sum", "declared_debits"),
        ):
            s = d.text(st, tag)
            if s is not None and info.currency:
                setattr(info, attr, minor(s, info.currency))

    # ---------------------------------------------------------------- entries
    def entry(self, ntry, info: StatementInfo) -> None:
        d = self.doc
        line = ntry.sourceline
        status = d.text(ntry, "Sts/Cd") or d.text(ntry, "Sts")
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
        amt, ccy = d.amount(ntry, "Amt")
        ccy = ccy or info.currency
        info.currency = info.currency or ccy
        cdi = d.text(ntry, "CdtDbtInd")
        if cdi not in (CRDT, DBIT):
            self.problems.append(
                RowProblem(self.source, line, "CdtDbtInd", f"expected CRDT or DBIT, got {cdi!r}")
            )
            return
        reversal = (d.text(ntry, "RvslInd") or "").lower() in ("true", "1")
        value_date = d.date(ntry, "ValDt") or d.date(ntry, "BookgDt")
        entry_ref = reference_or_none(d.text(ntry, "AcctSvcrRef")) or reference_or_none(
            d.text(ntry, "NtryRef")
        )
        code = self.bank_code(ntry)
        txs = d.findall(ntry, "NtryDtls/TxDtls")
        extra = d.text(ntry, "AddtlNtryInf")
        if not txs:
            self.add(None, entry_ref, value_date, amt, ccy, cdi, reversal, code, info, line, extra)
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
                self.problems.append(
                    RowProblem(
                        self.source,
                        tx.sourceline,
                        "TxDtls/Amt",
                        f"statement {info.statement_id}: batched transaction {k} of the entry at "
                        f"line {line} carries no amount",
                    )
                )
                continue
            pid = reference_or_none(d.text(tx, "Refs/AcctSvcrRef"))
            if pid is None and entry_ref is not None:
                pid = f"{entry_ref}/{k}" if multi else entry_ref
            tcdi = d.text(tx, "CdtDbtInd") or cdi
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
                tx.sourceline if multi else line,
                extra,
            )

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
                self.problems.append(
                    RowProblem(
                        self.source,
                        ntry.sourceline,
                        "TxDtls/Amt",
                        f"statement {info.statement_id}: the {len(txs)} batched transactions sum "
                        f"to {total} but the entry amount is {amt}",
                    )
                )
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
            name = (
                d.text(tx, f"RltdPties/{party}/Nm")
                or d.text(tx, f"RltdPties/{party}/Pty/Nm")
                or d.text(tx, f"RltdPties/Ultmt{party}/Nm")
            )
            account = d.text(tx, f"RltdPties/{acct}/Id/IBAN") or d.text(
                tx, f"RltdPties/{acct}/Id/Othr/Id"
            )
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
                self.problems.append(
                    RowProblem(
                        self.source,
                        strd.sourceline,
                        "RfrdDocAmt/RmtdAmt",
                        f"remittance for {doc} states no amount paid; line left out",
                    )
                )
                continue
            if ded is not None and ded.startswith("-"):
                ded = ded[1:]
            self.remit.append((index, e2e, doc, paid, disc, ded, rsn, pccy or ccy, strd.sourceline))


@pause_gc
def parse_reference(data: bytes, *, source: str) -> ParseResult:
    """The streaming, element-by-element reading: obviously correct, keeps what precedes a
    break in the XML, ~15k entries/s. :func:`parse` must agree with it (differential tests)."""
    from lxml import etree

    check_size(data, source)
    _refuse_dtd(data, source)
    p = _Parser(source)
    info_stack: list[StatementInfo] = []
    events = etree.iterparse(
        io.BytesIO(data),
        events=("start", "end"),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    root_seen = False
    try:
        for event, el in events:
            tag = _local(el.tag)
            if event == "start":
                if not root_seen:
                    root_seen = True
                    p.doc = _Doc(el.tag[: el.tag.index("}") + 1] if el.tag.startswith("{") else "")
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
            elif (
                tag in _CONTAINERS
                and el.getparent() is not None
                and _local(el.getparent().tag).startswith("BkToCstmr")
            ):
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
        p.problems.append(
            RowProblem(source, line, None, f"XML breaks here ({exc.msg}); nothing after it is read")
        )
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


# ------------------------------------------------------------------------------ fast path
#
# The fast path parses the whole document once (libxml2, same hardening) and walks each
# container's children once, descending only into the elements it needs (a compiled tree of
# wanted paths per namespace) - no path lookups per field. It yields flat records that
# :func:`_assemble` turns into the result with the reference's exact decisions.

_S_FIELDS = [
    "Id",
    "Acct/Id/IBAN",
    "Acct/Id/Othr/Id",
    "Acct/Ccy",
    "ElctrncSeqNb",
    "LglSeqNb",
    "TxsSummry/TtlCdtNtries/Sum",
    "TxsSummry/TtlDbtNtries/Sum",
]
_B_FIELDS = [
    "Tp/CdOrPrtry/Cd",
    "Tp/CdOrPrtry/Prtry",
    "Amt",
    "Amt/@Ccy",
    "CdtDbtInd",
    "Dt/Dt",
    "Dt/DtTm",
]
_E_FIELDS = [
    "Amt",
    "Amt/@Ccy",
    "CdtDbtInd",
    "RvslInd",
    "Sts/Cd",
    "Sts",
    "ValDt/Dt",
    "ValDt/DtTm",
    "BookgDt/Dt",
    "BookgDt/DtTm",
    "AcctSvcrRef",
    "NtryRef",
    "BkTxCd/Domn/Cd",
    "BkTxCd/Domn/Fmly/Cd",
    "BkTxCd/Domn/Fmly/SubFmlyCd",
    "BkTxCd/Prtry/Cd",
    "AddtlNtryInf",
]
_T_FIELDS = [
    "Refs/AcctSvcrRef",
    "Refs/EndToEndId",
    "Amt",
    "Amt/@Ccy",
    "AmtDtls/TxAmt/Amt",
    "AmtDtls/TxAmt/Amt/@Ccy",
    "CdtDbtInd",
    "RltdPties/Dbtr/Nm",
    "RltdPties/Dbtr/Pty/Nm",
    "RltdPties/UltmtDbtr/Nm",
    "RltdPties/DbtrAcct/Id/IBAN",
    "RltdPties/DbtrAcct/Id/Othr/Id",
    "RltdPties/Cdtr/Nm",
    "RltdPties/Cdtr/Pty/Nm",
    "RltdPties/UltmtCdtr/Nm",
    "RltdPties/CdtrAcct/Id/IBAN",
    "RltdPties/CdtrAcct/Id/Othr/Id",
    "AddtlTxInf",
]
_R_FIELDS = [
    "RfrdDocAmt/RmtdAmt",
    "RfrdDocAmt/RmtdAmt/@Ccy",
    "RfrdDocAmt/DscntApldAmt/Amt",
    "RfrdDocAmt/DscntApldAmt",
    "RfrdDocAmt/AdjstmntAmtAndRsn/Amt",
    "RfrdDocAmt/AdjstmntAmtAndRsn/Rsn",
]
_R_KEYS = ["../../" + f for f in _R_FIELDS]  # the record keys _assemble reads

#: paths whose value is the element's whole string value (it may hold a child: Sts/Cd)
_STRING_VALUE = frozenset({"Sts", "RfrdDocAmt/DscntApldAmt"})

_NAMES = {
    "S": ["s", *_S_FIELDS, "n_entries"],
    "B": ["s", *_B_FIELDS],
    "E": ["s", "e", "n_tx", *_E_FIELDS],
    "T": ["s", "e", "k", *_T_FIELDS, "refs", "n_strd"],
    "R": ["s", "e", "k", "j", "n_nb", "Nb", *_R_KEYS],
}


@lru_cache(maxsize=64)
def _spec(ns: str, fields: tuple[str, ...]) -> dict:
    """Wanted paths as nested dicts keyed by full tag; a leaf is ``(slot, attr, attr slot,
    whole string value?)``; ``""`` inside a dict is the element itself."""
    root: dict = {}
    prefix = f"{{{ns}}}" if ns else ""
    for slot, path in enumerate(fields):
        steps = path.split("/")
        attr = None
        if steps[-1].startswith("@"):
            attr = steps.pop()[1:]
        node = root
        for step in steps[:-1]:
            key = prefix + step
            nxt = node.get(key)
            if not isinstance(nxt, dict):
                nxt = {"": nxt} if nxt is not None else {}
                node[key] = nxt
            node = nxt
        key = prefix + steps[-1]
        leaf_path = "/".join(steps)
        existing = node.get(key)
        if attr is not None:
            # an attribute rides on the element's own leaf entry
            target = existing[""] if isinstance(existing, dict) else existing
            leaf = (target[0], attr, slot, target[3])
            if isinstance(existing, dict):
                existing[""] = leaf
            else:
                node[key] = leaf
            continue
        leaf = (slot, None, None, leaf_path in _STRING_VALUE)
        if isinstance(existing, dict):
            existing[""] = leaf
        else:
            node[key] = leaf
    return root


def _fill(el, spec: dict, out: list) -> None:
    """First match of every wanted path under ``el`` (document order), whitespace-normalised.

    A leaf is ``(slot, attribute, attribute slot, whole string value?)``; the body is inlined
    because this loop is the fast path's hot spot."""
    get = spec.get
    for c in el:
        sub = get(c.tag)
        if sub is None:
            continue
        if sub.__class__ is dict:
            leaf = sub.get("")
            _fill(c, sub, out)
            if leaf is None:
                continue
        else:
            leaf = sub
        slot = leaf[0]
        if out[slot] is None:
            text = "".join(c.itertext()) if leaf[3] else c.text
            out[slot] = " ".join(text.split()) if text else ""
            if leaf[1] is not None:
                value = c.get(leaf[1])
                out[leaf[2]] = " ".join(value.split()) if value else ""


def _row(head: list[str], out: list) -> list[str]:
    return head + ["" if v is None else v for v in out]


def _walk(root, ns: str) -> tuple[dict[str, list[list[str]]], dict[str, list[int]]]:
    prefix = f"{{{ns}}}" if ns else ""
    s_spec = _spec(ns, tuple(_S_FIELDS))
    b_spec = _spec(ns, tuple(_B_FIELDS))
    e_spec = _spec(ns, tuple(_E_FIELDS))
    t_spec = _spec(ns, tuple(_T_FIELDS))
    r_spec = _spec(ns, tuple(_R_FIELDS))
    containers = {prefix + c for c in _CONTAINERS}
    t_ntry, t_bal = prefix + "Ntry", prefix + "Bal"
    t_dtls, t_tx = prefix + "NtryDtls", prefix + "TxDtls"
    t_rmt, t_ustrd, t_strd = prefix + "RmtInf", prefix + "Ustrd", prefix + "Strd"
    t_doc, t_nb = prefix + "RfrdDocInf", prefix + "Nb"
    t_cref, t_ref = prefix + "CdtrRefInf", prefix + "Ref"
    recs: dict[str, list[list[str]]] = {k: [] for k in _NAMES}
    lines: dict[str, list[int]] = {"Stmt": [], "Bal": [], "Ntry": [], "TxDtls": [], "Strd": []}
    s = 0
    for group in root:
        for st in group:
            if st.tag not in containers:
                continue
            s += 1
            lines["Stmt"].append(st.sourceline)
            out = [None] * len(_S_FIELDS)
            _fill(st, s_spec, out)
            entries = [c for c in st if c.tag == t_ntry]
            recs["S"].append(_row([str(s)], out) + [str(len(entries))])
            for bal in st:
                if bal.tag == t_bal:
                    lines["Bal"].append(bal.sourceline)
                    out = [None] * len(_B_FIELDS)
                    _fill(bal, b_spec, out)
                    recs["B"].append(_row([str(s)], out))
            for e, ntry in enumerate(entries, 1):
                lines["Ntry"].append(ntry.sourceline)
                txs = [t for d in ntry if d.tag == t_dtls for t in d if t.tag == t_tx]
                out = [None] * len(_E_FIELDS)
                _fill(ntry, e_spec, out)
                recs["E"].append(_row([str(s), str(e), str(len(txs))], out))
                for k, tx in enumerate(txs, 1):
                    lines["TxDtls"].append(tx.sourceline)
                    out = [None] * len(_T_FIELDS)
                    _fill(tx, t_spec, out)
                    refs: list[str] = []
                    strds = []
                    for rmt in tx:
                        if rmt.tag != t_rmt:
                            continue
                        for c in rmt:
                            if c.tag == t_ustrd:
                                if c.text and c.text.strip():
                                    refs.append(" ".join(c.text.split()))
                            elif c.tag == t_strd:
                                strds.append(c)
                                for d in c:
                                    want = (
                                        t_nb
                                        if d.tag == t_doc
                                        else (t_ref if d.tag == t_cref else None)
                                    )
                                    if want is None:
                                        continue
                                    for x in d:
                                        if x.tag == want and x.text and x.text.strip():
                                            refs.append(" ".join(x.text.split()))
                    head = [str(s), str(e), str(k)]
                    recs["T"].append(_row(head, out) + [" ".join(refs), str(len(strds))])
                    for j, strd in enumerate(strds, 1):
                        lines["Strd"].append(strd.sourceline)
                        nbs = [
                            " ".join(x.text.split())
                            for d in strd
                            if d.tag == t_doc
                            for x in d
                            if x.tag == t_nb and x.text and x.text.strip()
                        ]
                        if not nbs:
                            continue
                        out = [None] * len(_R_FIELDS)
                        _fill(strd, r_spec, out)
                        tail = ["" if v is None else v for v in out]
                        for nb in nbs:
                            recs["R"].append([*head, str(j), str(len(nbs)), nb, *tail])
    return recs, lines


@pause_gc
def parse(data: bytes, *, source: str) -> ParseResult:
    from lxml import etree

    check_size(data, source)
    _refuse_dtd(data, source)
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError:
        # a broken document: the streaming reader keeps everything before the break
        return parse_reference(data, source=source)
    tag = root.tag if isinstance(root.tag, str) else ""
    ns = tag[1 : tag.index("}")] if tag.startswith("{") else ""
    recs, lines = _walk(root, ns)
    del root
    return _assemble(recs, lines, source)


def _assemble(
    recs: dict[str, list[list[str]]], lines: dict[str, list[int]], source: str
) -> ParseResult:
    """Records -> the same result :func:`parse_reference` builds, decision for decision."""
    problems: list[RowProblem] = []
    ntry_lines, tx_lines = lines["Ntry"], lines["TxDtls"]
    strd_lines, bal_lines, stmt_lines = lines["Strd"], lines["Bal"], lines["Stmt"]

    def at(lines: list[int], i: int) -> int | None:
        return lines[i] if 0 <= i < len(lines) else None

    def ron(v: str) -> str | None:
        return reference_or_none(v) if v else None

    infos: dict[str, StatementInfo] = {}
    declared: dict[str, tuple[str, str]] = {}
    entry_base: dict[str, int] = {}
    total = 0
    for r in recs["S"]:
        f = dict(zip(_NAMES["S"], r, strict=False))
        line = at(stmt_lines, int(f["s"]) - 1)
        info = StatementInfo(statement_id=f["Id"] or f"statement@{line}", line=line)
        info.account = f["Acct/Id/IBAN"] or f["Acct/Id/Othr/Id"] or None
        info.currency = f["Acct/Ccy"] or None
        info.sequence = f["ElctrncSeqNb"] or f["LglSeqNb"] or None
        infos[f["s"]] = info
        declared[f["s"]] = (f["TxsSummry/TtlCdtNtries/Sum"], f["TxsSummry/TtlDbtNtries/Sum"])
        entry_base[f["s"]] = total
        total += int(f["n_entries"] or 0)
    txs: dict[tuple[str, str], list[tuple[int, dict[str, str]]]] = {}
    strd_base: dict[tuple[str, str, str], int] = {}
    n_strd = 0
    for i, r in enumerate(recs["T"]):
        f = dict(zip(_NAMES["T"], r, strict=False))
        txs.setdefault((f["s"], f["e"]), []).append((i, f))
        strd_base[(f["s"], f["e"], f["k"])] = n_strd
        n_strd += int(f["n_strd"] or 0)
    docs: dict[tuple[str, str, str], list[dict[str, str]]] = {}
    for r in recs["R"]:
        f = dict(zip(_NAMES["R"], r, strict=False))
        docs.setdefault((f["s"], f["e"], f["k"]), []).append(f)
    payments = PaymentRows(source)
    remit: list[tuple] = []
    for r in recs["E"]:
        e = dict(zip(_NAMES["E"], r, strict=False))
        info = infos[e["s"]]
        line = at(ntry_lines, entry_base[e["s"]] + int(e["e"]) - 1)
        status = e["Sts/Cd"] or e["Sts"]
        if status and status != "BOOK":
            problems.append(
                RowProblem(
                    source,
                    line,
                    "Sts",
                    f"statement {info.statement_id}: entry with status {status} is not booked; "
                    f"left out",
                )
            )
            continue
        amt = e["Amt"] or None
        ccy = (e["Amt/@Ccy"].upper() or None) if amt else None
        ccy = ccy or info.currency
        info.currency = info.currency or ccy
        cdi = e["CdtDbtInd"] or None
        if cdi not in (CRDT, DBIT):
            problems.append(
                RowProblem(source, line, "CdtDbtInd", f"expected CRDT or DBIT, got {cdi!r}")
            )
            continue
        reversal = e["RvslInd"].lower() in ("true", "1")
        value_date = (
            (e["ValDt/Dt"] or e["ValDt/DtTm"])[:10]
            or (e["BookgDt/Dt"] or e["BookgDt/DtTm"])[:10]
            or None
        )
        entry_ref = ron(e["AcctSvcrRef"]) or ron(e["NtryRef"])
        dom = e["BkTxCd/Domn/Cd"]
        if dom:
            code = "/".join(
                x for x in (dom, e["BkTxCd/Domn/Fmly/Cd"], e["BkTxCd/Domn/Fmly/SubFmlyCd"]) if x
            )
        else:
            code = e["BkTxCd/Prtry/Cd"] or None
        extra = e["AddtlNtryInf"] or None
        entry_txs = txs.get((e["s"], e["e"]), [])
        if not entry_txs:
            payments.add(
                None if entry_ref is None else entry_ref,
                value_date,
                amt,
                ccy,
                None,
                None,
                extra,
                None,
                cdi,
                reversal,
                code,
                info.statement_id,
                line,
            )
            continue
        multi = len(entry_txs) > 1
        if multi:
            _check_batch_records(entry_txs, amt, info, line, problems, source)
        for ti, t in entry_txs:
            k = int(t["k"])
            tamt, tccy = t["Amt"] or None, None
            if tamt:
                tccy = t["Amt/@Ccy"].upper() or None
            else:
                tamt = t["AmtDtls/TxAmt/Amt"] or None
                tccy = (t["AmtDtls/TxAmt/Amt/@Ccy"].upper() or None) if tamt else None
            if tamt is None and not multi:
                tamt, tccy = amt, ccy
            tline = at(tx_lines, ti)
            if tamt is None:
                problems.append(
                    RowProblem(
                        source,
                        tline,
                        "TxDtls/Amt",
                        f"statement {info.statement_id}: batched transaction {k} of the entry at "
                        f"line {line} carries no amount",
                    )
                )
                continue
            pid = ron(t["Refs/AcctSvcrRef"])
            if pid is None and entry_ref is not None:
                pid = f"{entry_ref}/{k}" if multi else entry_ref
            tcdi = t["CdtDbtInd"] or cdi
            tccy = tccy or ccy
            e2e = ron(t["Refs/EndToEndId"])
            if tcdi == CRDT:
                name = (
                    t["RltdPties/Dbtr/Nm"]
                    or t["RltdPties/Dbtr/Pty/Nm"]
                    or t["RltdPties/UltmtDbtr/Nm"]
                    or None
                )
                account = (
                    t["RltdPties/DbtrAcct/Id/IBAN"] or t["RltdPties/DbtrAcct/Id/Othr/Id"] or None
                )
            else:
                name = (
                    t["RltdPties/Cdtr/Nm"]
                    or t["RltdPties/Cdtr/Pty/Nm"]
                    or t["RltdPties/UltmtCdtr/Nm"]
                    or None
                )
                account = (
                    t["RltdPties/CdtrAcct/Id/IBAN"] or t["RltdPties/CdtrAcct/Id/Othr/Id"] or None
                )
            ref = " ".join(t["refs"].split()) or t["AddtlTxInf"] or extra or None
            index = len(payments)
            strds = int(t["n_strd"] or 0)
            base = strd_base[(t["s"], t["e"], t["k"])]
            for d in docs.get((t["s"], t["e"], t["k"]), []):
                j = int(d["j"])
                sline = at(strd_lines, base + j - 1)
                many = int(d["n_nb"]) > 1
                paid = None if many else (d["../../RfrdDocAmt/RmtdAmt"] or None)
                pccy = d["../../RfrdDocAmt/RmtdAmt/@Ccy"].upper() or None if paid else None
                if paid is None and not many:
                    paid = tamt if strds == 1 else None
                if paid is None:
                    problems.append(
                        RowProblem(
                            source,
                            sline,
                            "RfrdDocAmt/RmtdAmt",
                            f"remittance for {d['Nb']} states no amount paid; line left out",
                        )
                    )
                    continue
                disc = ded = rsn = None
                if not many:
                    disc = (
                        d["../../RfrdDocAmt/DscntApldAmt/Amt"]
                        or d["../../RfrdDocAmt/DscntApldAmt"]
                        or None
                    )
                    ded = d["../../RfrdDocAmt/AdjstmntAmtAndRsn/Amt"] or None
                    rsn = d["../../RfrdDocAmt/AdjstmntAmtAndRsn/Rsn"] or None
                    if ded is not None and ded.startswith("-"):
                        ded = ded[1:]
                remit.append((index, e2e, d["Nb"], paid, disc, ded, rsn, pccy or tccy, sline))
            payments.add(
                pid,
                value_date,
                tamt,
                tccy,
                name,
                account,
                ref,
                e2e,
                tcdi,
                reversal,
                code,
                info.statement_id,
                tline if multi else line,
            )
    # balances and declared totals, after the entries (as the reference does)
    for bi, r in enumerate(recs["B"]):
        f = dict(zip(_NAMES["B"], r, strict=False))
        info = infos[f["s"]]
        code = f["Tp/CdOrPrtry/Cd"] or f["Tp/CdOrPrtry/Prtry"]
        amt = f["Amt"] or None
        if amt is None:
            continue
        ccy = f["Amt/@Ccy"].upper() or None
        info.currency = info.currency or ccy
        value = minor(amt, ccy or info.currency)
        bline = at(bal_lines, bi)
        if value is None:
            problems.append(
                RowProblem(source, bline, "Bal/Amt", f"expected a decimal amount, got {amt!r}")
            )
            continue
        if f["CdtDbtInd"] == DBIT:
            value = -value
        when = (f["Dt/Dt"] or f["Dt/DtTm"])[:10] or None
        if code in ("OPBD", "PRCD") and (info.opening_balance is None or code == "OPBD"):
            info.opening_balance, info.opening_date = value, when
        elif code == "CLBD":
            info.closing_balance, info.closing_date = value, when
            info.closing_line = bline
    for s_key, info in infos.items():
        cr, db = declared[s_key]
        if cr and info.currency:
            info.declared_credits = minor(cr, info.currency)
        if db and info.currency:
            info.declared_debits = minor(db, info.currency)
    result = ParseResult.empty(NAME)
    result.payments = payments.finish(problems)
    ids = payments.final_ids
    rr = RemittanceRows(source)
    for index, e2e, inv, paid, disc, ded, rsn, ccy, ln in remit:
        rr.add(ids[index] if index < len(ids) else None, e2e, inv, paid, disc, ded, rsn, ccy, ln)
    result.remittances = rr.finish(problems)
    info_list = list(infos.values())
    result.statements = finish_statements(info_list, result.payments, source=source)
    problems.extend(reconcile(info_list, result.statements, source=source))
    result.problems = problems
    return result


def _check_batch_records(entry_txs, amt, info, line, problems, source) -> None:
    try:
        total = Decimal(0)
        for _, t in entry_txs:
            a = t["Amt"] or t["AmtDtls/TxAmt/Amt"]
            if not a:
                return
            total += Decimal(a)
        if amt is not None and total != Decimal(amt):
            problems.append(
                RowProblem(
                    source,
                    line,
                    "TxDtls/Amt",
                    f"statement {info.statement_id}: the {len(entry_txs)} batched transactions sum "
                    f"to {total} but the entry amount is {amt}",
                )
            )
    except InvalidOperation:
        return
