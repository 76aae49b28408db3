
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cashmatch.engine import schema as S
from cashmatch.engine.errors import InvariantViolation
from cashmatch.engine.matcher import match
from cashmatch.engine.policy import Policy
from cashmatch.engine.result import check_invariants

from .daybuilder import customers, invoices, outcome, payments

ACME = "Acme Industries Inc"
INVOICES = invoices([
    ("INV-2026-004512", "C1", 100000, "USD", ACME),
    ("INV-2026-004513", "C1", 25050, "USD", ACME),
    ("INV-2026-004514", "C1", 7000, "USD", ACME),
    ("INV-2026-004600", "C2", 50000, "USD", "Globex GmbH"),
    ("INV-2026-004601", "C2", 30000, "USD", "Globex GmbH"),
    ("INV-2026-004602", "C2", 20000, "USD", "Globex GmbH"),
    ("90012345", "C3", 99900, "USD", "Initech Ltd"),
    ("90012346", "C3", 99900, "USD", "Initech Ltd"),
    ("SO/26/7781", "C4", 120000, "EUR", "Umbrella SA"),
])
CUSTOMERS = customers([
    ("C1", ACME, ["DE89370400440532013000"], [], None),
    ("C2", "Globex GmbH", [], ["GLBX"], None),
    ("C3", "Initech Ltd", [], [], None),
    ("C4", "Umbrella SA", [], [], "C5"),
    ("C5", "Umbrella Holding", ["FR7630006000011234567890189"], [], None),
])


def run(pays, **kw):
    return match(invoices=INVOICES, payments=pays, customers=CUSTOMERS, **kw)


def test_one_to_one_by_exact_and_messy_references():
    r = run(payments([
        ("P1", 100000, "ACME INDUSTRIES", "INV-2026-004512"),
        ("P2", 25050, "ACME INDUSTRIES", "pmt inv 2O26 0045 13 thanks"),  # OCR O, split digits
        ("P3", 120000, "UMBRELLA HOLDING", "payment 7781"),  # prefix+year dropped, parent pays
    ]))
    got = outcome(r)
    assert got["P1"] == ("applied", ["INV-2026-004512"])
    assert got["P2"] == ("applied", ["INV-2026-004513"])
    assert got["P3"][0] == "exception"  # EUR invoice, USD payment: never applied


def test_amount_only_needs_a_known_payer():
    r = run(payments([
        ("P1", 7000, "whoever", None, "DE89 3704 0044 0532 0130 00"),  # account identifies C1
        ("P2", 7000, "UNKNOWN TRADING", None),  # same amount, unknown payer: never applied
    ]))
    got = outcome(r)
    assert got["P1"] == ("applied", ["INV-2026-004514"])
    assert got["P2"] == ("exception", S.UNKNOWN_PAYER)
    ex = r.exceptions.to_pylist()[0]
    assert ex["payment_id"] == "P2" and "INV-2026-004514" in ex["candidates"]


def test_equal_amounts_of_one_customer_are_ambiguous():
    got = outcome(run(payments([("P1", 99900, "INITECH", None)])))
    assert got["P1"] == ("exception", S.AMBIGUOUS)


def test_one_payment_for_several_quoted_invoices_with_bank_fee():
    r = run(payments([("P1", 79900 - 1500 + 100, "GLOBEX GMBH", "INV-2026-004600 / 4601")]))
    got = outcome(r)
    assert got["P1"] == ("applied", ["INV-2026-004600", "INV-2026-004601"])
    fee = [a for a in r.allocations.to_pylist() if a["adjustment_amount"]]
    assert fee and fee[0]["adjustment_reason"] == S.BANK_FEE
    assert sum(a["applied_amount"] for a in r.allocations.to_pylist()) == 78500


def test_a_bank_fee_larger_than_the_last_invoice_never_makes_an_applied_amount_negative():
    """Two quoted invoices of 1.00 and a payment of 0.50: the 1.50 short is within the bank-fee
    ceiling (25.00), more than the last invoice's amount: taken on it, then on the one before
    (hypothesis found the set's fee taken on the last invoice alone: -0.50 applied)."""
    small = invoices([("INV-1001", "C1", 100, "USD", ACME), ("INV-1002", "C1", 100, "USD", ACME)])
    r = match(invoices=small, payments=payments([("P1", 50, "ACME", "INV-1001 INV-1002")]))
    rows = r.allocations.to_pylist()
    assert rows and all(a["applied_amount"] >= 0 for a in rows)
    assert sum(a["applied_amount"] for a in rows) == 50  # cash conserved
    assert sum(a["applied_amount"] + a["adjustment_amount"] for a in rows) == 200


