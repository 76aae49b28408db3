"""Seed a ledger for the reviewers' page: customers and invoices through the service, payments
and exceptions with ranked candidates directly through the store interface (the matcher's
candidates are what a real day would hold; written here so the page has them to show)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

import numpy as np
import pyarrow as pa

from cashmatch.engine import schema as S
from cashmatch.server.store import utcnow


def add_customers(service: Any, rows: Sequence[dict[str, Any]]) -> None:
    service.upsert_customers(customers=pa.Table.from_pylist(list(rows), schema=S.CUSTOMERS))


def add_invoices(service: Any, rows: Sequence[dict[str, Any]]) -> None:
    service.upsert_invoices(invoices=pa.Table.from_pylist(list(rows), schema=S.INVOICES))


def add_exceptions(
    service: Any, payments: Sequence[dict[str, Any]], exceptions: Sequence[dict[str, Any]]
) -> None:
    """Store payments (status UNAPPLIED) with one open exception each."""
    pays = pa.Table.from_pylist(list(payments), schema=S.PAYMENTS)
    excs = pa.Table.from_pylist(list(exceptions), schema=S.EXCEPTIONS)
    store = service.store
    at = utcnow()
    with store.transaction():
        store.insert_payments(
            pays,
            status=["UNAPPLIED"] * pays.num_rows,
            customer_ids=[e.get("customer_id") for e in exceptions],
            submission_id="seed",
            at=at,
        )
        store.insert_exceptions(excs, at=at)


def payment(
    pid: str,
    amount: int,
    *,
    currency: str = "EUR",
    payer: str = "",
    account: str = "",
    reference: str = "",
    value_date: date | None = None,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "payment_id": pid,
        "value_date": value_date or date.today() - timedelta(days=3),
        "amount": amount,
        "currency": currency,
        "payer_name": payer or None,
        "payer_account": account or None,
        "reference": reference or None,
        "direction": "CRDT",
        "source": "seed.csv",
        "source_line": 2,
        **extra,
    }


def exception(
    pid: str,
    amount: int,
    reason: str,
    candidates: Sequence[str] = (),
    scores: Sequence[float] = (),
    *,
    currency: str = "EUR",
    customer_id: str | None = None,
    detail: str = "",
) -> dict[str, Any]:
    return {
        "payment_id": pid,
        "reason": reason,
        "unapplied_amount": amount,
        "candidates": list(candidates),
        "candidate_scores": list(scores),
        "detail": detail or None,
        "currency": currency,
        "customer_id": customer_id,
    }


REASONS = (
    S.AMBIGUOUS,
    S.UNKNOWN_PAYER,
    S.NO_CANDIDATE,
    S.LOW_CONFIDENCE,
    S.SHORT_PAY,
    S.OVERPAYMENT,
)
NAMES = (
    "Acme Industrial",
    "Borealis Foods",
    "Cobalt Logistics",
    "Delta Medical",
    "Evergreen Retail",
    "Fjord Shipping",
    "Granite Works",
    "Helios Energy",
    "Iris Pharma",
    "Juniper Labs",
)


def seed_day(
    service: Any,
    *,
    exceptions: int = 10_000,
    invoices: int = 20_000,
    customers: int = 500,
    seed: int = 7,
    today: date | None = None,
) -> None:
    """A large queue: ``exceptions`` open items with 0-5 candidates each (vectorised build)."""
    rng = np.random.default_rng(seed)
    today = today or date.today()
    cust_ids = [f"C{i:05d}" for i in range(customers)]
    add_customers(
        service,
        [
            {
                "customer_id": c,
                "name": f"{NAMES[i % len(NAMES)]} {i}",
                "accounts": [f"DE{i:020d}"],
                "aliases": [],
                "parent_id": None,
            }
            for i, c in enumerate(cust_ids)
        ],
    )
    inv_cust = rng.integers(0, customers, invoices)
    inv_amt = rng.integers(1_000, 5_000_000, invoices)
    add_invoices(
        service,
        [
            {
                "invoice_id": f"INV-{i:07d}",
                "customer_id": cust_ids[c],
                "customer_name": f"{NAMES[c % len(NAMES)]} {c}",
                "amount": int(a),
                "currency": "EUR",
                "issue_date": today - timedelta(days=60),
                "due_date": today - timedelta(days=30 - i % 60),
                "po_number": f"PO{i:06d}",
            }
            for i, (c, a) in enumerate(zip(inv_cust, inv_amt, strict=True))
        ],
    )
    pays, excs = [], []
    ages = rng.integers(0, 90, exceptions)
    for k in range(exceptions):
        n_c = int(rng.integers(0, 6))
        cands = [f"INV-{int(x):07d}" for x in rng.choice(invoices, n_c, replace=False)]
        scores = sorted((float(x) for x in rng.uniform(0.3, 0.89, n_c)), reverse=True)
        amount = int(inv_amt[int(cands[0][4:])]) if cands else int(rng.integers(1_000, 900_000))
        cust = cust_ids[int(inv_cust[int(cands[0][4:])])] if cands else None
        pid = f"P{k:07d}"
        pays.append(
            payment(
                pid,
                amount,
                payer=f"{NAMES[k % len(NAMES)]} {k % customers}",
                account=f"DE{k % customers:020d}",
                reference=f"Payment {cands[0] if cands else 'invoice'} thank you",
                value_date=today - timedelta(days=int(ages[k])),
            )
        )
        excs.append(
            exception(
                pid,
                amount,
                REASONS[k % len(REASONS)],
                cands,
                scores,
                customer_id=cust,
                detail="Seeded for the benchmark.",
            )
        )
    for start in range(0, exceptions, 5_000):
        add_exceptions(service, pays[start : start + 5_000], excs[start : start + 5_000])


ACME_NEW_ACCOUNT = "DE44500105175407324931"
HOSTILE_PAYER = '<img src=x onerror="window.__pwned=1">'
HOSTILE_REFERENCE = '<script>window.__pwned=2</script> INV-1002 " onmouseover="window.__pwned=3'


def seed_small(service: Any, *, today: date | None = None) -> None:
    """The reviewers' test day: two customers, seven invoices, four exceptions.

    - P1 AMBIGUOUS 1,000.00 from a new Acme account: INV-1000 + INV-1001 settle it exactly;
    - P2 UNKNOWN_PAYER 550.00 whose payer name and reference are hostile HTML;
    - P3 SHORT_PAY 2,985.00 for INV-1004 (3,000.00): a 15.00 bank fee;
    - P4 NO_CANDIDATE 500.00 from Borealis, 45 days old.
    """
    today = today or date.today()
    add_customers(
        service,
        [
            {
                "customer_id": "C1",
                "name": "Acme Industrial GmbH",
                "accounts": ["DE89370400440532013000"],
                "aliases": [],
            },
            {"customer_id": "C2", "name": "Borealis Foods", "accounts": [], "aliases": []},
        ],
    )
    inv = [
        ("INV-1000", "C1", 60_000),
        ("INV-1001", "C1", 40_000),
        ("INV-1002", "C1", 125_000),
        ("INV-1003", "C1", 9_900),
        ("INV-1004", "C1", 300_000),
        ("INV-2001", "C2", 100_000),
        ("INV-2002", "C2", 50_000),
    ]
    names = {"C1": "Acme Industrial GmbH", "C2": "Borealis Foods"}
    add_invoices(
        service,
        [
            {
                "invoice_id": i,
                "customer_id": c,
                "customer_name": names[c],
                "amount": a,
                "currency": "EUR",
                "issue_date": today - timedelta(days=40),
                "due_date": today - timedelta(days=10 - k),
                "po_number": f"PO-77{k}",
            }
            for k, (i, c, a) in enumerate(inv)
        ],
    )
    add_exceptions(
        service,
        [
            payment(
                "P1",
                100_000,
                payer="ACME INDUSTRIAL",
                account=ACME_NEW_ACCOUNT,
                reference="INV-1000 INV 1001 thanks",
                value_date=today - timedelta(days=3),
            ),
            payment(
                "P2",
                55_000,
                payer=HOSTILE_PAYER,
                reference=HOSTILE_REFERENCE,
                value_date=today - timedelta(days=2),
            ),
            payment(
                "P3",
                298_500,
                payer="Acme Industrial",
                account="DE89370400440532013000",
                reference="INV-1004",
                value_date=today - timedelta(days=5),
            ),
            payment(
                "P4",
                50_000,
                payer="Borealis",
                reference="see invoice",
                value_date=today - timedelta(days=45),
            ),
        ],
        [
            exception(
                "P1",
                100_000,
                S.AMBIGUOUS,
                ["INV-1000", "INV-1001", "INV-2001"],
                [0.72, 0.70, 0.40],
                customer_id="C1",
                detail="Two invoices together fit the amount; none alone does.",
            ),
            exception(
                "P2", 55_000, S.UNKNOWN_PAYER, ["INV-1002"], [0.31], detail="The payer is unknown."
            ),
            exception(
                "P3",
                298_500,
                S.SHORT_PAY,
                ["INV-1004"],
                [0.86],
                customer_id="C1",
                detail="15.00 short of INV-1004, more than the bank-fee tolerance.",
            ),
            exception(
                "P4", 50_000, S.NO_CANDIDATE, customer_id="C2", detail="No open invoice matches."
            ),
        ],
    )
