"""Decisions on small hand-written days: rival combinations, remittance lines found by amount,
instalments that vouch for each other, partial payments that settle another invoice, unknown
payers' mangled numbers, and the sets an AMBIGUOUS subset exception offers."""

import numpy as np
import pyarrow as pa

from cashmatch.engine import schema as S
from cashmatch.engine.matcher import match

from .daybuilder import customers, invoices, outcome, payments

ACME, GLOBEX, HOOLI, INITRODE = "Acme Industries Inc", "Globex GmbH", "Hooli Corp", "Initrode"
ACCOUNT = "DE89370400440532013000"
INVOICES = invoices(
    [
        ("INV-2026-004512", "C1", 100000, "USD", ACME),
        ("INV-2026-004513", "C1", 25050, "USD", ACME),
        ("INV-2026-004514", "C1", 7000, "USD", ACME),
        ("INV-2026-004600", "C2", 50000, "USD", GLOBEX),
        ("INV-2026-004601", "C2", 30000, "USD", GLOBEX),
        ("INV-2026-004602", "C2", 20000, "USD", GLOBEX),
        ("H-1", "C3", 10000, "USD", HOOLI),
        ("H-2", "C3", 20000, "USD", HOOLI),
        ("H-3", "C3", 31000, "USD", HOOLI),
        ("H-4", "C3", 40000, "USD", HOOLI),
        ("H-5", "C3", 61000, "USD", HOOLI),
        ("H-6", "C3", 41000, "USD", HOOLI),
        ("I-1", "C4", 51000, "USD", INITRODE),
        ("I-2", "C4", 30000, "USD", INITRODE),
        ("I-3", "C4", 20000, "USD", INITRODE),
        ("I-4", "C4", 99999, "USD", INITRODE),
    ]
)
CUSTOMERS = customers(
    [
        ("C1", ACME, [ACCOUNT], [], None),
        ("C2", GLOBEX, [], ["GLBX"], None),
        ("C3", HOOLI, [], [], None),
        ("C4", INITRODE, [], [], None),
    ]
)


def advice(refs, paid, deduction=None, reason=None):
    """Remittance lines of payment P1 (USD)."""
    n = len(refs)
    return S.conform(
        pa.table(
            {
                "payment_id": ["P1"] * n,
                "invoice_ref": refs,
                "paid_amount": paid,
                "deduction_amount": pa.array(deduction or [None] * n, pa.int64()),
                "reason_code": pa.array(reason or [None] * n, pa.string()),
                "currency": ["USD"] * n,
            }
        ),
        S.REMITTANCES,
    )


def run(pays, **kw):
    return match(invoices=INVOICES, payments=payments(pays), customers=CUSTOMERS, **kw)


def test_a_combination_of_other_items_lowers_a_single_amount_match_but_does_not_veto_it():
    # 50000 is INV-2026-004600 alone, and also 004601 + 004602: one invoice is the likelier
    r = run([("P1", 50000, "GLOBEX GMBH", None)])
    assert outcome(r)["P1"] == ("applied", ["INV-2026-004600"])
    alone = run([("P1", 25050, "ACME INDUSTRIES", None, ACCOUNT)])  # no combination makes it
    rival_conf = r.allocations.column("confidence")[0].as_py()
    assert rival_conf < alone.allocations.column("confidence")[0].as_py()


def test_a_second_single_invoice_still_makes_it_ambiguous():
    extra = invoices([("INV-2026-004603", "C2", 50000, "USD", GLOBEX)])
    r = match(
        invoices=pa.concat_tables([INVOICES, extra]),
        payments=payments([("P1", 50000, "GLOBEX GMBH", None)]),
        customers=CUSTOMERS,
    )
    assert outcome(r)["P1"] == ("exception", S.AMBIGUOUS)


def test_a_remittance_line_whose_reference_matches_nothing_is_found_by_its_amounts():
    rem = advice(["INV-2026-004600", "QX/77/ZZ"], [50000, 25000], [None, 5000], [None, "DAMAGED"])
    r = run([("P1", 75000, "GLOBEX GMBH", "see advice")], remittances=rem)
    assert outcome(r)["P1"] == ("applied", ["INV-2026-004600", "INV-2026-004601"])
    row = [a for a in r.allocations.to_pylist() if a["invoice_id"] == "INV-2026-004601"][0]
    assert row["adjustment_reason"] == "DEDUCTION:DAMAGED" and row["invoice_open_after"] == 0


