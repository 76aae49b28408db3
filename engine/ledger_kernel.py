"""Compiled (numba) pass of the prepared ledger: the invoices' key index in one pass over their
ids (:func:`key_index`), in place of the table of every key (``normalize.invoice_keys``, ~12.7M
rows of strings for 2.5M invoices) coded, counted, filtered and cast to numbers
(``candidates.usable_keys``). Its reference is that path, and a differential test holds them
equal. The amount index's orders (:func:`amount_orders`; its reference: numpy's steps in
``candidates.amount_index_steps``). Imported on first use only.
"""

from __future__ import annotations

import numpy as np

from cashmatch.engine.kernel_cache import njit
from cashmatch.engine.text_kernel import (
    _packed_firsts,
    id_key_values,
    sort_packed_into,
    take_strings,
    words_order,
)

MAX_WORD_KEY = 16  # alnum keys of at most this many bytes are coded as two 64-bit words


@njit(cache=True, nogil=True)
def _by_value(value: np.ndarray, row: np.ndarray, row_bits: int) -> tuple:
    """``value`` and ``row`` (below ``2**row_bits``) in the stable order of ``value`` (int64, not
    negative): each value and its row packed into one word (the value above the row) and those
    sorted by the value's bits (``text_kernel.sort_packed``: the rows ascending already, the
    stable order) when both fit 64 bits, else by ``text_kernel.words_order`` of the values.
    Packed, the two arrays are the sort's own: the words are written into ``row``'s buffer,
    ``value``'s is the sort's scratch, and both are overwritten with the result (no third or
    fourth array: 2 x 88 MiB at a 1M day's key index)."""
    n = len(value)
    top = value.max() if n else 0
    value_bits = 0
    while value_bits < 63 and (np.int64(1) << value_bits) <= top:
        value_bits += 1
    if value_bits + row_bits > 64:
        order = words_order(value.view(np.uint64).reshape((n, 1)))
        return value[order], row[order]
    shift = np.uint64(row_bits)
    packed = row.view(np.uint64)
    for k in range(n):
        packed[k] = (np.uint64(value[k]) << shift) | np.uint64(row[k])
    packed = sort_packed_into(packed, value.view(np.uint64), row_bits, row_bits + value_bits)
    mask = (np.uint64(1) << shift) - np.uint64(1)
    for k in range(n):  # (packed is row's or value's buffer: its word k is read first)
        word = packed[k]
        value[k] = np.int64(word >> shift)
        row[k] = np.int64(word & mask)
    return value, row


