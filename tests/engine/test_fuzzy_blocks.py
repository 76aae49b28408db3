"""The fuzzy comparisons (reference numbers against invoice keys, compiled; payer names,
by rapidfuzz in blocks) against rapidfuzz one group or pair at a time."""

import numpy as np
import pyarrow as pa
import pytest
from rapidfuzz import fuzz, process

from cashmatch.engine import candidates as C
from cashmatch.engine import candidates_kernel, text_kernel
from cashmatch.engine import identify as I
from cashmatch.engine import reference as ref
from cashmatch.engine import schema as S
from cashmatch.engine import threads as T
from cashmatch.engine.identify import build_index
from cashmatch.engine.ledger import prepare_ledger
from cashmatch.engine.normalize import name_key, string_parts
from cashmatch.fixtures.generator import generate_day


def _tokens_and_groups(group_seed: int) -> tuple[C.Book, pa.Table, int, np.ndarray]:
    """A generated day's book, its references' tokens, and a random customer group per
    payment (300 customers' groups)."""
    day = generate_day(payments=2000, seed=6)
    ledger = prepare_ledger(invoices=day.invoices, customers=day.customers)
    texts = day.payments.column("reference").combine_chunks().fill_null("")
    _, tokens = C.reference_hits(texts, ledger.book)
    n = len(texts)
    return ledger.book, tokens, n, ledger.index.group_of(
        np.random.default_rng(group_seed).integers(0, 300, n))


def _assert_same_hits(a: C.Pairs, b: C.Pairs) -> None:
    assert len(a) > 100
    for field in ("pay", "inv", "ref", "fuzzy"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))


def _cdist_fuzzy_hits(tokens: pa.Table, group: np.ndarray, book: C.Book, cutoff: float
                      ) -> C.Pairs:
    """``fuzzy_hits`` as it was: rapidfuzz's ``process.cdist`` of each group's tokens with the
    group's keys as Python strings, its nonzero cells then as the compiled pass takes them."""
    pay = np.asarray(tokens.column("pay"), np.int64)
    digits = tokens.column("digits").combine_chunks()
    sel = (C._lengths(digits) >= C.FUZZY_MIN_LEN) & (group[pay] >= 0)
    t_row = np.flatnonzero(sel)
    t_row = t_row[np.argsort(group[pay[t_row]], kind="stable")]
    t_pay, t_key = pay[t_row], digits.take(pa.array(t_row)).to_pylist()
    k_inv, k_grp, k_row, blocks = C.group_keys(group[t_pay], book)
    k_key = book.digit_key_text.to_pylist()
    hits, scores = [], []
    for s, e, a, b in blocks.tolist():
        m = process.cdist(t_key[s:e], [k_key[r] for r in k_row[a:b]], scorer=fuzz.ratio,
                          score_cutoff=cutoff, dtype=np.float32).reshape(-1)
        hits.append(np.flatnonzero(m))
        scores.append(m[hits[-1]])
    f_pay, f_inv, strength = candidates_kernel.fuzzy_rows(
        blocks, np.array([len(h) for h in hits]), np.concatenate(hits), np.concatenate(scores),
        group[t_pay], k_grp, t_pay, k_inv, cutoff, C.FUZZY_RIVAL_MAX)
    return C.Pairs.concat([C.Pairs(f_pay, f_inv, strength, np.ones(len(f_pay), bool))])


@pytest.mark.parametrize(("seed", "cutoff", "cells"), [(0, 80.0, 10**9), (1, 84.0, 50)])
def test_fuzzy_hits_are_rapidfuzz_per_group(monkeypatch, seed: int, cutoff: float, cells: int):
    """The compiled comparisons find the hits and scores rapidfuzz's ``cdist`` finds, group
    by group; on one thread or the blocks shared among threads."""
    monkeypatch.setattr(C, "FUZZY_THREAD_CELLS", cells)
    monkeypatch.setattr(T.os, "cpu_count", lambda: 3)
    book, tokens, n, group = _tokens_and_groups(seed)
    got = C.fuzzy_hits(tokens, np.ones(n, bool), group, book, cutoff=cutoff)
    _assert_same_hits(got, _cdist_fuzzy_hits(tokens, group, book, cutoff))


