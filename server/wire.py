"""Protobuf's wire format to and from Arrow columns, in one compiled pass each, for messages
of many rows: the string fields of serialised messages read as one Arrow array
(:func:`string_fields`: a request's payments), and rows of string, money and double fields
written as repeated messages (:func:`repeated`: a response's allocations and exceptions;
parsing the bytes back, upb in C, costs a fraction of building the messages field by field in
Python). Both are tested against the messages' own fields.

In :func:`repeated`, each row is one length-delimited message of a repeated field of the
enclosing message (field 1 unless told: ``repeated ... = 1``); within it, string fields
(empty or null: absent, as proto3 writes them), money fields (int64 minor units as the
decimal text of ``money.format_minor``) and one double field (absent when 0.0).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cashmatch.engine.kernel_cache import njit
from cashmatch.engine.money import letter_code_exponents, minor_exponents
from cashmatch.engine.normalize import string_parts
from cashmatch.engine.schema import flat
from cashmatch.engine.text_kernel import plain_minor


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
def _copy(out: np.ndarray, at: int, src: np.ndarray, a: int, n: int) -> None:
    """``out[at:at + n] = src[a:a + n]`` byte by byte (a compiled slice assignment costs ~20 ns
    to set up: most of a copy of the few bytes of a field, a thousand times a message)."""
    for t in range(n):
        out[at + t] = src[a + t]


@njit(cache=True, nogil=True)
def _is_null(valid: np.ndarray, bit: int) -> bool:
    """Is the value of bit ``bit`` of the validity bitmap ``valid`` null (none when empty)?"""
    return len(valid) > 0 and not (valid[bit >> 3] >> (bit & 7)) & 1


@njit(cache=True, nogil=True)
def _encode(
    str_fields: np.ndarray,
    offsets: np.ndarray,
    valid: np.ndarray,
    valid_at: int,
    raw: np.ndarray,
    money_fields: np.ndarray,
    money: np.ndarray,
    money_null: np.ndarray,
    exps: np.ndarray,
    double_field: int,
    double_bits: np.ndarray,
    list_fields: np.ndarray,
    list_rows: np.ndarray,
    list_offsets: np.ndarray,
    packed_field: int,
    packed_rows: np.ndarray,
    packed_bits: np.ndarray,
    field: int,
) -> np.ndarray:
    """The rows as messages of the repeated field ``field`` (see the module): string field
    ``k`` of row ``i`` is value ``j = k * n + i`` of one string array, ``raw[offsets[j]:
    offsets[j + 1]]`` (absent where bit ``valid_at + j`` of its validity bitmap ``valid`` is
    0, when it has one);
    money field ``k`` is ``money[k, i]`` (absent where ``money_null[k, i]``, when given);
    repeated string field ``k`` has the elements ``list_rows[k, 0, i] .. list_rows[k, 1, i] -
    1``, element ``e`` being ``raw[list_offsets[e]:list_offsets[e + 1]]``; the packed double
    field, ``packed_bits[packed_rows[0, i]:packed_rows[1, i]]`` (absent when empty)."""
    n = len(exps)
    key = (field << 3) | 2  # length-delimited
    starts = np.empty((len(str_fields), n), np.int64)
    lengths = np.empty((len(str_fields), n), np.int64)
    for k in range(len(str_fields)):
        for i in range(n):
            j = k * n + i
            starts[k, i] = offsets[j]
            lengths[k, i] = 0 if _is_null(valid, valid_at + j) else offsets[j + 1] - offsets[j]
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
        for k in range(len(list_fields)):
            for e in range(list_rows[k, 0, i], list_rows[k, 1, i]):
                ln = list_offsets[e + 1] - list_offsets[e]
                s += _varint_size(list_fields[k] << 3) + _varint_size(ln) + ln
        count = packed_rows[1, i] - packed_rows[0, i]
        if packed_field and count:
            s += _varint_size(packed_field << 3) + _varint_size(8 * count) + 8 * count
        sizes[i] = s
        total += _varint_size(key) + _varint_size(s) + s
    out = np.empty(total, np.uint8)
    at = 0
    for i in range(n):
        at = _put_varint(out, at, key)
        at = _put_varint(out, at, sizes[i])
        # fields in number order: strings and money merged by number, then the double
        k_s, k_m = 0, 0
        while k_s < len(str_fields) or k_m < len(money_fields):
            take_str = k_m >= len(money_fields) or (
                k_s < len(str_fields) and str_fields[k_s] < money_fields[k_m]
            )
            if take_str:
                ln = lengths[k_s, i]
                if ln:
                    at = _put_varint(out, at, (str_fields[k_s] << 3) | 2)
                    at = _put_varint(out, at, ln)
                    a = starts[k_s, i]
                    _copy(out, at, raw, a, ln)
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
            at = _put_double(out, at, double_bits[i])
        for k in range(len(list_fields)):  # (after the others: parsers take any order)
            for e in range(list_rows[k, 0, i], list_rows[k, 1, i]):
                a, ln = list_offsets[e], list_offsets[e + 1] - list_offsets[e]
                at = _put_varint(out, at, (list_fields[k] << 3) | 2)
                at = _put_varint(out, at, ln)
                _copy(out, at, raw, a, ln)
                at += ln
        count = packed_rows[1, i] - packed_rows[0, i]
        if packed_field and count:
            at = _put_varint(out, at, (packed_field << 3) | 2)
            at = _put_varint(out, at, 8 * count)
            for e in range(packed_rows[0, i], packed_rows[1, i]):
                at = _put_double(out, at, packed_bits[e])
    return out


@njit(cache=True, nogil=True)
def _put_double(out: np.ndarray, at: int, bits: np.uint64) -> int:
    for j in range(8):  # little-endian
        out[at + j] = (bits >> np.uint64(8 * j)) & np.uint64(255)
    return at + 8


@njit(cache=True, nogil=True)
def _read_varint(buf: np.ndarray, at: int) -> tuple[int, int]:
    v, shift = 0, 0
    while True:
        b = buf[at]
        v |= (b & 127) << shift
        at += 1
        if b < 128:
            return v, at
        shift += 7


@njit(cache=True, nogil=True)
def _field_at(buf: np.ndarray, at: int) -> tuple[int, int, int]:
    """The field whose key starts at ``buf[at]``: its number, where its value starts and, when
    it is length-delimited, its size (else -1, and where the value ends)."""
    key, at = _read_varint(buf, at)
    kind = key & 7
    if kind == 0:
        _, at = _read_varint(buf, at)
        return key >> 3, at, -1
    if kind == 1:
        return key >> 3, at + 8, -1
    if kind == 5:
        return key >> 3, at + 4, -1
    size, at = _read_varint(buf, at)  # 2: length-delimited (groups, 3 and 4, are not proto3)
    return key >> 3, at, size


@njit(cache=True, nogil=True)
def _decode(
    buf: np.ndarray, starts: np.ndarray, ends: np.ndarray, wanted: np.ndarray, space: np.ndarray
) -> tuple[np.ndarray, np.ndarray, bool]:
    """The fields numbered ``wanted[k]`` (length-delimited) of the messages ``buf[starts[i]:
    ends[i]]``, as one string array's offsets and bytes, field after field (k-major), each
    message's last occurrence (proto3's rule for a singular field); absent fields empty.
    Other fields are skipped by their wire type. The bytes ``space[b]`` (a byte table, or
    empty) are trimmed off both ends of each value; also whether a value then starts or ends
    with a character of more than one byte."""
    n, n_k = len(ends), len(wanted)
    slot = np.full(max(wanted.max() + 1, 1) if n_k else 1, -1, np.int64)
    for k in range(n_k):
        slot[wanted[k]] = k
    start = np.zeros((n_k, n), np.int64)
    length = np.zeros((n_k, n), np.int64)
    for i in range(n):
        at = starts[i]
        while at < ends[i]:
            field, at, size = _field_at(buf, at)
            if size >= 0:
                if field < len(slot) and slot[field] >= 0:
                    start[slot[field], i] = at
                    length[slot[field], i] = size
                at += size
    wide = False
    if len(space):
        for k in range(n_k):
            for i in range(n):
                a, ln = start[k, i], length[k, i]
                while ln and space[buf[a]]:
                    a += 1
                    ln -= 1
                while ln and space[buf[a + ln - 1]]:
                    ln -= 1
                start[k, i], length[k, i] = a, ln
                wide |= ln > 0 and (buf[a] >= 128 or buf[a + ln - 1] >= 128)
    offsets = np.zeros(n_k * n + 1, np.int32)
    for k in range(n_k):
        for i in range(n):
            offsets[k * n + i + 1] = offsets[k * n + i] + length[k, i]
    data = np.empty(offsets[-1], np.uint8)
    for k in range(n_k):
        for i in range(n):
            _copy(data, offsets[k * n + i], buf, start[k, i], length[k, i])
    return offsets, data, wide


@njit(cache=True, nogil=True)
def _spans(buf: np.ndarray, number: int, n: int) -> tuple[np.ndarray, np.ndarray, bool]:
    """Where the ``n`` messages of the repeated field ``number`` of the message ``buf`` start
    and end, and whether there are ``n`` of them."""
    starts = np.zeros(n, np.int64)
    ends = np.zeros(n, np.int64)
    at, i = 0, 0
    while at < len(buf):
        field, at, size = _field_at(buf, at)
        if size >= 0:
            if field == number:
                if i == n:
                    return starts, ends, False
                starts[i], ends[i] = at, at + size
                i += 1
            at += size
    return starts, ends, i == n


class Repeated(Sequence[Any]):
    """The messages of a repeated field of a message, with the message's wire format: what
    :func:`string_fields` reads them from (one serialisation of the whole request, ~10 us,
    instead of one call each, ~0.5 us a message)."""

    def __init__(self, message: Any, name: str, data: bytes) -> None:
        self.messages = getattr(message, name)
        self.number = message.DESCRIPTOR.fields_by_name[name].number
        self.data = data  # message.SerializeToString()

    def __len__(self) -> int:
        return len(self.messages)

    def __getitem__(self, i: Any) -> Any:
        return self.messages[i]

    def __iter__(self) -> Iterator[Any]:
        return iter(self.messages)


def _wire_of(msgs: Sequence[Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The bytes the messages are in, and where each starts and ends."""
    if isinstance(msgs, Repeated):
        buf = np.frombuffer(msgs.data, np.uint8)
        starts, ends, ok = _spans(buf, msgs.number, len(msgs))
        if ok:
            return buf, starts, ends
        msgs = msgs.messages  # (not as expected: each serialised after all)
    parts = [m.SerializeToString() for m in msgs]
    lens = np.fromiter(map(len, parts), np.int64, len(parts))
    ends = np.cumsum(lens)
    return np.frombuffer(b"".join(parts), np.uint8), ends - lens, ends