def test_two_payments_claiming_one_invoice_are_resolved_globally_not_by_order():
    pays = payments([
        ("P1", 100000, "ACME INDUSTRIES", "INV-2026-004512"),
        ("P2", 100000, "ACME INDUSTRIES", "INV-2026-004512"),
    ])
    a = outcome(run(pays))
    b = outcome(run(pays.take(pa.array([1, 0]))))
    assert a == b
    assert sorted(v[0] for v in a.values()) == ["applied", "exception"]
    assert S.DUPLICATE in [v[1] for v in a.values() if v[0] == "exception"]


def test_instalments_leave_the_remainder_open():
    r = run(payments([
        ("P1", 40000, "ACME INDUSTRIES", "INV-2026-004512 part 1"),
        ("P2", 30000, "ACME INDUSTRIES", "INV-2026-004512 part 2"),
    ]))
    rows = sorted(r.allocations.to_pylist(), key=lambda x: x["payment_id"])
    assert [x["invoice_open_after"] for x in rows] == [60000, 30000]


def test_overpayment_applies_what_fits():
    r = run(payments([("P1", 8000, "ACME INDUSTRIES", "INV-2026-004514")]))
    assert r.allocations.column("applied_amount").to_pylist() == [7000]
    ex = r.exceptions.to_pylist()
    assert ex[0]["reason"] == S.OVERPAYMENT and ex[0]["unapplied_amount"] == 1000


def test_remittance_applied_as_given_with_deduction():
    pays = payments([("P1", 95000, "GLOBEX", "see advice")])
    rem = S.conform(pa.table({
        "payment_id": ["P1", "P1"], "invoice_ref": ["4600", "inv-2026-4601"],
        "paid_amount": [45000, 30000 + 20000], "deduction_amount": [5000, None],
        "reason_code": ["DAMAGED", None], "currency": ["USD", "USD"],
    }), S.REMITTANCES)
    rem = rem.slice(0, 1)
    pays = payments([("P1", 45000, "GLOBEX", "see advice")])
    r = run(pays, remittances=rem)
    row = r.allocations.to_pylist()[0]
    assert row["invoice_id"] == "INV-2026-004600" and row["applied_amount"] == 45000
    assert row["adjustment_amount"] == 5000 and row["adjustment_reason"] == "DEDUCTION:DAMAGED"
    assert row["invoice_open_after"] == 0 and row["rule"] == "remittance"


def test_an_advice_line_for_another_payment_is_not_linked_by_absent_ids():
    # the advice covers P9, not in this batch; neither it nor P1 has an end-to-end id: an
    # absent id matching an absent id must not hand P9's lines to P1
    rem = S.conform(pa.table({
        "payment_id": ["P9"], "invoice_ref": ["INV-2026-004600"], "paid_amount": [50000],
        "currency": ["USD"],
    }), S.REMITTANCES)
    pays = payments([("P1", 7000, "ACME INDUSTRIES", "INV-2026-004514")])
    row = run(pays, remittances=rem).allocations.to_pylist()[0]
    assert row["invoice_id"] == "INV-2026-004514" and row["rule"] != "remittance"


def test_policy_threshold_turns_allocations_into_exceptions():
    pays = payments([("P1", 7000, "ACME INDUSTRIES INC", None)])
    assert outcome(run(pays))["P1"][0] == "applied"
    strict = Policy(auto_apply_threshold=0.999)
    got = run(pays, policy=strict)
    assert outcome(got)["P1"] == ("exception", S.LOW_CONFIDENCE)
    assert got.exceptions.column("candidates").to_pylist() == [["INV-2026-004514"]]


# --------------------------------------------------------------------------- properties

@st.composite
def random_day(draw):
    n_inv = draw(st.integers(1, 25))
    n_pay = draw(st.integers(1, 25))
    amounts = draw(st.lists(st.integers(1, 5000), min_size=n_inv, max_size=n_inv))
    custs = draw(st.lists(st.sampled_from(["C1", "C2", "C3"]), min_size=n_inv, max_size=n_inv))
    inv = invoices([(f"INV-{1000 + i}", c, a * 100, "USD", f"Customer {c}")
                    for i, (a, c) in enumerate(zip(amounts, custs, strict=True))])
    rows = []
    for p in range(n_pay):
        k = draw(st.integers(0, n_inv - 1))
        amount = draw(st.sampled_from([amounts[k] * 100, amounts[k] * 100 - 50,
                                       draw(st.integers(1, 500000))]))
        ref = draw(st.sampled_from([f"INV-{1000 + k}", f"{1000 + k}", "", "misc",
                                    f"INV-{1000 + k} INV-{1000 + (k + 1) % n_inv}"]))
        payer = draw(st.sampled_from([f"CUSTOMER {custs[k]}", "SOMEONE", ""]))
        rows.append((f"P{p:03d}", amount, payer, ref))
    return inv, payments(rows)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_day(), st.randoms(use_true_random=False))