def _strings(rng: np.random.Generator, n: int, longest: int, alphabet: str) -> list[str]:
    return ["".join(rng.choice(list(alphabet), int(rng.integers(0, longest + 1))))
            for _ in range(n)]


@pytest.mark.parametrize(("longest", "alphabet"),
                         [(12, "0123"), (10, "0123456789"), (25, "0123456789"), (70, "01"),
                          (140, "012")])
def test_ratio_kernels_are_rapidfuzz(longest: int, alphabet: str):
    """``ratio_blocks`` and ``ratio_pairs`` give the float32 bits of rapidfuzz's ``cdist`` and
    ``cpdist`` with ``fuzz.ratio``: empty strings, repeated queries, keys and queries over 64
    characters (one pair at a time), words of lanes, several blocks and cutoffs."""
    rng = np.random.default_rng(longest)
    q, k = _strings(rng, 120, longest, alphabet), _strings(rng, 150, longest, alphabet)
    q_parts, k_parts = string_parts(pa.array(q)), string_parts(pa.array(k))
    k_row = rng.permutation(len(k))
    blocks = np.array([[0, 50, 0, 70], [50, 51, 70, 71], [51, 120, 71, 150]], np.int64)
    for cutoff in (0.0, 50.0, 70.4, 84.0, 100.0):
        hit, score, n_hits = text_kernel.ratio_blocks(*q_parts, *k_parts, k_row, blocks, cutoff)
        at = 0
        for (s, e, a, b), n in zip(blocks.tolist(), n_hits.tolist(), strict=True):
            want = process.cdist(q[s:e], [k[r] for r in k_row[a:b]], scorer=fuzz.ratio,
                                 score_cutoff=cutoff, dtype=np.float32).reshape(-1)
            cells = np.flatnonzero(want)
            assert hit[at : at + n].tolist() == cells.tolist()
            assert score[at : at + n].tobytes() == want[cells].tobytes()
            at += n
        assert at == len(hit)
    qi, ki = rng.integers(0, len(q), 3000), rng.integers(0, len(k), 3000)
    want = process.cpdist([q[i] for i in qi], [k[j] for j in ki], scorer=fuzz.ratio)
    got = text_kernel.ratio_pairs(*q_parts, qi, *k_parts, ki)
    assert got.dtype == want.dtype and got.tobytes() == want.tobytes()


def _edited(rng: np.random.Generator, s: str, alphabet: str) -> str:
    """``s`` with up to three random edits (a byte changed, dropped or put in)."""
    for _ in range(int(rng.integers(0, 4))):
        at, c = int(rng.integers(0, len(s) + 1)), str(rng.choice(list(alphabet)))
        s = [s[:at] + c + s[at + 1 :], s[:at] + s[at + 1 :], s[:at] + c + s[at:]][
            int(rng.integers(0, 3))]
    return s


def test_ratio_blocks_near_keys_in_many_words():
    """``ratio_blocks`` against rapidfuzz where a block's keys fill from one to many words
    (an odd and an even number of them: its words' LCS are run two at a time) and many keys
    are a few edits from a query (lanes at, just above and just below the cutoff)."""
    rng = np.random.default_rng(21)
    alphabet = "0123456789"
    q = ["".join(rng.choice(list(alphabet), int(rng.integers(6, 13)))) for _ in range(40)]
    q += [_edited(rng, s, alphabet) for s in q]  # (blocks 5.. the first five's queries edited)
    cuts = np.cumsum([0, 1, 2, 5, 6, 11, 12, 17, 40, 100, 206])
    blocks = np.array([[s, s + 8, a, b] for s, a, b in zip(range(0, 80, 8), cuts[:-1], cuts[1:],
                                                            strict=True)], np.int64)
    k = [_edited(rng, q[s % 40 + int(rng.integers(0, 8))], alphabet)
         for s, _, a, b in blocks.tolist() for _ in range(a, b)]  # (keys near their queries)
    q_parts, k_parts = string_parts(pa.array(q)), string_parts(pa.array(k))
    k_row = np.arange(len(k))
    for cutoff in (70.0, 84.0, 90.0):
        hit, score, n_hits = text_kernel.ratio_blocks(*q_parts, *k_parts, k_row, blocks, cutoff)
        at = 0
        for (s, e, a, b), n in zip(blocks.tolist(), n_hits.tolist(), strict=True):
            want = process.cdist(q[s:e], [k[r] for r in k_row[a:b]], scorer=fuzz.ratio,
                                 score_cutoff=cutoff, dtype=np.float32).reshape(-1)
            cells = np.flatnonzero(want)
            assert hit[at : at + n].tolist() == cells.tolist()
            assert score[at : at + n].tobytes() == want[cells].tobytes()
            at += n
        assert at == len(hit) > 50


