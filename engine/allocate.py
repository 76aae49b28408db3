"""From scored pairs to proposals, conflict-free allocations and exceptions.

Each payment gets at most one *proposal*: a list of (invoice, applied, adjustment) lines with
a confidence and the rule that made it; proposals are kept as columns (:class:`Proposals`).
Simple proposals (one payment, one invoice) are chosen for all payments at once; the rarer
shapes (remittance advice, several invoices, a partial payment of a quoted invoice,
amount-only subsets) kind by kind from each payment's own candidates.

Conflicts are resolved globally: invoices claimed in full by several payments are assigned by
an optimal assignment (``allocate_kernel.max_assignment``, scipy's ``linear_sum_assignment``
compiled) over the whole conflicting component (never input order); then the other proposals
take what capacity is left, strongest first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import accumulate, chain

import numpy as np

from cashmatch.engine import schema as S
from cashmatch.engine.normalize import spans

AMBIGUITY_MARGIN = 0.04  # a runner-up this close to the best makes the payment AMBIGUOUS
MAX_CANDIDATES = 5

# the proposals' rules by code (:attr:`Proposals.rule`): the one-to-one rules first (no
# reference, a fuzzy or weak one, an exact one)
RULES = ("amount_customer", "fuzzy_reference", "exact_reference", "subset_reference",
         "subset_amount", "partial_reference", "remittance")
SINGLE_RULES = RULES[:3]
SUBSET_RULES = RULES[3:5]
PARTIAL_RULE, REMITTANCE_RULE = RULES.index("partial_reference"), RULES.index("remittance")
# the adjustment reasons every proposal's dictionary starts with (:attr:`Proposals.reasons`)
ADJUSTMENT_REASONS: tuple[str | None, ...] = (None, S.BANK_FEE, S.DISCOUNT)
# what the part of a payment a proposal leaves unapplied is, said in the OVERPAYMENT
# exception (:attr:`Proposals.remainder`; ``{invoice}``: the proposal's first invoice)
REMAINDERS = ("Part of the payment is not applied to any invoice.",
              "Pays more than {invoice} is open for; the excess is unapplied.",
              "The remittance advice accounts for less than the payment; the rest is "
              "unapplied.")
PAYS_MORE, ADVICE_LESS = 1, 2


@dataclass(slots=True)
class Proposals:
    """Proposals as columns: proposal ``i`` applies payment ``pay[i]`` to the lines
    ``start[i]:start[i + 1]`` of the line columns (``inv``, ``applied``, ``adjustment`` and
    ``reason``, a code into ``reasons``), with ``confidence[i]``, by rule ``RULES[rule[i]]``;
    what it leaves of the payment unapplied is ``REMAINDERS[remainder[i]]``."""

    pay: np.ndarray
    start: np.ndarray
    inv: np.ndarray
    applied: np.ndarray
    adjustment: np.ndarray
    reason: np.ndarray
    confidence: np.ndarray
    rule: np.ndarray
    remainder: np.ndarray
    reasons: tuple[str | None, ...] = ADJUSTMENT_REASONS

    def __len__(self) -> int:
        return len(self.pay)

    @staticmethod
    def of(pay: np.ndarray, lens: np.ndarray, inv: np.ndarray, applied: np.ndarray,
           adjustment: np.ndarray, confidence: np.ndarray, rule: np.ndarray | int, *,
           reason: np.ndarray | None = None, reasons: tuple[str | None, ...] = ADJUSTMENT_REASONS,
           remainder: np.ndarray | int = 0) -> Proposals:
        """Proposals of payments ``pay`` with ``lens`` lines each (one proposal's after
        another); a ``rule`` or ``remainder`` code for all of them or one each; without
        ``reason``, a bank fee where a line has an adjustment."""
        n = len(pay)
        adjustment = np.asarray(adjustment, np.int64)
        if reason is None:
            reason = (adjustment != 0).astype(np.int64)  # (ADJUSTMENT_REASONS)
        return Proposals(
            np.asarray(pay, np.int64), _starts(lens), np.asarray(inv, np.int64),
            np.asarray(applied, np.int64), adjustment, np.asarray(reason, np.int64),
            np.asarray(confidence, np.float64), _codes(rule, n), _codes(remainder, n), reasons)

    @staticmethod
    def empty() -> Proposals:
        none = np.zeros(0, np.int64)
        return Proposals.of(none, none, none, none, none, np.zeros(0), none)

    @property
    def lens(self) -> np.ndarray:
        return self.start[1:] - self.start[:-1]

    def owner(self) -> np.ndarray:
        """The proposal of each line."""
        return np.repeat(np.arange(len(self.pay)), self.lens)

    def take(self, rows: np.ndarray) -> Proposals:
        """The proposals ``rows``, in that order."""
        lens = self.lens[rows]
        lines = spans(self.start[rows], lens)
        return Proposals(self.pay[rows], _starts(lens), self.inv[lines], self.applied[lines],
                         self.adjustment[lines], self.reason[lines], self.confidence[rows],
                         self.rule[rows], self.remainder[rows], self.reasons)

    @staticmethod
    def concat(parts: list[Proposals]) -> Proposals:
        """One after another (their reasons in one dictionary, in order of appearance; each
        part's reasons are distinct)."""
        parts = [p for p in parts if len(p)]
        if len(parts) <= 1:
            return parts[0] if parts else Proposals.empty()
        reasons = parts[0].reasons
        if all(p.reasons is reasons for p in parts):  # (the usual case: nothing to recode)
            reason = np.concatenate([p.reason for p in parts])
        else:
            reasons = tuple(dict.fromkeys(chain.from_iterable(p.reasons for p in parts)))
            code = {r: i for i, r in enumerate(reasons)}
            reason = np.concatenate([
                p.reason if p.reasons == reasons[: len(p.reasons)]
                else np.array([code[r] for r in p.reasons], np.int64)[p.reason] for p in parts])
        # each part's line starts after the lines of the parts before
        ends = accumulate(int(p.start[-1]) for p in parts[:-1])
        start = np.concatenate([parts[0].start, *(p.start[1:] + e
                                                  for p, e in zip(parts[1:], ends, strict=True))])
        columns = zip(*((p.pay, p.inv, p.applied, p.adjustment, p.confidence, p.rule,
                         p.remainder) for p in parts), strict=True)
        pay, inv, applied, adjustment, confidence, rule, remainder = map(np.concatenate, columns)
        return Proposals(pay, start, inv, applied, adjustment, reason, confidence, rule,
                         remainder, reasons)


def _starts(lens: np.ndarray) -> np.ndarray:
    """The offsets of consecutive runs of ``lens`` items (one more than runs)."""
    start = np.zeros(len(lens) + 1, np.int64)
    np.cumsum(lens, out=start[1:])
    return start


def _codes(code: np.ndarray | int, n: int) -> np.ndarray:
    """``n`` codes: ``code`` for each, or one each."""
    return np.full(n, code, np.int64) if np.ndim(code) == 0 else np.asarray(code, np.int64)


@dataclass(slots=True)
class ExceptionItem:
    """A payment a person must look at: why, in a sentence, and where to look first."""

    pay: int
    reason: str
    detail: str
    candidates: list[int] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)


