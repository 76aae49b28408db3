"""Every Arrow schema of cashmatch, declared once. Import these; never redeclare.

Money columns are int64 minor units with the ISO 4217 ``currency`` beside them (the exponent
comes from :mod:`cashmatch.engine.money`). Column names follow ``spec/interchange.md``; columns
marked *extra* are additions the contract allows (columns may be added, never renamed).
"""

from __future__ import annotations

import mmap

import numpy as np
import pyarrow as pa

MONEY = pa.int64()
_MINOR = {b"unit": b"minor"}


def _money(name: str, nullable: bool = True) -> pa.Field:
    return pa.field(name, MONEY, nullable=nullable, metadata=_MINOR)


INVOICES = pa.schema(
    [
        pa.field("invoice_id", pa.string(), nullable=False),
        pa.field("customer_id", pa.string(), nullable=False),
        pa.field("customer_name", pa.string()),
        _money("amount", nullable=False),  # open amount (invoiced amount in receivables history)
        pa.field("currency", pa.string(), nullable=False),
        pa.field("issue_date", pa.date32()),
        pa.field("due_date", pa.date32()),
        pa.field("po_number", pa.string()),
        pa.field("discount_bp", pa.int32()),  # early-payment discount in basis points (2% = 200)
        pa.field("discount_days", pa.int32()),
    ],
    metadata={b"amounts": b"int64 minor units per ISO 4217 exponent of currency"},
)

CUSTOMERS = pa.schema(
    [
        pa.field("customer_id", pa.string(), nullable=False),
        pa.field("name", pa.string(), nullable=False),
        pa.field("accounts", pa.list_(pa.string())),
        pa.field("aliases", pa.list_(pa.string())),
        pa.field("parent_id", pa.string()),
    ]
)

PAYMENTS = pa.schema(
    [
        pa.field("payment_id", pa.string(), nullable=False),
        pa.field("value_date", pa.date32(), nullable=False),
        _money("amount", nullable=False),  # positive; see `direction`
        pa.field("currency", pa.string(), nullable=False),
        pa.field("payer_name", pa.string()),
        pa.field("payer_account", pa.string()),
        pa.field("reference", pa.string()),
        pa.field("end_to_end_id", pa.string()),
        # extra: what parsers of bank files keep beside the credits
        pa.field("direction", pa.string()),  # "CRDT" (default when null) or "DBIT"
        pa.field("reversal", pa.bool_()),
        pa.field("bank_code", pa.string()),  # transaction type code as the bank gave it
        pa.field("statement_id", pa.string()),
        pa.field("source", pa.string()),  # file name
        pa.field("source_line", pa.int32()),
    ],
    metadata={b"amounts": b"int64 minor units per ISO 4217 exponent of currency"},
)

REMITTANCES = pa.schema(
    [
        pa.field("payment_id", pa.string()),
        pa.field("end_to_end_id", pa.string()),
        pa.field("invoice_ref", pa.string(), nullable=False),
        _money("paid_amount", nullable=False),
        _money("discount_amount"),
        _money("deduction_amount"),
        pa.field("reason_code", pa.string()),
        pa.field("currency", pa.string()),  # extra: the currency the amounts are in
        pa.field("source", pa.string()),
        pa.field("source_line", pa.int32()),
    ]
)

STATEMENTS = pa.schema(
    [
        pa.field("statement_id", pa.string(), nullable=False),
        pa.field("account", pa.string()),
        pa.field("currency", pa.string()),
        pa.field("sequence", pa.string()),
        pa.field("opening_date", pa.date32()),
        _money("opening_balance"),
        pa.field("closing_date", pa.date32()),
        _money("closing_balance"),
        _money("total_credits"),
        _money("total_debits"),
        pa.field("source", pa.string()),
    ]
)

ALLOCATIONS = pa.schema(
    [
        pa.field("payment_id", pa.string(), nullable=False),
        pa.field("invoice_id", pa.string(), nullable=False),
        _money("applied_amount", nullable=False),
        _money("adjustment_amount", nullable=False),
        pa.field("adjustment_reason", pa.string()),
        _money("invoice_open_after", nullable=False),
        pa.field("confidence", pa.float64(), nullable=False),
        pa.field("rule", pa.string(), nullable=False),
        pa.field("currency", pa.string(), nullable=False),  # extra
    ]
)

