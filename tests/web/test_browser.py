"""The reviewers' page in a real headless Chromium (Debian ``chromium`` + ``chromium-driver``,
driven by Selenium), against the real ``cashmatch serve --http`` process on ephemeral loopback
ports, checked over gRPC too.

Skipped when Chromium is not installed, except under CI (env ``CI`` set), where that fails.
Screenshots go to ``$CASHMATCH_SCREENSHOTS`` (default: the test's temporary directory).
"""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from web_browser import find_browser, start_chromium, stop_chromium
from web_harness import TOKEN
from web_seed import ACME_NEW_ACCOUNT, HOSTILE_PAYER, seed_small

if find_browser() is None:
    if os.environ.get("CI"):
        pytest.fail(
            "chromium / chromium-driver missing: apt-get install -y chromium chromium-driver",
            pytrace=False,
        )
    pytest.skip("chromium and chromium-driver are not installed", allow_module_level=True)

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


class Served:
    """``python -m cashmatch.server --addr 127.0.0.1:0 --http 127.0.0.1:0`` in a subprocess."""

    def __init__(self, db: Path, token_file: Path) -> None:
        env = {k: v for k, v in os.environ.items() if k != "CASHMATCH_TOKEN"}
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cashmatch.server",
                "--addr",
                "127.0.0.1:0",
                "--http",
                "127.0.0.1:0",
                "--db",
                str(db),
                "--token-file",
                str(token_file),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        buf = b""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.proc.poll() is None:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.5)
            if ready:
                buf += os.read(self.proc.stdout.fileno(), 4096)
            web = re.search(rb"reviewers' page on http://127\.0\.0\.1:(\d+)/", buf)
            grpc_ = re.search(rb"serving on [^:\s]+:(\d+)", buf)
            if web and grpc_:
                self.base = f"http://127.0.0.1:{int(web.group(1))}"
                self.grpc_addr = f"127.0.0.1:{int(grpc_.group(1))}"
                return
        self.stop()
        raise RuntimeError(f"server did not start: {buf!r} {self.proc.stderr.read()!r}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def stub(self):
        import grpc

        from cashmatch.server.pb import cash_application_pb2_grpc as pb_grpc

        return pb_grpc.CashApplicationStub(grpc.insecure_channel(self.grpc_addr))


AUTH = (("authorization", f"Bearer {TOKEN}"),)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    from cashmatch.server.service import LedgerService
    from cashmatch.server.store import SQLiteStore

    root = tmp_path_factory.mktemp("web-e2e")
    db = root / "ledger.db"
    store = SQLiteStore(db)
    seed_small(LedgerService(store))
    store.close()
    tokens = root / "tokens"
    tokens.write_text(f"{TOKEN} reviewers write\n")
    server = Served(db, tokens)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    out = os.environ.get("CASHMATCH_SCREENSHOTS")
    path = Path(out) if out else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def browser():
    driver = start_chromium(width=1400, height=1000)
    yield driver
    stop_chromium(driver)


def by_testid(driver, testid: str, root=None):
    return (root or driver).find_elements(By.CSS_SELECTOR, f'[data-testid="{testid}"]')


def wait(driver, seconds: float = 10) -> WebDriverWait:
    return WebDriverWait(driver, seconds)


def alloc(driver, invoice_id: str, testid: str):
    """A field of the allocation line under a selected invoice."""
    return driver.find_element(
        By.CSS_SELECTOR, f'[data-alloc-for="{invoice_id}"] [data-testid="{testid}"]'
    )


def queue_ids(driver) -> list[str]:
    return [r.get_attribute("data-payment-id") for r in by_testid(driver, "exception-row")]


def csp_errors(driver) -> list[str]:
    return [
        e["message"]
        for e in driver.get_log("browser")
        if "Content Security Policy" in e["message"] or "Refused to" in e["message"]
    ]


def test_no_session_goes_to_signin_then_sign_in(served, browser, shots):
    browser.delete_all_cookies()
    browser.get(served.base + "/exceptions?reason=AMBIGUOUS")
    assert "/signin" in browser.current_url
    browser.save_screenshot(str(shots / "01-signin.png"))
    by_testid(browser, "signin-name")[0].send_keys("alice")
    by_testid(browser, "signin-token")[0].send_keys(TOKEN)
    by_testid(browser, "signin-submit")[0].click()
    wait(browser).until(EC.url_contains("/exceptions?reason=AMBIGUOUS"))
    assert queue_ids(browser) == ["P1"]
    browser.get(served.base + "/exceptions")
    assert set(queue_ids(browser)) == {"P1", "P2", "P3", "P4"}
    assert by_testid(browser, "queue-count")[0].text == "4"
    browser.save_screenshot(str(shots / "02-queue.png"))
    assert csp_errors(browser) == []


def test_filter_by_reason_and_age(served, browser, shots):
    browser.get(served.base + "/exceptions")
    from selenium.webdriver.support.ui import Select

    Select(by_testid(browser, "filter-reason")[0]).select_by_value("AMBIGUOUS")
    by_testid(browser, "filter-submit")[0].click()
    wait(browser).until(EC.url_contains("reason=AMBIGUOUS"))
    assert queue_ids(browser) == ["P1"]
    assert by_testid(browser, "queue-count")[0].text == "1"
    browser.get(served.base + "/exceptions")
    body = browser.find_element(By.TAG_NAME, "body")
    body.send_keys("/")  # "/" focuses the filter
    active = browser.switch_to.active_element
    assert active.get_attribute("data-testid") == "filter-customer"
    by_testid(browser, "filter-older-than")[0].send_keys("30" + Keys.ENTER)
    wait(browser).until(EC.url_contains("older_than_days=30"))
    assert queue_ids(browser) == ["P4"]


def test_select_the_right_invoices_remember_and_apply(served, browser, shots):
    from cashmatch.server.pb import cash_application_pb2 as pb

    browser.get(served.base + "/exceptions?reason=AMBIGUOUS")
    by_testid(browser, "exception-row")[0].click()
    wait(browser).until(EC.url_contains("/exceptions/P1"))
    assert by_testid(browser, "payment-payer")[0].text == "ACME INDUSTRIAL"
    assert by_testid(browser, "payment-amount")[0].text == "1,000.00 EUR"
    marks = browser.find_elements(By.CSS_SELECTOR, '[data-testid="payment-reference"] mark')
    assert [m.text for m in marks] == ["INV-1000", "1001"]
    browser.save_screenshot(str(shots / "03-item.png"))
    cands = {c.get_attribute("data-invoice-id"): c for c in by_testid(browser, "candidate")}
    assert list(cands) == ["INV-1000", "INV-1001", "INV-2001"]
    by_testid(browser, "candidate-select", cands["INV-1000"])[0].click()
    amount = alloc(browser, "INV-1000", "applied-amount")
    assert amount.get_attribute("value") == "600.00"  # the invoice's open amount
    assert by_testid(browser, "applied-total")[0].text == "600.00"
    assert by_testid(browser, "unapplied-total")[0].text == "400.00"
    assert by_testid(browser, "action-apply")[0].is_selected()
    cands["INV-1001"].find_element(By.CSS_SELECTOR, "td.inv").click()  # the row selects too
    amount2 = alloc(browser, "INV-1001", "applied-amount")
    assert amount2.get_attribute("value") == "400.00"  # what the payment can still cover
    assert by_testid(browser, "applied-total")[0].text == "1,000.00"
    assert by_testid(browser, "unapplied-total")[0].text == "0.00"
    by_testid(browser, "remember")[0].click()
    browser.save_screenshot(str(shots / "04-item-selected.png"))
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.ENTER)  # Enter submits
    result = wait(browser).until(
        EC.presence_of_element_located((By.CSS_SELECTOR, '[data-testid="decision-result"]'))
    )
    assert result.get_attribute("data-status") == "applied", result.text
    assert "INV-1000 (600.00), INV-1001 (400.00)" in result.text
    browser.save_screenshot(str(shots / "05-applied.png"))
    # the item left the queue
    browser.get(served.base + "/exceptions")
    assert "P1" not in queue_ids(browser)
    assert by_testid(browser, "queue-count")[0].text == "3"
    # gRPC GetPayment shows the allocation, attributed to the reviewer
    detail = served.stub().GetPayment(pb.GetPaymentRequest(payment_id="P1"), metadata=AUTH)
    assert detail.status == "APPLIED"
    got = {(a.invoice_id, a.applied_amount, a.created_by) for a in detail.allocations}
    assert got == {("INV-1000", "600.00", "alice"), ("INV-1001", "400.00", "alice")}
    assert (detail.exception.status, detail.exception.resolved_by) == ("resolved", "alice")
    assert any(e.action == "RESOLVE_APPLY" and e.actor == "alice" for e in detail.audit)


