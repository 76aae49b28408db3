"""The CAMT fast path: entries read by the shape of their markup, not element by element.

Bank files are written by programs, so their entries come in few shapes: the same elements in
the same order, only texts and attribute values differ. For each entry the scanner takes its
*skeleton* (the markup with every text and attribute value emptied); each distinct skeleton
is compiled once into a literal regular expression with a capture group per text and value,
and into a *plan*: which group holds the field at each path :mod:`.camt` reads (first match
in document order, as ``find`` gives it), found by walking the skeleton's own elements. The
first :data:`MAX_JOINED` entry shapes are merged into one pattern, a prefix tree of their
markup (each common prefix matched once, an alternation where they part), that reads a
statement's entries match after match, and each plan is generated once into a small Python
function building the record from the match's groups. An entry then costs one ``match`` and
one call, and gives the same record :meth:`camt._Doc.record` builds from lxml elements.
:func:`runs` hands the records over in runs as it reads them, so the caller decides them
while they are fresh and none is held for long.

libxml2 checks the whole document first (the caller does that); the scanner then refuses -
:func:`runs` raises :class:`Unusual` (``scan`` returns None) and the caller reads the file
with the reference - whatever it does
not model exactly: comments, CDATA, processing instructions, prefixed names in entries and
statements, namespace declarations below the root, an encoding other than UTF-8, entries or
statements anywhere but root > BkToCstmr* > container > Ntry, more distinct shapes than
:data:`MAX_SHAPES` or an entry longer than :data:`MAX_SKELETON` (a large batch).
"""

from __future__ import annotations

import re
from collections.abc import Generator, Iterator
from functools import lru_cache
from operator import itemgetter

#: fields each record carries and the repeated children it lists: kind -> (fields, lists);
#: a list is (path, kind of its items, or None for the items' raw texts)
LAYOUT: dict[str, tuple[tuple[str, ...], tuple[tuple[str, str | None], ...]]] = {
    "stmt": (
        (
            "Id",
            "Acct/Id/IBAN",
            "Acct/Id/Othr/Id",
            "Acct/Ccy",
            "ElctrncSeqNb",
            "LglSeqNb",
            "TxsSummry/TtlCdtNtries/Sum",
            "TxsSummry/TtlDbtNtries/Sum",
        ),
        (("Bal", "bal"),),
    ),
    "bal": (
        (
            "Tp/CdOrPrtry/Cd",
            "Tp/CdOrPrtry/Prtry",
            "Amt",
            "Amt/@Ccy",
            "CdtDbtInd",
            "Dt/Dt",
            "Dt/DtTm",
        ),
        (),
    ),
    "entry": (
        (
            "Sts/Cd",
            "Sts",
            "Amt",
            "Amt/@Ccy",
            "CdtDbtInd",
            "RvslInd",
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
        ),
        (("NtryDtls/TxDtls", "tx"),),
    ),
    "tx": (
        (
            "Amt",
            "Amt/@Ccy",
            "AmtDtls/TxAmt/Amt",
            "AmtDtls/TxAmt/Amt/@Ccy",
            "Refs/AcctSvcrRef",
            "Refs/EndToEndId",
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
        ),
        (("RmtInf/Ustrd", None), ("RmtInf/Strd", "strd"), ("AddtlTxInf", None)),
    ),
    "strd": (
        (
            "CdtrRefInf/Ref",
            "RfrdDocAmt/RmtdAmt",
            "RfrdDocAmt/RmtdAmt/@Ccy",
            "RfrdDocAmt/DscntApldAmt/Amt",
            "RfrdDocAmt/DscntApldAmt",
            "RfrdDocAmt/AdjstmntAmtAndRsn/Amt",
            "RfrdDocAmt/AdjstmntAmtAndRsn/Rsn",
        ),
        (("RfrdDocInf/Nb", None),),
    ),
}

#: a file with more distinct entry shapes than this is read by the reference
MAX_SHAPES = 512
#: an entry or statement whose markup is longer than this (a batch of many transactions) is
#: not compiled (compiling costs some microseconds a character); its file is read by the
#: reference, as is one whose distinct shapes add up to more than 64 KB plus 1% of its length
MAX_SKELETON = 16_384
#: how many entry shapes are joined into the one pattern that reads runs of entries
MAX_JOINED = 8