@pytest.mark.parametrize("threads", [1, 3])
def test_fuzzy_names_are_the_references(monkeypatch, threads: int):
    """Payer names scored block by block identify and resemble the customers that comparing
    them pair by pair within their blocks does; the blocks shared among threads or not."""
    monkeypatch.setattr(I, "PARALLEL_COMPARISONS", 2 if threads > 1 else 10**12)
    monkeypatch.setattr(T.os, "cpu_count", lambda: threads)
    day = generate_day(payments=3000, seed=8)
    index = prepare_ledger(invoices=day.invoices, customers=day.customers).index
    names = name_key(day.payments.column("payer_name"))
    names = names.filter(pa.array(index.names.index_in(names) < 0))  # not known exactly
    keys, order, k_block = index.name_blocks
    cust = np.asarray(index.name_keys.column("cust"), np.int64)
    want = []
    for name in names.to_pylist():  # (the keys kept as ASCII bytes; the reference's are str)
        block = order[k_block == name[: I.NAME_BLOCK].encode()]
        want.append(ref.fuzzy_name(name, [k.decode() for k in keys[block].tolist()],
                                   cust[block].tolist(),
                                   index.group[cust[block]].tolist(), cutoff=88.0,
                                   margin=I.NAME_MARGIN) if len(block) else (-1, -1))
    want_result, want_closest = (np.array(c) for c in zip(*want, strict=True))
    assert (want_result >= 0).sum() > 20 and ((want_closest >= 0) & (want_result < 0)).sum() > 5
    result, closest = I._fuzzy_names(names, index, cutoff=88.0)
    np.testing.assert_array_equal(result, want_result)
    np.testing.assert_array_equal(closest, want_closest)


_WORDS = ["ACME", "ACMEX", "NORD", "NORDIC", "STAR", "STARK", "OIL", "GAS", "OILGAS", "BAU",
          "A", "AB", "LOGISTICS", "LOGISTIC", "TRADING", "TRADE", "EURO", "HOLDING", "X1", "99"]


def _adversarial_names(rng: np.random.Generator, n: int) -> list[bytes]:
    """Names of a few words from a small vocabulary (shared words, one name's words inside
    another's, repeated words, look-alike words), with typos, odd whitespace (tabs, double,
    leading, trailing), other bytes, empty and long ones: the cases each part of the bound
    treats apart."""
    out = []
    for _ in range(n):
        words = [str(w) for w in rng.choice(_WORDS, int(rng.integers(1, 6)))]
        if rng.random() < 0.3:
            w = int(rng.integers(len(words)))
            t = int(rng.integers(len(words[w]) + 1))
            words[w] = words[w][:t] + str(rng.choice(list("AEOX7"))) + words[w][t + 1:]
        sep = str(rng.choice([" ", " ", " ", "  ", "\t", " \x1f"]))
        s = sep.join(words)
        r = rng.random()
        if r < 0.05:
            s = ""
        elif r < 0.1:
            s = " " + s + " "
        elif r < 0.15:
            s = (s + " ") * int(rng.integers(4, 12))  # long: over 64 bytes
        elif r < 0.2:
            s = s + "\u00e9\u00a0Z"
        out.append(s.encode())
    return out


