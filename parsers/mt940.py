"""SWIFT MT940 customer statements.

One pass over the lines: SWIFT envelopes (``{1:}{2:}{4:`` ... ``-}``) are peeled, tags are cut
with their line numbers, every ``:20:`` opens a statement (several per file), ``:28C:`` may wrap.
``:61:`` lines and balances are read by compiled patterns; the ``:86:`` dialects are named
functions picked by the shape of the text:

- ``?NN`` subfields (German banks): ``?20``-``?29`` and ``?60``-``?63`` purpose joined without
  separators, SEPA keywords inside it (``EREF+``, ``SVWZ+``...), ``?30`` BIC, ``?31`` account,
  ``?32``/``?33`` name;
- ``/CODE/value`` subfields (Dutch banks): ``/NAME/``, ``/REMI/``, ``/EREF/``, ``/IBAN/``,
  ``/BIC/``, ING's positional ``/CNTP/``;
- SWIFT free text.

Continuation lines wrap at 65 characters anywhere, even inside a code word, so a full line is
joined to the next without a separator. A bad ``:61:`` is reported with its line and the other
transactions go on. The ``mt-940`` library (``import mt940``) is the reference this module is
checked against (``tests/parsers/test_mt940.py``); it aborts a whole file on one bad tag and
strips the trailing spaces that 65-character wrapping relies on, so it is not the production
path.
"""

from __future__ import annotations

import re

from cashmatch.engine.errors import RowProblem
from cashmatch.parsers._common import (
    CRDT,
    DBIT,
    ParseResult,
    PaymentRows,
    StatementInfo,
    check_size,
    decode_text,
    finish_statements,
    minor,
    pause_gc,
    reconcile,
    reference_or_none,
)

NAME = "mt940"
KINDS = frozenset({"payments"})
WRAP = 65

_TAG_LINE = re.compile(r"^:(\d{2}[A-Z]?|NS):", re.MULTILINE | re.ASCII)
#: SWIFT envelope pieces and end-of-message marks, each within one line
_ENVELOPE = re.compile(
    r"^(?:\{[1-3]:(?:[^{}\n]|\{[^{}\n]*\})*\})*\{4:[ \t]*"
    r"|^-\}(?:\{5:[^\n]*)?[ \t]*$|^\{5:[^\n]*$|^-[ \t]*$",
    re.MULTILINE,
)
_R61 = re.compile(
    r"(?P<vd>\d{6})(?P<ed>\d{4}|\s{4})?(?P<mark>R?[DC])(?P<funds>[A-Z](?=\d))?"
    r"(?P<amt>\d[\d,]{0,15})(?P<type>[A-Z][A-Z0-9]{3})?(?P<cref>(?:(?!//).){0,34}?)"
    r"(?://(?P<bref>.*))?$",
    re.ASCII,
)
_BAL = re.compile(
    r"(?P<mark>[DC])(?P<date>\d{6})(?P<cur>[A-Z]{3})(?P<amt>\d[\d,]{0,15})\s*$", re.ASCII
)
_SUM = re.compile(r"(?P<n>\d{0,5})(?P<cur>[A-Z]{3})(?P<amt>\d[\d,]{0,15})\s*$", re.ASCII)
_GERMAN = re.compile(r"^\d{3}\?\d\d|^\?\d\d", re.ASCII)
_DUTCH = re.compile(r"^/[A-Z]{2,9}/")
_SUBFIELD = re.compile(r"\?(\d\d)", re.ASCII)
_SEPA_KEYS = (
    "EREF",
    "KREF",
    "MREF",
    "CRED",
    "DEBT",
    "COAM",
    "OAMT",
    "SVWZ",
    "ABWA",
    "ABWE",
    "IBAN",
    "BIC",
    "PURP",
    "SQTP",
    "ORCR",
    "ORMR",
    "DDAT",
    "MDAT",
)
_SEPA = re.compile(r"(" + "|".join(_SEPA_KEYS) + r") ?\+")
SUBFIELD_WIDTH = 27
_DUTCH_CODES = (
    "TRTP",
    "IBAN",
    "BIC",
    "NAME",
    "REMI",
    "EREF",
    "ORDP",
    "BENM",
    "ID",
    "ADDR",
    "CSID",
    "MARF",
    "PREF",
    "RTRN",
    "ULTC",
    "ULTD",
    "ULTB",
    "PURP",
    "ISDT",
    "CNTP",
    "FX",
    "CREF",
    "EXCH",
    "CHGS",
    "CITY",
    "SVCL",
    "CDTRREFTP",
    "CDTRREF",
    "CD",
    "TP",
    "ISSR",
    "SCOR",
)
_DUTCH_SPLIT = re.compile(r"/(" + "|".join(sorted(_DUTCH_CODES, key=len, reverse=True)) + r")/")


def sniff(head: bytes) -> bool:
    text = head[:4096].decode("latin-1")
    if "{4:" in text and ":20:" in text:
        return True
    return bool(re.search(r"(?m)^:20:", text)) and bool(
        re.search(r"(?m)^:(25|28C|60F|60M|61):", text)
    )


