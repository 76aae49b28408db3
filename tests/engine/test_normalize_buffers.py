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


def test_compiled_digits_key_equals_the_string_kernels(monkeypatch):
    rng = random.Random(6)
    alphabet = ALPHABET + "0000AAIN"
    values = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 16)))
              for _ in range(5000)]
    arr = pa.array(values)
    monkeypatch.setattr(N, "DIGITS_KEY_COMPILED_MIN", 1)  # the compiled pass on small arrays
    for text in (arr, arr.slice(11, 3000), N.alnum_upper(arr)):
        got, want = N.digits_key(text).to_pylist(), N._digits_key_kernels(text).to_pylist()
        assert got == want
    assert sum(bool(v) for v in want) > 1000  # not all empty