# the ASCII characters Arrow's utf8_trim_whitespace trims (it trims some wider ones too)
_SPACE = np.zeros(256, bool)
_SPACE[[9, 10, 11, 12, 13, 28, 29, 30, 31, 32]] = True


def string_fields(msgs: Sequence[Any], numbers: Sequence[int], *, trim: bool = False) -> pa.Array:
    """The string fields ``numbers`` of the messages as one Arrow array: field after field,
    ``len(msgs)`` rows each (empty where absent); read from the messages' wire format (a
    :class:`Repeated`'s, or each serialised: a call each, instead of one attribute read per
    field). With ``trim``, the values
    as ``pc.utf8_trim_whitespace`` leaves them, empty ones null (absent): ASCII whitespace
    trimmed in the same pass, Arrow's kernel run only when a value starts or ends with a
    wider character (which may be whitespace too)."""
    buf, starts, ends = _wire_of(msgs)
    offsets, data, wide = _decode(
        buf, starts, ends, np.array(numbers, np.int64), _SPACE if trim else _SPACE[:0]
    )
    n = len(offsets) - 1
    if not trim:
        return pa.Array.from_buffers(
            pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)]
        )
    if wide:
        text = pc.utf8_trim_whitespace(
            pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)])
        )
        return pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
    valid = np.packbits(offsets[1:] > offsets[:-1], bitorder="little")
    return pa.Array.from_buffers(
        pa.string(), n, [pa.py_buffer(valid), pa.py_buffer(offsets), pa.py_buffer(data)]
    )


