"""The compiled passes of :mod:`cashmatch.engine.text_kernel` against their references: the key
coding of the ledger's key table (``key_codes``) against Arrow's dictionary encoding and a count
of distinct (key, invoice) pairs in Python; the order of strings by words (``string_order``)
against Arrow's sort."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from typing import TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from cashmatch.engine import normalize, text_kernel
from cashmatch.engine.normalize import string_order, string_parts

T = TypeVar("T")


@pytest.mark.parametrize(
    ("longest", "extra", "n"),
    # packed in words (all strings of at most 16 bytes, no zero byte), in one hash partition
    # or several (more rows than text_kernel.PART_ROWS)
    [(4, [], 20_000), (16, [], 20_000), (16, [], 3 * text_kernel.PART_ROWS),
     (16, ["A" * 17], 20_000), (4, ["A\x00"], 20_000)],  # compared byte by byte
)
def test_codes_and_distinct_invoices_match_the_reference(longest: int, extra: list[str],
                                                         n: int):
    rng = random.Random(5)
    alphabet = "01239AZ-é" if longest <= 4 else "0A"
    # few distinct strings, so that keys repeat within and across invoices (and at 16 bytes,
    # a small alphabet: strings of 8 and 9 bytes, the words' edge, repeat too)
    values = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, longest)))
              for _ in range(n)] + extra
    inv = np.array([rng.randrange(3000) for _ in values], np.int64)
    arr = pa.array(values).slice(7)  # an offset into the buffers, as a filtered column has
    inv = inv[7:]
    offsets, raw = string_parts(arr)
    code, invoices = text_kernel.key_codes(offsets, raw, inv, 3000)
    enc = arr.dictionary_encode()
    assert np.array_equal(code, np.asarray(enc.indices))
    want: dict[str, set[int]] = {}
    for v, i in zip(arr.to_pylist(), inv.tolist(), strict=True):
        want.setdefault(v, set()).add(i)
    assert invoices.tolist() == [len(want[v]) for v in enc.dictionary.to_pylist()]
    assert invoices.max() > 1 and len(invoices) > 100  # repeats, and many keys


@pytest.mark.parametrize(("part_rows", "part_group"), [(1 << 16, 16), (64, 1), (64, 4), (8, 256)])
def test_packed_firsts_in_groups_of_partitions(part_rows: int, part_group: int):
    """``_packed_firsts``: the first row of each row's string (a dict's first occurrence), with
    one partition or many, moved and coded one, several or all partitions at a time."""
    rng = random.Random(13)
    values = ["".join(rng.choice("0A9é") for _ in range(rng.choice([0, 1, 7, 8, 9, 15])))
              for _ in range(5000)]
    values = [v for v in values if len(v.encode()) <= 16]
    values = [values[rng.randrange(len(values) // 10)] for _ in values]  # repeats
    arr = pa.array(values).slice(3)
    seen: dict[str, int] = {}
    want = [seen.setdefault(v, i) for i, v in enumerate(arr.to_pylist())]
    first = text_kernel._packed_firsts(*string_parts(arr), part_rows, part_group)
    assert first.tolist() == want and len(seen) > 50


def _mixed_reference(code: list[int], n_codes: int, values: list[str]) -> list[bool]:
    """Per code, whether its rows' strings are not all equal (Python sets)."""
    strings: list[set[str]] = [set() for _ in range(n_codes)]
    for k, v in zip(code, values, strict=True):
        if k >= 0:
            strings[k].add(v)
    return [len(s) > 1 for s in strings]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_mixed_strings_as_sets_of_each_codes_strings(seed: int):
    """``mixed_strings``: a code is mixed when its rows carry two strings (of other lengths, or
    one a prefix of the other, one empty, differing in the last byte or a multi-byte one), not
    when all are equal, nor for a code of no rows; rows coded -1 read by none; a sliced array."""
    rng = random.Random(seed)
    alphabet = ["A", "B", "é", " ", "Ω"]
    pool = ["", "A", "AB", "ABA", "ABB", "é", "éA", "Aé"] + [
        "".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 30))) for _ in range(20)]
    n_codes = 60
    own = [rng.choice(pool) for _ in range(n_codes)]  # each code's usual string
    code, values = [], []
    for _ in range(3000):
        k = rng.randrange(-1, n_codes - 5)  # (the last 5 codes: no row)
        code.append(k)
        odd = k >= 0 and k % 7 == 0 and rng.random() < 0.02  # a few codes read another string
        values.append(rng.choice(pool) if k < 0 or odd else own[k])
    arr = pa.array(["pad", "dings"] + values).slice(2)
    got = text_kernel.mixed_strings(np.array(code, np.int64), n_codes, *string_parts(arr))
    want = _mixed_reference(code, n_codes, values)
    assert got.tolist() == want and 0 < sum(want) < n_codes - 5


