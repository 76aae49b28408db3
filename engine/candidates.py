"""Candidate (payment, invoice) pairs and their features, as arrays.

Three sources of candidates, each producing ``(pay, inv, ref)`` rows where ``ref`` is the
strength of the reference evidence (0 when none):

- exact key hits: a hash join of reference token forms against every invoice key;
- fuzzy hits: rapidfuzz's ``fuzz.ratio`` (compiled: ``text_kernel``) of the remaining numeric
  tokens against the keys of the identified customer group's invoices, with a score cutoff;
- amount hits: for payments of an identified group, invoices of that group whose open amount
  the payment settles exactly, net of a bank fee, or net of an early-payment discount.

Features are then computed for all pairs at once (no Python loop per pair).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cashmatch.engine import schema as S
from cashmatch.engine.normalize import (
    HASH_BASE,
    HASH_COMPILED_MIN,
    HASH_MIX,
    KINDS,
    STRENGTH,
    StringLookup,
    int_order,
    reference_token_parts,
    stable_order,
    string_parts,
    strings_at,
)
from cashmatch.engine.threads import in_chunks, in_parts

MAX_INVOICES_PER_KEY = 25  # a key shared by more invoices than this is noise, not a reference
FUZZY_MIN_LEN = 5
FUZZY_RIVAL_MAX = 0.79  # a fuzzy hit that is not its token's one closest: never "quoted"
FUZZY_THREAD_CELLS = 2_000_000  # fuzzy_hits: comparisons a thread's share (~15 ms) at least
MAX_AMOUNT_HITS = 12  # amount-only candidates kept per payment
UNKNOWN_PAYER_AMOUNT_HITS = 5  # an unidentified payer's: invoices of any customer, for review
NO_DAYS = np.zeros(0, np.int64)  # (no discount window or key: candidates_kernel's searches)

# amount relations of a pair
EXACT, FEE, DISCOUNT, PARTIAL, OVER, SETTLED, CURRENCY = range(7)


@dataclass(slots=True)
class StringKeys:
    """Keys looked up as strings: the distinct keys (by their hashes, :class:`StringLookup`,
    and a Bloom filter of those), and each key's invoices and strengths (rows
    ``starts[k]:starts[k + 1]``, in the order the key table had them)."""

    keys: StringLookup
    starts: np.ndarray  # int32 (rows of inv)
    inv: np.ndarray  # int32: rows of the book
    strength: np.ndarray  # float64; one value for all rows: a read-only view of it (no memory)
    bloom: np.ndarray  # the keys' hashes' Bloom filter (candidates_kernel.bloom)

    @staticmethod
    def build(key: pa.Array, inv: np.ndarray, strength: np.ndarray | float,
              code: np.ndarray | None = None) -> StringKeys:
        """``code``: the keys already coded, equal keys alike (any numbering), if they are;
        ``strength``: each row's, or one for all."""
        if code is None:
            enc = key.dictionary_encode()
            values, code = enc.dictionary, np.asarray(enc.indices, np.int64)
        else:
            _, first, code = np.unique(code, return_index=True, return_inverse=True)
            values = key.take(pa.array(first))
        order = np.argsort(code, kind="stable")
        starts = np.searchsorted(code[order], np.arange(len(values) + 1))
        if isinstance(strength, np.ndarray):
            strength = strength[order]
        return StringKeys.of(values, starts, inv[order], strength)

    @staticmethod
    def of(values: pa.Array, starts: np.ndarray, inv: np.ndarray,
           strength: np.ndarray | float) -> StringKeys:
        """The distinct keys ``values``, each one's invoices and strengths at the rows
        ``starts[k]:starts[k + 1]`` of ``inv`` and ``strength`` (a float: the strength of
        every row, held once: at a million payments the ~2.4M alnum keys' 19 MiB)."""
        from cashmatch.engine import candidates_kernel

        lookup = StringLookup.build(values)
        if not isinstance(strength, np.ndarray):
            strength = np.broadcast_to(np.float64(strength), len(inv))
        return StringKeys(lookup, np.asarray(starts, np.int32), np.asarray(inv, np.int32),
                          np.asarray(strength, np.float64), candidates_kernel.bloom(lookup.hashes))

    def arrays(self) -> tuple:
        """What :func:`candidates_kernel.exact_hits` looks texts up in: the lookup's
        ``shift``, ``bucket_start``, ``hashes`` and ``by_hash``, its values' offsets and bytes,
        then ``starts``, ``inv``, ``strength`` and ``bloom``."""
        keys = self.keys
        return (keys.shift, keys.bucket_start, keys.hashes, keys.by_hash,
                *string_parts(keys.values), self.starts, self.inv, self.strength, self.bloom)


