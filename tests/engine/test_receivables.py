"""Receivables analytics: the fast engine against the slow reference, plus hand-checked cases."""

from __future__ import annotations

from datetime import date, timedelta

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cashmatch.engine import schema as S
from cashmatch.engine.errors import PolicyError
from cashmatch.engine.receivables import (
    RiskModel,
    analyse,
    build_ledger,
    open_items,
    receivables,
)
from cashmatch.fixtures.history import generate_history

from .receivables_reference import BUCKETS, reference

D0 = date(2026, 1, 1)


def close(a: float | None, b: object, tol: float = 1e-4) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(a - float(b)) <= tol * max(1.0, abs(float(b)) * 1e-6)


def assert_same(result, ref: dict) -> None:  # noqa: ANN001
    # aging: exact to the minor unit
    got = {(r["customer_id"], r["currency"]): r for r in result.aging.to_pylist()}
    assert set(got) == set(ref["aging"])
    for key, cells in ref["aging"].items():
        for b in (*BUCKETS, "total"):
            assert got[key][b] == cells[b], (key, b)
    # metrics: money exact, ratios to 4 decimals
    mets = {m["currency"]: m for m in result.metrics.to_pylist()}
    assert set(mets) == set(ref["metrics"])
    for cur, m in ref["metrics"].items():
        for k, v in m.items():
            if isinstance(v, int):
                assert mets[cur][k] == v, (cur, k)
            else:
                assert close(mets[cur][k], v), (cur, k, mets[cur][k], v)
    accs = {(r["customer_id"], r["currency"]): r for r in result.accounts.to_pylist()}
    assert set(accs) == set(ref["accounts"])
    for key, a in ref["accounts"].items():
        for k, v in a.items():
            if isinstance(v, int):
                assert accs[key][k] == v, (key, k, accs[key][k], v)
            else:
                assert close(accs[key][k], v), (key, k, accs[key][k], v)


def run_both(h, as_of: date, period: int):  # noqa: ANN001, ANN201
    res = receivables(
        invoices=h["invoices"],
        payments=h["payments"],
        allocations=h["allocations"],
        adjustments=h.get("adjustments"),
        promises=h.get("promises"),
        as_of=as_of,
        period_days=period,
    )
    ref = reference(
        invoices=h["invoices"],
        payments=h["payments"],
        allocations=h["allocations"],
        adjustments=h.get("adjustments"),
        promises=h.get("promises"),
        as_of=as_of,
        period_days=period,
        grace=RiskModel.default().promise_grace_days,
    )
    return res, ref


# ---------------------------------------------------------------- generated histories


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("shift", [0, -45])
def test_engine_equals_reference_on_generated_histories(seed: int, shift: int) -> None:
    g = generate_history(n_customers=40, n_invoices=1500, seed=seed)
    h = {
        k: getattr(g, k) for k in ("invoices", "payments", "allocations", "adjustments", "promises")
    }
    res, ref = run_both(h, g.as_of + timedelta(days=shift), 90)
    assert res.problems == []
    assert_same(res, ref)


def test_generated_history_is_seeded_and_consistent() -> None:
    a = generate_history(n_customers=30, n_invoices=500, seed=7)
    b = generate_history(n_customers=30, n_invoices=500, seed=7)
    assert a.invoices.equals(b.invoices) and a.allocations.equals(b.allocations)
    assert a.promises.equals(b.promises) and a.adjustments.equals(b.adjustments)
    # cash conserved: every payment is the sum of its allocations' cash (all positive)
    per_payment = a.allocations.group_by("payment_id").aggregate([("applied_amount", "sum")])
    sums = dict(
        zip(
            per_payment.column("payment_id").to_pylist(),
            per_payment.column("applied_amount_sum").to_pylist(),
            strict=True,
        )
    )
    for p in a.payments.to_pylist():
        assert p["amount"] == max(sums[p["payment_id"]], 1)
    # nothing is reduced by more than it was invoiced
    led = build_ledger(
        invoices=a.invoices,
        payments=a.payments,
        allocations=a.allocations,
        adjustments=a.adjustments,
    )
    assert (led.open_at(10**6) >= 0).all()
    assert set(a.labels.column("behaviour").to_pylist()) == {"normal", "chronic", "deteriorating"}


# ---------------------------------------------------------------- random ledgers (hypothesis)


