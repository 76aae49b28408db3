"""The buffer-level helpers of normalize equal the Arrow string kernels they replace."""

import random

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cashmatch.engine import normalize as N

ALPHABET = "0123456789ABOQDILSBZGxyz é€ü-/"


def _old_ocr(text):
    out = text
    for letter, digit in N.OCR_TO_DIGIT.items():
        out = pc.replace_substring(out, letter, digit)
    return out


def test_ocr_digits_and_letter_counts_equal_the_string_kernels():
    rng = random.Random(5)
    values = ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 14))) for _ in range(3000)]
    arr = pa.array(values)
    for text in (arr, arr.slice(7, 2000)):  # a sliced array has an offset into its buffers
        assert N._ocr_digits(text).to_pylist() == _old_ocr(text).to_pylist()
        want = pc.utf8_length(pc.replace_substring_regex(text, r"[0-9]", ""))
        np.testing.assert_array_equal(N._non_digit_chars(text), np.asarray(want))


def test_digits_key_examples():
    got = N.digits_key(N.alnum_upper(pa.array(["INV-2O26-004512", "4512THANKS", "", "SO/26/0378"])))
    assert got.to_pylist() == ["2026004512", "4512", "", "260378"]
