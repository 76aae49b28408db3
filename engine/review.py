"""Where a reviewer looks first: the candidates of the payments left to a person, re-ranked.

An exception lists the invoices the matching found (pairs that fit, but not surely enough;
sets that fit equally). What the matching does not look for, but a person would, comes first
here — in the list only, never in what is applied:

* **look-alike numbers**: an open invoice of the payer's group whose digits are one keystroke
  from a number in the reference (a substitution, two neighbours transposed, a digit dropped
  or added: optimal string alignment distance 1, numbers of at least ``MIN_EDIT`` digits), or
  that start or end with a quoted number of at least ``MIN_PART`` digits that is at most
  ``MAX_CUT`` digits shorter (a truncated number). A number that names one of the group's
  invoices exactly is not read as a typo of another;
* **a payer nobody identified** is looked for among the invoices of the customer whose name
  the payer's resembles most (:attr:`Identification.resembles`), as well as of the group
  its reference points to: look-alike numbers, and invoices the amount settles;
* **an amount the invoice could take** ranks first among those: it settles it (in full, less
  a fee or a discount), pays part of it, or pays at most ``OVER_MAX`` times its open amount.

Ranked by (how the number resembles, how the amount fits), then the matching's own order;
the matching's candidates follow. The numbers are joined with the keys of their group's
invoices by the hashes of their one-character deletions, prefixes and suffixes (:func:`lookalikes`),
and only the pairs joined are scored: never a loop per pair, nor a comparison of every pair.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from rapidfuzz import fuzz, process

from cashmatch.engine.allocate import MAX_CANDIDATES, ExceptionItem
from cashmatch.engine.candidates import (
    CURRENCY,
    DISCOUNT,
    EXACT,
    FEE,
    OVER,
    PARTIAL,
    SETTLED,
    Book,
    Pairs,
    amount_hits,
    amount_relation,
    digit_keys_by_group,
    digit_keys_by_invoice,
    unknown_payer_amount_hits,
)
from cashmatch.engine.normalize import HASH_BASE, spans, string_parts
from cashmatch.engine.schema import take
from cashmatch.engine.threads import in_parts

MIN_EDIT = 5  # digits a number needs for a one-keystroke look-alike
MIN_PART = 4  # digits a truncated number needs
MAX_CUT = 3  # digits a truncated number may have lost
OVER_MAX = 1.3  # an overpayment pays at most this much of the open amount
LOOKALIKE_THREAD_KEYS = 50_000  # number_levels: a thread for each this many keys (~10 ms)
LOOKALIKE_INDEX_KEYS = 50_000  # lookalikes: a book of at most this many keys indexed once (once:
# ~3 us and ~0.45 KiB a key; a larger book, a batch's, is looked up once or twice)
# how the number resembles: names it / one keystroke off / truncated (a payer known only by a
# resembling name counts as TRUNCATED for the invoices the amount settles)
EXACT_NUMBER, ONE_EDIT, TRUNCATED = 3, 2, 1
# how the amount fits: to the minor unit / less a fee or discount / part-pays it or overpays
# a little / neither (an exact amount names an invoice of a customer nearly by itself)
EXACT_AMOUNT, SETTLES, TAKES, NEITHER = 3, 2, 1, 0


# normalize's polynomial hash base (odd: invertible modulo 2**64), its inverse's powers
_INVERSE_POWERS = np.cumprod(
    np.array([1] + [pow(int(HASH_BASE), -1, 1 << 64)] * MAX_CUT, np.uint64))  # wraps
_GROUP_MIX = np.uint64(0xC4CEB9FE1A85EC53)
_LEVELS = np.array([EXACT_NUMBER, ONE_EDIT, TRUNCATED], np.int64)


def lookalikes(t_pay: np.ndarray, t_grp: np.ndarray, t_key: pa.Array, book: Book
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pay, invoice, level) of every number ``t_key[i]`` of payment ``t_pay[i]`` against the
    open invoices of group ``t_grp[i]``: EXACT_NUMBER, ONE_EDIT or TRUNCATED, the best per
    (pay, invoice, number); no weaker level for a number that names an invoice of the group
    exactly.

    Two numbers one keystroke apart (a substitution, a transposition, a character dropped or
    added) become the same text when one character is deleted from one or both; a truncated
    number is a prefix or suffix of the other. So the variants of the numbers (whole, one
    character deleted) are joined with those of the group's invoice keys (whole, one deleted,
    prefixes and suffixes) by hash, within the group, and only the pairs joined are scored
    (over their bytes, :func:`review_kernel.pair_levels`): no comparison of every number with
    every key of its group. A book of at most :data:`LOOKALIKE_INDEX_KEYS` keys has its keys'
    variants indexed once (:class:`KeyVariants`, kept with the book: a served ledger's), and
    a call looks up its numbers' there; a larger one's groups are hashed per call.
    Digits keys are ASCII (:func:`normalize.digits_key`): bytes are characters."""
    z = np.zeros(0, np.int64)
    k_grp, k_row = digit_keys_by_group(book)
    d_inv = digit_keys_by_invoice(book)[0]
    if len(k_row) <= LOOKALIKE_INDEX_KEYS:
        if book.lookalike_keys is None:
            book.lookalike_keys = KeyVariants.of(book.digit_key_text, k_grp)
        q, k, level = book.lookalike_keys.levels(t_key, t_grp)
        return t_pay[q], d_inv[k_row[k]], level
    groups = np.unique(t_grp)
    lo = np.searchsorted(k_grp, groups, "left")
    at = spans(lo, np.searchsorted(k_grp, groups, "right") - lo)
    if len(at) == 0 or len(t_key) == 0:
        return z, z, z
    # (the groups' keys read in place: a gather of their text cost ~10 ms at 1M payments)
    q, k, level = number_levels(t_key, t_grp, book.digit_key_text, k_grp, keys_at=at)
    return t_pay[q], d_inv[k_row[k]], level


