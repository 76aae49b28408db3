"""Where a reviewer looks first (engine/review.py): look-alike numbers of the payer's open
invoices and invoices of a customer whose name the payer's resembles come first among an
exception's candidates."""

import numpy as np
import pyarrow as pa
from rapidfuzz.distance import OSA

from cashmatch.engine import schema as S
from cashmatch.engine.candidates import CURRENCY, DISCOUNT, EXACT, FEE, OVER, PARTIAL, SETTLED
from cashmatch.engine.matcher import match
from cashmatch.engine.review import (
    EXACT_AMOUNT,
    EXACT_NUMBER,
    MAX_CUT,
    MIN_EDIT,
    MIN_PART,
    NEITHER,
    ONE_EDIT,
    SETTLES,
    TAKES,
    TRUNCATED,
    KeyVariants,
    amount_fit,
    number_levels,
)

from .daybuilder import customers, invoices, outcome, payments

ACME, OTHER = "Acme Industries Inc", "Zenith Trading Ltd"
BOOK = invoices(
    [
        ("SO/26/1733", "C1", 40000, "USD", ACME),
        ("SO/26/1734", "C1", 70000, "USD", ACME),
        ("SO/26/0702", "C1", 18100, "USD", ACME),
        ("SO/26/1743", "C2", 34861, "USD", OTHER),
        ("SO/26/5000", "C2", 25000, "USD", OTHER),
    ]
)
CUSTOMERS = customers([("C1", ACME, [], [], None), ("C2", OTHER, [], [], None)])


def run(rows: list[tuple]) -> object:
    return match(invoices=BOOK, customers=CUSTOMERS, payments=payments(rows))


def test_the_payers_look_alikes_come_before_another_customers_exact_number():
    # "SO/26/1743" is another customer's invoice exactly, and one keystroke from two of Acme's
    # (1733, 1734), both of which 18079 would pay part of: no sole look-alike, a person
    # decides; Acme's two come first, the fee-window single (0702) and the other's after
    r = run([("P1", 18079, "ACME INDUSTRIES", "SO/26/1743 PARTIAL")])
    assert outcome(r)["P1"][0] == "exception"
    cands = r.exceptions.column("candidates")[0].as_py()
    assert cands[:2] == ["SO/26/1733", "SO/26/1734"]
    assert set(cands[2:]) >= {"SO/26/1743"}


def test_a_truncated_number_counts_only_with_an_amount_the_invoice_can_take():
    # "SO/26/17" is the start of 1733 and 1734; 65000 part-pays 1734 only (1733 is 40000:
    # overpaid more than 30%)
    r = run([("P1", 65000, "ACME INDUSTRIES", "SO/26/17")])
    assert outcome(r)["P1"][0] == "exception"
    assert r.exceptions.column("candidates")[0].as_py()[0] == "SO/26/1734"


def test_an_unknown_payer_is_looked_for_among_the_customer_its_name_resembles():
    # "ACME INDUSTRY" is 85.7 like Acme's name: too weak to identify it (88), close enough to
    # look there first; two other customers have an open item of exactly 18100 too
    book = pa.concat_tables([invoices([("Q-1", "C3", 18100, "USD", "Zeta Corp"),
                                       ("Q-2", "C2", 18100, "USD", OTHER)]), BOOK])
    cust = customers([("C1", ACME, [], [], None), ("C2", OTHER, [], [], None),
                      ("C3", "Zeta Corp", [], [], None)])
    r = match(invoices=book, customers=cust,
              payments=payments([("P1", 18100, "ACME INDUSTRY HOLDINGS GMBH", "PAYMENT")]))
    got = r.exceptions.to_pylist()
    assert [g["reason"] for g in got] == [S.UNKNOWN_PAYER]
    assert got[0]["candidates"][0] == "SO/26/0702"


def test_amount_fit_by_relation():
    rel = np.array([EXACT, FEE, PARTIAL, OVER, OVER, SETTLED, DISCOUNT, CURRENCY, OVER, PARTIAL])
    pay = np.array([100, 95, 50, 120, 200, 10, 97, 100, 130, 1])
    open_ = np.array([100, 100, 100, 100, 100, 0, 100, 100, 100, 100])
    assert amount_fit(rel, pay, open_).tolist() == [EXACT_AMOUNT, SETTLES, TAKES, TAKES, NEITHER,
                                                    -1, SETTLES, -1, TAKES, TAKES]
    assert amount_fit(rel[:0], pay[:0], open_[:0]).tolist() == []


