"""The wire-format passes of :mod:`cashmatch.server.wire` against the messages' own fields:
allocations written from the columns against messages built field by field
(``format_minor`` for the amounts); string fields read from serialised messages against
attribute reads."""

from __future__ import annotations

import random

import pyarrow as pa
import pyarrow.compute as pc

from cashmatch.engine import schema as S
from cashmatch.engine.money import format_minor
from cashmatch.server import wire
from cashmatch.server.convert import allocations_to_proto
from cashmatch.server.pb import cash_application_pb2 as pb


def _by_fields(table: pa.Table) -> list[pb.Allocation]:
    rows = table.to_pylist()
    money = ("applied_amount", "adjustment_amount", "invoice_open_after")

    def field(k: str, v: object, cur: str) -> object:
        if k == "confidence":
            return v or 0.0
        if k in money:
            return "" if v is None else format_minor(v, cur)
        return v or ""

    return [pb.Allocation(**{k: field(k, v, r["currency"]) for k, v in r.items()}) for r in rows]


def _table(rng: random.Random, n: int, extra: bool) -> pa.Table:
    def text() -> str | None:
        return rng.choice([None, "", "INV-1", "é€ long text " * rng.randint(1, 30), "P-0"])

    amounts = [0, 1, -1, 9, 10, 99, 100, 101, -100, 123456789, -987654321, 10**15, 7]
    data = {
        "payment_id": [text() or "P" for _ in range(n)],
        "invoice_id": [text() for _ in range(n)],
        "applied_amount": [rng.choice(amounts) for _ in range(n)],
        "adjustment_amount": [rng.choice([*amounts, None]) for _ in range(n)],
        "adjustment_reason": [text() for _ in range(n)],
        "invoice_open_after": [rng.choice(amounts) for _ in range(n)],
        "confidence": [rng.choice([0.0, 0.5, 0.9999, 1.0, None]) for _ in range(n)],
        "rule": [text() for _ in range(n)],
        "currency": [rng.choice(["EUR", "JPY", "KWD", "CLF", "USD"]) for _ in range(n)],
    }
    table = pa.table(data, schema=S.ALLOCATIONS)
    if extra:
        table = table.append_column("created_by", pa.array([text() for _ in range(n)]))
        table = table.append_column("created_at", pa.array([text() for _ in range(n)]))
    return table


def test_wire_allocations_equal_messages_built_field_by_field() -> None:
    rng = random.Random(3)
    for n in (1, 2, 17, 300):
        for extra in (False, True):
            table = _table(rng, n, extra)
            for t in (table, table.slice(n // 3)):  # an offset into the buffers
                assert list(allocations_to_proto(t)) == _by_fields(t)


def test_string_fields_read_from_the_wire_equal_the_attributes() -> None:
    rng = random.Random(5)

    def text() -> str:
        return rng.choice(["", " ", "INV-1", "é€ ünicode " * rng.randint(1, 20), "x" * 200])

    invoices = [pb.Invoice(invoice_id=text(), customer_name=text(), amount=text(),
                           discount_pct=text(), discount_days=rng.choice([0, 7, 300, -1]),
                           closed=rng.random() < 0.5) for _ in range(200)]  # fmt: skip
    customers = [pb.Customer(customer_id=text(), name=text(), parent_id=text(),
                             accounts=[text() for _ in range(rng.randint(0, 3))])
                 for _ in range(50)]  # fmt: skip
    for msgs, names in ((invoices, ["invoice_id", "customer_id", "amount", "discount_pct",
                                    "due_date"]),
                        (customers, ["customer_id", "parent_id", "name"]),
                        (invoices[:1], ["amount"])):  # fmt: skip
        by_name = msgs[0].DESCRIPTOR.fields_by_name
        got = wire.string_fields(msgs, [by_name[name].number for name in names])
        assert got.to_pylist() == [getattr(m, name) for name in names for m in msgs]


def test_string_fields_trimmed_equal_arrows_trim_and_absent_empties() -> None:
    rng = random.Random(9)
    ascii_pads = ["", " ", "\t", "\n ", "\x1c", "\r\n"]
    wide_pads = ["\u3000", "\u00a0", "\u2003 ", "é", "\u200b"]
    cores = ["", "INV-1", "Müller  GmbH", "x y"]
    # ASCII ends (the compiled trim alone), then wider characters at an end (Arrow's kernel)
    for pads in (ascii_pads, ascii_pads + wide_pads):

        def text(pads: list[str] = pads) -> str:
            return rng.choice(pads) + rng.choice(cores) + rng.choice(pads)

        msgs = [
            pb.Payment(payment_id=text(), payer_name=text(), reference=text()) for _ in range(300)
        ]
        plain = wire.string_fields(msgs, [1, 5, 7])
        trimmed = pc.utf8_trim_whitespace(plain)
        want = pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed)
        got = wire.string_fields(msgs, [1, 5, 7], trim=True)
        assert got.to_pylist() == want.to_pylist()
        assert got.null_count == want.null_count