def test_mixed_strings_of_no_rows():
    none = pa.array([], pa.string())
    got = text_kernel.mixed_strings(np.zeros(0, np.int64), 3, *string_parts(none))
    assert got.tolist() == [False] * 3


def test_no_keys():
    code, invoices = text_kernel.key_codes(np.zeros(1, np.int32), np.zeros(0, np.uint8),
                                           np.zeros(0, np.int64), 1)
    assert len(code) == 0 and len(invoices) == 0


def test_string_order_is_arrows_stable_sort():
    rng = random.Random(9)
    alphabet = "0129AZaz-/é€"
    # repeats (stability), prefixes of each other, lengths across the 8-byte words
    values = ["".join(rng.choice(alphabet) for _ in range(rng.choice([0, 1, 7, 8, 9, 16, 20])))
              for _ in range(5000)]
    values += [v[:-1] for v in values[:500]] + values[:300]
    for arr in (pa.array(values), pa.array(values).slice(13),
                pa.array(values + ["x" * 40]),  # longer than the words: Arrow's sort
                pa.array(values + ["A\x00B", "A"]),  # a zero byte: Arrow's sort
                pa.array(values + [None]), pa.array([], pa.string())):
        want = np.asarray(pc.sort_indices(arr), np.int64)
        np.testing.assert_array_equal(string_order(arr), want)


def test_words_order_is_lexsort():
    rng = np.random.default_rng(3)
    for n, width in ((0, 1), (1, 2), (5000, 1), (5000, 3)):
        # few distinct values in every 16-bit digit (ties at each: stability), one column
        # with the same word everywhere (no pass)
        digits = rng.integers(0, 3, (n, width, 4), dtype=np.uint64)
        words = (digits << (np.arange(4, dtype=np.uint64) * np.uint64(16) + np.uint64(5))
                 ).sum(axis=2, dtype=np.uint64)
        if width > 2:
            words[:, 1] = 7
        want = np.lexsort([words[:, w] for w in range(width - 1, -1, -1)])
        np.testing.assert_array_equal(text_kernel.words_order(words), want)


def test_sort_packed_is_a_stable_sort_by_the_bits_it_is_given():
    """Keys sorted by bits lo .. hi - 1 only (the bits below lo, a payload, keep their order
    among ties: stability), spans of one pass and several, uneven digits, the top bit set, a
    digit all keys share (no pass), and nothing to sort; the keys given are the sort's to
    overwrite (the result in their buffer or its scratch: odd and even numbers of passes)."""
    rng = np.random.default_rng(5)
    for n, lo, hi in ((0, 3, 9), (1, 0, 64), (6000, 20, 55), (6000, 0, 64), (6000, 40, 57),
                      (6000, 7, 7), (3000, 10, 28), (3000, 10, 42), (3000, 5, 21)):
        value = rng.integers(0, 4, n, dtype=np.uint64) * np.uint64(0x0101_0101_0101)  # ties
        value |= rng.integers(0, 2**62, n, dtype=np.uint64) & np.uint64(0x8000_0000_0F00_00F3)
        span = hi - lo
        value &= np.uint64(2**span - 1) if span < 64 else np.uint64(2**64 - 1)
        payload = rng.integers(0, 2**62, n, dtype=np.uint64) & np.uint64(2**lo - 1)
        keys = (value << np.uint64(lo)) | payload if lo < 64 else payload
        want = keys[np.argsort(value, kind="stable")]
        np.testing.assert_array_equal(text_kernel.sort_packed(keys, lo, hi), want)