PACKED_SORT_MIN = 1 << 14  # rows from which the sorts below pack their keys


def pay_conf_inv_order(pay: np.ndarray, inv: np.ndarray, conf: np.ndarray) -> np.ndarray:
    """``np.lexsort((inv, -conf, pay))``, faster: the confidences ranked (descending) and the
    three keys packed into one int64 for one stable sort; the same order, ties included. The
    lexsort itself for few rows (its fixed cost is the smaller) or when the packed key could
    overflow. Pairs sorted by (pay, inv), each once (``Pairs.concat``'s), are only ranked
    within each payment's run (:func:`cashmatch.engine.allocate_kernel.order_in_runs`)."""
    from cashmatch.engine import allocate_kernel

    order, in_runs = allocate_kernel.order_in_runs(pay, inv, conf)
    if in_runs:
        return order
    if len(pay) < PACKED_SORT_MIN:
        return np.lexsort((inv, -conf, pay))
    s = np.sort(conf)
    levels = s[np.r_[True, s[1:] != s[:-1]]]
    n_inv = int(inv.max()) + 1
    if (int(pay.min()) < 0 or int(inv.min()) < 0 or np.isnan(levels).any()
            or (int(pay.max()) + 1) * len(levels) * n_inv >= 2**63):
        return np.lexsort((inv, -conf, pay))
    rank = len(levels) - 1 - np.searchsorted(levels, conf)  # 0 = the highest confidence
    key = (pay.astype(np.int64) * len(levels) + rank) * n_inv + inv
    return np.argsort(key, kind="stable")


def lexsort_ints(keys: tuple[np.ndarray, ...]) -> np.ndarray:
    """``np.lexsort(keys)`` of integer keys (the last one primary), faster: the keys, each
    less its minimum, packed into one int64 for one stable sort; the same order, ties
    included. The lexsort itself for few rows (its fixed cost is the smaller) or when the
    packed key could overflow."""
    if len(keys[0]) < PACKED_SORT_MIN:
        return np.lexsort(keys)
    low = [int(k.min()) for k in keys]
    widths = [int(k.max()) - lo + 1 for k, lo in zip(keys, low, strict=True)]
    if np.prod(np.array(widths, float)) >= 2**62:
        return np.lexsort(keys)
    packed = np.zeros(len(keys[0]), np.int64)
    for k, lo, n in zip(reversed(keys), reversed(low), reversed(widths), strict=True):
        packed = packed * n + (k.astype(np.int64) - lo)
    return np.argsort(packed, kind="stable")


