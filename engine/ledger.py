"""The ledger side of a match, derived once: :class:`PreparedLedger`.

What the pipeline's ``prepare`` stage derives from the invoices and customers alone — the
invoices in canonical order, their normalised keys (and which of them are specific enough to
use), the customer index with its groups, the book arrays — built by :func:`prepare_ledger`
and handed to any number of :func:`cashmatch.engine.matcher.match` calls: the chunks of a
streamed day, or the gRPC calls against one version of the server's ledger. A match with a
prepared ledger decides exactly what it decides with the raw tables.

Open amounts change more often than anything else (every applied payment lowers them):
:meth:`PreparedLedger.with_open_amounts` swaps them without re-deriving the rest, and
:meth:`PreparedLedger.refreshed` does that whenever only the amounts differ.
"""

from __future__ import annotations

import ctypes
import dataclasses
import gc
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cashmatch.engine import schema as S
from cashmatch.engine.candidates import (
    MAX_INVOICES_PER_KEY,
    NUMBER_DIGITS,
    Book,
    KeyIndex,
    StringKeys,
    amount_index,
    block_sizes,
    digit_keys_by_group,
    digit_keys_by_invoice,
    usable_keys,
)
from cashmatch.engine.identify import CustomerIndex, index_customers
from cashmatch.engine.normalize import (
    DIGITS_KEY_COMPILED_MIN,
    KEY_PART_KIND,
    STRENGTH,
    compiled,
    invoice_keys,
    key_pass_args,
    string_order,
    strings_at,
)
from cashmatch.engine.threads import in_background, side_by_side

NO_DATE = -(10**6)  # a missing date, in days since the epoch


def days(col: pa.ChunkedArray | pa.Array, default: int = NO_DATE) -> np.ndarray:
    """A date column as int64 days since the epoch, ``default`` where missing."""
    return np.asarray(pc.fill_null(pc.cast(col, pa.int32()), default), dtype=np.int64)


@dataclass(frozen=True, slots=True)
class PreparedLedger:
    """Open invoices and customers, prepared for matching (read-only; safe to share)."""

    # [the invoices as given, conformed, but for the columns the book holds in its order
    # (``ids``, ``amount``); their rows by invoice_id]: a match reads only the book; the table
    # in the book's row order (:attr:`invoices`) is taken the first time it is asked for, and
    # then kept here instead ([that table, None]) — not a second copy of every column beside
    # the caller's (~100 B an invoice); [None, None] when prepared without them
    # (``keep_invoices=False``: a match in one part reads only the book)
    rows: list
    customers: pa.Table | None  # schema.CUSTOMERS
    index: CustomerIndex
    currencies: pa.Array  # the invoices' currencies, first seen first (codes of book.currency)
    book: Book
    # prepared for one match, which lets go of what it has read once it is read
    # (:meth:`key_index_read`); False for a ledger shared by many (the server's, a stream's)
    single_use: bool = False

    @property
    def invoices(self) -> pa.Table:
        """The invoices sorted by invoice_id (the book's row order), with the book's open
        amounts."""
        table, order = self.rows
        if table is None:
            raise ValueError("this ledger was prepared without its invoices (keep_invoices=False)")
        if order is not None:
            rest = _sorted(table, order)
            book = {"invoice_id": self.book.ids, "amount": pa.array(self.book.amount, pa.int64())}
            table = pa.Table.from_arrays(
                [book[f.name] if f.name in book else rest.column(f.name) for f in S.INVOICES],
                schema=S.INVOICES)
            self.rows[:] = [table, None]  # (two threads may both take it: equal tables)
        return table

    def key_index_read(self) -> None:
        """What a match calls once its exact candidates are found, the last read of the book's
        key index (:attr:`Book.usable`, ~100 B an invoice): a single-use ledger lets it go, so
        that it is not held through the allocation (the peak of a million-payment day)."""
        if self.single_use:
            self.book.usable = None

    def with_open_amounts(self, amount: np.ndarray) -> PreparedLedger:
        """The same ledger with other open amounts (one per row of ``invoices``, minor units);
        keys and customer index are kept."""
        amount = np.array(amount, dtype=np.int64)  # a copy: the caller may go on changing it
        if amount.shape != self.book.amount.shape:
            raise ValueError(f"{len(amount)} open amounts for {len(self.book.amount)} invoices")
        table, order = self.rows
        if table is not None and order is None:  # in the book's order: only the amounts change
            at = table.schema.get_field_index("amount")
            table = table.set_column(at, S.INVOICES.field("amount"), pa.array(amount, pa.int64()))
        book = dataclasses.replace(self.book, amount=amount, amounts=None)
        amount_index(book)  # sorted by the new amounts, before the book is shared
        return dataclasses.replace(self, rows=[table, order], book=book)

    def refreshed(self, *, invoices: pa.Table, customers: pa.Table | None) -> PreparedLedger:
        """This ledger for new tables: only the amounts refreshed when nothing else changed
        (same invoices in every other column, same customers), else prepared afresh."""
        new = _canonical(invoices)
        same_customers = (customers is None and self.customers is None) or (
            customers is not None
            and self.customers is not None
            and S.conform(customers, S.CUSTOMERS).equals(self.customers)
        )
        if same_customers and new.drop_columns(["amount"]).equals(
            self.invoices.drop_columns(["amount"])
        ):
            return self.with_open_amounts(np.asarray(new.column("amount"), np.int64))
        return prepare_ledger(invoices=new, customers=customers)


