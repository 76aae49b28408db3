"""A prepared ledger decides exactly what the raw invoice and customer tables decide."""

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from cashmatch.engine import schema as S
from cashmatch.engine import streaming
from cashmatch.engine.executors import LocalExecutor
from cashmatch.engine.ledger import currency_codes, prepare_ledger
from cashmatch.engine.matcher import match
from cashmatch.engine.policy import Policy
from cashmatch.fixtures.generator import generate_day

POLICY = Policy(subset_milp_calls=0)


@pytest.fixture(scope="module")
def day():
    return generate_day(payments=1200, seed=5)


def _same(a, b) -> None:
    assert a.allocations.equals(b.allocations)
    assert a.exceptions.equals(b.exceptions)
    assert a.summary == b.summary


def _batches(payments: pa.Table, n: int) -> list[pa.Table]:
    return [payments.slice(i, n) for i in range(0, payments.num_rows, n)]


@pytest.mark.parametrize("partitions", [None, 3])
def test_one_prepared_ledger_reused_across_batches_decides_like_the_tables(day, partitions):
    prepared = prepare_ledger(invoices=day.invoices, customers=day.customers)
    kw = dict(
        remittances=day.remittances,
        policy=POLICY,
        partitions=partitions,
        executor=LocalExecutor() if partitions else None,
    )
    # a currency the ledger does not hold must not shift the ledger's currency codes
    one = day.payments.slice(0, 1)
    for name, value in (("currency", "SEK"), ("payment_id", "SEK-1")):
        at = one.schema.get_field_index(name)
        one = one.set_column(at, one.schema.field(at), pa.array([value]))
    batches = _batches(day.payments, 400) + [pa.concat_tables([one, day.payments.slice(0, 50)])]
    applied = 0
    for pays in batches:
        with_tables = match(invoices=day.invoices, customers=day.customers, payments=pays, **kw)
        _same(match(ledger=prepared, payments=pays, **kw), with_tables)
        applied += with_tables.allocations.num_rows
    assert applied > 800  # the batches did apply cash


def test_open_amounts_swapped_keep_the_keys_and_decide_like_fresh_tables(day):
    prepared = prepare_ledger(invoices=day.invoices, customers=day.customers)
    assert prepared.book.keys is None  # all it derives is kept, not the key table
    rng = np.random.default_rng(1)
    amount = prepared.book.amount.copy()
    amount[rng.random(len(amount)) < 0.3] //= 2  # partly paid
    amount[rng.random(len(amount)) < 0.1] = 0  # settled
    inv = prepared.invoices.set_column(
        prepared.invoices.schema.get_field_index("amount"), "amount", pa.array(amount.copy())
    )
    swapped = prepared.with_open_amounts(amount)
    amount[:] = 1  # the caller's array is copied, not kept
    assert swapped.book.usable is prepared.book.usable and swapped.index is prepared.index
    _same(
        match(ledger=swapped, payments=day.payments, policy=POLICY),
        match(invoices=inv, customers=day.customers, payments=day.payments, policy=POLICY),
    )


