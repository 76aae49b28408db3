"""The compiled passes of :mod:`cashmatch.engine.candidates_kernel`: ``Pairs.concat``'s
(``strongest``) against the numpy steps it replaced, kept here as its reference; the exact
join of the tokens' forms (``exact_hits``) against a comparison of every form with every key."""

from __future__ import annotations

import dataclasses

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from cashmatch.engine import candidates_kernel
from cashmatch.engine.candidates import KIND_REF, NUMBER_DIGITS, Pairs, StringKeys
from cashmatch.engine.normalize import HASH_BASE, HASH_MIX, int_order, string_parts


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


def strongest_per_pair(rows: list[tuple[int, int, float]]) -> list[tuple[int, int, float]]:
    """Per (pay, inv) of the rows its strongest reference, by (pay, inv)."""
    best: dict[tuple[int, int], float] = {}
    for p, i, r in rows:
        best[(p, i)] = max(best.get((p, i), 0.0), r)
    return [(p, i, r) for (p, i), r in sorted(best.items())]


def _string_keys(rows: list[tuple[str, int, float]]) -> StringKeys:
    return StringKeys.build(pa.array([r[0] for r in rows], pa.string()),
                            np.array([r[1] for r in rows], np.int64),
                            np.array([r[2] for r in rows], np.float64))


DIGITS = st.text("0123456789", max_size=21)  # (some longer than an int64's 18 digits)
ALNUM = st.text("AB12", min_size=1, max_size=3)


# what number keys start from: small; 58 bits (with 32 to 40 tokens' rows, 6 bits: one word
# exactly, number_hits' radix sort of both packed); 60 bits (from 16 tokens on: too many bits
# for that, the values sorted by an order; fewer: packed)
KEY_BASES = [0, 2**57, 10**18 - 100]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 5), ALNUM, st.one_of(DIGITS, st.integers(0, 40))),
             max_size=40),
    st.lists(st.tuples(st.integers(0, 40), st.integers(0, 9), st.integers(0, 3)), max_size=40),
    st.lists(st.tuples(ALNUM, st.integers(0, 9), st.sampled_from([1.0, 0.8])), max_size=12),
    st.lists(st.tuples(DIGITS.filter(lambda d: len(d) > 18), st.integers(0, 9),
                       st.sampled_from([0.97, 0.82])), max_size=4),
    st.booleans(),
    st.sampled_from(KEY_BASES),
)
def test_exact_hits_are_each_texts_strongest_hit_per_invoice(tokens, numbers, alnums, longs,
                                                             radix, base):
    """Against a comparison of every token form with every key: digits forms as numbers (with
    leading zeros, empty, beyond int64, above every key) and as long strings, alnum forms;
    keys of several invoices, an invoice by several keys and tokens (its strongest kept);
    sorted by radix (the values packed with their rows, or too large for that) or not."""
    tokens = [(p, a, d if isinstance(d, str) else str(base + d)) for p, a, d in tokens]
    numbers = sorted(((base + v, i, k) for v, i, k in numbers), key=lambda k: k[0])
    number = np.array([k[0] for k in numbers], np.int64)
    number_inv = np.array([k[1] for k in numbers], np.int32)
    number_kind = np.array([k[2] for k in numbers], np.int8)
    kind_ref = np.array([1.0, 0.97, 0.82, 0.80])
    alnum_keys, long_keys = _string_keys(alnums), _string_keys(longs)
    pay = np.array([t[0] for t in tokens], np.int64)
    alnum = pa.array([t[1] for t in tokens], pa.string())
    digits = pa.array([t[2] for t in tokens], pa.string())
    got = candidates_kernel.exact_hits(
        pay, 6, *string_parts(alnum), *string_parts(digits), NUMBER_DIGITS, 0 if radix else 10**9,
        number, number_inv, number_kind, kind_ref, alnum_keys.arrays(), long_keys.arrays(),
        HASH_BASE, HASH_MIX)
    rows = []
    for p, a, d in tokens:
        if 1 <= len(d) <= NUMBER_DIGITS:
            rows += [(p, k[1], kind_ref[k[2]]) for k in numbers if k[0] == int(d)]
        rows += [(p, k[1], k[2]) for k in alnums if k[0] == a]
        if len(d) > NUMBER_DIGITS:
            rows += [(p, k[1], k[2]) for k in longs if k[0] == d]
    assert [g.dtype for g in got] == [np.int64, np.int64, np.float64]
    assert list(zip(*(g.tolist() for g in got), strict=True)) == strongest_per_pair(rows)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 4), st.one_of(st.just(-1), st.integers(0, 30))),
             max_size=40),
    st.lists(st.integers(0, 25), max_size=30),
    st.booleans(),
    st.sampled_from(KEY_BASES),
)
def test_number_hits_name_each_texts_keys_of_a_value_once(tokens, keys, radix, base):
    """Each (text, value) with keys: its first token (any one) has them all (the first row of
    the value among the keys, and their count), its other tokens none; a value of no key (or
    -1) none; packed or by an order or by numba's sort."""
    value = np.array([v if v < 0 else base + v for _, v in tokens], np.int64)
    text = np.array([p for p, _ in tokens], np.int64)
    number = np.array(sorted(base + k for k in keys), np.int64)
    lo, cnt = candidates_kernel.number_hits(value, text, 5, number, 0 if radix else 10**9)
    named: dict[tuple[int, int], int] = {}
    for t, (p, v) in enumerate(zip(text.tolist(), value.tolist(), strict=True)):
        want = int(np.count_nonzero(number == v)) if v >= 0 else 0
        if want and cnt[t]:
            assert (p, v) not in named and cnt[t] == want
            assert lo[t] == np.searchsorted(number, v)
            named[(p, v)] = t
        else:
            assert cnt[t] == 0
    assert set(named) == {(p, v) for p, v in zip(text.tolist(), value.tolist(), strict=True)
                          if v >= 0 and (number == v).any()}