CONTAINERS = ("Stmt", "Rpt", "Ntfctn")  # what holds entries: statement, report, notification
_S = "[ \t\n]"
_NAME = r"[A-Za-z_][\w.\-]*"
_ATTRS = rf"""(?:{_S}+[^\s=/>]+{_S}*={_S}*(?:"[^"]*"|'[^']*'))*{_S}*"""


class Unusual(Exception):
    """Something the scanner does not model exactly: read the file with the reference."""


# ------------------------------------------------------------------------------ shapes

_GAPS = re.compile(r">[^<]*<")
_VALUES = re.compile(r'="[^"]*"')
_VALUES1 = re.compile(r"='[^']*'")
_TOKEN = re.compile(rf"""<(/?)({_NAME})((?:{_S}+[^\s=/>"']+{_S}*=(?:""|''){_S}*)*?){_S}*(/?)>""")
_ATTR_NAME = re.compile(r"""([^\s=/>"']+)\s*=(""|'')""")
_EMPTY_VALUE = re.compile(r"""=(?:""|'')""")


def skeleton(text: str) -> str:
    """The markup with every text and attribute value emptied."""
    return _VALUES1.sub("=''", _VALUES.sub('=""', _GAPS.sub("><", text)))


class _El:
    __slots__ = ("name", "kids", "attrs", "text", "mark")

    def __init__(self, name: str) -> None:
        self.name = name
        self.kids: list[_El] = []
        self.attrs: dict[str, int] = {}  # attribute -> its value's piece
        self.text: int | None = None  # the piece of the text after the start tag
        self.mark: int = -1  # the piece marking where the start tag ends

    def find(self, steps: list[str]) -> _El | None:
        for kid in self.kids:
            if kid.name == steps[0]:
                found = kid if len(steps) == 1 else kid.find(steps[1:])
                if found is not None:
                    return found
        return None

    def findall(self, steps: list[str]) -> list[_El]:
        out = []
        for kid in self.kids:
            if kid.name == steps[0]:
                out.extend([kid] if len(steps) == 1 else kid.findall(steps[1:]))
        return out


