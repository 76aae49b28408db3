"""Page models: what the templates show, built from the service's answers.

Every function here is synchronous (it calls the service and the store, which are) and runs in
the web app's thread pool, never on the event loop shared with gRPC.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote, urlencode

from cashmatch.engine import schema as S
from cashmatch.engine.money import exponent, format_minor
from cashmatch.server.web import evidence as ev
from cashmatch.server.web import queries as Q

QUEUE_FILTERS = ("reason", "customer_id", "currency", "min_amount", "max_amount", "older_than_days")
QUEUE_KEYS = (*QUEUE_FILTERS, "sort", "page_size")
ALL_REASONS = (
    S.UNKNOWN_PAYER,
    S.AMBIGUOUS,
    S.NO_CANDIDATE,
    S.LOW_CONFIDENCE,
    S.SHORT_PAY,
    S.OVERPAYMENT,
    S.CURRENCY_MISMATCH,
    S.DUPLICATE,
)
REASON_HELP = {
    S.UNKNOWN_PAYER: "the engine could not tell who paid",
    S.AMBIGUOUS: "several invoices fit equally well",
    S.NO_CANDIDATE: "no open invoice fits",
    S.LOW_CONFIDENCE: "a likely match, below the auto-apply threshold",
    S.SHORT_PAY: "less than the invoice(s), beyond fee and discount tolerances",
    S.OVERPAYMENT: "more than the open invoice(s)",
    S.CURRENCY_MISMATCH: "the payment's currency differs from the invoices'",
    S.DUPLICATE: "looks like a payment already received",
}
SORTS = (
    ("age", "Oldest first"),
    ("-age", "Newest first"),
    ("-amount", "Largest amount"),
    ("amount", "Smallest amount"),
    ("reason", "Reason"),
    ("customer_id", "Customer"),
    ("payment_id", "Payment id"),
)
PAGE_SIZES = (25, 50, 100, 200)
ACTIONS = (
    ("APPLY", "Apply", "a", "action-apply"),
    ("ON_ACCOUNT", "On account", "o", "action-on-account"),
    ("REFUND", "Refund", "r", "action-refund"),
    ("WRITE_OFF", "Write off", "w", "action-write-off"),
)
ADJUSTMENT_REASONS = (
    (S.BANK_FEE, "bank fee"),
    (S.DISCOUNT, "early-payment discount"),
    (S.DEDUCTION, "deduction"),
    ("SMALL_BALANCE", "small balance write-off"),
)
MAX_OPEN_ITEMS = 300
MAX_FOUND = 50


# --------------------------------------------------------------------------- formatting


def money(minor: int | None, currency: str) -> str:
    """``123456789, 'EUR'`` -> ``'1,234,567.89'`` (grouped; exact); ``None`` -> ``''``."""
    return "" if minor is None else ev.grouped(minor, currency)


def when(iso: str | None) -> str:
    """ISO 8601 UTC -> ``2026-11-23 16:40:12 UTC``."""
    if not iso:
        return ""
    try:
        dt = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%d %H:%M:%S UTC")


def age_days(value_date: str | date | None, today: date) -> int | None:
    if not value_date:
        return None
    try:
        d = value_date if isinstance(value_date, date) else date.fromisoformat(str(value_date))
    except ValueError:
        return None
    return (today - d).days


def pct(score: float | None) -> tuple[float, str]:
    if score is None:
        return 0.0, "–"
    s = float(score)
    if s > 1.0:  # a 0..100 score
        s /= 100.0
    s = min(max(s, 0.0), 1.0)
    return s, f"{s * 100:.0f}%"


def item_href(payment_id: str, queue: Mapping[str, str] | None = None) -> str:
    href = "/exceptions/" + quote(payment_id, safe="")
    q = {k: v for k, v in (queue or {}).items() if v}
    return href + ("?" + urlencode(q) if q else "")


def queue_href(queue: Mapping[str, str], **changes: str | None) -> str:
    q = {k: v for k, v in queue.items() if v}
    for k, v in changes.items():
        if v:
            q[k] = v
        else:
            q.pop(k, None)
    return "/exceptions" + ("?" + urlencode(q) if q else "")


def queue_params(query: Mapping[str, str]) -> dict[str, str]:
    """The queue's filters, sort and page size as given (trimmed strings)."""
    return {k: (query.get(k) or "").strip() for k in QUEUE_KEYS}


