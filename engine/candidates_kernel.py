"""Compiled passes of :mod:`cashmatch.engine.candidates` (numba).

:func:`strongest` keeps, of candidate rows sorted by (payment, invoice), each pair's first
row of strongest reference, and gathers its columns: one pass where the numpy steps made ten
temporaries (``Pairs.concat`` runs ~8 times a match: ~40 us each on a 100-payment call, 1.6 s
at a million payments). The numpy steps it replaced are its reference
(``tests/engine/test_candidates_kernel.py``).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def strongest(
    pay: np.ndarray, inv: np.ndarray, ref: np.ndarray, fuzzy: np.ndarray, order: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rows ``order`` (sorted by (pay, inv)), one per (pay, inv): its first of the highest
    ``ref``; their (pay, inv, ref, fuzzy)."""
    n = len(order)
    keep = np.empty(n, np.int64)
    kept = 0
    j = 0
    while j < n:
        best = order[j]
        p, i = pay[best], inv[best]
        j += 1
        while j < n and pay[order[j]] == p and inv[order[j]] == i:
            if ref[order[j]] > ref[best]:
                best = order[j]
            j += 1
        keep[kept] = best
        kept += 1
    out_pay = np.empty(kept, pay.dtype)
    out_inv = np.empty(kept, inv.dtype)
    out_ref = np.empty(kept, ref.dtype)
    out_fuzzy = np.empty(kept, np.bool_)
    for k in range(kept):
        r = keep[k]
        out_pay[k], out_inv[k], out_ref[k], out_fuzzy[k] = pay[r], inv[r], ref[r], fuzzy[r]
    return out_pay, out_inv, out_ref, out_fuzzy


@njit(cache=True, nogil=True)
def _lower_bound(keys: np.ndarray, v: int, at: int) -> int:
    """The first row from ``at`` of ``keys`` (ascending) not below ``v``, galloping from
    ``at`` (``keys[at - 1] < v``): few steps when the values come in ascending order."""
    m = len(keys)
    step = 1
    hi = at
    while hi < m and keys[hi] < v:
        at = hi + 1
        hi = at + step
        step *= 2
    hi = min(hi, m)
    while at < hi:
        mid = (at + hi) // 2
        if keys[mid] < v:
            at = mid + 1
        else:
            hi = mid
    return at


@njit(cache=True, nogil=True)
def number_hits(
    pay: np.ndarray,
    value: np.ndarray,
    order: np.ndarray,
    keys: np.ndarray,
    key_inv: np.ndarray,
    key_kind: np.ndarray,
    kind_ref: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pay, invoice, reference strength) of every token ``value`` equal to one of the sorted
    ``keys``, in token order: the values in ``order`` (ascending) walk the keys once."""
    n = len(value)
    lo = np.empty(n, np.int64)
    cnt = np.empty(n, np.int64)
    at = 0
    total = 0
    for t in range(n):
        j = order[t]
        v = value[j]
        at = _lower_bound(keys, v, at)
        e = at
        while e < len(keys) and keys[e] == v:
            e += 1
        lo[j] = at
        cnt[j] = e - at
        total += e - at
    out_pay = np.empty(total, np.int64)
    out_inv = np.empty(total, np.int64)
    out_ref = np.empty(total, np.float64)
    k = 0
    for j in range(n):
        for r in range(lo[j], lo[j] + cnt[j]):
            out_pay[k] = pay[j]
            out_inv[k] = key_inv[r]
            out_ref[k] = kind_ref[key_kind[r]]
            k += 1
    return out_pay, out_inv, out_ref