def test_instalments_of_one_invoice_vouch_for_each_other():
    weak = [("P2", 30000, "ACME INDUSTRIES", "45l2 part")]
    assert outcome(run(weak))["P2"] == ("exception", S.LOW_CONFIDENCE)
    both = run([("P1", 40000, "ACME INDUSTRIES", "INV-2026-004512 part 1")] + weak)
    assert outcome(both)["P2"] == ("applied", ["INV-2026-004512"])
    rows = sorted(both.allocations.to_pylist(), key=lambda x: x["payment_id"])
    assert [x["invoice_open_after"] for x in rows] == [60000, 30000]
    assert rows[1]["confidence"] < 0.95  # lent, never more than the sure one's, capped
    # together more than the invoice is open for: no vouching
    over = run(
        [
            ("P1", 80000, "ACME INDUSTRIES", "INV-2026-004512 part 1"),
            ("P2", 30000, "ACME INDUSTRIES", "45l2 part"),
        ]
    )
    assert outcome(over)["P2"][0] != "applied"


def test_a_weakly_quoted_instalment_is_proposed_and_applied_when_its_sibling_vouches():
    # a digit changed and one added: fuzzy, but two keystrokes off (not a look-alike)
    weak = [("P2", 45000, "ACME INDUSTRIES", "20260048122 part 2")]
    alone = run(weak).exceptions.to_pylist()[0]
    assert alone["reason"] == S.LOW_CONFIDENCE and "partial_reference" in alone["detail"]
    both = run([("P1", 40000, "ACME INDUSTRIES", "INV-2026-004512 part 1")] + weak)
    assert outcome(both)["P2"] == ("applied", ["INV-2026-004512"])


def test_a_partial_payment_that_settles_another_open_invoice_exactly_is_ambiguous():
    r = run([("P1", 7000, "ACME INDUSTRIES", "INV-2026-004512")])
    assert outcome(r)["P1"] == ("exception", S.AMBIGUOUS)
    ex = r.exceptions.to_pylist()[0]
    assert ex["candidates"][:2] == ["INV-2026-004512", "INV-2026-004514"]


def test_an_unknown_payers_mangled_number_is_settled_by_the_one_look_alike_the_amount_fits():
    # "004609" resembles 004600, 004601 and 004602; the amount is 004600's to the minor unit
    # and no other's (generated days: 35 of 35 such credits of unknown payers right)
    r = run([("P1", 50000, "SOMEBODY ELSE LLC", "INV-2026-004609")])
    assert outcome(r)["P1"] == ("applied", ["INV-2026-004600"])
    assert outcome(run([("P1", 45000, "SOMEBODY ELSE LLC", "INV-2026-004609")]))["P1"][0] == (
        "exception")  # an amount none of them has
    plain = run([("P1", 50000, "SOMEBODY ELSE LLC", "PAYMENT")]).exceptions.to_pylist()[0]
    assert plain["reason"] == S.UNKNOWN_PAYER and plain["candidate_scores"][0] < 0.5


def test_ambiguous_sets_are_offered_fewest_invoices_first():
    # 71000 = H-3 + H-4 = H-1 + H-5 = H-1 + H-2 + H-6; no single invoice makes it
    r = run([("P1", 71000, "HOOLI CORP", None)])
    ex = r.exceptions.to_pylist()[0]
    assert ex["reason"] == S.AMBIGUOUS
    sets = ex["detail"].split(": ", 1)[1].split("; ")[0].split(" or ")
    assert [len(s.split(" + ")) for s in sets] == [2, 2, 3]
    first = sets[0].split(" + ")
    assert ex["candidates"][: len(first)] == first


def test_an_unclear_single_within_the_fee_window_does_not_hide_an_exact_set():
    # 50000: I-1 less a 10.00 fee (one of four invoices near the amount: could be chance),
    # or I-2 + I-3 exactly, the only set that makes it
    assert outcome(run([("P1", 50000, "INITRODE", None)]))["P1"] == ("applied", ["I-2", "I-3"])