@pytest.mark.parametrize("seed", [0, 1])
def test_id_key_values_are_id_keys_and_their_decimals(seed: int):
    """The one-pass keys and values of an id against :func:`text_kernel.id_keys` and its keys'
    bytes read as decimals: leading letters and zeros, look-alike letters (mapped or not, the
    third's edge), one run of digits or several (the tail), runs of zeros, no alnum byte,
    19 digits and more (their values wrap: not compared), ids at an offset into the bytes."""
    rng = random.Random(seed)
    ids = ["", "-", "0", "000", "A0B", "INV-0000", "12-0034", "O0I1", "OOO", "ab12cd", "0123",
           "123", "a-1-2", "1a", "-07", "X-1-00", "AB12345678", "A1B2C3", "1OO", "S5-SS5",
           "9" * 18, "9" * 19 + "-" + "1" * 20, "INV-2024-" + "0" * 30 + "77", "ZZ1I1I1I1"]
    ids += ["".join(rng.choice("0123456789OISBZlosbzAXax-/ .") for _ in range(rng.randint(0, 24)))
            for _ in range(3000)]
    offsets, raw = string_parts(pa.array(["pad"] + ids).slice(1))
    ocr = normalize._OCR_LUT
    size = len(raw)
    al, dg = np.zeros(size, np.uint8), np.zeros(size, np.uint8)
    ref_al, ref_dg = np.zeros(size, np.uint8), np.zeros(size, np.uint8)
    ua = ud = rua = rud = 0
    for i in range(len(ids)):
        a, b = offsets[i], offsets[i + 1]
        a0, d0 = ua, ud
        ua, ud, tail_len, alnum, digits, tail = text_kernel.id_key_values(
            raw, a, b, ocr, al, ua, dg, ud)
        rua, rud, s, e = text_kernel.id_keys(raw, a, b, ocr, ref_al, rua, ref_dg, rud)
        assert (ua, ud, tail_len) == (rua, rud, e - s), ids[i]
        key, dkey, tkey = bytes(ref_al[a0:ua]), bytes(ref_dg[d0:ud]), bytes(raw[s:e])
        canonical = key.isdigit() and not key.startswith(b"0")
        if len(key) <= 18:
            assert alnum == (int(key) if canonical else -1), ids[i]
        if len(dkey) <= 18:
            assert digits == int(dkey or b"0"), ids[i]
        if len(tkey) <= 18:
            assert tail == int(tkey or b"0"), ids[i]
    np.testing.assert_array_equal(al, ref_al)
    np.testing.assert_array_equal(dg, ref_dg)


def test_int_order_is_numpys_stable_argsort(monkeypatch) -> None:
    rng = np.random.default_rng(4)
    monkeypatch.setattr(normalize, "HASH_COMPILED_MIN", 1)  # the radix sort at every size
    for n in (0, 1, 7, 20_000):
        # amount keys as the amount index forms them: a block above bit 42, repeats (ties)
        key = rng.integers(0, 50, n) * (1 << 42) + rng.integers(1, 300, n)
        np.testing.assert_array_equal(normalize.int_order(key), np.argsort(key, kind="stable"))
    negative = np.array([3, -1, 2, -1, 3], np.int64)  # numpy's sort, not the bits' order
    np.testing.assert_array_equal(normalize.int_order(negative), [1, 3, 2, 0, 4])


def _hash64(text: str) -> int:
    """``normalize.string_hash64`` of one string, in Python integers."""
    data, base, mod = text.encode(), int(normalize.HASH_BASE), 1 << 64
    h = (len(data) * base + sum(b * pow(base, j, mod) for j, b in enumerate(data))) % mod
    for m in normalize.HASH_MIX:
        h = ((h ^ (h >> 33)) * int(m)) % mod
    return h ^ (h >> 33)