class Shape:
    """One skeleton compiled: ``regex`` (the literal markup, capturing only the texts and
    values the plan reads) and ``plan``, which turns a match into a record of ``kind``."""

    def __init__(self, skel: str, kind: str) -> None:
        if ":" in skel:
            raise Unusual("prefix")  # a prefixed name in an entry or statement
        self.pieces: list = []  # literal markup, or [kind, captured?] for a text/value/mark
        root = self._tree(skel)
        plan = self._plan(root, kind)
        groups: dict[int, int] = {}
        #: the regex one literal character or piece at a time, each with whether it is a group
        self.parts: list[tuple[str, bool]] = []
        for piece in self.pieces:
            if isinstance(piece, str):
                self.parts.extend((re.escape(c), False) for c in piece)
                continue
            what, wanted = piece
            if wanted:
                groups[id(piece)] = len(groups)
            body = {'value"': '[^"]*', "value'": "[^']*", "text": "[^<]*", "mark": ""}[what]
            if wanted or body:
                self.parts.append((f"({body})" if wanted else body, wanted))
        # the last group never matches: None for the fields a shape does not have
        self.regex = re.compile("".join(p for p, _ in self.parts) + "(){0}")
        self.none = len(groups)
        self.plan = self._number(plan, groups, kind)
        self.builders: dict[int, object] = {}

    def _piece(self, what: str) -> int:
        self.pieces.append([what, False])
        return len(self.pieces) - 1

    def _tree(self, skel: str) -> _El:
        pos, stack, root = 0, [], None
        while pos < len(skel):
            m = _TOKEN.match(skel, pos)
            if m is None:
                raise Unusual("markup")
            closing, name, attrs, empty = m.groups()
            pos = m.end()
            if closing:
                if not stack or stack[-1].name != name or attrs or empty:
                    raise Unusual(name)
                stack.pop()
                self.pieces.append(m.group(0))
            else:
                el = _El(name)
                parts = _EMPTY_VALUE.split(m.group(0))
                for (a, quotes), part in zip(_ATTR_NAME.findall(attrs), parts, strict=False):
                    if a in el.attrs or a == "xmlns" or a.startswith("xmlns:"):
                        raise Unusual(a)  # a namespace below the root, or a duplicate
                    self.pieces.append(part + "=" + quotes[0])
                    el.attrs[a] = self._piece("value" + quotes[0])
                    self.pieces.append(quotes[0])
                self.pieces.append(parts[-1] if len(parts) > 1 else m.group(0))
                el.mark = self._piece("mark")
                if stack:
                    stack[-1].kids.append(el)
                elif root is None:
                    root = el
                else:
                    raise Unusual(name)
                if not empty:
                    stack.append(el)
            if pos < len(skel):
                gap = self._piece("text")
                if not closing and not empty:
                    el.text = gap
        if stack or root is None:
            raise Unusual("unbalanced")
        return root

    def _want(self, piece: int | None) -> int | None:
        if piece is not None:
            self.pieces[piece][1] = True
        return piece

    def _plan(self, el: _El, kind: str) -> tuple:
        """The record's pieces: (mark, field pieces (None: absent), lists, attribute fields)."""
        fields, lists = LAYOUT[kind]
        slots = []
        for path in fields:
            base, _, attr = path.partition("/@")
            found = el.find(base.split("/"))
            if found is None:
                slots.append(None)
            else:
                slots.append(self._want(found.attrs.get(attr) if attr else found.text))
        subs = []
        for path, sub in lists:
            items = el.findall(path.split("/"))
            if sub is None:
                subs.append([self._want(x.text) for x in items])
            else:
                subs.append([self._plan(x, sub) for x in items])
        attrs = [i for i, p in enumerate(fields) if "/@" in p]
        return (self._want(el.mark), slots, subs, attrs)

    def _number(self, plan: tuple, groups: dict[int, int], kind: str) -> tuple:
        """Pieces -> group numbers (0-based, as ``Match.groups()`` lists them)."""

        def g(piece: int | None) -> int:
            return self.none if piece is None else groups[id(self.pieces[piece])]

        mark, slots, subs, attrs = plan
        numbered = []  # (True, the items' plans) or (False, the items' text groups)
        for (_, item), sub in zip(LAYOUT[kind][1], subs, strict=True):
            if item is not None:
                numbered.append((True, [self._number(x, groups, item) for x in sub]))
            else:
                numbered.append((False, [g(x) for x in sub]))
        fields = tuple(g(x) for x in slots)
        getter = itemgetter(*fields)  # every kind has several fields: a tuple
        return (g(mark), getter, tuple(numbered), attrs, fields)

    def builder(self, g: tuple[int, ...]):
        """The plan as one generated function ``(match, its groups, line_at) -> record`` for
        a match of a pattern holding this shape's group ``i`` at ``g[i]`` that needs no
        :meth:`_Reader._fix`: the record of :meth:`_Reader.record` without interpreting the
        plan for every entry."""
        found = self.builders.get(g)
        if found is None:
            found = self.builders[g] = eval(f"lambda m, v, L: {_display(self.plan, g)}")
        return found


def _display(plan: tuple, g: tuple[int, ...]) -> str:
    """A plan as a Python tuple display (group numbers only: nothing from the document)."""
    mark, _, subs, _, fields = plan
    parts = [f"L(m.start({g[mark] + 1}) - 1)", *(f"v[{g[i]}]" for i in fields)]
    for records, sub in subs:
        items = [_display(x, g) if records else f"v[{g[x]}]" for x in sub]
        parts.append(f"[{', '.join(items)}]")
    return f"({', '.join(parts)},)"


def merge(shapes: list[Shape]) -> tuple[str, list[tuple[int, ...]], list[int]]:
    """Shapes' patterns as one, each common prefix written (and matched) once: a prefix tree
    of their parts with an alternation where they part. -> (the pattern, each shape's groups
    as the pattern numbers them, 0-based with the one that never matches last, and the
    number of the group closing each shape: ``Match.lastindex`` names the shape matched)."""
    tree: dict = {}
    for k, x in enumerate(shapes):
        node = tree
        for part in x.parts:
            node = node.setdefault(part, {})
        node[(None, k)] = {}  # the end of shape k
    numbers: dict[int, int] = {}  # id of a group part's node -> its group (0-based)
    out: list[str] = []
    closing = [0] * len(shapes)

    def emit(node: dict) -> None:
        while len(node) == 1:
            ((frag, group), node) = next(iter(node.items()))
            if frag is None:
                out.append("()")
                closing[group] = len(numbers) + 1
                numbers[id(node)] = len(numbers)
                return
            out.append(frag)
            if group:
                numbers[id(node)] = len(numbers)
        out.append("(?:")
        for i, (part, child) in enumerate(node.items()):
            out.append("|" if i else "")
            emit({part: child})
        out.append(")")

    emit(tree)
    out.append("(){0}")  # the group that never matches
    groups = []
    for x in shapes:
        node, own = tree, []
        for part in x.parts:
            node = node[part]
            if part[1]:
                own.append(numbers[id(node)])
        groups.append((*own, len(numbers)))
    return "".join(out), groups, closing


