"""Compiled passes that find the output rows' payments by their ids (for the check of a result,
:func:`cashmatch.engine.result.payment_rows`): a table of the payments' ids, open addressing
(linear probing) over ``2**bits`` slots, each slot ``(hash << 32) | row`` (its upper half the
id's hash's lower 32 bits) or :data:`EMPTY`. The hashes are ``normalize.string_hash64``'s; a
slot is a hash's leading ``bits`` bits. The table can be cut into ``2**part_bits`` parts (by
the slot's leading bits; a probe wraps within its part), each filled on a thread of its own.
Their reference: the Arrow dictionary encoding of ``result._payment_codes_by_arrow``.
"""

from __future__ import annotations

import numpy as np

from cashmatch.engine.kernel_cache import njit
from cashmatch.engine.text_kernel import hash64

EMPTY = np.uint64(0xFFFFFFFFFFFFFFFF)  # a free slot (no row is 2**32 - 1)
_LOW = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)


@njit(cache=True, nogil=True, inline="always")
def _same_bytes(a_off: np.ndarray, a_raw: np.ndarray, i: int, b_off: np.ndarray,
                b_raw: np.ndarray, j: int) -> bool:  # fmt: skip
    """Whether string ``i`` of ``a`` and ``j`` of ``b`` (offsets and bytes each) are equal."""
    a, b = a_off[i], b_off[j]
    n = a_off[i + 1] - a
    if b_off[j + 1] - b != n:
        return False
    for t in range(n):  # noqa: SIM110 - (a loop: compiled)
        if a_raw[a + t] != b_raw[b + t]:
            return False
    return True


@njit(cache=True, nogil=True)
def fill_id_table(offsets: np.ndarray, raw: np.ndarray, hashes: np.ndarray, table: np.ndarray,
                  bits: int, part_bits: int, part: int) -> bool:  # fmt: skip
    """Enter every id ``raw[offsets[i]:offsets[i + 1]]`` (``hashes[i]`` its hash) whose slot
    falls in part ``part`` of ``table`` (all when ``part_bits`` is 0); False as soon as one is
    there already (ids not unique: the table is then unfinished)."""
    part_size = len(table) >> part_bits
    mask = part_size - 1
    shift = np.uint64(64 - bits)
    for i in range(len(hashes)):
        h = hashes[i]
        slot = np.int64(h >> shift)
        if slot // part_size != part:
            continue
        start = slot - (slot & mask)
        tag = h & _LOW
        while True:
            entry = table[slot]
            if entry == EMPTY:
                table[slot] = (h << _S32) | np.uint64(i)
                break
            if entry >> _S32 == tag and _same_bytes(offsets, raw, np.int64(entry & _LOW),
                                                    offsets, raw, i):
                return False
            slot = start + ((slot + 1) & mask)
    return True


@njit(cache=True, nogil=True, inline="always")
def _probe(table: np.ndarray, h: np.uint64, bits: int, part_bits: int, t_off: np.ndarray,
           t_raw: np.ndarray, i: int, p_off: np.ndarray, p_raw: np.ndarray, by_bytes: bool
           ) -> int:  # fmt: skip
    """The row of the first slot from hash ``h``'s whose tag is ``h``'s (and, ``by_bytes``,
    whose id is text ``i``'s bytes), -1 at a free slot before it."""
    mask = (len(table) >> part_bits) - 1
    slot = np.int64(h >> np.uint64(64 - bits))
    start = slot - (slot & mask)
    tag = h & _LOW
    while True:
        entry = table[slot]
        if entry == EMPTY:
            return -1
        if entry >> _S32 == tag:
            row = np.int64(entry & _LOW)
            if not by_bytes or _same_bytes(t_off, t_raw, i, p_off, p_raw, row):
                return row
        slot = start + ((slot + 1) & mask)


@njit(cache=True, nogil=True)
def find_rows(t_off: np.ndarray, t_raw: np.ndarray, p_off: np.ndarray, p_raw: np.ndarray,
              table: np.ndarray, bits: int, part_bits: int, base: np.uint64, fmix: tuple,
              out: np.ndarray) -> bool:  # fmt: skip
    """The row of the payment id equal to each text ``t_raw[t_off[i]:t_off[i + 1]]`` into
    ``out[i]``, by ``table`` of the ids ``p_raw[p_off[r]:p_off[r + 1]]`` (unique); False when
    a text is none of them. Three passes, none of whose reads waits for another row's: the
    texts' hashes (:func:`hash64`); each text's first slot of its tag (an equal id's, unless
    another id's tag is the same and before it); then each text's bytes against that row's,
    the rare text they differ from looked up again by its bytes. (One pass of lookups by the
    bytes read the table, then the id's offsets, then its bytes, one after another: 1M day,
    145-164 ms of CPU, against 68.)"""
    hashes = np.empty(len(t_off) - 1, np.uint64)
    hash64(t_off, t_raw, base, fmix, hashes)
    for i in range(len(hashes)):
        out[i] = _probe(table, hashes[i], bits, part_bits, t_off, t_raw, i, p_off, p_raw, False)
    for i in range(len(hashes)):
        if out[i] < 0:
            return False  # (an equal id has the same tag: it would have been found first)
        if not _same_bytes(t_off, t_raw, i, p_off, p_raw, out[i]):
            out[i] = _probe(table, hashes[i], bits, part_bits, t_off, t_raw, i, p_off, p_raw,
                            True)
            if out[i] < 0:
                return False
    return True
