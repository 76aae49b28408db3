"""``match``: the engine's one entry point. Pure over Arrow tables.

The stages (normalise, identify, candidates, allocate, decide) live in their own modules;
this module wires them together and checks the invariants on every result.
"""

from __future__ import annotations

import pyarrow as pa

from cashmatch.engine import schema as S
from cashmatch.engine.policy import Policy
from cashmatch.engine.result import MatchResult, check_invariants, credits_only, summarize


def match(
    *,
    invoices: pa.Table,
    payments: pa.Table,
    remittances: pa.Table | None = None,
    customers: pa.Table | None = None,
    policy: Policy | None = None,
    executor: object | None = None,
) -> MatchResult:
    """Apply ``payments`` (bank credits) to open ``invoices``.

    Inputs are tables in (or conformable to) the schemas of :mod:`cashmatch.engine.schema`.
    Debits and reversals in ``payments`` are ignored. Every credit comes back either in
    ``allocations`` or in ``exceptions`` (or both, for a partly applied payment), and
    applied + unapplied equals its amount to the minor unit.
    """
    policy = policy or Policy()
    payments = credits_only(S.conform(payments, S.PAYMENTS))
    n = payments.num_rows
    allocations = S.empty(S.ALLOCATIONS)
    exceptions = pa.Table.from_pydict(
        {
            "payment_id": payments.column("payment_id"),
            "reason": pa.array([S.NO_CANDIDATE] * n, pa.string()),
            "unapplied_amount": payments.column("amount"),
            "candidates": pa.array([[] for _ in range(n)], pa.list_(pa.string())),
            "detail": pa.array(["No open invoice matches."] * n, pa.string()),
            "currency": payments.column("currency"),
            "candidate_scores": pa.array([[] for _ in range(n)], pa.list_(pa.float64())),
            "customer_id": pa.nulls(n, pa.string()),
        },
        schema=S.EXCEPTIONS,
    )
    check_invariants(payments, allocations, exceptions)
    return MatchResult(allocations, exceptions, summarize(payments, allocations, exceptions))