def _matcher_is_real() -> bool:
    """The engine's matcher (being written beside this) applies an exact reference match."""
    from datetime import date

    import pyarrow as pa

    from cashmatch.engine import schema as S
    from cashmatch.engine.matcher import match

    inv = pa.Table.from_pylist(
        [{"invoice_id": "INV-9", "customer_id": "C", "amount": 1000, "currency": "EUR"}],
        schema=S.INVOICES,
    )
    pay = pa.Table.from_pylist(
        [
            {
                "payment_id": "X",
                "value_date": date(2026, 1, 5),
                "amount": 1000,
                "currency": "EUR",
                "reference": "INV-9",
            }
        ],
        schema=S.PAYMENTS,
    )
    return match(invoices=inv, payments=pay).allocations.num_rows == 1


def test_the_next_payment_from_the_remembered_payer_is_applied_automatically(served, browser):
    from cashmatch.server.pb import cash_application_pb2 as pb

    if not _matcher_is_real():
        pytest.skip("the engine's matcher is still the stub on this branch")
    csv = (
        "payment_id,value_date,amount,currency,payer_name,payer_account,reference\n"
        f"P9,2026-11-20,99.00,EUR,ACME INDUSTRIAL,{ACME_NEW_ACCOUNT},thank you\n"
    ).encode()
    res = served.stub().SubmitStatement(
        pb.SubmitStatementRequest(content=csv, filename="next-day.csv"), metadata=AUTH
    )
    (status,) = [p.status for p in res.payments if p.payment_id == "P9"]
    assert status == "APPLIED"
    assert {a.invoice_id for a in res.allocations} == {"INV-1003"}


