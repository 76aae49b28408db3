"""A slow, obviously-correct reference of the receivables analytics (plain Python, exact).

Straight from the contract's definitions (``spec/interchange.md``, "Receivables analytics")
and the module docstring of :mod:`cashmatch.engine.receivables`: loops over invoices and
events, dicts, :class:`fractions.Fraction` for every ratio. The differential tests compare the
fast engine with this, to the minor unit and to 4 decimals.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from fractions import Fraction

import pyarrow as pa

BUCKETS = ("current", "1_30", "31_60", "61_90", "90_plus")
EPOCH = date(1970, 1, 1)


def _d(x: date | None) -> int | None:
    return None if x is None else (x - EPOCH).days


def bucket(dpd: int) -> str:
    if dpd <= 0:
        return "current"
    if dpd <= 30:
        return "1_30"
    if dpd <= 60:
        return "31_60"
    if dpd <= 90:
        return "61_90"
    return "90_plus"


def reference(
    *,
    invoices: pa.Table,
    payments: pa.Table,
    allocations: pa.Table,
    adjustments: pa.Table | None,
    promises: pa.Table | None,
    as_of: date,
    period_days: int,
    grace: int = 3,
) -> dict:
    A = _d(as_of)
    P = period_days
    lo, lo_prev = A - P + 1, A - 2 * P + 1

    inv = {}
    for r in invoices.to_pylist():
        if r["issue_date"] is None or r["invoice_id"] in inv:
            continue
        issue = _d(r["issue_date"])
        due = _d(r["due_date"]) if r["due_date"] is not None else issue
        inv[r["invoice_id"]] = {
            "cust": r["customer_id"],
            "cur": r["currency"],
            "amount": r["amount"],
            "issue": issue,
            "due": due,
        }
    pay_day = {p["payment_id"]: _d(p["value_date"]) for p in payments.to_pylist()}
    # events: (invoice, day, total, cash, adj, reason)
    events = []
    for a in allocations.to_pylist():
        if a["payment_id"] not in pay_day or a["invoice_id"] not in inv:
            continue
        if a["currency"] is not None and a["currency"] != inv[a["invoice_id"]]["cur"]:
            continue
        cash, adj = a["applied_amount"] or 0, a["adjustment_amount"] or 0
        events.append(
            (
                a["invoice_id"],
                pay_day[a["payment_id"]],
                cash + adj,
                cash,
                adj,
                a["adjustment_reason"] or None,
            )
        )
    for a in adjustments.to_pylist() if adjustments is not None else []:
        if a["invoice_id"] not in inv:
            continue
        events.append(
            (a["invoice_id"], _d(a["date"]), a["amount"], 0, a["amount"], a["reason"] or None)
        )
    by_inv = defaultdict(list)
    for e in events:
        by_inv[e[0]].append(e)

    def reduced(i: str, until: int, since: int | None = None) -> int:
        return sum(e[2] for e in by_inv[i] if e[1] <= until and (since is None or e[1] >= since))

    def open_at(i: str, t: int) -> int:
        x = inv[i]
        return x["amount"] - reduced(i, t) if x["issue"] <= t else 0

    def settled(i: str) -> int | None:
        x = inv[i]
        if x["amount"] <= 0:
            return None
        for d in sorted({e[1] for e in by_inv[i]}):
            if x["amount"] - reduced(i, d) <= 0:
                return d
        return None

    settle = {i: settled(i) for i in inv}

    # ---- aging and accounts
    aging = defaultdict(lambda: dict.fromkeys(BUCKETS, 0))
    accounts = {}
    for i, x in inv.items():
        if x["issue"] > A:
            continue
        key = (x["cust"], x["cur"])
        accounts.setdefault(key, None)
        o = open_at(i, A)
        if o != 0:
            aging[key][bucket(A - x["due"])] += o

    def behaviour(key: tuple, blo: int, bhi: int) -> tuple[Fraction | None, Fraction | None]:
        w = dtp = dbt = 0
        for i, x in inv.items():
            if (x["cust"], x["cur"]) != key or x["amount"] <= 0:
                continue
            s = settle[i]
            if s is not None and blo <= s <= bhi:
                w += x["amount"]
                dtp += x["amount"] * (s - x["issue"])
                dbt += x["amount"] * (s - x["due"])
            elif x["issue"] <= bhi and (s is None or s > bhi) and x["due"] < bhi:
                o = open_at(i, bhi)
                if o > 0:
                    w += o
                    dtp += o * (bhi - x["issue"])
                    dbt += o * (bhi - x["due"])
        if w == 0:
            return None, None
        return Fraction(dtp, w), Fraction(dbt, w)

    def is_ded(e: tuple) -> bool:
        return e[5] is not None and e[5].upper().startswith("DEDUCTION") and e[4] != 0

    prom = promises.to_pylist() if promises is not None else []
    acc_rows = {}
    for key in sorted(accounts):
        cells = aging.get(key, dict.fromkeys(BUCKETS, 0))
        total = sum(cells.values())
        dtp, dbt = behaviour(key, lo, A)
        _, pdbt = behaviour(key, lo_prev, A - P)
        ded = [e for e in events if (inv[e[0]]["cust"], inv[e[0]]["cur"]) == key and is_ded(e)]
        now = [e for e in ded if lo <= e[1] <= A]
        before = [e for e in ded if lo_prev <= e[1] < lo]
        kept = broken = 0
        for p in prom:
            if p["invoice_id"] is not None:
                if p["invoice_id"] not in inv:
                    continue
                pkey = (inv[p["invoice_id"]]["cust"], inv[p["invoice_id"]]["cur"])
            else:
                pkey = (p["customer_id"], p["currency"])
            if pkey != key:
                continue
            pd = _d(p["promised_date"])
            made = _d(p["made_on"]) if p["made_on"] is not None else -(1 << 30)
            deadline = pd + grace
            if not (lo <= pd <= A and deadline <= A and made <= A):
                continue
            if p["invoice_id"] is not None:
                i = p["invoice_id"]
                got = reduced(i, deadline, since=made)
                ok = got >= p["amount"] or inv[i]["amount"] - reduced(i, deadline) <= 0
            else:
                got = sum(
                    e[3]
                    for e in events
                    if (inv[e[0]]["cust"], inv[e[0]]["cur"]) == key and made <= e[1] <= deadline
                )
                ok = got >= p["amount"]
            kept += ok
            broken += not ok
        acc_rows[key] = {
            "open": total,
            "overdue": total - cells["current"],
            "over_60": cells["61_90"] + cells["90_plus"],
            "avg_days_to_pay": dtp,
            "avg_days_beyond_terms": dbt,
            "prev_avg_days_beyond_terms": pdbt,
            "deductions": len(now),
            "deduction_amount": sum(e[4] for e in now),
            "prev_deductions": len(before),
            "promises_kept": kept,
            "promises_broken": broken,
        }

    # ---- metrics per currency
    metrics = {}
    for cur in sorted({x["cur"] for x in inv.values()}):
        ids = [i for i, x in inv.items() if x["cur"] == cur]
        ar = sum(open_at(i, A) for i in ids)
        ar0 = sum(open_at(i, A - P) for i in ids)
        sales = sum(inv[i]["amount"] for i in ids if lo <= inv[i]["issue"] <= A)
        cur_ar = sum(open_at(i, A) for i in ids if inv[i]["issue"] <= A and A - inv[i]["due"] <= 0)
        wo = sum(
            e[4]
            for e in events
            if inv[e[0]]["cur"] == cur and e[5] == "WRITE_OFF" and lo <= e[1] <= A
        )

        def ratio(n: int, d: int | Fraction, scale: int = 1) -> Fraction | None:
            return None if d == 0 else Fraction(n) / Fraction(d) * scale

        dso = ratio(ar, sales, P)
        best = ratio(cur_ar, sales, P)
        metrics[cur] = {
            "ar": ar,
            "current_ar": cur_ar,
            "sales": sales,
            "dso": dso,
            "best_possible_dso": best,
            "add": None if dso is None else dso - best,
            "cei": ratio(ar0 + sales - ar, ar0 + sales - cur_ar, 100),
            "turnover": ratio(sales, Fraction(ar0 + ar, 2)),
            "bad_debt_ratio": ratio(wo, sales),
            "overdue": ar - cur_ar,
            "ar_start": ar0,
            "write_offs": wo,
        }
    aging_rows = {k: {**v, "total": sum(v.values())} for k, v in aging.items()}
    return {"aging": aging_rows, "metrics": metrics, "accounts": acc_rows}