def test_invariants_and_shuffle_invariance(day, rnd):
    inv, pays = day
    result = match(invoices=inv, payments=pays)
    check_invariants(pays, result.allocations, result.exceptions)
    # never more applied to an invoice than it had open
    used = {}
    for a in result.allocations.to_pylist():
        used[a["invoice_id"]] = used.get(a["invoice_id"], 0) + a["applied_amount"] + a[
            "adjustment_amount"]
        assert a["invoice_open_after"] >= 0
    opens = dict(zip(inv.column("invoice_id").to_pylist(), inv.column("amount").to_pylist(),
                     strict=True))
    assert all(v <= opens[k] for k, v in used.items())
    order = list(range(pays.num_rows))
    rnd.shuffle(order)
    inv_order = list(range(inv.num_rows))
    rnd.shuffle(inv_order)
    again = match(invoices=inv.take(pa.array(inv_order)), payments=pays.take(pa.array(order)))
    assert outcome(again) == outcome(result)


def test_debits_and_reversals_are_not_matched():
    pays = payments([("P1", 7000, "ACME INDUSTRIES", "INV-2026-004514"),
                     ("P2", 7000, "ACME INDUSTRIES", "INV-2026-004514")])
    pays = pays.set_column(pays.schema.get_field_index("direction"), "direction",
                           pa.array(["CRDT", "DBIT"]))
    r = run(pays)
    assert r.summary.payments == 1
    assert r.allocations.column("payment_id").to_pylist() == ["P1"]


@pytest.mark.parametrize("parts", [2, 3])
def test_partitioned_matching_keeps_invariants(parts):
    from cashmatch.engine.executors import LocalExecutor

    pays = payments([
        ("P1", 100000, "ACME INDUSTRIES", "INV-2026-004512"),
        ("P2", 80000, "GLOBEX", "4600 4601"),
        ("P3", 99900, "NOBODY", "90012346"),
        ("P4", 5, "NOBODY", ""),
    ])
    whole = run(pays)
    split = run(pays, executor=LocalExecutor(), partitions=parts)
    check_invariants(pays, split.allocations, split.exceptions)
    assert outcome(split) == outcome(whole)
    assert split.summary.auto_applied == 3


def test_an_empty_ledger_leaves_every_credit_to_a_person():
    pays = payments([("P1", 100, "ACME", "INV-1"), ("P2", 200, "", None)])
    r = match(invoices=S.empty(S.INVOICES), payments=pays)
    assert r.allocations.num_rows == 0
    assert sorted(r.exceptions.column("payment_id").to_pylist()) == ["P1", "P2"]
    assert r.exceptions.column("unapplied_amount").to_pylist() == [100, 200]
    none = match(invoices=INVOICES, payments=S.empty(S.PAYMENTS))
    assert none.summary.payments == 0 and none.exceptions.num_rows == 0