@lru_cache(maxsize=MAX_SHAPES)
def shape(skel: str, kind: str) -> Shape:
    return Shape(skel, kind)


# ------------------------------------------------------------------------------ reading

_REF = re.compile(r"&(?:#x([0-9a-fA-F]+)|#([0-9]+)|(lt|gt|amp|quot|apos));")
_WRAPPED_VALUE = re.compile(rf"""={_S}*(?:"[^"]*[\t\n]|'[^']*[\t\n])""")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"', "apos": "'"}


def _unref(m: re.Match[str]) -> str:
    hex_, dec, name = m.groups()
    if name:
        return _NAMED[name]
    return chr(int(hex_, 16) if hex_ else int(dec))


class _Lines:
    """Line numbers of positions in ``s``, counted from the position asked before (so asking
    in document order costs one pass)."""

    def __init__(self, s: str) -> None:
        self.s, self.pos, self.line = s, 0, 1

    def at(self, pos: int) -> int:
        if pos >= self.pos:
            self.line += self.s.count("\n", self.pos, pos)
        else:
            self.line -= self.s.count("\n", pos, self.pos)
        self.pos = pos
        return self.line


class _Reader:
    def __init__(self, s: str) -> None:
        self.s = s
        self.refs = "&" in s
        #: whether any record may need :meth:`_fix` (a look for an attribute value with a tab
        #: or newline may find text that only looks like one: then records are merely checked)
        self.fix = self.refs or _WRAPPED_VALUE.search(s) is not None
        # lines of entries, and of statements (whose tails come after their entries)
        self.line_at = _Lines(s).at
        self.statement_line_at = _Lines(s).at
        self.shapes: dict[str, Shape] = {}
        self.budget = 65_536 + len(s) // 100  # markup characters left to compile
        #: the first :data:`MAX_JOINED` entry shapes, merged into one pattern that reads
        #: a run of entries match after match; ``branches`` maps the group closing each
        #: shape to (its record builder, the shape, where the pattern holds its groups)
        self.joined: re.Pattern[str] | None = None
        self.branches: dict[int, tuple[object, Shape, tuple[int, ...]]] = {}
        self.recent: list[Shape] = []  # shapes beyond those, most recent first
        self.entry_end = 0  # where the entry :meth:`entry` read last ends

    def entries(self, pos: int, stop: int, size: int) -> tuple[list[tuple], int]:
        """Up to ``size`` consecutive entries from ``pos`` (an entry's start) -> (records,
        end)."""
        s, out = self.s, []
        while len(out) < size:
            m = self.joined.match(s, pos, stop) if self.joined is not None else None
            if m is not None:
                build, found, g = self.branches[m.lastindex]
                if build is not None:
                    out.append(build(m, m.groups(), self.line_at))
                else:
                    out.append(self.record(found.plan, m, m.groups(), g, None))
                pos = m.end()
                continue
            nxt = _NEXT_ENTRY.match(s, pos, stop)
            if nxt is None:
                return out, pos
            out.append(self.entry(nxt.end()))
            pos = self.entry_end
        return out, pos

    def entry(self, lo: int) -> tuple:
        """One entry no joined shape reads (a new shape, or one beyond :data:`MAX_JOINED`)."""
        s = self.s
        stop = _ENTRY_END.search(s, lo)
        if stop is None:
            raise Unusual("entry")
        hi = self.entry_end = stop.end()
        for found in self.recent:
            m = found.regex.fullmatch(s, lo, hi)
            if m is not None:
                return self.record(found.plan, m, m.groups(), None, None)
        known = len(self.shapes)
        found = self.shape(s[lo:hi], "entry")
        m = found.regex.fullmatch(s, lo, hi)
        if m is None:
            raise Unusual("entry")
        if len(self.shapes) > known and len(self.branches) < MAX_JOINED:
            self.join(found)
        else:
            self.recent = [found, *self.recent[:7]]
        return self.record(found.plan, m, m.groups(), None, None)

    def join(self, found: Shape) -> None:
        shapes = [x for _, x, _ in self.branches.values()] + [found]
        pattern, groups, closing = merge(shapes)
        self.branches = {
            c: (None if self.fix else x.builder(g), x, g)
            for x, g, c in zip(shapes, groups, closing, strict=True)
        }
        self.joined = re.compile(f"{_S}*{pattern}")

    def shape(self, text: str, kind: str) -> Shape:
        skel = skeleton(text)
        found = self.shapes.get(skel)
        if found is None:
            self.budget -= len(skel)
            if len(self.shapes) >= MAX_SHAPES or len(skel) > MAX_SKELETON or self.budget < 0:
                raise Unusual("shapes")
            found = self.shapes[skel] = shape(skel, kind)
        return found

    def record(self, plan: tuple, m: re.Match[str], vals: tuple, g, where) -> tuple:
        """A match -> the record :meth:`camt._Doc.record` gives (line first, then the fields,
        then the lists). ``vals`` are the match's groups, the plan's group ``i`` at ``g[i]``
        (``g`` None: at ``i``); ``where`` maps a position in the matched text to the file's."""
        if g is not None:
            vals = [vals[i] for i in g]
        return self._record(plan, m, vals, g, where)

    def _record(self, plan: tuple, m: re.Match[str], vals, g, where) -> tuple:
        line, get, subs, attrs, _ = plan
        fields = get(vals)
        if self.fix:
            fields = self._fix(fields, attrs)
        start = m.start((line if g is None else g[line]) + 1) - 1  # the start tag's '>'
        lists = [
            [self._record(p, m, vals, g, where) for p in sub]
            if records
            else self._fix([vals[i] for i in sub], ())
            if self.refs
            else [vals[i] for i in sub]
            for records, sub in subs
        ]
        line = self.line_at(start) if where is None else self.statement_line_at(where(start))
        return (line, *fields, *lists)

    def _fix(self, values, attrs) -> list:
        """Character references resolved; in attribute values (``attrs``), tabs and newlines
        made spaces, as libxml2 normalises them."""
        values = list(values)
        for i in attrs:
            v = values[i]
            if v and ("\t" in v or "\n" in v):
                values[i] = v.replace("\t", " ").replace("\n", " ")
        if self.refs:
            values = [v if not v or "&" not in v else _REF.sub(_unref, v) for v in values]
        return values