@st.composite
def ledgers(draw):  # noqa: ANN001, ANN201
    n_inv = draw(st.integers(1, 14))
    customers = ["C1", "C2", "C3"]
    invoices = []
    for k in range(n_inv):
        cur = draw(st.sampled_from(["USD", "JPY"]))
        issue = D0 + timedelta(days=draw(st.integers(0, 200)))
        due = (
            None
            if draw(st.booleans()) and k % 3 == 0
            else issue + timedelta(days=draw(st.integers(0, 60)))
        )
        invoices.append(
            {
                "invoice_id": f"I{k:02d}",
                "customer_id": draw(st.sampled_from(customers)),
                "amount": draw(st.integers(-5_000, 100_000)),
                "currency": cur,
                "issue_date": issue,
                "due_date": due,
            }
        )
    n_pay = draw(st.integers(0, 8))
    payments = [
        {
            "payment_id": f"P{j}",
            "value_date": D0 + timedelta(days=draw(st.integers(0, 260))),
            "amount": 1,
            "currency": "USD",
        }
        for j in range(n_pay)
    ]
    allocations = []
    for _ in range(draw(st.integers(0, 16))) if n_pay else []:
        inv = draw(st.sampled_from(invoices))
        allocations.append(
            {
                "payment_id": f"P{draw(st.integers(0, n_pay - 1))}",
                "invoice_id": inv["invoice_id"],
                "applied_amount": draw(st.integers(0, 60_000)),
                "adjustment_amount": draw(st.sampled_from([0, 0, 50, 1_000])),
                "adjustment_reason": draw(
                    st.sampled_from(
                        ["", "DEDUCTION:PRICING", "deduction:x", "BANK_FEE", "WRITE_OFF"]
                    )
                ),
                "invoice_open_after": 0,
                "confidence": 1.0,
                "rule": "t",
                "currency": inv["currency"],
            }
        )
    adjustments = []
    for _ in range(draw(st.integers(0, 4))):
        inv = draw(st.sampled_from(invoices))
        adjustments.append(
            {
                "invoice_id": inv["invoice_id"],
                "date": D0 + timedelta(days=draw(st.integers(0, 260))),
                "amount": draw(st.integers(-500, 50_000)),
                "reason": draw(st.sampled_from(["WRITE_OFF", "CREDIT_NOTE", "DEDUCTION:DAMAGED"])),
                "currency": inv["currency"],
            }
        )
    promises = []
    for _ in range(draw(st.integers(0, 4))):
        inv = draw(st.sampled_from(invoices))
        made = D0 + timedelta(days=draw(st.integers(0, 240)))
        on_invoice = draw(st.booleans())
        promises.append(
            {
                "customer_id": inv["customer_id"],
                "invoice_id": inv["invoice_id"] if on_invoice else None,
                "amount": draw(st.integers(1, 60_000)),
                "currency": inv["currency"],
                "promised_date": made + timedelta(days=draw(st.integers(0, 20))),
                "made_on": made if draw(st.booleans()) else None,
            }
        )
    return {
        "invoices": pa.Table.from_pylist(invoices, schema=S.INVOICES),
        "payments": pa.Table.from_pylist(payments, schema=S.PAYMENTS),
        "allocations": pa.Table.from_pylist(allocations, schema=S.ALLOCATIONS),
        "adjustments": pa.Table.from_pylist(adjustments, schema=S.ADJUSTMENTS),
        "promises": pa.Table.from_pylist(promises, schema=S.PROMISES),
    }


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(h=ledgers(), as_of_day=st.integers(0, 280), period=st.sampled_from([1, 7, 30, 90]))
def test_engine_equals_reference_on_random_ledgers(h, as_of_day: int, period: int) -> None:  # noqa: ANN001
    res, ref = run_both(h, D0 + timedelta(days=as_of_day), period)
    assert_same(res, ref)


# ---------------------------------------------------------------- hand-checked


def _tables(invoices, payments=(), allocations=(), adjustments=()):  # noqa: ANN001, ANN202
    return {
        "invoices": pa.Table.from_pylist(list(invoices), schema=S.INVOICES),
        "payments": pa.Table.from_pylist(list(payments), schema=S.PAYMENTS),
        "allocations": pa.Table.from_pylist(list(allocations), schema=S.ALLOCATIONS),
        "adjustments": pa.Table.from_pylist(list(adjustments), schema=S.ADJUSTMENTS),
    }


