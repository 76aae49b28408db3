"""The CAMT fast path against the streaming reference on generated documents.

Documents are drawn across message types and versions, batches with several ``TxDtls``,
structured remittance in every form, reversals, balances, unknown elements in any order, bad
and missing fields, entities, one-line and indented layouts. Every result must be identical
(tables and the problems, in order) and the fast path must really have read the document.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cashmatch.parsers import _camt_scan, camt

MESSAGES = [
    ("camt.053.001", "BkToCstmrStmt", "Stmt"),
    ("camt.052.001", "BkToCstmrAcctRpt", "Rpt"),
    ("camt.054.001", "BkToCstmrDbtCdtNtfctn", "Ntfctn"),
]
VERSIONS = ["02", "04", "06", "08", "10", "13"]
TEXTS = st.sampled_from(
    ["INV-1", "INV-2", " inv 3 ", "Smith &amp; Sons", "A\tB", "", "NOTPROVIDED", "Müller"]
)
AMOUNTS = st.sampled_from(["10.00", "5", "1.5", "abc", "", " 20.00 ", "-3.00", "1,00"])
CCYS = st.sampled_from(['Ccy="EUR"', 'Ccy="eur"', 'Ccy="XXX"', "", 'Ccy="E\tU"', 'Ccy="JPY"'])
DATES = st.sampled_from(["<Dt>2026-01-15</Dt>", "<DtTm>2026-01-16T10:00:00</DtTm>",
                         "<Dt>2026-02-31</Dt>", ""])  # fmt: skip
UNKNOWN = st.sampled_from(
    ["", "<Purp><Cd>SUPP</Cd></Purp>", "<Foo a='1'><Id><Id>x</Id></Id></Foo>", "<Chrgs/>"]
)


def _opt(tag: str, inner: str | None, attrs: str = "") -> str:
    if inner is None:
        return ""
    return f"<{tag}{' ' + attrs if attrs else ''}>{inner}</{tag}>"


@st.composite
def strd(draw) -> str:
    nbs = "".join(
        f"<RfrdDocInf><Tp><CdOrPrtry><Cd>CINV</Cd></CdOrPrtry></Tp><Nb>{draw(TEXTS)}</Nb>"
        "</RfrdDocInf>"
        for _ in range(draw(st.integers(0, 3)))
    )
    amt = ""
    if draw(st.booleans()):
        disc = draw(
            st.sampled_from(
                [
                    "",
                    '<DscntApldAmt Ccy="EUR">1.00</DscntApldAmt>',
                    '<DscntApldAmt><Amt Ccy="EUR">2.00</Amt></DscntApldAmt>',
                ]  # fmt: skip
            )
        )
        adj = draw(
            st.sampled_from(
                [
                    "",
                    '<AdjstmntAmtAndRsn><Amt Ccy="EUR">-0.50</Amt><Rsn>DMG</Rsn>'
                    "</AdjstmntAmtAndRsn>",
                ]  # fmt: skip
            )
        )
        paid = _opt("RmtdAmt", draw(st.one_of(st.none(), AMOUNTS)), draw(CCYS))
        amt = f"<RfrdDocAmt>{disc}{adj}{paid}</RfrdDocAmt>"
    cref = _opt("CdtrRefInf", draw(st.one_of(st.none(), TEXTS.map(lambda t: f"<Ref>{t}</Ref>"))))
    return f"<Strd>{nbs}{amt}{cref}</Strd>"


@st.composite
def tx(draw) -> str:
    refs = _opt(
        "Refs",
        draw(
            st.sampled_from(
                [
                    "<EndToEndId>E2E-1</EndToEndId>",
                    "<AcctSvcrRef>TX-9</AcctSvcrRef><EndToEndId>NOTPROVIDED</EndToEndId>",
                    None,
                ]  # fmt: skip
            )
        ),
    )
    amt = _opt("Amt", draw(st.one_of(st.none(), AMOUNTS)), draw(CCYS))
    if draw(st.booleans()):
        amt += f'<AmtDtls><TxAmt><Amt Ccy="EUR">{draw(AMOUNTS)}</Amt></TxAmt></AmtDtls>'
    cdi = _opt("CdtDbtInd", draw(st.sampled_from([None, "CRDT", "DBIT"])))
    party = draw(st.sampled_from(["Dbtr", "Cdtr"]))
    name = draw(TEXTS)
    pty = (
        f"<{party}><Nm>{name}</Nm></{party}>"
        if draw(st.booleans())
        else f"<{party}><Pty><Nm>{name}</Nm><PstlAdr><Ctry>DE</Ctry></PstlAdr></Pty></{party}>"
    )
    acct = draw(
        st.sampled_from(
            [
                f"<{party}Acct><Id><IBAN>DE89370400440532013000</IBAN></Id></{party}Acct>",
                f"<{party}Acct><Id><Othr><Id>80-2-2</Id></Othr></Id></{party}Acct>",
                "",
            ]  # fmt: skip
        )
    )
    rmt = "".join(f"<Ustrd>{draw(TEXTS)}</Ustrd>" for _ in range(draw(st.integers(0, 2))))
    rmt += "".join(draw(strd()) for _ in range(draw(st.integers(0, 2))))
    addtl = _opt("AddtlTxInf", draw(st.one_of(st.none(), TEXTS)))
    parties = f"<RltdPties>{pty}{acct}</RltdPties>"
    parts = [refs, amt, cdi, parties, draw(UNKNOWN), _opt("RmtInf", rmt or None), addtl]
    if draw(st.booleans()):
        parts = draw(st.permutations(parts))
    return f"<TxDtls>{''.join(parts)}</TxDtls>"


@st.composite
def entry(draw) -> str:
    sts = draw(st.sampled_from(["<Sts>BOOK</Sts>", "<Sts><Cd>BOOK</Cd></Sts>",
                                "<Sts><Cd>PDNG</Cd></Sts>", ""]))  # fmt: skip
    dtls = ""
    n = draw(st.integers(0, 3))
    if n:
        btch = "<Btch><NbOfTxs>2</NbOfTxs></Btch>" if draw(st.booleans()) else ""
        dtls = f"<NtryDtls>{btch}{''.join(draw(tx()) for _ in range(n))}</NtryDtls>"
    code = draw(
        st.sampled_from(
            [
                "<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly>"
                "</Domn></BkTxCd>",
                "<BkTxCd><Prtry><Cd>NCHG</Cd><Issr>DE</Issr></Prtry></BkTxCd>",
                "",
            ]  # fmt: skip
        )
    )
    parts = [
        _opt("NtryRef", draw(st.one_of(st.none(), TEXTS))),
        _opt("Amt", draw(AMOUNTS), draw(CCYS)),
        _opt("CdtDbtInd", draw(st.sampled_from(["CRDT", "DBIT", "XX", None]))),
        _opt("RvslInd", draw(st.sampled_from([None, "true", "false", "1"]))),
        sts,
        _opt("BookgDt", draw(DATES)),
        _opt("ValDt", draw(DATES)),
        _opt("AcctSvcrRef", draw(st.one_of(st.none(), TEXTS))),
        code,
        draw(UNKNOWN),
        dtls,
        _opt("AddtlNtryInf", draw(st.one_of(st.none(), TEXTS))),
    ]
    if draw(st.booleans()):
        parts = draw(st.permutations(parts))
    return f"<Ntry>{''.join(parts)}</Ntry>"


@st.composite
def document(draw) -> bytes:
    prefix, group, container = draw(st.sampled_from(MESSAGES))
    ns = f"urn:iso:std:iso:20022:tech:xsd:{prefix}.{draw(st.sampled_from(VERSIONS))}"
    statements = []
    for k in range(draw(st.integers(1, 3))):
        codes = draw(st.lists(st.sampled_from(["OPBD", "PRCD", "CLBD"]), max_size=3))
        bals = "".join(
            f"<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp>"
            f'<Amt Ccy="EUR">{draw(AMOUNTS)}</Amt>'
            f"<CdtDbtInd>{draw(st.sampled_from(['CRDT', 'DBIT']))}</CdtDbtInd>"
            f"<Dt><Dt>2026-01-15</Dt></Dt></Bal>"
            for code in codes
        )
        summary = (
            "<TxsSummry><TtlCdtNtries><NbOfNtries>1</NbOfNtries><Sum>10.00</Sum></TtlCdtNtries>"
            "</TxsSummry>"
            if draw(st.booleans())
            else ""
        )
        acct = draw(
            st.sampled_from(
                [
                    "<Acct><Id><IBAN>DE89370400440532013000</IBAN></Id><Ccy>EUR</Ccy></Acct>",
                    "<Acct><Id><Othr><Id>12345</Id></Othr></Id></Acct>",
                    "",
                ]  # fmt: skip
            )
        )
        sid = draw(st.sampled_from([f"<Id>S-{k}</Id>", ""]))
        seq = draw(
            st.sampled_from([f"<ElctrncSeqNb>{k + 1}</ElctrncSeqNb>", "<LglSeqNb>7</LglSeqNb>", ""])
        )
        entries = "".join(draw(entry()) for _ in range(draw(st.integers(0, 4))))
        statements.append(
            f"<{container}>{sid}{seq}{acct}{bals}{summary}{entries}"
            f"<AddtlStmtInf>x</AddtlStmtInf></{container}>"
        )
    body = (
        f'<Document xmlns="{ns}"><{group}><GrpHdr><MsgId>M</MsgId></GrpHdr>'
        f"{''.join(statements)}</{group}></Document>"
    )
    if draw(st.booleans()):  # indented, one element a line, Windows line ends sometimes
        body = body.replace("><", ">\r\n  <" if draw(st.booleans()) else ">\n  <")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + body).encode("utf-8")


def _same(fast, ref) -> None:
    assert fast.payments.equals(ref.payments)
    assert fast.remittances.equals(ref.remittances)
    assert fast.statements.equals(ref.statements)
    assert [str(p) for p in fast.problems] == [str(p) for p in ref.problems]


@settings(
    max_examples=int(__import__("os").environ.get("CASHMATCH_FUZZ_EXAMPLES", "150")),
    deadline=timedelta(seconds=10),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(document())
def test_fast_path_is_identical_to_the_reference(data):
    assert _camt_scan.scan(data.decode("utf-8")) is not None  # the fast path read it
    _same(camt.parse(data, source="g.xml"), camt.parse_reference(data, source="g.xml"))


@pytest.mark.parametrize(
    "change",
    [
        (b"<Ntry>", b"<!-- note --><Ntry>"),  # comments: the reference reads the file
        (b"<Ntry>", b"<?pi x?><Ntry>"),
        (b"<Ntry>", b'<Ntry xmlns="urn:other">'),  # another namespace below the root
        (b"</Ntry>", b"<![CDATA[x]]></Ntry>"),
        # a statement the reference reads: with an attribute, or in a statement group
        # that is not a child of the root
        (b"</BkToCstmrStmt>", b'<Stmt a="1"><Id>T</Id></Stmt></BkToCstmrStmt>'),
        (
            b"</BkToCstmrStmt>",
            b"<Ext><BkToCstmrStmt><Stmt><Id>T</Id></Stmt></BkToCstmrStmt></Ext></BkToCstmrStmt>",
        ),
    ],
)
def test_what_the_scanner_does_not_model_goes_to_the_reference(change):
    data = (
        b'<?xml version="1.0"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">'
        b'<BkToCstmrStmt><Stmt><Id>S</Id><Ntry><Amt Ccy="EUR">1.00</Amt>'
        b"<CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts><BookgDt><Dt>2026-01-02</Dt>"
        b"</BookgDt></Ntry></Stmt></BkToCstmrStmt></Document>"
    ).replace(*change)
    assert _camt_scan.scan(data.decode()) is None
    _same(camt.parse(data, source="u"), camt.parse_reference(data, source="u"))


def test_one_line_file_with_two_statements_keeps_them_apart():
    one = (
        '<Stmt><Id>{0}</Id><Ntry><Amt Ccy="EUR">1.00</Amt><CdtDbtInd>CRDT</CdtDbtInd>'
        "<BookgDt><Dt>2026-01-02</Dt></BookgDt><AcctSvcrRef>R{0}</AcctSvcrRef></Ntry></Stmt>"
    )
    data = (
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>'
        + one.format("A")
        + one.format("B")
        + "</BkToCstmrStmt></Document>"
    ).encode()
    for parse in (camt.parse, camt.parse_reference):
        r = parse(data, source="one-line")
        assert r.statements.column("statement_id").to_pylist() == ["A", "B"]
        assert r.payments.column("statement_id").to_pylist() == ["A", "B"]


def test_text_beyond_libxml2s_limit_is_refused_by_both_paths():
    data = (
        b"<Document><BkToCstmrStmt><Stmt><Id>"
        + b"x" * 10_500_000
        + b"</Id></Stmt></BkToCstmrStmt></Document>"
    )
    with pytest.raises(camt.InvalidInput, match="not well-formed"):
        camt.parse(data, source="huge.xml")


def test_a_large_batch_goes_to_the_reference_rather_than_compiling_its_shape():
    tx = (
        '<TxDtls><Refs><EndToEndId>E{0}</EndToEndId></Refs><Amt Ccy="EUR">1.00</Amt>'
        "<RltdPties><Dbtr><Nm>N{0}</Nm></Dbtr></RltdPties></TxDtls>"
    )
    data = (
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.08">'
        '<BkToCstmrDbtCdtNtfctn><Ntfctn><Id>N</Id><Ntry><Amt Ccy="EUR">300.00</Amt>'
        "<CdtDbtInd>CRDT</CdtDbtInd><BookgDt><Dt>2026-01-02</Dt></BookgDt><NtryDtls>"
        + "".join(tx.format(i) for i in range(300))
        + "</NtryDtls></Ntry></Ntfctn></BkToCstmrDbtCdtNtfctn></Document>"
    ).encode()
    assert _camt_scan.scan(data.decode()) is None
    fast = camt.parse(data, source="b")
    assert fast.payments.num_rows == 300
    _same(fast, camt.parse_reference(data, source="b"))


def test_balances_after_the_entries_keep_their_lines():
    from cashmatch.parsers.samples import camt053_file

    data = camt053_file(50).decode()
    head, rest = data.split("<Ntry>", 1)
    bals = head[head.index("<Bal>") : head.rindex("</Bal>") + 6]
    moved = head.replace(bals, "") + "<Ntry>" + rest.replace("</Stmt>", bals + "\n</Stmt>")
    raw = moved.encode()
    assert _camt_scan.scan(moved) is not None
    fast = camt.parse(raw, source="m")
    _same(fast, camt.parse_reference(raw, source="m"))
    assert fast.statements.column("closing_balance").to_pylist()[0] is not None


def test_the_long_run_prefilter_misses_no_run_libxml2_would_refuse():
    import numpy as np

    longest = camt._LONGEST_RUN
    for start in (0, 1, 2, longest // 2 - 1, longest // 2 + 1):
        for run in (longest - 2, longest - 1, longest):
            data = b"<" * start + b"x" * run + b"<" * (longest // 2 + 3)
            tags = np.flatnonzero(np.frombuffer(data, np.uint8) == ord("<"))
            exact = np.diff(tags, prepend=-1, append=len(data)).max() >= longest
            assert camt._long_run(data) == exact, (start, run)
