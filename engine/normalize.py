"""Vectorised normalisation: reference text -> candidate tokens; invoice ids -> canonical keys;
payer names -> comparison keys.

Everything here is Arrow compute over whole columns, once per batch. The rules are data
(the tables at the top); the functions apply them.

Keys of an invoice id such as ``INV-2026-004512``:

- ``alnum``   ``INV2026004512`` — the id without separators, upper case (strongest);
- ``digits``  ``2026004512``    — leading letters (the house prefix) dropped, OCR look-alikes
  mapped to digits, leading zeros dropped;
- ``tail``    ``4512``          — the last digit group without leading zeros (year part and
  prefix dropped, as payers often write it);
- ``prefix``  ``20260045``      — ``digits`` truncated by one to three characters (a reference
  field cut off at 35 characters).

A reference is split into alphanumeric runs; runs next to each other are also joined in
twos and threes (``2026 0045 12`` -> ``2026004512``), and each token gets the same ``alnum``
and ``digits`` forms, so a hash join of token forms against invoice keys finds the hits.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cashmatch.engine.schema import flat

# OCR / typing look-alikes, mapped to digits in the body of a number (after its letter prefix).
OCR_TO_DIGIT = {
    "O": "0", "Q": "0", "D": "0", "I": "1", "L": "1", "S": "5", "B": "8", "Z": "2", "G": "6",
}
LEGAL_SUFFIXES = (
    "INC", "INCORPORATED", "LTD", "LIMITED", "LLC", "LLP", "PLC", "CORP", "CORPORATION", "CO",
    "COMPANY", "GMBH", "AG", "KG", "SA", "SAS", "SARL", "SPA", "SRL", "BV", "NV", "AB", "AS",
    "OY", "PTY", "KK", "THE", "AND", "GROUP", "HOLDING", "HOLDINGS",
)
# Key strengths: how much a hit of each key kind says on its own (0..1).
STRENGTH = {"alnum": 1.0, "digits": 0.97, "prefix": 0.82, "tail": 0.80}
KINDS = tuple(STRENGTH)
MIN_DIGITS_KEY = 4  # a digits key shorter than this is too common to mean anything
MIN_TAIL_KEY = 3
MAX_JOIN = 3  # adjacent runs joined into one token, at most
# dates and periods payers write beside invoice numbers (16.03.2026, 2026-03-16, 16/03/26,
# Q1/2026, 2026 Q1): not references ("Q1/2026" joined would read as invoice number 12026)
DATES = (
    r"\b[0-9]{1,2}[./][0-9]{1,2}[./](?:19|20)?[0-9]{2}\b"
    r"|\b(?:19|20)[0-9]{2}-[0-9]{2}-[0-9]{2}\b"
    r"|\bQ[1-4][ /.-](?:19|20)?[0-9]{2}\b"
    r"|\b(?:19|20)[0-9]{2}[ /.-]?Q[1-4]\b"
)


_OCR_LUT = np.arange(256, dtype=np.uint8)
for _letter, _digit in OCR_TO_DIGIT.items():
    _OCR_LUT[ord(_letter)] = ord(_digit)
# bytes that start a code point that is not an ASCII digit (continuation bytes 0x80-0xBF do not)
_NON_DIGIT_START = np.ones(256, dtype=bool)
_NON_DIGIT_START[ord("0") : ord("9") + 1] = False
_NON_DIGIT_START[0x80:0xC0] = False
_DIGIT = np.zeros(256, dtype=bool)
_DIGIT[ord("0") : ord("9") + 1] = True
_UPPER = np.zeros(256, dtype=bool)
_UPPER[ord("A") : ord("Z") + 1] = True
_ALNUM = _DIGIT | _UPPER  # what [A-Z0-9] matches (bytes of other code points are >= 0x80)
_CONTINUATION = np.zeros(256, dtype=bool)
_CONTINUATION[0x80:0xC0] = True


def string_parts(text: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """(value offsets relative to the data, the data bytes) of a utf8 array, zero-copy when it
    is one ``string`` array (:func:`_utf8`)."""
    text = _utf8(text)
    offsets = np.frombuffer(text.buffers()[1], np.int32)[text.offset : text.offset + len(text) + 1]
    data = text.buffers()[2]
    raw = np.frombuffer(data if data is not None else b"", np.uint8)  # read-only either way
    return offsets, raw


def _utf8(text: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One ``string`` array (not chunked, not ``large_string``), for :func:`string_parts`: a
    chunked array's one chunk as it is (``combine_chunks`` copies even one: ~30 ms of CPU a
    1.3M-token column of ``reference_tokens``' table, mostly page faults of the new buffers)."""
    text = flat(text)
    return text if text.type == pa.string() else text.cast(pa.string())


def _from_bytes(data: np.ndarray, lengths: np.ndarray) -> pa.Array:
    """A utf8 array of consecutive byte strings: ``data`` cut into ``lengths``."""
    offsets = np.zeros(len(lengths) + 1, np.int32)
    np.cumsum(lengths, out=offsets[1:])
    return strings_at(offsets, data)