PARALLEL_INVOICES = 100_000  # from this many invoices, prepare_ledger uses two threads


def _canonical(invoices: pa.Table) -> pa.Table:
    """The invoices sorted by id (stable: ``sort_by("invoice_id")``)."""
    inv = S.conform(invoices, S.INVOICES)
    return _sorted(inv, string_order(inv.column("invoice_id")))


def _sorted(table: pa.Table, order: np.ndarray) -> pa.Table:
    """The rows ``order`` of ``table``; column by column, each combined into one chunk first
    (Arrow's take from many chunks resolves the chunk of every index: 1.1 -> 0.7 s for 2.5M
    invoices in 20 chunks), on two threads for a large table."""
    rows = pa.array(order, pa.int64())
    return pa.Table.from_arrays(
        side_by_side([partial(_take, col, rows) for col in table.columns],
                     threads=table.num_rows >= PARALLEL_INVOICES),
        schema=table.schema,
    )


def _take(col: pa.ChunkedArray, order: pa.Array) -> pa.Array:
    return col.combine_chunks().take(order)


def currency_codes(currency: pa.ChunkedArray, order: np.ndarray) -> tuple[pa.Array, np.ndarray]:
    """The distinct currencies of the rows ``order``, first seen first in it, and the code of
    each of those rows' currency among them (int32): ``pc.unique`` and ``pc.index_in`` of the
    column taken in ``order``, the same arrays, but from its dictionary encoding in the rows'
    own order, the codes taken and renumbered (no take of 2.5M strings: 164 -> 93 ms of CPU);
    with a null currency, from the column taken."""
    col = currency.combine_chunks()
    if col.null_count:
        taken = col.take(pa.array(order, pa.int64()))
        currencies = pc.unique(taken)
        return currencies, np.asarray(pc.index_in(taken, value_set=currencies), np.int32)
    enc = col.dictionary_encode()
    code = np.asarray(enc.indices, np.int32)[order]
    first = np.full(len(enc.dictionary), len(code), np.int64)
    first[code[::-1]] = np.arange(len(code))[::-1]  # where each currency is first seen
    seen = np.argsort(first, kind="stable")[: np.count_nonzero(first < len(code))]
    renumber = np.empty(len(enc.dictionary), np.int32)
    renumber[seen] = np.arange(len(seen), dtype=np.int32)
    return enc.dictionary.take(pa.array(seen)), renumber[code]


_gc_lock = threading.Lock()
_gc_pauses = 0  # matches running now with the collector paused
_gc_was_enabled = False  # the collector's state before the first of them


@contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off while a match runs, as it was once the last match
    running ends (a counter: concurrent matches in threads neither restore it early nor leave
    it off). A match makes millions of small objects and no cycles worth collecting midway;
    the collector's passes over them cost ~15% of a large day. Usable as a decorator."""
    global _gc_pauses, _gc_was_enabled
    with _gc_lock:
        if _gc_pauses == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pauses += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pauses -= 1
            if _gc_pauses == 0 and _gc_was_enabled:
                gc.enable()