def test_a_known_payer_whose_items_offer_nothing_is_shown_anyones_exact_amount():
    # Acme has nothing for 25000; Zenith's SO/26/5000 is exactly that: a reviewer sees it (the
    # name may have been taken for the wrong customer's), never applied
    r = run([("P1", 25000, "ACME INDUSTRIES", None)])
    ex = r.exceptions.to_pylist()
    assert [e["reason"] for e in ex] == [S.NO_CANDIDATE] and not len(r.allocations)
    assert ex[0]["candidates"] == ["SO/26/5000"]


def brute_force_levels(q_key: list[str], q_grp: list[int], k_key: list[str], k_grp: list[int]
                       ) -> set[tuple[int, int, int]]:
    """The look-alike levels of :func:`review.number_levels`, obviously: every number against
    every key of its group, one pair at a time."""
    out = set()
    for i, (q, g) in enumerate(zip(q_key, q_grp, strict=True)):
        levels = {}
        for j, (k, h) in enumerate(zip(k_key, k_grp, strict=True)):
            if g != h:
                continue
            if q == k:
                levels[j] = EXACT_NUMBER
            elif OSA.distance(q, k) == 1 and len(q) >= MIN_EDIT:
                levels[j] = ONE_EDIT
            elif (len(q) >= MIN_PART and 1 <= len(k) - len(q) <= MAX_CUT
                  and (k.startswith(q) or k.endswith(q))):
                levels[j] = TRUNCATED
        if EXACT_NUMBER in levels.values():  # a number that names an invoice is no typo
            levels = {j: v for j, v in levels.items() if v == EXACT_NUMBER}
        out |= {(i, j, v) for j, v in levels.items()}
    return out


def test_number_levels_by_the_hash_join_agree_with_every_pair_compared():
    rng = np.random.default_rng(7)
    for _ in range(30):
        groups = int(rng.integers(1, 4))
        k_key = ["".join(rng.choice(list("0123456789"), int(rng.integers(3, 12))))
                 for _ in range(int(rng.integers(1, 40)))]
        k_grp = [int(x) for x in rng.integers(0, groups, len(k_key))]
        q_key, q_grp = [], []
        for _ in range(60):  # numbers typed from the keys: a keystroke off, cut, or another
            k = str(rng.choice(k_key))
            j = int(rng.integers(0, len(k)))
            d = str(rng.integers(0, 10))
            q = str(rng.choice([
                k, k[:j] + d + k[j + 1:], k[:j] + k[j + 1:], k[:j] + d + k[j:],
                k[:j] + k[j + 1:j + 2] + k[j:j + 1] + k[j + 2:], k[: -int(rng.integers(1, 5))],
                k[int(rng.integers(1, 5)):], "".join(rng.choice(list("0123"), len(k))), k * 3]))
            q_key.append(q)
            q_grp.append(int(rng.integers(0, groups)))
        q, k, level = number_levels(pa.array(q_key), np.array(q_grp), pa.array(k_key),
                                    np.array(k_grp))
        got = set(zip(q.tolist(), k.tolist(), level.tolist(), strict=True))
        assert len(got) == len(q)
        assert got == brute_force_levels(q_key, q_grp, k_key, k_grp)
        # the keys looked up in shares on threads: the same arrays as one pass
        split = number_levels(pa.array(q_key), np.array(q_grp), pa.array(k_key),
                              np.array(k_grp), threads_from=1)
        for a, b in zip((q, k, level), split, strict=True):
            assert np.array_equal(a, b)
        # some keys only (a book's groups' keys, read in place; groups int32 as a book's):
        # the pairs of those keys, at their places
        at = np.flatnonzero(rng.random(len(k_key)) < 0.5)
        some = number_levels(pa.array(q_key), np.array(q_grp), pa.array(k_key),
                             np.array(k_grp, np.int32), threads_from=int(rng.integers(1, 4)),
                             keys_at=at)
        assert set(zip(some[0].tolist(), some[1].tolist(), some[2].tolist(), strict=True)) == {
            (i, int(at[j]), v) for i, j, v in brute_force_levels(
                q_key, q_grp, [k_key[j] for j in at], [k_grp[j] for j in at])}
        assert np.array_equal(np.lexsort((some[1], some[0])), np.arange(len(some[0])))
        # the keys' variants indexed once, the numbers looked up there: the same arrays
        indexed = KeyVariants.of(pa.array(k_key), np.array(k_grp)).levels(
            pa.array(q_key), np.array(q_grp))
        for a, b in zip((q, k, level), indexed, strict=True):
            assert np.array_equal(a, b)


