"""Which customer paid? Account map, remembered aliases, exact and fuzzy payer names.

Customers are indexed once (:class:`CustomerIndex`): every customer id seen in the customer
master or on an invoice, with its *group* — the top of its ``parent_id`` chain — because a
parent that pays on a subsidiary's behalf may settle any invoice of the group.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from rapidfuzz import fuzz, process

from cashmatch.engine.normalize import (
    StringLookup,
    account_codes,
    account_key,
    compiled,
    distinct_name_keys,
    int_order,
    name_key,
    string_parts,
)
from cashmatch.engine.schema import flat

# How the payer was identified, with the confidence that carries.
BY_ACCOUNT, BY_NAME, BY_FUZZY_NAME, BY_LEARNED_ACCOUNT, UNKNOWN = 0, 1, 2, 3, -1
IDENTITY_CONFIDENCE = np.array([1.0, 0.97, 0.93, 0.95])
NAME_BLOCK = 5  # fuzzy names are compared within blocks sharing this many leading characters
NAME_MARGIN = 4.0  # the best fuzzy name must beat the next customer's by this much
PARALLEL_COMPARISONS = 20_000  # rapidfuzz's thread pool pays off above this many comparisons
SCORE_SLACK = 0.01  # _fuzzy_names: room for rounding between a score's bound and its float32
DISTINCT_ACCOUNTS_FIRST = 1_000  # _AccountCodes.of: from this many payments, key distinct ones
CODES_COMPILED_MIN = 1 << 17  # strings from which _string_codes compiles


def fuzzy_workers(comparisons: int) -> int:
    """``workers`` for a rapidfuzz call of this many comparisons: all cores for large ones; one
    for a few (starting the thread pool costs more than a small batch's comparisons)."""
    return -1 if comparisons > PARALLEL_COMPARISONS else 1


@dataclass(frozen=True, slots=True)
class CustomerIndex:
    ids: pa.Array  # customer ids, unique
    group: np.ndarray  # index of the group root per customer
    account_keys: pa.Table  # (key, cust) — unique keys only
    name_keys: pa.Table  # (key, cust) — unique keys only
    names_by_customer: pa.Array  # the name key of each customer ("" when unknown)
    accounts: StringLookup  # the account keys, by hash (derived once: lookups per call)
    names: StringLookup  # the name keys
    name_blocks: tuple[np.ndarray, np.ndarray, np.ndarray]  # name_blocks(name_keys)

    def lookup(self, customer_ids: pa.Array) -> np.ndarray:
        idx = pc.index_in(customer_ids, value_set=self.ids)
        return np.asarray(pc.fill_null(idx, -1), dtype=np.int64)

    def group_of(self, customer: np.ndarray) -> np.ndarray:
        """The group of each customer index; -1 stays -1 (unknown)."""
        out = np.full(len(customer), -1, dtype=np.int64)
        known = customer >= 0
        out[known] = self.group[customer[known]]
        return out


def _unique_map(keys: pa.Array, cust: np.ndarray) -> pa.Table:
    """(key, cust) pairs where a key names exactly one customer; empty keys dropped."""
    t = pa.table({"key": keys, "cust": pa.array(cust, pa.int64())})
    t = t.filter(pc.not_equal(t.column("key"), ""))
    g = t.group_by("key", use_threads=False).aggregate([("cust", "min"), ("cust", "max")])
    g = g.filter(pc.equal(g.column("cust_min"), g.column("cust_max")))
    return pa.table({"key": g.column("key"), "cust": g.column("cust_min")})


def _string_codes(text: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """The code of each string by its first occurrence (``dictionary_encode``'s; -1 for a
    null), and the first row of each code. Short strings without nulls (customer ids: at most
    16 bytes), from :data:`CODES_COMPILED_MIN` of them, in one compiled pass
    (:func:`text_kernel.packed_codes`; 2.77M ids of the 1M ledger 174 -> 96 ms of CPU);
    otherwise by Arrow."""
    if not text.null_count and compiled(len(text), CODES_COMPILED_MIN, "packed_codes"):
        from cashmatch.engine import text_kernel

        code, firsts = text_kernel.packed_codes(*string_parts(text))
        if len(code) == len(text):
            return code, firsts
    enc = text.dictionary_encode()
    code = np.asarray(pc.fill_null(enc.indices, -1) if enc.null_count else enc.indices, np.int64)
    at = np.flatnonzero(code >= 0)
    firsts = np.empty(len(enc.dictionary), np.int64)
    firsts[code[at[::-1]]] = at[::-1]
    return code, firsts


def _row_codes(customers: pa.Table | None, invoice_ids: pa.ChunkedArray
               ) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """The customer ids of the master's rows then the invoices' in their rows' own order (one
    array), the code of each by its first occurrence there (-1 for a null), and the first row
    of each code: one hash pass, which needs no order of the invoices."""
    parts = [invoice_ids.combine_chunks()]
    if customers is not None and customers.num_rows:
        parts.insert(0, customers.column("customer_id").combine_chunks())
    all_ids = pa.concat_arrays(parts)
    return all_ids, *_string_codes(all_ids)


def _customer_codes(all_ids: pa.Array, raw: np.ndarray, firsts: np.ndarray, order: np.ndarray
                    ) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """The distinct customer ids of the master's rows then the invoices' in ``order`` of their
    rows (nulls left out), first seen first, the index among them of each of those rows' ids
    (-1 for a null), and the row code (:func:`_row_codes`) of each of them: the codes
    ``raw`` renumbered by where each is first seen in ``order`` (not the ids' strings taken in
    ``order`` and hashed at random: ~0.1 s of CPU for 2.5M invoices)."""
    n_master = len(all_ids) - len(order)
    if compiled(len(all_ids), CODES_COMPILED_MIN, "first_seen_codes"):
        from cashmatch.engine import text_kernel

        code, by_first, _ = text_kernel.first_seen_codes(raw, n_master, order, len(firsts))
    else:
        code, by_first, _ = _first_seen_codes(raw, n_master, order, len(firsts))
    return all_ids.take(pa.array(firsts[by_first])), code, by_first


def _first_seen_codes(raw: np.ndarray, n_master: int, order: np.ndarray, n_codes: int
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`text_kernel.first_seen_codes` by numpy (its reference): codes renumbered by where
    each is first read, the master's rows then the others in ``order``."""
    seq = np.concatenate([raw[:n_master], raw[n_master:][order]])  # in the order read
    at = np.flatnonzero(seq >= 0)
    known = seq[at]
    first = np.empty(n_codes, np.int64)
    first[known[::-1]] = at[::-1]  # where each id is first read
    by_first = known[first[known] == at]  # the ids by where they are first read
    renumber = np.empty(len(by_first), np.int64)
    renumber[by_first] = np.arange(len(by_first))
    code = np.full(len(seq), -1, np.int64)
    code[at] = renumber[known]
    return code, by_first, renumber


def _mixed_names(row_code: np.ndarray, n: int, names: pa.Array) -> np.ndarray:
    """Per customer (of ``n`` codes), whether its invoices' names (``names`` in the invoices'
    own row order, ``row_code`` their customers' codes) are not all the same: one compiled pass
    over the names as they lie (:func:`text_kernel.mixed_strings`), from
    :data:`CODES_COMPILED_MIN` names; otherwise (or when an invoice's customer is unknown)
    every customer, as if mixed."""
    if (len(row_code) and row_code.min() < 0) or not compiled(
            len(names), CODES_COMPILED_MIN, "mixed_strings"):
        return np.ones(n, bool)
    from cashmatch.engine import text_kernel

    return text_kernel.mixed_strings(row_code, n, *string_parts(names))


def build_index(*, invoices: pa.Table, customers: pa.Table | None) -> CustomerIndex:
    return index_customers(invoices=invoices, customers=customers)[0]


def index_customers(*, invoices: pa.Table, customers: pa.Table | None,
                    order: np.ndarray | Callable[[], np.ndarray] | None = None
                    ) -> tuple[CustomerIndex, np.ndarray]:
    """The customer index, and the customer of each invoice (what ``index.lookup`` of their
    ``customer_id`` gives, read off the encoding that found the ids: no second hash join of
    the invoices' ids, ~0.2 s of CPU for 2.5M). With ``order``, the invoices are read in that
    order of their rows (the same index as from ``invoices.take(order)``, and the customer of
    each invoice in that order), their names at the few rows that need them. ``order`` may be
    a call that gives it, called once what needs no order is done (the hash pass over the
    customer ids, which customers' invoices carry more than one name: beside the sort of a
    large ledger's invoices in :func:`cashmatch.engine.ledger.prepare_ledger`)."""
    all_ids, raw, firsts = _row_codes(customers, invoices.column("customer_id"))
    n_master = customers.num_rows if customers is not None else 0
    inv_names = None
    if "customer_name" in invoices.column_names:
        inv_names = flat(invoices.column("customer_name"))  # (no copy of 2.5M names)
        inv_names = pc.fill_null(inv_names, "") if inv_names.null_count else inv_names
        mixed_by_row_code = _mixed_names(raw[n_master:], len(firsts), inv_names)
    if callable(order):
        order = order()
    elif order is None:
        order = np.arange(invoices.num_rows)
    ids, code, by_first = _customer_codes(all_ids, raw, firsts, order)
    n = len(ids)

    parent = np.arange(n, dtype=np.int64)
    names, name_cust, accts, acct_cust = [], [], [], []
    if customers is not None and customers.num_rows:
        ci = code[:n_master]
        pi = pc.index_in(customers.column("parent_id"), value_set=ids)
        has_parent = np.asarray(pc.is_valid(pi), dtype=bool)
        parent[ci[has_parent]] = np.asarray(pc.filter(pi, pa.array(has_parent)), np.int64)
        names.append(name_key(customers.column("name").combine_chunks()))
        name_cust.append(ci)
        for col, keys, owner, norm in (
            ("aliases", names, name_cust, name_key),
            ("accounts", accts, acct_cust, account_key),
        ):
            lists = customers.column(col).combine_chunks()
            keys.append(norm(pc.list_flatten(lists)))
            owner.append(ci[np.asarray(pc.list_parent_indices(lists), dtype=np.int64)])
    ii = code[n_master:]
    if inv_names is not None:
        # every invoice repeats its customer's name: only the rows whose name is not their
        # customer's first (the same first names, name keys and order of keys, from ~10x
        # fewer rows: a (name, customer) pair seen again changes none of them)
        rows = np.arange(len(ii))
        cust_first = np.zeros(n, np.int64)
        cust_first[ii[::-1]] = rows[::-1]
        at = cust_first[ii]
        read = at == rows
        # the names compared by their codes at the rows of customers whose invoices carry more
        # than one name only (none on a generated day: no hash pass over 2.5M names, ~0.3 s of
        # CPU); their codes from one hash pass over their names in ``order``
        mixed = np.flatnonzero(mixed_by_row_code[by_first][ii])
        if len(mixed):
            name_code = np.asarray(
                inv_names.take(pa.array(order[mixed])).dictionary_encode().indices, np.int64)
            read[mixed] |= name_code != name_code[np.searchsorted(mixed, at[mixed])]
        rows = np.flatnonzero(read)
        names.append(name_key(inv_names.take(pa.array(order[rows]))))
        name_cust.append(ii[rows])
    group = parent.copy()
    for _ in range(8):  # follow parent chains to their root (depth is small in practice)
        nxt = parent[group]
        if np.array_equal(nxt, group):
            break
        group = nxt

    def concat(parts: list) -> pa.Array:
        return pa.concat_arrays(parts) if parts else pa.array([], pa.string())

    all_names = concat(names)
    all_cust = np.concatenate(name_cust or [np.zeros(0, np.int64)]).astype(np.int64)
    first = np.full(n, -1, dtype=np.int64)
    first[all_cust[::-1]] = np.arange(len(all_cust))[::-1]  # the first name seen per customer
    names_by_customer = pc.if_else(
        pa.array(first >= 0), pc.take(all_names, pa.array(np.maximum(first, 0))), ""
    ) if len(all_cust) else pa.array([""] * n)
    account_keys = _unique_map(concat(accts), np.concatenate(acct_cust or [np.zeros(0)]))
    name_keys = _unique_map(all_names, all_cust)
    return CustomerIndex(
        ids=ids,
        group=group,
        names_by_customer=names_by_customer,
        account_keys=account_keys,
        name_keys=name_keys,
        accounts=StringLookup.build(account_keys.column("key")),
        names=StringLookup.build(name_keys.column("key")),
        name_blocks=name_blocks(name_keys),
    ), ii


def name_blocks(name_keys: pa.Table) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The name keys for the fuzzy comparison, derived once: (keys as a numpy bytes array,
    their order by leading ``NAME_BLOCK`` characters, those leading characters in that order).
    Name keys are ASCII (:func:`normalize.name_key`): as bytes, a quarter of numpy's str (4
    bytes a character: 46 -> 12 MiB for 2.5M invoices), scored by rapidfuzz as the str."""
    keys = _ascii_bytes(name_keys.column("key"))
    k_block = keys.astype(f"S{NAME_BLOCK}")
    # a key of one word (a bare stem, "ACME", that other customers' names start with too)
    # identifies only exactly: WRatio scores any name it begins high
    rows = np.flatnonzero(np.char.find(keys, b" ") >= 0)
    # (ordered as integers, a radix sort: a block's bytes read big-endian order as numpy
    # orders the ``S`` strings, ~20x faster)
    as_int = np.zeros((len(keys), 8), np.uint8)
    as_int[:, 8 - NAME_BLOCK :] = _byte_rows(k_block)
    order = rows[int_order(as_int.view(">u8").ravel()[rows].astype(np.int64))]
    return keys, order, k_block[order]


def _ascii_bytes(text: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """ASCII strings as a numpy bytes array."""
    return np.asarray(text.cast(pa.binary()).to_numpy(zero_copy_only=False), dtype=bytes)


@dataclass(frozen=True, slots=True)
class Identification:
    customer: np.ndarray  # customer index per payment, -1 when unknown
    method: np.ndarray  # BY_ACCOUNT / BY_NAME / BY_FUZZY_NAME / UNKNOWN
    confidence: np.ndarray  # 0..1
    names: pa.Array  # the payer name keys (normalize.name_key)
    # per payment still unknown, the customer whose name the payer's resembles most (at least
    # 0.8 of the cutoff, but too weakly or too close to another group's to identify it); -1
    # otherwise. Never grounds to apply: where a reviewer looks first (engine/review.py)
    resembles: np.ndarray


def identify(
    *, payments: pa.Table, index: CustomerIndex, name_cutoff: float
) -> Identification:
    n = payments.num_rows
    customer = np.full(n, -1, dtype=np.int64)
    method = np.full(n, UNKNOWN, dtype=np.int8)
    name_keys, name_at = distinct_name_keys(payments.column("payer_name"))
    names = name_keys.take(name_at)
    if len(index.ids) == 0 or n == 0:
        return Identification(customer, method, np.zeros(n), names, np.full(n, -1, np.int64))

    accounts = _AccountCodes.of(payments.column("payer_account"))
    hit_np = index.accounts.index_in(accounts.keys)[accounts.code]
    found = hit_np >= 0
    customer[found] = np.asarray(index.account_keys.column("cust"))[hit_np[found]]
    method[found] = BY_ACCOUNT

    # the distinct payer names looked up (423k of 1M payments: hashed, bucketed and compared
    # at random ~2.4x fewer times)
    hit = index.names.index_in(name_keys)[np.asarray(name_at, np.int64)]
    take = (customer < 0) & (hit >= 0)
    customer[take] = np.asarray(index.name_keys.column("cust"))[hit[take]]
    method[take] = BY_NAME

    _learn_accounts(accounts, customer, method)

    todo = np.flatnonzero((customer < 0) & (np.asarray(pc.utf8_length(names), np.int64) >= 4))
    resembles = np.full(n, -1, dtype=np.int64)
    if len(todo):
        got, closest = _fuzzy_names(
            pc.take(names, pa.array(todo)), index, cutoff=name_cutoff
        )
        ok = got >= 0
        customer[todo[ok]] = got[ok]
        method[todo[ok]] = BY_FUZZY_NAME
        resembles[todo[~ok]] = closest[~ok]
    _learn_accounts(accounts, customer, method)
    resembles[customer >= 0] = -1
    conf = np.where(method >= 0, IDENTITY_CONFIDENCE[np.maximum(method, 0)], 0.0)
    return Identification(customer, method, conf, names, resembles)


@dataclass(frozen=True, slots=True)
class _AccountCodes:
    """The batch's payer account keys dictionary-encoded (once for the lookup and both learning
    rounds): ASCII keys up to 24 bytes in one compiled pass (:func:`normalize.account_codes`,
    from its threshold or once compiled), otherwise by Arrow (:func:`_arrow_account_codes`,
    its reference). By Arrow, accounts repeat: from :data:`DISTINCT_ACCOUNTS_FIRST` payments
    the accounts are encoded first and only the distinct ones keyed (~1 in 3 of a large
    day's), their keys then encoded in turn (the same codes as encoding every payment's key:
    each key first seen where its first account is); a small batch's few accounts are mostly
    distinct, and every payment's key is encoded at once (one encoding and one take fewer:
    ~52 -> ~41 us in a 100-payment Match)."""

    keys: pa.Array  # the distinct account keys (normalize.account_key), first seen first
    code: np.ndarray  # per payment, its key's index in ``keys``
    given: np.ndarray  # per payment: an account that is not empty
    n: int  # distinct account keys

    @staticmethod
    def of(accounts: pa.ChunkedArray | pa.Array) -> _AccountCodes:
        accounts = flat(accounts)
        filled = pc.fill_null(accounts, "") if accounts.null_count else accounts
        coded = account_codes(filled)  # (a large batch's in one compiled pass)
        keys, code = coded if coded is not None else _arrow_account_codes(filled)
        given = (np.asarray(pc.binary_length(keys)) > 0)[code]
        return _AccountCodes(keys, code, given, len(keys))


def _arrow_account_codes(accounts: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """:func:`normalize.account_codes` by Arrow's encodings (accounts without nulls)."""
    if len(accounts) < DISTINCT_ACCOUNTS_FIRST:
        enc = account_key(accounts).dictionary_encode()
        return enc.dictionary, np.asarray(enc.indices, np.int64)
    raw = accounts.dictionary_encode()
    enc = account_key(raw.dictionary).dictionary_encode()
    return enc.dictionary, np.asarray(enc.indices, np.int64)[np.asarray(raw.indices, np.int64)]