_PROLOG = re.compile(
    rf"(?:<\?xml{_S}+version{_S}*={_S}*(?:\"1\.0\"|'1\.0')"
    rf"(?:{_S}+encoding{_S}*={_S}*(?:\"(?:UTF-8|utf-8)\"|'(?:UTF-8|utf-8)'))?"
    rf"(?:{_S}+standalone{_S}*={_S}*(?:\"(?:yes|no)\"|'(?:yes|no)'))?{_S}*\?>)?"
    rf"{_S}*<(?P<root>{_NAME})(?P<attrs>{_ATTRS})>"
)
#: an entry, statement or statement group under a prefix: the reference goes by local names,
#: which the counts below would miss
_PREFIXED = re.compile(r":(?:Ntry|Stmt|Rpt|Ntfctn|BkToCstmr)[\s/>\w]")
_NEXT = re.compile(rf"[^<]*<(/?)({_NAME})({_S}*>)?")
_ANY = re.compile(
    rf"<(?P<n>{_NAME}){_ATTRS}(?:/>|>[^<]*(?:<(?!/?(?P=n)[\s/>])[^<]*)*</(?P=n){_S}*>)"
)
_ENTRY = re.compile(r"<Ntry[\s/>]")
_ENTRY_END = re.compile(rf"</Ntry{_S}*>")
_NEXT_ENTRY = re.compile(rf"{_S}*(?=<Ntry[\s/>])")


def scan(text: str) -> list[tuple[tuple, list[tuple]]] | None:
    """``text`` (a document libxml2 found well-formed) -> [(statement record, its entry
    records)] in document order, or None when the reference must read it."""
    statements: list[tuple[tuple, list[tuple]]] = []
    try:
        for st, run in runs(text):
            if not statements or statements[-1][0] is not st:
                statements.append((st, []))
            statements[-1][1].extend(run or ())
    except Unusual:
        return None
    return statements


