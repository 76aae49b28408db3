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


def test_digits_key_examples():
    got = N.digits_key(N.alnum_upper(pa.array(["INV-2O26-004512", "4512THANKS", "", "SO/26/0378"])))
    assert got.to_pylist() == ["2026004512", "4512", "", "260378"]


def _old_digits_key(alnum):
    body = pc.replace_substring_regex(alnum, r"^[A-Z]+", "")
    letters = pc.utf8_length(pc.replace_substring_regex(body, r"[0-9]", ""))
    mostly_digits = pc.less_equal(pc.multiply(letters, 3), pc.utf8_length(body))
    body = pc.if_else(mostly_digits, _old_ocr(body), body)
    body = pc.replace_substring_regex(body, r"[^0-9]", "")
    return pc.replace_substring_regex(body, r"^0+", "")


def _old_reference_tokens(refs):
    upper = pc.replace_substring_regex(pc.utf8_upper(pc.fill_null(refs, "")), N.DATES, " ")
    runs = pc.split_pattern_regex(upper, r"[^A-Z0-9]+")
    flat = pc.list_flatten(runs)
    parent = np.asarray(pc.list_parent_indices(runs), dtype=np.int64)
    nonempty = np.asarray(pc.not_equal(flat, ""), dtype=bool)
    flat = pc.filter(flat, pa.array(nonempty))
    parent = parent[nonempty]
    tokens, owners = [flat], [parent]
    for width in range(2, N.MAX_JOIN + 1):
        if len(parent) < width:
            break
        starts = np.flatnonzero(parent[width - 1 :] == parent[: len(parent) - width + 1])
        tokens.append(pc.binary_join_element_wise(
            *[pc.take(flat, pa.array(starts + k)) for k in range(width)], ""))
        owners.append(parent[starts])
    return np.concatenate(owners).tolist(), pa.concat_arrays(tokens).to_pylist()


REFERENCE_ALPHABET = "0123456789ABOQDILSZG abc-/.,:éü€ \t"


def test_digits_key_and_reference_tokens_equal_the_regular_expressions():
    rng = random.Random(11)
    values = ["".join(rng.choice(REFERENCE_ALPHABET) for _ in range(rng.randint(0, 30)))
              for _ in range(3000)]
    values += ["", "INV-2026-004512 16.03.2026", "SO 26 0378 x", "000", "ABC", "0A0", None]
    arr = pa.array(values)
    for text in (arr, arr.slice(5, 2500), pa.array([], pa.string())):
        assert N.digits_key(text).to_pylist() == _old_digits_key(text).to_pylist()
        upper = pc.utf8_upper(pc.fill_null(text, ""))
        assert N.digits_key(upper).to_pylist() == _old_digits_key(upper).to_pylist()
        got = N.reference_tokens(text)
        pay, alnum = _old_reference_tokens(text)
        assert got.column("pay").to_pylist() == pay
        assert got.column("alnum").to_pylist() == alnum
        assert got.column("digits").to_pylist() == _old_digits_key(pa.array(alnum, pa.string())
                                                                   ).to_pylist()


def test_alnum_upper_equals_the_regular_expression():
    rng = random.Random(13)
    values = ["".join(rng.choice(REFERENCE_ALPHABET + "ßæ") for _ in range(rng.randint(0, 25)))
              for _ in range(2000)] + [None, ""]
    arr = pa.array(values)
    for text in (arr, arr.slice(3, 1500), pa.chunked_array([arr.slice(0, 9), arr.slice(9)])):
        want = pc.replace_substring_regex(pc.utf8_upper(pc.fill_null(text, "")), r"[^A-Z0-9]", "")
        assert N.alnum_upper(text).to_pylist() == want.to_pylist()


def test_compiled_digits_key_equals_the_regular_expressions(monkeypatch):
    rng = random.Random(6)
    alphabet = ALPHABET + "0000AAIN"
    values = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 16)))
              for _ in range(5000)]
    arr = pa.array(values)
    monkeypatch.setattr(N, "DIGITS_KEY_COMPILED_MIN", 1)  # the compiled pass on small arrays
    for text in (arr, arr.slice(11, 3000), N.alnum_upper(arr)):
        got, want = N.digits_key(text).to_pylist(), _old_digits_key(text).to_pylist()
        assert got == want
    assert sum(bool(v) for v in want) > 1000  # not all empty