def strings_at(offsets: np.ndarray, data: np.ndarray) -> pa.Array:
    """A utf8 array of the strings ``data[offsets[i]:offsets[i + 1]]`` (int32 offsets from 0;
    no copy)."""
    return pa.Array.from_buffers(pa.string(), len(offsets) - 1,
                                 [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def _compiled_bytes(kernel: str, text: pa.Array, *tables: np.ndarray) -> pa.Array:
    """A utf8 array of what the :mod:`text_kernel` pass ``kernel`` writes for each string of
    ``text`` (one ``string`` array), never more bytes than it had: the pass takes the offsets and
    bytes of ``text``, then ``tables``, then the output's offsets and bytes, and returns the
    bytes used."""
    from cashmatch.engine import text_kernel

    offsets, raw = string_parts(text)
    out_offsets = np.empty(len(text) + 1, np.int32)
    out = np.empty(int(offsets[-1] - offsets[0]), np.uint8)
    used = getattr(text_kernel, kernel)(offsets, raw, *tables, out_offsets, out)
    return pa.Array.from_buffers(pa.string(), len(text), [
        None, pa.py_buffer(out_offsets), pa.py_buffer(out[:used])])


FEW_REGEX = 2_000  # strings up to which a regular expression runs in Python's re


def replace_regex(text: pa.Array, pattern: str, repl: str, *, few: int = FEW_REGEX) -> pa.Array:
    """``pc.replace_substring_regex(text, pattern, repl)`` of a string array without nulls.

    Arrow compiles the pattern on every call (~70 us for :data:`DATES`, more than a hundred
    references cost): up to ``few`` strings it runs in Python's ``re`` instead (compiled once,
    ASCII classes as RE2's), over the strings joined by line breaks, which ``pattern`` must
    never match. (A simple pattern compiles fast: Arrow's own pass is then the cheaper.)"""
    if len(text) > few or text.null_count:
        return pc.replace_substring_regex(text, pattern, repl)
    values = text.to_pylist()
    joined = "\n".join(values)
    if joined.count("\n") != len(values) - 1:  # (a line break inside a string)
        return pc.replace_substring_regex(text, pattern, repl)
    return pa.array(re.compile(pattern, re.ASCII).sub(repl, joined).split("\n")
                    if values else [], pa.string())


SORTED_SEARCH_MIN = 65_536  # from this many values, search_sorted looks them up in order


def search_sorted(keys: np.ndarray, *queries: tuple[np.ndarray, str]) -> list[np.ndarray]:
    """``np.searchsorted(keys, values, side)`` for each ``(values, side)`` of ``queries`` (of
    one length); many values are looked up in the order that sorts the first ``values`` (a
    binary search per value in random order misses the cache at every step once ``keys``
    outgrow it: 3M values into 2.5M keys, ~2.8 s in random order, ~0.07 s sorted plus ~0.4 s
    to sort them; integers by :func:`int_order`, ~4x faster). The same answers either way."""
    if len(queries[0][0]) < SORTED_SEARCH_MIN:
        return [np.searchsorted(keys, values, side) for values, side in queries]
    first = queries[0][0]
    order = int_order(first) if first.dtype.kind == "i" else np.argsort(first)
    out = []
    for values, side in queries:
        found = np.empty(len(values), np.intp)
        found[order] = np.searchsorted(keys, values[order], side)
        out.append(found)
    return out


def spans(lo: np.ndarray, count: np.ndarray) -> np.ndarray:
    """The rows ``lo[i] .. lo[i] + count[i] - 1`` of every i, one range after another."""
    return np.repeat(lo - np.cumsum(count) + count, count) + np.arange(int(count.sum()))


def _byte_ranges(data: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> pa.Array:
    """A utf8 array of the byte ranges ``[starts, ends)`` of ``data`` (one gather)."""
    lengths = ends - starts
    return _from_bytes(data[spans(starts, lengths)], lengths)


HASH_COMPILED_MIN = 1 << 17  # strings from which string_hash64 and strings_equal compile
HASH_BASE = np.uint64(0x9E3779B97F4A7C15)  # odd: its powers never vanish modulo 2**64
# MurmurHash3's finaliser's multipliers (every compiled pass that hashes as string_hash64 does)
HASH_MIX = (np.uint64(0xFF51AFD7ED558CCD), np.uint64(0xC4CEB9FE1A85EC53))
_hash_powers = np.ones(1, np.uint64)


def hash_powers(n: int) -> np.ndarray:
    """``HASH_BASE ** i`` modulo 2**64 for i < n (a table kept and grown)."""
    global _hash_powers
    if len(_hash_powers) < n:
        table = np.full(max(n, 2 * len(_hash_powers)), HASH_BASE, np.uint64)
        table[0] = 1
        np.cumprod(table, out=table)  # wraps modulo 2**64
        _hash_powers = table
    return _hash_powers


def string_hash64(text: pa.Array) -> np.ndarray:
    """A 64-bit hash of each string (uint64): its length and the polynomial of its bytes in
    ``HASH_BASE`` modulo 2**64, over the data buffer at once, mixed (MurmurHash3's finaliser,
    a bijection) so that its leading bits are as good as any. Equal strings hash equal;
    different ones almost never do (compare them with :func:`strings_equal` to be sure). A
    null hashes like the bytes its offsets span (none)."""
    if len(text) == 0:
        return np.zeros(0, np.uint64)
    offsets, raw = string_parts(text)
    if compiled(len(text), HASH_COMPILED_MIN, "hash64"):
        from cashmatch.engine import text_kernel

        out = np.empty(len(text), np.uint64)
        text_kernel.hash64(offsets, raw, HASH_BASE, HASH_MIX, out)
        return out
    rel = (offsets - offsets[0]).astype(np.int64)
    lengths = np.diff(rel)
    h = lengths.astype(np.uint64) * HASH_BASE
    nonempty = np.flatnonzero(lengths)
    if len(nonempty):
        # each byte's position in its string (int32: a utf8 array's offsets are int32)
        at = np.arange(rel[-1], dtype=np.int32) - np.repeat(rel[:-1].astype(np.int32), lengths)
        term = hash_powers(int(lengths.max()))[at]
        del at
        term *= raw[offsets[0] : offsets[-1]]
        h[nonempty] += np.add.reduceat(term, rel[nonempty])
    for multiplier in HASH_MIX:
        h ^= h >> np.uint64(33)
        h *= multiplier
    h ^= h >> np.uint64(33)
    return h


def strings_equal(a: pa.Array, ai: np.ndarray, b: pa.Array, bi: np.ndarray) -> np.ndarray:
    """Whether ``a[ai[j]]`` and ``b[bi[j]]`` have the same bytes, for every j (the lengths,
    then the bytes of the pairs of equal length, compared over the data buffers at once)."""
    if len(ai) == 0:
        return np.zeros(0, bool)
    a_off, a_raw = string_parts(a)
    b_off, b_raw = string_parts(b)
    if compiled(len(ai), HASH_COMPILED_MIN, "bytes_equal"):
        from cashmatch.engine import text_kernel

        out = np.empty(len(ai), bool)
        text_kernel.bytes_equal(a_off, a_raw, np.asarray(ai, np.int64), b_off, b_raw,
                                np.asarray(bi, np.int64), out)
        return out
    a_at, b_at = a_off[ai].astype(np.int64), b_off[bi].astype(np.int64)
    length = a_off[ai + 1] - a_at
    same = length == b_off[bi + 1] - b_at
    j = np.flatnonzero(same)
    n = length[j]
    differ = a_raw[spans(a_at[j], n)] != b_raw[spans(b_at[j], n)]
    same[j] = np.bincount(np.repeat(np.arange(len(j)), n)[differ], minlength=len(j)) == 0
    return same


def stable_order(key: np.ndarray, n_keys: int) -> tuple[np.ndarray, np.ndarray]:
    """``np.argsort(key, kind="stable")`` of integers 0 .. ``n_keys - 1``, and where each key's
    rows start in it (one more: the end); large arrays by a compiled counting sort (O(n), the
    same order)."""
    if compiled(len(key), HASH_COMPILED_MIN, "counting_order"):
        from cashmatch.engine import text_kernel

        return text_kernel.counting_order(key, n_keys)
    start = np.zeros(n_keys + 1, np.int64)
    np.cumsum(np.bincount(key, minlength=n_keys), out=start[1:])
    return np.argsort(key, kind="stable"), start


def int_order(key: np.ndarray) -> np.ndarray:
    """``np.argsort(key, kind="stable")`` of int64 keys; large arrays of non-negative keys by the
    compiled radix sort of :mod:`text_kernel` (the same order: a non-negative int64 orders as
    its bits read unsigned; 2.5M amount keys: 0.27 s of CPU by numpy, 0.13 s by the radix).
    Small arrays by numpy even once the radix is compiled: its counts cost ~110 us on a few
    hundred keys, numpy's sort ~4."""
    key = np.ascontiguousarray(key, np.int64)
    if len(key) >= HASH_COMPILED_MIN and key.min(initial=0) >= 0:
        from cashmatch.engine import text_kernel

        return text_kernel.words_order(key.view(np.uint64).reshape(-1, 1))
    return np.argsort(key, kind="stable")


# texts up to which StringLookup.matches takes its compiled pass, once loaded (a served process
# loads it as it starts, :func:`warm_kernels`): 300 texts 34 -> 21 us. Not for many: numpy's
# steps, each over all texts at once, keep more reads in flight than the pass's chain of
# dependent reads per text (3M texts into 2.5M values: 0.5 s by the steps, 2.0 s by the pass)
LOOKUP_PASS_MAX = 8192


@dataclass(frozen=True, slots=True)
class StringLookup:
    """Distinct strings found by their 64-bit hashes (:func:`string_hash64`), bucketed once by
    their leading bits (about one string a bucket; a counting sort): a lookup hashes the texts and
    reads their buckets, work in the texts' rows only (``pc.index_in`` builds a hash table of
    the whole value set on every call); the strings of each equal hash are compared, so a
    collision of hashes never makes a hit."""

    values: pa.Array
    hashes: np.ndarray  # the values' hashes, by bucket (value order within one)
    by_hash: np.ndarray  # the value of each
    shift: np.uint64  # a hash's bucket is its leading 64 - shift bits
    bucket_start: np.ndarray  # each bucket's first row in ``hashes`` (one more: the end)

    @staticmethod
    def build(values: pa.Array) -> StringLookup:
        values = _utf8(values)
        hashed = string_hash64(values)
        bits = max(int(len(values)).bit_length(), 1)
        shift = np.uint64(64 - bits)
        by_hash, bucket_start = stable_order((hashed >> shift).astype(np.int64), 1 << bits)
        return StringLookup(values, hashed[by_hash], by_hash, shift, bucket_start)

    def matches(self, text: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
        """(text row, value) of every text equal to a value, in text order; nulls match
        nothing."""
        text = _utf8(text)
        if len(text) == 0 or len(self.values) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        if len(text) <= LOOKUP_PASS_MAX and compiled(len(text), LOOKUP_PASS_MAX + 1, "lookup"):
            return self._compiled_matches(text)
        hashed = string_hash64(text)
        bucket = (hashed >> self.shift).astype(np.int64)
        lo = self.bucket_start[bucket]
        cnt = self.bucket_start[bucket + 1] - lo
        row = np.repeat(np.arange(len(text)), cnt)
        at = spans(lo, cnt)
        same_hash = self.hashes[at] == hashed[row]
        row, value = row[same_hash], self.by_hash[at[same_hash]]
        same = strings_equal(text, row, self.values, value)
        if text.null_count:
            same &= np.asarray(text.is_valid(), bool)[row]
        return row[same], value[same]

    def _compiled_matches(self, text: pa.Array) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`matches` of one ``string`` array in one compiled pass (:mod:`text_kernel`)."""
        from cashmatch.engine import text_kernel

        row, value = text_kernel.lookup(
            *string_parts(text), HASH_BASE, HASH_MIX, self.shift, self.bucket_start, self.hashes,
            self.by_hash, *string_parts(self.values))
        if text.null_count:
            valid = np.asarray(text.is_valid(), bool)[row]
            row, value = row[valid], value[valid]
        return row, value

    def index_in(self, text: pa.Array | pa.ChunkedArray) -> np.ndarray:
        """The value equal to each text, -1 for none (``pc.index_in`` with nulls as -1)."""
        row, value = self.matches(text)
        out = np.full(len(text), -1, np.int64)
        out[row] = value
        return out


SORT_WORDS_MAX = 4  # strings up to 32 bytes are ordered by words (longer: by Arrow)


def string_order(text: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """The stable ascending order of the strings, by bytes (``pc.sort_indices``' order): the
    strings as big-endian 64-bit words and a radix sort of the words (compiled passes,
    :mod:`text_kernel`; ``np.lexsort`` of the words took 0.41 s for 2.5M invoice ids, the
    radix sort 0.12 s). Arrow's sort where a string is null, holds a zero byte or is
    longer than ``SORT_WORDS_MAX`` words."""
    text = _utf8(text)
    offsets, raw = string_parts(text)
    longest = int(np.diff(offsets).max(initial=0))
    width = max(-(-longest // 8), 1)
    if text.null_count or width > SORT_WORDS_MAX or (raw[offsets[0] : offsets[-1]] == 0).any():
        return np.asarray(pc.sort_indices(text), np.int64)
    from cashmatch.engine import text_kernel

    return text_kernel.words_order(text_kernel.sort_words(offsets, raw, width))


def alnum_upper(text: pa.Array) -> pa.Array:
    """Upper case, everything but ``A-Z0-9`` removed (nulls become empty): a byte mask over the
    data buffer (every byte of a non-ASCII character is >= 0x80, so none is kept); many strings
    in one compiled pass (the cumulative sum of the mask took ~0.7 s for a million accounts)."""
    upper = _utf8(pc.utf8_upper(pc.fill_null(text, "")))
    if compiled(len(upper), DIGITS_KEY_COMPILED_MIN, "keep_bytes"):
        return _compiled_bytes("keep_bytes", upper, _ALNUM)
    offsets, raw = string_parts(upper)
    seg = raw[offsets[0] : offsets[-1]]
    keep = _ALNUM[seg]
    kept = np.zeros(len(seg) + 1, np.int64)
    np.cumsum(keep, out=kept[1:])
    rel = offsets - offsets[0]
    return _from_bytes(seg[keep], kept[rel[1:]] - kept[rel[:-1]])


def digits_key(alnum: pa.Array) -> pa.Array:
    """``INV2O26004512`` -> ``2026004512``: the letter prefix off, look-alikes in the rest mapped
    to digits, other letters and leading zeros dropped. Empty when nothing numeric is left.

    Over the data buffer at once (what the regular expressions ``^[A-Z]+``, ``[^0-9]`` and
    ``^0+`` would remove, byte by byte: every byte of a non-ASCII character is >= 0x80); large
    arrays (at least ``DIGITS_KEY_COMPILED_MIN`` strings) in one compiled pass
    (:mod:`text_kernel`), where loading the compiler costs less than it saves."""
    text = alnum.combine_chunks() if isinstance(alnum, pa.ChunkedArray) else alnum
    if text.null_count:
        return pc.if_else(text.is_valid(), digits_key(pc.fill_null(text, "")), None)
    text = _utf8(text)
    if compiled(len(text), DIGITS_KEY_COMPILED_MIN, "digits_key"):
        return _compiled_bytes("digits_key", text, _OCR_LUT)
    offsets, raw = string_parts(text)
    seg = raw[offsets[0] : offsets[-1]]
    rel = (offsets - offsets[0]).astype(np.int64)
    lengths = np.diff(rel)

    def per_string(flags: np.ndarray) -> np.ndarray:  # how many flags each string has
        c = np.zeros(len(flags) + 1, np.int64)
        np.cumsum(flags, out=c[1:])
        return c[rel[1:]] - c[rel[:-1]]

    def since_string_start(flags: np.ndarray) -> np.ndarray:  # flags up to each byte
        c = np.zeros(len(flags) + 1, np.int32)
        np.cumsum(flags, out=c[1:])
        return c[1:] - np.repeat(c[rel[:-1]], lengths)

    # the body starts at the first byte that is not an ASCII capital
    in_body = since_string_start(~_UPPER[seg]) > 0
    letters = per_string(_NON_DIGIT_START[seg] & in_body)
    chars = per_string(in_body & ~_CONTINUATION[seg])
    mostly_digits = np.repeat(letters * 3 <= chars, lengths)  # "2O26" yes, "4512THANKS" no
    mapped = np.where(mostly_digits, _OCR_LUT[seg], seg)
    keep = in_body & _DIGIT[mapped]
    # leading zeros: kept zeros before the string's first other kept digit
    nonzero = keep & (mapped != ord("0"))
    keep &= since_string_start(nonzero) > 0
    return _from_bytes(mapped[keep], per_string(keep))


DIGITS_KEY_COMPILED_MIN = 50_000
TOKENS_COMPILED_MIN = 50_000  # references from which reference_tokens compiles


def compiled(rows: int, least: int, kernel: str, module: str = "text_kernel") -> bool:
    """Take the compiled pass ``kernel`` of ``module`` (:mod:`text_kernel` unless named, of
    ``cashmatch.engine``) for ``rows`` strings? From
    ``least`` rows, where loading the compiler costs less than it saves; and at any size once
    the pass is compiled in this process (a served process compiles them as it starts,
    :func:`warm_kernels`): a call of it then costs a few microseconds, the numpy steps
    tens (the same result either way: the passes are tested against them)."""
    if rows >= least:
        return True
    # Another thread may be importing text_kernel right now: a module half-way through its
    # import has no such attribute yet, which means "not compiled" (the numpy steps then run).
    dispatcher = getattr(sys.modules.get(f"cashmatch.engine.{module}"), kernel, None)
    return dispatcher is not None and bool(dispatcher.overloads)  # (a dict: cheap)


def warm_kernels() -> None:
    """Compile (or load from numba's cache) the passes :func:`compiled` then takes at any size,
    each through its caller at its threshold size (the same argument types as later calls):
    for a long-lived process, as it starts."""
    from cashmatch.engine.money import KERNEL_ROWS, decimal_text, parse_plain_minor

    digits_key(pa.array(["INV-01"] * DIGITS_KEY_COMPILED_MIN))
    alnum_upper(pa.array(["DE-01"] * DIGITS_KEY_COMPILED_MIN))
    name_key(pa.array([f"A.B. CO {i}" for i in range(NAME_KEYS_COMPILED_MIN)]))
    many = pa.array(["INV-01"] * HASH_COMPILED_MIN)
    string_hash64(many)
    reference_tokens(pa.array(["INV 01-2"] * TOKENS_COMPILED_MIN))
    strings_equal(many, np.arange(len(many)), many, np.arange(len(many))[::-1].copy())
    StringLookup.build(pa.array(["INV-01", "INV-02"]))._compiled_matches(many)
    account_codes(pa.array(["DE89 3704"] * ACCOUNT_CODES_COMPILED_MIN))
    parse_plain_minor(pa.array(["1.00"] * KERNEL_ROWS), np.full(KERNEL_ROWS, 2, np.int64))
    decimal_text(np.zeros(KERNEL_ROWS, np.int64), 2)


def tail_key(text: pa.Array) -> pa.Array:
    """The last digit group without leading zeros, where the id has two or more groups."""
    upper = pc.utf8_upper(pc.fill_null(text, ""))
    groups = pc.extract_regex(upper, r"[0-9][^0-9]+(?P<t>[0-9]+)[^0-9]*$")
    tail = pc.fill_null(pc.struct_field(groups, "t"), "")
    return pc.replace_substring_regex(tail, r"^0+", "")


_KEY_PARTS = ("alnum", "digits", "tail", "prefix", "prefix", "prefix")  # the order of the rows
_MIN_KEY = {"tail": MIN_TAIL_KEY, "alnum": 3}  # the shortest key of a kind (else MIN_DIGITS_KEY)
KEY_PART_KIND = np.array([KINDS.index(k) for k in _KEY_PARTS], np.int8)  # each part's kind
PREFIX_MIN = 6  # a prefix key keeps at least this many digits


def key_pass_args(ids: pa.Array) -> tuple | None:
    """The first arguments of the compiled passes over invoice ids (``text_kernel.invoice_keys``,
    ``ledger_kernel.key_index``): the ids' offsets and bytes, the look-alike table, each
    part's shortest key and ``PREFIX_MIN``; None for ids they do not take (nulls, non-ASCII:
    the Arrow kernels fold their case)."""
    if ids.null_count:
        return None
    offsets, raw = string_parts(ids)
    if (raw[offsets[0] : offsets[-1]] >= 0x80).any():
        return None
    min_len = np.array([_MIN_KEY.get(k, MIN_DIGITS_KEY) for k in _KEY_PARTS], np.int64)
    return offsets, raw, _OCR_LUT, min_len, PREFIX_MIN


def invoice_keys(invoice_ids: pa.Array) -> pa.Table:
    """All keys of every invoice: a table ``(key, inv, kind, strength)``; one row per key, kind
    by kind (alnum, digits, tail, then the prefixes cut by 1, 2, 3), by invoice within a kind.
    Large ASCII columns in one compiled pass (:mod:`text_kernel`), else by Arrow kernels."""
    ids = invoice_ids.combine_chunks() if isinstance(invoice_ids, pa.ChunkedArray) else invoice_ids
    args = key_pass_args(ids) if compiled(
        len(ids), DIGITS_KEY_COMPILED_MIN, "invoice_keys") else None
    if args is not None:
        from cashmatch.engine import text_kernel

        part, inv, key_offsets, key = text_kernel.invoice_keys(*args)
        kind = KEY_PART_KIND[part]
        return pa.table({
            "key": strings_at(key_offsets, key),
            "inv": pa.array(inv),
            "kind": pa.DictionaryArray.from_arrays(pa.array(kind), pa.array(KINDS)),
            "strength": pa.array(np.array([STRENGTH[k] for k in KINDS])[kind]),
        })
    n = len(ids)
    idx = np.arange(n, dtype=np.int64)
    alnum = alnum_upper(ids)
    digits = digits_key(alnum)
    tail = tail_key(ids)
    parts = [("alnum", alnum, idx), ("digits", digits, idx), ("tail", tail, idx)]
    dlen = np.asarray(pc.utf8_length(digits), dtype=np.int64)
    for cut in (1, 2, 3):
        ok = dlen - cut >= PREFIX_MIN
        if ok.any():
            sel = pa.array(ok)
            pre = pc.utf8_slice_codeunits(pc.filter(digits, sel), 0, -cut)
            parts.append(("prefix", pre, idx[ok]))
    tables = []
    for kind, keys, rows in parts:
        length = np.asarray(pc.utf8_length(keys), dtype=np.int64)
        minimum = _MIN_KEY.get(kind, MIN_DIGITS_KEY)
        keep = length >= minimum
        if kind == "tail":  # a tail equal to the digits key adds nothing
            same = np.asarray(pc.equal(keys, digits), dtype=bool)
            keep &= ~same
        tables.append(
            pa.table(
                {
                    "key": pc.filter(keys, pa.array(keep)),
                    "inv": pa.array(rows[keep]),
                    "kind": pa.DictionaryArray.from_arrays(  # one byte a row
                        pa.array(np.full(int(keep.sum()), KINDS.index(kind), np.int8)),
                        pa.array(KINDS)),
                    "strength": pa.array(np.full(int(keep.sum()), STRENGTH[kind])),
                }
            )
        )
    # one chunk: its columns are then read as arrays without a copy
    return pa.concat_tables(tables).combine_chunks()


def reference_tokens(references: pa.Array) -> pa.Table:
    """Tokens of every reference: a table ``(pay, alnum, digits)``, one row per token.

    Single alphanumeric runs plus adjacent runs joined in twos and threes. The runs (what
    splitting on ``[^A-Z0-9]+`` gives) are found over the data buffer at once and their bytes
    packed together, so that a token of ``k`` runs is one byte range of the packed runs.
    """
    refs = flat(references)
    if compiled(len(refs), TOKENS_COMPILED_MIN, "reference_tokens"):
        pay, tok_offsets, tok, dig_offsets, dig = _compiled_reference_tokens(refs)
        return pa.table({"pay": pa.array(pay), "alnum": strings_at(tok_offsets, tok),
                         "digits": strings_at(dig_offsets, dig)})
    return _reference_tokens(refs)


def reference_token_parts(references: pa.Array) -> tuple[np.ndarray, ...]:
    """:func:`reference_tokens`' columns as arrays, not made a table: (``pay`` int64, the
    ``alnum`` forms' offsets and bytes, the ``digits`` forms' offsets and bytes: what
    :func:`string_parts` reads of them), for the exact join, which reads those
    (a small Match: the table and the reads of it ~40 us)."""
    refs = flat(references)
    if compiled(len(refs), TOKENS_COMPILED_MIN, "reference_tokens"):
        return _compiled_reference_tokens(refs)
    tokens = _reference_tokens(refs)
    return (np.asarray(tokens.column("pay"), np.int64), *string_parts(tokens.column("alnum")),
            *string_parts(tokens.column("digits")))


def _compiled_reference_tokens(refs: pa.Array) -> tuple[np.ndarray, ...]:
    """:func:`reference_tokens` in one compiled pass, dates and all, upper case as it goes
    (ASCII; text beyond it upper-cased by Arrow first): (pay, alnum offsets and bytes,
    digits offsets and bytes)."""
    from cashmatch.engine import text_kernel

    text = _utf8(pc.fill_null(refs, "") if refs.null_count else refs)
    offsets, raw = string_parts(text)
    if (raw[offsets[0] : offsets[-1]] >= 0x80).any():
        offsets, raw = string_parts(pc.utf8_upper(text))
    return text_kernel.reference_tokens(offsets, raw, _ALNUM, MAX_JOIN, _OCR_LUT)


def _reference_tokens(refs: pa.Array) -> pa.Table:
    """:func:`reference_tokens` by numpy and Arrow steps (the compiled pass's reference)."""
    upper = replace_regex(pc.utf8_upper(pc.fill_null(refs, "")), DATES, " ")
    offsets, raw = string_parts(upper)
    seg = raw[offsets[0] : offsets[-1]]
    rel = (offsets - offsets[0]).astype(np.int64)
    inside = _ALNUM[seg]
    string_start = np.zeros(len(seg) + 1, dtype=bool)
    string_start[rel] = True
    before = np.zeros(len(seg), dtype=bool)
    before[1:] = inside[:-1]
    after = np.zeros(len(seg), dtype=bool)
    after[:-1] = inside[1:]
    run_start = np.flatnonzero(inside & (~before | string_start[:-1]))
    run_end = np.flatnonzero(inside & (~after | string_start[1:])) + 1
    parent = np.searchsorted(rel, run_start, "right") - 1
    # the runs' bytes packed together: run i is packed[p_start[i]:p_end[i]]
    packed_at = np.zeros(len(seg) + 1, np.int64)
    np.cumsum(inside, out=packed_at[1:])
    p_start, p_end = packed_at[run_start], packed_at[run_end]
    starts, ends, owners = [p_start], [p_end], [parent]
    for width in range(2, MAX_JOIN + 1):
        if len(parent) < width:
            break
        last = len(parent) - width + 1
        first = np.flatnonzero(parent[width - 1 :] == parent[:last])  # one reference's runs
        starts.append(p_start[first])
        ends.append(p_end[first + width - 1])
        owners.append(parent[first])
    alnum = _byte_ranges(seg[inside], np.concatenate(starts), np.concatenate(ends))
    pay = np.concatenate(owners)
    digits = digits_key(alnum)
    return pa.table({"pay": pa.array(pay), "alnum": alnum, "digits": digits})


FEW_NAMES = 1_000  # distinct ASCII names up to which name_key runs in Python's re


def name_key(names: pa.Array, *, few: int = FEW_NAMES) -> pa.Array:
    """Payer or customer name -> comparison key: upper case, punctuation and legal suffixes off,
    single spaces, word order kept.

    Names repeat (every invoice carries its customer's): the regular expressions run over the
    distinct names only, and the keys are taken back to every row. Up to ``few`` distinct
    names, all ASCII (a batch's payers), they run in Python's ``re`` over the names joined by
    line breaks (:func:`_ascii_name_keys`): Arrow's dozen kernel calls cost ~0.3 ms for a
    hundred names. (Unicode folding is left to Arrow: for ASCII it changes nothing.)"""
    keys, indices = distinct_name_keys(names, few=few)
    return keys.take(indices)


def distinct_name_keys(names: pa.Array | pa.ChunkedArray, *, few: int = FEW_NAMES
                       ) -> tuple[pa.Array, pa.Array]:
    """:func:`name_key` of the distinct names (a null as ""), and the index among them of each
    name: ``name_key(names)`` is the first taken at the second (for work per distinct name)."""
    names = flat(names)  # (a chunked array's one chunk as it is)
    distinct = (pc.fill_null(names, "") if names.null_count else names).dictionary_encode()
    keys = None
    if compiled(len(distinct.dictionary), NAME_KEYS_COMPILED_MIN, "name_keys"):
        keys = _compiled_name_keys(distinct.dictionary)
    elif len(distinct.dictionary) <= few:
        keys = _ascii_name_keys(distinct.dictionary.to_pylist())
    return (_name_key(distinct.dictionary) if keys is None else keys), distinct.indices


NAME_KEYS_COMPILED_MIN = 20_000  # distinct names from which name_key compiles
_WORD_CHAR = _ALNUM.copy()  # what RE2's \w matches (its \b is ASCII)
_WORD_CHAR[[*range(ord("a"), ord("z") + 1), ord("_")]] = True
_SUFFIX_WORDS = np.ascontiguousarray(np.array([  # each suffix as two 64-bit words (2, n)
    np.frombuffer(w.encode().ljust(16, b"\0"), "<u8") for w in LEGAL_SUFFIXES]).T)
_SUFFIX_LEN = np.array([len(w) for w in LEGAL_SUFFIXES], np.int64)


def _compiled_name_keys(names: pa.Array) -> pa.Array:
    """:func:`_name_key` of names without nulls: the ASCII ones in one compiled pass
    (:mod:`text_kernel`; ~0.5 s of Arrow's regular expressions for 400,000 names), any other by
    Arrow's steps."""
    names = _utf8(names)
    other = np.zeros(len(names), bool)
    keys = _compiled_bytes("name_keys", names, _WORD_CHAR, _SUFFIX_LEN, *_SUFFIX_WORDS, other)
    if other.any():
        mask = pa.array(other)
        keys = pc.replace_with_mask(keys, mask, _name_key(names.filter(mask)))
    return keys


_SUFFIX_ARRAY = pa.array(sorted(LEGAL_SUFFIXES), pa.string())
_INITIALS = re.compile(r"\b([A-Z])\.(?:([A-Z])\.)?", re.ASCII)
_NOT_WORD = re.compile(r"[^A-Z0-9 \n]+", re.ASCII)
_SUFFIX_WORD = re.compile(r"\b(?:" + "|".join(LEGAL_SUFFIXES) + r")\b", re.ASCII)


def _ascii_name_keys(names: list[str]) -> pa.Array | None:
    """:func:`_name_key` of ASCII names without line breaks, the same steps in Python's ``re``
    over all of them joined by line breaks (None for other names). What is left of a name
    after the first steps are words of [A-Z0-9] and spaces: a legal suffix is a whole word."""
    joined = "\n".join(names)
    if not joined.isascii() or joined.count("\n") != len(names) - 1:
        return None
    upper = _NOT_WORD.sub(" ", _INITIALS.sub(r"\1\2", joined.upper()))
    lines = _SUFFIX_WORD.sub("", upper).split("\n") if names else []
    return pa.array([" ".join(line.split()) for line in lines], pa.string())  # single spaces


def _name_key(names: pa.Array) -> pa.Array:
    folded = pc.utf8_normalize(names, "NFKD")  # "Müller" -> "Mu\u0308ller"
    upper = pc.utf8_upper(pc.replace_substring_regex(folded, r"[^\x00-\x7f]", ""))
    upper = pc.replace_substring_regex(upper, r"\b([A-Z])\.(?:([A-Z])\.)?", "\\1\\2")  # B.V. -> BV
    upper = pc.replace_substring_regex(upper, r"[^A-Z0-9 ]+", " ")
    # words of [A-Z0-9] and spaces are left: legal suffixes off, single spaces (what replacing
    # "\b(INC|...)\b" and "\s+" by " " and trimming did, without two regular expressions
    # that Arrow compiles on every call: ~0.1 ms of a 100-payment Match); the words of all
    # names at once (what str.split and " ".join did name by name)
    words = pc.split_pattern(upper, " ")
    flat = pc.list_flatten(words)
    keep = pc.and_(pc.not_equal(flat, ""), pc.invert(pc.is_in(flat, value_set=_SUFFIX_ARRAY)))
    count = np.bincount(np.asarray(pc.list_parent_indices(words), np.int64),
                        weights=np.asarray(keep, bool), minlength=len(upper))
    offsets = np.zeros(len(upper) + 1, np.int32)
    np.cumsum(count.astype(np.int32), out=offsets[1:])
    kept = pa.ListArray.from_arrays(pa.array(offsets), flat.filter(keep))
    return pc.binary_join(kept, " ").cast(pa.string())


def account_key(accounts: pa.Array) -> pa.Array:
    """Bank account / IBAN -> comparison key (upper case, no spaces or separators)."""
    return alnum_upper(accounts)


ACCOUNT_CODES_COMPILED_MIN = 50_000  # accounts from which account_codes compiles


def account_codes(accounts: pa.Array) -> tuple[pa.Array, np.ndarray] | None:
    """:func:`account_key` of accounts without nulls, dictionary-encoded (the distinct keys
    first seen first, the code of each account) in one compiled pass
    (:func:`text_kernel.account_codes`: no Arrow hash table of a million IBANs); None where the
    pass cannot (a non-ASCII account, a key over 24 bytes) or is not worth compiling
    (:data:`ACCOUNT_CODES_COMPILED_MIN`)."""
    if not compiled(len(accounts), ACCOUNT_CODES_COMPILED_MIN, "account_codes"):
        return None
    from cashmatch.engine import text_kernel

    code, offsets, data = text_kernel.account_codes(*string_parts(accounts), _ALNUM)
    return (strings_at(offsets, data), code) if len(code) == len(accounts) else None