def test_a_books_keys_indexed_once_give_the_look_alikes_of_the_join_per_call(monkeypatch):
    from cashmatch.engine import review
    from cashmatch.fixtures.generator import generate_day

    day = generate_day(payments=400, seed=3)

    def run() -> tuple[pa.Table, pa.Table]:
        r = match(invoices=day.invoices, payments=day.payments, remittances=day.remittances,
                  customers=day.customers)
        return r.allocations, r.exceptions

    indexed = run()
    monkeypatch.setattr(review, "LOOKALIKE_INDEX_KEYS", 0)  # every book joined per call
    joined = run()
    assert indexed[1].num_rows and any(c for c in indexed[1].column("candidates").to_pylist())
    for a, b in zip(indexed, joined, strict=True):
        assert a.equals(b)


def test_number_groups_equal_numpy():
    """review_kernel.number_groups against its numpy reference: payers known or not, groups
    alike or absent, payments with no number or many, numbers of other payments."""
    from cashmatch.engine import review_kernel
    from cashmatch.engine.review import _number_groups_by_numpy

    rng = np.random.default_rng(41)
    for _ in range(3000):
        n = int(rng.choice([1, 2, 6, 30]))
        groups = [rng.integers(-1, 4, n) for _ in range(3)]
        pays = np.unique(rng.integers(0, n, int(rng.integers(0, n + 1))))
        t_pay = np.sort(rng.integers(0, n, int(rng.choice([0, 1, 5, 60]))))
        got = review_kernel.number_groups(pays, *groups, t_pay)
        want = _number_groups_by_numpy(pays, *groups, t_pay)
        for g, w in zip(got, want, strict=True):
            assert np.array_equal(g, w), (pays, groups, t_pay, got, want)


def test_numbers_of_some_payments_are_theirs_of_all_numbers():
    """Numbers.of(tokens, pays): the numbers of ``MIN_PART`` digits of the payments ``pays``
    only, by payment, each payment's in token order (what every payment's, filtered, gives):
    tokens in any order, of payments beyond those asked (remittance lines), short or empty
    numbers, payments asked with no token."""
    from cashmatch.engine.normalize import reference_tokens
    from cashmatch.engine.review import Numbers

    rng = np.random.default_rng(5)
    for _ in range(200):
        t = int(rng.integers(0, 40))
        pay = rng.integers(0, 12, t)
        digits = ["".join(rng.choice(list("0123456789"), int(rng.integers(0, 8))))
                  for _ in range(t)]
        tokens = pa.table({"pay": pa.array(pay, pa.int32()),
                           "digits": pa.array(digits, pa.string())})
        cuts = np.sort(rng.integers(0, t + 1, int(rng.integers(0, 3))))  # (in chunks)
        tokens = pa.concat_tables([tokens.slice(a, b - a) for a, b in
                                   zip([0, *cuts], [*cuts, t], strict=True)])
        pays = np.unique(rng.integers(0, 14, int(rng.integers(0, 10))))
        got = Numbers.of(tokens, pays)
        want = sorted((int(pay[r]), r) for r in range(t)
                      if pay[r] in pays and len(digits[r]) >= MIN_PART)
        assert got.pay.dtype == np.int64 and got.row.dtype == np.int64
        assert list(zip(got.pay.tolist(), got.row.tolist(), strict=True)) == want
    # the tokens reference_tokens writes (not by payment: its joined runs follow the runs)
    tokens = reference_tokens(pa.array(["INV 12345 / 77", "", "no 9876543 12", "1234"]))
    got = Numbers.of(tokens, np.array([0, 1, 3]))
    rows = [(t["pay"], t["digits"]) for t in tokens.to_pylist()]
    assert list(zip(got.pay.tolist(), got.digits.take(pa.array(got.row)).to_pylist(),
                    strict=True)) == sorted((r for r in rows if r[0] in (0, 3)
                                             and len(r[1]) >= MIN_PART), key=lambda r: r[0])
    assert ("0", "12345") not in rows and (0, "12345") in rows and (3, "1234") in rows