@dataclass(slots=True)
class KeyIndex:
    """The invoice keys specific enough to use (shared by at most ``MAX_INVOICES_PER_KEY``
    invoices), ready for the exact join: alnum keys as strings; the digit-like keys (digits,
    tail, prefix: canonical decimals without leading zeros) as int64 values, sorted, so a join
    is a ``searchsorted``; the few too long for int64 kept as strings."""

    alnum: StringKeys
    number: np.ndarray  # sorted int64 values of the digit-like keys
    number_inv: np.ndarray  # the invoice of each value (int32: rows of the book)
    number_kind: np.ndarray  # the kind of each (int8, normalize.KINDS; its STRENGTH by KIND_REF)
    long_digits: StringKeys  # digit-like keys of more than NUMBER_DIGITS digits


NUMBER_DIGITS = 18  # a decimal of at most this many digits fits an int64
KIND_REF = np.array([STRENGTH[k] for k in KINDS])  # the reference strength of each key kind


@dataclass(slots=True)
class Book:
    """The open invoices as arrays (index = row of the invoices table)."""

    ids: pa.Array
    amount: np.ndarray  # open amount, minor units
    currency: np.ndarray  # currency code index
    group: np.ndarray  # customer-group index, -1 if the customer is unknown
    customer: np.ndarray
    issue: np.ndarray  # days since epoch; very small when absent
    due: np.ndarray
    discount_bp: np.ndarray
    discount_days: np.ndarray
    keys: pa.Table | None  # normalize.invoice_keys (dropped once the fields below are derived)
    usable: KeyIndex | None = None  # built once by usable_keys
    digit_keys: tuple[np.ndarray, np.ndarray] | None = None  # digit_keys_by_group
    digit_key_text: pa.Array | None = None  # the digits keys in the order of digit_keys
    # digit_keys_by_invoice: (invoice, text); the text None once digit_keys_by_group holds it in
    # its order (the keys held once: ~31 MiB at a million payments), the invoices int32 then
    invoice_digit_keys: tuple[np.ndarray, pa.Array | None] | None = None
    amounts: AmountIndex | None = None  # amount_index (depends on the open amounts)
    block_size: np.ndarray | None = None  # block_sizes
    lookalike_keys: object | None = None  # review.KeyVariants, built once by lookalikes
    digit_key_at: np.ndarray | None = None  # each digits key's row in digit_key_text (int32)


@dataclass(frozen=True, slots=True)
class AmountIndex:
    """The open amounts sorted for the amount searches, derived once per book (new open amounts
    make a new book: :meth:`cashmatch.engine.ledger.PreparedLedger.with_open_amounts`), so that
    a call searches them in the rows of its payments, never sorting the ledger again.

    A block is a (customer group, currency), numbered ``group * n_currencies + currency`` with
    the book's currencies (a payment in another currency has no block). Sort orders are stable
    (ties in row order). The rows that the searches give (``by_amount``, ``by_discounted``,
    ``by_currency``: their pairs' invoices) are int32."""

    n_currencies: int
    members: np.ndarray  # invoices of a known group with an amount > 0, by block, in row order
    block_key: np.ndarray  # the blocks of ``members``, ascending, once each
    block_start: np.ndarray  # each block's first row in ``members`` (one more: the end)
    by_amount: np.ndarray  # the same invoices by (block, amount)
    sorted_amount: np.ndarray  # their open amounts (int64, contiguous)
    amount_key: np.ndarray  # their block * 2**42 + amount, ascending
    span: int  # open amounts are below this
    block_amount: np.ndarray  # block number (position in block_key) * span + amount, by_amount
    by_discounted: np.ndarray  # invoices with discount terms by (block, discounted amount)
    discounted_key: np.ndarray  # their block * 2**42 + discounted amount, ascending
    by_currency: np.ndarray  # every invoice by (currency, open amount or 0)
    currency_key: np.ndarray  # their currency * 2**42 + max(amount, 0), ascending


def discounted(book: Book) -> np.ndarray:
    """The amount that settles each invoice inside its discount window; -1 without terms."""
    disc = book.amount - (book.amount * book.discount_bp.astype(np.int64) + 5000) // 10000
    return np.where(book.discount_bp > 0, disc, -1)


AMOUNT_INDEX_COMPILED_MIN = 1 << 17  # invoices from which amount_index compiles its pass


