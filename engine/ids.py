"""Exact joins on string ids through integer codes, without hashing millions of strings.

Invoice, payment and customer numbers are usually of one width (``INV-00001234``). Read as an
``(n, width)`` byte matrix, the byte positions that never vary are dropped and the others form a
mixed-radix number (each position's base is the range of bytes seen there): an exact code,
ordered like the ids' bytes, and small enough for a direct-address table from code to row.
Everything is numpy over the Arrow buffers, in cache-sized slices. Ids of mixed widths, or
codes too sparse for a table, go to Arrow's hash lookup instead — same answers, slower.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cashmatch.engine.normalize import string_parts
from cashmatch.engine.schema import flat, take

_SLICE = 1 << 16  # rows per numpy step: an (rows, width) byte slice stays in the L2 cache
_TABLE_PER_ROW = 16  # a direct-address table may hold this many slots per distinct row
_FOLD = 64  # rows folded into one when finding each byte position's range


def _chunks(col: pa.Array | pa.ChunkedArray) -> list[pa.Array]:
    return list(col.chunks) if isinstance(col, pa.ChunkedArray) else [col]


def _width(arr: pa.Array) -> int | None:
    """The one byte width of every id in ``arr`` (no nulls), ``0`` if empty, else ``None``."""
    if not pa.types.is_string(arr.type) or arr.null_count:
        return None
    if len(arr) == 0:
        return 0
    lens = np.diff(string_parts(arr)[0])
    width = int(lens[0])
    return width if width > 0 and bool((lens == width).all()) else None


def _matrix(arr: pa.Array, width: int) -> np.ndarray:
    """The ids of ``arr`` (all of ``width`` bytes) as a zero-copy ``(n, width)`` uint8 view."""
    offsets, data = string_parts(arr)
    start = int(offsets[0])
    return data[start : start + width * len(arr)].reshape(len(arr), width)


def _slices(m: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
    for s in range(0, len(m), _SLICE):
        yield s, m[s : s + _SLICE]


def _column_range(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per byte position (column of ``m``), the lowest and highest byte.

    A reduction down the rows of an ``(n, width)`` matrix runs an inner loop of ``width``
    elements; folding ``_FOLD`` rows into one long row first keeps numpy's loops long."""
    width = m.shape[1]
    whole = len(m) - len(m) % _FOLD
    lo = np.full(width, 255, np.uint8)
    hi = np.zeros(width, np.uint8)
    if whole:
        folded = m[:whole].reshape(whole // _FOLD, _FOLD * width)
        lo = folded.min(axis=0).reshape(_FOLD, width).min(axis=0)
        hi = folded.max(axis=0).reshape(_FOLD, width).max(axis=0)
    if whole < len(m):
        lo = np.minimum(lo, m[whole:].min(axis=0))
        hi = np.maximum(hi, m[whole:].max(axis=0))
    return lo, hi


class IdIndex:
    """The rows of a column of ids, for exact lookups: ``IdIndex(values).find(keys)``."""

    def __init__(self, values: pa.Array | pa.ChunkedArray) -> None:
        self.values = values
        self.n = len(values)
        chunks = [c for c in _chunks(values) if len(c)]
        widths = {_width(c) for c in chunks}
        self.width = widths.pop() if len(widths) == 1 else None
        self.table: np.ndarray | None = None
        self._dup: np.ndarray | None = None
        self._codes: np.ndarray | None = None
        if self.width:
            mats = [_matrix(c, self.width) for c in chunks]
            ranges = [_column_range(m) for m in mats]
            lo = np.min([r[0] for r in ranges], axis=0).astype(np.int64)
            hi = np.max([r[1] for r in ranges], axis=0).astype(np.int64)
            base = hi - lo + 1
            space = 1
            for b in base:
                space *= int(b)
            if space <= max(_TABLE_PER_ROW * self.n, 1 << 16):
                self.lo, self.base = lo.astype(np.uint8), base
                self._build_table(mats, space)

    # ---- the direct-address table
    def _code_slices(
        self, m: np.ndarray, *, checked: bool = True
    ) -> Iterator[tuple[int, np.ndarray]]:
        """(start, codes) per slice of a byte matrix of ids of the index's width; a code is
        -1 where the id holds a byte never seen at its position (only if ``checked``: the
        index's own ids skip the positions that never vary)."""
        for start, s in _slices(m):
            code = np.zeros(len(s), np.int64)
            ok = np.ones(len(s), bool) if checked else None
            for j in range(self.width):
                base = int(self.base[j])
                if base == 1 and not checked:
                    continue
                digit = s[:, j] - self.lo[j]  # uint8: a byte below the range wraps round
                if checked:
                    ok &= digit < base
                if base > 1:
                    code *= base
                    code += digit
            if checked:
                code[~ok] = -1
            yield start, code

    def _build_table(self, mats: list[np.ndarray], space: int) -> None:
        codes = np.empty(self.n, _index_dtype(space))
        table = np.full(space, -1, _index_dtype(self.n))
        pos = 0
        for m in mats:  # slice by slice: no array of every row number
            for start, code in self._code_slices(m, checked=False):
                at = pos + start
                codes[at : at + len(code)] = code
                # with repeated codes any one row wins (see _first_rows)
                table[code] = np.arange(at, at + len(code), dtype=table.dtype)
            pos += len(m)
        self.table, self._codes = table, codes

    def _other_rows(self) -> np.ndarray:
        """Per row: does the table point elsewhere for its code? (slice by slice)"""
        table, codes = self.table, self._codes
        out = np.empty(self.n, bool)
        for s in range(0, self.n, _SLICE):
            e = min(s + _SLICE, self.n)
            out[s:e] = table[codes[s:e]] != np.arange(s, e, dtype=table.dtype)
        return out

    def _first_rows(self) -> np.ndarray:
        """The table with each repeated code pointing at its first row (what ``find`` and
        ``duplicate`` promise; ``encode`` needs any row of a code, so it never pays for this:
        for a column of few distinct values nearly every row repeats one)."""
        if self._dup is None:
            lost = self._other_rows()
            if lost.any():
                rows = np.flatnonzero(lost).astype(self.table.dtype)
                np.minimum.at(self.table, self._codes[rows], rows)
                self._dup = self._other_rows()
            else:
                self._dup = lost
        return self.table

    @property
    def duplicate(self) -> np.ndarray:
        """Per row: does it repeat an id of an earlier row?"""
        if self.table is not None:
            self._first_rows()
            return self._dup
        first = self.find(self.values)
        return first != np.arange(self.n)

    def find(self, keys: pa.Array | pa.ChunkedArray) -> np.ndarray:
        """Per key, the first row holding that id (-1 where none; null keys find nothing);
        int32 when the rows allow (half the memory of int64 for millions of keys)."""
        if self.table is None:
            if self.n == 0:
                return np.full(len(keys), -1, np.int64)
            idx = pc.index_in(keys, value_set=flat(self.values))
            return np.asarray(pc.fill_null(idx, -1).to_numpy(zero_copy_only=False), np.int64)
        table = self._first_rows()
        out = np.full(len(keys), -1, table.dtype)
        pos = 0
        for chunk in _chunks(keys):
            if _width(chunk) == self.width:
                rows = np.arange(len(chunk))
                m = _matrix(chunk, self.width)
            else:  # mixed widths or nulls: only the keys of the index's width can be found
                off, data = string_parts(chunk)
                valid = np.asarray(chunk.is_valid(), bool) if chunk.null_count else True
                rows = np.flatnonzero((np.diff(off) == self.width) & valid)
                m = (
                    data[off[rows][:, None] + np.arange(self.width)]
                    if len(rows)
                    else np.zeros((0, self.width), np.uint8)
                )
            for start, code in self._code_slices(m):
                ok = code >= 0
                hit = np.where(ok, table[np.where(ok, code, 0)], -1)
                out[pos + rows[start : start + len(code)]] = hit
            pos += len(chunk)
        return out

    def encode(self) -> tuple[np.ndarray, pa.Array]:
        """(a code per row in 0..k-1, the k distinct ids), like a dictionary encoding."""
        if self.table is None:
            enc = pc.dictionary_encode(flat(self.values), null_encoding="encode")
            return np.asarray(enc.indices.to_numpy(), np.int64), enc.dictionary
        present = self.table >= 0
        rank = np.cumsum(present, dtype=_index_dtype(self.n))
        rank -= 1
        firsts = self.table[present]
        return rank[self._codes], take(self.values, firsts)


def _index_dtype(size: int) -> type[np.signedinteger]:
    """int32 for row numbers and codes below ``size`` when they fit, else int64."""
    return np.int32 if size < 2**31 else np.int64


