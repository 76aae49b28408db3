"""The reviewers' page over real HTTP on a loopback port (no browser): sign-in, sessions,
CSRF, security headers, routes of the contract, the decision and its 409."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from web_harness import READ_TOKEN, TOKEN, Client
from web_seed import HOSTILE_PAYER

CONTRACT_HOOKS = (
    "signin-name",
    "signin-token",
    "signin-submit",
)


class Tags(HTMLParser):
    """Every start tag with its attributes, as the browser's parser sees them."""

    def __init__(self, body: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(body)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def rows(body: str) -> list[str]:
    return re.findall(r'data-testid="exception-row" data-payment-id="([^"]+)"', body)


def test_without_a_session_every_page_goes_to_signin(client):
    for path in (
        "/",
        "/exceptions",
        "/exceptions/P1",
        "/payments/P1",
        "/no/such/page",
        "/exceptions?reason=AMBIGUOUS",
    ):
        status, headers, _ = client.get(path)
        assert status == 303, path
        assert headers["Location"].startswith("/signin"), path
    status, headers, _ = client.post("/exceptions/P1/decision", {"action": "REFUND"})
    assert status == 303 and headers["Location"].startswith("/signin")
    status, _, body = client.get("/signin")
    assert status == 200
    for hook in CONTRACT_HOOKS:
        assert f'data-testid="{hook}"' in body


def test_signin_sets_a_strict_httponly_cookie_and_signout_ends_it(client):
    status, headers, body = client.post("/signin", {"name": "alice", "token": "wrong-token"})
    assert status == 401 and "not one of this server" in body
    assert not client.cookies
    status, headers, _ = client.post(
        "/signin", {"name": "alice", "token": TOKEN, "next": "/exceptions?reason=AMBIGUOUS"}
    )
    assert status == 303 and headers["Location"] == "/exceptions?reason=AMBIGUOUS"
    cookie = headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain HTTP on loopback; Secure under TLS
    status, _, body = client.get("/exceptions")
    assert status == 200 and 'data-testid="reviewer-name">alice<' in body
    # sign-out needs the CSRF token too
    assert client.post("/signout", {})[0] == 403
    status, headers, _ = client.post("/signout", {"csrf_token": client.csrf()})
    assert status == 303 and headers["Location"] == "/signin"
    assert client.get("/exceptions")[0] == 303


def test_signin_refuses_open_redirects_and_bad_names(client):
    status, headers, _ = client.post(
        "/signin", {"name": "alice", "token": TOKEN, "next": "//evil.example/x"}
    )
    assert status == 303 and headers["Location"] == "/exceptions"
    other = Client(client.port)
    status, _, body = other.post("/signin", {"name": "  ", "token": TOKEN})
    assert status == 400 and "Give your name" in body


def test_security_headers_on_every_response(client):
    for path in ("/signin", "/static/app.js", "/exceptions"):
        _, headers, _ = client.get(path)
        csp = headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
    _, headers, _ = client.get("/static/app.js")
    assert headers["Content-Type"].startswith("text/javascript")


def test_pages_carry_no_inline_script_and_escape_hostile_text(client):
    client.signin()
    for path in ("/exceptions", "/exceptions/P2", "/payments/P2", "/exceptions/P1"):
        status, _, body = client.get(path)
        assert status == 200, path
        scripts = re.findall(r"<script\b[^>]*>(.*?)</script>", body, re.S)
        assert scripts == [""] * len(scripts), f"inline script on {path}"
        assert re.findall(r"<script\b([^>]*)>", body) == [' src="/static/app.js" defer']
        tags = Tags(body).tags
        handlers = [(t, a) for t, a in tags if any(k.startswith("on") for k in a)]
        assert not handlers, f"inline handler on {path}"
        assert not [t for t, _ in tags if t in ("img", "iframe", "object", "embed")]
        assert not [a for _, a in tags if str(a.get("href", "")).startswith("javascript:")]
    _, _, body = client.get("/exceptions/P2")
    assert "&lt;img src=x onerror=&#34;window.__pwned=1&#34;&gt;" in body
    assert HOSTILE_PAYER not in body


def test_post_without_or_with_a_wrong_csrf_token_is_refused(client, service):
    client.signin()
    good = client.csrf("/exceptions/P4")
    data = {"action": "ON_ACCOUNT", "customer_id": "C2"}
    assert client.post("/exceptions/P4/decision", data)[0] == 403
    assert client.post("/exceptions/P4/decision", {**data, "csrf_token": "x" * 43})[0] == 403
    # another site's form (Origin) is refused even with the token
    status, _, _ = client.post(
        "/exceptions/P4/decision",
        {**data, "csrf_token": good},
        headers={"Origin": "https://evil.example"},
    )
    assert status == 403
    assert service.store.exception_of("P4").status == "open"
    status, _, body = client.post("/exceptions/P4/decision", {**data, "csrf_token": good})
    assert status == 200 and 'data-status="applied"' in body
    assert service.store.exception_of("P4").status == "resolved"


def test_queue_filters_sorting_paging_and_counts(client):
    client.signin()
    status, _, body = client.get("/exceptions")
    assert status == 200
    assert set(rows(body)) == {"P1", "P2", "P3", "P4"}
    assert rows(body)[0] == "P4"  # oldest first
    assert re.search(r'data-testid="queue-count">4<', body)
    for reason in ("AMBIGUOUS", "UNKNOWN_PAYER", "SHORT_PAY", "NO_CANDIDATE"):
        assert f'data-reason="{reason}"' in body
    _, _, body = client.get("/exceptions?reason=AMBIGUOUS")
    assert rows(body) == ["P1"] and 'data-testid="queue-count">1<' in body
    _, _, body = client.get("/exceptions?older_than_days=30")
    assert rows(body) == ["P4"]
    _, _, body = client.get("/exceptions?min_amount=600&currency=eur")
    assert rows(body) == ["P3", "P1"]
    _, _, body = client.get("/exceptions?customer_id=C1&sort=-amount")
    assert rows(body) == ["P3", "P1"]
    _, _, body = client.get("/exceptions?sort=-age")
    assert rows(body)[0] == "P2"
    # paging: two per page, four items -> two pages, no item twice
    _, _, body = client.get("/exceptions?page_size=2")
    first = rows(body)
    nxt = re.search(r'href="([^"]+)" data-next-page', body).group(1).replace("&amp;", "&")
    _, _, body = client.get(nxt)
    second = rows(body)
    assert len(first) == 2 and len(second) == 2 and not set(first) & set(second)
    assert "showing 3–4" in body
    status, _, body = client.get("/exceptions?min_amount=abc")
    assert status == 400 and "min_amount" in body


def test_item_page_shows_the_payment_candidates_and_evidence(client):
    client.signin()
    status, _, body = client.get("/exceptions/P1")
    assert status == 200
    assert re.findall(r'data-testid="candidate" data-invoice-id="([^"]+)"', body) == [
        "INV-1000",
        "INV-1001",
        "INV-2001",
    ]
    # the customer's other open items, without the candidates
    others = re.findall(r'data-testid="open-item" data-invoice-id="([^"]+)"', body)
    assert set(others) == {"INV-1002", "INV-1003", "INV-1004"}
    assert '<mark title="matches INV-1000">INV-1000</mark>' in body
    assert '<mark title="matches INV-1001">1001</mark>' in body
    assert "with INV-1001 settles the payment exactly" in body
    for hook in (
        "payment-payer",
        "payment-reference",
        "payment-amount",
        "remember",
        "action-apply",
        "action-on-account",
        "action-refund",
        "action-write-off",
        "submit-decision",
    ):
        assert f'data-testid="{hook}"' in body, hook
    status, _, body = client.get("/exceptions/P1?find=INV-2002")
    assert re.findall(r'data-testid="open-item" data-invoice-id="([^"]+)"', body) == ["INV-2002"]
    assert client.get("/exceptions/NOPE")[0] == 404


def test_apply_split_with_adjustment_then_409_for_the_second_reviewer(client, service, live):
    alice = client.signin("alice")
    bob = Client(live.port).signin("bob")
    tok_a, tok_b = alice.csrf("/exceptions/P3"), bob.csrf("/exceptions/P3")
    decision = {
        "action": "APPLY",
        "invoice_id": ["INV-1004"],
        "applied_amount": ["2,985.00"],
        "adjustment_amount": ["15.00"],
        "adjustment_reason": ["BANK_FEE"],
        "note": "fee taken by the bank",
    }
    status, _, body = bob.post("/exceptions/P3/decision", {**decision, "csrf_token": tok_b})
    assert status == 200 and 'data-status="applied"' in body
    assert "Applied 2,985.00 EUR to INV-1004" in body and "by bob" in body
    view = service.get_payment("P3")
    assert view.status == "APPLIED"
    (row,) = view.allocations.to_pylist()
    assert (row["applied_amount"], row["adjustment_amount"], row["adjustment_reason"]) == (
        298_500,
        1_500,
        "BANK_FEE",
    )
    assert row["invoice_open_after"] == 0 and row["created_by"] == "bob"
    status, _, body = alice.post("/exceptions/P3/decision", {**decision, "csrf_token": tok_a})
    assert status == 409 and 'data-status="rejected"' in body
    assert re.search(r"Already resolved by bob at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", body)
    assert len(service.get_payment("P3").allocations) == 1  # nothing applied twice
    # audit trail attributes the decision to bob
    _, _, body = alice.get("/payments/P3")
    assert "RESOLVE_APPLY" in body and ">bob<" in body


def test_a_refused_decision_keeps_what_was_typed(client, service):
    client.signin()
    tok = client.csrf("/exceptions/P1")
    status, _, body = client.post(
        "/exceptions/P1/decision",
        {
            "csrf_token": tok,
            "action": "APPLY",
            "invoice_id": ["INV-1000", "INV-1001"],
            "applied_amount": ["600.00", "600.00"],
            "note": "try",
        },
    )
    assert status == 422 and 'data-status="rejected"' in body
    assert "exceeds the open amount" in body
    assert re.search(r'data-invoice-id="INV-1001"[^>]*aria-selected="true"', body)
    assert 'value="600.00"' in body and 'value="try"' in body
    assert service.store.exception_of("P1").status == "open"


def test_read_only_token_may_look_but_not_decide(client, service):
    client.signin("auditor", READ_TOKEN)
    assert client.get("/exceptions/P4")[0] == 200
    tok = client.csrf("/exceptions/P4")
    status, _, body = client.post(
        "/exceptions/P4/decision", {"csrf_token": tok, "action": "REFUND"}
    )
    assert status == 403 and "read-only" in body
    assert service.store.exception_of("P4").status == "open"


def test_unknown_payer_gets_customers_whose_name_resembles_it(client, service):
    from web_seed import add_exceptions, exception, payment

    add_exceptions(
        service,
        [payment("P5", 12_345, payer="BOREALIS FOODS LTD", reference="thanks")],
        [exception("P5", 12_345, "UNKNOWN_PAYER")],
    )
    client.signin()
    _, _, body = client.get("/exceptions/P5")
    assert 'data-testid="lookalike" data-customer-id="C2"' in body
    assert "The payer is not identified" in body
    _, _, body = client.get("/exceptions/P5?find=C2")
    assert re.findall(r'data-testid="open-item" data-invoice-id="([^"]+)"', body) == [
        "INV-2001",
        "INV-2002",
    ]


def test_under_tls_the_cookie_is_secure_and_hsts_is_sent(service):
    from web_harness import LiveApp as _Live

    class TlsFlagged(_Live):
        def _main(self) -> None:  # same app with the TLS flag (the proxy or socket does TLS)
            import asyncio

            from aiohttp import web

            from cashmatch.server.web.app import create_app

            asyncio.set_event_loop(self.loop)
            self.runner = web.AppRunner(
                create_app(service=self.service, tokens=self.tokens, tls=True)
            )
            self.loop.run_until_complete(self.runner.setup())
            site = web.TCPSite(self.runner, "127.0.0.1", 0)
            self.loop.run_until_complete(site.start())
            self.port = site._server.sockets[0].getsockname()[1]
            self._ready.set()
            self.loop.run_forever()
            self.loop.run_until_complete(self.runner.cleanup())
            self.loop.close()

    app = TlsFlagged(service, [TOKEN]).start()
    try:
        c = Client(app.port)
        status, headers, _ = c.post("/signin", {"name": "alice", "token": TOKEN})
        assert status == 303
        assert "Secure" in headers["Set-Cookie"] and "HttpOnly" in headers["Set-Cookie"]
        assert headers["Strict-Transport-Security"].startswith("max-age=")
    finally:
        app.stop()