def best_per_payment(
    pay: np.ndarray, inv: np.ndarray, conf: np.ndarray, n_pay: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Best and runner-up (different invoice) pair index per payment; -1 where none."""
    best = np.full(n_pay, -1, dtype=np.int64)
    second = np.full(n_pay, -1, dtype=np.int64)
    if len(pay) == 0:
        return best, second, np.zeros(n_pay), np.zeros(n_pay)
    order = pay_conf_inv_order(pay, inv, conf)
    p_sorted = pay[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = p_sorted[1:] != p_sorted[:-1]
    best[p_sorted[first]] = order[first]
    rank = np.arange(len(order)) - np.maximum.accumulate(np.where(first, np.arange(len(order)), 0))
    sec = rank == 1
    second[p_sorted[sec]] = order[sec]
    best_conf = np.where(best >= 0, conf[np.maximum(best, 0)], 0.0)
    second_conf = np.where(second >= 0, conf[np.maximum(second, 0)], 0.0)
    return best, second, best_conf, second_conf


def ranked_candidates(
    pay: np.ndarray, inv: np.ndarray, conf: np.ndarray, n_pay: int
) -> tuple[np.ndarray, np.ndarray]:
    """Pair indices sorted by (payment, confidence desc), with each payment's start offset."""
    order = pay_conf_inv_order(pay, inv, conf)
    starts = np.searchsorted(pay[order], np.arange(n_pay + 1), "left")
    return order, starts


def warm() -> None:
    """Load the compiled passes :func:`resolve_full_conflicts` takes where a conflict needs
    them, for a long-lived process as it starts (not on its first contested call)."""
    from cashmatch.engine import allocate_kernel

    allocate_kernel.components(np.zeros(1, np.int64), np.zeros(1, np.int64), 1, 1)
    allocate_kernel.max_assignment(np.ones((1, 1)))


def resolve_full_conflicts(
    chosen: np.ndarray,
    pair_pay: np.ndarray,
    pair_inv: np.ndarray,
    pair_conf: np.ndarray,
    usable: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Payments whose chosen full-settlement pair targets an invoice that others target too are
    assigned by an optimal assignment over their conflicting component.

    ``chosen`` is the pair index per payment (-1 none); ``usable`` marks pairs eligible for a
    full settlement. Returns the new ``chosen`` and a mask of payments that lost their invoice.
    """
    chosen = chosen.copy()
    lost = np.zeros(len(chosen), dtype=bool)
    has = np.flatnonzero(chosen >= 0)
    inv_of = pair_inv[chosen[has]]
    uniq, counts = np.unique(inv_of, return_counts=True)
    contested = uniq[counts > 1]
    if len(contested) == 0:
        return chosen, lost
    # (compiled: scipy's connected_components and linear_sum_assignment, the references of
    # tests/engine/test_allocate_kernel.py, cost ~0.3 s of imports on a process's first call)
    from cashmatch.engine import allocate_kernel

    involved = has[np.isin(inv_of, contested)]
    sel = usable & np.isin(pair_pay, involved)
    p_loc, p_idx = np.unique(pair_pay[sel], return_inverse=True)
    i_loc, i_idx = np.unique(pair_inv[sel], return_inverse=True)
    labels = allocate_kernel.components(p_idx.astype(np.int64), i_idx.astype(np.int64),
                                        len(p_loc), len(i_loc))
    sel_pairs = np.flatnonzero(sel)
    comp_of_pair = labels[p_idx]
    for comp in np.unique(comp_of_pair):  # one assignment per conflicting component
        in_comp = comp_of_pair == comp
        pp, ii = p_idx[in_comp], i_idx[in_comp]
        rows, r_inv = np.unique(pp, return_inverse=True)
        cols, c_inv = np.unique(ii, return_inverse=True)
        gain = np.zeros((len(rows), len(cols)))
        gain[r_inv, c_inv] = pair_conf[sel_pairs[in_comp]]
        pair_at = np.full((len(rows), len(cols)), -1, dtype=np.int64)
        pair_at[r_inv, c_inv] = sel_pairs[in_comp]
        r, c = allocate_kernel.max_assignment(gain)
        pays = p_loc[rows]
        chosen[pays] = -1
        lost[pays] = True
        ok = pair_at[r, c] >= 0
        chosen[p_loc[rows[r[ok]]]] = pair_at[r[ok], c[ok]]
        lost[p_loc[rows[r[ok]]]] = False
    return chosen, lost