EXCEPTIONS = pa.schema(
    [
        pa.field("payment_id", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        _money("unapplied_amount", nullable=False),
        pa.field("candidates", pa.list_(pa.string())),  # best first
        pa.field("detail", pa.string()),
        pa.field("currency", pa.string(), nullable=False),  # extra
        pa.field("candidate_scores", pa.list_(pa.float64())),  # extra, aligned with candidates
        pa.field("customer_id", pa.string()),  # extra: the identified customer, if any
    ]
)

# ---------------------------------------------------------------- receivables history and analytics

ADJUSTMENTS = pa.schema(
    [
        pa.field("invoice_id", pa.string(), nullable=False),
        pa.field("date", pa.date32(), nullable=False),
        _money("amount", nullable=False),  # reduces the invoice's open amount on `date`
        pa.field("reason", pa.string()),  # WRITE_OFF, CREDIT_NOTE, DEDUCTION:<reason>, ...
        pa.field("currency", pa.string()),  # extra: the invoice's currency when absent
    ]
)

PROMISES = pa.schema(
    [
        pa.field("customer_id", pa.string(), nullable=False),
        pa.field("invoice_id", pa.string()),  # empty: a promise on the account as a whole
        _money("amount", nullable=False),
        pa.field("currency", pa.string(), nullable=False),
        pa.field("promised_date", pa.date32(), nullable=False),
        pa.field("made_on", pa.date32()),
    ]
)

AGING_BUCKETS = ("current", "1_30", "31_60", "61_90", "90_plus")

AGING = pa.schema(
    [
        pa.field("customer_id", pa.string(), nullable=False),
        pa.field("currency", pa.string(), nullable=False),
        *[_money(b, nullable=False) for b in AGING_BUCKETS],
        _money("total", nullable=False),
    ]
)

RECEIVABLES_METRICS = pa.schema(
    [
        pa.field("currency", pa.string(), nullable=False),
        _money("ar", nullable=False),
        _money("current_ar", nullable=False),
        _money("sales", nullable=False),
        pa.field("dso", pa.float64()),  # null where sales are 0 (undefined)
        pa.field("best_possible_dso", pa.float64()),
        pa.field("add", pa.float64()),
        pa.field("cei", pa.float64()),
        pa.field("turnover", pa.float64()),
        pa.field("bad_debt_ratio", pa.float64()),
        # extra
        _money("overdue", nullable=False),  # ar - current_ar
        _money("ar_start", nullable=False),  # AR(A-P)
        _money("write_offs", nullable=False),  # WRITE_OFF dated in the period
    ]
)

ACCOUNTS = pa.schema(
    [
        pa.field("customer_id", pa.string(), nullable=False),
        pa.field("currency", pa.string(), nullable=False),
        _money("open", nullable=False),
        _money("overdue", nullable=False),
        pa.field("avg_days_to_pay", pa.float64()),
        pa.field("avg_days_beyond_terms", pa.float64()),
        pa.field("prev_avg_days_beyond_terms", pa.float64()),
        pa.field("deductions", pa.int64(), nullable=False),
        _money("deduction_amount", nullable=False),
        pa.field("promises_broken", pa.int64(), nullable=False),
        pa.field("risk_score", pa.int64(), nullable=False),
        pa.field("at_risk", pa.bool_(), nullable=False),
        pa.field("risk_reasons", pa.string(), nullable=False),  # "; "-separated, strongest first
        # extra
        pa.field("customer_name", pa.string()),
        pa.field("prev_avg_days_to_pay", pa.float64()),
        pa.field("prev_deductions", pa.int64(), nullable=False),
        pa.field("promises_kept", pa.int64(), nullable=False),
        _money("over_60", nullable=False),  # open more than 60 days past due
    ]
)

DEDUCTIONS_BY_REASON = pa.schema(
    [
        pa.field("currency", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("count", pa.int64(), nullable=False),
        _money("amount", nullable=False),
        pa.field("prev_count", pa.int64(), nullable=False),
        _money("prev_amount", nullable=False),
    ]
)

# Truth of a labelled (generated or hand-checked) day: which invoices each payment really pays.
TRUTH = pa.schema(
    [
        pa.field("payment_id", pa.string(), nullable=False),
        pa.field("scenario", pa.string(), nullable=False),
        pa.field("matchable", pa.bool_(), nullable=False),
        pa.field("invoice_ids", pa.list_(pa.string())),  # the invoices this payment pays
        pa.field("applied_amounts", pa.list_(MONEY)),  # cash applied to each, aligned
        pa.field("currency", pa.string()),
        pa.field("customer_id", pa.string()),  # the customer whose invoices are paid
        pa.field("adjustment_amounts", pa.list_(MONEY)),  # written off beside the cash, aligned
        pa.field("adjustment_reasons", pa.list_(pa.string())),  # BANK_FEE, DISCOUNT, ... or ""
    ],
    metadata={b"amounts": b"int64 minor units per ISO 4217 exponent of currency"},
)

# Exception reasons (interchange contract).
NO_CANDIDATE = "NO_CANDIDATE"
AMBIGUOUS = "AMBIGUOUS"
UNKNOWN_PAYER = "UNKNOWN_PAYER"
OVERPAYMENT = "OVERPAYMENT"
SHORT_PAY = "SHORT_PAY"
CURRENCY_MISMATCH = "CURRENCY_MISMATCH"
DUPLICATE = "DUPLICATE"
LOW_CONFIDENCE = "LOW_CONFIDENCE"

# Adjustment reasons.
BANK_FEE = "BANK_FEE"
DISCOUNT = "DISCOUNT"
DEDUCTION = "DEDUCTION"  # written as DEDUCTION:<payer reason>
WRITE_OFF = "WRITE_OFF"  # ledger adjustments (adjustments.csv)
CREDIT_NOTE = "CREDIT_NOTE"


def empty(schema: pa.Schema) -> pa.Table:
    return schema.empty_table()


def flat(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    """One array: a column of one chunk without a copy (``combine_chunks`` copies even then)."""
    if isinstance(col, pa.ChunkedArray):
        return col.chunk(0) if col.num_chunks == 1 else col.combine_chunks()
    return col


def int_values(col: pa.ChunkedArray | pa.Array, default: int = 0) -> np.ndarray:
    """An integer column as int64, ``default`` where it is null: its values and validity read
    from its buffers (Arrow's ``fill_null`` costs ~2 us more a call: a small Match reads a few
    columns so)."""
    arr = flat(col)
    if arr.null_count == 0:
        return np.asarray(arr, np.int64)
    validity, data = arr.buffers()
    at = slice(arr.offset, arr.offset + len(arr))
    values = np.frombuffer(data, arr.type.to_pandas_dtype())[at]
    valid = np.unpackbits(np.frombuffer(validity, np.uint8), bitorder="little")[at].view(bool)
    return np.where(valid, values, default).astype(np.int64, copy=False)


def take(col: pa.ChunkedArray | pa.Array, rows: np.ndarray) -> pa.Array:
    """``col[rows]`` as one array, taken chunk by chunk: Arrow's ``take`` on a chunked column
    first concatenates every chunk (a copy of a whole column of ids for a few rows)."""
    if not isinstance(col, pa.ChunkedArray) or col.num_chunks <= 1:
        return flat(col).take(pa.array(rows))
    rows = np.asarray(rows, np.int64)
    ends = np.cumsum([len(c) for c in col.chunks])
    which = np.searchsorted(ends, rows, side="right")
    order = np.argsort(which, kind="stable")
    bounds = np.searchsorted(which[order], np.arange(col.num_chunks + 1))
    parts = [
        col.chunk(j).take(pa.array(rows[order[lo:hi]] - (ends[j] - len(col.chunk(j)))))
        for j, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:], strict=True))
        if hi > lo
    ]
    if not parts:
        return pa.array([], col.type)
    back = np.empty(len(order), np.int64)
    back[order] = np.arange(len(order))
    return pa.concat_arrays(parts).take(pa.array(back))


