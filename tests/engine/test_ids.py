"""engine.ids.IdIndex against a plain dict: first rows, duplicates, encodings, any chunking."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from cashmatch.engine.ids import IdIndex
from cashmatch.engine.schema import take

_ID = st.one_of(
    st.from_regex(r"\AINV-0[0-4][0-9]{2}\Z"),  # one width: the direct-address table
    st.from_regex(r"\AP[0-9]{1,3}\Z"),  # mixed widths: Arrow's hash lookup
    st.text(alphabet="AZaz09-é ", min_size=1, max_size=5),
)


def _chunked(values: list[str | None], cut: int) -> pa.ChunkedArray:
    cut = min(cut, len(values))
    parts = [values[:cut], values[cut:]]
    return pa.chunked_array([pa.array(p, pa.string()) for p in parts], pa.string())


@settings(deadline=None)
@given(
    st.lists(_ID, max_size=40),
    st.lists(st.one_of(_ID, st.none()), max_size=40),
    st.integers(0, 40),
    st.booleans(),
)
def test_find_duplicate_and_encode_agree_with_a_dict(values, keys, cut, one_width) -> None:
    if one_width:  # most real files: every id of one width
        values = [v for v in values if len(v) == 8 and v.startswith("INV-")]
        keys = [k for k in keys if k is None or (len(k) == 8 and k.startswith("INV-"))]
    first: dict[str, int] = {}
    for i, v in enumerate(values):
        first.setdefault(v, i)
    index = IdIndex(_chunked(values, cut))
    assert index.find(_chunked(keys, cut // 2)).tolist() == [
        -1 if k is None else first.get(k, -1) for k in keys
    ]
    assert index.duplicate.tolist() == [first[v] != i for i, v in enumerate(values)]
    codes, distinct = index.encode()
    assert len(distinct) == len(set(values))
    assert [distinct[int(c)].as_py() for c in codes] == values


def test_fixed_width_ids_use_a_table_and_code_in_byte_order() -> None:
    values = pa.array(["INV-0042", "INV-0007", "INV-0042", "INV-0100"])
    index = IdIndex(values)
    assert index.table is not None
    assert index.find(
        pa.array(["INV-0100", "INV-0043", "INV-9999", "XNV-0042", None])
    ).tolist() == [
        3,
        -1,
        -1,
        -1,
        -1,
    ]
    codes, distinct = index.encode()
    assert distinct.to_pylist() == ["INV-0007", "INV-0042", "INV-0100"]  # sorted
    assert codes.tolist() == [1, 0, 1, 2]


@settings(deadline=None)
@given(
    st.lists(st.one_of(_ID, st.none()), max_size=30),
    st.lists(st.integers(0, 30), max_size=6),
    st.data(),
)
def test_take_by_chunk_equals_take_of_the_combined_column(values, cuts, data) -> None:
    bounds = sorted({0, len(values), *(min(c, len(values)) for c in cuts)})
    parts = [values[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=False)]
    col = pa.chunked_array([pa.array(p, pa.string()) for p in parts + [[]]], pa.string())
    rows = data.draw(st.lists(st.integers(0, max(len(values) - 1, 0)), max_size=20))
    rows = rows if values else []
    got = take(col, np.array(rows, np.int64))
    assert got.type == pa.string() and got.to_pylist() == [values[r] for r in rows]