# --------------------------------------------------------------------------------- :86:


def _join_wrapped(lines: list[str], sep: str) -> str:
    """Join continuation lines: a full (65-character) line continues without a separator."""
    out: list[str] = []
    for i, line in enumerate(lines):
        if i:
            out.append("" if len(lines[i - 1]) >= WRAP else sep)
        out.append(line)
    return "".join(out)


def details_german(text: str) -> tuple[str | None, str | None, str | None, str | None, str]:
    """``?NN`` subfields -> (name, account, reference, end_to_end_id, GVC code)."""
    parts = _SUBFIELD.split(text)
    gvc = parts[0].strip()
    purpose: list[str] = []
    name: list[str] = []
    account = bic = None
    for key, value in zip(parts[1::2], parts[2::2], strict=False):
        k = int(key)
        if 20 <= k <= 29 or 60 <= k <= 63:
            purpose.append(value)
        elif k in (32, 33):
            name.append(value)
        elif k == 31:
            account = value.strip() or None
        elif k == 30:
            bic = value.strip() or None
    del bic
    purpose_text = _join_subfields(purpose)
    reference, e2e = _sepa_purpose(purpose_text)
    return (_join_subfields(name).strip() or None, account, reference, e2e, gvc)


def _join_subfields(values: list[str]) -> str:
    """A full (27-character) subfield continues in the next one without a separator."""
    out: list[str] = []
    for i, v in enumerate(values):
        if i:
            out.append("" if len(values[i - 1]) >= SUBFIELD_WIDTH else " ")
        out.append(v)
    return "".join(out)


def _sepa_purpose(purpose: str) -> tuple[str | None, str | None]:
    """SEPA keywords inside a purpose text: ``SVWZ+`` is the remittance, ``EREF+`` the e2e id."""
    pieces = _SEPA.split(purpose)
    if len(pieces) == 1:
        return (purpose.strip() or None, None)
    fields: dict[str, str] = {}
    lead = pieces[0].strip()
    for key, value in zip(pieces[1::2], pieces[2::2], strict=False):
        fields.setdefault(key, value.strip())
    ref = fields.get("SVWZ") or None
    if lead:
        ref = f"{lead} {ref}" if ref else lead
    return (ref, reference_or_none(fields.get("EREF")))


def details_dutch(text: str) -> tuple[str | None, str | None, str | None, str | None, str | None]:
    """``/CODE/value/`` subfields -> (name, account, reference, end_to_end_id, TRTP)."""
    pieces = _DUTCH_SPLIT.split(text)
    fields: dict[str, str] = {}
    for key, value in zip(pieces[1::2], pieces[2::2], strict=False):
        fields.setdefault(key, value.strip().strip("/").strip())
    name = fields.get("NAME") or None
    account = fields.get("IBAN") or None
    if "CNTP" in fields:  # ING: /CNTP/iban/bic/name/city/
        cntp = fields["CNTP"].split("/")
        account = account or (cntp[0].strip() or None)
        if len(cntp) > 2:
            name = name or (cntp[2].strip() or None)
    remi = fields.get("REMI")
    if remi:
        for prefix in ("USTD//", "USTD/", "STRD/CUR/", "STRD/ISO/", "STRD/"):
            if remi.startswith(prefix):
                remi = remi[len(prefix) :]
                break
        remi = remi.strip("/").strip() or None
    e2e = reference_or_none(fields.get("EREF"))
    return (name, account, remi, e2e, fields.get("TRTP") or None)


def details_free(text: str) -> tuple[None, None, str | None, None, None]:
    return (None, None, text.strip() or None, None, None)


def parse_details(
    lines: list[str],
) -> tuple[str | None, str | None, str | None, str | None, str | None]:
    """Pick the ``:86:`` dialect by the shape of its text."""
    joined = "".join(lines)
    if _GERMAN.match(joined):
        return details_german(joined)
    if _DUTCH.match(joined):
        return details_dutch(joined)
    return details_free(_join_wrapped(lines, " "))


# ------------------------------------------------------------------------------- parse


class _Statement:
    __slots__ = ("info", "ref20", "seq_lines", "currency", "txs", "line")

    def __init__(self, line: int) -> None:
        self.info = StatementInfo(statement_id="")
        self.ref20: str | None = None
        self.seq_lines: list[str] | None = None
        self.currency: str | None = None
        self.txs: list[tuple[int, list[str], list[str] | None]] = []
        self.line = line


