"""proto <-> Arrow at the service boundary.

Amounts arrive as decimal strings and become int64 minor units with the vectorised converters
of :mod:`cashmatch.engine.money`; a malformed value is an ``InvalidInput`` naming the field and
the index of the message (``payments[3].amount``). Nothing here decides anything.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cashmatch.engine import schema as S
from cashmatch.engine.errors import InvalidInput, RowProblem
from cashmatch.engine.money import (
    exponents_of,
    format_minor,
    format_minor_array,
    parse_minor_array,
    parse_plain_minor,
    to_minor,
)
from cashmatch.engine.normalize import string_parts
from cashmatch.engine.policy import Policy
from cashmatch.engine.result import MatchResult, Summary
from cashmatch.server import wire
from cashmatch.server.pb import cash_application_pb2 as pb
from cashmatch.server.store import AuditEntry, ExceptionRecord

_MAX_ERRORS = 5
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
SMALL_BATCH = 256  # rows below which scalar exact conversion beats the vectorised one


def _raise(errors: list[str]) -> None:
    if errors:
        more = f" (and {len(errors) - _MAX_ERRORS} more)" if len(errors) > _MAX_ERRORS else ""
        raise InvalidInput("; ".join(errors[:_MAX_ERRORS]) + more)


def _fields(msgs: Sequence[Any], names: Sequence[str]) -> dict[str, pa.Array]:
    """String fields of proto messages as Arrow columns, whitespace trimmed, empty = absent
    (null): read from the messages' wire format at once (:func:`wire.string_fields`), for all
    the fields together (slices of one array)."""
    return _slices(_flat(msgs, names), names)


def _flat(msgs: Sequence[Any], names: Sequence[str]) -> pa.Array:
    """The fields ``names`` of the messages, one field's after another's."""
    if len(msgs) == 0:
        return pa.array([], pa.string())
    by_name = msgs[0].DESCRIPTOR.fields_by_name
    return wire.string_fields(msgs, [by_name[name].number for name in names], trim=True)


def _slices(flat: pa.Array, names: Sequence[str]) -> dict[str, pa.Array]:
    n = len(flat) // len(names)
    return {name: flat.slice(k * n, n) for k, name in enumerate(names)}


def _converted(msgs: Sequence[Any], names: Sequence[str], kinds: dict[str, int],
               required: Sequence[str]) -> tuple[dict[str, pa.Array], bool]:  # fmt: skip
    """The fields as :func:`_fields` reads them and whether those of the ``kinds``
    (``wire.CURRENCY``, ``MONEY`` in the row's currency, ``DATE``, ``DIRECTION``) are
    converted too: in one compiled pass (:func:`wire.plain_columns`) when every value is
    plain and none of ``required`` is absent, into the columns the careful converters make
    of such values, at a fraction of their fixed cost (most of a small Match's conversion).
    When not, the careful converters decide, and name what is wrong."""
    flat = _flat(msgs, names)
    f = _slices(flat, names)
    if not len(msgs) or any(f[name].null_count for name in required):
        return f, False
    plain = wire.plain_columns(flat, [kinds.get(name, wire.TEXT) for name in names])
    if plain is None:
        return f, False
    upper, money, days, null = plain
    n = len(msgs)
    for name, kind in kinds.items():
        k = names.index(name)
        if kind == wire.MONEY:
            f[name] = pa.array(money[k], pa.int64(), mask=null[k] if f[name].null_count else None)
        elif kind == wire.DATE:
            f[name] = pa.array(days[k], pa.date32(), mask=null[k] if f[name].null_count else None)
        else:
            f[name] = upper.slice(k * n, n)
    return f, True


def _required(arr: pa.Array, what: str, name: str, errors: list[str]) -> None:
    if arr.null_count == 0:
        return
    for i in np.flatnonzero(np.asarray(arr.is_null(), dtype=bool))[: _MAX_ERRORS + 1]:
        errors.append(f"{what}[{i}].{name}: required")


def _exponents(currency: pa.Array) -> np.ndarray | None:
    """Per row, the exponent of its currency (each distinct code looked up once); None when
    a row has none or an unusable one (its amount's own conversion then says which)."""
    exps = exponents_of(currency)
    return None if (exps < 0).any() else exps.astype(np.int64)


def _money(
    text: pa.Array,
    currency: pa.Array,
    exps: np.ndarray | None,
    what: str,
    name: str,
    errors: list[str],
    *,
    required: bool,
) -> pa.Array:
    """Amounts in minor units of ``currency`` (``exps``: :func:`_exponents` of it, computed
    once for all of a message's amounts)."""
    missing = (
        np.asarray(text.is_null(), dtype=bool) if text.null_count else np.zeros(len(text), bool)
    )
    if required:
        _required(text, what, name, errors)
    if len(text) <= SMALL_BATCH:
        return _money_small(text, currency, exps, missing, what, name, errors)
    minor, errs = parse_minor_array(text, currency)
    bad = np.not_equal(errs, None) & ~missing
    for i in np.flatnonzero(bad)[: _MAX_ERRORS + 1]:
        errors.append(f"{what}[{i}].{name}: {errs[i]} (got {text[i].as_py()!r})")
    return pa.array(minor, pa.int64(), mask=missing)


def _money_small(
    text: pa.Array,
    currency: pa.Array,
    exps: np.ndarray | None,
    missing: np.ndarray,
    what: str,
    name: str,
    errors: list[str],
) -> pa.Array:
    """The same exact conversion for a few rows (the vectorised one has ~1 ms of fixed cost,
    most of a 100-payment Match): plain texts (``-1234.5``) of known currencies in one pass
    (:func:`parse_plain_minor`, compiled in a served process), else row by row."""
    if missing.all():  # an optional column nobody filled
        return pa.array(np.zeros(len(text), np.int64), pa.int64(), mask=missing)
    if exps is not None and (out := parse_plain_minor(text, exps)) is not None:
        return pa.array(out, pa.int64(), mask=missing)
    codes = currency.to_pylist()
    out = np.zeros(len(text), dtype=np.int64)
    for i, (value, cur) in enumerate(zip(text.to_pylist(), codes, strict=True)):
        if missing[i]:
            continue
        try:
            minor = to_minor(value, cur or "")
            if not _INT64_MIN <= minor <= _INT64_MAX:  # (was an OverflowError: INTERNAL)
                raise InvalidInput(f"amount {value!r} too large")
            out[i] = minor
        except InvalidInput as exc:
            errors.append(f"{what}[{i}].{name}: {exc}")
    return pa.array(out, pa.int64(), mask=missing)


def _dates(text: pa.Array, what: str, name: str, errors: list[str]) -> pa.Array:
    if (dates := wire.iso_dates(text)) is not None:  # (every one a plain YYYY-MM-DD)
        return dates
    parsed = pc.strptime(text, format="%Y-%m-%d", unit="s", error_is_null=True)
    if parsed.null_count == text.null_count:  # (strptime keeps nulls: no text failed)
        return pc.cast(parsed, pa.date32())
    bad = np.asarray(parsed.is_null(), dtype=bool) & ~np.asarray(text.is_null(), dtype=bool)
    for i in np.flatnonzero(bad)[: _MAX_ERRORS + 1]:
        errors.append(f"{what}[{i}].{name}: expected a date YYYY-MM-DD, got {text[i].as_py()!r}")
    return pc.cast(parsed, pa.date32())


_A_TO_Z = np.zeros(256, bool)
_A_TO_Z[ord("A") : ord("Z") + 1] = True
_DIRECTIONS = np.frombuffer(b"CRDTDBIT", np.uint8).reshape(2, 1, 4)


def _codes_ok(codes: pa.Array, width: int, accept: Callable[[np.ndarray], np.ndarray]
              ) -> np.ndarray:  # fmt: skip
    """Per row: null, or ``width`` bytes that ``accept`` takes ((rows, width) bytes -> rows),
    over the data buffer (Arrow compiles a regular expression, or hashes a value set, on every
    call)."""
    offsets, raw = string_parts(codes)
    ok = np.diff(offsets) == width
    ok[ok] = accept(raw[offsets[:-1][ok, None] + np.arange(width)])
    if codes.null_count:
        ok |= np.asarray(codes.is_null(), bool)
    return ok


def _three_letters(codes: pa.Array) -> np.ndarray:
    """Per row: null, or ``^[A-Z]{3}$`` (three bytes A-Z; any other character is another byte
    or more)."""
    return _codes_ok(codes, 3, lambda b: _A_TO_Z[b].all(axis=1))


def _direction(codes: pa.Array) -> np.ndarray:
    """Per row: null, ``CRDT`` or ``DBIT``."""
    return _codes_ok(codes, 4, lambda b: (b == _DIRECTIONS).all(axis=2).any(axis=0))


def _currency(text: pa.Array, what: str, errors: list[str], *, required: bool) -> pa.Array:
    codes = wire.upper_codes(text, 3)  # (every one three letters: nothing more to check)
    cur = pc.utf8_upper(text) if codes is None else codes
    if required:
        _required(cur, what, "currency", errors)
    if codes is not None:
        return cur
    for i in np.flatnonzero(~_three_letters(cur))[: _MAX_ERRORS + 1]:
        errors.append(
            f"{what}[{i}].currency: expected an ISO 4217 code, got {text[i].as_py()!r}"
        )
    return cur


# --------------------------------------------------------------------------- requests

# the string fields of each request message, converted together (_fields)
_INVOICE_FIELDS = ("invoice_id", "customer_id", "customer_name", "amount", "currency",
                   "issue_date", "due_date", "po_number", "discount_pct")  # fmt: skip
_PAYMENT_FIELDS = ("payment_id", "value_date", "amount", "currency", "payer_name",
                   "payer_account", "reference", "end_to_end_id", "direction", "bank_code",
                   "statement_id")  # fmt: skip
_REMITTANCE_FIELDS = ("payment_id", "end_to_end_id", "invoice_ref", "paid_amount",
                      "discount_amount", "deduction_amount", "reason_code", "currency")  # fmt: skip
# the fields converted, and those required, of plain requests (_converted)
_PAYMENT_KINDS = {"value_date": wire.DATE, "amount": wire.MONEY, "currency": wire.CURRENCY,
                  "direction": wire.DIRECTION}  # fmt: skip
_PAYMENT_REQUIRED = ("payment_id", "value_date", "amount")
_REMITTANCE_KINDS = {"paid_amount": wire.MONEY, "discount_amount": wire.MONEY,
                     "deduction_amount": wire.MONEY, "currency": wire.CURRENCY}  # fmt: skip
_REMITTANCE_REQUIRED = ("invoice_ref", "paid_amount")


def invoices_from_proto(
    msgs: Sequence[pb.Invoice], what: str = "invoices"
) -> tuple[pa.Table, np.ndarray]:
    errors: list[str] = []
    f = _fields(msgs, _INVOICE_FIELDS)
    _required(f["invoice_id"], what, "invoice_id", errors)
    _required(f["customer_id"], what, "customer_id", errors)
    cur = _currency(f["currency"], what, errors, required=True)
    amount = _money(f["amount"], cur, _exponents(cur), what, "amount", errors, required=True)
    disc = _money(
        f["discount_pct"],
        pa.array(["USD"] * len(msgs), pa.string()),
        np.full(len(msgs), 2, np.int64),
        what,
        "discount_pct",
        errors,
        required=False,
    )
    issue = _dates(f["issue_date"], what, "issue_date", errors)
    due = _dates(f["due_date"], what, "due_date", errors)
    _raise(errors)
    table = pa.Table.from_arrays(
        [
            f["invoice_id"],
            f["customer_id"],
            f["customer_name"],
            amount,
            cur,
            issue,
            due,
            f["po_number"],
            pc.cast(disc, pa.int32()),
            pa.array([m.discount_days or None for m in msgs], pa.int32()),
        ],
        schema=S.INVOICES,
    )
    return table, np.array([m.closed for m in msgs], dtype=bool)


def customers_from_proto(msgs: Sequence[pb.Customer], what: str = "customers") -> pa.Table:
    errors: list[str] = []
    f = _fields(msgs, ("customer_id", "name", "parent_id"))
    _required(f["customer_id"], what, "customer_id", errors)
    _required(f["name"], what, "name", errors)
    _raise(errors)
    return pa.Table.from_arrays(
        [
            f["customer_id"],
            f["name"],
            pa.array([[a for a in m.accounts if a.strip()] for m in msgs], pa.list_(pa.string())),
            pa.array([[a for a in m.aliases if a.strip()] for m in msgs], pa.list_(pa.string())),
            f["parent_id"],
        ],
        schema=S.CUSTOMERS,
    )


def payments_from_proto(msgs: Sequence[pb.Payment], what: str = "payments") -> pa.Table:
    f, plain = _converted(msgs, _PAYMENT_FIELDS, _PAYMENT_KINDS, _PAYMENT_REQUIRED)
    if not plain:
        errors: list[str] = []
        _required(f["payment_id"], what, "payment_id", errors)
        f["currency"] = cur = _currency(f["currency"], what, errors, required=True)
        f["amount"] = _money(f["amount"], cur, _exponents(cur), what, "amount", errors,
                             required=True)  # fmt: skip
        value_date = f["value_date"]
        f["value_date"] = _dates(value_date, what, "value_date", errors)
        _required(value_date, what, "value_date", errors)
        f["direction"] = direction = pc.utf8_upper(f["direction"])
        if direction.null_count < len(direction):  # (an API batch often leaves it out)
            for i in np.flatnonzero(~_direction(direction))[:_MAX_ERRORS]:
                errors.append(f"{what}[{i}].direction: expected CRDT or DBIT")
        _raise(errors)
    n = len(msgs)
    return pa.Table.from_arrays(
        [
            f["payment_id"],
            f["value_date"],
            f["amount"],
            f["currency"],
            f["payer_name"],
            f["payer_account"],
            f["reference"],
            f["end_to_end_id"],
            f["direction"],
            pa.nulls(n, pa.bool_()),
            f["bank_code"],
            f["statement_id"],
            pa.nulls(n, pa.string()),
            pa.nulls(n, pa.int32()),
        ],
        schema=S.PAYMENTS,
    )


def remittances_from_proto(
    msgs: Sequence[pb.RemittanceLine], payments: pa.Table, what: str = "remittances"
) -> pa.Table | None:
    if not msgs:
        return None
    errors: list[str] = []
    f, plain = _converted(msgs, _REMITTANCE_FIELDS, _REMITTANCE_KINDS, _REMITTANCE_REQUIRED)
    pid, e2e = f["payment_id"], f["end_to_end_id"]
    if pid.null_count and e2e.null_count:
        unlinked = np.asarray(pc.and_(pid.is_null(), e2e.is_null()), dtype=bool)
        for i in np.flatnonzero(unlinked)[:_MAX_ERRORS]:
            errors.append(f"{what}[{i}].payment_id: payment_id or end_to_end_id required")
    if not plain:
        _remittance_values(f, payments, what, errors)
    _raise(errors)
    n = len(msgs)
    return pa.Table.from_arrays(
        [
            pid,
            e2e,
            f["invoice_ref"],
            f["paid_amount"],
            f["discount_amount"],
            f["deduction_amount"],
            f["reason_code"],
            f["currency"],
            pa.nulls(n, pa.string()),
            pa.nulls(n, pa.int32()),
        ],
        schema=S.REMITTANCES,
    )


def _remittance_values(f: dict[str, pa.Array], payments: pa.Table, what: str,
                       errors: list[str]) -> None:  # fmt: skip
    """A request's remittance lines' currencies and amounts converted by the careful
    converters, into ``f`` (errors into ``errors``)."""
    pid, e2e = f["payment_id"], f["end_to_end_id"]
    _required(f["invoice_ref"], what, "invoice_ref", errors)
    cur = _currency(f["currency"], what, errors, required=False)
    if cur.null_count:  # a line without a currency: its payment's
        by_pid = pc.take(payments.column("currency"),
                         pc.index_in(pid, payments.column("payment_id")))
        by_e2e = pc.take(
            payments.column("currency"), pc.index_in(e2e, payments.column("end_to_end_id"))
        )
        cur = pc.coalesce(
            cur,
            by_pid.combine_chunks() if isinstance(by_pid, pa.ChunkedArray) else by_pid,
            by_e2e.combine_chunks() if isinstance(by_e2e, pa.ChunkedArray) else by_e2e,
        )
    exps = _exponents(cur)
    f["currency"] = cur
    for name in ("paid_amount", "discount_amount", "deduction_amount"):
        f[name] = _money(f[name], cur, exps, what, name, errors, required=name == "paid_amount")


def policy_from_proto(msg: pb.Policy) -> Policy | None:
    data: dict[str, Any] = {}
    for name in (
        "auto_apply_threshold",
        "fuzzy_reference_cutoff",
        "payer_name_cutoff",
        "discount_grace_days",
        "allow_discounts",
        "max_subset_size",
        "subset_time_limit_s",
        "max_days_before_issue",
    ):
        if msg.HasField(name):
            data[name] = getattr(msg, name)
    if msg.bank_fee_max:
        data["bank_fee_max"] = dict(msg.bank_fee_max)
    if msg.auto_apply_rules:
        data["auto_apply_rules"] = list(msg.auto_apply_rules)
    if not data:
        return None
    return Policy.from_mapping(data, source="policy")


# --------------------------------------------------------------------------- responses


def _s(v: Any) -> str:
    return "" if v is None else str(v)


def _strs(col: pa.ChunkedArray | pa.Array) -> list[str]:
    if pa.types.is_date(col.type):
        col = pc.strftime(col, format="%Y-%m-%d")
    return [_s(v) for v in col.to_pylist()]


# Allocation's fields by number (proto/cashmatch/v1/cash_application.proto)
_ALLOCATION_STRINGS = {"payment_id": 1, "invoice_id": 2, "adjustment_reason": 5, "rule": 8,
                       "currency": 9, "created_by": 10, "created_at": 11}  # fmt: skip
_ALLOCATION_MONEY = {"applied_amount": 3, "adjustment_amount": 4, "invoice_open_after": 6}


def allocations_wire(table: pa.Table) -> bytes:
    """The allocations as field 1 of a message (``MatchResponse.allocations`` and the like), in
    wire format, written from the columns at once (:mod:`wire`): with the parse back, ~4x
    cheaper than building the messages field by field."""
    names = set(table.column_names)
    strings = {k: f for k, f in _ALLOCATION_STRINGS.items() if k in names}
    return wire.repeated(table, strings, _ALLOCATION_MONEY, "currency", ("confidence", 7))


def allocations_to_proto(table: pa.Table) -> Sequence[pb.Allocation]:
    if table.num_rows == 0:
        return []
    return pb.MatchResponse.FromString(allocations_wire(table)).allocations


# PaymentException's fields of a match result, by number
_EXCEPTION_STRINGS = {"payment_id": 1, "reason": 2, "detail": 5, "currency": 6, "customer_id": 8}
WIRE_EXCEPTIONS = 48  # rows from which writing the wire format beats building the messages


def exceptions_wire(table: pa.Table, field: int = 1) -> bytes:
    """A match result's exceptions as the repeated field ``field`` of a message
    (``ListExceptionsResponse.exceptions``, ``MatchResponse.exceptions``: 2), in wire format
    written from the columns at once (:mod:`wire`)."""
    return wire.repeated(table, _EXCEPTION_STRINGS, {"unapplied_amount": 3}, "currency", None,
                         {"candidates": 4}, ("candidate_scores", 7), field=field)  # fmt: skip


def exceptions_to_proto(table: pa.Table) -> Sequence[pb.PaymentException]:
    """A match result's exceptions as messages: from :data:`WIRE_EXCEPTIONS` rows written from
    the columns at once (:func:`exceptions_wire`) and parsed back, as the allocations (~4 us a
    message less; its fixed cost, ~0.15 ms, is more than a few messages built field by
    field)."""
    if table.num_rows == 0:
        return []
    if table.num_rows >= WIRE_EXCEPTIONS:
        return pb.ListExceptionsResponse.FromString(exceptions_wire(table)).exceptions
    cur = table.column("currency")
    cols = {
        "payment_id": _strs(table.column("payment_id")),
        "reason": _strs(table.column("reason")),
        "unapplied_amount": _money_strs(table, "unapplied_amount"),
        "candidates": [c or [] for c in table.column("candidates").to_pylist()],
        "detail": _strs(table.column("detail")),
        "currency": _strs(cur),
        "candidate_scores": [c or [] for c in table.column("candidate_scores").to_pylist()],
        "customer_id": _strs(table.column("customer_id")),
    }
    names = list(cols)
    return [
        pb.PaymentException(**dict(zip(names, row, strict=True)))
        for row in zip(*cols.values(), strict=True)
    ]


def exception_record_to_proto(rec: ExceptionRecord) -> pb.PaymentException:
    cur = rec.currency
    return pb.PaymentException(
        payment_id=rec.payment_id,
        reason=rec.reason,
        unapplied_amount=format_minor(rec.unapplied_amount, cur),
        candidates=rec.candidates,
        detail=_s(rec.detail),
        currency=cur,
        candidate_scores=rec.candidate_scores,
        customer_id=_s(rec.customer_id),
        status=rec.status,
        created_at=rec.created_at,
        resolved_by=_s(rec.resolved_by),
        resolved_at=_s(rec.resolved_at),
        resolution=_s(rec.resolution),
        note=_s(rec.note),
        value_date=_s(rec.value_date),
        payer_name=_s(rec.payer_name),
        payer_account=_s(rec.payer_account),
        reference=_s(rec.reference),
        payment_amount="" if rec.amount is None else format_minor(rec.amount, cur),
    )


def _amounts(d: dict[str, int]) -> list[pb.CurrencyAmount]:
    return [pb.CurrencyAmount(currency=c, amount=format_minor(v, c)) for c, v in sorted(d.items())]


def summary_to_proto(s: Summary) -> pb.Summary:
    return pb.Summary(
        payments=s.payments,
        auto_applied=s.auto_applied,
        auto_applied_pct=s.auto_applied_pct,
        exceptions_by_reason=s.exceptions_by_reason,
        received=_amounts(s.amount_by_currency),
        applied=_amounts(s.applied_by_currency),
        unapplied=_amounts(s.unapplied_by_currency),
    )


def match_response(result: MatchResult) -> bytes:
    """A match result as the response's wire format: its allocations and exceptions written
    from the columns (:mod:`wire`, fields 1 and 2, whatever the rows), then its summary's
    message (field 3), as protobuf orders them. What gRPC sends as it is (the servicer's
    ``Match`` returns it): no message to build from them, nor to serialise again."""
    return (allocations_wire(result.allocations) + exceptions_wire(result.exceptions, field=2)
            + pb.MatchResponse(summary=summary_to_proto(result.summary)).SerializeToString())


def problems_to_proto(problems: Sequence[RowProblem]) -> list[pb.Problem]:
    return [
        pb.Problem(source=p.source, line=p.line or 0, column=p.column or "", reason=p.reason)
        for p in problems
    ]


def payment_statuses_to_proto(table: pa.Table) -> list[pb.PaymentStatus]:
    if table.num_rows == 0:
        return []
    cols = {
        "payment_id": _strs(table.column("payment_id")),
        "status": _strs(table.column("status")),
        "amount": _money_strs(table, "amount"),
        "currency": _strs(table.column("currency")),
        "value_date": _strs(table.column("value_date")),
        "payer_name": _strs(table.column("payer_name")),
        "first_statement_id": _strs(table.column("first_statement_id")),
    }
    names = list(cols)
    return [
        pb.PaymentStatus(**dict(zip(names, row, strict=True)))
        for row in zip(*cols.values(), strict=True)
    ]


def payment_to_proto(p: dict[str, Any]) -> pb.Payment:
    cur = p["currency"]
    return pb.Payment(
        payment_id=p["payment_id"],
        value_date=_s(p["value_date"]),
        amount=format_minor(p["amount"], cur),
        currency=cur,
        payer_name=_s(p.get("payer_name")),
        payer_account=_s(p.get("payer_account")),
        reference=_s(p.get("reference")),
        end_to_end_id=_s(p.get("end_to_end_id")),
        direction=_s(p.get("direction")),
        bank_code=_s(p.get("bank_code")),
        statement_id=_s(p.get("statement_id")),
    )


def remittances_to_proto(table: pa.Table) -> list[pb.RemittanceLine]:
    out = []
    for r in table.to_pylist():
        cur = r["currency"] or "USD"

        def amt(v: int | None, cur: str = cur) -> str:
            return "" if v is None else format_minor(v, cur)

        out.append(
            pb.RemittanceLine(
                payment_id=_s(r["payment_id"]),
                end_to_end_id=_s(r["end_to_end_id"]),
                invoice_ref=r["invoice_ref"],
                paid_amount=amt(r["paid_amount"]),
                discount_amount=amt(r["discount_amount"]),
                deduction_amount=amt(r["deduction_amount"]),
                reason_code=_s(r["reason_code"]),
                currency=_s(r["currency"]),
            )
        )
    return out


def audit_to_proto(entries: Sequence[AuditEntry]) -> list[pb.AuditEntry]:
    return [
        pb.AuditEntry(
            seq=e.seq,
            at=e.at,
            actor=e.actor,
            action=e.action,
            entity=e.entity,
            entity_id=e.entity_id,
            detail_json=json.dumps(e.detail, sort_keys=True),
        )
        for e in entries
    ]


def payment_detail_to_proto(view: Any) -> pb.PaymentDetail:
    cur = view.payment["currency"]
    return pb.PaymentDetail(
        payment=payment_to_proto(view.payment),
        status=view.status,
        allocations=allocations_to_proto(view.allocations),
        exception=exception_record_to_proto(view.exception) if view.exception else None,
        remittances=remittances_to_proto(view.remittances),
        audit=audit_to_proto(view.audit),
        unapplied_amount=format_minor(view.unapplied_amount, cur),
        customer_id=_s(view.payment.get("customer_id")),
    )


# --------------------------------------------------------------------------- receivables


def as_of_from_proto(text: str, name: str = "as_of") -> date | None:
    """``YYYY-MM-DD`` or empty (today); anything else is ``InvalidInput`` naming the field."""
    if not text:
        return None
    try:
        return date.fromisoformat(text) if len(text) == 10 else _bad_date(text, name)
    except ValueError:
        return _bad_date(text, name)


def _bad_date(text: str, name: str) -> date:
    raise InvalidInput(f"{name}: expected a date YYYY-MM-DD, got {text!r}")


def top_from_proto(value: int, name: str = "top_at_risk") -> int:
    if value < 0 or value > 1000:
        raise InvalidInput(f"{name}: must be 0..1000 (0: the default 10), got {value}")
    return value or 10


def period_from_proto(value: int, name: str = "period_days") -> int:
    if value < 0:
        raise InvalidInput(f"{name}: must be positive (0: the default 90), got {value}")
    return value or 90


def _ratios(col: pa.ChunkedArray | pa.Array) -> list[str]:
    """Ratios and day averages as the CSV writes them (4 decimals, empty when undefined), so
    a client reads the digits of ``metrics.csv``."""
    from cashmatch.engine.interchange import _ratio_text

    return _strs(_ratio_text(col))


def _money_strs(table: pa.Table, name: str) -> list[str]:
    """A minor-units column as decimal strings in its rows' currency. A few rows are formatted
    one by one: the vectorised formatter's fixed cost (~0.2 ms a column) would dominate."""
    values, cur = table.column(name), table.column("currency")
    if table.num_rows > SMALL_BATCH:
        return _strs(format_minor_array(values, cur))
    return [
        "" if v is None else format_minor(v, c)
        for v, c in zip(values.to_pylist(), cur.to_pylist(), strict=True)
    ]


_BUCKET_FIELDS = dict(
    zip(
        S.AGING_BUCKETS,
        ("current", "days_1_30", "days_31_60", "days_61_90", "days_90_plus"),
        strict=True,
    )
)


def aging_totals(aging: pa.Table) -> pa.Table:
    """aging.csv rows summed per currency (exact int64), with the number of accounts."""
    money = [*S.AGING_BUCKETS, "total"]
    grouped = aging.group_by("currency").aggregate(
        [(m, "sum") for m in money] + [("customer_id", "count")]
    )
    grouped = grouped.rename_columns(
        [
            c.removesuffix("_sum").replace("customer_id_count", "accounts")
            for c in grouped.column_names
        ]
    )
    return grouped.sort_by("currency")


def aging_to_proto(aging: pa.Table, accounts: list[int] | None = None) -> list[pb.AgingTotals]:
    if aging.num_rows == 0:
        return []
    cols = {_BUCKET_FIELDS.get(m, m): _money_strs(aging, m) for m in (*S.AGING_BUCKETS, "total")}
    counts = accounts if accounts is not None else aging.column("accounts").to_pylist()
    return [
        pb.AgingTotals(
            currency=c, accounts=int(k), **{name: vals[i] for name, vals in cols.items()}
        )
        for i, (c, k) in enumerate(zip(aging.column("currency").to_pylist(), counts, strict=True))
    ]


_METRIC_MONEY = ("ar", "current_ar", "sales", "overdue", "ar_start", "write_offs")
_METRIC_RATIOS = ("dso", "best_possible_dso", "add", "cei", "turnover", "bad_debt_ratio")


def metrics_to_proto(metrics: pa.Table) -> list[pb.ReceivablesMetrics]:
    if metrics.num_rows == 0:
        return []
    cols = {m: _money_strs(metrics, m) for m in _METRIC_MONEY}
    cols |= {r: _ratios(metrics.column(r)) for r in _METRIC_RATIOS}
    return [
        pb.ReceivablesMetrics(currency=c, **{k: v[i] for k, v in cols.items()})
        for i, c in enumerate(metrics.column("currency").to_pylist())
    ]


def deductions_to_proto(table: pa.Table) -> list[pb.DeductionsByReason]:
    if table.num_rows == 0:
        return []
    amount, prev = _money_strs(table, "amount"), _money_strs(table, "prev_amount")
    return [
        pb.DeductionsByReason(
            currency=r["currency"],
            reason=r["reason"],
            count=r["count"],
            amount=amount[i],
            prev_count=r["prev_count"],
            prev_amount=prev[i],
        )
        for i, r in enumerate(table.to_pylist())
    ]


def receivables_to_proto(result: Any, *, top: int = 10) -> pb.GetReceivablesResponse:
    """An engine :class:`~cashmatch.engine.receivables.Receivables` as the response."""
    from cashmatch.report import top_at_risk

    accounts = result.accounts
    first = pa.Table.from_pylist(
        top_at_risk(accounts, result.metrics, n=top), schema=accounts.schema
    )
    return pb.GetReceivablesResponse(
        as_of=result.as_of.isoformat(),
        period_days=result.period_days,
        metrics=metrics_to_proto(result.metrics),
        aging=aging_to_proto(aging_totals(result.aging)),
        deductions=deductions_to_proto(result.deductions),
        accounts=accounts.num_rows,
        accounts_at_risk=int(pc.sum(accounts.column("at_risk")).as_py() or 0),
        problems=problems_to_proto(result.problems),
        top_at_risk=accounts_to_proto(first, result.aging, with_customer=True),
    )


def _reasons(text: str | None) -> list[str]:
    return [r for r in (text or "").split("; ") if r]


def accounts_to_proto(
    acc: pa.Table, aging: pa.Table, *, with_customer: bool = False
) -> list[pb.AccountBehaviour]:
    """accounts.csv rows (with their aging.csv rows, matched by customer and currency)."""
    if acc.num_rows == 0:
        return []
    money = {
        "open_amount": _money_strs(acc, "open"),
        "overdue_amount": _money_strs(acc, "overdue"),
        "over_60_amount": _money_strs(acc, "over_60"),
        "deduction_amount": _money_strs(acc, "deduction_amount"),
    }
    ratios = {
        name: _ratios(acc.column(name))
        for name in (
            "avg_days_to_pay",
            "prev_avg_days_to_pay",
            "avg_days_beyond_terms",
            "prev_avg_days_beyond_terms",
        )
    }
    aging = aging.filter(pc.is_in(aging.column("customer_id"), value_set=acc.column("customer_id")))
    aging_of = {
        (r["customer_id"], r["currency"]): a
        for r, a in zip(aging.to_pylist(), aging_to_proto(aging, [1] * aging.num_rows), strict=True)
    }
    out = []
    for i, r in enumerate(acc.to_pylist()):
        out.append(
            pb.AccountBehaviour(
                currency=r["currency"],
                deductions=r["deductions"],
                prev_deductions=r["prev_deductions"],
                promises_kept=r["promises_kept"],
                promises_broken=r["promises_broken"],
                risk_score=r["risk_score"],
                at_risk=r["at_risk"],
                risk_reasons=_reasons(r["risk_reasons"]),
                aging=aging_of.get((r["customer_id"], r["currency"])),
                customer_id=r["customer_id"] if with_customer else "",
                customer_name=(r["customer_name"] or "") if with_customer else "",
                **{k: v[i] for k, v in money.items()},
                **{k: v[i] for k, v in ratios.items()},
            )
        )
    return out


def account_to_proto(view: Any) -> pb.AccountStatus:
    """A :class:`~cashmatch.server.service.AccountView` as the response."""
    acc = view.accounts
    behaviours = accounts_to_proto(acc, view.aging)
    items: list[pb.OpenItem] = []
    t = view.open_items
    if t is not None and t.num_rows:
        from cashmatch.engine.receivables import bucket_of

        dpd = np.asarray(t.column("days_past_due"), dtype=np.int64)
        buckets = bucket_of(dpd)
        issue = np.asarray(pc.cast(t.column("issue_date"), pa.int32()), dtype=np.int64)
        as_of_day = (view.as_of - date(1970, 1, 1)).days
        amount, open_ = _money_strs(t, "amount"), _money_strs(t, "open")
        issue_s, due_s = _strs(t.column("issue_date")), _strs(t.column("due_date"))
        for i, (inv, cur) in enumerate(
            zip(t.column("invoice_id").to_pylist(), t.column("currency").to_pylist(), strict=True)
        ):
            items.append(
                pb.OpenItem(
                    invoice_id=inv,
                    currency=cur,
                    amount=amount[i],
                    open_amount=open_[i],
                    issue_date=issue_s[i],
                    due_date=due_s[i],
                    age_days=int(as_of_day - issue[i]),
                    days_past_due=int(dpd[i]),
                    bucket=S.AGING_BUCKETS[int(buckets[i])],
                )
            )
    undated, problems = _undated_to_proto(view)
    scores = acc.column("risk_score").to_pylist() if acc.num_rows else []
    return pb.AccountStatus(
        customer_id=view.customer_id,
        customer_name=view.customer_name or "",
        as_of=view.as_of.isoformat(),
        period_days=view.period_days,
        accounts=behaviours,
        open_items=items,
        open_exceptions=[exception_record_to_proto(r) for r in view.open_exceptions],
        open_exceptions_total=view.open_exceptions_total,
        risk_score=max(scores, default=0),
        at_risk=any(b.at_risk for b in behaviours),
        undated_items=undated,
        problems=problems,
        promises=[promise_to_proto(p) for p in view.promises],
    )


def promise_to_proto(p: dict[str, Any]) -> pb.Promise:
    """A stored promise (``Store.promises_of`` row, optionally with ``status``)."""
    return pb.Promise(
        promise_id=int(p["promise_id"]),
        customer_id=p["customer_id"],
        invoice_id=p.get("invoice_id") or "",
        amount=format_minor(int(p["amount"]), p["currency"]),
        currency=p["currency"],
        promised_date=p["promised_date"],
        made_on=p["made_on"],
        recorded_by=p.get("recorded_by") or "",
        created_at=p.get("created_at") or "",
        note=p.get("note") or "",
        status=p.get("status") or "",
    )


def _undated_to_proto(view: Any) -> tuple[list[pb.OpenItem], list[pb.Problem]]:
    t = view.undated_items
    if t is None or t.num_rows == 0:
        return [], []
    from cashmatch.engine.receivables import bucket_of

    as_of_day = (view.as_of - date(1970, 1, 1)).days
    due = pc.cast(t.column("due_date"), pa.int32()).to_pylist()
    amounts = _money_strs(t, "amount")
    due_s = _strs(t.column("due_date"))
    items = []
    for i, (inv, cur) in enumerate(
        zip(t.column("invoice_id").to_pylist(), t.column("currency").to_pylist(), strict=True)
    ):
        dpd = 0 if due[i] is None else as_of_day - due[i]
        items.append(
            pb.OpenItem(
                invoice_id=inv,
                currency=cur,
                open_amount=amounts[i],
                due_date=due_s[i],
                days_past_due=dpd,
                bucket=S.AGING_BUCKETS[int(bucket_of(np.array([dpd]))[0])],
            )
        )
    ids = ", ".join(it.invoice_id for it in items[:20]) + (" ..." if len(items) > 20 else "")
    problem = pb.Problem(
        source="ledger invoices",
        column="issue_date",
        reason=f"{len(items)} open invoices have no issue_date and are left out of the aging "
        f"and behaviour (send issue_date with UpsertInvoices): {ids}",
    )
    return items, [problem]