def test_hash_and_byte_equality_passes_equal_their_references():
    rng = random.Random(11)
    alphabet = "0129AZaz-é€ "
    values = ["".join(rng.choice(alphabet) for _ in range(rng.choice([0, 1, 3, 8, 9, 30])))
              for _ in range(3000)]
    values += values[:200]  # equal strings at other rows
    for arr in (pa.array(values), pa.array(values).slice(17), pa.array(["", ""])):
        offsets, raw = string_parts(arr)
        got = np.empty(len(arr), np.uint64)
        text_kernel.hash64(offsets, raw, normalize.HASH_BASE, normalize.HASH_MIX, got)
        np.testing.assert_array_equal(got, [_hash64(v) for v in arr.to_pylist()])
        np.testing.assert_array_equal(got, normalize.string_hash64(arr))
        ai = np.array([rng.randrange(len(arr)) for _ in range(5000)], np.int64)
        bi = np.array([rng.randrange(len(arr)) for _ in range(5000)], np.int64)
        same = np.empty(len(ai), bool)
        text_kernel.bytes_equal(offsets, raw, ai, offsets, raw, bi, same)
        np.testing.assert_array_equal(same, normalize.strings_equal(arr, ai, arr, bi))
        values_of = arr.to_pylist()
        assert same.tolist() == [values_of[i] == values_of[j] for i, j in zip(ai, bi, strict=True)]


def test_reference_tokens_pass_equals_the_numpy_steps(monkeypatch) -> None:
    rng = random.Random(13)
    words = ["INV", "2026", "0045", "12", "A1B2", "-", " ", "/", "é", "Q3", "01.02.26", "x"]
    refs = ["".join(rng.choice(words) for _ in range(rng.randint(0, 9))) for _ in range(3000)]
    refs += [None, "", "   ", "ONLY"]
    arr = pa.array(refs)
    for text in (arr, arr.slice(11), pa.array([], pa.string()), pa.array([None, "--"])):
        got = _compiled_equals_numpy(monkeypatch, normalize.reference_tokens, text)
        assert len(text) < 100 or got.num_rows > len(text)


@pytest.mark.parametrize("compiled", [False, True])
def test_reference_token_parts_are_the_tokens_columns(monkeypatch, compiled: bool) -> None:
    """``reference_token_parts`` (the compiled pass's arrays, or the numpy steps' table's)
    reads as ``reference_tokens``' columns do."""
    rng = random.Random(19)
    words = ["INV", "2026", "0045", "12", "A1B2", "-", " ", "é", "01.02.26", "x"]
    arr = pa.array(["".join(rng.choice(words) for _ in range(rng.randint(0, 7)))
                    for _ in range(500)] + [None, ""])
    monkeypatch.setattr(normalize, "compiled", lambda *a: compiled)
    for text in (arr, arr.slice(7), pa.array([], pa.string())):
        tokens = normalize.reference_tokens(text)
        pay, a_off, a_raw, d_off, d_raw = normalize.reference_token_parts(text)
        assert pay.dtype == np.int64 and pay.tolist() == tokens.column("pay").to_pylist()
        for (off, raw), name in (((a_off, a_raw), "alnum"), ((d_off, d_raw), "digits")):
            assert normalize.strings_at(off, raw).to_pylist() == tokens.column(name).to_pylist()
            assert off.dtype == np.int32 and raw.dtype == np.uint8


def test_reference_tokens_pass_drops_the_dates_the_regular_expression_does(monkeypatch) -> None:
    """The pass finds ``normalize.DATES`` itself: pieces of dates and periods, run together
    at random, tokenised as after Arrow's (or Python's) replacement of the expression."""
    rng = random.Random(17)
    pieces = ["16", "3", "2026", "19", "20", "99", "1999", "Q", "q", "1", "4", "5", ".", "/",
              "-", " ", "_", "A", "x", "é", "INV", "16.03.2026", "2026-03-16", "Q1/2026",
              "2026 Q1", "2026Q4", "q2-26", "1.2.99", "12/12/20", "2026-3-16", "Q3 2O26"]
    refs = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 12))) for _ in range(20_000)]
    arr = pa.array(refs)
    got = _compiled_equals_numpy(monkeypatch, normalize.reference_tokens, arr)
    monkeypatch.setattr(normalize, "FEW_REGEX", 10**9)  # Python's re, not Arrow's RE2
    monkeypatch.setattr(normalize, "compiled", lambda *a: False)
    assert normalize.reference_tokens(arr).equals(got)
    dropped = pc.replace_substring_regex(pc.utf8_upper(arr), normalize.DATES, " ")
    changed = np.asarray(pc.not_equal(dropped, pc.utf8_upper(arr)), bool)
    assert changed.sum() > 2000  # many dates there


