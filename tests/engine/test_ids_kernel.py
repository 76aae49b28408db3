"""result._payment_codes (the compiled table of ids_kernel, two threads from
PAYMENT_ROWS_TABLE_MIN output rows) against its reference, result._payment_codes_by_arrow (one
Arrow dictionary encoding): the same codes on random outputs with ids repeated, null, missing
from the payments, empty, long, non-ASCII, of equal hashes' tags, in sliced and chunked
columns, in payment order and shuffled; and the compiled path taken exactly when it should be."""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa
import pytest

from cashmatch.engine import ids_kernel, result, text_kernel
from cashmatch.engine.normalize import HASH_BASE, HASH_MIX, string_parts
from cashmatch.engine.result import _codes_by_table, _payment_codes, _payment_codes_by_arrow


def _column(values: list[str | None], rng: random.Random) -> pa.ChunkedArray:
    """``values`` as a column of up to three chunks, some of them slices of a longer array."""
    cuts = sorted(rng.randint(0, len(values)) for _ in range(rng.choice([0, 1, 2])))
    chunks = []
    for a, b in zip([0, *cuts], [*cuts, len(values)], strict=True):
        if rng.random() < 0.5:  # a slice of a longer array
            chunks.append(pa.array(["pad", *values[a:b], "pad"], pa.string())[1 : 1 + b - a])
        else:
            chunks.append(pa.array(values[a:b], pa.string()))
    return pa.chunked_array(chunks, pa.string())


def _ids(rng: random.Random, n: int) -> list[str]:
    kind = rng.choice(["plain", "long", "utf8", "prefixes"])
    if kind == "long":
        return [f"{'X' * rng.randint(50, 300)}{i}" for i in range(n)]
    if kind == "utf8":
        return [f"Zahlung-ü€{i}" for i in range(n)]
    if kind == "prefixes":  # ids that are each other's prefixes, and the empty id
        return ["", *(f"1{'0' * i}" for i in range(n - 1))][:n]
    return [f"PAY{i:06d}" for i in rng.sample(range(10 * n + 1), n)]


def _case(rng: random.Random, n: int, m: int) -> tuple[pa.Table, pa.Table, pa.Table]:
    ids: list[str | None] = list(_ids(rng, n))
    rows = sorted(rng.randrange(n) for _ in range(m)) if n else []
    if rng.random() < 0.3:
        rng.shuffle(rows)
    out: list[str | None] = [ids[r] for r in rows]
    for _ in range(rng.choice([0, 0, 0, 1, 2])):  # broken
        what = rng.choice(["twice", "null", "stray", "null_out"])
        if what == "twice" and n > 1:
            ids[rng.randrange(1, n)] = ids[rng.randrange(n)]
        elif what == "null" and n:
            ids[rng.randrange(n)] = None
        elif what == "stray" and out:
            out[rng.randrange(len(out))] = "NOT-A-PAYMENT"
        elif what == "null_out" and out:
            out[rng.randrange(len(out))] = None
    k = rng.randint(0, len(out))
    payments = pa.table({"payment_id": _column(ids, rng)})
    return (payments, pa.table({"payment_id": _column(out[:k], rng)}),
            pa.table({"payment_id": _column(out[k:], rng)}))  # fmt: skip


@pytest.mark.parametrize("table_min", [1 << 16, 0])
def test_the_table_finds_the_codes_arrow_finds(monkeypatch: pytest.MonkeyPatch,
                                               table_min: int) -> None:  # fmt: skip
    monkeypatch.setattr(result, "PAYMENT_ROWS_TABLE_MIN", table_min)  # (0: always the table)
    rng = random.Random(21)
    taken = 0
    for _ in range(1500):
        n, m = rng.choice([0, 1, 2, 3, 10, 50]), rng.choice([0, 1, 2, 7, 60])
        tables = _case(rng, n, m)
        expected = _payment_codes_by_arrow(*tables)
        np.testing.assert_array_equal(_payment_codes(*tables), expected)
        by_table = _codes_by_table(*tables)
        if by_table is not None:
            taken += 1
            np.testing.assert_array_equal(by_table, expected)
        # the table answers exactly when the ids are unique and every row names a payment
        named = ((expected[n:] >= 0) & (expected[n:] < n)).all()
        assert (by_table is not None) == bool((expected[:n] == np.arange(n)).all() and named)
    assert 600 < taken < 1500  # (both paths were taken)