def amount_index(book: Book) -> AmountIndex:
    """The book's :class:`AmountIndex`, computed once per book: by the compiled pass
    (``ledger_kernel.amount_orders``; 2.5M invoices: 0.41 -> 0.18 s thread CPU) from
    ``AMOUNT_INDEX_COMPILED_MIN`` invoices or once it is compiled, else by
    :func:`amount_index_steps` (the same arrays: tested equal). The compiled pass sets the
    book's :func:`block_sizes` too (2.5M invoices: ~0.09 s of numpy's steps saved)."""
    if book.amounts is None:
        from cashmatch.engine.normalize import compiled

        disc = discounted(book)
        if compiled(len(book.amount), AMOUNT_INDEX_COMPILED_MIN, "amount_orders",
                    "ledger_kernel") and max(book.amount.max(initial=0),
                                             disc.max(initial=0)) < 1 << 42:
            from cashmatch.engine.ledger_kernel import amount_orders

            ncur = int(book.currency.max(initial=0)) + 1
            (members, block_key, block_start, by_amount, sorted_amount, amount_key, block_amount,
             by_discounted, discounted_key, by_currency, currency_key, block_size) = amount_orders(
                book.amount, disc, book.group, book.currency, ncur)
            if book.block_size is None:  # (counted on the way: block_sizes has it then)
                book.block_size = block_size
            book.amounts = AmountIndex(
                n_currencies=ncur, members=members, block_key=block_key,
                block_start=block_start, by_amount=by_amount, sorted_amount=sorted_amount,
                amount_key=amount_key, span=int(book.amount.max(initial=0)) + 2,
                block_amount=block_amount, by_discounted=by_discounted,
                discounted_key=discounted_key, by_currency=by_currency,
                currency_key=currency_key)
        else:
            book.amounts = amount_index_steps(book)
    return book.amounts


def amount_index_steps(book: Book) -> AmountIndex:
    """The book's :class:`AmountIndex` by numpy's steps (the reference of the compiled pass)."""
    ncur = int(book.currency.max(initial=0)) + 1
    block = book.group * ncur + book.currency

    def by_block(target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rows = np.flatnonzero((book.group >= 0) & (target > 0))
        key = block[rows].astype(np.int64) * (1 << 42) + target[rows]
        order = int_order(key)
        return rows[order].astype(np.int32), key[order]

    rows = np.flatnonzero((book.group >= 0) & (book.amount > 0))
    members = rows[stable_order(block[rows], int(block.max(initial=0)) + 1)[0]]
    change = np.ones(len(members), bool)
    change[1:] = block[members][1:] != block[members][:-1]
    starts = np.flatnonzero(change)
    by_amount, amount_key = by_block(book.amount)
    by_discounted, discounted_key = by_block(discounted(book))
    span = int(book.amount.max(initial=0)) + 2
    owner = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, len(members))))
    key = book.currency.astype(np.int64) * (1 << 42) + np.maximum(book.amount, 0)
    by_currency = int_order(key).astype(np.int32)
    return AmountIndex(
        n_currencies=ncur, members=members, block_key=block[members][starts],
        block_start=np.append(starts, len(members)), by_amount=by_amount,
        sorted_amount=np.ascontiguousarray(book.amount[by_amount], np.int64),
        amount_key=amount_key, span=span, block_amount=owner * span + book.amount[by_amount],
        by_discounted=by_discounted, discounted_key=discounted_key,
        by_currency=by_currency, currency_key=key[by_currency])


def block_sizes(book: Book) -> np.ndarray:
    """Per invoice, how many invoices share its (customer group, currency) block, 1 for an
    invoice of no known group (what the scoring calls the block size); computed once per book.
    Block 0's count includes the invoices of no known group, as it always has. (Counted by
    :func:`amount_index`'s compiled pass when it runs first, as a prepared ledger's does.)"""
    if book.block_size is None:
        ncur = int(book.currency.max(initial=0)) + 1
        block = np.where(book.group >= 0, book.group * ncur + book.currency, -1)
        size = np.bincount(np.maximum(block, 0), minlength=1)
        book.block_size = np.where(block >= 0, size[np.maximum(block, 0)], 1).astype(np.int32)
    return book.block_size


def _kinds(keys: pa.Table) -> np.ndarray:
    """The kind of each row of a key table (:func:`normalize.invoice_keys`) as its index in
    ``KINDS`` (the indices of its dictionary column, which is ``KINDS``)."""
    return np.asarray(S.flat(keys.column("kind")).indices)


