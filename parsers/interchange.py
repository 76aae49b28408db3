"""The interchange files (``spec/interchange.md``) through the same door as bank files.

``payments-csv`` is recognised by a header with ``payment_id,value_date,amount,currency``,
``remittance-csv`` by ``invoice_ref,paid_amount``; Parquet by its magic bytes (payments or
remittances by its columns). Reading is :mod:`cashmatch.engine.interchange`'s.
"""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cashmatch.engine import interchange as ix
from cashmatch.engine import schema as S
from cashmatch.engine.errors import InvalidInput
from cashmatch.parsers._common import ParseResult

NAME = "interchange"
_PAYMENT_COLUMNS = {"payment_id", "value_date", "amount", "currency"}
_REMITTANCE_COLUMNS = {"invoice_ref", "paid_amount"}


def _header(head: bytes) -> set[str]:
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    first = head.split(b"\n", 1)[0].decode("utf-8", "replace").strip("\r")
    return {c.strip().strip('"').strip().lower() for c in first.split(",")}


def sniff_payments_csv(head: bytes) -> bool:
    return _header(head) >= _PAYMENT_COLUMNS


def sniff_remittance_csv(head: bytes) -> bool:
    return _header(head) >= _REMITTANCE_COLUMNS


def sniff_interchange_parquet(head: bytes) -> bool:
    return head[:4] == b"PAR1"


def sniff(head: bytes) -> bool:
    return sniff_payments_csv(head) or sniff_remittance_csv(head) or sniff_interchange_parquet(head)


def parse(
    data: bytes,
    *,
    source: str,
    fmt: str | None = None,
    currency_of: pa.Table | ix.CurrencyLookup | None = None,
) -> ParseResult:
    """``currency_of``: the currency of each remittance line's payment (see ``parse_file``)."""
    if fmt is None or fmt == "interchange-parquet":
        if data[:4] == b"PAR1":
            try:
                names = set(pq.read_schema(io.BytesIO(data)).names)
            except Exception as exc:  # noqa: BLE001 - any corrupt footer
                raise InvalidInput(f"{source}: not a readable Parquet file: {exc}") from exc
            fmt = "remittance-csv" if names >= _REMITTANCE_COLUMNS else "payments-csv"
        elif fmt is not None:
            raise InvalidInput(f"{source}: not a Parquet file (no PAR1 magic)")
        else:
            fmt = "remittance-csv" if sniff_remittance_csv(data[:65536]) else "payments-csv"
    result = ParseResult.empty(fmt)
    try:
        if fmt == "remittance-csv":
            if isinstance(currency_of, pa.Table):
                currency_of = ix.currencies_of(currency_of)
            rr = ix.read_remittances(data, source=source, currency_of=currency_of)
            result.remittances = rr.table
        else:
            rr = ix.read_payments(data, source=source)
            result.payments = rr.table
    except InvalidInput:
        raise
    except Exception as exc:  # noqa: BLE001 - Arrow raises its own types on corrupt files
        raise InvalidInput(f"{source}: cannot read as {fmt}: {exc}") from exc
    result.problems.extend(rr.problems)
    if result.remittances.num_rows:
        result.remittances = S.conform(_with_source(result.remittances, source), S.REMITTANCES)
    if result.payments.num_rows:
        t = _with_source(result.payments, source)
        t = t.set_column(
            t.schema.get_field_index("direction"),
            "direction",
            pc.fill_null(t.column("direction"), "CRDT"),
        )
        result.payments = S.conform(t, S.PAYMENTS)
    return result


def _with_source(t: pa.Table, source: str) -> pa.Table:
    """``t`` with its ``source`` column set to the file's name on every row."""
    name = pa.repeat(pa.scalar(source, pa.string()), t.num_rows)
    return t.set_column(t.schema.get_field_index("source"), "source", name)
