"""schema.int_values equals Arrow's fill_null (the helper it replaces), on sliced, chunked and
null-holding integer columns."""

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from cashmatch.engine.schema import int_values


@pytest.mark.parametrize("type_", [pa.int64(), pa.int32(), pa.int16(), pa.uint8()])
def test_int_values_equals_fill_null(type_):
    rng = np.random.default_rng(7)
    for n in (0, 1, 7, 8, 9, 17, 100):
        for null_share in (0.0, 0.4, 1.0):
            vals = [None if rng.random() < null_share else int(rng.integers(0, 100))
                    for _ in range(n)]
            a = pa.array(vals, type_)
            columns = (a, a.slice(min(3, n)), a.slice(min(1, n), max(n - 2, 0)),
                       pa.chunked_array([a]),
                       pa.chunked_array([a.slice(0, n // 2), a.slice(n // 2)], type_))
            for col in columns:
                for default in (0, 5):
                    got = int_values(col, default)
                    want = np.asarray(pc.fill_null(col, default), np.int64)
                    assert got.dtype == np.int64
                    np.testing.assert_array_equal(got, want)


def test_int_values_does_not_read_the_values_under_nulls():
    # a null slot's value is undefined in Arrow: here non-zero under the validity bitmap
    data = pa.py_buffer(np.array([11, 22, 33], np.int64).tobytes())
    validity = pa.py_buffer(np.packbits([1, 0, 1], bitorder="little").tobytes())
    col = pa.Array.from_buffers(pa.int64(), 3, [validity, data], null_count=1)
    assert int_values(col, -1).tolist() == [11, -1, 33]