_MONTH_DAYS = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], np.int64)


@njit(cache=True, nogil=True)
def _number(raw: np.ndarray, a: int, b: int) -> int:
    """The decimal digits ``raw[a:b]`` as a number; -1 if one is not a digit."""
    v = 0
    for t in range(a, b):
        c = raw[t] - 48
        if c < 0 or c > 9:
            return -1
        v = v * 10 + c
    return v


@njit(cache=True, nogil=True)
def _iso_days(offsets: np.ndarray, raw: np.ndarray, null: np.ndarray, month_days: np.ndarray
              ) -> tuple[np.ndarray, bool]:  # fmt: skip
    """Days since 1970-01-01 of each ``YYYY-MM-DD`` (year 1000-9999, a real day; nulls 0),
    and whether every value not null is one."""
    n = len(offsets) - 1
    days = np.zeros(n, np.int32)
    for i in range(n):
        if len(null) and null[i]:
            continue
        a = offsets[i]
        if offsets[i + 1] - a != 10 or raw[a + 4] != 45 or raw[a + 7] != 45:  # "-"
            return days, False
        y, m, d = _number(raw, a, a + 4), _number(raw, a + 5, a + 7), _number(raw, a + 8, a + 10)
        if y < 1000 or m < 1 or m > 12 or d < 1:
            return days, False
        leap = y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
        if d > month_days[m] + (m == 2 and leap):
            return days, False
        # days from the civil date (H. Hinnant's algorithm; March-based years)
        y -= m <= 2
        era = y // 400
        yoe = y - era * 400
        doy = (153 * (m - 3 if m > 2 else m + 9) + 2) // 5 + d - 1
        days[i] = era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
    return days, True


