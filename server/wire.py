"""Repeated proto messages of string, money and double fields written straight from Arrow
columns in protobuf's wire format (one compiled pass), for responses of many rows: parsing
the bytes back (upb, in C) costs a fraction of building the messages field by field in
Python. Used by :func:`cashmatch.server.convert.allocations_to_proto`; tested against the
field-by-field messages.

Each row is one length-delimited message of field 1 of the enclosing message (``repeated ...
= 1``); within it, string fields (empty or null: absent, as proto3 writes them), money
fields (int64 minor units as the decimal text of ``money.format_minor``) and one double
field (absent when 0.0).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from numba import njit

from cashmatch.engine.errors import InvalidInput
from cashmatch.engine.money import exponent
from cashmatch.engine.normalize import string_parts


@njit(cache=True, nogil=True)
def _varint_size(v: int) -> int:
    size = 1
    while v >= 128:
        v >>= 7
        size += 1
    return size


@njit(cache=True, nogil=True)
def _put_varint(out: np.ndarray, at: int, v: int) -> int:
    while v >= 128:
        out[at] = (v & 127) | 128
        v >>= 7
        at += 1
    out[at] = v
    return at + 1


@njit(cache=True, nogil=True)
def _digits(v: int) -> int:
    size = 1
    while v >= 10:
        v //= 10
        size += 1
    return size


@njit(cache=True, nogil=True)
def _money_size(v: int, e: int) -> int:
    mag = -v if v < 0 else v
    scale = 10**e
    return (v < 0) + _digits(mag // scale) + (1 + e if e else 0)


@njit(cache=True, nogil=True)
def _put_money(out: np.ndarray, at: int, v: int, e: int, size: int) -> None:
    """``money.format_minor(v, e)``'s text, ``size`` bytes, from ``out[at]``."""
    mag = -v if v < 0 else v
    if v < 0:
        out[at] = 45  # "-"
    end = at + size
    t = end - 1
    for _ in range(e):  # the decimals, zero-padded
        out[t] = 48 + mag % 10
        mag //= 10
        t -= 1
    if e:
        out[t] = 46  # "."
        t -= 1
    while True:
        out[t] = 48 + mag % 10
        mag //= 10
        t -= 1
        if mag == 0:
            break


@njit(cache=True, nogil=True)
def _encode(str_fields: np.ndarray, offsets: np.ndarray, str_null: np.ndarray, raw: np.ndarray,
            money_fields: np.ndarray, money: np.ndarray, money_null: np.ndarray,
            exps: np.ndarray, double_field: int, double_bits: np.ndarray) -> np.ndarray:
    """The rows as messages (see the module): string field ``k`` of row ``i`` is
    ``raw[offsets[k, i]:offsets[k, i + 1]]`` (absent where ``str_null[k, i]``, when given);
    money field ``k`` is ``money[k, i]`` (absent where ``money_null[k, i]``, when given)."""
    n = len(exps)
    lengths = offsets[:, 1:] - offsets[:, :-1]
    if len(str_null):
        for k in range(len(str_fields)):
            for i in range(n):
                if str_null[k, i]:
                    lengths[k, i] = 0
    sizes = np.zeros(n, np.int64)
    msizes = np.zeros((len(money_fields), n), np.int64)
    total = 0
    for i in range(n):
        s = 0
        for k in range(len(str_fields)):
            ln = lengths[k, i]
            if ln:
                s += _varint_size(str_fields[k] << 3) + _varint_size(ln) + ln
        for k in range(len(money_fields)):
            if not (len(money_null) and money_null[k, i]):
                ln = _money_size(money[k, i], exps[i])
                msizes[k, i] = ln
                s += _varint_size(money_fields[k] << 3) + _varint_size(ln) + ln
        if double_field and double_bits[i]:
            s += _varint_size(double_field << 3) + 8
        sizes[i] = s
        total += 1 + _varint_size(s) + s
    out = np.empty(total, np.uint8)
    at = 0
    for i in range(n):
        out[at] = 10  # field 1, length-delimited
        at = _put_varint(out, at + 1, sizes[i])
        # fields in number order: strings and money merged by number, then the double
        k_s, k_m = 0, 0
        while k_s < len(str_fields) or k_m < len(money_fields):
            take_str = k_m >= len(money_fields) or (
                k_s < len(str_fields) and str_fields[k_s] < money_fields[k_m])
            if take_str:
                ln = lengths[k_s, i]
                if ln:
                    at = _put_varint(out, at, (str_fields[k_s] << 3) | 2)
                    at = _put_varint(out, at, ln)
                    a = offsets[k_s, i]
                    out[at : at + ln] = raw[a : a + ln]
                    at += ln
                k_s += 1
            else:
                if not (len(money_null) and money_null[k_m, i]):
                    ln = msizes[k_m, i]
                    at = _put_varint(out, at, (money_fields[k_m] << 3) | 2)
                    at = _put_varint(out, at, ln)
                    _put_money(out, at, money[k_m, i], exps[i], ln)
                    at += ln
                k_m += 1
        if double_field and double_bits[i]:
            at = _put_varint(out, at, (double_field << 3) | 1)
            b = double_bits[i]
            for j in range(8):  # little-endian
                out[at + j] = (b >> np.uint64(8 * j)) & np.uint64(255)
            at += 8
    return out