def test_amount_only_confidence_falls_with_the_odds_of_a_coincidence():
    from cashmatch.engine.candidates import EXACT, FEE
    from cashmatch.engine.scoring import SAME, pair_confidence

    chance = np.array([0.01, 0.1, 0.3, 1.0, 3.0])
    n = len(chance)

    def conf(relation: int) -> np.ndarray:
        return pair_confidence(
            ref=np.zeros(n),
            relation=np.full(n, relation),
            customer_relation=np.full(n, SAME),
            identity=np.ones(n),
            chance=chance,
        )

    exact, fee = conf(EXACT), conf(FEE)
    assert np.all(np.diff(exact) < 0)  # the likelier a coincidence, the less sure
    assert exact[1] >= 0.90 > exact[3]  # 1 in 10 applies; about one expected by chance not
    np.testing.assert_allclose(fee[1:], fee[1])  # a fee window: a flat cut, never applied
    assert fee[1] < 0.90


def test_one_mangled_number_does_not_quote_all_its_look_alikes():
    # "9001730" is as close to 90017230, 90017330 and 90017830 as to 90017304 (the one paid,
    # overpaid): one number names one invoice, so they are rivals, not three quoted invoices
    # (whose sum happens to fit the amount less a fee)
    book = invoices(
        [
            ("90017230", "C9", 20179, "GBP", "Tormont Ltd"),
            ("90017330", "C9", 36964, "GBP", "Tormont Ltd"),
            ("90017830", "C9", 20259, "GBP", "Tormont Ltd"),
            ("90017304", "C9", 70000, "GBP", "Tormont Ltd"),
        ]
    )
    account = "GB79413035938470336341"
    r = match(
        invoices=book,
        customers=customers([("C9", "Tormont Ltd", [account], [], None)]),
        payments=payments([("P1", 76125, "TORMONT LTD", "FACTURA 9001730", account, "GBP")]),
    )
    assert outcome(r)["P1"][0] == "exception"
    assert r.exceptions.column("candidates")[0].as_py()[0] == "90017304"


def test_an_unknown_payers_advice_takes_the_group_its_strong_lines_name():
    rem = advice(["INV-2026-004600", "QX/77/ZZ"], [50000, 30000])
    r = run([("P1", 80000, "SOMEBODY ELSE LLC", "see advice")], remittances=rem)
    assert outcome(r)["P1"] == ("applied", ["INV-2026-004600", "INV-2026-004601"])


def test_another_customers_invoice_named_is_not_applied_over_the_payers_exact_one():
    book = invoices(
        [("A-77", "C1", 20000, "USD", ACME), ("INV-2026-084355", "C2", 22000, "USD", GLOBEX)]
    )
    r = match(
        invoices=book,
        customers=CUSTOMERS,
        payments=payments([("P1", 20000, "ACME", "REF INV-2026-084355", ACCOUNT)]),
    )
    assert outcome(r)["P1"][0] == "exception"
    assert "A-77" in r.exceptions.column("candidates")[0].as_py()


def test_a_weakly_named_instalment_is_not_lost_to_an_unclear_fee_window_single():
    # 24900 is also INV-2026-004513 (25050) less a 1.50 fee: an amount-only guess, unclear
    weak = [("P2", 24900, "ACME INDUSTRIES", "20260048122 part 2")]
    alone = run(weak).exceptions.to_pylist()[0]
    assert alone["candidates"][0] == "INV-2026-004512" and "partial_reference" in alone["detail"]
    both = run([("P1", 40000, "ACME INDUSTRIES", "INV-2026-004512 part 1")] + weak)
    assert outcome(both)["P2"] == ("applied", ["INV-2026-004512"])


def test_a_number_naming_an_invoice_in_another_currency_keeps_the_amount_candidates():
    book = pa.concat_tables([INVOICES, invoices([("SO/26/45638", "C9", 131762, "JPY", "Ka")])])
    r = match(
        invoices=book,
        customers=CUSTOMERS,
        payments=payments([("P1", 50000, "NOBODY WE KNOW", "SO/26/45638")]),
    )
    ex = r.exceptions.to_pylist()[0]
    assert ex["reason"] == S.CURRENCY_MISMATCH
    assert ex["candidates"][:2] == ["SO/26/45638", "INV-2026-004600"]