def list_kwargs(q: Mapping[str, str]) -> dict[str, Any]:
    """Queue parameters -> ``LedgerService.list_exceptions`` keyword arguments (validation of
    the values is the service's)."""
    from cashmatch.engine.errors import InvalidInput

    older: int | None = None
    if q.get("older_than_days"):
        try:
            older = int(q["older_than_days"])
        except ValueError:
            raise InvalidInput(
                f"older_than_days: expected a whole number of days, got {q['older_than_days']!r}"
            ) from None
    reason = (q.get("reason") or "").upper() or None
    return {
        "reason": reason,
        "customer_id": q.get("customer_id") or None,
        "currency": q.get("currency") or None,
        "min_amount": q.get("min_amount") or None,
        "max_amount": q.get("max_amount") or None,
        "older_than_days": older,
        "sort": q.get("sort") or "age",
    }


def page_size(q: Mapping[str, str]) -> int:
    try:
        n = int(q.get("page_size") or 50)
    except ValueError:
        return 50
    return min(max(n, 1), max(PAGE_SIZES))


# --------------------------------------------------------------------------- queue


def queue_rows(items: list[Any], *, today: date, queue: Mapping[str, str]) -> list[dict[str, Any]]:
    carry = {k: queue[k] for k in QUEUE_KEYS if queue.get(k)}
    rows = []
    for rec in items:
        best = rec.candidates[0] if rec.candidates else None
        score = rec.candidate_scores[0] if rec.candidate_scores else None
        rows.append(
            {
                "payment_id": rec.payment_id,
                "href": item_href(rec.payment_id, carry),
                "age_days": age_days(rec.value_date, today),
                "value_date": rec.value_date or "",
                "payer_name": rec.payer_name or "",
                "reference": rec.reference or "",
                "amount": money(rec.unapplied_amount, rec.currency),
                "currency": rec.currency,
                "reason": rec.reason,
                "customer_id": rec.customer_id,
                "best": best,
                "best_pct": pct(score)[1] if best else "",
                "more": max(len(rec.candidates) - 1, 0),
            }
        )
    return rows


# --------------------------------------------------------------------------- item


@dataclass(slots=True)
class DecisionForm:
    """What the reviewer submitted (kept to re-show the form after a refusal)."""

    action: str = ""
    customer_id: str = ""
    remember: bool = False
    note: str = ""
    lines: list[tuple[str, str, str, str]] = field(default_factory=list)  # id, amount, adj, why


def _open_item(r: dict[str, Any], currency: str, lines: dict[str, tuple[str, str, str]]):
    inv_id = r["invoice_id"]
    line = lines.get(inv_id)
    due = r.get("due_date")
    return {
        "invoice_id": inv_id,
        "customer_id": r.get("customer_id") or "",
        "customer_name": r.get("customer_name") or "",
        "open": money(r["amount"], currency),
        "open_plain": format_minor(r["amount"], currency),
        "open_minor": r["amount"],
        "due_date": due.isoformat() if isinstance(due, date) else (due or ""),
        "po_number": r.get("po_number") or "",
        "discount_bp": r.get("discount_bp"),
        "is_open": True,
        "selected": line is not None,
        "prefill": line[0] if line else "",
        "adjustment": line[1] if line else "0",
        "adjustment_reason": line[2] if line else "",
        "search": " ".join(
            str(x)
            for x in (
                inv_id,
                r.get("po_number") or "",
                r.get("customer_name") or "",
                format_minor(r["amount"], currency),
                due or "",
            )
        ).casefold(),
    }