def _tags(text: str, source: str, problems: list[RowProblem]):
    """Yield ``(tag, line number, [value lines])`` for every tag, in file order.

    Envelopes and end-of-message marks are blanked first, keeping the line breaks, so line
    numbers stay the file's. Text before the first tag is reported.
    """
    if "{" in text or "-" in text:
        text = _ENVELOPE.sub("", text)
    matches = list(_TAG_LINE.finditer(text))
    first = matches[0].start() if matches else len(text)
    if text[:first].strip():
        lead = len(text[:first]) - len(text[:first].lstrip())
        n = text.count("\n", 0, lead) + 1
        problems.append(
            RowProblem(
                source,
                n,
                None,
                f"expected an MT940 tag like :20:, got {text[lead:first].strip()[:40]!r}",
            )
        )
    line = text.count("\n", 0, first) + 1
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        value = text[m.end() : end]
        lines = value.split("\n")
        while len(lines) > 1 and not lines[-1].strip():
            lines.pop()
        yield m.group(1), line, lines
        line += value.count("\n")


@pause_gc
def parse(data: bytes, *, source: str) -> ParseResult:
    check_size(data, source)
    text, _enc = decode_text(data)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    problems: list[RowProblem] = []
    statements: list[_Statement] = []
    cur: _Statement | None = None
    last_tx: list | None = None
    for tag, n, values in _tags(text, source, problems):
        if tag == "20" or cur is None:
            cur = _Statement(n)
            statements.append(cur)
            last_tx = None
            if tag == "20":
                cur.ref20 = values[0].strip() or None
                continue
        if tag == "61":
            tx = [n, values, None]
            cur.txs.append(tx)  # type: ignore[arg-type]
            last_tx = tx
        elif tag == "86":
            if last_tx is not None and last_tx[2] is None:
                last_tx[2] = values
            last_tx = None
        elif tag == "25":
            cur.info.account = values[0].strip() or None
            last_tx = None
        elif tag in ("28C", "28"):
            cur.seq_lines = values
            last_tx = None
        elif tag in ("60F", "60M", "60", "62F", "62M", "62"):
            last_tx = None
            m = _BAL.match(values[0].strip())
            if not m:
                problems.append(
                    RowProblem(
                        source,
                        n,
                        f":{tag}:",
                        f"expected a balance like C260115EUR1234,56, got {values[0].strip()!r}",
                    )
                )
                continue
            cur.currency = cur.currency or m["cur"]
            amount = minor(m["amt"].replace(",", "."), m["cur"])
            if amount is not None and m["mark"] == "D":
                amount = -amount
            d = m["date"]
            iso = f"20{d[0:2]}-{d[2:4]}-{d[4:6]}"
            if tag.startswith("60"):
                cur.info.opening_balance, cur.info.opening_date = amount, iso
            else:
                cur.info.closing_balance, cur.info.closing_date = amount, iso
                cur.info.closing_line = n
        elif tag in ("90C", "90D"):
            last_tx = None
            m = _SUM.match(values[0].strip())
            if m:
                total = minor(m["amt"].replace(",", "."), m["cur"])
                if tag == "90C":
                    cur.info.declared_credits = total
                else:
                    cur.info.declared_debits = total
        else:
            last_tx = None
    payments = PaymentRows(source)
    infos: list[StatementInfo] = []
    for st in statements:
        info = st.info
        info.currency = st.currency
        info.line = st.line
        seq = "".join(v.strip() for v in st.seq_lines) if st.seq_lines else None
        info.sequence = seq
        account = info.account or "?"
        if seq and seq.strip("0/"):
            info.statement_id = f"{account}/{seq}"
        else:
            info.statement_id = f"{account}/{st.ref20 or ''}/{info.opening_date or ''}"
        infos.append(info)
        sid = info.statement_id
        currency = st.currency
        if currency is None and st.txs:
            problems.append(
                RowProblem(
                    source,
                    st.line,
                    ":60F:",
                    f"statement {sid} has no opening balance, so no currency",
                )
            )
        for line, v61, v86 in st.txs:
            m = _R61.match(v61[0].rstrip())
            if not m:
                problems.append(
                    RowProblem(
                        source,
                        line,
                        ":61:",
                        "expected a statement line like 260115C1234,56NTRFREF//BANKREF, got "
                        f"{v61[0].strip()[:60]!r}",
                    )
                )
                continue
            mark = m["mark"]
            direction = CRDT if mark in ("C", "RD") else DBIT
            vd = m["vd"]
            cref = reference_or_none(m["cref"])
            bref = m["bref"]
            bref = reference_or_none(bref.split()[0] if bref and bref.strip() else None)
            if v86 is not None:
                name, acct, ref, e2e, code = parse_details(v86)
            else:
                name = acct = ref = e2e = code = None
            if ref is None:
                ref = cref
            elif cref and cref not in ref:
                ref = f"{ref} {cref}"
            payments.add(
                bref,
                f"20{vd[0:2]}-{vd[2:4]}-{vd[4:6]}",
                m["amt"].replace(",", "."),
                currency,
                name,
                acct,
                ref,
                e2e,
                direction,
                mark.startswith("R"),
                m["type"] or code,
                sid,
                line,
            )
    result = ParseResult.empty(NAME)
    result.payments = payments.finish(problems)
    result.statements = finish_statements(infos, result.payments, source=source)
    problems.extend(reconcile(infos, result.statements, source=source))
    result.problems = problems
    return result