def _compiled_equals_numpy(monkeypatch: pytest.MonkeyPatch, step: Callable[[pa.Array], T],
                           text: pa.Array) -> T:
    """``step(text)`` by the compiled pass, asserted equal to the numpy steps' result."""
    monkeypatch.setattr(normalize, "compiled", lambda *a: False)
    want = step(text)
    monkeypatch.setattr(normalize, "compiled", lambda *a: True)
    got = step(text)
    assert got.equals(want)
    return got


def test_a_pass_of_a_module_still_being_imported_counts_as_not_compiled(monkeypatch) -> None:
    """Another thread importing ``text_kernel`` has put the module in ``sys.modules`` before its
    passes exist: below its threshold size, a pass not yet defined is "not compiled" (the numpy
    steps run), not an AttributeError."""
    import sys
    import types

    half = types.ModuleType("cashmatch.engine.text_kernel")
    monkeypatch.setitem(sys.modules, "cashmatch.engine.text_kernel", half)
    assert normalize.compiled(1, 10, "plain_minor") is False
    assert normalize.compiled(10, 10, "plain_minor") is True
    monkeypatch.setitem(sys.modules, "cashmatch.engine.text_kernel", text_kernel)
    assert normalize.compiled(1, 10, "plain_minor") is bool(text_kernel.plain_minor.overloads)


def test_alnum_upper_pass_equals_the_byte_mask(monkeypatch) -> None:
    """The compiled pass of ``alnum_upper`` keeps the bytes the numpy mask keeps: upper case
    A-Z and digits, nulls empty, every byte of a non-ASCII character dropped (after Arrow's
    upper case, which maps some of them to ASCII: "ı" -> "I")."""
    rng = random.Random(17)
    alphabet = "09AZaz -./_é€ıſ\x00"
    values = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
              for _ in range(3000)] + [None, "", "de89 3704-0044", "ı"]
    arr = pa.array(values)
    for text in (arr, arr.slice(13), pa.array([], pa.string()), pa.array([None, "a-1"])):
        got = _compiled_equals_numpy(monkeypatch, normalize.alnum_upper, text)
    assert got.to_pylist() == ["", "A1"]
    assert normalize.alnum_upper(pa.array(["ı-x"])).to_pylist() == ["IX"]


def test_string_lookup_pass_equals_the_numpy_steps(monkeypatch) -> None:
    """The compiled lookup finds what hashing, reading the buckets and comparing the bytes of
    the equal hashes finds: every text equal to a value, none else, nulls matching nothing;
    also with a bucket for every two values (many hashes in one bucket)."""
    rng = random.Random(5)
    alphabet = "019AZaz-é "
    values = sorted({"".join(rng.choice(alphabet) for _ in range(rng.choice([0, 1, 2, 5, 12])))
                     for _ in range(2000)})
    texts = [rng.choice(values) if rng.random() < 0.6 else
             "".join(rng.choice(alphabet) for _ in range(rng.choice([0, 1, 2, 5, 12])))
             for _ in range(normalize.LOOKUP_PASS_MAX)]  # (as many as it takes)
    lookup = normalize.StringLookup.build(pa.array(values))
    crowded = dataclasses.replace(lookup, shift=lookup.shift + np.uint64(1),
                                  bucket_start=normalize.stable_order(
                                      (lookup.hashes >> (lookup.shift + np.uint64(1))).astype(
                                          np.int64), len(lookup.bucket_start) // 2)[1])
    for table in (lookup, crowded):
        for text in (pa.array(texts), pa.array([None, *texts[:50], None]).slice(1), pa.array([""])):
            monkeypatch.setattr(normalize, "compiled", lambda *a: False)
            want = table.matches(text)
            monkeypatch.setattr(normalize, "compiled", lambda *a: True)
            row, value = table.matches(text)
            np.testing.assert_array_equal(row, want[0])
            np.testing.assert_array_equal(value, want[1])
            found = {(r, v) for r, v in zip(row.tolist(), value.tolist(), strict=True)}
            text_list = text.to_pylist()
            assert found == {(r, values.index(t)) for r, t in enumerate(text_list)
                             if t is not None and t in values}