def test_a_one_keystroke_look_alike_alone_is_applied_as_a_part_payment():
    # "2026004812" is INV-2026-004512 with one digit changed, the only invoice of Acme's it is
    # one keystroke from, and 45000 pays part of it (engine/review.py: sole_lookalikes)
    r = run([("P2", 45000, "ACME INDUSTRIES", "2026004812 part 2")])
    assert outcome(r)["P2"] == ("applied", ["INV-2026-004512"])
    rows = r.allocations.to_pylist()
    assert rows[0]["rule"] == "partial_reference" and rows[0]["invoice_open_after"] == 55000
    # two invoices one keystroke away (004810 too, which it would also pay part of): no sole
    # look-alike, a person decides
    book = pa.concat_tables([INVOICES, invoices([("INV-2026-004810", "C1", 90000, "USD", ACME)])])
    two = match(invoices=book, customers=CUSTOMERS,
                payments=payments([("P2", 45000, "ACME INDUSTRIES", "2026004812 part 2")]))
    assert outcome(two)["P2"][0] == "exception"
    # the same number less a fee: applied with the fee written off
    fee = run([("P2", 99000, "ACME INDUSTRIES", "2026004812")]).allocations.to_pylist()
    assert [(a["invoice_id"], a["adjustment_amount"], a["adjustment_reason"]) for a in fee] == [
        ("INV-2026-004512", 1000, S.BANK_FEE)]


def test_a_one_keystroke_partial_payment_is_applied_though_sets_fit_the_amount_alone():
    # "90020096" is 90020006 with one digit changed and no other of Kappa's invoices; the
    # payment part-pays it. Sets fit 60000 too (by chance, as on any large customer): the
    # look-alike it part-pays is applied (before, it was only put before the sets)
    kappa = [
        (f"9002000{i}", "C8", a, "USD", "Kappa")
        for i, a in enumerate([50000, 30000, 20000, 10000, 40000, 99000], start=1)
    ]
    r = match(
        invoices=invoices(kappa),
        customers=customers([("C8", "Kappa", [], [], None)]),
        payments=payments([("P1", 60000, "KAPPA", "90020096 part")]),
    )
    assert outcome(r)["P1"] == ("applied", ["90020006"])  # 60000 = 50000 + 10000 = ...
    assert r.allocations.column("rule").to_pylist() == ["partial_reference"]


def test_an_unknown_payers_unreadable_advice_line_offers_its_amount_match_unapplied():
    rem = advice(["QX/77/ZZ"], [25000], [5000], ["DAMAGED"])  # settles INV-2026-004601
    r = run([("P1", 25000, "SOMEBODY ELSE LLC", "see advice")], remittances=rem)
    assert outcome(r)["P1"][0] == "exception"
    assert "INV-2026-004601" in r.exceptions.column("candidates")[0].as_py()[:3]


def test_invoices_other_payments_settle_today_are_not_open_for_a_set():
    # 71000 = H-3 + H-4 = H-1 + H-5 = H-1 + H-2 + H-6; P2 and P3 settle H-5 and H-2 alone
    pays = [
        ("P1", 71000, "HOOLI CORP", None),
        ("P2", 61000, "HOOLI CORP", None),
        ("P3", 20000, "HOOLI CORP", None),
    ]
    got = outcome(run(pays))
    assert got["P2"] == ("applied", ["H-5"]) and got["P3"] == ("applied", ["H-2"])
    assert got["P1"] == ("applied", ["H-3", "H-4"])
    assert outcome(run(pays[::-1])) == got


UMBRELLA = "GB33BUKB20201555555555"


def umbrella(amounts: list[int]) -> tuple[pa.Table, pa.Table]:
    """Invoices INV-2026-0070xx of customer C5 (known by account UMBRELLA), and the customers."""
    book = invoices([(f"INV-2026-0070{i:02d}", "C5", a, "USD", "Umbrella Corp")
                     for i, a in enumerate(amounts, start=1)])
    return book, customers([("C5", "Umbrella Corp", [UMBRELLA], [], None)])


