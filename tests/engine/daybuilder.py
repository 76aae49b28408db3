"""Tiny helpers to write days by hand in tests."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from cashmatch.engine import schema as S

DAY = dt.date(2026, 11, 20)


def invoices(rows: list[tuple]) -> pa.Table:
    """rows: (invoice_id, customer_id, amount_minor[, currency[, customer_name]])"""
    cols = {"invoice_id": [], "customer_id": [], "amount": [], "currency": [],
            "customer_name": [], "due_date": []}
    for r in rows:
        cols["invoice_id"].append(r[0])
        cols["customer_id"].append(r[1])
        cols["amount"].append(r[2])
        cols["currency"].append(r[3] if len(r) > 3 else "USD")
        cols["customer_name"].append(r[4] if len(r) > 4 else None)
        cols["due_date"].append(DAY - dt.timedelta(days=len(cols["due_date"]) % 40))
    return S.conform(pa.table(cols), S.INVOICES)


def payments(rows: list[tuple]) -> pa.Table:
    """rows: (payment_id, amount_minor, payer_name, reference[, payer_account[, currency]])"""
    cols = {"payment_id": [], "value_date": [], "amount": [], "currency": [], "payer_name": [],
            "reference": [], "payer_account": []}
    for r in rows:
        cols["payment_id"].append(r[0])
        cols["value_date"].append(DAY)
        cols["amount"].append(r[1])
        cols["payer_name"].append(r[2])
        cols["reference"].append(r[3])
        cols["payer_account"].append(r[4] if len(r) > 4 else None)
        cols["currency"].append(r[5] if len(r) > 5 else "USD")
    return S.conform(pa.table(cols), S.PAYMENTS)


def customers(rows: list[tuple]) -> pa.Table:
    """rows: (customer_id, name, accounts list, aliases list, parent_id)"""
    return S.conform(pa.table({
        "customer_id": [r[0] for r in rows], "name": [r[1] for r in rows],
        "accounts": [r[2] for r in rows], "aliases": [r[3] for r in rows],
        "parent_id": [r[4] for r in rows],
    }), S.CUSTOMERS)


def outcome(result) -> dict[str, tuple]:
    """payment_id -> ('applied', sorted invoice ids) or ('exception', reason)."""
    out: dict[str, tuple] = {}
    ex = {r["payment_id"]: r["reason"] for r in result.exceptions.to_pylist()}
    for r in result.allocations.to_pylist():
        out.setdefault(r["payment_id"], ("applied", []))[1].append(r["invoice_id"])
    for pid, reason in ex.items():
        if pid in out:
            out[pid] = ("partial", sorted(out[pid][1]), reason)
        else:
            out[pid] = ("exception", reason)
    return {k: (v[0], sorted(v[1]), *v[2:]) if v[0] == "applied" else v for k, v in out.items()}