@njit(cache=True, nogil=True)
def key_index(offsets: np.ndarray, raw: np.ndarray, ocr: np.ndarray, min_len: np.ndarray,
              prefix_min: int, part_kind: np.ndarray, max_digits: int, max_invoices: int
              ) -> tuple:
    """The key index of the ASCII invoice ids ``raw[offsets[i]:offsets[i + 1]]``: what
    ``candidates.usable_keys`` and ``candidates.digit_keys_by_invoice`` derive from
    ``normalize.invoice_keys`` of them (its parts, ``min_len``, ``prefix_min`` and the kind of
    each part, ``part_kind``, as there),
    without writing that table out. ``ok`` is False (and the rest empty) when some key is not
    of the forms this pass codes: an alnum key of more than ``MAX_WORD_KEY`` bytes or a
    digit-like key of more than ``max_digits`` digits.

    A key is usable when it names at most ``max_invoices`` invoices, counted over all its
    parts: the digit-like keys and the alnum keys that are canonical decimals (digits, no
    leading zero) as int64 values, sorted once (part by part, invoice by invoice within a
    part: a stable sort keeps that order among equal values); the other alnum keys (which no
    digit-like key equals) by their bytes as two words (``text_kernel._packed_firsts``: one
    alnum key an invoice, so its rows are its invoices).

    Returns ``(ok, number, number_inv, number_kind, al_off, al_raw, al_starts, al_inv,
    dg_inv, dg_off, dg_raw)``: the usable digit-like keys by (value, part, invoice) with their
    invoices and kinds; the distinct usable alnum keys (offsets, bytes) in order of first
    occurrence, each one's invoices ``al_inv[al_starts[k]:al_starts[k + 1]]``; the digits keys
    of the invoices ``dg_inv`` (offsets, bytes)."""
    n = len(offsets) - 1
    total = offsets[n] - offsets[0]
    n_parts = len(min_len)
    al = np.empty(total, np.uint8)
    al_at = np.zeros(n + 1, np.int64)
    dg = np.empty(total, np.uint8)
    dg_at = np.zeros(n + 1, np.int64)
    a_val = np.full(n, -1, np.int64)  # an alnum key's value if it is a canonical decimal
    d_len = np.zeros(n, np.int64)
    d_val = np.zeros(n, np.int64)
    t_val = np.full(n, -1, np.int64)  # the tail's value, -1 when it is no key
    rows = np.zeros(n_parts, np.int64)
    ua, ud = 0, 0
    for i in range(n):
        ua, ud, lt, alnum, digits, tail = id_key_values(
            raw, offsets[i], offsets[i + 1], ocr, al, ua, dg, ud)
        al_at[i + 1] = ua
        dg_at[i + 1] = ud
        la, ld = ua - al_at[i], ud - dg_at[i]
        if la > MAX_WORD_KEY or ld > max_digits or lt > max_digits:
            return (False, np.zeros(0, np.int64), np.zeros(0, np.int32), np.zeros(0, np.int8),
                    np.zeros(1, np.int32), np.zeros(0, np.uint8), np.zeros(1, np.int64),
                    np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(1, np.int32),
                    np.zeros(0, np.uint8))
        if la >= min_len[0]:
            rows[0] += 1
            if la <= max_digits:
                a_val[i] = alnum
        d_len[i] = ld
        d_val[i] = digits
        if ld >= min_len[1]:
            rows[1] += 1
        if lt >= min_len[2] and not (lt == ld and tail == digits):
            t_val[i] = tail  # (a tail equal to the digits key adds nothing)
            rows[2] += 1
        for p in range(3, n_parts):
            if ld - (p - 2) >= prefix_min and ld - (p - 2) >= min_len[p]:
                rows[p] += 1
    # every decimal key (the decimal alnum keys first), part by part, invoice by invoice
    n_num = 0
    for i in range(n):
        if a_val[i] >= 0:
            n_num += 1
    n_num += rows[1:].sum()
    inv_bits = 1
    while (1 << inv_bits) < n:
        inv_bits += 1
    part_bits = 1
    while (1 << part_bits) < n_parts:
        part_bits += 1
    inv_mask = (1 << inv_bits) - 1
    value = np.empty(n_num, np.int64)
    row = np.empty(n_num, np.int64)  # part << inv_bits | invoice: ascending as they are written
    k = 0
    for p in range(n_parts):
        scale = np.int64(10) ** max(p - 2, 0)
        for i in range(n):
            if p == 0:
                v = a_val[i]
            elif p == 1:
                v = d_val[i] if d_len[i] >= min_len[1] else -1
            elif p == 2:
                v = t_val[i]
            else:
                cut = d_len[i] - (p - 2)
                v = d_val[i] // scale if cut >= prefix_min and cut >= min_len[p] else -1
            if v >= 0:
                value[k] = v
                row[k] = (p << inv_bits) | i
                k += 1
    # (stable: equal values keep the order of their parts and invoices)
    value, row = _by_value(value, row, inv_bits + part_bits)
    # each value's run: usable if it names at most max_invoices invoices
    a_ok = np.ones(n, np.bool_)  # a decimal alnum key's usability (the others': below)
    keep = np.zeros(n_num, np.bool_)
    n_keep = 0
    lo = 0
    while lo < n_num:
        hi = lo + 1
        while hi < n_num and value[hi] == value[lo]:
            hi += 1
        ok = hi - lo <= max_invoices
        if not ok:  # (rows of one invoice in two parts count once)
            invs = np.empty(hi - lo, np.int64)
            for j in range(lo, hi):
                invs[j - lo] = row[j] & inv_mask
            invs.sort()
            distinct = 1
            for j in range(1, hi - lo):
                if invs[j] != invs[j - 1]:
                    distinct += 1
            ok = distinct <= max_invoices
        for j in range(lo, hi):
            if row[j] <= inv_mask:  # (part 0)
                a_ok[row[j]] = ok
            elif ok:
                keep[j] = True
                n_keep += 1
        lo = hi
    number = np.empty(n_keep, np.int64)
    number_inv = np.empty(n_keep, np.int32)
    number_kind = np.empty(n_keep, np.int8)
    k = 0
    for j in range(n_num):
        if keep[j]:
            number[k] = value[j]
            number_inv[k] = row[j] & inv_mask
            number_kind[k] = part_kind[row[j] >> inv_bits]
            k += 1
    # the alnum keys: coded by their words, the other keys' usability by their rows
    has = np.flatnonzero(al_at[1:] - al_at[:-1] >= min_len[0])
    if len(has) == n:  # (every invoice has one, as a rule: they are read where they are)
        h_off, h_raw = al_at, al
    else:
        h_off = np.empty(len(has) + 1, np.int64)
        h_raw = take_strings(al_at, al, has, h_off)
    first = _packed_firsts(h_off, h_raw)
    code = np.empty(len(has), np.int64)
    n_codes = 0
    for j in range(len(has)):
        if first[j] == j:
            code[j] = n_codes
            n_codes += 1
        else:
            code[j] = code[first[j]]
    size = np.zeros(n_codes, np.int64)
    for j in range(len(has)):
        size[code[j]] += 1
    # the usable codes, renumbered in order of first occurrence, and their invoices
    new = np.full(n_codes, -1, np.int64)
    starts = np.zeros(n_codes + 1, np.int64)
    kept = 0
    key_bytes = 0
    for j in range(len(has)):
        c = code[j]
        if first[j] == j and (a_ok[has[j]] if a_val[has[j]] >= 0 else size[c] <= max_invoices):
            new[c] = kept
            starts[kept + 1] = size[c]
            key_bytes += h_off[j + 1] - h_off[j]
            kept += 1
    starts = starts[: kept + 1]
    for c in range(kept):
        starts[c + 1] += starts[c]
    al_inv = np.empty(starts[kept], np.int64)
    fill = starts[:-1].copy()
    al_off = np.zeros(kept + 1, np.int32)
    al_raw = np.empty(key_bytes, np.uint8)
    for j in range(len(has)):
        c = new[code[j]]
        if c < 0:
            continue
        al_inv[fill[c]] = has[j]
        fill[c] += 1
        if first[j] == j:
            w = h_off[j + 1] - h_off[j]
            al_off[c + 1] = al_off[c] + w
            al_raw[al_off[c]:al_off[c + 1]] = h_raw[h_off[j]:h_off[j + 1]]
    # the digits keys, invoice by invoice
    dg_inv = np.flatnonzero(d_len >= min_len[1])
    if len(dg_inv) == n:  # (as a rule: copied whole)
        dg_off = dg_at.astype(np.int32)
        dg_raw = dg[:ud].copy()
    else:
        dg_off = np.empty(len(dg_inv) + 1, np.int32)
        dg_raw = take_strings(dg_at, dg, dg_inv, dg_off)
    return (True, number, number_inv, number_kind, al_off, al_raw, starts, al_inv, dg_inv,
            dg_off, dg_raw)


