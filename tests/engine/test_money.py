from decimal import Decimal
from unittest.mock import patch

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cashmatch.engine import money
from cashmatch.engine.errors import InvalidInput
from cashmatch.engine.money import (
    exponent,
    format_minor,
    format_minor_array,
    parse_minor_array,
    parse_plain_minor,
    sums_by_code,
    to_minor,
)


def test_exponents_follow_iso_4217():
    assert (exponent("JPY"), exponent("USD"), exponent("KWD"), exponent("eur")) == (0, 2, 3, 2)
    with pytest.raises(InvalidInput):
        exponent("US")


def test_exponents_per_row_minus_one_where_unusable_or_absent():
    codes = pa.chunked_array([["EUR", None, "JPY"], ["??", "KWD", "JPY", None, "", " kwd"]])
    assert money.exponents_of(codes).tolist() == [2, -1, 0, -1, 3, 0, -1, -1, 3]
    assert money.minor_exponents(codes).tolist() == [2, 2, 0, 2, 3, 0, 2, 2, 3]
    assert money.exponents_of(codes.chunk(0)).tolist() == [2, -1, 0]


CODES = ["USD", "JPY", "KWD", "usd", " EUR", "ÄÖÜ", "US", "@AB", "", None]


@given(st.lists(st.sampled_from(CODES), max_size=30))
def test_exponents_of_every_row_is_exponent_of_its_code(codes):
    """Both ways of looking codes up (by their letters when all are three capitals, else once
    per distinct code) give what the scalar ``exponent`` gives, -1 where it refuses."""
    def one(code):
        try:
            return exponent(code) if code is not None else -1
        except InvalidInput:
            return -1

    want = [one(c) for c in codes]
    assert money.exponents_of(pa.array(codes, pa.string())).tolist() == want
    capitals = [c for c in codes if c is not None and len(c) == 3 and c.isascii() and c.isupper()]
    got = money.exponents_of(pa.array(capitals, pa.string()))
    assert got.tolist() == [one(c) for c in capitals]


@pytest.mark.parametrize(
    ("text", "cur", "minor"),
    [("1234.50", "USD", 123450), ("180318", "JPY", 180318), ("7.125", "KWD", 7125),
     ("-0.05", "EUR", -5), (".5", "USD", 50), ("12.", "USD", 1200), ("1.230", "USD", 123)],
)
def test_exact_conversion_both_ways(text, cur, minor):
    assert to_minor(text, cur) == minor
    values, errors = parse_minor_array(pa.array([text]), pa.array([cur]))
    assert values[0] == minor and errors[0] is None
    assert Decimal(format_minor(minor, cur)) == Decimal(text)


@pytest.mark.parametrize(
    ("text", "cur", "reason"),
    [("1.234", "USD", "more decimals"), ("1.5", "JPY", "more decimals"), ("1e5", "USD", "decimal"),
     ("abc", "USD", "decimal"), ("1,5", "EUR", "decimal"), ("5", "XX", "ISO 4217")],
)
def test_bad_amounts_are_reported_per_row(text, cur, reason):
    values, errors = parse_minor_array(pa.array(["1.00", text]), pa.array(["USD", cur]))
    assert errors[0] is None and values[0] == 100
    assert reason in errors[1]


@settings(deadline=None)  # timings are never asserted: a loaded machine must not fail it
@given(st.lists(st.tuples(st.integers(-10**15, 10**15), st.sampled_from(["USD", "JPY", "KWD"])),
                max_size=50))
def test_vectorised_round_trip(rows):
    minor = np.array([m for m, _ in rows], dtype=np.int64)
    cur = pa.array([c for _, c in rows], pa.string())
    text = format_minor_array(minor, cur)
    assert text.to_pylist() == [format_minor(int(m), c) for m, c in rows]
    back, errors = parse_minor_array(text, cur)
    assert (back == minor).all() and all(e is None for e in errors)