def nulls(n: int, type_: pa.DataType) -> pa.Array:
    """An all-null column of ``n`` rows that costs no memory until something reads it.

    Its buffers (validity bitmap, offsets or values) are views of one zeroed allocation; a large
    one is an anonymous memory map, which the OS provides zeroed and lazily (``np.zeros`` may
    reuse and clear heap memory: ~0.09 GiB of RSS at 5M invoices; ``pa.nulls`` writes every
    byte). Other types use ``pa.nulls``."""
    t = pa.types
    if t.is_string(type_):
        width = 4
    elif t.is_integer(type_) or t.is_floating(type_) or t.is_date(type_) or t.is_timestamp(type_):
        width = type_.bit_width // 8
    else:
        return pa.nulls(n, type_)
    size = (n + 1) * width + 8
    zero = pa.py_buffer(mmap.mmap(-1, size) if size >= 1 << 20 else np.zeros(size, np.uint8))
    buffers = [zero, zero, pa.py_buffer(b"")] if pa.types.is_string(type_) else [zero, zero]
    return pa.Array.from_buffers(type_, n, buffers, null_count=n)


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Select and cast ``table`` to ``schema``; missing nullable columns become nulls."""
    if table.schema.equals(schema, check_metadata=True):
        return table  # already conforms (a request converted at the server's boundary)
    names = set(table.column_names)
    cols = []
    for field in schema:
        if field.name in names:
            col = table.column(field.name)
            cols.append(col if col.type == field.type else col.cast(field.type))
        else:
            cols.append(nulls(table.num_rows, field.type))
    return pa.Table.from_arrays(cols, schema=schema)
