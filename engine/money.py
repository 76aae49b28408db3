"""Money: integer minor units per ISO 4217 exponent; Decimal strings only at the edges.

The vectorised converters turn Arrow string columns of decimal amounts into int64 minor units
(and back) without a Python loop per row.
"""

from __future__ import annotations

import functools
from decimal import Decimal, InvalidOperation

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cashmatch.engine.errors import InvalidInput
from cashmatch.engine.normalize import compiled, string_parts

# ISO 4217 minor-unit exponents. Currencies not listed here have two decimals.
_EXPONENT_OVERRIDES: dict[str, int] = {
    # zero decimals
    "BIF": 0,
    "CLP": 0,
    "DJF": 0,
    "GNF": 0,
    "ISK": 0,
    "JPY": 0,
    "KMF": 0,
    "KRW": 0,
    "PYG": 0,
    "RWF": 0,
    "UGX": 0,
    "UYI": 0,
    "VND": 0,
    "VUV": 0,
    "XAF": 0,
    "XOF": 0,
    "XPF": 0,
    # three decimals
    "BHD": 3,
    "IQD": 3,
    "JOD": 3,
    "KWD": 3,
    "LYD": 3,
    "OMR": 3,
    "TND": 3,
    # four decimals
    "CLF": 4,
    "UYW": 4,
}
MAX_EXPONENT = 4
KERNEL_ROWS = 1 << 14  # parse_plain_minor compiles from this many rows (numba loads once)
_POW10 = 10 ** np.arange(MAX_EXPONENT + 1, dtype=np.int64)


@functools.lru_cache(maxsize=512)
def exponent(currency: str) -> int:
    """The ISO 4217 minor-unit exponent of ``currency`` (JPY 0, USD 2, KWD 3); remembered for
    the codes last seen (scalar conversions call it once per amount)."""
    code = currency.strip().upper()
    if len(code) != 3 or not code.isascii() or not code.isalpha():
        raise InvalidInput(f"currency {currency!r} is not an ISO 4217 code (three letters)")
    return _EXPONENT_OVERRIDES.get(code, 2)


def to_minor(amount: str | Decimal | int, currency: str) -> int:
    """Exact conversion of a decimal amount to integer minor units; rejects extra precision."""
    try:
        value = Decimal(str(amount).strip())
    except InvalidOperation as exc:
        raise InvalidInput(f"amount {amount!r} is not a decimal number") from exc
    if not value.is_finite():
        raise InvalidInput(f"amount {amount!r} is not a finite number")
    scaled = value.scaleb(exponent(currency))
    if scaled != scaled.to_integral_value():
        raise InvalidInput(
            f"amount {amount!r} has more decimals than {currency} allows ({exponent(currency)})"
        )
    return int(scaled)


def to_decimal(minor: int, currency: str) -> Decimal:
    return Decimal(int(minor)).scaleb(-exponent(currency))


def format_minor(minor: int, currency: str) -> str:
    """``123450, 'USD'`` -> ``'1234.50'``; ``180318, 'JPY'`` -> ``'180318'``."""
    e = exponent(currency)
    sign = "-" if minor < 0 else ""
    q, r = divmod(abs(int(minor)), 10**e)
    return f"{sign}{q}.{r:0{e}d}" if e else f"{sign}{q}"


# --------------------------------------------------------------------------- vectorised

_AMOUNT_RE = r"^[+-]?[0-9]+(\.[0-9]*)?$|^[+-]?\.[0-9]+$"


