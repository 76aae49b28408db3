"""Reads the page needs that the service does not offer yet (additive; no decision here).

``exception_after``: the open exception that follows a payment in the queue's order under the
queue's filters — what "Next item" opens. One keyset query on the store's queue index instead
of paging through ``list_exceptions`` (which pays two counts per page). If the service grows
``list_exceptions(..., after_payment_id=...)`` this file goes away.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from cashmatch.server.service import _decimal_e4  # the service's one amount-filter parser
from cashmatch.server.store import SORTS, ExceptionQuery


def queue_query(
    *,
    reason: str | None = None,
    customer_id: str | None = None,
    currency: str | None = None,
    min_amount: str | None = None,
    max_amount: str | None = None,
    older_than_days: int | None = None,
    today: date | None = None,
) -> ExceptionQuery:
    """The store query of the open queue under these filters (as ``list_exceptions`` builds
    it)."""
    before = None
    if older_than_days is not None:
        before = ((today or datetime.now(UTC).date()) - timedelta(days=older_than_days)).isoformat()
    return ExceptionQuery(
        status="open",
        reason=reason or None,
        customer_id=customer_id or None,
        currency=(currency or "").upper() or None,
        min_amount_e4=_decimal_e4(min_amount, "min_amount"),
        max_amount_e4=_decimal_e4(max_amount, "max_amount"),
        value_date_before=before,
    )


def exception_after(
    service: Any, *, payment_id: str, sort: str = "age", **filters: Any
) -> str | None:
    """The payment id of the open exception after ``payment_id`` in the queue (``sort`` order,
    ``filters`` as for ``list_exceptions``); the first other one when ``payment_id`` is the
    last; ``None`` when the queue holds nothing else."""
    if sort not in SORTS:
        sort = "age"
    store = service.store
    query = queue_query(**filters)
    current = store.exception_of(payment_id)
    if current is not None:
        after = (store.sort_value(current, sort), payment_id)
        nxt = store.query_exceptions(query, sort=sort, after=after, limit=1)
        if nxt:
            return nxt[0].payment_id
    first = store.query_exceptions(query, sort=sort, after=None, limit=2)
    return next((r.payment_id for r in first if r.payment_id != payment_id), None)


# --------------------------------------------------------------------------- ledger reads
#
# The item page needs a few invoices and customers, not the whole ledger (``service.ledger()``
# re-reads every open invoice after each write, ~170 ms for 20k invoices, and every decision is
# a write): invoices come from ``service.open_items``; customers by id from here (wanted in the
# Store interface: ``customers(customer_ids=)``).


_BY_ID_SQL = (
    # "+closed": SQLite then looks the ids up by primary key instead of walking the
    # (closed, customer_id) index over every open invoice (~40 ms at 20k open invoices)
    "SELECT invoice_id, customer_id, customer_name, open_amount, currency, issue_date,"
    " due_date, po_number, discount_bp, discount_days FROM invoices"
    " WHERE +closed = 0 AND open_amount > 0"
    " AND invoice_id IN (SELECT value FROM json_each(?)) ORDER BY invoice_id"
)
_INVOICE_KEYS = (
    "invoice_id",
    "customer_id",
    "customer_name",
    "amount",
    "currency",
    "issue_date",
    "due_date",
    "po_number",
    "discount_bp",
    "discount_days",
)


def open_invoices_by_id(service: Any, invoice_ids: list[str]) -> list[dict[str, Any]]:
    """The open ones among ``invoice_ids`` (``service.open_items(invoice_ids=...)``, by primary
    key on SQLite until that query is planned that way too)."""
    if not invoice_ids:
        return []
    store = _sqlite(service)
    if store is None:
        ids = list(invoice_ids)
        return service.open_items(invoice_ids=ids, limit=len(ids)).to_pylist()
    import json

    rows = store._conn().execute(_BY_ID_SQL, (json.dumps(list(invoice_ids)),)).fetchall()
    return [dict(zip(_INVOICE_KEYS, r, strict=True)) for r in rows]


def customer_open_invoices(
    service: Any, *, customer_id: str, currency: str, exclude: list[str], limit: int
) -> tuple[list[dict[str, Any]], bool]:
    """A customer's open invoices in ``currency`` (oldest due first), without ``exclude``;
    and whether there were more than ``limit``."""
    table = service.open_items(customer_id=customer_id, limit=limit + len(exclude) + 1)
    skip = set(exclude)
    rows = [
        r for r in table.to_pylist() if r["currency"] == currency and r["invoice_id"] not in skip
    ]
    more = len(rows) > limit or table.num_rows > limit + len(exclude)
    rows = sorted(
        rows[:limit], key=lambda r: (r["due_date"] is None, r["due_date"] or 0, r["invoice_id"])
    )
    return rows, more


def find_open_invoices(
    service: Any, *, text: str, currency: str, exclude: list[str], limit: int
) -> tuple[list[dict[str, Any]], bool]:
    """Open invoices in ``currency`` whose id or PO contains ``text`` (case-insensitive), and
    the open invoices of a customer whose id is ``text``."""
    skip = set(exclude)
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    more = False
    for kwargs in ({"customer_id": text}, {"search": text}):
        table = service.open_items(limit=limit + len(exclude) + 1, **kwargs)
        more |= table.num_rows > limit + len(exclude)
        for r in table.to_pylist():
            if r["currency"] == currency and r["invoice_id"] not in skip | seen:
                seen.add(r["invoice_id"])
                rows.append(r)
    return rows[:limit], more or len(rows) > limit


def _sqlite(service: Any) -> Any:
    from cashmatch.server.store import SQLiteStore

    return service.store if isinstance(service.store, SQLiteStore) else None


def customers_by_id(service: Any, customer_ids: list[str]) -> dict[str, dict[str, Any]]:
    """``{customer_id: {name, accounts, aliases}}`` for a few customers."""
    if not customer_ids:
        return {}
    store = _sqlite(service)
    if store is None:
        import pyarrow.compute as pc

        _, cust = service.ledger()
        rows = cust.filter(pc.is_in(cust.column("customer_id"), value_set=_arr(customer_ids)))
        return {r["customer_id"]: r for r in rows.to_pylist()}
    import json

    conn = store._conn()
    ids = json.dumps(sorted(set(customer_ids)))
    out: dict[str, dict[str, Any]] = {
        cid: {"customer_id": cid, "name": name, "accounts": [], "aliases": []}
        for cid, name in conn.execute(
            "SELECT customer_id, name FROM customers"
            " WHERE customer_id IN (SELECT value FROM json_each(?))",
            (ids,),
        )
    }
    for table, col, key in (
        ("customer_accounts", "account", "accounts"),
        ("customer_aliases", "alias", "aliases"),
    ):
        for value, cid in conn.execute(
            f"SELECT DISTINCT {col}, customer_id FROM {table}"
            " WHERE customer_id IN (SELECT value FROM json_each(?))",
            (ids,),
        ):
            if cid in out:
                out[cid][key].append(value)
    return out


def _arr(values: list[str]) -> Any:
    import pyarrow as pa

    return pa.array(values, pa.string())


def customers_like(service: Any, payer_name: str, *, limit: int = 3) -> list[dict[str, Any]]:
    """Customers whose name or alias resembles ``payer_name`` (rapidfuzz token-set ratio >= 70),
    best first: ``[{customer_id, name, score}]``. For a payer the engine could not identify."""
    from rapidfuzz import fuzz, process

    customers = service.store.customers()
    if customers.num_rows == 0:
        return []
    ids = customers.column("customer_id").to_pylist()
    names = customers.column("name").to_pylist()
    found = process.extract(
        payer_name.casefold(),
        [n.casefold() for n in names],
        scorer=fuzz.token_set_ratio,
        limit=limit,
        score_cutoff=70,
    )
    return [
        {"customer_id": ids[i], "name": names[i], "score": round(score)} for _, score, i in found
    ]
