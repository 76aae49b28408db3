"""Small parts of the page: sessions (expiry, throttle, tokens), evidence, money formatting."""

from __future__ import annotations

import time

from cashmatch.server.auth import Principal, TokenTable
from cashmatch.server.web import evidence as ev
from cashmatch.server.web.sessions import Sessions, clean_reviewer_name, csrf_ok
from cashmatch.server.web.views import money, pct


def test_tokens_from_the_server_table_with_scopes():
    table = TokenTable(
        [
            ("w" * 16, Principal("ops", frozenset({"read", "write"}))),
            ("r" * 16, Principal("audit", frozenset({"read"}))),
            ("c" * 16, Principal("crm", frozenset({"receivables"}))),
        ]
    )
    s = Sessions(tokens=table)
    assert s.check_token("w" * 16) == (True, True)
    assert s.check_token("r" * 16) == (True, False)
    assert s.check_token("c" * 16) == (False, False)  # may not see the exception queue
    assert s.check_token("x" * 16) == (False, False)
    assert s.check_token("") == (False, False)
    plain = Sessions(tokens=["abcdefgh"])
    assert plain.check_token("abcdefgh") == (True, True)
    assert plain.check_token("abcdefg") == (False, False)


def test_sessions_expire_when_idle_and_csrf_is_per_session():
    s = Sessions(tokens=["t" * 8], idle_seconds=0.05, max_seconds=10)
    a, b = s.create("alice"), s.create("bob")
    assert s.get(a.sid) is a and a.csrf != b.csrf
    assert csrf_ok(a, a.csrf) and not csrf_ok(a, b.csrf) and not csrf_ok(a, "")
    time.sleep(0.08)
    assert s.get(a.sid) is None
    s.drop(b.sid)
    assert s.get(b.sid) is None


def test_failed_signins_are_throttled_per_client():
    s = Sessions(tokens=["t" * 8])
    for _ in range(10):
        assert not s.throttled("1.2.3.4")
        s.failed("1.2.3.4")
    assert s.throttled("1.2.3.4") and not s.throttled("5.6.7.8")


def test_reviewer_names():
    assert clean_reviewer_name("  Ada   Lovelace ") == "Ada Lovelace"
    assert clean_reviewer_name("") is None
    assert clean_reviewer_name("x" * 65) is None
    assert clean_reviewer_name("bob\x00") is None


def test_canonical_invoice_keys():
    assert ev.canonical("inv-000123") == "INV123"
    assert ev.canonical("INV 1O23") == "INV1023"  # a letter O read as a zero
    assert ev.canonical("INV-1023") == ev.canonical("inv1023")


def test_reference_evidence_exact_number_po_and_near_miss():
    toks = ev.reference_tokens("pay INV-1000 and 1001, PO 4500-77 ref INV-10O9")
    items, spans = ev.reference_evidence(toks, "INV-1000", None)
    assert items[0][1] == ev.STRONG and spans == [(4, 12)]
    items, _ = ev.reference_evidence(toks, "INV-1001", None)
    assert "reference names INV-1001" in items[0][0]
    items, _ = ev.reference_evidence(toks, "INV-7", "4500-77")
    assert ("reference quotes PO 4500-77", ev.STRONG) in items
    # a near miss, but not from a token that names another candidate exactly
    taken = ev.exact_hits(toks, ["INV-1000", "INV-1001", "INV-1009"])
    items, _ = ev.reference_evidence(toks, "INV-1002", None, taken=taken)
    assert items == []


def test_amount_and_combination_evidence():
    assert (
        ev.amount_evidence(
            paid=1000, open_amount=1000, currency="EUR", fee_ceiling=2500, discount_bp=None
        )[0][1]
        == ev.STRONG
    )
    ((text, kind),) = ev.amount_evidence(
        paid=98_500, open_amount=100_000, currency="EUR", fee_ceiling=2500, discount_bp=None
    )
    assert kind == ev.WEAK and "short by 1,500.00" not in text and "15.00" in text
    ((text, _),) = ev.amount_evidence(
        paid=98_000, open_amount=100_000, currency="EUR", fee_ceiling=0, discount_bp=200
    )
    assert "2% discount" in text
    combo = ev.combination_evidence(1000, {"A": 600, "B": 300, "C": 400})
    assert combo == {"A": ["C"], "C": ["A"]}


def test_mark_spans_and_money():
    assert ev.mark_spans("ab INV-1 cd", [(3, 8, "INV-1")]) == [
        ("ab ", ""),
        ("INV-1", "INV-1"),
        (" cd", ""),
    ]
    assert money(123456789, "EUR") == "1,234,567.89"
    assert money(-5, "EUR") == "-0.05"
    assert money(180318, "JPY") == "180,318"
    assert money(1234567, "KWD") == "1,234.567"
    assert pct(0.876)[1] == "88%" and pct(87.6)[1] == "88%" and pct(None)[1] == "–"