def test_hand_checked_metrics() -> None:
    """Two invoices, one paid late, one written off: every figure worked out by hand."""
    A = date(2026, 3, 31)
    t = _tables(
        invoices=[
            # issued in the period, paid 10 days late
            {
                "invoice_id": "A",
                "customer_id": "C",
                "amount": 100_00,
                "currency": "USD",
                "issue_date": date(2026, 2, 1),
                "due_date": date(2026, 3, 3),
            },
            # issued before the period, still open 60 days past due at A
            {
                "invoice_id": "B",
                "customer_id": "C",
                "amount": 50_00,
                "currency": "USD",
                "issue_date": date(2025, 12, 31),
                "due_date": date(2026, 1, 30),
            },
            # issued in the period, not yet due; 20.00 written off
            {
                "invoice_id": "X",
                "customer_id": "D",
                "amount": 200_00,
                "currency": "USD",
                "issue_date": date(2026, 3, 20),
                "due_date": date(2026, 4, 19),
            },
        ],
        payments=[
            {
                "payment_id": "P",
                "value_date": date(2026, 3, 13),
                "amount": 100_00,
                "currency": "USD",
            }
        ],
        allocations=[
            {
                "payment_id": "P",
                "invoice_id": "A",
                "applied_amount": 95_00,
                "adjustment_amount": 5_00,
                "adjustment_reason": "DEDUCTION:PRICING",
                "invoice_open_after": 0,
                "confidence": 1.0,
                "rule": "t",
                "currency": "USD",
            }
        ],
        adjustments=[
            {
                "invoice_id": "X",
                "date": date(2026, 3, 25),
                "amount": 20_00,
                "reason": "WRITE_OFF",
                "currency": "USD",
            }
        ],
    )
    r = receivables(**t, as_of=A, period_days=90)
    m = r.metrics.to_pylist()[0]
    # AR(A) = 0 + 50 + 180 = 230.00; AR(A-90 = 2025-12-31) = B (50.00, issued that day)
    assert (m["ar"], m["ar_start"], m["sales"], m["current_ar"]) == (230_00, 50_00, 300_00, 180_00)
    assert m["dso"] == pytest.approx(230 / 300 * 90)
    assert m["best_possible_dso"] == pytest.approx(180 / 300 * 90)
    assert m["add"] == pytest.approx(50 / 300 * 90)
    assert m["cei"] == pytest.approx((50 + 300 - 230) / (50 + 300 - 180) * 100)
    assert m["turnover"] == pytest.approx(300 / ((50 + 230) / 2))
    assert m["bad_debt_ratio"] == pytest.approx(20 / 300)
    aging = {(x["customer_id"]): x for x in r.aging.to_pylist()}
    assert aging["C"]["61_90"] == 0 and aging["C"]["31_60"] == 50_00  # 60 days past due
    assert aging["D"]["current"] == 180_00
    acc = {x["customer_id"]: x for x in r.accounts.to_pylist()}
    c = acc["C"]
    # A: settled 2026-03-13, 41 days after issue, 10 beyond terms, weight 100.00;
    # B: open and 60 days past due at A, weight 50.00 -> late by at least 60
    assert c["avg_days_to_pay"] == pytest.approx((100 * 40 + 50 * 90) / 150)
    assert c["avg_days_beyond_terms"] == pytest.approx((100 * 10 + 50 * 60) / 150)
    assert (c["deductions"], c["deduction_amount"]) == (1, 5_00)
    assert (c["open"], c["overdue"]) == (50_00, 50_00)


def test_no_sales_gives_undefined_ratios_not_errors() -> None:
    t = _tables(
        invoices=[
            {
                "invoice_id": "A",
                "customer_id": "C",
                "amount": 100,
                "currency": "EUR",
                "issue_date": date(2025, 1, 1),
                "due_date": date(2025, 1, 31),
            }
        ]
    )
    r = receivables(**t, as_of=date(2026, 1, 1), period_days=30)
    m = r.metrics.to_pylist()[0]
    assert m["sales"] == 0 and m["dso"] is None and m["bad_debt_ratio"] is None
    assert m["ar"] == 100 and r.aging.to_pylist()[0]["90_plus"] == 100


