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
    # codes in capitals, some in lower case too (read in the pass), or one with a space (not)
    clean = ["EUR", "JPY", "KWD", "CLF", "USD"]
    codes = rng.choice([clean, [*clean, "jpy", "Kwd"], [*clean, " KWD"]])
    data = {
        "payment_id": [text() or "P" for _ in range(n)],
        "invoice_id": [text() for _ in range(n)],
        "applied_amount": [rng.choice(amounts) for _ in range(n)],
        "adjustment_amount": [rng.choice([*amounts, None]) for _ in range(n)],
        "adjustment_reason": [text() for _ in range(n)],
        "invoice_open_after": [rng.choice(amounts) for _ in range(n)],
        "confidence": [rng.choice([0.0, 0.5, 0.9999, 1.0, None]) for _ in range(n)],
        "rule": [text() for _ in range(n)],
        "currency": [rng.choice(codes) for _ in range(n)],
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


def _arrow_dates(text: pa.Array) -> list:
    return pc.cast(pc.strptime(text, format="%Y-%m-%d", unit="s", error_is_null=True),
                   pa.date32()).to_pylist()  # fmt: skip


def test_iso_dates_equal_arrows_strptime_or_leave_it_to_it() -> None:
    """The compiled dates (slices of a longer array too, with nulls) equal Arrow's; any text
    that is not a plain date of a real day gives None (Arrow then names it)."""
    rng = random.Random(11)
    days = [(2026, 1, 31), (2024, 2, 29), (2000, 2, 29), (1999, 12, 31), (1970, 1, 1),
            (1969, 12, 31), (1000, 3, 1), (9999, 12, 31), (1900, 2, 28), (2100, 6, 30)]  # fmt: skip
    good = [f"{y:04d}-{m:02d}-{d:02d}" for y, m, d in days]
    good += [f"{rng.randrange(1000, 10000):04d}-{rng.randrange(1, 13):02d}-"
             f"{rng.randrange(1, 29):02d}" for _ in range(300)]  # fmt: skip
    rows = [rng.choice(good + [None]) for _ in range(400)]
    whole = pa.array(["x", *rows])
    for text in (pa.array(rows), whole.slice(1)):
        assert wire.iso_dates(text).to_pylist() == _arrow_dates(text)
    for bad in ("2026-02-29", "1900-02-29", "2026-13-01", "2026-00-10", "2026-04-31",
                "2026-1-01", "2026/01/01", "0999-01-01", "2026-01-0a", " 2026-01-01",
                "２026-01-01", "2026-01-00"):  # fmt: skip
        assert wire.iso_dates(pa.array(["2026-01-01", bad])) is None, bad


def test_upper_codes_equal_arrows_upper_or_leave_it_to_it() -> None:
    """Three ASCII letters in any case (nulls kept, slices too) upper-cased as Arrow does;
    anything else gives None (the caller's checks then name it)."""
    rng = random.Random(12)
    rows = ["".join(rng.choice("abcxyzABCXYZ") for _ in range(3)) for _ in range(200)]
    rows = [rng.choice([r, None]) for r in rows]
    whole = pa.array(["x", *rows])
    for text in (pa.array(rows), whole.slice(1)):
        got = wire.upper_codes(text, 3)
        assert got.to_pylist() == pc.utf8_upper(text).to_pylist()
        assert got.null_count == text.null_count
    for bad in ("EU", "EURO", "E1R", "E R", "EU@", "EU[", "EU`", "EU{", "EÜR", "éUR", ""):
        assert wire.upper_codes(pa.array(["EUR", bad]), 3) is None, bad


def _exceptions(rng: random.Random, n: int) -> pa.Table:
    def text() -> str | None:
        return rng.choice([None, "", "INV-1", "é€ long text " * rng.randint(1, 30), "P-0"])

    def ids() -> list[str] | None:
        return rng.choice([None, [], [""], ["INV-1", "é€"], [f"I{k}" for k in range(40)]])

    return pa.table({
        "payment_id": [text() or "P" for _ in range(n)],
        "reason": [rng.choice(["NO_CANDIDATE", "AMBIGUOUS"]) for _ in range(n)],
        "unapplied_amount": [rng.choice([0, 1, -1, 99, 100, 10**15, -987654321])
                             for _ in range(n)],
        "candidates": [ids() for _ in range(n)],
        "detail": [text() for _ in range(n)],
        "currency": [rng.choice(["EUR", "JPY", "KWD", "jpy"]) for _ in range(n)],
        "candidate_scores": [rng.choice([None, [], [0.0], [0.5, 1.0, 1e-300, -2.5]])
                             for _ in range(n)],
        "customer_id": [text() for _ in range(n)],
    }, schema=S.EXCEPTIONS)  # fmt: skip


def test_wire_exceptions_equal_messages_built_field_by_field() -> None:
    """Exceptions written from the columns (repeated strings, packed doubles; slices of a
    table too) parse back to the messages built field by field."""
    from cashmatch.server import convert as C

    rng = random.Random(13)
    table = _exceptions(rng, 3 * C.WIRE_EXCEPTIONS)
    for part in (table, table.slice(7, 2 * C.WIRE_EXCEPTIONS)):
        rows = part.to_pylist()
        want = [pb.PaymentException(
            payment_id=r["payment_id"], reason=r["reason"],
            unapplied_amount=format_minor(r["unapplied_amount"], r["currency"]),
            candidates=r["candidates"] or [], detail=r["detail"] or "", currency=r["currency"],
            candidate_scores=r["candidate_scores"] or [], customer_id=r["customer_id"] or "",
        ) for r in rows]  # fmt: skip
        assert list(C.exceptions_to_proto(part)) == want
        few = part.slice(0, C.WIRE_EXCEPTIONS - 1)  # (built field by field)
        assert list(C.exceptions_to_proto(few)) == want[: few.num_rows]


def test_match_response_equals_the_messages_built_apart() -> None:
    """A match result's response, its allocations and exceptions written at once (fields 1
    and 2, any count: none, one, a few, slices) and its summary, parsed, equals the message of
    the allocations parsed apart, the exceptions built field by field and the summary."""
    from cashmatch.engine.result import MatchResult, summarize
    from cashmatch.server import convert as C

    rng = random.Random(17)
    for n_alloc, n_exc in ((0, 0), (1, 0), (0, 1), (17, 5), (300, C.WIRE_EXCEPTIONS - 1)):
        allocations = _table(rng, n_alloc + 3, False).slice(2, n_alloc)
        exceptions = _exceptions(rng, n_exc + 2).slice(1, n_exc)
        ids = pc.unique(pa.chunked_array(
            allocations.column("payment_id").chunks + exceptions.column("payment_id").chunks,
            pa.string()))  # fmt: skip
        payments = pa.table({"payment_id": ids, "currency": pa.array(["EUR"] * len(ids)),
                             "amount": pa.array([5] * len(ids), pa.int64())})  # fmt: skip
        result = MatchResult(allocations, exceptions,
                             summarize(payments, allocations, exceptions))  # fmt: skip
        want = pb.MatchResponse(
            allocations=C.allocations_to_proto(allocations),
            exceptions=C.exceptions_to_proto(exceptions),
            summary=C.summary_to_proto(result.summary),
        )
        got = pb.MatchResponse.FromString(C.match_response(result))
        assert got == want
        assert got.SerializeToString(deterministic=True) == want.SerializeToString(
            deterministic=True
        )
