"""CAMT: hardened XML, every version by namespace, batches, structured remittance."""

from __future__ import annotations

import pytest
from _parser_golden import FIXTURES

from cashmatch.engine.errors import InvalidInput
from cashmatch.parsers import camt, parse_file

V02 = (FIXTURES / "camt" / "camt053_v02.xml").read_bytes()


@pytest.mark.parametrize("version", ["camt.053.001.02", "camt.053.001.04", "camt.053.001.08",
                                     "camt.053.001.10", "camt.053.001.13"])
def test_any_published_version_reads_the_same(version):
    data = V02.replace(b"camt.053.001.02", version.encode())
    assert parse_file(data, source="x").payments.equals(
        parse_file(V02, source="x").payments)


def test_no_namespace_at_all():
    data = V02.replace(b' xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"', b"")
    assert camt.parse(data, source="x").payments.num_rows == 2


def test_entity_expansion_is_refused():
    bomb = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
            b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
            b'<Document><BkToCstmrStmt><Stmt><Id>&lol2;</Id></Stmt></BkToCstmrStmt></Document>')
    with pytest.raises(InvalidInput, match="DTD"):
        camt.parse(bomb, source="bomb.xml")


def test_external_entity_is_refused():
    xxe = (b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
           b"<Document><BkToCstmrStmt><Stmt><Id>&x;</Id></Stmt></BkToCstmrStmt></Document>")
    with pytest.raises(InvalidInput):
        camt.parse(xxe, source="xxe.xml")


def test_batched_entry_becomes_one_payment_per_transaction():
    r = camt.parse((FIXTURES / "camt" / "camt053_v08_batch.xml").read_bytes(), source="b")
    assert r.payments.column("payment_id").to_pylist() == ["TX-7781-1", "BATCH-7781/2",
                                                           "BATCH-7781/3"]
    assert sum(r.payments.column("amount").to_pylist()) == 315000
    rem = r.remittances.to_pylist()
    assert [(x["invoice_ref"], x["paid_amount"], x["discount_amount"], x["deduction_amount"])
            for x in rem] == [("INV-2026-0100", 120000, 4000, None),
                              ("INV-2026-0101", 80000, None, 2500)]
    assert r.problems == []  # PRCD -150.00 + 3150.00 == CLBD 3000.00


def test_batch_that_does_not_sum_is_reported():
    data = (FIXTURES / "camt" / "camt053_v08_batch.xml").read_bytes().replace(
        b'<Amt Ccy="EUR">150.00</Amt>\n            <RltdPties>',
        b'<Amt Ccy="EUR">151.00</Amt>\n            <RltdPties>')
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