def runs(text: str, size: int = 256) -> Iterator[tuple[tuple, list[tuple] | None]]:
    """``text`` (a document libxml2 found well-formed) -> for each statement in document
    order, (its record, a run of up to ``size`` of its entry records) as the entries are
    read, then (its record, None). Raises :class:`Unusual`, possibly after yielding, when
    the reference must read the document instead: what was yielded is then void."""
    if text.startswith("\ufeff"):
        text = text[1:]
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    prolog = _PROLOG.match(text)
    start = prolog.end() if prolog else 0
    if (
        prolog is None
        or ("!" in text and "<!" in text)  # one character is found fast, two are not
        or (text.find("?", start) >= 0 and text.find("<?", start) >= 0)
        or _PREFIXED.search(text)
    ):
        raise Unusual("document")
    entries = 0
    for st, run in _walk(_Reader(text), prolog.end(), prolog.group("root"), size):
        entries += len(run or ())
        yield st, run
    # an entry somewhere the scanner did not look; every entry starts "<Ntry", so when those
    # but the entries' own "<NtryDtls" and "<NtryRef" are as many as read, no count is needed
    starts = text.count("<Ntry") - text.count("<NtryDtls") - text.count("<NtryRef")
    if starts != entries and len(_ENTRY.findall(text)) != entries:
        raise Unusual("entries")


def _walk(r: _Reader, pos: int, root: str, size: int) -> Iterator[tuple]:
    """Root > BkToCstmr* > containers; anything else at those two levels is skipped whole.
    Yields what :func:`runs` does."""
    s = r.s
    groups = 0
    open_names = [root]
    while open_names:
        m = _NEXT.match(s, pos)
        if m is None:
            raise Unusual("markup")
        closing, name, plain = m.groups()
        if closing:
            if name != open_names[-1] or not plain:
                raise Unusual(name)
            open_names.pop()
            pos = m.end()
        elif len(open_names) == 1 and name.startswith("BkToCstmr"):
            if not plain:
                raise Unusual(name)  # attributes, or empty
            open_names.append(name)
            groups += 1
            pos = m.end()
        elif len(open_names) == 2 and name in CONTAINERS:
            if not plain:
                raise Unusual(name)
            pos = yield from _container(r, m.start(2) - 1, name, size)
        else:
            skipped = _ANY.match(s, m.start(2) - 1)
            if skipped is None:
                raise Unusual(name)
            pos = skipped.end()
    if s[pos:].strip(" \t\n"):
        raise Unusual("trailing")
    # a statement group (whose containers the reference reads) where the walk did not look
    if s.count("<BkToCstmr") != groups:
        raise Unusual("BkToCstmr")


def _closing(s: str, name: str, pos: int) -> re.Match[str]:
    """The first closing tag ``name`` from ``pos`` (``str.find`` skips far faster than a
    regular expression's search)."""
    close = re.compile(rf"</{name}{_S}*>")
    while (pos := s.find(f"</{name}", pos)) >= 0:
        m = close.match(s, pos)
        if m is not None:
            return m
        pos += 1
    raise Unusual(name)


def _container(r: _Reader, start: int, name: str, size: int) -> Generator[tuple, None, int]:
    """One statement: yields its own record, from its markup without the entries, with each
    run of its entries (consecutive ``Ntry`` children, as the schema puts them), then with
    None; returns where it ends."""
    s = r.s
    end = _closing(s, name, start)
    first = _ENTRY.search(s, start, end.start())
    if first is None:
        head_end = tail_start = end.start()
    else:
        head_end = first.start()
        last = _ENTRY_END.match(s, max(s.rfind("</Ntry", head_end, end.start()), 0))
        if last is None:
            raise Unusual(name)
        tail_start = last.end()
    own = s[start:head_end] + s[tail_start : end.end()]
    st_shape = r.shape(own, "stmt")
    m = st_shape.regex.fullmatch(own)
    if m is None:
        raise Unusual(name)
    cut = head_end - start

    def where(p: int) -> int:
        return start + p if p < cut else tail_start + (p - cut)

    record = r.record(st_shape.plan, m, m.groups(), None, where)
    pos = head_end
    while pos < tail_start:
        run, pos = r.entries(pos, tail_start, size)
        if not run:
            raise Unusual(name)  # something between entries
        yield record, run
    if pos != tail_start:
        raise Unusual(name)
    yield record, None
    return end.end()