def iso_dates(text: pa.Array) -> pa.Array | None:
    """``text`` (strings ``YYYY-MM-DD``, nulls kept) as date32 in one compiled pass, or None
    when some value is not such a date (Arrow's ``strptime`` then decides, and names it)."""
    null = np.asarray(text.is_null(), bool) if text.null_count else np.zeros(0, bool)
    offsets, raw = string_parts(text)
    days, ok = _iso_days(offsets, raw, null, _MONTH_DAYS)
    if not ok:
        return None
    return pa.array(days, pa.date32(), mask=null if len(null) else None)


@njit(cache=True, nogil=True)
def _upper_letters(offsets: np.ndarray, raw: np.ndarray, null: np.ndarray, width: int
                   ) -> tuple[np.ndarray, bool]:  # fmt: skip
    """The bytes of ``raw[offsets[0]:offsets[-1]]`` upper-cased, and whether every value not
    null is ``width`` ASCII letters."""
    out = raw[offsets[0] : offsets[-1]].copy()
    for i in range(len(offsets) - 1):
        if len(null) and null[i]:
            continue
        a = offsets[i]
        if offsets[i + 1] - a != width:
            return out, False
        for t in range(a, a + width):
            c = raw[t] & 0xDF  # (upper case: ASCII letters only differ in this bit)
            if c < 65 or c > 90:
                return out, False
            out[t - offsets[0]] = c
    return out, True


def upper_codes(text: pa.Array, width: int) -> pa.Array | None:
    """``text`` upper-cased, when every value not null is ``width`` ASCII letters (one compiled
    pass); else None (Arrow's ``utf8_upper`` and the caller's checks then decide)."""
    null = np.asarray(text.is_null(), bool) if text.null_count else np.zeros(0, bool)
    offsets, raw = string_parts(text)
    data, ok = _upper_letters(offsets, raw, null, width)
    if not ok:
        return None
    valid = pa.py_buffer(np.packbits(~null, bitorder="little")) if len(null) else None
    return pa.Array.from_buffers(
        pa.string(), len(text), [valid, pa.py_buffer(offsets - offsets[0]), pa.py_buffer(data)]
    )


# how plain_columns reads a field: as it is, or as one of these (a value of the others that is
# not plain declines the whole batch: the careful converters then decide, and name it)
TEXT, CURRENCY, MONEY, DATE, DIRECTION = range(5)