def _exponents(currency: pa.ChunkedArray) -> np.ndarray:
    """Per row, the minor-unit exponent of its currency (2 where unusable or absent, as
    ``money.format_minor_array``)."""

    def of(code: str | None) -> int:
        try:
            return exponent(code or "")
        except InvalidInput:
            return 2

    return np.fromiter(map(of, currency.to_pylist()), np.int64, len(currency))


def _nulls(columns: list[pa.Array]) -> np.ndarray:
    """(columns, rows) null flags; empty when no column has a null."""
    if not any(c.null_count for c in columns):
        return np.zeros((0, 0), bool)
    return np.array([np.asarray(c.is_null(), bool) for c in columns], bool)


def repeated(table: pa.Table, strings: dict[str, int], money: dict[str, int], currency: str,
             double: tuple[str, int] | None) -> bytes:
    """The rows of ``table`` as field 1 (repeated) of a message, in wire format: the string
    columns ``strings`` and the money columns ``money`` (in the row's ``currency``) by field
    number, and ``double`` (column, field number)."""
    n = table.num_rows
    str_cols = sorted(strings.items(), key=lambda kv: kv[1])
    money_cols = sorted(money.items(), key=lambda kv: kv[1])
    cols = [table.column(name).combine_chunks() for name, _ in str_cols]
    offsets = np.empty((len(cols), n + 1), np.int64)
    parts, base = [], 0
    for k, col in enumerate(cols):  # the columns' bytes one after another
        off, raw = string_parts(col)
        offsets[k] = off
        offsets[k] += base - off[0]
        parts.append(raw[off[0] : off[-1]])
        base += int(off[-1] - off[0])
    m_cols = [table.column(name).combine_chunks() for name, _ in money_cols]
    amounts = np.empty((len(m_cols), n), np.int64)
    for k, col in enumerate(m_cols):
        amounts[k] = np.asarray(col.fill_null(0) if col.null_count else col, np.int64)
    if double is not None:
        d = table.column(double[0]).combine_chunks()
        bits = np.asarray(d.fill_null(0.0) if d.null_count else d, np.float64).view(np.uint64)
    else:
        bits = np.zeros(n, np.uint64)
    out = _encode(
        np.array([f for _, f in str_cols], np.int64), offsets, _nulls(cols),
        np.concatenate(parts) if parts else np.zeros(0, np.uint8),
        np.array([f for _, f in money_cols], np.int64), amounts, _nulls(m_cols),
        _exponents(table.column(currency)), 0 if double is None else double[1],
        np.array(bits),  # (a writable copy: one signature)
    )
    return out.tobytes()


def warm() -> None:
    """Compile (or load from numba's cache) the pass, for a long-lived process as it starts."""
    table = pa.table({"s": ["a"], "m": pa.array([-5], pa.int64()), "c": ["EUR"], "d": [0.5]})
    repeated(table, {"s": 1, "c": 2}, {"m": 3}, "c", ("d", 4))
