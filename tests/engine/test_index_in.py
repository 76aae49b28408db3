"""``candidates.index_in`` (the hash table built of the few distinct values) against Arrow's
``pc.index_in`` of the whole value set, nulls, repeats and absent values included."""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from cashmatch.engine import candidates
from cashmatch.engine.candidates import index_in


def _arrow(values: pa.Array | pa.ChunkedArray, value_set: pa.Array | pa.ChunkedArray
           ) -> np.ndarray:
    return np.asarray(pc.fill_null(pc.index_in(values, value_set=value_set, skip_nulls=True),
                                   -1), np.int64)


def _ids(rng: random.Random, n: int, pool: int, nulls: float) -> list[str | None]:
    return [None if rng.random() < nulls else f"P{rng.randrange(pool)}" for _ in range(n)]


@pytest.fixture(params=[0, 10**9], ids=["distinct-values-hashed", "arrows-one-call"])
def _either_way(request, monkeypatch) -> None:
    monkeypatch.setattr(candidates, "INDEX_IN_SET_MIN", request.param)


@pytest.mark.usefixtures("_either_way")
@pytest.mark.parametrize("seed", range(8))
def test_index_in_is_arrows(seed: int):
    rng = random.Random(seed)
    n_set, n_values = rng.choice([0, 1, 5, 300, 5000]), rng.choice([0, 1, 7, 2000])
    pool = rng.choice([3, 50, 10_000])  # (few: repeats in the value set, the first one wins)
    value_set = pa.array(_ids(rng, n_set, pool, rng.choice([0.0, 0.2])), pa.string())
    values = pa.array(_ids(rng, n_values, pool, rng.choice([0.0, 0.5, 1.0])), pa.string())
    if n_set > 2:  # (chunked, as table columns are)
        value_set = pa.chunked_array([value_set.slice(0, n_set // 2),
                                      value_set.slice(n_set // 2)])
    got = index_in(values, value_set)
    assert got.dtype == np.int64
    assert np.array_equal(got, _arrow(values, value_set))


@pytest.mark.usefixtures("_either_way")
def test_a_null_matches_nothing_and_the_first_of_repeats_wins():
    value_set = pa.array(["A", None, "B", "A", None])
    values = pa.array([None, "A", "B", "C", "A", None])
    assert index_in(values, value_set).tolist() == [-1, 0, 2, -1, 0, -1]
    assert index_in(values, value_set).tolist() == _arrow(values, value_set).tolist()