@settings(deadline=None)
@given(st.lists(st.tuples(st.integers(-10**17, 10**17), st.integers(0, 4)), max_size=60))
def test_decimal_text_compiled_pass_equals_the_arrow_reference(rows):
    """The compiled pass that writes amounts (and ratios) as text gives Arrow's text exactly,
    with each row's own number of decimals: signs, zeros, leading zeros of the decimals."""
    from cashmatch.engine.text_kernel import decimal_text as kernel

    rows += [(0, 0), (0, 2), (-5, 4), (5, 4), (-100, 2), (10**17, 4), (-1, 0)]
    v = np.array([x for x, _ in rows], np.int64)
    e = np.array([x for _, x in rows], np.int64)
    offsets, data = kernel(v, e)
    got = pa.StringArray.from_buffers(
        len(v), pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data)
    )
    want = money._decimal_text_arrow(v, e)
    assert got.to_pylist() == want.to_pylist()
    edges = ["0", "0.00", "-0.0005", "0.0005", "-1.00", "10000000000000.0000", "-1"]
    assert want.to_pylist()[-7:] == edges
    assert money.decimal_text(v, e).to_pylist() == want.to_pylist()  # either way it goes


_PLAINISH = st.one_of(
    st.decimals(-10**16, 10**16, places=4, allow_nan=False).map(str),
    st.from_regex(r"\A[+-]?[0-9]{0,19}(\.[0-9]{0,6})?\Z"),
    st.from_regex(r"\A-?[0-9]{0,6}(\.[0-9]{0,5})?\Z"),  # short: within the size rule
    st.text(alphabet="0123456789.-+ e,x", max_size=22),
)


@settings(deadline=None)
@given(st.lists(st.tuples(_PLAINISH, st.sampled_from(["USD", "JPY", "KWD", "CLF"])),
                min_size=1, max_size=30), st.sampled_from([1 << 30, 0]))
def test_plain_fast_path_agrees_with_the_careful_parser(rows, kernel_rows):
    """parse_plain_minor either declines (None) or gives exactly what parse_minor_array gives,
    and it declines whenever the careful parser finds any problem: Arrow's cast for short
    columns and the compiled pass (``KERNEL_ROWS`` lowered to 0) alike."""
    text = pa.array([t for t, _ in rows], pa.string())
    cur = pa.array([c for _, c in rows], pa.string())
    careful, errors = parse_minor_array(text, cur)
    with patch.object(money, "KERNEL_ROWS", kernel_rows):
        fast = parse_plain_minor(text, np.array([exponent(c) for _, c in rows], np.int64))
    if any(e is not None for e in errors):
        assert fast is None
    elif fast is not None:
        assert fast.tolist() == careful.tolist()


def test_plain_fast_path_takes_clean_columns_and_nulls():
    text = pa.array(["1234.50", "-.5", "12.", None, "0.10"])
    for kernel_rows in (1 << 30, 0):
        with patch.object(money, "KERNEL_ROWS", kernel_rows):
            got = parse_plain_minor(text, np.array([2, 2, 0, 2, 3]))
        assert got.tolist() == [123450, -50, 12, 0, 100]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 6), st.integers(-(2**62), 2**62) | st.integers(-999, 999)),
        max_size=40,
    ),
    st.booleans(),
)
def test_sums_by_code_are_exact_integer_sums(rows, masked):
    """Money summed by group equals Python's integer sums, at magnitudes where float64 is not
    exact (the 24-bit split and the ``np.add.at`` fallback) and small ones (bincount)."""
    codes = np.array([c for c, _ in rows], dtype=np.int64)
    values = np.array([v for _, v in rows], dtype=np.int64)
    mask = (np.arange(len(rows)) % 3 != 0) if masked else None
    want = [0] * 7
    for i, (c, v) in enumerate(rows):
        if mask is None or mask[i]:
            want[c] += v
    want = [(w + 2**63) % 2**64 - 2**63 for w in want]  # (int64 arithmetic wraps)
    got = sums_by_code(codes, values, 7, mask)
    assert got.dtype == np.int64 and got.tolist() == want


def test_sums_by_code_past_float_precision():
    big = 2**53 + 1  # float64 cannot hold it: a float sum would round
    got = sums_by_code(np.array([0, 0, 1]), np.array([big, 1, 3], dtype=np.int64), 2)
    assert got.tolist() == [2**53 + 2, 3]