def _letters(code: bytes) -> int:
    """A code of capitals as a number, its letters in base 26 (as :func:`_plain_columns`)."""
    value = 0
    for c in code:
        value = value * 26 + c - 65
    return value


_CRDT, _DBIT = _letters(b"CRDT"), _letters(b"DBIT")


@njit(cache=True, nogil=True)
def _plain_columns(offsets: np.ndarray, raw: np.ndarray, valid: np.ndarray, at: int,
                   kinds: np.ndarray, code_exps: np.ndarray, month_days: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, bool]:  # fmt: skip
    """The fields ``k`` (rows ``k * n .. k * n + n - 1`` of the strings ``raw[offsets[j]:
    offsets[j + 1]]``, null where bit ``at + j`` of the validity bitmap ``valid`` is 0; none
    when it is empty) of the kinds ``kinds[k]``, in one pass: the nulls, (fields, rows); the
    bytes with CURRENCY codes (three ASCII letters, of a known currency: ``code_exps`` by
    their letters in base 26) and DIRECTIONs (CRDT or DBIT) upper-cased, MONEY as minor units
    of the row's currency (:func:`text_kernel.plain_minor`; its CURRENCY field), DATEs
    as days (:func:`_iso_days`), nulls 0; and whether every value was such (no currency
    null)."""
    n_k = len(kinds)
    n = (len(offsets) - 1) // n_k if n_k else 0
    null = np.zeros((n_k, n), np.bool_)
    if len(valid):
        for j in range(n_k * n):
            null[j // n, j % n] = not (valid[(at + j) >> 3] >> ((at + j) & 7)) & 1
    data = raw.copy()
    money = np.zeros((n_k, n), np.int64)
    days = np.zeros((n_k, n), np.int32)
    exps = np.zeros(n, np.int64)
    for k in range(n_k):  # the codes first: the amounts need them
        if kinds[k] != CURRENCY and kinds[k] != DIRECTION:
            continue
        for i in range(n):
            j = k * n + i
            a, ln = offsets[j], offsets[j + 1] - offsets[j]
            if null[k, i] or ln != (3 if kinds[k] == CURRENCY else 4):
                if null[k, i] and kinds[k] == DIRECTION:
                    continue
                return null, data, money, days, False
            code = 0
            for t in range(a, a + ln):
                c = raw[t] & 0xDF  # (upper case: ASCII letters only differ in this bit)
                if c < 65 or c > 90:
                    return null, data, money, days, False
                data[t] = c
                code = code * 26 + c - 65
            if kinds[k] == CURRENCY:
                if code_exps[code] < 0:
                    return null, data, money, days, False
                exps[i] = code_exps[code]
            elif code != _CRDT and code != _DBIT:
                return null, data, money, days, False
    for k in range(n_k):
        off, nul = offsets[k * n : k * n + n + 1], null[k]
        if kinds[k] == MONEY:
            if not plain_minor(off, raw, exps, nul, money[k]):
                return null, data, money, days, False
        elif kinds[k] == DATE:
            d, ok = _iso_days(off, raw, nul, month_days)
            if not ok:
                return null, data, money, days, False
            days[k] = d
    return null, data, money, days, True


def plain_columns(flat: pa.Array, kinds: Sequence[int]
                  ) -> tuple[pa.Array, np.ndarray, np.ndarray, np.ndarray] | None:  # fmt: skip
    """The fields of :func:`string_fields`' ``flat`` (one after another, ``len(flat) //
    len(kinds)`` rows each) of the ``kinds`` (TEXT, CURRENCY, MONEY, DATE, DIRECTION) in one
    compiled pass: ``flat`` with the codes upper-cased, the MONEY fields as int64 minor units
    and the DATE fields as days since 1970-01-01 (``(fields, rows)`` each; nulls 0), as the
    careful converters make them from plain values, and the nulls ``(fields, rows)``. None
    when a value is not plain (a code or a direction in lower case is): a currency absent
    or unknown, an amount not
    ``-?[0-9]*(.[0-9]*)?`` within its currency's decimals, a date not ``YYYY-MM-DD``, a
    direction not CRDT or DBIT."""
    valid = flat.buffers()[0] if flat.null_count else None
    offsets, raw = string_parts(flat)
    null, data, money, days, ok = _plain_columns(
        offsets, raw, np.zeros(0, np.uint8) if valid is None else np.frombuffer(valid, np.uint8),
        flat.offset, np.asarray(kinds, np.int64), letter_code_exponents(), _MONTH_DAYS)
    if not ok:
        return None
    upper = pa.Array.from_buffers(pa.string(), len(flat), [valid, flat.buffers()[1],
                                  pa.py_buffer(data)], offset=flat.offset)  # fmt: skip
    return upper, money, days, null


def _nulls(columns: list[pa.Array]) -> np.ndarray:
    """(columns, rows) null flags; empty when no column has a null. From the validity bitmaps
    (``is_null`` would make a boolean array first)."""
    if not any(c.null_count for c in columns):
        return np.zeros((0, 0), bool)
    out = np.zeros((len(columns), len(columns[0])), bool)
    for k, c in enumerate(columns):
        valid = c.buffers()[0] if c.null_count else None  # (the others stay all False)
        if valid is not None:
            bits = np.unpackbits(np.frombuffer(valid, np.uint8), bitorder="little")
            np.equal(bits[c.offset : c.offset + len(c)], 0, out=out[k])
        elif c.null_count:  # (a column of the null type: no bitmap)
            out[k] = True
    return out


def _row_ranges(col: pa.ListArray) -> np.ndarray:
    """(2, rows): each row's first and end element of ``col.values`` (null rows: none)."""
    off = np.asarray(col.offsets, np.int64)
    ranges = np.stack([off[:-1], off[1:]])
    if col.null_count:
        null = np.asarray(col.is_null(), bool)
        ranges[1, null] = ranges[0, null]
    return ranges


@njit(cache=True, nogil=True)
def _exponents_of_codes(offsets: np.ndarray, raw: np.ndarray, valid: np.ndarray, valid_at: int,
                        code_exps: np.ndarray) -> tuple[np.ndarray, bool]:  # fmt: skip
    """``money.minor_exponents`` of the codes ``raw[offsets[i]:offsets[i + 1]]`` (null where
    bit ``valid_at + i`` of the validity bitmap ``valid`` is 0, when given: 2), when each is
    three ASCII letters (``code_exps`` by their upper-case letters in base 26); whether they
    all are."""
    n = len(offsets) - 1
    exps = np.full(n, 2, np.int64)
    for i in range(n):
        if _is_null(valid, valid_at + i):
            continue
        a = offsets[i]
        if offsets[i + 1] - a != 3:
            return exps, False
        code = 0
        for t in range(a, a + 3):
            c = raw[t] & 0xDF  # (upper case: ASCII letters only differ in this bit)
            if c < 65 or c > 90:
                return exps, False
            code = code * 26 + c - 65
        exps[i] = code_exps[code]
    return exps, True


def _string_columns(cols: list[pa.ChunkedArray]
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:  # fmt: skip
    """The string columns' values one column's after another's as one string array: its
    offsets (value ``k * rows + i``: column ``k``, row ``i``) and bytes, and its validity
    bitmap (empty when no value is null) with the bit of its first value. One concatenation,
    whatever the columns (each read apart cost a few calls a column, most of a small
    response)."""
    if not cols:
        return np.zeros(1, np.int32), np.zeros(0, np.uint8), np.zeros(0, np.uint8), 0
    text = pa.concat_arrays([flat(col if col.type == pa.string() else col.cast(pa.string()))
                             for col in cols])  # fmt: skip
    off, raw = string_parts(text)
    valid = np.frombuffer(text.buffers()[0], np.uint8) if text.null_count else np.zeros(0, np.uint8)
    return off, raw, valid, text.offset


def repeated(
    table: pa.Table,
    strings: dict[str, int],
    money: dict[str, int],
    currency: str,
    double: tuple[str, int] | None,
    lists: dict[str, int] | None = None,
    packed: tuple[str, int] | None = None,
    field: int = 1,
) -> bytes:
    """The rows of ``table`` as the repeated message field ``field`` of a message, in wire
    format: the string columns ``strings`` and the money columns ``money`` (in the row's
    ``currency``) by field number, ``double`` (column, field number), the list-of-string
    columns ``lists`` as repeated string fields and ``packed`` (a list-of-double column, field
    number) as a packed repeated double."""
    n = table.num_rows
    str_cols = sorted(strings.items(), key=lambda kv: kv[1])
    money_cols = sorted(money.items(), key=lambda kv: kv[1])
    list_cols = sorted((lists or {}).items(), key=lambda kv: kv[1])
    lcols = [flat(table.column(name)) for name, _ in list_cols]
    offsets, raw, valid, valid_at = _string_columns([table.column(name) for name, _ in str_cols])
    exps = None
    if (k := next((k for k, (name, _) in enumerate(str_cols) if name == currency), -1)) >= 0:
        # (its codes' exponents from the same bytes)
        codes, ok = _exponents_of_codes(offsets[k * n : k * n + n + 1], raw, valid,
                                        valid_at + k * n, letter_code_exponents())  # fmt: skip
        exps = codes if ok else None
    if exps is None:  # (not among the strings, or a code not of three ASCII letters)
        exps = minor_exponents(table.column(currency)).astype(np.int64)
    parts, base = [raw], len(raw)
    # then the lists' elements, numbered on from one column to the next
    list_rows = np.empty((len(lcols), 2, n), np.int64)
    list_offsets, n_el = [np.array([base], np.int64)], 0
    for k, col in enumerate(lcols):
        off, raw = string_parts(col.values)
        list_rows[k] = _row_ranges(col) + n_el
        list_offsets.append(off[1:] + (base - off[0]))
        parts.append(raw[off[0] : off[-1]])
        base += int(off[-1] - off[0])
        n_el += len(off) - 1
    m_cols = [flat(table.column(name)) for name, _ in money_cols]
    amounts = np.empty((len(m_cols), n), np.int64)
    for k, col in enumerate(m_cols):
        amounts[k] = (col.fill_null(0) if col.null_count else col).to_numpy()
    if double is not None:
        d = flat(table.column(double[0]))
        bits = np.array((d.fill_null(0.0) if d.null_count else d).to_numpy(), np.float64
                        ).view(np.uint64)  # (a writable copy: one signature)
    else:
        bits = np.zeros(n, np.uint64)
    if packed is not None:
        pcol = flat(table.column(packed[0]))
        packed_rows = _row_ranges(pcol)
        packed_bits = np.asarray(pcol.values, np.float64).view(np.uint64)
    else:
        packed_rows, packed_bits = np.zeros((2, n), np.int64), np.zeros(0, np.uint64)
    out = _encode(
        np.array([f for _, f in str_cols], np.int64),
        offsets,
        valid,
        valid_at,
        np.concatenate(parts),
        np.array([f for _, f in money_cols], np.int64),
        amounts,
        _nulls(m_cols),
        exps,
        0 if double is None else double[1],
        bits,
        np.array([f for _, f in list_cols], np.int64),
        list_rows,
        np.concatenate(list_offsets),
        0 if packed is None else packed[1],
        packed_rows,
        np.array(packed_bits),
        field,
    )
    return out.tobytes()


def warm() -> None:
    """Compile (or load from numba's cache) the passes, for a long-lived process as it
    starts."""
    from cashmatch.server.pb import cash_application_pb2 as pb

    table = pa.table({"s": ["a"], "m": pa.array([-5], pa.int64()), "c": ["EUR"], "d": [0.5]})
    table = table.append_column("l", pa.array([["x"]])).append_column("p", pa.array([[0.5]]))
    repeated(table, {"s": 1, "c": 2}, {"m": 3}, "c", ("d", 4), {"l": 5}, ("p", 6))
    string_fields([pb.Payment(payment_id="P", amount="1")], [1, 3])
    iso_dates(pa.array(["2026-01-31", None]))
    upper_codes(pa.array(["eur", None]), 3)
    plain_columns(pa.array(["eur", "-1.5", "2026-01-31", "crdt"]),
                  [CURRENCY, MONEY, DATE, DIRECTION])  # fmt: skip
