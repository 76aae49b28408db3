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
