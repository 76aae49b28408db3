"""CAMT: hardened XML, every version by namespace, batches, structured remittance."""

from __future__ import annotations

import pytest
from _parser_golden import FIXTURES

from cashmatch.engine.errors import InvalidInput
from cashmatch.parsers import camt, parse_file

V02 = (FIXTURES / "camt" / "camt053_v02.xml").read_bytes()


@pytest.mark.parametrize(
    "version",
    ["camt.053.001.02", "camt.053.001.04", "camt.053.001.08", "camt.053.001.10", "camt.053.001.13"],
)
def test_any_published_version_reads_the_same(version):
    data = V02.replace(b"camt.053.001.02", version.encode())
    assert parse_file(data, source="x").payments.equals(parse_file(V02, source="x").payments)


def test_no_namespace_at_all():
    data = V02.replace(b' xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"', b"")
    assert camt.parse(data, source="x").payments.num_rows == 2


def test_entity_expansion_is_refused():
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
        b"<Document><BkToCstmrStmt><Stmt><Id>&lol2;</Id></Stmt></BkToCstmrStmt></Document>"
    )
    with pytest.raises(InvalidInput, match="DTD"):
        camt.parse(bomb, source="bomb.xml")


def test_external_entity_is_refused():
    xxe = (
        b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b"<Document><BkToCstmrStmt><Stmt><Id>&x;</Id></Stmt></BkToCstmrStmt></Document>"
    )
    with pytest.raises(InvalidInput):
        camt.parse(xxe, source="xxe.xml")


def test_batched_entry_becomes_one_payment_per_transaction():
    r = camt.parse((FIXTURES / "camt" / "camt053_v08_batch.xml").read_bytes(), source="b")
    assert r.payments.column("payment_id").to_pylist() == [
        "TX-7781-1",
        "BATCH-7781/2",
        "BATCH-7781/3",
    ]
    assert sum(r.payments.column("amount").to_pylist()) == 315000
    rem = r.remittances.to_pylist()
    assert [
        (x["invoice_ref"], x["paid_amount"], x["discount_amount"], x["deduction_amount"])
        for x in rem
    ] == [("INV-2026-0100", 120000, 4000, None), ("INV-2026-0101", 80000, None, 2500)]
    assert r.problems == []  # PRCD -150.00 + 3150.00 == CLBD 3000.00


def test_batch_that_does_not_sum_is_reported():
    data = (
        (FIXTURES / "camt" / "camt053_v08_batch.xml")
        .read_bytes()
        .replace(
            b'<Amt Ccy="EUR">150.00</Amt>\n            <RltdPties>',
            b'<Amt Ccy="EUR">151.00</Amt>\n            <RltdPties>',
        )
    )
    r = camt.parse(data, source="b")
    assert any("batched transactions sum" in p.reason for p in r.problems)
    assert any("does not reconcile" in p.reason for p in r.problems)


def test_truncated_file_keeps_entries_before_the_break():
    r = camt.parse((FIXTURES / "camt" / "broken_truncated.xml").read_bytes(), source="t.xml")
    assert r.payments.column("payment_id").to_pylist() == ["FR-1"]
    assert any("XML breaks" in p.reason for p in r.problems)


def test_not_xml_is_a_clean_error():
    with pytest.raises(InvalidInput, match="not well-formed"):
        camt.parse(b"<Document><BkToCstmrStmt", source="x.xml")


def test_declared_totals_are_checked():
    data = V02.replace(b"<Sum>1250.00</Sum>", b"<Sum>1350.00</Sum>")
    r = camt.parse(data, source="x")
    assert any(p.column == "total_credits" for p in r.problems)


SAMPLES = sorted((FIXTURES / "camt").glob("*.xml"))


def _same(a, b):
    assert a.payments.equals(b.payments)
    assert a.remittances.equals(b.remittances)
    assert a.statements.equals(b.statements)
    assert sorted(map(str, a.problems)) == sorted(map(str, b.problems))


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.name)
def test_fast_path_equals_streaming_reference(sample):
    data = sample.read_bytes()
    _same(camt.parse(data, source=sample.name), camt.parse_reference(data, source=sample.name))


@pytest.mark.parametrize("version", ["02", "06", "08", "13"])
def test_fast_path_equals_reference_on_generated_statements(version):
    from cashmatch.parsers.samples import camt053_file

    data = camt053_file(200, version=version)
    fast = camt.parse(data, source="gen")
    assert fast.payments.num_rows == 200 and fast.remittances.num_rows == 100
    assert fast.problems == []
    _same(fast, camt.parse_reference(data, source="gen"))


def test_fast_path_with_prefixed_namespace_and_odd_cases():
    data = (
        b'<?xml version="1.0"?><d:Document xmlns:d="urn:iso:std:iso:20022:tech:xsd:'
        b'camt.054.001.08"><d:BkToCstmrDbtCdtNtfctn><d:Ntfctn><d:Id>N1</d:Id>'
        b'<d:Ntry><d:Amt Ccy="usd">5.00</d:Amt><d:CdtDbtInd>CRDT</d:CdtDbtInd>'
        b"<d:Sts><d:Cd>BOOK</d:Cd></d:Sts><d:BookgDt><d:DtTm>2026-01-02T10:00:00</d:DtTm>"
        b"</d:BookgDt><d:NtryDtls><d:TxDtls><d:RmtInf><d:Strd><d:RfrdDocInf><d:Nb>A</d:Nb>"
        b"</d:RfrdDocInf><d:RfrdDocInf><d:Nb>B</d:Nb></d:RfrdDocInf></d:Strd></d:RmtInf>"
        b"</d:TxDtls></d:NtryDtls></d:Ntry>"
        b'<d:Ntry><d:Amt Ccy="USD">1.00</d:Amt><d:CdtDbtInd>XX</d:CdtDbtInd></d:Ntry>'
        b"</d:Ntfctn></d:BkToCstmrDbtCdtNtfctn></d:Document>"
    )
    fast = camt.parse(data, source="p")
    _same(fast, camt.parse_reference(data, source="p"))
    assert fast.payments.column("reference").to_pylist() == ["A B"]
    assert {p.column for p in fast.problems} == {"RfrdDocAmt/RmtdAmt", "CdtDbtInd"}