def test_exact_hits_find_a_string_by_its_bytes_among_equal_hashes():
    """A hash that is the first byte (base 0, a finaliser that leaves small numbers be) and
    every key in one bucket: only the bytes tell the keys of one first letter apart, and a
    key past another of its hash is found too."""
    values = ["INV1", "INV2", "X", "INV10"]
    keys = _string_keys([(v, i, 1.0) for i, v in enumerate(values)])
    lookup = keys.keys
    bucket_start = np.full_like(lookup.bucket_start, len(values))
    bucket_start[0] = 0
    first_byte = np.array([ord(values[v][0]) for v in lookup.by_hash], np.uint64)
    collided = dataclasses.replace(keys, keys=dataclasses.replace(
        lookup, hashes=first_byte, bucket_start=bucket_start),
        bloom=candidates_kernel.bloom(first_byte))
    tokens = pa.array(["INV3", "INV2", "INV10", "X", "INV1"])
    got = candidates_kernel.exact_hits(
        np.arange(5), 5, *string_parts(tokens), *string_parts(pa.array([""] * 5)),
        NUMBER_DIGITS, 10**9, np.zeros(0, np.int64), np.zeros(0, np.int32), np.zeros(0, np.int8),
        KIND_REF, collided.arrays(), _string_keys([]).arrays(), np.uint64(0),
        (np.uint64(1), np.uint64(1)))
    assert list(zip(got[0].tolist(), got[1].tolist(), strict=True)) == [
        (1, 1), (2, 3), (3, 2), (4, 0)]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 30), st.integers(0, 4), st.integers(0, 9)), max_size=40),
    st.lists(st.tuples(st.integers(0, 30), st.integers(0, 12)), max_size=40),
    st.integers(1, 4),
    st.booleans(),
)
def test_range_rows_are_the_first_keys_in_each_window(queries, keys, cap, windowed):
    """Against a scan of every key: ranges of repeated keys, empty ranges, the cap, and the
    discount window's filter after the cap (as the numpy steps did)."""
    keys = sorted(keys, key=lambda k: k[0])
    skey = np.array([k[0] for k in keys], np.int64)
    rows = np.arange(len(keys), dtype=np.int64)[::-1].copy()  # (key r is invoice rows[r])
    issue = np.array([k[1] for k in keys][::-1], np.int64)  # per invoice
    days = np.full(len(keys), 2, np.int64)
    lo_key = np.array([q[0] for q in queries], np.int64)
    hi_key = lo_key + np.array([q[1] for q in queries], np.int64)
    pay = np.arange(len(queries), dtype=np.int64) * 2
    pay_date = np.zeros(2 * len(queries) + 1, np.int64)
    pay_date[pay] = [q[2] for q in queries]
    got = candidates_kernel.range_rows(
        pay, lo_key, hi_key, int_order(lo_key), skey, rows, cap, windowed, pay_date, issue, days, 3
    )
    want = []
    for j in range(len(queries)):
        inside = [r for r in range(len(keys)) if lo_key[j] <= skey[r] <= hi_key[j]][:cap]
        want += [
            (pay[j], rows[r])
            for r in inside
            if not windowed or pay_date[pay[j]] <= issue[rows[r]] + 2 + 3
        ]
    assert list(zip(*(a.tolist() for a in got), strict=True)) == want