def _learn_accounts(accounts: _AccountCodes, customer: np.ndarray, method: np.ndarray) -> None:
    """An account that pays for exactly one identified customer in this batch identifies that
    customer on its other payments too (in place). Accounts are dictionary-encoded once and
    their customers' min and max taken per code (numpy: no hash join of a batch's few rows)."""
    known = (customer >= 0) & accounts.given
    if not known.any() or known.all():
        return
    code = accounts.code
    lo = np.full(accounts.n, np.iinfo(np.int64).max)
    hi = np.full(accounts.n, -1)
    np.minimum.at(lo, code[known], customer[known])
    np.maximum.at(hi, code[known], customer[known])
    sole = (hi >= 0) & (lo == hi)  # (an empty account is never known: never sole)
    take = (customer < 0) & sole[code]
    customer[take] = lo[code[take]]
    method[take] = BY_LEARNED_ACCOUNT


def _fuzzy_names(names: pa.Array, index: CustomerIndex, *, cutoff: float
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Best customer per name by rapidfuzz's ``fuzz.WRatio`` within blocks of a common leading
    prefix; -1 when no customer reaches ``cutoff`` or two groups are too close to call. Also
    the closest customer of each name whatever the margin, if it scores at least 0.8 of
    ``cutoff``.

    The decisions of ``process.cdist`` of each block's names with its keys (``score_cutoff``
    0.8 of ``cutoff``: the first of a name's best scores, its margin over the best score of
    another group), from the few cells that can change them: every cell has an upper bound of
    its score (:func:`text_kernel.wratio_screen`; cells whose bound is below 0.8 of the cutoff
    score 0 and are never listed), and rapidfuzz scores (``cpdist``, the same float32 as
    ``cdist``) first each name's cell of the greatest bound, then every cell whose bound
    reaches that score ``B1`` less ``NAME_MARGIN + SCORE_SLACK`` (less only ``SCORE_SLACK``
    where no bound of the name reaches ``cutoff``; :func:`text_kernel.next_cells`), the best
    then read off the cells scored (:func:`text_kernel.best_cells`, 0 for the others). A cell
    left out scores below ``B1 - NAME_MARGIN`` (so below the best score ``B >= B1``): it is not
    the best, and the best of another group, were it that cell, would leave ``B - other >
    NAME_MARGIN`` as any lower one does (float32 subtraction is monotone); where no bound
    reaches ``cutoff`` the margin decides nothing (``B < cutoff``) and a cell below ``B1`` is
    not the best either. Cells on one thread: on threads (the screen, or the names and
    accounts keyed side by side) the match's peak RSS at 1M rose by 60-100 MiB."""
    uniq, inverse = np.unique(_ascii_bytes(names), return_inverse=True)
    keys, order, k_sorted = index.name_blocks
    custs = np.asarray(index.name_keys.column("cust"), dtype=np.int64)
    result = np.full(len(uniq), -1, dtype=np.int64)
    closest = np.full(len(uniq), -1, dtype=np.int64)
    # the leading characters; the names of each block are consecutive (``uniq`` is sorted)
    blocks, b_start = np.unique(uniq.astype(f"S{NAME_BLOCK}"), return_index=True)
    lo, hi = np.searchsorted(k_sorted, blocks, "left"), np.searchsorted(k_sorted, blocks, "right")
    spec = np.stack([b_start, np.append(b_start[1:], len(uniq)), lo, hi], axis=1)[hi > lo]
    if not len(spec):
        return result[inverse], closest[inverse]
    from cashmatch.engine import text_kernel

    q_bytes, k_bytes = _byte_rows(uniq), _byte_rows(keys)
    floor = cutoff * 0.8

    # one compiled pass, into room for every cell (np.empty's pages left unwritten cost nothing)
    cells = int(np.sum((spec[:, 1] - spec[:, 0]) * (spec[:, 3] - spec[:, 2])))
    row, cell, bound = np.empty(cells, np.int64), np.empty(cells, np.int64), np.empty(cells)
    n = text_kernel.wratio_screen(q_bytes, k_bytes, order, spec, floor, row, cell, bound)
    row, cell, bound = row[:n], cell[:n], bound[:n]
    if not len(row):
        return result[inverse], closest[inverse]
    key = order[cell]

    def scored(sel: np.ndarray) -> np.ndarray:
        return process.cpdist(uniq[row[sel]].tolist(), keys[key[sel]].tolist(),
                              scorer=fuzz.WRatio, score_cutoff=floor,
                              workers=fuzzy_workers(len(sel)), dtype=np.float32)

    score = np.zeros(len(row), np.float32)
    done = np.zeros(len(row), bool)
    for _ in range(2):  # each name's cell of the greatest bound; then those near its score
        sel = text_kernel.next_cells(row, bound, score, done, cutoff, NAME_MARGIN, SCORE_SLACK)
        if len(sel):
            score[sel], done[sel] = scored(sel), True
    at, best, ok, near = text_kernel.best_cells(row, score, index.group[custs[key]], cutoff,
                                                NAME_MARGIN)
    result[at[ok]] = custs[key[best[ok]]]
    closest[at[near]] = custs[key[best[near]]]  # (cdist gives 0 below its score_cutoff)
    return result[inverse], closest[inverse]


def _byte_rows(strings: np.ndarray) -> np.ndarray:
    """A numpy ``S`` array's bytes, a row of ``uint8`` per string (zero-copy)."""
    return np.ascontiguousarray(strings).view(np.uint8).reshape(len(strings), strings.itemsize)