def exponents_of(currencies: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Exponent per row (int8); -1 where the code is not three letters A-Z (trimmed, in any
    case) or is absent. Codes of three capitals, the usual case, are looked up by their
    letters (no hashing of every row); others once per distinct code."""
    cur = currencies.combine_chunks() if isinstance(currencies, pa.ChunkedArray) else currencies
    if not len(cur):
        return np.zeros(0, np.int8)
    if pa.types.is_string(cur.type) and not cur.null_count:
        offsets, raw = string_parts(cur)
        if offsets[-1] - offsets[0] == 3 * len(cur) and (np.diff(offsets) == 3).all():
            data = raw[offsets[0] : offsets[-1]]
            letters = data.reshape(-1, 3) - ord("A")  # (uint8: below "A" wraps past 25)
            if (letters < 26).all():
                code = (letters[:, 0].astype(np.int32) * 26 + letters[:, 1]) * 26 + letters[:, 2]
                return letter_code_exponents()[code]
    enc = pc.dictionary_encode(cur)
    exps = np.array([_code_exponent(c) for c in enc.dictionary.to_pylist()] + [-1], np.int8)
    return exps[np.asarray(pc.fill_null(enc.indices, len(enc.dictionary)), np.int64)]


def minor_exponents(currencies: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """The decimals :func:`format_minor_array` writes per row (2 where the code is not three
    letters): for a table of several amount columns in the same currencies, looked up once."""
    exps = exponents_of(currencies)
    exps[exps < 0] = 2
    return exps


def _code_exponent(code: str | None) -> int:
    try:
        return exponent(code) if code is not None else -1
    except InvalidInput:
        return -1


@functools.cache
def letter_code_exponents() -> np.ndarray:
    """The exponent of every code of three capitals, indexed by its letters in base 26."""
    az = [chr(c) for c in range(ord("A"), ord("Z") + 1)]
    return np.array([exponent(a + b + c) for a in az for b in az for c in az], np.int8)


def parse_minor_array(
    amounts: pa.Array | pa.ChunkedArray, currencies: pa.Array | pa.ChunkedArray
) -> tuple[np.ndarray, np.ndarray]:
    """Decimal strings -> int64 minor units, per row currency.

    Returns ``(values, error)``: ``error`` is an object array with ``None`` where the row
    converted, else a reason. Empty or null amounts are errors (the caller decides whether the
    column is optional). Vectorised; no Python loop per row.
    """
    n = len(amounts)
    text = pc.utf8_trim_whitespace(pc.cast(amounts, pa.string()))
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    exps = exponents_of(currencies)
    errors = np.full(n, None, dtype=object)
    if n and text.null_count == 0 and exps.min() >= 0:  # a clean column: no row to explain
        values = parse_plain_minor(text, exps.astype(np.int64))
        if values is not None:
            return values, errors
    errors[exps < 0] = "currency is not an ISO 4217 code"
    well_formed = np.asarray(
        pc.fill_null(pc.match_substring_regex(text, _AMOUNT_RE), False), dtype=bool
    )
    errors[~well_formed & (exps >= 0)] = "expected a decimal amount like 1234.50"
    neg = np.asarray(pc.fill_null(pc.starts_with(text, "-"), False), dtype=bool)
    digits = pc.replace_substring_regex(pc.fill_null(text, ""), r"^[+-]", "")
    pieces = pc.extract_regex(
        pc.if_else(pa.array(well_formed), digits, "0"), r"^(?P<i>[0-9]*)\.?(?P<f>[0-9]*)$"
    )
    int_part = pc.struct_field(pieces, "i")
    frac_part = pc.struct_field(pieces, "f")
    frac_part = pc.replace_substring_regex(frac_part, r"0+$", "")
    frac_len = np.asarray(pc.utf8_length(frac_part), dtype=np.int64)
    too_precise = well_formed & (exps >= 0) & (frac_len > exps)
    errors[too_precise] = "more decimals than the currency allows"
    ok = well_formed & (exps >= 0) & ~too_precise
    int_len = np.asarray(pc.utf8_length(int_part), dtype=np.int64)
    overflow = ok & (int_len + exps > 17)
    errors[overflow] = "amount too large"
    ok &= ~overflow
    values = np.zeros(n, dtype=np.int64)
    if ok.any():
        mask = pa.array(ok)
        ip = pc.filter(int_part, mask)
        ip = pc.if_else(pc.equal(ip, ""), "0", ip)
        fp = pc.filter(frac_part, mask)
        e = exps[ok].astype(np.int64)
        ivals = np.asarray(pc.cast(ip, pa.int64()), dtype=np.int64)
        fp_padded = pc.utf8_rpad(fp, width=MAX_EXPONENT, padding="0")
        fvals = np.asarray(pc.cast(fp_padded, pa.int64()), dtype=np.int64)
        fvals = fvals // 10 ** (MAX_EXPONENT - e)
        v = ivals * (10**e) + fvals
        v[neg[ok]] *= -1
        values[ok] = v
    return values, errors


def parse_plain_minor(
    text: pa.Array,
    exps: np.ndarray,
    *,
    out: np.ndarray | None = None,
    kernel: bool | None = None,
) -> np.ndarray | None:
    """Plain decimal strings (``-1234.5``, nulls allowed) -> int64 minor units, exactly.

    The fast path of :func:`parse_minor_array` for clean files: only short texts of the bytes
    ``0-9 . -``, which a compiled pass converts from ``KERNEL_ROWS`` rows and below that Arrow
    casts to a decimal with the currency's number of decimals and at
    most 17 digits (it refuses extra decimals and overflow); the unscaled value is the amount
    in minor units. ``exps`` is the exponent per row. Returns ``None`` when any row does
    not convert: the careful parser then says which row and why. Nulls come out as 0. The
    values are written into ``out`` (int64, one per row) when given. ``kernel`` takes the
    compiled pass or not whatever the size (a large file's blocks, of any size).
    """
    if not pa.types.is_string(text.type):
        return None
    n = len(text)
    values = np.empty(n, np.int64) if out is None else out
    if n == 0 or text.null_count == n:
        values[:] = 0
        return values
    offsets, raw = string_parts(text)
    if kernel is None:
        kernel = compiled(n, KERNEL_ROWS, "plain_minor")
    if kernel:  # one pass over the bytes, ~10x Arrow's cast
        from cashmatch.engine.text_kernel import plain_minor

        null = np.asarray(text.is_null(), bool) if text.null_count else np.zeros(0, bool)
        return values if plain_minor(offsets, raw, exps, null, values) else None
    data = raw[offsets[0] : offsets[-1]]
    if not ((data >= ord("-")) & (data <= ord("9"))).all() or (data == ord("/")).any():
        return None
    if int(np.diff(offsets).max()) + int(exps.max()) > 17:
        return None  # long text (leading zeros?): the careful parser's size rule decides
    one = int(exps.min()) == int(exps.max())
    # one currency exponent: Arrow's decimal has exactly its decimals; several: four decimals
    # (at most 14 integer digits, so the unscaled value fits int64), then each row's extra
    # places must be zeros and are divided away
    scale = int(exps[0]) if one else MAX_EXPONENT
    try:
        dec = pc.cast(text, pa.decimal128(17 if one else 18, scale))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    # low 64 bits of each 128-bit unscaled value (17 or 18 digits always fit)
    unscaled = np.frombuffer(dec.buffers()[1], np.int64)[
        2 * dec.offset : 2 * (dec.offset + len(dec)) : 2
    ]
    if one:
        values[:] = unscaled
    else:
        extra = _POW10[MAX_EXPONENT - exps]
        np.floor_divide(unscaled, extra, out=values)
        exact = values * extra == unscaled
        if text.null_count:
            exact |= np.asarray(text.is_null(), bool)
        if not exact.all():
            return None  # more decimals than the currency allows
    if text.null_count:
        values[np.asarray(text.is_null(), bool)] = 0
    return values


def format_minor_array(
    values: np.ndarray | pa.Array | pa.ChunkedArray, currencies: pa.Array | pa.ChunkedArray
) -> pa.Array:
    """int64 minor units -> decimal strings, per row currency (vectorised)."""
    return decimal_text(values, minor_exponents(currencies))




def decimal_text(
    values: np.ndarray | pa.Array | pa.ChunkedArray, exps: np.ndarray | int
) -> pa.Array:
    """int64 ``values`` with ``exps`` implied decimals (one per row, or one for all) as
    decimal strings: ``-1234.50``, ``180318``, ``0.0005``. From ``KERNEL_ROWS`` rows one
    compiled pass writes the text; below, Arrow casts and joins its pieces (the same text)."""
    v = np.asarray(values, dtype=np.int64)
    e = np.broadcast_to(np.asarray(exps, dtype=np.int64), v.shape)
    if compiled(len(v), KERNEL_ROWS, "decimal_text"):
        from cashmatch.engine.text_kernel import decimal_text as kernel

        offsets, data = kernel(v, np.ascontiguousarray(e))
        if offsets[-1] < 2**31:
            offsets, kind = offsets.astype(np.int32), pa.StringArray
        else:  # (over 2 GiB of text)
            kind = pa.LargeStringArray
        return kind.from_buffers(len(v), pa.py_buffer(offsets), pa.py_buffer(data))
    return _decimal_text_arrow(v, e)


def _decimal_text_arrow(v: np.ndarray, e: np.ndarray) -> pa.Array:
    """:func:`decimal_text` by Arrow's casts and joins (the compiled pass's reference)."""
    mag = np.abs(v)
    scale = 10**e
    whole = pc.cast(pa.array(mag // scale), pa.string())
    frac_raw = pc.cast(pa.array(mag % scale + scale), pa.string())  # "1" + zero-padded digits
    frac = pc.utf8_slice_codeunits(frac_raw, 1)
    sign = pa.array(np.where(v < 0, "-", ""))
    dot = pa.array(np.where(e > 0, ".", ""))
    return pc.binary_join_element_wise(sign, whole, dot, frac, "")


def sums_by_code(
    codes: np.ndarray, values: np.ndarray, n: int, mask: np.ndarray | None = None
) -> np.ndarray:
    """Exact int64 sums of money by group: ``values`` (minor units) summed per code in
    ``range(n)``, optionally under ``mask``.

    ``np.bincount`` sums in float64, which is exact while every partial sum stays below 2**53:
    checked from the largest magnitude. Otherwise the values are split into a low 24-bit part
    and the rest, summed apart and recombined as integers. Several times faster than
    ``np.add.at``; a mask zeroes values rather than copying the rows it keeps.
    """
    if len(values) == 0:
        return np.zeros(n, dtype=np.int64)
    values = np.asarray(values, dtype=np.int64)
    if mask is not None:
        values = np.where(mask, values, 0)
    big = max(abs(int(values.min())), abs(int(values.max())), 1)
    if big * len(values) < 2**53:
        return np.bincount(codes, weights=values, minlength=n)[:n].astype(np.int64)
    low = values & 0xFFFFFF
    high = values >> 24
    big_high = max(abs(int(high.min())), abs(int(high.max())), 1)
    if len(values) * big_high >= 2**52 or len(values) >= 2**28:  # (the low parts' sum too)
        out = np.zeros(n, dtype=np.int64)
        np.add.at(out, codes, values)
        return out
    lo_sum = np.bincount(codes, weights=low, minlength=n)[:n].astype(np.int64)
    hi_sum = np.bincount(codes, weights=high, minlength=n)[:n].astype(np.int64)
    return (hi_sum << 24) + lo_sum