def test_refreshed_reuses_the_keys_only_when_nothing_but_amounts_changed(day):
    prepared = prepare_ledger(invoices=day.invoices, customers=day.customers)
    inv = prepared.invoices
    halved = inv.set_column(
        inv.schema.get_field_index("amount"), "amount", pc.divide(inv.column("amount"), 2)
    )
    cheap = prepared.refreshed(invoices=halved, customers=day.customers)
    assert cheap.book.usable is prepared.book.usable
    assert (cheap.book.amount == prepared.book.amount // 2).all()
    # a new invoice (or another customer table) is prepared afresh and matched
    new_inv = S.conform(
        pa.table(
            {
                "invoice_id": ["ZZ-NEW-77001"],
                "customer_id": ["C-NEW"],
                "amount": [123456],
                "currency": ["EUR"],
            }
        ),
        S.INVOICES,
    )
    grown = prepared.refreshed(invoices=pa.concat_tables([inv, new_inv]), customers=day.customers)
    assert grown.book.usable is not prepared.book.usable
    pay = S.conform(
        pa.table(
            {
                "payment_id": ["P-NEW"],
                "amount": [123456],
                "currency": ["EUR"],
                "value_date": pa.array([20000], pa.date32()),
                "reference": ["ZZ-NEW-77001"],
            }
        ),
        S.PAYMENTS,
    )
    res = match(ledger=grown, payments=pay, policy=POLICY)
    assert res.allocations.column("invoice_id").to_pylist() == ["ZZ-NEW-77001"]
    assert prepared.refreshed(invoices=inv, customers=None).customers is None


def test_streamed_chunks_decide_like_fresh_tables_per_chunk(day):
    results = []
    streaming.match_chunks(
        invoices=day.invoices,
        chunks=iter(_batches(day.payments, 300)),
        customers=day.customers,
        policy=POLICY,
        on_result=results.append,
    )
    inv = S.conform(day.invoices, S.INVOICES)
    for pays, got in zip(_batches(day.payments, 300), results, strict=True):
        want = match(invoices=inv, customers=day.customers, payments=pays, policy=POLICY)
        _same(got, want)
        used = want.allocations.group_by("invoice_id").aggregate(
            [("applied_amount", "sum"), ("adjustment_amount", "sum")]
        )
        spent = pc.add(used.column("applied_amount_sum"), used.column("adjustment_amount_sum"))
        at = pc.index_in(inv.column("invoice_id"), value_set=used.column("invoice_id"))
        spent_per_inv = pc.fill_null(pc.take(spent, at), 0)
        inv = inv.set_column(
            inv.schema.get_field_index("amount"),
            "amount",
            pc.subtract(inv.column("amount"), spent_per_inv),
        )
    assert sum(r.allocations.num_rows for r in results) > 800


def test_match_takes_tables_or_a_prepared_ledger(day):
    prepared = prepare_ledger(invoices=day.invoices)
    with pytest.raises(TypeError):
        match(ledger=prepared, invoices=day.invoices, payments=day.payments)
    with pytest.raises(TypeError):
        match(payments=day.payments)
    with pytest.raises(ValueError, match="open amounts"):
        prepared.with_open_amounts(np.zeros(3, np.int64))



def test_a_currency_the_ledger_has_not_has_no_block(day):
    """The amount index numbers blocks ``group * n_currencies + currency`` with the ledger's
    currencies: a payment in another currency (code n_currencies) must not fall into the next
    group's first currency."""
    from cashmatch.engine.candidates import amount_hits, amount_index
    from cashmatch.engine.pipeline import DayMatch

    ledger = prepare_ledger(invoices=day.invoices, customers=day.customers)
    book, index = ledger.book, amount_index(ledger.book)
    ncur = index.n_currencies
    inv = int(np.flatnonzero((book.group >= 1) & (book.currency == 0) & (book.amount > 0))[0])
    group, amount = int(book.group[inv]), int(book.amount[inv])
    one = np.ones(1, np.int64)

    def hits(g: int, c: int) -> np.ndarray:
        return amount_hits(pay_amount=one * amount, pay_currency=one * c, pay_group=one * g,
                           pay_date=one * 20_000, book=book, fee_ceiling=one * 0,
                           grace_days=0, allow_discounts=True).inv

    assert inv in hits(group, 0)
    assert len(hits(group - 1, ncur)) == 0
    dm = DayMatch(ledger=ledger, payments=day.payments.slice(0, 5), remittances=None,
                  policy=POLICY)
    dm.prepare()
    assert dm.block_of(np.array([group]), np.array([0]))[0] >= 0
    assert dm.block_of(np.array([group - 1]), np.array([ncur]))[0] == -1


def test_a_match_pauses_the_garbage_collector_and_leaves_it_as_it_found_it(day):
    import gc
    import threading

    from cashmatch.engine.ledger import gc_paused

    inside: list[bool] = []
    assert gc.isenabled()
    with gc_paused():
        inside.append(gc.isenabled())
    match(invoices=day.invoices, payments=day.payments.slice(0, 50), customers=day.customers,
          policy=POLICY)
    assert inside == [False] and gc.isenabled()
    # overlapping matches in threads: off until the last one ends, then on again
    first_in, release = threading.Event(), threading.Event()

    def hold() -> None:
        with gc_paused():
            first_in.set()
            release.wait(10)

    t = threading.Thread(target=hold)
    t.start()
    first_in.wait(10)
    with gc_paused():
        pass
    still_off = not gc.isenabled()
    release.set()
    t.join()
    assert still_off and gc.isenabled()
    gc.disable()  # a caller that turned it off keeps it off
    try:
        match(invoices=day.invoices, payments=day.payments.slice(0, 50),
              customers=day.customers, policy=POLICY)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_ledger_prepared_on_two_threads_is_the_one_prepared_on_one(day, monkeypatch):
    """The keys and the customer index derived at once on two threads (a large ledger on more
    than one core) make the same prepared ledger, array for array, as one after the other."""
    from cashmatch.engine import ledger as L

    def prepared(threads: bool) -> L.PreparedLedger:
        monkeypatch.setattr(L, "PARALLEL_INVOICES", 0 if threads else 10**12)
        monkeypatch.setattr("cashmatch.engine.threads.os.cpu_count", lambda: 2)
        return prepare_ledger(invoices=day.invoices, customers=day.customers)

    one, two = prepared(False), prepared(True)
    assert two.invoices.equals(one.invoices) and two.currencies.equals(one.currencies)
    for field in ("ids", "group", "names_by_customer", "account_keys", "name_keys"):
        a, b = getattr(one.index, field), getattr(two.index, field)
        assert a.equals(b) if hasattr(a, "equals") else np.array_equal(a, b)
    for field in ("amount", "currency", "group", "customer", "issue", "due", "block_size"):
        np.testing.assert_array_equal(getattr(two.book, field), getattr(one.book, field))
    for field in ("number", "number_inv", "number_kind"):
        np.testing.assert_array_equal(getattr(two.book.usable, field),
                                      getattr(one.book.usable, field))
    for a, b in zip(two.book.digit_keys + two.book.invoice_digit_keys[:1],
                    one.book.digit_keys + one.book.invoice_digit_keys[:1], strict=True):
        np.testing.assert_array_equal(a, b)
    assert two.book.digit_key_text.equals(one.book.digit_key_text)
    np.testing.assert_array_equal(two.book.digit_key_at, one.book.digit_key_at)
    assert two.book.keys is None and one.book.keys is None


def test_the_invoices_in_the_books_order_are_taken_only_when_asked_for(day):
    """A match reads the book only: the ledger keeps the invoices as given (but the columns
    the book holds) and their order, and takes the sorted table when it is asked for — the
    table ``sort_by("invoice_id")`` gives, from input in many chunks too, with the book's open
    amounts."""
    chunked = pa.Table.from_batches(day.invoices.to_batches(max_chunksize=333))
    prepared = prepare_ledger(invoices=chunked, customers=day.customers)
    assert "invoice_id" not in prepared.rows[0].column_names
    match(ledger=prepared, payments=day.payments.slice(0, 100), policy=POLICY)
    assert prepared.rows[1] is not None  # not taken by the match
    want = S.conform(day.invoices, S.INVOICES).sort_by("invoice_id")
    assert prepared.invoices.equals(want) and prepared.rows[1] is None  # taken once, kept
    lower = prepared.book.amount // 2
    for ledger in (prepared, prepare_ledger(invoices=chunked, customers=day.customers)):
        swapped = ledger.with_open_amounts(lower)
        assert swapped.invoices.drop_columns(["amount"]).equals(want.drop_columns(["amount"]))
        np.testing.assert_array_equal(np.asarray(swapped.invoices.column("amount")), lower)


def test_a_ledger_kept_without_its_invoices_decides_the_same_and_says_what_it_lacks(day):
    """``keep_invoices=False`` (the command line's one-part match): nothing of the invoice table
    but the book is held, the match decides the same, and asking for the invoices (a
    partitioned match) is a clear error, not a wrong table."""
    lean = prepare_ledger(invoices=day.invoices, customers=day.customers, keep_invoices=False)
    assert lean.rows == [None, None]
    pays = day.payments.slice(0, 300)
    _same(match(ledger=lean, payments=pays, policy=POLICY),
          match(invoices=day.invoices, customers=day.customers, payments=pays, policy=POLICY))
    lower = lean.with_open_amounts(lean.book.amount // 2)
    _same(match(ledger=lower, payments=pays, policy=POLICY),
          match(ledger=prepare_ledger(invoices=day.invoices, customers=day.customers)
                .with_open_amounts(lean.book.amount // 2), payments=pays, policy=POLICY))
    with pytest.raises(ValueError, match="without its invoices"):
        match(ledger=lean, payments=pays, policy=POLICY, executor=LocalExecutor(), partitions=2)


def test_a_single_use_ledger_lets_its_key_index_go_and_decides_the_same(day):
    """A ledger prepared for one match (``single_use``: what ``match`` prepares for itself) is
    let go of its key index once the exact candidates are found, and decides what a shared
    ledger decides; a shared ledger keeps it for the next match, which decides the same."""
    pays = day.payments.slice(0, 400)
    kw = dict(payments=pays, remittances=day.remittances, policy=POLICY)
    shared = prepare_ledger(invoices=day.invoices, customers=day.customers)
    once = prepare_ledger(invoices=day.invoices, customers=day.customers, single_use=True)
    first = match(ledger=shared, **kw)
    assert shared.book.usable is not None
    _same(match(ledger=shared, **kw), first)
    _same(match(ledger=once, **kw), first)
    assert once.book.usable is None and once.book.amounts is not None
    _same(match(invoices=day.invoices, customers=day.customers, **kw), first)


@pytest.mark.parametrize("env, backend", [({}, "system"),
                                          ({"ARROW_DEFAULT_MEMORY_POOL": "mimalloc"}, "mimalloc")])
def test_arrow_buffers_come_from_malloc_unless_the_environment_chose_a_pool(env, backend):
    """Importing the engine makes Arrow allocate from the system pool (what release_memory can
    give back), but leaves a pool the environment chose."""
    import os
    import subprocess
    import sys

    code = ("import pyarrow as pa, cashmatch.engine.ledger; "
            "print(pa.default_memory_pool().backend_name)")
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"} | env
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.split()
    assert out[-1] == backend


@pytest.mark.parametrize("partitions, kept", [(None, False), (1, False), (3, True)])
def test_match_keeps_the_invoices_of_its_own_ledger_only_for_parts(day, partitions, kept,
                                                                   monkeypatch):
    """``match`` on tables prepares a ledger without the invoices in its order for a match in
    one part (which reads only the book), with them for a partitioned one (its parts take
    their rows); both decide what a ledger prepared beforehand decides."""
    import cashmatch.engine.matcher as M

    prepared = []

    def spy(**kw):
        prepared.append(prepare_ledger(**kw))
        return prepared[-1]

    monkeypatch.setattr(M, "prepare_ledger", spy)
    kw = dict(payments=day.payments.slice(0, 400), remittances=day.remittances, policy=POLICY,
              executor=LocalExecutor(), partitions=partitions)
    got = match(invoices=day.invoices, customers=day.customers, **kw)
    assert (prepared[0].rows[0] is not None) is kept
    _same(got, match(ledger=prepare_ledger(invoices=day.invoices, customers=day.customers), **kw))


def test_memory_is_given_back_before_a_large_ledger_is_built_and_before_the_output(
        day, monkeypatch):
    """A large ledger (here: any, the threshold lowered) is built after the memory its
    caller freed is given back, and a large day's output after what the stages before it let
    go of is; the decisions are those of a small day's, which releases nothing."""
    import cashmatch.engine.ledger as L
    import cashmatch.engine.pipeline as P

    events = []
    sort = L.string_order
    monkeypatch.setattr(L, "string_order", lambda *a: events.append("sort") or sort(*a))
    build = P.DayMatch.build_outputs
    monkeypatch.setattr(P.DayMatch, "build_outputs",
                        lambda self, *a: events.append("output") or build(self, *a))
    let_go = P.DayMatch.let_go
    monkeypatch.setattr(P.DayMatch, "let_go", lambda self: events.append("let go") or let_go(self))
    kw = dict(invoices=day.invoices, customers=day.customers, payments=day.payments.slice(0, 300),
              remittances=day.remittances, policy=POLICY)
    small = match(**kw)
    assert events == ["sort", "let go", "output"]
    events.clear()
    monkeypatch.setattr(L, "PARALLEL_INVOICES", 0)
    monkeypatch.setattr(P, "RELEASE_PAYMENTS", 0)
    monkeypatch.setattr(L, "release_memory", lambda: events.append("release"))
    monkeypatch.setattr(P, "release_memory", lambda: events.append("release"))
    _same(match(**kw), small)
    assert events[0] == "release" and events[1] == "sort"
    assert events[-3:] == ["let go", "release", "output"]


@pytest.mark.parametrize("nulls", [False, True])
def test_currency_codes_as_the_column_taken_in_order_then_unique_and_index_in(nulls: bool):
    """``currency_codes``: the currencies first seen first in ``order`` and each row's code,
    the arrays of ``pc.unique`` and ``pc.index_in`` of the column taken in ``order`` (from its
    codes; with a null, from the column taken); chunks; a currency of one row only."""
    rng = np.random.default_rng(11)
    values = [str(v) for v in rng.choice(["EUR", "USD", "GBP", "CHF", "JPY"], 500)] + ["SEK"]
    if nulls:
        values[17] = None
    column = pa.chunked_array([values[:200], values[200:], []], pa.string())
    for order in (rng.permutation(len(values)), np.arange(len(values))[::-1].copy()):
        taken = column.take(pa.array(order))
        want = pc.unique(taken)
        currencies, code = currency_codes(column, order)
        assert currencies.equals(want) and code.dtype == np.int32
        np.testing.assert_array_equal(code, np.asarray(pc.index_in(taken, value_set=want)))
    assert currency_codes(pa.chunked_array([], pa.string()), np.zeros(0, np.int64))[0].equals(
        pa.array([], pa.string()))
