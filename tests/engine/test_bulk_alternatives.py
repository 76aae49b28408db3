"""The bulk amount-alternatives check equals the per-payment subset search, payment by payment."""

import numpy as np

from cashmatch.engine.ledger import prepare_ledger
from cashmatch.engine.pipeline import DayMatch
from cashmatch.engine.policy import Policy
from cashmatch.fixtures.generator import generate_day


def test_bulk_amount_alternatives_equal_the_per_payment_search():
    day = generate_day(payments=1500, seed=3)
    dm = DayMatch(
        ledger=prepare_ledger(invoices=day.invoices, customers=day.customers),
        payments=day.payments,
        remittances=day.remittances,
        policy=Policy(),
    )
    dm.prepare()
    dm.identify_payers()
    dm.candidates()  # (decide lets go of the pairs' relations once proposed)
    best = dm.payment_evidence().best
    ps = np.flatnonzero(best >= 0)  # every payment with a full-settlement candidate
    bulk = dm.bulk_amount_alternatives(ps, best)
    one_by_one = np.array([dm.amount_alternatives(int(p), int(best[p])) for p in ps])
    assert len(ps) > 500 and one_by_one.sum() > 10  # the check has something to find
    np.testing.assert_array_equal(bulk[ps], one_by_one)
    assert not bulk[np.setdiff1d(np.arange(dm.n), ps)].any()