def test_invariant_checks_catch_a_broken_result():
    pays = payments([("P1", 100000, ACME, "INV-2026-004512")])
    good = run(pays)
    check_invariants(pays, good.allocations, good.exceptions)
    al = good.allocations
    amount_at = al.schema.get_field_index("applied_amount")
    short = al.set_column(amount_at, al.schema.field(amount_at), pa.array([99999], pa.int64()))
    stray = al.set_column(0, al.schema.field(0), pa.array(["P9"]))
    for allocations, message in (
        (al.slice(0, 0), "missing from the output"),
        (short, "applied \\+ unapplied != amount"),
        (stray, "not in the input"),
        (pa.concat_tables([al, al]), "applied \\+ unapplied != amount"),
    ):
        with pytest.raises(InvariantViolation, match=message):
            check_invariants(pays, allocations, good.exceptions)
    with pytest.raises(InvariantViolation, match="not unique"):
        check_invariants(pa.concat_tables([pays, pays]), good.allocations, good.exceptions)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_summary_counts_and_sums_as_a_plain_loop_does(data):
    """summarize (with the check's output rows or deriving them) against the definition:
    payments with an allocation and no exception, exceptions by reason (most first, then by
    name), sums by currency in order of first appearance."""
    from cashmatch.engine.result import summarize

    n = data.draw(st.integers(1, 12))
    cur = st.sampled_from(["EUR", "USD", "JPY"])
    pays = payments([(f"P{i}", data.draw(st.integers(1, 10**6)), "", None, None, data.draw(cur))
                     for i in range(n)])  # fmt: skip
    amounts = pays.column("amount").to_pylist()
    allocs, excs = [], []
    for i in range(n):  # each payment: applied in parts, the rest (if any) an exception
        left = amounts[i]
        for _ in range(data.draw(st.integers(0, 2))):
            part = data.draw(st.integers(0, left))
            allocs.append((f"P{i}", part, pays.column("currency")[i].as_py()))
            left -= part
        if left or data.draw(st.booleans()):
            excs.append((f"P{i}", left, data.draw(st.sampled_from(["A", "B", "C"])),
                         pays.column("currency")[i].as_py()))  # fmt: skip
    order = data.draw(st.permutations(range(len(allocs))))
    allocs = [allocs[k] for k in order]
    al = pa.table({"payment_id": [a[0] for a in allocs], "applied_amount": pa.array(
        [a[1] for a in allocs], pa.int64()), "currency": [a[2] for a in allocs]})  # fmt: skip
    al = S.conform(al, S.ALLOCATIONS)
    ex = pa.table({"payment_id": [e[0] for e in excs], "unapplied_amount": pa.array(
        [e[1] for e in excs], pa.int64()), "reason": [e[2] for e in excs],
        "currency": [e[3] for e in excs]})  # fmt: skip
    ex = S.conform(ex, S.EXCEPTIONS)

    def sums(rows):
        out: dict[str, int] = {}
        for c, v in rows:
            out[c] = out.get(c, 0) + v
        return out

    reasons: dict[str, int] = {}
    for e in excs:
        reasons[e[2]] = reasons.get(e[2], 0) + 1
    expected = (
        len({a[0] for a in allocs} - {e[0] for e in excs}),
        dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
        sums(zip(pays.column("currency").to_pylist(), amounts, strict=True)),
        sums((a[2], a[1]) for a in allocs),
        sums((e[3], e[1]) for e in excs),
    )
    rows = check_invariants(pays, al, ex)
    for s in (summarize(pays, al, ex, rows), summarize(pays, al, ex)):
        got = (s.auto_applied, s.exceptions_by_reason, s.amount_by_currency,
               s.applied_by_currency, s.unapplied_by_currency)  # fmt: skip
        assert got == expected
        assert [list(d) for d in got[1:]] == [list(d) for d in expected[1:]]  # orders too
        assert s.payments == n


def test_a_match_reads_only_the_payment_columns_it_names():
    """read_columns keeps what a match reads: the payments' other columns, filled with noise,
    change nothing, and a match of the narrowed credits is the match of the full ones."""
    import numpy as np

    from cashmatch.engine.matcher import READ_PAYMENT_COLUMNS, read_columns
    from cashmatch.engine.result import credits_only
    from cashmatch.fixtures.generator import generate_day

    day = generate_day(payments=600, seed=11)
    credits = credits_only(S.conform(day.payments, S.PAYMENTS))
    rng = np.random.default_rng(3)
    n = credits.num_rows
    noise = {
        "bank_code": pa.array(rng.choice(["NTRF", "NCHK", "NMSC"], n)),
        "statement_id": pa.array(rng.choice(["ST-1", "ST-2"], n)),
        "source": pa.array([f"bank-{i % 7}.csv" for i in range(n)]),
        "source_line": pa.array(rng.integers(1, 10**6, n), pa.int32()),
    }
    for name, values in noise.items():
        credits = credits.set_column(credits.schema.get_field_index(name), name, values)
    narrowed = read_columns(credits)
    assert narrowed.column_names == credits.column_names
    kept = [c for c in credits.column_names if c in READ_PAYMENT_COLUMNS]
    assert narrowed.select(kept).equals(credits.select(kept))
    assert all(narrowed.column(c).null_count == n for c in noise)
    full = match(invoices=day.invoices, payments=credits, customers=day.customers,
                 remittances=day.remittances)
    narrow = match(invoices=day.invoices, payments=narrowed, customers=day.customers,
                   remittances=day.remittances)
    assert full.allocations.num_rows and full.exceptions.num_rows
    assert narrow.allocations.equals(full.allocations)
    assert narrow.exceptions.equals(full.exceptions)
    assert narrow.summary == full.summary