def _screen(q: np.ndarray, k: np.ndarray, k_row: np.ndarray, blocks: np.ndarray,
            cutoff: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``wratio_screen``'s (row, cell, bound) of the blocks."""
    cells = int(((blocks[:, 1] - blocks[:, 0]) * (blocks[:, 3] - blocks[:, 2])).sum())
    out = np.empty(cells, np.int64), np.empty(cells, np.int64), np.empty(cells)
    n = text_kernel.wratio_screen(q, k, k_row, blocks, cutoff, *out)
    return out[0][:n], out[1][:n], out[2][:n]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_wratio_screen_bounds_rapidfuzz(seed: int):
    """Every cell's bound is at least rapidfuzz's ``WRatio`` of it, and every cell that
    ``cdist`` scores (at the cutoffs the names use) is listed: the screen drops no pair."""
    rng = np.random.default_rng(seed)
    q = np.array(_adversarial_names(rng, 60), dtype=bytes)
    k = np.array(_adversarial_names(rng, 90), dtype=bytes)
    qb, kb = I._byte_rows(q), I._byte_rows(k)
    k_row = rng.permutation(len(k))
    blocks = np.array([[0, 30, 0, 50], [30, 60, 50, 90]], np.int64)
    row, cell, bound = _screen(qb, kb, k_row, blocks, 0.0)
    assert len(row) == 30 * 50 + 30 * 40  # (every bound >= 0)
    exact = np.array([fuzz.WRatio(q[i], k[k_row[j]]) for i, j in zip(row, cell, strict=True)])
    assert (bound >= exact - 1e-9).all()
    assert (bound < 100).mean() > 0.5 and (bound == exact).any()  # (a bound, not 100 always)
    for cutoff in (50.0, 70.4, 85.0):
        row, cell, _ = _screen(qb, kb, k_row, blocks, cutoff)
        listed = set(zip(row.tolist(), cell.tolist(), strict=True))
        for s, e, a, b in blocks.tolist():
            m = process.cdist(q[s:e].tolist(), k[k_row[a:b]].tolist(), scorer=fuzz.WRatio,
                              score_cutoff=cutoff)
            for i, j in zip(*np.nonzero(m), strict=True):
                assert (s + i, a + j) in listed
        assert len(listed) < 30 * 90  # (it screens)


@pytest.mark.parametrize("seed", [5, 6])
def test_wratio_screen_lists_the_cells_wratio_reach_keeps(seed: int):
    """The screen's bound of each cell (its pair bound written inline) is ``wratio_reach``'s
    (by :func:`text_kernel._pair_bound`): at every cutoff they keep the same cells."""
    rng = np.random.default_rng(seed)
    q_names, k_names = _adversarial_names(rng, 70), _adversarial_names(rng, 80)
    qb, kb = I._byte_rows(np.array(q_names, dtype=bytes)), I._byte_rows(np.array(k_names))
    k_row = rng.permutation(len(k_names))
    blocks = np.array([[0, 40, 0, 45], [40, 70, 45, 80]], np.int64)
    cells = [(i, j) for s, e, a, b in blocks.tolist() for i in range(s, e) for j in range(a, b)]
    qi, cj = np.array(cells).T
    q_arr, k_arr = pa.array([b.decode() for b in q_names]), pa.array([b.decode() for b in k_names])
    for cutoff in (0.0, 50.0, 70.4, 85.0, 95.0):
        row, cell, _ = _screen(qb, kb, k_row, blocks, cutoff)
        reach = text_kernel.wratio_reach(*string_parts(q_arr), qi, *string_parts(k_arr),
                                         k_row[cj], cutoff)
        np.testing.assert_array_equal(row, qi[reach])
        np.testing.assert_array_equal(cell, cj[reach])
    assert 0 < reach.sum() < len(cells)  # (at 95: some kept, some not)


@pytest.mark.parametrize("seed", [3, 4])
def test_wratio_reach_keeps_every_pair_that_reaches(seed: int):
    """``wratio_reach`` of pairs of Arrow strings (rapidfuzz given ``str``: non-ASCII names
    are left unbounded) is True for every pair whose ``WRatio`` reaches the cutoff."""
    rng = np.random.default_rng(seed)
    q = [b.decode() for b in _adversarial_names(rng, 80)]
    k = [b.decode() for b in _adversarial_names(rng, 80)]
    qi, ki = np.sort(rng.integers(0, len(q), 4000)), rng.integers(0, len(k), 4000)
    score = process.cpdist([q[i] for i in qi], [k[j] for j in ki], scorer=fuzz.WRatio)
    for cutoff in (60.0, 88.0):
        reach = text_kernel.wratio_reach(*string_parts(pa.array(q)), qi,
                                         *string_parts(pa.array(k)), ki, cutoff)
        assert reach[score >= cutoff].all()
        assert 0.2 < reach.mean() < 0.9 and (score >= cutoff).sum() > 100


def _cdist_fuzzy_names(names: pa.Array, index: I.CustomerIndex, cutoff: float
                       ) -> tuple[np.ndarray, np.ndarray]:
    """``_fuzzy_names`` as it was: rapidfuzz's ``cdist`` of every name of a block with every
    key of it (no screen), the first best score, its margin over another group's best."""
    uniq, inverse = np.unique(I._ascii_bytes(names), return_inverse=True)
    keys, order, k_sorted = index.name_blocks
    custs = np.asarray(index.name_keys.column("cust"), dtype=np.int64)
    result = np.full(len(uniq), -1, dtype=np.int64)
    closest = np.full(len(uniq), -1, dtype=np.int64)
    prefix = uniq.astype(f"S{I.NAME_BLOCK}")
    for i, name in enumerate(uniq.tolist()):
        cand = order[k_sorted == prefix[i]]
        if not len(cand):
            continue
        scores = process.cdist([name], keys[cand].tolist(), scorer=fuzz.WRatio,
                               score_cutoff=cutoff * 0.8)[0]
        best = int(np.argmax(scores))
        groups = index.group[custs[cand]]
        other = np.where(groups != groups[best], scores, 0).max()
        if scores[best] >= cutoff and scores[best] - other >= I.NAME_MARGIN:
            result[i] = custs[cand[best]]
        if scores[best] > 0:
            closest[i] = custs[cand[best]]
    return result[inverse], closest[inverse]


@pytest.mark.parametrize(("seed", "threads"), [(0, 1), (1, 3), (2, 1)])
def test_fuzzy_names_screened_are_unscreened(monkeypatch, seed: int, threads: int):
    """Names that resemble several customers of one block about equally (look-alike words,
    groups of parents and subsidiaries, margins near ``NAME_MARGIN``) identify and resemble
    the customers that scoring every pair of their block does."""
    monkeypatch.setattr(I, "PARALLEL_COMPARISONS", 2 if threads > 1 else 10**12)
    monkeypatch.setattr(T.os, "cpu_count", lambda: threads)
    rng = np.random.default_rng(seed)
    stems = ["NORDIC", "NORDEN", "STARKE"]
    tails = ["OIL", "OIL GAS", "GAS", "TRADING", "TRADE", "LOGISTICS", "HOLDING", "EURO",
             "OIL TRADING", "GAS HOLDING", "EURO OIL", "BAU"]
    names = sorted({f"{s} {t}" for s in stems for t in tails} | {f"{s}{t}" for s in stems
                                                                  for t in ("X", "Y")})
    n = len(names)
    customers = S.conform(pa.table({
        "customer_id": [f"C{i}" for i in range(n)],
        "name": names,
        "parent_id": [f"C{int(rng.integers(n))}" if rng.random() < 0.4 else None
                      for _ in range(n)],
    }), S.CUSTOMERS)
    invoices = S.conform(pa.table({
        "invoice_id": ["I0"], "customer_id": ["C0"], "amount": [1], "currency": ["EUR"],
    }), S.INVOICES)
    index = build_index(invoices=invoices, customers=customers)
    payers = []
    for _ in range(400):
        words = str(rng.choice(names)).split()
        r = rng.random()
        if r < 0.3:
            w = int(rng.integers(len(words)))
            t = int(rng.integers(len(words[w]) + 1))
            words[w] = words[w][:t] + str(rng.choice(list("AEIOS"))) + words[w][t + 1:]
        elif r < 0.5:
            words.append(str(rng.choice(tails)))
        elif r < 0.6 and len(words) > 1:
            words = words[::-1]
        elif r < 0.7:
            words = words[:1] + ["A"] * int(rng.integers(1, 3))
        payers.append(" ".join(words))
    payers = pa.array(payers)
    assert (index.names.index_in(payers) >= 0).any()  # (some known exactly: still compared)
    for cutoff in (88.0, 80.0):
        result, closest = I._fuzzy_names(payers, index, cutoff=cutoff)
        want_result, want_closest = _cdist_fuzzy_names(payers, index, cutoff)
        assert (want_result >= 0).sum() > 20 and ((want_closest >= 0) & (want_result < 0)).any()
        np.testing.assert_array_equal(result, want_result)
        np.testing.assert_array_equal(closest, want_closest)
