"""``Pairs.concat``'s compiled pass (:func:`cashmatch.engine.candidates_kernel.strongest`)
against the numpy steps it replaced, kept here as its reference."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from cashmatch.engine.candidates import Pairs


def numpy_concat(parts: list[Pairs]) -> Pairs:
    """Concatenate; per (pay, inv) the first row of its strongest reference, by (pay, inv)."""
    pay = np.concatenate([p.pay for p in parts])
    inv = np.concatenate([p.inv for p in parts])
    ref = np.concatenate([p.ref for p in parts])
    fz = np.concatenate([p.fuzzy for p in parts])
    if len(pay) == 0:
        return Pairs(pay, inv, ref, fz)
    order = np.lexsort((inv, pay))
    pay, inv, ref, fz = pay[order], inv[order], ref[order], fz[order]
    new = np.ones(len(pay), dtype=bool)
    new[1:] = (pay[1:] != pay[:-1]) | (inv[1:] != inv[:-1])
    pair = np.cumsum(new) - 1
    strongest = np.flatnonzero(ref == np.maximum.reduceat(ref, np.flatnonzero(new))[pair])
    first = strongest[np.flatnonzero(np.diff(pair[strongest], prepend=-1))]
    return Pairs(pay[first], inv[first], ref[first], fz[first])


ROWS = st.lists(
    st.tuples(
        st.integers(0, 6),
        st.integers(0, 9),
        st.sampled_from([0.0, 0.7, 0.79, 0.9, 1.0]),
        st.booleans(),
    ),
    max_size=30,
)


def _pairs(rows: list[tuple[int, int, float, bool]]) -> Pairs:
    return Pairs(
        np.array([r[0] for r in rows], np.int64),
        np.array([r[1] for r in rows], np.int64),
        np.array([r[2] for r in rows], np.float64),
        np.array([r[3] for r in rows], bool),
    )


@settings(max_examples=300, deadline=None)
@given(st.lists(ROWS, min_size=1, max_size=4), st.integers(0, 3))
def test_concat_keeps_what_the_numpy_steps_kept(parts, big):
    """Equal pairs in one part and across parts, equal strengths (the first row wins); large
    payment numbers take the two-key sort."""
    ps = [_pairs(rows) for rows in parts]
    if big == 3:
        for p in ps:
            p.pay = p.pay + 2**61
    got, want = Pairs.concat(ps), numpy_concat(ps)
    for name in ("pay", "inv", "ref", "fuzzy"):
        g, w = getattr(got, name), getattr(want, name)
        assert g.dtype == w.dtype and g.tobytes() == w.tobytes(), name