def test_stages_side_by_side_decide_as_one_after_another(monkeypatch):
    """Identify beside the exact reference hits (DayMatch.decide), the fuzzy beside the
    amount hits and the scoring's amount relations beside its name evidence
    (DayMatch.candidates), and the allocation table beside the exception table
    (DayMatch.build_outputs), from SIDE_BY_SIDE_PAYMENTS payments, decide as the stages one
    after another: the same allocation and exception tables, and each stage timed."""
    import threading

    from cashmatch.engine import candidates, pipeline
    from cashmatch.fixtures.generator import generate_day

    day = generate_day(payments=2000, seed=4)
    tables = dict(invoices=day.invoices, customers=day.customers, payments=day.payments,
                  remittances=day.remittances)
    monkeypatch.setattr(pipeline, "SIDE_BY_SIDE_PAYMENTS", 10**9)
    alone = match(**tables)
    on = []  # the stages, as they start, and whether on the main thread
    identify_payers = pipeline.DayMatch.identify_payers
    fuzzy_hits, amount_hits = pipeline.fuzzy_hits, pipeline.amount_hits
    amount_relation, name_evidence = pipeline.amount_relation, pipeline.DayMatch.name_evidence
    allocation_table = pipeline.DayMatch.allocation_table
    exact_chunk = candidates._reference_hits

    def identify_on_a_thread(self: pipeline.DayMatch) -> None:
        on.append(("identify", threading.current_thread() is threading.main_thread()))
        identify_payers(self)

    def exact_on_a_thread(*args: object) -> object:
        on.append(("exact", threading.current_thread() is threading.main_thread()))
        return exact_chunk(*args)

    def fuzzy_hits_on_a_thread(*args: object, **kw: object) -> object:
        on.append(("fuzzy", threading.current_thread() is threading.main_thread()))
        return fuzzy_hits(*args, **kw)

    def amount_hits_on_a_thread(**kw: object) -> object:
        on.append(("amount", threading.current_thread() is threading.main_thread()))
        return amount_hits(**kw)

    def amount_relation_on_a_thread(**kw: object) -> object:
        on.append(("relation", threading.current_thread() is threading.main_thread()))
        return amount_relation(**kw)

    def name_evidence_on_a_thread(self: pipeline.DayMatch, *args: object) -> object:
        on.append(("name", threading.current_thread() is threading.main_thread()))
        return name_evidence(self, *args)

    def allocation_table_on_a_thread(*args: object) -> object:
        on.append(("allocations", threading.current_thread() is threading.main_thread()))
        return allocation_table(*args)

    monkeypatch.setattr(pipeline, "SIDE_BY_SIDE_PAYMENTS", 1)
    monkeypatch.setattr(candidates, "REFERENCE_CHUNK", 333)  # (more chunks than threads)
    monkeypatch.setattr(pipeline.DayMatch, "identify_payers", identify_on_a_thread)
    monkeypatch.setattr(candidates, "_reference_hits", exact_on_a_thread)
    monkeypatch.setattr(pipeline, "fuzzy_hits", fuzzy_hits_on_a_thread)
    monkeypatch.setattr(pipeline, "amount_hits", amount_hits_on_a_thread)
    monkeypatch.setattr(pipeline, "amount_relation", amount_relation_on_a_thread)
    monkeypatch.setattr(pipeline.DayMatch, "name_evidence", name_evidence_on_a_thread)
    monkeypatch.setattr(pipeline.DayMatch, "allocation_table", allocation_table_on_a_thread)
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    beside = match(**tables)
    assert ("identify", False) in on and ("exact", True) not in on
    assert on[-1] == ("allocations", False)
    assert on.count(("exact", False)) > 2
    later = [o for o in on if o[0] in ("fuzzy", "amount")]
    assert sorted(later[:2]) == [("amount", False), ("fuzzy", False)]  # (later: advice lines')
    assert sorted(o for o in on if o[0] in ("relation", "name")) == [("name", False),
                                                                     ("relation", False)]
    assert beside.allocations.equals(alone.allocations)
    assert beside.exceptions.equals(alone.exceptions)
    assert alone.allocations.num_rows > 1000 and alone.exceptions.num_rows > 50
    for name in ("identify", "candidates_exact", "candidates_fuzzy", "candidates_amount"):
        assert beside.timings[name] > 0
