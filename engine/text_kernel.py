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


@njit(cache=True, nogil=True)
def plain_minor(
    offsets: np.ndarray, raw: np.ndarray, exps: np.ndarray, null: np.ndarray, out: np.ndarray
) -> bool:
    """``money.parse_plain_minor`` of the strings ``raw[offsets[i]:offsets[i + 1]]`` into
    ``out``: ``-?[0-9]*(.[0-9]*)?`` with at least one digit, as minor units of ``exps[i]``
    decimals (further decimals must be zeros); null rows (``null``, empty when none) give 0.
    False at the first row that is anything else, or longer than 17 characters with its
    exponent (so no overflow): the caller then declines the column."""
    for i in range(len(offsets) - 1):
        if len(null) and null[i]:
            out[i] = 0
            continue
        j, b = offsets[i], offsets[i + 1]
        if b - j + exps[i] > 17:
            return False  # long text (leading zeros?): the careful parser's size rule decides
        neg = j < b and raw[j] == 45  # "-"
        if neg:
            j += 1
        e = exps[i]
        v = 0
        digits = 0
        while j < b and 48 <= raw[j] <= 57:
            v = v * 10 + (raw[j] - 48)
            digits += 1
            j += 1
        places = 0
        if j < b and raw[j] == 46:  # "."
            j += 1
            while j < b and 48 <= raw[j] <= 57:
                if places < e:
                    v = v * 10 + (raw[j] - 48)
                    places += 1
                elif raw[j] != 48:
                    return False  # more decimals than the currency allows
                digits += 1
                j += 1
        if j != b or digits == 0:
            return False
        while places < e:
            v *= 10
            places += 1
        out[i] = -v if neg else v
    return True