def test_the_set_with_fewest_invoices_is_applied_when_only_larger_sets_rival_it():
    # 33000 quotes 007001 (10000): the rest, 23000, is 007002 alone, or 007003 + 004 + 005;
    # among 20 open items many more triples than singles could fit by chance
    big = [100000 + 1000 * i for i in range(14)]
    pay = payments([("P1", 33000, "UMBRELLA CORP", "INV-2026-007001", UMBRELLA)])
    book, cust = umbrella([10000, 23000, 6000, 9000, 8000, 55000, *big])
    r = match(invoices=book, customers=cust, payments=pay)
    assert outcome(r)["P1"] == ("applied", ["INV-2026-007001", "INV-2026-007002"])
    # among 6 open items, hardly: a person decides
    small, _ = umbrella([10000, 23000, 6000, 9000, 8000, 55000])
    assert outcome(match(invoices=small, customers=cust, payments=pay))["P1"][0] == "exception"
    # two sets as small as each other (007002, or another of the same amount): ambiguous
    twin, _ = umbrella([10000, 23000, 6000, 9000, 8000, 55000, *big, 23000])
    r = match(invoices=twin, customers=cust, payments=pay)
    assert outcome(r)["P1"] == ("exception", S.AMBIGUOUS)


def test_a_proposal_below_the_threshold_lists_every_invoice_it_names():
    # six tiny invoices make the amount, the only set that does; 126 sets of them against an
    # amount of 60 minor units make such a fit likely by chance, so it is proposed, not applied
    book, cust = umbrella([5, 7, 9, 11, 13, 15, 100])
    r = match(invoices=book, customers=cust,
              payments=payments([("P1", 60, "UMBRELLA CORP", None, UMBRELLA)]))
    ex = r.exceptions.to_pylist()[0]
    assert ex["reason"] == S.LOW_CONFIDENCE and "subset_amount" in ex["detail"]
    assert sorted(ex["candidates"][:6]) == [f"INV-2026-0070{i:02d}" for i in range(1, 7)]


def test_bare_numbers_that_name_two_customers_take_the_one_whose_invoices_make_the_amount():
    # "4512 4513" names Acme's INV-2026-004512 and 004513, and Globex's SO/26/4513 too
    book = pa.concat_tables([INVOICES, invoices([("SO/26/4513", "C2", 777, "USD", GLOBEX)])])
    r = match(invoices=book, customers=CUSTOMERS,
              payments=payments([("P1", 125050, "SOMEBODY ELSE LLC", "4512 4513")]))
    assert outcome(r)["P1"] == ("applied", ["INV-2026-004512", "INV-2026-004513"])


def test_weak_instalments_that_settle_the_invoice_exactly_vouch_for_each_other():
    weak = [("P1", 60000, "ACME INDUSTRIES", "45l2 part 1"),
            ("P2", 40000, "ACME INDUSTRIES", "45l2 part 2")]
    got = outcome(run(weak))
    assert got["P1"] == got["P2"] == ("applied", ["INV-2026-004512"])
    # short of what is open, weak as each is: a person looks
    short = outcome(run([weak[0], ("P2", 30000, "ACME INDUSTRIES", "45l2 part 2")]))
    assert short["P1"][0] == short["P2"][0] == "exception"


def test_the_fewest_share_falls_as_a_larger_rival_comes_close_in_size():
    from cashmatch.engine.scoring import fewest_share

    assert fewest_share(block_size=20, size=1, rival_sizes=[]) == 1.0
    far = fewest_share(block_size=20, size=1, rival_sizes=[3])
    near = fewest_share(block_size=20, size=4, rival_sizes=[5])
    assert far > 0.98 and near < 0.8
    assert fewest_share(block_size=20, size=1, rival_sizes=[3, 3]) < far


def test_an_unknown_payer_quoting_an_invoice_exactly_is_applied_with_the_rest_of_its_set():
    # 107000 names INV-2026-004512 (100000); Acme's 004514 (7000) alone makes the rest
    r = run([("P1", 107000, "SOMEBODY ELSE LLC", "INV-2026-004512")])
    assert outcome(r)["P1"] == ("applied", ["INV-2026-004512", "INV-2026-004514"])
    # a mangled number names the customer less surely: a person confirms
    weak = run([("P1", 107000, "SOMEBODY ELSE LLC", "45l2")])
    assert outcome(weak)["P1"][0] == "exception"