def numpy_fuzzy_rows(blocks, hits, scores, t_grp, k_grp, t_pay, k_inv, cutoff, rival_max):
    """``fuzzy_hits``' numpy steps after its rapidfuzz calls (what fuzzy_rows replaced)."""
    block = np.array(blocks, np.int64).reshape(-1, 4)
    of = np.repeat(np.arange(len(blocks)), [len(h) for h in hits])
    hit = np.concatenate(hits)
    width = block[of, 3] - block[of, 2]
    tok = block[of, 0] + hit // width
    key = block[of, 2] + hit % width
    same = t_grp[tok] == k_grp[key]
    tok, key = tok[same], key[same]
    score = np.concatenate(scores)[same].astype(np.float64)
    strength = 0.70 + 0.20 * (score - cutoff) / max(100.0 - cutoff, 1e-9)
    best = np.zeros(len(t_grp))
    np.maximum.at(best, tok, score)
    at_best = score == best[tok]
    closest = at_best & (np.bincount(tok[at_best], minlength=len(t_grp))[tok] == 1)
    strength = np.where(closest, strength, np.minimum(strength, rival_max))
    return t_pay[tok], k_inv[key], strength


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1, 4), st.integers(1, 5)), min_size=1, max_size=6),
    st.randoms(use_true_random=False),
    st.sampled_from([80.0, 85.5, 100.0]),
)
def test_fuzzy_rows_are_the_numpy_steps(shapes, rnd, cutoff):
    """Blocks of several groups (hits across groups dropped), ties for a token's best score
    (rivals capped) and a cutoff of 100."""
    blocks, hits, scores, s, a = [], [], [], 0, 0
    for q, k in shapes:
        blocks.append((s, s + q, a, a + k))
        hit = np.array(sorted(rnd.sample(range(q * k), rnd.randint(0, q * k))), np.int64)
        hits.append(hit)
        scores.append(np.array([rnd.choice([cutoff, 90.0, 95.25, 100.0]) for _ in hit], np.float32))
        s, a = s + q, a + k
    t_grp = np.array([rnd.randint(0, 2) for _ in range(s)], np.int64)
    k_grp = np.array([rnd.randint(0, 2) for _ in range(a)], np.int64)
    t_pay, k_inv = np.arange(s, dtype=np.int64) * 3, np.arange(a, dtype=np.int64) * 5
    got = candidates_kernel.fuzzy_rows(
        np.array(blocks, np.int64),
        np.array([len(h) for h in hits], np.int64),
        np.concatenate(hits),
        np.concatenate(scores),
        t_grp,
        k_grp,
        t_pay,
        k_inv,
        cutoff,
        0.79,
    )
    want = numpy_fuzzy_rows(blocks, hits, scores, t_grp, k_grp, t_pay, k_inv, cutoff, 0.79)
    for g, w in zip(got, want, strict=True):
        assert g.tobytes() == w.astype(g.dtype).tobytes() and g.dtype == w.dtype


def python_blocks(t_grp: np.ndarray, k_grp: np.ndarray) -> tuple[list, list]:
    """``group_keys``' steps before the compiled pass: the groups' key rows and the blocks."""
    groups, starts = np.unique(t_grp, return_index=True)
    ends = np.append(starts[1:], len(t_grp))
    lo = np.searchsorted(k_grp, groups, "left")
    cnt = np.searchsorted(k_grp, groups, "right") - lo
    k_end = np.cumsum(cnt).tolist()
    rows = [r for g in range(len(groups)) for r in range(lo[g], lo[g] + cnt[g])]
    blocks = [[int(starts[g]), int(ends[g]), k_end[g] - int(cnt[g]), k_end[g]]
              for g in range(len(groups)) if cnt[g]]
    return rows, blocks


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 8), max_size=30), st.lists(st.integers(-1, 8), max_size=30))
def test_fuzzy_blocks_are_the_python_steps(t_grp, k_grp):
    """Groups without keys, keys of groups without queries."""
    t, k = np.array(sorted(t_grp), np.int64), np.array(sorted(k_grp), np.int64)
    rows, blocks = candidates_kernel.fuzzy_blocks(t, k)
    assert (rows.tolist(), blocks.tolist()) == python_blocks(t, k)