AMOUNT_BITS = 42  # an amount key is block (or currency) * 2**AMOUNT_BITS + amount
SHORT_RUN = 32  # runs of at most this many rows are sorted in place by insertion


@njit(cache=True, nogil=True)
def _rows_by_block(block: np.ndarray, target: np.ndarray, n_blocks: int
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rows with a block (>= 0) and a target above 0, stably by block (a counting sort),
    their targets in that order, and where each block's rows start (one more: the end)."""
    start = np.zeros(n_blocks + 1, np.int64)
    for i in range(len(block)):
        if block[i] >= 0 and target[i] > 0:
            start[block[i] + 1] += 1
    for b in range(n_blocks):
        start[b + 1] += start[b]
    fill = start[:-1].copy()
    rows = np.empty(start[n_blocks], np.int64)
    values = np.empty(start[n_blocks], np.int64)
    for i in range(len(block)):
        if block[i] >= 0 and target[i] > 0:
            k = fill[block[i]]
            rows[k] = i
            values[k] = target[i]
            fill[block[i]] = k + 1
    return rows, values, start


@njit(cache=True, nogil=True)
def _sort_runs(rows: np.ndarray, values: np.ndarray, start: np.ndarray) -> None:
    """Each run ``start[b]:start[b + 1]`` of ``values`` sorted stably in place, ``rows`` moved
    along: a short run by insertion, a long one by a merge sort."""
    for b in range(len(start) - 1):
        lo, hi = start[b], start[b + 1]
        if hi - lo <= SHORT_RUN:
            for j in range(lo + 1, hi):
                r, v = rows[j], values[j]
                k = j
                while k > lo and values[k - 1] > v:
                    rows[k] = rows[k - 1]
                    values[k] = values[k - 1]
                    k -= 1
                rows[k] = r
                values[k] = v
        else:
            order = np.argsort(values[lo:hi], kind="mergesort")
            rows[lo:hi] = rows[lo:hi][order]
            values[lo:hi] = values[lo:hi][order]


@njit(cache=True, nogil=True)
def _by_block(block: np.ndarray, target: np.ndarray, n_blocks: int
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The rows with a block and a target above 0 by block (stable) and by (block, target)
    (stable), with their targets and keys ``block * 2**AMOUNT_BITS + target`` in that order;
    where each block's rows start."""
    members, values, start = _rows_by_block(block, target, n_blocks)
    rows = members.copy()
    _sort_runs(rows, values, start)
    key = np.empty(len(rows), np.int64)
    for b in range(n_blocks):
        for j in range(start[b], start[b + 1]):
            key[j] = (np.int64(b) << AMOUNT_BITS) + values[j]
    return members, rows, values, start, key


@njit(cache=True, nogil=True)
def amount_orders(amount: np.ndarray, discounted: np.ndarray, group: np.ndarray,
                  currency: np.ndarray, n_currencies: int) -> tuple:
    """The orders of ``candidates.AmountIndex`` in one compiled pass (its reference:
    ``candidates.amount_index_steps``, the numpy steps, tested equal): the rows of a known
    group by block ``group * n_currencies + currency`` by a counting sort, each block's run
    then by amount (most runs are a few rows: by insertion); every row by (currency,
    ``max(amount, 0)``) as one packed word a row (:func:`_by_value`). The amounts and
    discounted amounts are below ``2**AMOUNT_BITS`` (the keys' order is then that of their
    block or currency first).

    Returns ``(members, block_key, block_start, by_amount, sorted_amount, amount_key,
    block_amount, by_discounted, discounted_key, by_currency, currency_key)`` as the index
    holds them, and the book's ``block_size`` (``candidates.block_sizes``: every row's block
    counted, a row of no group in block 0's count and of size 1 itself)."""
    n = len(amount)
    block = np.empty(n, np.int64)
    n_blocks = 0
    for i in range(n):
        block[i] = np.int64(group[i]) * n_currencies + currency[i] if group[i] >= 0 else -1
        n_blocks = max(n_blocks, block[i] + 1)
    rows_in = np.zeros(max(n_blocks, 1), np.int64)
    for i in range(n):
        rows_in[max(block[i], 0)] += 1
    block_size = np.empty(n, np.int32)
    for i in range(n):
        block_size[i] = rows_in[block[i]] if block[i] >= 0 else 1
    members, by_amount, sorted_amount, start, amount_key = _by_block(block, amount, n_blocks)
    n_runs = 0
    for b in range(n_blocks):
        if start[b + 1] > start[b]:
            n_runs += 1
    block_key = np.empty(n_runs, group.dtype)
    block_start = np.empty(n_runs + 1, np.int64)
    top = np.int64(0)
    for i in range(n):
        top = max(top, amount[i])
    span = top + 2
    block_amount = np.empty(len(by_amount), np.int64)
    run = 0
    for b in range(n_blocks):
        lo, hi = start[b], start[b + 1]
        if hi == lo:
            continue
        block_key[run] = b
        block_start[run] = lo
        for j in range(lo, hi):
            block_amount[j] = run * span + sorted_amount[j]
        run += 1
    block_start[n_runs] = len(members)
    _, by_discounted, _, _, discounted_key = _by_block(block, discounted, n_blocks)
    value = np.empty(n, np.int64)  # (currency, open amount) as one value, in the same order
    for i in range(n):
        value[i] = np.int64(currency[i]) * (top + 1) + max(amount[i], 0)
    row_bits = 1
    while (1 << row_bits) < n:
        row_bits += 1
    value, by_currency = _by_value(value, np.arange(n), row_bits)
    currency_key = np.empty(n, np.int64)
    for j in range(n):
        currency_key[j] = ((value[j] // (top + 1)) << AMOUNT_BITS) + value[j] % (top + 1)
    return (members, block_key, block_start, by_amount.astype(np.int32), sorted_amount,
            amount_key, block_amount, by_discounted.astype(np.int32), discounted_key,
            by_currency.astype(np.int32), currency_key, block_size)