def test_a_large_day_on_two_threads() -> None:
    assert result.PAYMENT_ROWS_TABLE_MIN <= 80_000  # (the table taken)
    rng = np.random.default_rng(5)
    n = 40_000
    ids = pa.array([f"PMT{i:08d}" for i in rng.permutation(10 * n)[:n]])
    rows = np.sort(rng.integers(0, n, 3 * n))
    out = ids.take(pa.array(rows))
    tables = (pa.table({"payment_id": ids}), pa.table({"payment_id": out[: 2 * n]}),
              pa.table({"payment_id": out[2 * n :]}))  # fmt: skip
    codes = _payment_codes(*tables)
    np.testing.assert_array_equal(codes, _payment_codes_by_arrow(*tables))
    np.testing.assert_array_equal(codes[n:], rows)


def test_equal_tags_are_told_apart_by_their_bytes() -> None:
    """A table whose every slot has the same tag and hash (one slot: all probe it): rows are
    still found by their bytes, and a repeated id still found."""
    ids = ["a", "bb", "ccc", "dddd"]
    off = np.array([0, 1, 3, 6, 10], np.int32)
    raw = np.frombuffer("".join(ids).encode(), np.uint8)
    bits = 3
    table = np.full(1 << bits, ids_kernel.EMPTY, np.uint64)
    same = np.full(4, np.uint64(7), np.uint64)
    assert ids_kernel.fill_id_table(off, raw, same, table, bits, 0, 0)
    assert (table != ids_kernel.EMPTY).sum() == 4
    twice = np.array([0, 1, 3, 4, 5], np.int32)  # "a", "bb", "c", "c"
    again = np.full(1 << bits, ids_kernel.EMPTY, np.uint64)
    assert not ids_kernel.fill_id_table(twice, np.frombuffer(b"abbcc", np.uint8), same[:4],
                                        again, bits, 0, 0)  # fmt: skip


def test_a_row_whose_tag_another_id_has_first_is_found_by_its_bytes() -> None:
    """find_rows takes the first slot of a text's tag, then checks its bytes: where another id
    of the same tag comes first in the probe (planted here), the text is still found, and a
    text of no payment still found missing."""
    ids = pa.array(["A1", "B2"])
    off, raw = string_parts(ids)
    h = np.empty(2, np.uint64)
    text_kernel.hash64(off, raw, HASH_BASE, HASH_MIX, h)
    bits = 4
    table = np.full(1 << bits, ids_kernel.EMPTY, np.uint64)
    slot = int(h[1] >> np.uint64(64 - bits))
    table[slot] = (h[1] << np.uint64(32)) | np.uint64(0)  # "A1" under "B2"'s tag, first
    table[(slot + 1) % (1 << bits)] = (h[1] << np.uint64(32)) | np.uint64(1)
    out = np.full(3, -7, np.int64)
    texts = pa.array(["B2", "B2", "B2"])
    assert ids_kernel.find_rows(*string_parts(texts), off, raw, table, bits, 0, HASH_BASE,
                                HASH_MIX, out)  # fmt: skip
    assert out.tolist() == [1, 1, 1]
    table[(slot + 1) % (1 << bits)] = ids_kernel.EMPTY  # "B2" itself gone: not found
    assert not ids_kernel.find_rows(*string_parts(texts), off, raw, table, bits, 0, HASH_BASE,
                                    HASH_MIX, out)  # fmt: skip