def test_dates_and_quarters_are_not_references():
    """A period beside the text is not an invoice number: ``Q1/2026`` joined would read as
    12026 and name invoice INV-2025-012026 for every interest credit of the quarter."""
    refs = pa.array(["CREDIT INTEREST Q1/2026", "VAT REFUND 2026 Q1", "INV-2026-004512 q2-26",
                     "PAID 16.03.2026 SO 12026"])
    got = N.reference_tokens(refs)
    digits = {}
    for pay, d in zip(got.column("pay").to_pylist(), got.column("digits").to_pylist(),
                      strict=True):
        digits.setdefault(pay, set()).add(d)
    assert not digits.get(0, set()) - {""} and not digits.get(1, set()) - {""}
    assert digits[2] - {""} == {"2026", "4512", "2026004512"}  # nothing of "q2-26"
    assert "12026" in digits[3]  # a number written beside a date still counts


def test_search_sorted_answers_as_searchsorted_in_either_order(monkeypatch):
    rng = np.random.default_rng(2)
    keys = np.sort(rng.integers(0, 500, 2000))
    lo_v = rng.integers(-5, 505, 3000)
    hi_v = lo_v + rng.integers(0, 20, 3000)
    want = [np.searchsorted(keys, lo_v, "left"), np.searchsorted(keys, hi_v, "right")]
    for threshold in (10**9, 1):  # as given, then in sorted order
        monkeypatch.setattr(N, "SORTED_SEARCH_MIN", threshold)
        got = N.search_sorted(keys, (lo_v, "left"), (hi_v, "right"))
        assert all(np.array_equal(g, w) for g, w in zip(got, want, strict=True))


def test_replace_regex_in_pythons_re_equals_arrows():
    rng = random.Random(5)
    refs = ["".join(rng.choice(REFERENCE_ALPHABET) for _ in range(rng.randint(0, 30)))
            for _ in range(2000)] + ["PAID 16.03.2026 INV 1", "2026-03-16 Q1/2026 X", "É1.1.26"]
    for batch in (refs, [*refs, "INV 1\n16.03.2026"], refs[:1], []):  # (a line break: Arrow)
        text = pc.utf8_upper(pa.array(batch, pa.string()))
        for pattern, repl in ((N.DATES, " "), (r"\b([A-Z])\.(?:([A-Z])\.)?", "\\1\\2")):
            fast = N.replace_regex(text, pattern, repl, few=len(text))
            assert fast.to_pylist() == pc.replace_substring_regex(text, pattern, repl).to_pylist()


def test_compiled_invoice_keys_equal_the_arrow_kernels(monkeypatch):
    rng = random.Random(8)
    alphabet = "0123456789000ABOQDILSZGinv-/ ."
    values = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 22)))
              for _ in range(6000)]
    values += ["INV-2026-004512", "inv-2o26-0045", "", "ABC", "12", "0000000", "SO/26/0378",
               "20260045", "4512-4512", "A1B2C3", "X-000123-000123"]
    arr = pa.array(values)
    want = [N.invoice_keys(text) for text in (arr, arr.slice(9, 4000))]  # Arrow's kernels
    monkeypatch.setattr(N, "DIGITS_KEY_COMPILED_MIN", 1)  # the compiled pass on small arrays
    for text, arrow in zip((arr, arr.slice(9, 4000)), want, strict=True):
        got = N.invoice_keys(text)
        assert got.equals(arrow)
    kinds = set(want[0].column("kind").to_pylist())
    assert kinds == set(N.KINDS) and want[0].num_rows > 2 * len(values)
    # a column with any non-ASCII byte takes Arrow's kernels (upper case beyond a-z: the
    # dotless i is an I)
    odd = N.invoice_keys(pa.array(["ınv-0045-1234", "INV-0045-1235"]))
    assert odd.column("key").to_pylist()[:2] == ["INV00451234", "INV00451235"]