def test_a_name_too_close_to_two_customers_to_identify_is_settled_by_an_exact_amount():
    # the payer's name resembles both Wesdale customers (95.0 and 95.7) too closely to
    # identify either; an open item of one of them, for exactly the amount, says which
    a, b = "Wesdale Euro Industries S.L.", "Wesdale Euro Industrias"
    book = invoices([("W-1", "C5", 48213, "USD", a), ("W-2", "C5", 12000, "USD", a),
                     ("V-1", "C6", 30000, "USD", b)])
    cust = customers([("C5", a, [], [], None), ("C6", b, [], [], None)])

    def got(amount: int) -> tuple:
        pays = payments([("P1", amount, "WESDALE EURO INDUSTRIES", None)])
        return outcome(match(invoices=book, customers=cust, payments=pays))["P1"]

    assert got(48213) == ("applied", ["W-1"])
    assert got(30000) == ("applied", ["V-1"])
    assert got(45000)[0] == "exception"  # neither's


def test_a_payer_name_resembling_one_customer_identifies_it():
    # "WESDALE EURO INDUSTRIES" is 95.0 like a's name and 83.6 like b's: the fuzzy name stage
    # identifies a (before a precedence slip kept that stage from ever running); b's amount
    # is then no candidate of the payer's
    a, b = "Wesdale Euro Industries S.L.", "Wesdale Euro Industrial Supplies"
    book = invoices([("W-1", "C5", 48213, "USD", a), ("V-1", "C6", 30000, "USD", b)])
    cust = customers([("C5", a, [], [], None), ("C6", b, [], [], None)])
    pays = payments([("P1", 30000, "WESDALE EURO INDUSTRIES", None)])
    r = match(invoices=book, customers=cust, payments=pays)
    assert outcome(r)["P1"] == ("exception", "NO_CANDIDATE")
    assert r.exceptions.column("customer_id").to_pylist() == ["C5"]


def test_an_overpayment_is_not_filled_up_with_a_set_that_fits_only_less_a_fee():
    # 106990 quotes INV-2026-004512 (100000); with 004514 (7000) it would be 10 short (a fee),
    # but a fit within 25.00 of the excess is likely by chance: the quoted invoice, overpaid
    r = run([("P1", 106990, "ACME INDUSTRIES", "INV-2026-004512", ACCOUNT)])
    assert outcome(r)["P1"] == ("partial", ["INV-2026-004512"], S.OVERPAYMENT)
    # to the minor unit the pair is no coincidence: applied
    exact = run([("P1", 107000, "ACME INDUSTRIES", "INV-2026-004512", ACCOUNT)])
    assert outcome(exact)["P1"] == ("applied", ["INV-2026-004512", "INV-2026-004514"])


def test_an_unknown_payers_mangled_number_is_applied_when_the_amount_settles_that_invoice():
    # nobody identifies the payer and "004521" only resembles 004512: the amount, to the minor
    # unit that invoice's, vouches for the invoice's customer
    r = run([("P1", 100000, "SOMEBODY ELSE LLC", "INV-2026-004521")])
    assert outcome(r)["P1"] == ("applied", ["INV-2026-004512"])
    part = run([("P1", 60000, "SOMEBODY ELSE LLC", "INV-2026-004521")])
    assert outcome(part)["P1"][0] == "exception"  # a part of it: nothing vouches


def test_a_number_of_an_invoice_in_another_currency_does_not_veto_a_look_alike_the_amount_settles():
    # "INV-2026-004614" is a real EUR invoice; the USD amount is Acme's 004514 to the minor
    # unit, one digit away: a mangled number that happens to be another real one
    book = pa.concat_tables([INVOICES, invoices([("INV-2026-004614", "C9", 9000, "EUR", "Zed")])])

    def got(amount: int) -> tuple:
        pays = payments([("P1", amount, "SOMEBODY ELSE LLC", "INV-2026-004614")])
        return outcome(match(invoices=book, customers=CUSTOMERS, payments=pays))["P1"]

    assert got(7000) == ("applied", ["INV-2026-004514"])
    assert got(6000) == ("exception", S.CURRENCY_MISMATCH)  # nothing else fits: as named
