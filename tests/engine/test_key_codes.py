"""The compiled key coding of the ledger's key table (``text_kernel.key_codes``) against Arrow's
dictionary encoding and a count of distinct (key, invoice) pairs in Python."""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa

from cashmatch.engine import text_kernel
from cashmatch.engine.normalize import string_parts


def test_codes_and_distinct_invoices_match_the_reference():
    rng = random.Random(5)
    alphabet = "01239AZ-é"
    # few distinct short strings, so that keys repeat within and across invoices
    values = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 4)))
              for _ in range(20_000)]
    inv = np.array([rng.randrange(3000) for _ in values], np.int64)
    arr = pa.array(values).slice(7)  # an offset into the buffers, as a filtered column has
    inv = inv[7:]
    offsets, raw = string_parts(arr)
    code, invoices = text_kernel.key_codes(offsets, raw, inv, 3000)
    enc = arr.dictionary_encode()
    assert np.array_equal(code, np.asarray(enc.indices))
    want: dict[str, set[int]] = {}
    for v, i in zip(arr.to_pylist(), inv.tolist(), strict=True):
        want.setdefault(v, set()).add(i)
    assert invoices.tolist() == [len(want[v]) for v in enc.dictionary.to_pylist()]
    assert invoices.max() > 1 and len(invoices) > 100  # repeats, and many keys


def test_no_keys():
    code, invoices = text_kernel.key_codes(np.zeros(1, np.int32), np.zeros(0, np.uint8),
                                           np.zeros(0, np.int64), 1)
    assert len(code) == 0 and len(invoices) == 0