def test_split_amount_and_adjustment_update_the_equation_live(served, browser, shots):
    browser.get(served.base + "/exceptions/P3")
    (cand,) = by_testid(browser, "candidate")
    by_testid(browser, "candidate-select", cand)[0].click()
    amount = alloc(browser, "INV-1004", "applied-amount")
    assert amount.get_attribute("value") == "2985.00"  # the payment is less than the invoice
    line = browser.find_element(By.CSS_SELECTOR, '[data-alloc-for="INV-1004"]')
    assert "leaves 15.00 open" in line.text
    amount.clear()
    amount.send_keys("3000.50")
    assert "over" in by_testid(browser, "equation")[0].get_attribute("class")
    assert by_testid(browser, "unapplied-total")[0].text == "-15.50"
    assert not by_testid(browser, "submit-decision")[0].is_enabled()
    amount.clear()
    amount.send_keys("2985.00")
    adj = alloc(browser, "INV-1004", "adjustment-amount")
    adj.clear()
    adj.send_keys("15.00")
    from selenium.webdriver.support.ui import Select

    Select(alloc(browser, "INV-1004", "adjustment-reason")).select_by_value("BANK_FEE")
    assert "settles the invoice" in line.text
    assert by_testid(browser, "unapplied-total")[0].text == "0.00"
    browser.save_screenshot(str(shots / "06-split-adjustment.png"))
    by_testid(browser, "submit-decision")[0].click()
    result = wait(browser).until(
        EC.presence_of_element_located((By.CSS_SELECTOR, '[data-testid="decision-result"]'))
    )
    assert result.get_attribute("data-status") == "applied", result.text


def test_hostile_payer_name_renders_as_text_and_runs_nothing(served, browser, shots):
    browser.get(served.base + "/exceptions")
    row = [
        r for r in by_testid(browser, "exception-row") if r.get_attribute("data-payment-id") == "P2"
    ][0]
    assert HOSTILE_PAYER in row.text
    browser.get(served.base + "/exceptions/P2")
    payer = by_testid(browser, "payment-payer")[0]
    assert payer.text == HOSTILE_PAYER
    assert payer.find_elements(By.XPATH, ".//*") == []  # text only, no element
    assert "<script>window.__pwned=2</script>" in by_testid(browser, "payment-reference")[0].text
    assert browser.find_elements(By.TAG_NAME, "img") == []
    assert browser.execute_script("return window.__pwned === undefined")
    scripts = browser.find_elements(By.TAG_NAME, "script")
    assert [s.get_attribute("src") for s in scripts] == [served.base + "/static/app.js"]
    assert csp_errors(browser) == []  # nothing even tried to run
    browser.save_screenshot(str(shots / "07-hostile.png"))


def test_post_without_csrf_token_is_refused_in_the_browser(served, browser):
    browser.get(served.base + "/exceptions/P4")
    status = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch('/exceptions/P4/decision', {method: 'POST', body: new URLSearchParams("
        "{action: 'REFUND'})}).then(r => done(r.status), e => done(String(e)));"
    )
    assert status == 403
    browser.get(served.base + "/exceptions")
    assert "P4" in queue_ids(browser)


def test_keyboard_j_k_enter_and_action_keys(served, browser, shots):
    browser.get(served.base + "/exceptions")
    ids = queue_ids(browser)
    assert len(ids) >= 2
    body = browser.find_element(By.TAG_NAME, "body")
    body.send_keys("j")
    current = browser.find_elements(By.CSS_SELECTOR, "tr.current")
    assert [r.get_attribute("data-payment-id") for r in current] == [ids[1]]
    body.send_keys("k")
    body.send_keys("j")
    body.send_keys(Keys.ENTER)
    wait(browser).until(EC.url_contains("/exceptions/" + ids[1]))
    body = browser.find_element(By.TAG_NAME, "body")
    body.send_keys("o")
    assert by_testid(browser, "action-on-account")[0].is_selected()
    body.send_keys("m")
    assert by_testid(browser, "remember")[0].is_selected()
    body.send_keys("r")
    assert by_testid(browser, "action-refund")[0].is_selected()


def test_signout_ends_the_session(served, browser):
    browser.get(served.base + "/exceptions")
    by_testid(browser, "signout")[0].click()
    wait(browser).until(EC.url_contains("/signin"))
    browser.get(served.base + "/exceptions/P2")
    assert "/signin" in browser.current_url