def _lengths(text: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """The length of each key or token form (ASCII: bytes are characters), chunk by chunk."""
    chunks = text.chunks if isinstance(text, pa.ChunkedArray) else [text]
    return np.concatenate([np.diff(string_parts(c)[0]) for c in chunks] or [np.zeros(0, int)])


def _short(length: np.ndarray) -> np.ndarray:
    """Which canonical decimals (digits only, no leading zero) of these lengths fit an int64."""
    return (length >= 1) & (length <= NUMBER_DIGITS)


def usable_keys(book: Book) -> KeyIndex:
    """The invoice keys shared by at most ``MAX_INVOICES_PER_KEY`` invoices, indexed for the
    exact join; computed once per book (a dictionary encoding and a bincount)."""
    if book.usable is None:
        from cashmatch.engine import text_kernel

        keys = book.keys
        key = S.flat(keys.column("key"))
        inv = np.asarray(keys.column("inv"), np.int64)
        offsets, raw = string_parts(key)
        # each key coded, with the number of distinct invoices it names (one compiled pass;
        # ~12M rows at a million payments)
        code, invoices = text_kernel.key_codes(
            offsets, raw, inv, int(inv.max()) + 1 if len(inv) else 1)
        usable = (invoices <= MAX_INVOICES_PER_KEY)[code]
        del invoices
        kind = _kinds(keys)
        alnum = kind == KINDS.index("alnum")
        short = _short(_lengths(key))
        number = usable & ~alnum & short
        value = np.asarray(pc.cast(key.filter(pa.array(number)), pa.int64()), np.int64)
        order = int_order(value)
        strength = np.asarray(keys.column("strength"), np.float64)
        alnum_keys, long_digits = usable & alnum, usable & ~alnum & ~short
        book.usable = KeyIndex(
            alnum=StringKeys.build(key.filter(pa.array(alnum_keys)), inv[alnum_keys],
                                   STRENGTH["alnum"], code[alnum_keys]),
            number=value[order],
            number_inv=inv[number][order].astype(np.int32),
            number_kind=kind[number][order],
            long_digits=StringKeys.build(key.filter(pa.array(long_digits)), inv[long_digits],
                                         strength[long_digits], code[long_digits]),
        )
    return book.usable


@dataclass(slots=True)
class Pairs:
    pay: np.ndarray
    inv: np.ndarray
    ref: np.ndarray  # reference strength 0..1
    fuzzy: np.ndarray  # bool: the reference evidence is a fuzzy hit

    def __len__(self) -> int:
        return len(self.pay)

    def split(self, n: int) -> tuple[Pairs, Pairs]:
        """The pairs of payments below ``n``, and the others with ``n`` taken off ``pay``."""
        low = self.pay < n
        high = ~low
        return (Pairs(self.pay[low], self.inv[low], self.ref[low], self.fuzzy[low]),
                Pairs(self.pay[high] - n, self.inv[high], self.ref[high], self.fuzzy[high]))

    @staticmethod
    def concat(parts: list[Pairs]) -> Pairs:
        """Concatenate, keeping for each (pay, inv) the row of strongest reference (its first
        such row), sorted by (pay, inv): a stable sort, then one compiled pass
        (:func:`cashmatch.engine.candidates_kernel.strongest`)."""
        pay = np.concatenate([p.pay for p in parts])
        inv = np.concatenate([p.inv for p in parts])
        ref = np.concatenate([p.ref for p in parts])
        fz = np.concatenate([p.fuzzy for p in parts])
        if len(pay) == 0:
            return Pairs(pay, inv, ref, fz)
        n_inv = int(inv.max(initial=0)) + 1
        if int(pay.max()) < (2**62) // n_inv and pay.min() >= 0 and inv.min() >= 0:
            # (pay, inv) as one key: a one-key sort, the same order as the two-key one (numpy's
            # stable sort merges the parts' sorted runs: 3.3M pairs in 0.03 s, a radix 0.28 s)
            order = np.argsort(pay.astype(np.int64) * n_inv + inv, kind="stable")
        else:
            order = np.lexsort((inv, pay))
        from cashmatch.engine import candidates_kernel

        return Pairs(*candidates_kernel.strongest(pay, inv, ref, fz, order))


def empty_pairs() -> Pairs:
    z = np.zeros(0, dtype=np.int64)
    return Pairs(z, z, np.zeros(0), np.zeros(0, dtype=bool))


# texts tokenised and joined at once (bounds the temporaries: at a million payments one chunk's
# live beside identify's, then two side by side; at 250,000 that stage was the day's peak)
REFERENCE_CHUNK = 125_000
REFERENCE_THREAD_TEXTS = 50_000  # reference_hits: texts a thread's share at least (~0.1 s)
# the tokens reference_hits keeps for later stages: those of a digits key this long at least,
# all that they read (fuzzy_hits: FUZZY_MIN_LEN; the look-alikes: review.MIN_PART), each text's
# equal digits forms once (a token joined of runs repeats its runs' digits: ~39% of them; the
# later stages' answers are the same with a repeat as without) among a text's first
# KEPT_TOKEN_TEXT_MAX such tokens
KEPT_TOKEN_DIGITS = 4
KEPT_TOKEN_TEXT_MAX = 64


def reference_hits(texts: pa.Array, book: Book, *, beside: Callable[[], None] | None = None
                   ) -> tuple[Pairs, pa.Table]:
    """Exact key hits of every text; also returns the tokens for the fuzzy stage and the
    look-alikes (``pay`` int32 and ``digits``, the chunks' tokens one chunk after another), those
    of at least ``KEPT_TOKEN_DIGITS`` digits, each text's equal ones once
    (:func:`candidates_kernel.first_forms`).

    Alnum token forms are looked up among the alnum keys (by their hashes, :class:`StringKeys`);
    digit forms as integers in the sorted digit-like keys (the rare ones too long for int64:
    as strings, like the alnum forms). In chunks of at most ``REFERENCE_CHUNK`` texts: the hits
    of a text do not depend on the others, so from ``2 * REFERENCE_THREAD_TEXTS`` texts the
    chunks are taken in turn by threads (:func:`threads.in_chunks`; Arrow's kernels and the
    compiled passes release the GIL). ``beside``, a job that reads none of this (the payers'
    identification, or the wait for it on a thread of its own), runs first on one of those
    threads, the chunks on the others meanwhile."""
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    usable_keys(book)  # (built once, before any thread reads it)

    threads = beside is not None or len(texts) >= 2 * REFERENCE_THREAD_TEXTS
    chunks = in_chunks(lambda a, b: _reference_hits(texts, a, b - a, book), len(texts),
                       chunk=REFERENCE_CHUNK, threads=threads, first=beside)
    if threads:  # (the threads' temporaries were freed into their own arenas)
        from cashmatch.engine.ledger import release_memory

        release_memory()
    # (each chunk's hits are sorted, one row per pair, and its texts follow the last's)
    pay, inv, ref, tokens = (list(c) for c in zip(*chunks, strict=True))
    pay = np.concatenate(pay)
    hits = Pairs(pay, np.concatenate(inv), np.concatenate(ref), np.zeros(len(pay), bool))
    return hits, pa.concat_tables(tokens)


def _reference_hits(texts: pa.Array, at: int, n: int, book: Book
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, pa.Table]:
    """The exact hits (pay, inv, ref) of the ``n`` texts from ``at``, and their tokens that
    later stages read (:func:`reference_hits`), ``pay`` counted from the first text: one compiled
    pass (:func:`candidates_kernel.exact_hits`: the digits forms as integers, the alnum and
    longer digits forms as strings, each text's hits kept once per invoice, by (pay, inv))."""
    from cashmatch.engine import candidates_kernel

    t_pay, *a_parts, d_off, d_raw = reference_token_parts(texts.slice(at, n))
    index = usable_keys(book)
    pay, inv, ref = candidates_kernel.exact_hits(
        t_pay, n, *a_parts, d_off, d_raw, NUMBER_DIGITS,
        HASH_COMPILED_MIN, index.number, index.number_inv, index.number_kind, KIND_REF,
        index.alnum.arrays(), index.long_digits.arrays(), HASH_BASE, HASH_MIX)
    kept = np.flatnonzero(np.diff(d_off) >= KEPT_TOKEN_DIGITS)
    kept = kept[candidates_kernel.first_forms(t_pay, d_off, d_raw, kept, n, KEPT_TOKEN_TEXT_MAX)]
    return pay + at, inv, ref, pa.table({
        "pay": pa.array((t_pay[kept] + at).astype(np.int32)),
        "digits": strings_at(d_off, d_raw).take(pa.array(kept))})


INDEX_IN_SET_MIN = 10_000  # index_in: a value set this large at least looked up in the values


def index_in(values: pa.Array | pa.ChunkedArray, value_set: pa.Array | pa.ChunkedArray
             ) -> np.ndarray:
    """``pc.index_in(values, value_set=value_set, skip_nulls=True)`` as int64, -1 for none
    (a null, or not in ``value_set``). A ``value_set`` of ``INDEX_IN_SET_MIN`` or more against
    (fewer) distinct ``values``: Arrow's hash table built of the distinct values and
    ``value_set`` looked up there, not one of the whole ``value_set`` (a day's remittance lines
    name a few thousand payments of 300k: 39 -> 10 ms of CPU for its two ids); a smaller one
    by Arrow's one call (100 payments: 24 us, the three calls 60)."""
    if len(value_set) < INDEX_IN_SET_MIN:
        return np.asarray(pc.fill_null(pc.index_in(values, value_set=value_set,
                                                   skip_nulls=True), -1), np.int64)
    distinct = pc.unique(values)
    at = np.asarray(pc.fill_null(pc.index_in(values, value_set=distinct, skip_nulls=True), -1),
                    np.int64)
    hit = np.asarray(pc.fill_null(pc.index_in(value_set, value_set=distinct, skip_nulls=True),
                                  -1), np.int64)
    found = np.flatnonzero(hit >= 0)
    named, first = np.unique(hit[found], return_index=True)  # (its first row in value_set)
    row = np.full(len(distinct) + 1, -1, np.int64)  # (the last: -1 for a value of none)
    row[named] = found[first]
    return row[at]


def digit_keys_by_group(book: Book) -> tuple[np.ndarray, np.ndarray]:
    """The rows of :func:`digit_keys_by_invoice` sorted by customer group (stable): (group,
    row), int32 both; computed once per book, with the keys themselves in that order
    (``book.digit_key_text``: :func:`fuzzy_hits` reads a group's keys together, where gathering
    them from the invoice order cost a cache miss or two a key, ~0.4 s of CPU at a million
    payments) and each row's place there (``book.digit_key_at``); the keys' text is then held
    in that order only (``digit_keys_by_invoice``'s text None)."""
    if book.digit_keys is None:
        inv, key = digit_keys_by_invoice(book)
        group = book.group[inv]  # (-1: no known group, first)
        order = stable_order(group + 1, int(group.max(initial=-1)) + 2)[0]
        book.digit_key_text = key.take(pa.array(order))
        at = np.empty(len(order), np.int32)
        at[order] = np.arange(len(order), dtype=np.int32)
        book.digit_key_at = at
        book.digit_keys = (group[order], order.astype(np.int32))
        book.invoice_digit_keys = (inv.astype(np.int32), None)
    return book.digit_keys


def group_keys(t_grp: np.ndarray, book: Book) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For query rows sorted by customer group (``t_grp``, ascending): the ``digits`` keys of
    their groups' invoices, group after group (each key's invoice and group, and its row of
    :func:`digit_keys_by_group`), and the blocks ``(s, e, a, b)``: the query rows ``s:e`` of
    one group against its keys ``a:b`` (one compiled pass,
    :func:`candidates_kernel.fuzzy_blocks`; a block of one group each: the comparisons are
    compiled, with no call's fixed cost to share among small groups)."""
    from cashmatch.engine import candidates_kernel

    k_grp, k_row = digit_keys_by_group(book)
    at, blocks = candidates_kernel.fuzzy_blocks(t_grp, k_grp)
    return digit_keys_by_invoice(book)[0][k_row[at]], k_grp[at], at, blocks


def _sorting(key: np.ndarray) -> np.ndarray:
    """``np.argsort(key, kind="stable")`` of integers from 0: a large array's by a counting sort
    (:func:`normalize.stable_order`; ~2M tokens at a million payments, 254 -> 36 ms), a small
    one's by numpy (the counts' arrays cost more than sorting a few hundred)."""
    if len(key) < HASH_COMPILED_MIN:
        return np.argsort(key, kind="stable")
    return stable_order(key, int(key.max()) + 1)[0]


def fuzzy_hits(
    tokens: pa.Table, want: np.ndarray, pay_group: np.ndarray, book: Book, *, cutoff: float
) -> Pairs:
    """Fuzzy hits of numeric tokens of the payments ``want`` against their group's invoices.

    rapidfuzz's ``fuzz.ratio`` of every such token with every ``digits`` key of its group, with
    the score cutoff, never a loop per pair: one compiled pass over all the groups
    (:func:`text_kernel.ratio_blocks`, the same float32 scores as ``process.cdist`` gives, on
    the Arrow strings' bytes: no Python string made, no call per group; at a million payments
    the ~25,000 ``cdist`` calls and their strings cost ~2.7 s of CPU).
    """
    pay = np.asarray(tokens.column("pay"), np.int64)
    digits = tokens.column("digits")
    dlen = _lengths(digits)
    sel = want[pay] & (dlen >= FUZZY_MIN_LEN) & (pay_group[pay] >= 0)
    if not sel.any():
        return empty_pairs()
    # the tokens by group, and the digits keys of those groups
    t_row = np.flatnonzero(sel)
    t_row = t_row[_sorting(pay_group[pay[t_row]])]
    t_pay = pay[t_row]
    t_grp = pay_group[t_pay]
    k_inv, k_grp, k_row, blocks = group_keys(t_grp, book)
    if not len(blocks):
        return empty_pairs()
    from cashmatch.engine import candidates_kernel, text_kernel

    # (the tokens gathered in group order by Arrow: the pass then reads them in order)
    queries = string_parts(digits.take(pa.array(t_row)))
    keys = string_parts(book.digit_key_text)

    def part(a: int, b: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # blocks a .. b - 1
        return text_kernel.ratio_blocks(*queries, *keys, k_row, blocks[a:b], cutoff)

    # the blocks are independent, compiled without the GIL: on threads, a share of cells each
    parts = in_parts(part, len(blocks), per_thread=FUZZY_THREAD_CELLS,
                     weights=np.prod(np.diff(blocks, axis=1)[:, ::2], axis=1))
    hit, score, n_hits = (np.concatenate(c) for c in zip(*parts, strict=True))
    # a fuzzy hit is never as strong as an exact digits hit: 0.70 at the cutoff .. 0.90 at 100;
    # one number names one invoice: the token's closer look-alikes are its rivals, not further
    # invoices the payer quoted (kept as candidates, below quoting strength, FUZZY_RIVAL_MAX)
    f_pay, f_inv, strength = candidates_kernel.fuzzy_rows(
        blocks, n_hits, hit, score, t_grp, k_grp, t_pay, k_inv, cutoff, FUZZY_RIVAL_MAX)
    return Pairs.concat([Pairs(f_pay, f_inv, strength, np.ones(len(f_pay), dtype=bool))])


def digit_keys_by_invoice(book: Book) -> tuple[np.ndarray, pa.Array | None]:
    """The ``digits`` keys of the book sorted by invoice (stable): (invoice, key); computed
    once per book. The keys' text only until :func:`digit_keys_by_group` orders it by group
    (then None: read it there, ``book.digit_key_text`` at ``book.digit_key_at``; the invoices
    int32 from then on)."""
    if book.invoice_digit_keys is None:
        kd = book.keys.filter(pa.array(_kinds(book.keys) == KINDS.index("digits")))
        inv = np.asarray(kd.column("inv"), np.int64)
        key = S.flat(kd.column("key"))
        if len(inv) > 1 and (inv[1:] < inv[:-1]).any():  # (invoice_keys lists them in order)
            order = np.argsort(inv, kind="stable")
            inv, key = inv[order], key.take(pa.array(order))
        book.invoice_digit_keys = (inv, key)
    return book.invoice_digit_keys


def fuzzy_pair_refs(tokens: pa.Table, pairs: Pairs, book: Book, *, cutoff: float) -> Pairs:
    """``pairs`` with the fuzzy reference strength of each pair's own invoice (rapidfuzz
    ``cpdist`` of every numeric token of the payment against that invoice's digits key, the
    best token kept): for candidates found otherwise (an unknown payer's exact amount), whose
    numbers the per-group fuzzy stage never compared. Pairs with a stronger ref keep it.

    The (pair, token, key) rows are spelled out by searches in the payments' tokens and the
    book's keys, both sorted (:func:`candidates_kernel.pair_rows`): work in the pairs' rows,
    none in the ledger's."""
    if len(pairs) == 0:
        return pairs
    digit_keys_by_group(book)  # (the keys' text, by group)
    k_inv = digit_keys_by_invoice(book)[0]
    digits = tokens.column("digits")
    t_pay = np.asarray(tokens.column("pay"), np.int64)
    ok = np.flatnonzero(_lengths(digits) >= FUZZY_MIN_LEN)
    by_pay = ok[_sorting(t_pay[ok])]
    from cashmatch.engine import candidates_kernel, text_kernel

    row, tok, key = candidates_kernel.pair_rows(pairs.pay, pairs.inv, t_pay[by_pay], k_inv)
    if len(row) == 0:
        return pairs
    tok = by_pay[tok]
    # (rapidfuzz's ``process.cpdist`` with ``fuzz.ratio``, on the Arrow strings' bytes)
    score = np.asarray(text_kernel.ratio_pairs(*string_parts(digits), tok,
                                               *string_parts(book.digit_key_text),
                                               book.digit_key_at[key]), np.float64)
    best = np.zeros(len(pairs))
    np.maximum.at(best, row, score)
    strength = np.where(best >= cutoff,
                        0.70 + 0.20 * (best - cutoff) / max(100.0 - cutoff, 1e-9), 0.0)
    stronger = strength > pairs.ref
    return Pairs(pairs.pay, pairs.inv, np.where(stronger, strength, pairs.ref),
                 pairs.fuzzy | stronger)


def amount_hits(
    *,
    pay_amount: np.ndarray,
    pay_currency: np.ndarray,
    pay_group: np.ndarray,
    pay_date: np.ndarray,
    book: Book,
    fee_ceiling: np.ndarray,
    grace_days: int,
    allow_discounts: bool,
) -> Pairs:
    """Invoices of the payer's group that the payment settles by amount alone.

    A sorted search over (group, currency, amount) keys (:func:`amount_index`): for each
    payment the invoices with open amount in ``[amount, amount + fee]``, and those whose
    discounted amount equals it (within the discount window plus ``grace_days``), at most
    ``MAX_AMOUNT_HITS`` each, each pair once, by (pay, invoice) (one compiled pass,
    :func:`candidates_kernel.amount_pairs`).
    """
    index = amount_index(book)
    ncur = index.n_currencies
    known = np.flatnonzero((pay_group >= 0) & (pay_currency < ncur))
    if len(known) == 0 or len(book.amount) == 0:
        return empty_pairs()
    from cashmatch.engine import candidates_kernel

    p_block = pay_group[known] * ncur + pay_currency[known]
    lo_key = p_block.astype(np.int64) * (1 << 42) + pay_amount[known]
    by_discounted, discounted_key = ((index.by_discounted, index.discounted_key)
                                     if allow_discounts else (NO_DAYS, NO_DAYS))
    pay, inv = candidates_kernel.amount_pairs(
        known, lo_key, lo_key + fee_ceiling[known], int_order(lo_key), index.amount_key,
        index.by_amount, discounted_key, by_discounted, MAX_AMOUNT_HITS, pay_date, book.issue,
        book.discount_days, grace_days)
    return Pairs(pay, inv, np.zeros(len(pay)), np.zeros(len(pay), bool))


def unknown_payer_amount_hits(
    *, pay_amount: np.ndarray, pay_currency: np.ndarray, pay_group: np.ndarray, book: Book
) -> Pairs:
    """For payers nobody identified: invoices of any customer with exactly the paid amount.

    These are candidates for the reviewer, never grounds to apply (the scoring gives a pair
    without reference or known payer a low confidence)."""
    unknown = np.flatnonzero(pay_group < 0)
    if len(unknown) == 0 or len(book.amount) == 0:
        return empty_pairs()
    from cashmatch.engine import candidates_kernel

    index = amount_index(book)
    want = pay_currency[unknown].astype(np.int64) * (1 << 42) + pay_amount[unknown]
    rep_pay, rep_inv = candidates_kernel.range_rows(
        unknown, want, want, int_order(want), index.currency_key, index.by_currency,
        UNKNOWN_PAYER_AMOUNT_HITS, False, NO_DAYS, NO_DAYS, NO_DAYS, 0)
    n = len(rep_pay)
    return Pairs(rep_pay, rep_inv, np.zeros(n), np.zeros(n, bool))


def amount_relation(
    *,
    pairs: Pairs,
    pay_amount: np.ndarray,
    pay_currency: np.ndarray,
    pay_date: np.ndarray,
    book: Book,
    fee_ceiling: np.ndarray,
    grace_days: int,
    allow_discounts: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """(relation, adjustment) per pair: how the payment's amount relates to the open amount
    (one compiled pass, :func:`cashmatch.engine.scoring_kernel.relations`): EXACT, FEE (short
    by at most the fee ceiling; the adjustment is the shortfall), DISCOUNT (short by the
    discount, ±1, within the window plus ``grace_days``), PARTIAL or OVER; SETTLED when
    nothing is open, CURRENCY in another currency (no adjustment)."""
    from cashmatch.engine import scoring_kernel

    return scoring_kernel.relations(
        np.asarray(pairs.pay, np.int64), np.asarray(pairs.inv, np.int64), pay_amount,
        pay_currency, pay_date, fee_ceiling, book.amount, book.currency, book.issue,
        book.discount_bp, book.discount_days, grace_days, allow_discounts)