def number_levels(q_key: pa.Array, q_grp: np.ndarray, k_key: pa.Array | pa.ChunkedArray,
                  k_grp: np.ndarray, threads_from: int = LOOKALIKE_THREAD_KEYS, *,
                  keys_at: np.ndarray | None = None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(number, key, level) of every number ``q_key[i]`` that resembles a key ``k_key[j]``
    of its group (``q_grp[i] == k_grp[j]``) as :func:`lookalikes` says, by the hash join
    (compiled: :mod:`review_kernel`), of the keys ``keys_at`` only (ascending; all keys by
    default); the keys looked up on a thread for each ``threads_from`` of them
    (:func:`threads.in_parts`)."""
    z = np.zeros(0, np.int64)
    if keys_at is None:
        keys_at = np.arange(len(k_key))
    if len(q_key) == 0 or len(keys_at) == 0:
        return z, z, z
    from cashmatch.engine import review_kernel

    q_off, q_raw = string_parts(q_key)
    k_off, k_raw = string_parts(k_key)
    # (a book's groups int32 as they are: a copy of all would cost more than the look-up)
    q_grp, k_grp = np.asarray(q_grp, np.int64), np.asarray(k_grp)
    index = review_kernel.number_index(q_off, q_raw, q_grp, HASH_BASE, _INVERSE_POWERS,
                                       _GROUP_MIX, MIN_EDIT)

    def part(a: int, b: int) -> tuple[np.ndarray, np.ndarray]:  # keys a..b-1
        return review_kernel.key_pairs(*index[:2], q_grp, *index[2:], k_off, k_raw, k_grp,
                                       keys_at, a, b, HASH_BASE, _INVERSE_POWERS, _GROUP_MIX,
                                       MIN_PART, MAX_CUT)

    # the keys are looked up independently, compiled without the GIL: in threads, a share each
    outs = in_parts(part, len(keys_at), per_thread=threads_from)
    pair_q, pair_k = (np.concatenate(c) for c in zip(*outs, strict=True))
    return _levels(q_off, q_raw, k_off, k_raw, pair_q, pair_k)


def _levels(q_off: np.ndarray, q_raw: np.ndarray, k_off: np.ndarray, k_raw: np.ndarray,
            pair_q: np.ndarray, pair_k: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(number, key, level) of the pairs joined (once each, by number then key), scored over
    their bytes (a hash that agrees by chance scores 0); a number that names a key exactly
    keeps only its exact pairs."""
    from cashmatch.engine import review_kernel

    n_k = len(k_off) - 1
    pair = np.unique(pair_q * n_k + pair_k)
    pair_q, pair_k = pair // n_k, pair % n_k
    level = review_kernel.pair_levels(q_off, q_raw, k_off, k_raw, pair_q, pair_k, _LEVELS,
                                      MIN_EDIT, MIN_PART, MAX_CUT)
    named = np.zeros(len(q_off) - 1, bool)
    named[pair_q[level == EXACT_NUMBER]] = True
    keep = (level == EXACT_NUMBER) | ((level > 0) & ~named[pair_q])
    return pair_q[keep], pair_k[keep], level[keep].astype(np.int64)


@dataclass(frozen=True, slots=True)
class KeyVariants:
    """Keys (digits, with their groups) and their variant hashes by bucket
    (:func:`review_kernel.key_index`), built once: :func:`number_levels`' join from the other
    side, each call hashing only its numbers (~0.1 ms less a 100-payment Match against a 10k
    ledger: its numbers' groups hold ~1k keys)."""

    off: np.ndarray
    raw: np.ndarray
    grp: np.ndarray
    index: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.uint64]

    @staticmethod
    def of(k_key: pa.Array, k_grp: np.ndarray) -> KeyVariants:
        from cashmatch.engine import review_kernel

        off, raw = string_parts(k_key)
        grp = np.asarray(k_grp, np.int64)
        return KeyVariants(off, raw, grp, review_kernel.key_index(
            off, raw, grp, HASH_BASE, _INVERSE_POWERS, _GROUP_MIX, MIN_PART, MAX_CUT))

    def levels(self, q_key: pa.Array, q_grp: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:func:`number_levels` of the numbers ``q_key`` (groups ``q_grp``) against these
        keys: the same arrays."""
        z = np.zeros(0, np.int64)
        if len(q_key) == 0 or len(self.grp) == 0:
            return z, z, z
        from cashmatch.engine import review_kernel

        q_off, q_raw = string_parts(q_key)
        pair_q, pair_k = review_kernel.number_pairs(
            *self.index, self.grp, q_off, q_raw, np.asarray(q_grp, np.int64), HASH_BASE,
            _INVERSE_POWERS, _GROUP_MIX, MIN_EDIT)
        return _levels(q_off, q_raw, self.off, self.raw, pair_q, pair_k)


def warm() -> None:
    """Compile (or load from numba's cache) the join of :func:`number_levels`, for a
    long-lived process as it starts."""
    number_levels(pa.array(["12345"]), np.zeros(1, np.int64), pa.array(["12354"]),
                  np.zeros(1, np.int32))  # (a book's groups: int32)
    KeyVariants.of(pa.array(["12354"]), np.zeros(1, np.int64)).levels(
        pa.array(["12345"]), np.zeros(1, np.int64))


# the amount fit of each relation (EXACT .. CURRENCY); an overpayment's depends on how much
_FIT = np.full(CURRENCY + 1, NEITHER, np.int64)
_FIT[[EXACT, FEE, DISCOUNT, PARTIAL]] = EXACT_AMOUNT, SETTLES, SETTLES, TAKES
_FIT[[SETTLED, CURRENCY]] = -1


def amount_fit(rel: np.ndarray, pay_amount: np.ndarray, open_amount: np.ndarray) -> np.ndarray:
    """EXACT_AMOUNT, SETTLES, TAKES or NEITHER per pair, from its amount relation (EXACT ..
    CURRENCY: one look-up, and the overpayments'); -1 for an invoice the payment cannot take
    (settled, another currency)."""
    fit = _FIT[rel]
    fit[(rel == OVER) & (pay_amount <= OVER_MAX * open_amount)] = TAKES
    return fit


@dataclass(frozen=True, slots=True)
class Lookalikes:
    """The look-alikes of the payments ``looked`` (a mask over all), each payment's best first
    (rows ``starts[p]:starts[p + 1]`` of payment ``p``): invoice, level, amount fit, relation.
    """

    looked: np.ndarray
    pay: np.ndarray
    inv: np.ndarray
    level: np.ndarray
    fit: np.ndarray
    rel: np.ndarray
    rank: np.ndarray  # level + fit
    starts: np.ndarray

    @staticmethod
    def of_rows(looked: np.ndarray, *cols: np.ndarray) -> Lookalikes:
        """From unsorted rows (pay, inv, level, fit, rel)."""
        pay, inv, level, fit, rel = cols
        rank = level + fit
        order = np.lexsort((inv, -rank, pay))
        starts = np.zeros(len(looked) + 1, np.int64)
        np.cumsum(np.bincount(pay, minlength=len(looked)), out=starts[1:])
        return Lookalikes(looked, pay[order], inv[order], level[order], fit[order], rel[order],
                          rank[order], starts)

    def merged(self, other: Lookalikes) -> Lookalikes:
        """Both tables' payments (``other`` of payments this one has not looked at)."""
        return Lookalikes.of_rows(self.looked | other.looked, *(
            np.concatenate([getattr(self, c), getattr(other, c)])
            for c in ("pay", "inv", "level", "fit", "rel")))


@dataclass(frozen=True, slots=True)
class Numbers:
    """The numbers of some payments' references long enough to look alike (``MIN_PART``
    digits), by payment (``pay`` ascending; ``row`` in ``digits``): derived per look-up, for
    the payments it looks up only (a small share of a day's: the rest are held by nothing)."""

    pay: np.ndarray
    row: np.ndarray
    digits: pa.Array | pa.ChunkedArray

    @staticmethod
    def of(tokens: pa.Table, pays: np.ndarray) -> Numbers:
        """From the tokens of :func:`normalize.reference_tokens` (``pay``, ``digits``: ASCII,
        a byte a digit), those of the payments ``pays``: batch by batch (a day's tokens come
        in chunks: read in place, not combined), one pass over the tokens' payments, the
        lengths read from the offsets of theirs only."""
        batches = tokens.to_batches()
        pay_of = [b.column("pay").to_numpy() for b in batches]  # (zero-copy)
        top = max([int(p.max()) for p in pay_of if len(p)], default=-1)
        looked = np.zeros(max(top, int(pays.max(initial=-1))) + 1, bool)
        looked[pays] = True
        rows, pay, first = [], [], 0
        for b, p in zip(batches, pay_of, strict=True):
            off = string_parts(b.column("digits"))[0]
            r = np.flatnonzero(looked[p])
            r = r[off[r + 1] - off[r] >= MIN_PART]
            rows.append(r + first)
            pay.append(p[r])
            first += len(p)
        rows = np.concatenate(rows) if rows else np.zeros(0, np.int64)
        pay = np.concatenate(pay).astype(np.int64) if pay else np.zeros(0, np.int64)
        order = np.argsort(pay, kind="stable")
        return Numbers(pay[order], rows[order], tokens.column("digits"))


def lookalike_table(pays: np.ndarray, *, tokens: pa.Table, pay_group: np.ndarray,
                    ref_group: np.ndarray, resembles_group: np.ndarray,
                    pay_amount: np.ndarray, pay_currency: np.ndarray, pay_date: np.ndarray,
                    fee_ceiling: np.ndarray, book: Book, grace_days: int,
                    allow_discounts: bool) -> Lookalikes:
    """The look-alikes (see the module) of the payments ``pays``.

    ``tokens``: the payments' reference tokens (:class:`Numbers`); ``pay_group``:
    the identified payer's group (-1: nobody), ``ref_group`` the group its reference points
    to, ``resembles_group`` the group whose name the payer's resembles.
    """
    n = len(pay_group)
    pays = np.unique(pays)
    if len(pays) == 0:  # (nothing to look up: the stages below cost ~0.3 ms empty)
        z = np.zeros(0, np.int64)
        return Lookalikes.of_rows(np.zeros(n, bool), z, z, z, z, z)
    from cashmatch.engine import review_kernel

    numbers = Numbers.of(tokens, pays)

    # the groups to look in, per payment: the payer's; else the resembling name's and the
    # reference's; each number of those payments once per group (one compiled pass)
    t_pay_all, digits = numbers.pay, numbers.digits
    q_pay, q_grp, row, grp = review_kernel.number_groups(
        pays, pay_group, resembles_group, ref_group, t_pay_all)
    # (distinct number texts per (pay, group) would do; duplicates only cost a little; taken
    # chunk by chunk: Arrow's take on the day's chunked tokens copies the whole column first)
    l_pay, l_inv, l_level = lookalikes(t_pay_all[row], grp,
                                       take(digits, numbers.row[row]), book)
    # a payer known only by a resembling name: the invoices of that customer's group the
    # amount settles
    unknown = q_pay[(pay_group[q_pay] < 0) & (q_grp == resembles_group[q_pay])]
    parts = [Pairs(l_pay, l_inv, l_level.astype(np.float64), np.zeros(len(l_pay), bool))]
    if len(unknown):  # (none to look for: ~15 us of set-up saved, and an empty part's joins)
        g = np.full(n, -1, np.int64)
        g[unknown] = resembles_group[unknown]
        by_amount = amount_hits(pay_amount=pay_amount, pay_currency=pay_currency, pay_group=g,
                                pay_date=pay_date, book=book, fee_ceiling=fee_ceiling,
                                grace_days=grace_days, allow_discounts=allow_discounts)
        parts.append(Pairs(by_amount.pay, by_amount.inv, np.full(len(by_amount), float(TRUNCATED)),
                           np.zeros(len(by_amount), bool)))
    pairs = Pairs.concat(parts)  # (the strongest level per pair is kept)
    rel, _ = amount_relation(pairs=pairs, pay_amount=pay_amount, pay_currency=pay_currency,
                             pay_date=pay_date, book=book, fee_ceiling=fee_ceiling,
                             grace_days=grace_days, allow_discounts=allow_discounts)
    fit = amount_fit(rel, pay_amount[pairs.pay], book.amount[pairs.inv])
    level = pairs.ref.astype(np.int64)
    # a truncated number says little unless the amount fits the invoice too
    good = (fit >= 0) & ((level >= ONE_EDIT) | (fit >= TAKES))
    p, i, level, fit, rel = (a[good] for a in (pairs.pay, pairs.inv, level, fit, rel))
    looked = np.zeros(n, bool)
    looked[pays] = True
    return Lookalikes.of_rows(looked, p, i, level, fit, rel)


def _number_groups_by_numpy(pays: np.ndarray, pay_group: np.ndarray,
                            resembles_group: np.ndarray, ref_group: np.ndarray,
                            t_pay: np.ndarray) -> tuple[np.ndarray, ...]:  # fmt: skip
    """:func:`review_kernel.number_groups` in numpy (its reference)."""
    known = pay_group[pays] >= 0
    q_pay = np.concatenate([pays, pays])
    q_grp = np.concatenate([np.where(known, pay_group[pays], resembles_group[pays]),
                            np.where(known, -1, ref_group[pays])])
    g_max = int(max(q_grp.max(initial=0), 0)) + 1
    key = np.unique((q_pay * g_max + q_grp)[q_grp >= 0])  # by payment, each group once
    q_pay, q_grp = key // g_max, key % g_max
    looked_up = np.unique(q_pay)
    first = np.searchsorted(t_pay, looked_up, "left")
    tok = spans(first, np.searchsorted(t_pay, looked_up, "right") - first)
    lo = np.searchsorted(q_pay, t_pay[tok], "left")
    cnt = np.searchsorted(q_pay, t_pay[tok], "right") - lo
    return q_pay, q_grp, np.repeat(tok, cnt), q_grp[spans(lo, cnt)]


def rerank(items: list[ExceptionItem], table: Lookalikes) -> list[ExceptionItem]:
    """``items`` with the look-alikes of each payment (``table``) before its candidates."""
    pays = np.fromiter((it.pay for it in items), np.int64, len(items))
    lo, hi = table.starts[pays], table.starts[pays + 1]
    out = list(items)
    for e in np.flatnonzero(hi > lo).tolist():  # (per exception with look-alikes: the merge
        it, rows = items[e], slice(int(lo[e]), int(hi[e]))  # of two short lists)
        had = dict(zip(it.candidates, it.scores, strict=True))
        # equal ranks keep the matching's order (its confidence, then its list)
        pos = {c: j for j, c in enumerate(it.candidates)}
        first = sorted(zip(table.inv[rows].tolist(), table.rank[rows].tolist(), strict=True),
                       key=lambda x: (-x[1], -had.get(x[0], -1.0), pos.get(x[0], len(pos))))
        first = [c for c, _ in first]
        taken = set(first)
        cands = first + [c for c in it.candidates if c not in taken]
        cap = max(MAX_CANDIDATES, len(it.candidates))
        out[e] = ExceptionItem(it.pay, it.reason, it.detail, cands[:cap],
                               [had.get(c, 0.0) for c in cands[:cap]])
    return out


def sole_lookalikes(table: Lookalikes, pays: np.ndarray) -> np.ndarray:
    """Per payment of ``pays``, the one invoice its reference gives with one keystroke wrong,
    that the payment pays part of or settles less a fee or a discount, when no other
    look-alike ranks as high (its row in ``table``); -1 otherwise."""
    if len(table.inv) == 0:
        return np.full(len(pays), -1, np.int64)
    last = len(table.inv) - 1
    top, end = table.starts[pays], table.starts[pays + 1]
    t = np.minimum(top, last)
    second = np.where(end > top + 1, table.rank[np.minimum(top + 1, last)], -1)
    rel = table.rel[t]
    ok = ((end > top) & (table.level[t] == ONE_EDIT) & (second < table.rank[t])
          & ((rel == PARTIAL) | (rel == FEE) | (rel == DISCOUNT)))
    return np.where(ok, t, -1)


def anyones_by_name(items: list[ExceptionItem], *, payer_names: pa.Array,
                    customer_names: pa.Array, pay_amount: np.ndarray,
                    pay_currency: np.ndarray, book: Book) -> list[ExceptionItem]:
    """``items`` where an exception has no candidate at all (a payer was identified, by a
    name that can be a look-alike customer's, and none of its open items fits) offering the
    open invoices of any customer for exactly the amount, those of the customers whose name
    the payer's (``payer_names``, name keys) resembles most first."""
    empty = [j for j, it in enumerate(items) if not it.candidates]
    if not empty:
        return items
    pays = np.array([items[j].pay for j in empty], np.int64)
    group = np.zeros(len(pay_amount), np.int64)
    group[pays] = -1  # (the search for payers nobody identified)
    hits = unknown_payer_amount_hits(pay_amount=pay_amount, pay_currency=pay_currency,
                                     pay_group=group, book=book)
    if len(hits) == 0:
        return items
    known = book.customer[hits.inv] >= 0
    score = np.zeros(len(hits))
    score[known] = process.cpdist(
        payer_names.take(pa.array(hits.pay[known])).to_pylist(),
        customer_names.take(pa.array(book.customer[hits.inv[known]])).to_pylist(),
        scorer=fuzz.WRatio, workers=1)
    order = np.lexsort((hits.inv, -score, hits.pay))
    p, i = hits.pay[order], hits.inv[order]
    starts = np.searchsorted(p, pays), np.searchsorted(p, pays, "right")
    out = list(items)
    for j, lo, hi in zip(empty, *starts, strict=True):
        cands = i[lo:hi][:MAX_CANDIDATES].tolist()
        out[j] = ExceptionItem(items[j].pay, items[j].reason, items[j].detail, cands,
                               [0.0] * len(cands))
    return out