def item_model(
    service: Any,
    payment_id: str,
    *,
    today: date,
    find: str = "",
    form: DecisionForm | None = None,
) -> dict[str, Any]:
    """Everything the item page shows. Raises ``NotFound`` for an unknown payment."""
    view = service.get_payment(payment_id)
    pay = view.payment
    exc = view.exception
    currency = pay["currency"]
    form = form or DecisionForm()
    lines = {i: (a, adj, why) for i, a, adj, why in form.lines}

    cand_ids = list(exc.candidates) if exc else []
    scores = list(exc.candidate_scores) if exc else []
    wanted = list(dict.fromkeys(cand_ids + list(lines)))
    by_id = {r["invoice_id"]: r for r in Q.open_invoices_by_id(service, wanted)}
    gone = [i for i in cand_ids if i not in by_id]
    closed = service.store.invoice_states(gone) if gone else {}

    target = (exc.customer_id if exc else None) or pay.get("customer_id")
    confirmed = target is not None
    if target is None:
        for i in cand_ids:
            if i in by_id:
                target = by_id[i]["customer_id"]
                break
            if i in closed:
                target = closed[i]["customer_id"]
                break
    cust_ids = (
        {target}
        | {r["customer_id"] for r in by_id.values()}
        | {s["customer_id"] for s in closed.values()}
    )
    cust_ids.discard(None)
    cust = Q.customers_by_id(service, sorted(cust_ids))

    # the payment, its remittance lines
    reference = pay.get("reference") or ""
    tokens = ev.reference_tokens(reference)
    remit = view.remittances.to_pylist()
    remit_by_key: dict[str, list[dict[str, Any]]] = {}
    for r in remit:
        remit_by_key.setdefault(ev.canonical(r["invoice_ref"]), []).append(r)
    paid = exc.unapplied_amount if exc else pay["amount"]

    # candidates with their evidence
    open_amounts = {i: by_id[i]["amount"] for i in cand_ids if i in by_id}
    together = ev.combination_evidence(paid, open_amounts)
    fee = service.policy.fee_ceiling(currency)
    spans: list[tuple[int, int, str]] = []
    candidates = []
    cutoff = service.policy.fuzzy_reference_cutoff
    for rank, inv_id in enumerate(cand_ids):
        score = scores[rank] if rank < len(scores) else None
        conf, conf_text = pct(score)
        r = by_id.get(inv_id)
        if r is not None:
            item = _open_item(r, currency, lines)
        else:
            st = closed.get(inv_id, {})
            item = {
                "invoice_id": inv_id,
                "customer_id": st.get("customer_id") or "",
                "customer_name": st.get("customer_name") or "",
                "open": "",
                "open_plain": "0",
                "due_date": "",
                "po_number": "",
                "is_open": False,
                "selected": False,
                "prefill": "",
                "adjustment": "0",
                "adjustment_reason": "",
                "discount_bp": None,
            }
        items: list[tuple[str, str]] = []
        taken = ev.exact_hits(tokens, [i for i in cand_ids if i != inv_id])
        ref_items, ref_spans = ev.reference_evidence(
            tokens, inv_id, item["po_number"] or None, taken=taken, cutoff=cutoff
        )
        items += ref_items
        spans += [(a, b, inv_id) for a, b in ref_spans]
        for line in remit_by_key.get(ev.canonical(inv_id), []):
            items.append(
                (f"remittance advice pays {money(line['paid_amount'], currency)}", ev.STRONG)
            )
        if r is not None:
            if inv_id in together:
                others = ", ".join(together[inv_id])
                items.append((f"with {others} settles the payment exactly", ev.STRONG))
            else:
                items += ev.amount_evidence(
                    paid=paid,
                    open_amount=r["amount"],
                    currency=currency,
                    fee_ceiling=fee,
                    discount_bp=r.get("discount_bp"),
                )
        else:
            items.append(("no longer open", ev.AGAINST))
        c = cust.get(item["customer_id"]) or {}
        items += ev.name_evidence(
            payer_name=pay.get("payer_name"),
            payer_account=pay.get("payer_account"),
            customer_name=c.get("name") or item["customer_name"] or None,
            accounts=c.get("accounts") or [],
            aliases=c.get("aliases") or [],
        )
        if not items:
            items.append(("the engine's own scoring (no visible evidence)", ev.INFO))
        item.update(confidence=conf, pct=conf_text, evidence=items)
        candidates.append(item)

    # the customer's other open items, or the invoices a search found
    open_items: list[dict[str, Any]] = []
    truncated = False
    if find:
        found, truncated = Q.find_open_invoices(
            service, text=find, currency=currency, exclude=cand_ids, limit=MAX_FOUND
        )
        open_items = [_open_item(r, currency, lines) for r in found]
    elif target is not None:
        mine, truncated = Q.customer_open_invoices(
            service,
            customer_id=target,
            currency=currency,
            exclude=cand_ids,
            limit=MAX_OPEN_ITEMS,
        )
        open_items = [_open_item(r, currency, lines) for r in mine]
    # no identified customer: whose name resembles the payer's? (a lead for the search)
    lookalikes: list[dict[str, Any]] = []
    if target is None and not find and pay.get("payer_name"):
        lookalikes = Q.customers_like(service, pay["payer_name"], limit=3)
    shown = {c["invoice_id"] for c in candidates} | {o["invoice_id"] for o in open_items}
    for inv_id in lines:  # invoices the reviewer chose from a search: keep them on the page
        if inv_id not in shown and inv_id in by_id:
            open_items.insert(0, _open_item(by_id[inv_id], currency, lines))

    value_date = pay.get("value_date")
    p = {
        "payment_id": pay["payment_id"],
        "payer_name": pay.get("payer_name") or "",
        "payer_account": pay.get("payer_account") or "",
        "reference_parts": ev.mark_spans(reference, spans),
        "amount": money(pay["amount"], currency),
        "amount_plain": format_minor(paid, currency),
        "currency": currency,
        "value_date": value_date.isoformat() if isinstance(value_date, date) else value_date,
        "end_to_end_id": pay.get("end_to_end_id") or "",
        "bank_code": pay.get("bank_code") or "",
        "direction": pay.get("direction") or "",
        "reversal": bool(pay.get("reversal")),
        "statement_id": pay.get("statement_id") or "",
        "source": pay.get("source") or "",
        "source_line": pay.get("source_line"),
        "status": view.status,
        "customer_id": pay.get("customer_id") or "",
    }
    exc_model = None
    if exc is not None:
        exc_model = {
            "reason": exc.reason,
            "detail": exc.detail,
            "status": exc.status,
            "unapplied": money(exc.unapplied_amount, currency),
            "created_at": when(exc.created_at),
            "age_days": age_days(exc.value_date or p["value_date"], today),
            "resolved_by": exc.resolved_by,
            "resolved_at": when(exc.resolved_at),
            "resolution": exc.resolution,
            "note": exc.note,
        }
    allocations = [
        {
            "invoice_id": a["invoice_id"],
            "applied": money(a["applied_amount"], currency),
            "adjustment": money(a["adjustment_amount"], currency),
            "adjustment_reason": a.get("adjustment_reason"),
            "rule": a["rule"],
            "created_by": a.get("created_by"),
            "created_at": when(a.get("created_at")),
        }
        for a in view.allocations.to_pylist()
    ]
    customer = None
    if target is not None:
        customer = {
            "customer_id": target,
            "name": (cust.get(target) or {}).get("name"),
            "confirmed": confirmed,
        }
    return {
        "p": p,
        "exc": exc_model,
        "reason_help": REASON_HELP.get(exc.reason, "") if exc else "",
        "remittances": [
            {
                "invoice_ref": r["invoice_ref"],
                "paid": money(r["paid_amount"], currency),
                "discount": money(r.get("discount_amount"), currency),
                "deduction": money(r.get("deduction_amount"), currency),
                "reason_code": r.get("reason_code"),
            }
            for r in remit
        ],
        "candidates": candidates,
        "open_items": open_items,
        "open_truncated": truncated,
        "lookalikes": lookalikes,
        "customer": customer,
        "find": find,
        "allocations": allocations,
        "exponent": exponent(currency),
        "actions": ACTIONS,
        "adjustment_reasons": ADJUSTMENT_REASONS,
        "form": {
            "action": form.action,
            "customer_id": form.customer_id or (target if confirmed else "") or "",
            "remember": form.remember,
            "note": form.note,
        },
    }


