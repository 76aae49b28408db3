"""Compiled (numba) passes over the data buffers of Arrow string arrays, for the normalisation
steps that Arrow's string kernels do in several regular-expression passes. Each has its
reference in :mod:`normalize` and a differential test. Imported on first use only.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def digits_key(offsets: np.ndarray, raw: np.ndarray, ocr: np.ndarray, out_offsets: np.ndarray,
               out: np.ndarray) -> int:
    """``normalize.digits_key`` of the strings ``raw[offsets[i]:offsets[i + 1]]`` into
    ``out`` (bytes) and ``out_offsets``; the bytes used. ``ocr`` maps look-alike letters to
    digits (a byte table). The steps: the leading A-Z off; the rest mapped by ``ocr`` when no
    more than a third of its characters are other than digits; non-digits and leading zeros
    dropped (digits are ASCII: a byte test suffices in UTF-8)."""
    used = 0
    out_offsets[0] = 0
    for i in range(len(offsets) - 1):
        a, b = offsets[i], offsets[i + 1]
        j = a
        while j < b and 65 <= raw[j] <= 90:
            j += 1
        chars = 0
        others = 0
        for t in range(j, b):
            c = raw[t]
            if c < 0x80 or c >= 0xC0:  # a character starts here
                chars += 1
                if c < 48 or c > 57:
                    others += 1
        mapped = others * 3 <= chars
        started = False
        for t in range(j, b):
            c = ocr[raw[t]] if mapped else raw[t]
            if 48 <= c <= 57 and (started or c != 48):
                started = True
                out[used] = c
                used += 1
        out_offsets[i + 1] = used
    return used