def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim`` (None under another C library)."""
    try:
        return ctypes.CDLL(None).malloc_trim
    except (AttributeError, OSError, TypeError):  # (no such call; no C library to ask)
        return None


_trim = _malloc_trim()
M_ARENA_MAX = -8  # glibc's mallopt parameter


def _allocators_that_give_back() -> None:
    """(At import.) Memory that a match frees where :func:`release_memory` can give it back:
    glibc's malloc in one arena (``M_ARENA_MAX``; a worker thread's arena kept what it freed,
    of no use to the matching thread) and Arrow's buffers from it too (the system pool: the
    bundled mimalloc kept the pages of threads that had ended). Either left as it is when the
    environment chose it (``MALLOC_ARENA_MAX``, ``ARROW_DEFAULT_MEMORY_POOL``). The peak of a
    million-payment day 2,357-2,386 -> 2,241 MiB, no CPU seen in the noise."""
    if "MALLOC_ARENA_MAX" not in os.environ and _trim is not None:  # (glibc)
        ctypes.CDLL(None).mallopt(M_ARENA_MAX, 1)
    if "ARROW_DEFAULT_MEMORY_POOL" not in os.environ:
        pa.set_memory_pool(pa.system_memory_pool())


_allocators_that_give_back()


def release_memory() -> None:
    """Give back to the system the pages that the allocators keep free after a large build:
    glibc's heaps (``malloc_trim``: the free pages inside them too, in every arena) and Arrow's
    pool. The ledger of a million-payment day frees ~400 MiB of temporaries, much of it in the
    arena of its second thread, which the matching thread never reuses: kept, it stayed in the
    peak RSS (3.0 -> 2.75 GiB; ~0.03 s)."""
    if _trim is not None:
        _trim(0)
    pa.default_memory_pool().release_unused()


@contextmanager
def stage(timings: dict[str, float] | None, name: str) -> Iterator[None]:
    """Adds the wall seconds of the block to ``timings[name]`` (nothing when None)."""
    t0 = time.perf_counter()
    yield
    if timings is not None:
        timings[name] = timings.get(name, 0.0) + time.perf_counter() - t0


@gc_paused()  # (the command line and the server prepare it apart from a match)
def prepare_ledger(*, invoices: pa.Table, customers: pa.Table | None = None,
                   timings: dict[str, float] | None = None, keep_invoices: bool = True,
                   single_use: bool = False) -> PreparedLedger:
    """Derive everything the matcher needs from the ledger side, once (seconds by step added
    to ``timings``, the ``ledger_*`` stages). Without ``keep_invoices`` the ledger holds none
    of the invoices' columns but the book's (~80 B an invoice a caller that lets its table go
    gets back): enough for a match in one part, not for :attr:`PreparedLedger.invoices` (a
    partitioned match, the server's store). A ``single_use`` ledger is for one match
    (:attr:`PreparedLedger.single_use`). The invoices' keys need no customer and the
    customer index no key: for a large ledger they are derived on two threads at once, the
    customer index started first, beside the sort (what it reads in the invoices' own row order
    needs no order), and the seconds of ``ledger_customers`` then overlap those of
    ``ledger_sort``, ``ledger_book``, ``ledger_keys`` and ``ledger_key_index``. A large
    ledger's build starts from memory given back (:func:`release_memory`): what the caller
    freed reading its tables (the command line's CSV parse: ~650 MiB kept free for a million
    payments) is not resident under it."""
    threads = invoices.num_rows >= PARALLEL_INVOICES
    if threads:
        release_memory()
    source = S.conform(invoices, S.INVOICES)
    customers = S.conform(customers, S.CUSTOMERS) if customers is not None else None
    sorted_rows: Future[np.ndarray] = Future()

    def indexed() -> tuple[CustomerIndex, np.ndarray]:  # (its order when the sort gives it)
        with stage(timings, "ledger_customers"):
            return index_customers(invoices=source, customers=customers, order=sorted_rows.result)

    # a large ledger's customer index starts on its own thread, beside the sort
    customer_index = in_background(indexed, thread=True) if threads else indexed
    try:
        with stage(timings, "ledger_sort"):
            order = string_order(source.column("invoice_id"))
            sorted_rows.set_result(order)
            # in the book's row order, of the strings only the ids (the currencies by codes)
            rows = pa.array(order, pa.int64())
            ids, (currencies, currency) = side_by_side(
                [partial(_take, source.column("invoice_id"), rows),
                 partial(currency_codes, source.column("currency"), order)],
                threads=threads)
    except BaseException as error:  # (the customer index waits for the order no more)
        if not sorted_rows.done():
            sorted_rows.set_exception(error)
        raise

    with stage(timings, "ledger_book"):
        book = _book(source, order, ids, currency)
    with stage(timings, "ledger_key_index"):
        coded = _index_keys(book)
    if not coded:  # (keys of forms the compiled pass does not code: from the key table)
        with stage(timings, "ledger_keys"):
            book.keys = invoice_keys(book.ids)
        with stage(timings, "ledger_key_index"):
            usable_keys(book)  # derived now: the shared book is never written to later
            digit_keys_by_invoice(book)
    index, inv_customer = customer_index()
    if threads:  # (what the two threads freed, resident under the book's next arrays else)
        release_memory()
    book.customer = inv_customer.astype(np.int32)
    book.group = index.group_of(inv_customer).astype(np.int32)
    book.keys = None  # all a match needs of the key table is derived (~135 B an invoice)

    def grouped() -> None:  # (the two write other fields of the book: side by side too)
        with stage(timings, "ledger_key_index"):
            digit_keys_by_group(book)

    def amounts() -> None:
        with stage(timings, "ledger_amounts"):
            amount_index(book)
            block_sizes(book)

    side_by_side([grouped, amounts], threads=threads)
    rows = [source.drop_columns(["invoice_id", "amount"]), order] if keep_invoices else [None] * 2
    if source.num_rows >= PARALLEL_INVOICES:
        release_memory()
    return PreparedLedger(rows, customers, index, currencies, book, single_use)


def _index_keys(book: Book) -> bool:
    """The book's key index (``usable_keys``) and digits keys (``digit_keys_by_invoice``) in one
    compiled pass over its ids (:func:`cashmatch.engine.ledger_kernel.key_index`: no table of
    every key, ~12.7M rows of strings for 2.5M invoices, written, coded and cast): the same
    arrays. False, and nothing set, for ids it does not take (then: from the key table)."""
    ids = book.ids
    if len(KEY_PART_KIND) * len(ids) >= 2**31 or not compiled(
            len(ids), DIGITS_KEY_COMPILED_MIN, "key_index", "ledger_kernel"):
        return False
    args = key_pass_args(ids)
    if args is None:
        return False
    from cashmatch.engine import ledger_kernel

    ok, number, number_inv, number_kind, *alnum, dg_inv, dg_off, dg_raw = ledger_kernel.key_index(
        *args, KEY_PART_KIND, NUMBER_DIGITS, MAX_INVOICES_PER_KEY)
    if not ok:
        return False
    al_off, al_raw, starts, al_inv = alnum
    none = np.zeros(0, np.int64)
    book.usable = KeyIndex(
        alnum=StringKeys.of(strings_at(al_off, al_raw), starts, al_inv, STRENGTH["alnum"]),
        number=number,
        number_inv=number_inv,
        number_kind=number_kind,
        long_digits=StringKeys.build(pa.array([], pa.string()), none, np.zeros(0), none),
    )
    book.invoice_digit_keys = (dg_inv, strings_at(dg_off, dg_raw))
    return True


def _book(source: pa.Table, order: np.ndarray, ids: pa.Array, currency: np.ndarray) -> Book:
    """The invoices' columns as the book's arrays, in ``order`` (``ids`` and the currencies'
    codes already in that order); its customers unknown (-1) until the customer index sets
    them, its keys derived after."""

    def ints(name: str, default: int = 0) -> np.ndarray:
        return np.asarray(pc.fill_null(source.column(name), default), np.int32)[order]

    due = days(source.column("due_date"))[order].astype(np.int32)
    issue = days(source.column("issue_date"))[order].astype(np.int32)
    issue = np.where(issue == NO_DATE, np.where(due == NO_DATE, NO_DATE, due - 30), issue)
    return Book(
        ids=ids,
        amount=np.asarray(source.column("amount"), np.int64)[order],
        currency=currency,
        customer=np.full(source.num_rows, -1, np.int32),
        group=np.full(source.num_rows, -1, np.int32),
        issue=issue,
        due=np.where(due == NO_DATE, issue, due),
        discount_bp=ints("discount_bp"),
        discount_days=ints("discount_days"),
        keys=None,
    )