def test_unknown_references_are_reported_not_fatal() -> None:
    t = _tables(
        invoices=[
            {
                "invoice_id": "A",
                "customer_id": "C",
                "amount": 100,
                "currency": "USD",
                "issue_date": date(2026, 1, 1),
                "due_date": None,
            },
            {
                "invoice_id": "A",
                "customer_id": "C",
                "amount": 7,
                "currency": "USD",
                "issue_date": date(2026, 1, 1),
                "due_date": None,
            },
        ],
        payments=[
            {"payment_id": "P", "value_date": date(2026, 1, 5), "amount": 10, "currency": "USD"}
        ],
        allocations=[
            {
                "payment_id": "P",
                "invoice_id": "A",
                "applied_amount": 10,
                "adjustment_amount": 0,
                "invoice_open_after": 90,
                "confidence": 1.0,
                "rule": "t",
                "currency": "USD",
            },
            {
                "payment_id": "NOPE",
                "invoice_id": "A",
                "applied_amount": 10,
                "adjustment_amount": 0,
                "invoice_open_after": 80,
                "confidence": 1.0,
                "rule": "t",
                "currency": "USD",
            },
            {
                "payment_id": "P",
                "invoice_id": "GHOST",
                "applied_amount": 10,
                "adjustment_amount": 0,
                "invoice_open_after": 80,
                "confidence": 1.0,
                "rule": "t",
                "currency": "USD",
            },
            {  # in another currency than its invoice: left out
                "payment_id": "P",
                "invoice_id": "A",
                "applied_amount": 5,
                "adjustment_amount": 0,
                "invoice_open_after": 75,
                "confidence": 1.0,
                "rule": "t",
                "currency": "EUR",
            },
            {  # no currency given: taken as the invoice's
                "payment_id": "P",
                "invoice_id": "A",
                "applied_amount": 3,
                "adjustment_amount": 0,
                "invoice_open_after": 87,
                "confidence": 1.0,
                "rule": "t",
                "currency": None,
            },
        ],
    )
    r = receivables(**t, as_of=date(2026, 2, 1))
    text = " | ".join(str(p) for p in r.problems)
    assert "repeat an invoice_id" in text and "NOPE" in text and "GHOST" in text
    assert "1 rows are in another currency than their invoice" in text
    assert r.metrics.to_pylist()[0]["ar"] == 87


def test_open_items_for_one_account() -> None:
    g = generate_history(n_customers=10, n_invoices=300, seed=4)
    led = build_ledger(
        invoices=g.invoices,
        payments=g.payments,
        allocations=g.allocations,
        adjustments=g.adjustments,
    )
    items = open_items(led, as_of=g.as_of, account=0)
    res = analyse(led, as_of=g.as_of)
    first = res.accounts.to_pylist()[0]
    assert sum(items.column("open").to_pylist()) == first["open"]


def test_risk_model_is_validated() -> None:
    with pytest.raises(PolicyError):
        RiskModel.from_mapping(
            {
                "receivables": {
                    "signals": [
                        {
                            "name": "x",
                            "metric": "no_such_metric",
                            "fires_at": 1,
                            "full_at": 2,
                            "weight": 10,
                            "reason": "r",
                        }
                    ]
                }
            }
        )
    with pytest.raises(PolicyError):
        RiskModel.from_mapping({"receivables": {"at_risk_score": 101}})
    model = RiskModel.default()
    assert model.signals and all(s.weight >= 0 for s in model.signals)


def test_settlement_is_judged_at_the_end_of_the_day() -> None:
    """Paid in full and re-opened by a negative adjustment the same day: not settled."""
    t = _tables(
        invoices=[
            {
                "invoice_id": "A",
                "customer_id": "C",
                "amount": 100_00,
                "currency": "USD",
                "issue_date": date(2026, 1, 1),
                "due_date": date(2026, 1, 31),
            }
        ],
        payments=[
            {
                "payment_id": "P",
                "value_date": date(2026, 2, 10),
                "amount": 100_00,
                "currency": "USD",
            }
        ],
        allocations=[
            {
                "payment_id": "P",
                "invoice_id": "A",
                "applied_amount": 100_00,
                "adjustment_amount": 0,
                "invoice_open_after": 0,
                "confidence": 1.0,
                "rule": "t",
                "currency": "USD",
            }
        ],
        adjustments=[
            {
                "invoice_id": "A",
                "date": date(2026, 2, 10),
                "amount": -30_00,
                "reason": "REVERSAL",
                "currency": "USD",
            }
        ],
    )
    led = build_ledger(**t)
    assert led.settled[0] == led.settled.max()  # never settled
    r = analyse(led, as_of=date(2026, 3, 2), period_days=90)
    acc = r.accounts.to_pylist()[0]
    # still open (30.00) and 30 days past due at as-of: late by 30, not "paid 10 days late"
    assert acc["open"] == 30_00 and acc["avg_days_beyond_terms"] == pytest.approx(30)