def payment_model(service: Any, payment_id: str) -> dict[str, Any]:
    view = service.get_payment(payment_id)
    pay = view.payment
    currency = pay["currency"]
    vd = pay.get("value_date")
    return {
        "p": {
            "payment_id": pay["payment_id"],
            "payer_name": pay.get("payer_name") or "",
            "payer_account": pay.get("payer_account") or "",
            "reference": pay.get("reference") or "",
            "amount": money(pay["amount"], currency),
            "currency": currency,
            "value_date": vd.isoformat() if isinstance(vd, date) else vd,
            "status": view.status,
            "customer_id": pay.get("customer_id") or "",
            "unapplied": money(view.unapplied_amount, currency),
        },
        "exc": view.exception,
        "allocations": [
            {
                "invoice_id": a["invoice_id"],
                "applied": money(a["applied_amount"], currency),
                "adjustment": money(a["adjustment_amount"], currency),
                "adjustment_reason": a.get("adjustment_reason") or "",
                "open_after": money(a["invoice_open_after"], currency),
                "rule": a["rule"],
                "confidence": pct(a["confidence"])[1],
                "created_by": a.get("created_by") or "",
                "created_at": when(a.get("created_at")),
            }
            for a in view.allocations.to_pylist()
        ],
        "audit": [
            {
                "at": when(e.at),
                "actor": e.actor,
                "action": e.action,
                "detail": ", ".join(
                    f"{k}: {v}" for k, v in sorted(e.detail.items()) if v not in (None, "", [])
                ),
            }
            for e in view.audit
        ],
        "when": when,
    }


def decision_message(view: Any, *, reviewer: str, action: str) -> str:
    pay = view.payment
    cur = pay["currency"]
    exc = view.exception
    at = when(exc.resolved_at) if exc is not None else ""
    if action == "APPLY":
        rows = view.allocations.to_pylist()
        mine = [a for a in rows if a.get("rule") == "reviewer"] or rows
        parts = ", ".join(f"{a['invoice_id']} ({money(a['applied_amount'], cur)})" for a in mine)
        total = sum(a["applied_amount"] for a in mine)
        msg = f"Applied {money(total, cur)} {cur} to {parts}"
        rest = view.unapplied_amount
        if rest:
            msg += f"; {money(rest, cur)} {cur} held on account"
    elif action == "ON_ACCOUNT":
        msg = f"Put {money(pay['amount'], cur)} {cur} on account of {pay.get('customer_id')}"
    elif action == "REFUND":
        msg = f"Marked {money(pay['amount'], cur)} {cur} for refund"
    else:
        msg = f"Wrote off {money(pay['amount'], cur)} {cur}"
    return f"{msg} — by {reviewer} at {at}."