@settings(deadline=None)  # (the first example compiles the pass, unless cached)
@given(
    st.lists(
        st.one_of(
            st.just(""),
            st.just("0"),
            st.just("9" * 18),
            st.just("1" * 19),
            st.integers(1, 10**18 - 1).map(str),
        ),
        max_size=20,
    ),
    st.integers(0, 3),
)
def test_digit_values_are_arrows_casts_of_the_short_ones(texts, cut):
    arr = pa.array(texts, pa.string()).slice(min(cut, len(texts)))  # (offsets into buffers)
    got = candidates_kernel.digit_values(*string_parts(arr), 18)
    want = [int(t) if 1 <= len(t) <= 18 else -1 for t in arr.to_pylist()]
    assert got.tolist() == want


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 30), st.integers(0, 4), st.integers(0, 9)), max_size=40),
    st.lists(st.tuples(st.integers(0, 30), st.integers(0, 30), st.integers(0, 12)), max_size=40),
    st.integers(1, 4),
    st.booleans(),
)
def test_amount_pairs_are_both_searches_concatenated(queries, invoices, cap, discounts):
    """Against :func:`range_rows` for each search and ``Pairs.concat``'s numpy steps: an
    invoice found by both searches, the caps, the window, no discount keys."""
    amount = np.array([i[0] for i in invoices], np.int64)
    disc = np.array([i[1] for i in invoices], np.int64)
    issue = np.array([i[2] for i in invoices], np.int64)
    days = np.full(len(invoices), 2, np.int64)
    by_amount, by_disc = int_order(amount), int_order(disc)
    if not discounts:
        by_disc = np.zeros(0, np.int64)
    lo_key = np.array([q[0] for q in queries], np.int64)
    hi_key = lo_key + np.array([q[1] for q in queries], np.int64)
    pay = np.arange(len(queries), dtype=np.int64) * 2
    pay_date = np.zeros(2 * len(queries) + 1, np.int64)
    pay_date[pay] = [q[2] for q in queries]
    order = int_order(lo_key)
    got = candidates_kernel.amount_pairs(pay, lo_key, hi_key, order, amount[by_amount],
                                         by_amount, disc[by_disc], by_disc, cap, pay_date,
                                         issue, days, 3)
    parts = [candidates_kernel.range_rows(pay, lo_key, hi_key, order, amount[by_amount],
                                          by_amount, cap, False, pay_date, issue, days, 3),
             candidates_kernel.range_rows(pay, lo_key, lo_key, order, disc[by_disc], by_disc,
                                          cap, True, pay_date, issue, days, 3)]
    want = numpy_concat([Pairs(p, i, np.zeros(len(p)), np.zeros(len(p), bool))
                         for p, i in parts])
    assert got[0].tobytes() == want.pay.tobytes() and got[1].tobytes() == want.inv.tobytes()
    assert got[1].dtype == want.inv.dtype


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-5, 5), max_size=150), st.data())
def test_sort_few_sorts_its_slice_only(values, data):
    """Against numpy's sort of the slice (few: the insertion sort; more than 64: numba's), the
    rows outside it untouched; ties and an empty slice."""
    a = data.draw(st.integers(0, len(values)))
    b = data.draw(st.integers(a, len(values)))
    x = np.array(values, np.int32)
    want = x.copy()
    want[a:b] = np.sort(want[a:b])
    candidates_kernel._sort_few(x, a, b)
    assert x.tolist() == want.tolist()


def test_a_bloom_filter_lets_every_one_of_its_hashes_through():
    """Every hash it was built of passes (no false negative); most others do not."""
    rng = np.random.default_rng(2)
    hashes = rng.integers(0, 2**63, 5000, dtype=np.int64).view(np.uint64) * np.uint64(2) + 1
    words = candidates_kernel.bloom(hashes)
    mask = len(words) * 64 - 1

    def passes(h: np.ndarray) -> np.ndarray:
        bits = [(h & np.uint64(mask)).astype(np.int64),
                ((h >> np.uint64(32)) & np.uint64(mask)).astype(np.int64)]
        return np.logical_and.reduce([(words[b >> 6] >> (b & 63).astype(np.uint64)) & 1 == 1
                                      for b in bits])

    assert passes(hashes).all()
    assert passes(hashes - np.uint64(1)).mean() < 0.1  # (even: none of the hashes)
    assert len(candidates_kernel.bloom(np.zeros(0, np.uint64))) == 1


def _first_forms(pay: list[int], forms: list[str], rows: list[int], most: int) -> list[bool]:
    """Plainly: a row is first unless an earlier row of its text has the same form (all kept
    in a text of more than ``most`` rows)."""
    per_text = {}
    for r in rows:
        per_text[pay[r]] = per_text.get(pay[r], 0) + 1
    seen, out = set(), []
    for r in rows:
        key = (pay[r], forms[r])
        out.append(per_text[pay[r]] > most or key not in seen)
        seen.add(key)
    return out


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.text("01", max_size=3)), max_size=60),
       st.integers(0, 8), st.data())
def test_first_forms_are_each_texts_first_of_equal_strings(tokens, most, data):
    """Against a set of the (text, form) seen: unsorted texts, empty forms, a form in several
    texts, texts above ``most`` (kept whole), rows a subset in any order."""
    pay = [t[0] for t in tokens]
    forms = [t[1] for t in tokens]
    rows = data.draw(st.lists(st.sampled_from(range(len(tokens))), unique=True)
                     if tokens else st.just([]))
    offsets, raw = string_parts(pa.array(forms, pa.string()))
    got = candidates_kernel.first_forms(np.array(pay, np.int64), offsets, raw,
                                        np.array(rows, np.int64), 5, most)
    assert got.tolist() == _first_forms(pay, forms, rows, most)
