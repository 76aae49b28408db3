"""One partition of a day, matched: the stages in order, for all payments at once.

:class:`DayMatch` runs ``prepare`` (arrays of the payments; the open-invoice book and customer
index come prepared once, :class:`cashmatch.engine.ledger.PreparedLedger`),
``identify`` (which customer paid), ``candidates`` (exact, fuzzy and amount hits, scored),
``propose`` (one proposal or exception per payment), ``settle`` (capacity, strongest first;
below-threshold proposals to a person) and ``build_outputs`` (the allocation and exception
tables). Timings per stage are kept in ``timings``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from itertools import chain
from operator import attrgetter
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from rapidfuzz import fuzz, process

from cashmatch.engine import schema as S
from cashmatch.engine.allocate import (
    AMBIGUITY_MARGIN,
    MAX_CANDIDATES,
    ExceptionItem,
    Proposal,
    adjustment_reason,
    best_per_payment,
    ranked_candidates,
    resolve_full_conflicts,
    single_rule,
)
from cashmatch.engine.candidates import (
    CURRENCY,
    DISCOUNT,
    EXACT,
    FEE,
    OVER,
    PARTIAL,
    SETTLED,
    Book,
    Pairs,
    amount_hits,
    amount_index,
    amount_relation,
    block_sizes,
    fuzzy_hits,
    fuzzy_pair_refs,
    reference_hits,
    unknown_payer_amount_hits,
)
from cashmatch.engine.identify import BY_FUZZY_NAME, IDENTITY_CONFIDENCE, fuzzy_workers, identify
from cashmatch.engine.ledger import PreparedLedger, days, stage
from cashmatch.engine.normalize import spans
from cashmatch.engine.policy import Policy
from cashmatch.engine.review import (
    Lookalikes,
    Numbers,
    anyones_by_name,
    lookalike_table,
    rerank,
    sole_lookalikes,
)
from cashmatch.engine.scoring import (
    COMBINATION_RIVAL_FACTOR,
    CUSTOMER_FACTOR_STRONG,
    CUSTOMER_FACTOR_WEAK,
    LARGER_SETS_UNTRIED_MAX,
    OTHER,
    SAME,
    STRONG_REF,
    UNKNOWN,
    coincidence,
    fewest_share,
    pair_confidence,
    subset_confidence,
)
from cashmatch.engine.subset import SubsetSearch, search_blocks
from cashmatch.engine.subset import search as subset_search

QUOTED_REF = 0.80  # a reference hit at least this strong counts as "the payer quoted it"
AMBIGUOUS_SETS = 3  # sets an AMBIGUOUS subset exception offers (two make it ambiguous)
REMITTANCE_AMOUNT_REF = 0.75  # a remittance line's candidate by its amounts alone (it makes a
# named invoice its amounts do not settle doubtful, as a look-alike that they settle does)
INSTALMENT_SIBLING_MAX = 0.93  # what a sure instalment lends its siblings, at most
# a partial payment is proposed on any reference hit (a fuzzy one starts at 0.70); below
# QUOTED_REF it stays under the threshold unless instalments of the invoice vouch for it
PARTIAL_MIN_REF = 0.70
# a part payment, or a settlement less a fee or discount, of the one invoice of the payer's
# that the reference gives with one keystroke wrong (review.sole_lookalikes): on 7 x 5k
# generated days (seeds 1-3, 10-13) 40 of 40 such part payments and 34 of 34 such short ones
# left to a person were right
LOOKALIKE_CONFIDENCE = 0.91


# the one-to-one proposals' rules and adjustment reasons by code (single_proposals)
SINGLE_RULES = ("amount_customer", "fuzzy_reference", "exact_reference")
SINGLE_REASONS = (None, S.BANK_FEE, S.DISCOUNT)
SUBSET_RULES = ("subset_reference", "subset_amount")

# relation code -> "settles the invoice in full" / "a partial, over, settled or currency
# relation" (a table lookup: np.isin costs tens of microseconds on a payment's few pairs)
_FULL = np.zeros(7, dtype=bool)
_FULL[[EXACT, FEE, DISCOUNT]] = True
_NOT_FULL = np.zeros(7, dtype=bool)
_NOT_FULL[[PARTIAL, OVER, SETTLED, CURRENCY]] = True


def _each(proposals: list[Proposal], name: str, dtype: type,
          fn: Callable[[Any], Any] | None = None) -> np.ndarray:
    """One field of every proposal (``fn`` of it), as an array (C-level iteration)."""
    values = map(attrgetter(name), proposals)
    return np.fromiter(values if fn is None else map(fn, values), dtype, count=len(proposals))


def _lines(proposals: list[Proposal], name: str) -> np.ndarray:
    """One int64 field of every proposal's lines (``inv``, ``applied``...), one proposal's
    after another."""
    return np.fromiter(chain.from_iterable(map(attrgetter(name), proposals)), np.int64)


def sole_group(pay: np.ndarray, group: np.ndarray, n: int) -> np.ndarray:
    """Per payment (0..n-1), the one group all its (pay, group) entries name; -1 for none or
    several."""
    gmin = np.full(n, np.iinfo(np.int64).max)
    gmax = np.full(n, -1)
    np.minimum.at(gmin, pay, group)
    np.maximum.at(gmax, pay, group)
    return np.where((gmin == gmax) & (gmax >= 0), gmax, -1)


def settling_group(group: np.ndarray, pay: np.ndarray, inv: np.ndarray, book: Book,
                   currency: np.ndarray, amount: np.ndarray, fee: np.ndarray) -> np.ndarray:
    """``group`` with each payment still without one (-1) given the customer whose quoted
    invoices ``(pay, inv)`` in the payment's currency together settle its amount (within the
    fee), when exactly one customer's do: numbers that are also other customers' (bare numbers
    often are) and an unknown payer."""
    open_ = group[pay] < 0
    pay, inv = pay[open_], inv[open_]
    if len(pay) == 0:
        return group
    g = book.group[inv]
    order = np.lexsort((g, pay))
    pay, g, inv = pay[order], g[order], inv[order]
    cash = np.where(book.currency[inv] == currency[pay], book.amount[inv], 0)
    new = np.ones(len(pay), bool)
    new[1:] = (pay[1:] != pay[:-1]) | (g[1:] != g[:-1])
    at = np.flatnonzero(new)
    kp, kg = pay[at], g[at]
    over = np.add.reduceat(cash, at) - amount[kp]
    fits = (over >= 0) & (over <= fee[kp])
    n_fits = np.bincount(kp[fits], minlength=len(group))
    sole = fits & (n_fits[kp] == 1) & (kg >= 0)
    out = group.copy()
    out[kp[sole]] = kg[sole]
    return out


@dataclass
class DayMatch:
    ledger: PreparedLedger
    payments: pa.Table
    remittances: pa.Table | None
    policy: Policy

    def __post_init__(self) -> None:
        self.timings: dict[str, float] = {}
        self.milp_calls_left = self.policy.subset_milp_calls

    def subsets(self, amounts: np.ndarray, target: int, **kw: object) -> SubsetSearch:
        """The subset search, with the day's budget of HiGHS fallback calls."""
        nodes = self.policy.subset_milp_node_limit if self.milp_calls_left > 0 else 0
        found = subset_search(amounts, target, node_limit=nodes, **kw)
        self.milp_calls_left -= found.milp_calls
        return found

    def stage(self, name: str) -> AbstractContextManager[None]:
        return stage(self.timings, name)

    # ------------------------------------------------------------------ preparation
    def prepare(self) -> None:
        """The payments' arrays; the ledger side comes prepared (:mod:`ledger`)."""
        ledger, pay = self.ledger, self.payments
        # the invoices' currencies first, in the same order: the book's codes stay valid
        currencies = pc.unique(
            pa.concat_arrays([ledger.currencies, pay.column("currency").combine_chunks()])
        )
        self.currency_codes = currencies
        self.index = ledger.index
        self.book = ledger.book
        self.n = pay.num_rows
        self.pay_amount = np.asarray(pay.column("amount"), dtype=np.int64)
        self.pay_currency = np.asarray(
            pc.index_in(pay.column("currency"), value_set=currencies), dtype=np.int64)
        self.pay_date = days(pay.column("value_date"), 0)
        cur_list = currencies.to_pylist()
        fee_by_cur = np.array([self.policy.fee_ceiling(c) for c in cur_list] or [0], np.int64)
        self.fee_ceiling = fee_by_cur[self.pay_currency] if self.n else np.zeros(0, np.int64)

    def identify_payers(self) -> None:
        ident = identify(
            payments=self.payments, index=self.index, name_cutoff=self.policy.payer_name_cutoff
        )
        self.ident = ident
        self.pay_customer = ident.customer
        self.pay_group = self.index.group_of(ident.customer)

    def reference_text(self) -> pa.Array:
        """The remittance text of each payment and its end-to-end id (unless NOTPROVIDED)."""
        ref = pc.fill_null(self.payments.column("reference").combine_chunks(), "")
        e2e = pc.fill_null(self.payments.column("end_to_end_id").combine_chunks(), "")
        e2e = pc.if_else(pc.equal(pc.utf8_upper(e2e), "NOTPROVIDED"), "", e2e)
        return pc.binary_join_element_wise(ref, e2e, " ")

    # ------------------------------------------------------------------ candidates
    def candidates(self) -> None:
        """The payments' candidate pairs and their features; the remittance lines' exact and
        fuzzy hits come from the same calls (their texts after the payments', their rows in
        ``pay`` from ``n`` on): one set of fixed costs for both."""
        book = self.book
        with self.stage("candidates_exact"):
            rem, line_pay = self.linked_lines()
            texts = self.reference_text()
            if rem.num_rows:
                texts = pa.concat_arrays([texts, rem.column("invoice_ref").combine_chunks()])
            hits, tokens = reference_hits(texts, book)
            self.tokens = tokens
            exact, line_hits = hits.split(self.n)
            # a payer we could not identify, quoting invoices of exactly one group strongly,
            # is taken to be that group (the customers of invoices named in the reference);
            # an invoice in another currency than the payment's says too little for that
            strong = (exact.ref >= 0.97) & (book.currency[exact.inv]
                                            == self.pay_currency[exact.pay])
            self.ref_group = np.where(self.pay_group < 0, sole_group(
                exact.pay[strong], book.group[exact.inv[strong]], self.n), -1)
            # likewise a payer whose advice names invoices of one group strongly, for every
            # line of the advice
            strong = line_hits.ref >= 0.97
            advice_group = sole_group(line_pay[line_hits.pay[strong]],
                                      book.group[line_hits.inv[strong]], self.n)
            line_group = np.where(self.pay_group[line_pay] >= 0, self.pay_group[line_pay],
                                  advice_group[line_pay])
        with self.stage("candidates_fuzzy"):
            best_ref = np.zeros(self.n)
            np.maximum.at(best_ref, exact.pay, exact.ref)
            group_for_fuzzy = np.where(self.pay_group >= 0, self.pay_group, self.ref_group)
            fuzzy, line_fuzzy = fuzzy_hits(
                tokens, np.concatenate([best_ref < 0.97, np.ones(len(line_pay), bool)]),
                np.concatenate([group_for_fuzzy, line_group]), book,
                cutoff=self.policy.fuzzy_reference_cutoff,
            ).split(self.n)
        self.lines = rem, line_pay, line_group, line_hits, line_fuzzy
        with self.stage("candidates_amount"):
            by_amount = amount_hits(
                pay_amount=self.pay_amount, pay_currency=self.pay_currency,
                pay_group=self.pay_group, pay_date=self.pay_date, book=book,
                fee_ceiling=self.fee_ceiling, grace_days=self.policy.discount_grace_days,
                allow_discounts=self.policy.allow_discounts,
            )
            for_review = unknown_payer_amount_hits(
                pay_amount=self.pay_amount, pay_currency=self.pay_currency,
                pay_group=np.where(self.pay_group >= 0, self.pay_group, self.ref_group),
                book=book,
            )
            for_review = fuzzy_pair_refs(tokens, for_review, book,
                                         cutoff=self.policy.fuzzy_reference_cutoff)
        with self.stage("scoring"):
            pairs = Pairs.concat([exact, fuzzy, by_amount, for_review])
            rel, adj = amount_relation(
                pairs=pairs, pay_amount=self.pay_amount, pay_currency=self.pay_currency,
                pay_date=self.pay_date, book=book, fee_ceiling=self.fee_ceiling,
                grace_days=self.policy.discount_grace_days,
                allow_discounts=self.policy.allow_discounts,
            )
            pg = self.pay_group[pairs.pay]
            ig = book.group[pairs.inv]
            cust_rel = np.where(pg < 0, UNKNOWN, np.where(pg == ig, SAME, OTHER))
            cust_rel = self.name_evidence(pairs, cust_rel)
            # a payer nobody identified whose name resembles the invoice's customer: as sure of
            # the customer as a fuzzy name makes it (for this pair)
            identity = np.where((cust_rel == SAME) & (pg < 0), IDENTITY_CONFIDENCE[BY_FUZZY_NAME],
                                self.ident.confidence[pairs.pay])
            self.pairs, self.rel, self.adj = pairs, rel, adj
            self.conf = pair_confidence(
                ref=pairs.ref, relation=rel, customer_relation=cust_rel,
                identity=identity, chance=self.amount_chance(pairs, rel),
            )
            self.cust_rel = cust_rel

    def amount_chance(self, pairs: Pairs, rel: np.ndarray) -> np.ndarray:
        """Per pair: block size × amount window / amount (see ``scoring.pair_confidence``); for
        the one invoice a payment's reference names that the amount settles in full, the block
        is that invoice (no other named invoice fits: it is the named one falling in the window
        by chance, not any of the customer's, that would be the coincidence)."""
        n = block_sizes(self.book)[pairs.inv]
        window = np.where(rel == FEE, self.fee_ceiling[pairs.pay] + 1, 1)
        chance = n * window / np.maximum(self.pay_amount[pairs.pay], 1)
        named = (pairs.ref > 0) & _FULL[rel]
        key = np.unique(pairs.pay[named] * len(self.book.amount) + pairs.inv[named])
        n_named = np.bincount(key // max(len(self.book.amount), 1), minlength=self.n)
        return np.where(named & (n_named[pairs.pay] == 1), chance / np.maximum(n, 1), chance)

    def name_evidence(self, pairs: Pairs, cust_rel: np.ndarray) -> np.ndarray:
        """A payer nobody identified whose name resembles the invoice's customer is taken as
        that customer for this pair (rapidfuzz ``cpdist``, all such pairs at once)."""
        unknown = np.flatnonzero((cust_rel == UNKNOWN) & (self.book.customer[pairs.inv] >= 0))
        if len(unknown) == 0:
            return cust_rel
        names = self.index.names_by_customer
        a = pc.take(self.ident.names, pa.array(pairs.pay[unknown])).to_pylist()
        b = pc.take(names, pa.array(self.book.customer[pairs.inv[unknown]])).to_pylist()
        score = process.cpdist(a, b, scorer=fuzz.WRatio, workers=fuzzy_workers(len(a)))
        out = cust_rel.copy()
        out[unknown[score >= self.policy.payer_name_cutoff]] = SAME
        return out

    # ------------------------------------------------------------------ proposals
    def run(self) -> tuple[pa.Table, pa.Table]:
        with self.stage("prepare"):
            self.prepare()
        if self.n == 0:
            return S.empty(S.ALLOCATIONS), S.empty(S.EXCEPTIONS)
        with self.stage("identify"):
            self.identify_payers()
        self.candidates()
        with self.stage("allocate"):
            proposals, exceptions = self.propose()
            allocations, more = self.settle(proposals, self.singles)
            exceptions.extend(more)
        with self.stage("review"):
            exceptions = self.review(exceptions)
        with self.stage("output"):
            return self.build_outputs(allocations, exceptions, self.singles_accepted)

    def propose(self) -> tuple[list[Proposal], list[ExceptionItem]]:
        pairs, conf, rel = self.pairs, self.conf, self.rel
        threshold = self.policy.auto_apply_threshold
        full = np.isin(rel, (EXACT, FEE, DISCOUNT))
        best, best_c, second_c = self.best_full_settlement(full)
        self.order, self.starts = ranked_candidates(pairs.pay, pairs.inv, conf, self.n)

        quoted = (pairs.ref >= QUOTED_REF) & (self.cust_rel != OTHER)
        n_quoted = np.bincount(pairs.pay[quoted], minlength=self.n)
        has_remit = self.remittance_lines()
        clear_single = (best >= 0) & (best_c >= threshold) & (
            second_c < best_c - AMBIGUITY_MARGIN
        )
        quoted_ref = np.zeros(self.n)
        np.maximum.at(quoted_ref, pairs.pay[quoted], pairs.ref[quoted])
        named_ref = np.zeros(self.n)  # the strongest reference hit of the payer's (or anyone's)
        np.maximum.at(named_ref, pairs.pay, np.where(self.cust_rel != OTHER, pairs.ref, 0.0))
        best_ref = pairs.ref[np.maximum(best, 0)] if len(pairs) else np.zeros(self.n)
        # a reference quoting one invoice contradicts a match on another named less surely;
        # not one invoiced in another currency (the payment cannot settle it: a mangled
        # number that happens to be another real one)
        contra = quoted & (rel != CURRENCY)
        contra_ref = np.zeros(self.n)
        np.maximum.at(contra_ref, pairs.pay[contra], pairs.ref[contra])
        clear_single &= best_ref >= contra_ref - 0.15
        # a reference naming another customer's invoice is not applied while the payer's own
        # open items hold one for exactly the amount (a mangled number can name a real one)
        own_exact = np.zeros(self.n, dtype=bool)
        np.logical_or.at(own_exact, pairs.pay, (self.cust_rel == SAME) & (rel == EXACT))
        if len(pairs):
            clear_single &= ~((self.cust_rel[np.maximum(best, 0)] == OTHER) & own_exact)
        # an amount-only match where other open items of the customer, together, make the
        # amount too: a rival single invoice already made it AMBIGUOUS (the margin above);
        # combinations are far likelier to be chance than the one invoice (there are many
        # more pairs than invoices to coincide), so they lower the confidence, not veto it
        alternatives = self.bulk_amount_alternatives(
            np.flatnonzero(clear_single & (best_ref <= 0)), best)
        self.conf[best[alternatives]] *= COMBINATION_RIVAL_FACTOR
        # a payment quoting several invoices is a subset question unless one quoted invoice
        # alone is settled by a strong reference
        multi = (n_quoted >= 2) & ~(clear_single & (best_ref >= 0.97))
        chosen = np.where(clear_single & ~has_remit & ~multi, best, -1)
        chosen, lost = resolve_full_conflicts(
            chosen, pairs.pay, pairs.inv, conf, full & (conf >= threshold)
        )
        proposals: list[Proposal] = []
        exceptions: list[ExceptionItem] = []
        # the clear one-to-one proposals, as arrays (what single_proposal makes, all at once)
        single_pay = np.flatnonzero(chosen >= 0)
        self.singles = self.single_proposals(single_pay, chosen[single_pay])
        # what they settle in full is not open for another payment's set of invoices (decided
        # for all payments at once, before any set is looked for: the input order never counts)
        sure = (self.singles["conf"] >= threshold) & np.array(
            [r in self.policy.auto_apply_rules for r in SINGLE_RULES], bool)[self.singles["rule"]]
        self.claimed = np.zeros(len(self.book.amount), dtype=bool)
        self.claimed[self.singles["inv"][sure]] = True
        for p in np.flatnonzero(lost):
            exceptions.append(self.exception(int(p), S.DUPLICATE,
                                             "Another payment settles the invoice this payment "
                                             "names; check for a duplicate payment."))
        rest = np.flatnonzero((chosen < 0) & ~lost)
        quotes_all = quoted_ref >= QUOTED_REF
        # an unclear single within the fee window is no reason to skip the subsets (on a
        # large customer some invoice nearly always lies within the window by chance)
        fee_only_all = ((best >= 0) & (rel[np.maximum(best, 0)] == FEE) & ~clear_single
                        & (named_ref <= 0)) if len(pairs) else np.zeros(self.n, bool)
        # the payments whose sets (amount alone, or quoted ones filled up) may be looked for
        may_fill = ~has_remit[rest] & (
            (n_quoted[rest] >= 2)
            | (((best[rest] < 0) | quotes_all[rest] | fee_only_all[rest])
               & ((self.pay_group[rest] >= 0) | quotes_all[rest])))
        self.prefill_subsets(rest[may_fill])
        for p in rest:
            p = int(p)
            prop = None
            if has_remit[p]:
                prop = self.remittance_proposal(p)
            if prop is None and n_quoted[p] >= 2:
                prop = self.subset_proposal(p, quoted_only=True)
                if prop is None and clear_single[p]:
                    prop = self.single_proposal(p, int(best[p]))
            quotes = quotes_all[p]
            # the reference resembles an invoice, if only weakly, and no single settles clearly
            resembles = named_ref[p] >= PARTIAL_MIN_REF and not clear_single[p]
            fee_only = fee_only_all[p]
            if prop is None and (best[p] < 0 or quotes or fee_only) and (
                    self.pay_group[p] >= 0 or quotes):
                # the quoted invoice plus others of the customer, or the amount alone
                prop = self.subset_proposal(p, quoted_only=False)
                if fee_only and isinstance(prop, ExceptionItem):
                    prop = self.put_first(prop, best[p : p + 1], "alone, less a bank fee")
            # sets that fit the amount alone say less than a number that resembles an invoice
            amount_sets = (isinstance(prop, ExceptionItem) and prop.reason == S.AMBIGUOUS
                           and resembles and not quotes)
            # a set that fits only less a fee is far likelier a coincidence than a fit to the
            # minor unit (scoring.FEE_DEDUCTED): the quoted invoice over- or part-paid, if surer
            fee_set = (isinstance(prop, Proposal) and prop.rule in SUBSET_RULES
                       and any(prop.adjustment) and prop.confidence < threshold)
            if prop is None and (best[p] < 0 or quotes or resembles):
                prop = self.partial_proposal(p)
            elif fee_set and (quotes or resembles):
                partial = self.partial_proposal(p)
                if isinstance(partial, Proposal) and partial.confidence > prop.confidence:
                    prop = partial
            elif amount_sets:
                partial = self.partial_proposal(p)
                if isinstance(partial, Proposal):
                    prop = partial
                else:  # the invoices the reference resembles, before the sets
                    ks = self.pair_indices(p)
                    ks = ks[(self.pairs.ref[ks] >= PARTIAL_MIN_REF) & (self.cust_rel[ks] != OTHER)]
                    prop = self.put_first(prop, ks[:AMBIGUOUS_SETS],
                                          "in part, whose numbers the reference resembles")
            if isinstance(prop, ExceptionItem):
                exceptions.append(prop)
            elif prop is not None:
                proposals.append(prop)
            elif alternatives[p]:
                exceptions.append(self.exception(
                    p, S.AMBIGUOUS, "The amount equals an open invoice of this customer but "
                    "also other open items or pairs of them, and the reference names none."))
            else:
                exceptions.append(self.no_match_exception(p, best[p], best_c[p], second_c[p]))
        proposals, exceptions = self.lookalike_proposals(proposals, exceptions)
        self.corroborate_instalments(proposals)
        return proposals, exceptions

    def lookalikes(self, pays: np.ndarray) -> Lookalikes:
        """The look-alike invoices of the payments ``pays`` (:mod:`review`)."""
        resembles = self.ident.resembles
        if not hasattr(self, "numbers"):  # (once for both calls)
            self.numbers = Numbers.of(self.tokens, self.n)
        return lookalike_table(
            pays, numbers=self.numbers, pay_group=self.pay_group, ref_group=self.ref_group,
            resembles_group=np.where(resembles >= 0, self.index.group_of(resembles), -1),
            pay_amount=self.pay_amount, pay_currency=self.pay_currency, pay_date=self.pay_date,
            fee_ceiling=self.fee_ceiling, book=self.book,
            grace_days=self.policy.discount_grace_days,
            allow_discounts=self.policy.allow_discounts)

    def review(self, items: list[ExceptionItem]) -> list[ExceptionItem]:
        """The candidates of the payments left to a person, look-alikes first (:mod:`review`;
        the look-alikes :meth:`lookalike_proposals` found, and those of the others)."""
        if not items:
            return items
        table = getattr(self, "looks", None)
        pays = np.array([it.pay for it in items], np.int64)
        if table is None:
            table = self.lookalikes(pays)
        elif not table.looked[pays].all():
            table = table.merged(self.lookalikes(pays[~table.looked[pays]]))
        return anyones_by_name(rerank(items, table), payer_names=self.ident.names,
                               customer_names=self.index.names_by_customer,
                               pay_amount=self.pay_amount, pay_currency=self.pay_currency,
                               book=self.book)

    def lookalike_proposals(self, proposals: list[Proposal], exceptions: list[ExceptionItem]
                            ) -> tuple[list[Proposal], list[ExceptionItem]]:
        """An identified payer's credit left to a person so far (an exception, or a proposal
        below the threshold) whose reference gives one of the payer's open invoices with one
        keystroke wrong, an invoice it pays part of or settles less a fee or a discount, and
        that no other look-alike rivals (``review.sole_lookalikes``), is proposed as that
        (LOOKALIKE_CONFIDENCE): instalments and short payments quoting a mangled number. Not
        when an open invoice of the payer's is for exactly the amount, nor with remittance
        advice."""
        threshold = self.policy.auto_apply_threshold
        left = np.unique(np.array([e.pay for e in exceptions] + [
            pr.pay for pr in proposals if pr.confidence < threshold], np.int64))
        # (kept for the reviewer's candidates: review)
        self.looks = table = self.lookalikes(left)
        own_exact = np.zeros(self.n, bool)
        own_exact[self.pairs.pay[(self.cust_rel == SAME) & (self.rel == EXACT)]] = True
        own_exact[self.lines[1]] = True  # (and a credit with remittance advice)
        pays = left[(self.pay_group[left] >= 0) & ~own_exact[left]]
        rows = sole_lookalikes(table, pays)
        chosen: dict[int, Proposal] = {}
        for p, inv, rel in zip(pays[rows >= 0].tolist(), table.inv[rows[rows >= 0]].tolist(),
                               table.rel[rows[rows >= 0]].tolist(), strict=True):
            name, amount = self.book.ids[inv].as_py(), int(self.pay_amount[p])
            if rel == PARTIAL:
                chosen[p] = Proposal(p, [inv], [amount], [0], [None], LOOKALIKE_CONFIDENCE,
                                     "partial_reference", detail=f"Partial payment of {name}, "
                                     "whose number the reference gives with one keystroke "
                                     "wrong; the rest stays open.")
            else:
                short = int(self.book.amount[inv]) - amount
                chosen[p] = Proposal(p, [inv], [amount], [short], [adjustment_reason(rel)],
                                     LOOKALIKE_CONFIDENCE, "fuzzy_reference")
        return ([pr for pr in proposals if pr.pay not in chosen] + list(chosen.values()),
                [e for e in exceptions if e.pay not in chosen])

    def put_first(self, item: ExceptionItem, ks: np.ndarray, why: str) -> ExceptionItem:
        """The sets that fit, after single invoices that fit otherwise (pairs ``ks``: a set of
        one is the fewest invoices), with ``why`` said in the detail."""
        invs = [int(i) for i in self.pairs.inv[ks]]
        keep = [j for j, c in enumerate(item.candidates) if c not in invs]
        names = ", ".join(self.book.ids.take(pa.array(invs)).to_pylist())
        return ExceptionItem(item.pay, item.reason, f"{item.detail} Or {names} {why}.",
                             invs + [item.candidates[j] for j in keep],
                             [float(c) for c in self.conf[ks]] + [item.scores[j] for j in keep])

    def corroborate_instalments(self, proposals: list[Proposal]) -> None:
        """Payments of the invoice's own customer that each pay part of the same quoted invoice
        today, together no more than it has open, vouch for each other (instalments, a split
        payment): each rises to the confidence of the surest, at most INSTALMENT_SIBLING_MAX;
        to that much when together they settle exactly what it has open."""
        by_inv: dict[int, list[Proposal]] = {}
        for pr in proposals:
            if pr.rule == "partial_reference" and pr.unapplied_reason is None and (
                    self.pay_group[pr.pay] == self.book.group[pr.inv[0]]):
                by_inv.setdefault(pr.inv[0], []).append(pr)
        for inv, parts in by_inv.items():
            paid = sum(pr.applied[0] for pr in parts)
            if len(parts) < 2 or paid > self.book.amount[inv]:
                continue
            surest = min(max(pr.confidence for pr in parts), INSTALMENT_SIBLING_MAX)
            if paid == self.book.amount[inv]:  # together to the minor unit what is open: the
                surest = INSTALMENT_SIBLING_MAX  # amounts agree as an exact single one does
            for pr in parts:
                pr.confidence = max(pr.confidence, surest)

    def best_full_settlement(self, full: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per payment: the best pair that settles an invoice in full (-1: none), its confidence,
        and the confidence of the runner-up that could make it ambiguous.

        A pair with reference evidence outranks any pair resting on the amount alone, so the
        runner-up that counts is one of the same kind.
        """
        pairs, conf = self.pairs, self.conf
        f_idx = np.flatnonzero(full)
        if len(f_idx) == 0:
            return np.full(self.n, -1), np.zeros(self.n), np.zeros(self.n)
        has_ref = pairs.ref[f_idx] > 0
        best, second, _, _ = best_per_payment(
            pairs.pay[f_idx], pairs.inv[f_idx], conf[f_idx] + has_ref, self.n
        )
        b, s = np.maximum(best, 0), np.maximum(second, 0)
        best_c = np.where(best >= 0, conf[f_idx][b], 0.0)
        same_kind = (best >= 0) & (second >= 0) & (has_ref[b] == has_ref[s])
        second_c = np.where(same_kind, conf[f_idx][s], 0.0)
        return np.where(best >= 0, f_idx[b], -1), best_c, second_c

    def amount_alternatives(self, p: int, k: int) -> bool:
        """Does another single invoice or pair of the customer's open items fit the amount?"""
        book = self.book
        block = self.block(int(self.pay_group[p]), int(self.pay_currency[p]))
        if len(block) < 2:
            return False
        fee = int(self.fee_ceiling[p]) if self.rel[k] == FEE else 0
        found = self.subsets(book.amount[block], int(self.pay_amount[p]), tolerance=fee,
                             max_size=2)
        return len(found.solutions) > 1

    def bulk_amount_alternatives(self, ps: np.ndarray, best: np.ndarray) -> np.ndarray:
        """:meth:`amount_alternatives` for many payments at once (a mask over all payments).

        The subset search with ``max_size=2`` finds two solutions exactly when the exact tier
        (sum = amount) holds two or more singles-or-pairs, or holds none and the fee tier
        (amount < sum <= amount + fee) holds two or more. Both counts for every payment come
        from one compiled pass (``subset_kernel.count_fits``) over the blocks' amounts, sorted
        within each block once.
        """
        out = np.zeros(self.n, dtype=bool)
        if len(ps) == 0:
            return out
        index = amount_index(self.book)  # the blocks' amounts, sorted once per book
        bkey, bstart = index.block_key, index.block_start
        if len(bkey) == 0:
            return out
        from cashmatch.engine import subset_kernel

        sizes = np.diff(bstart)
        amounts = index.sorted_amount
        q_block = self.block_of(self.pay_group[ps], self.pay_currency[ps])
        q_block = np.where(sizes[np.maximum(q_block, 0)] >= 2, q_block, -1)
        amt = self.pay_amount[ps].astype(np.int64)
        fee = np.where(self.rel[best[ps]] == FEE, self.fee_ceiling[ps], 0).astype(np.int64)
        starts = bstart.astype(np.int64)
        exact_n = subset_kernel.count_fits(amounts, starts, q_block, amt, amt, 2)
        tol_n = subset_kernel.count_fits(amounts, starts, q_block, amt + 1, amt + fee, 2)
        out[ps] = (exact_n >= 2) | ((exact_n == 0) & (fee > 0) & (tol_n >= 2))
        return out

    def block_of(self, group: np.ndarray, currency: np.ndarray) -> np.ndarray:
        """The block number of each (group, currency); -1 where the block has no open invoice
        (the blocks of :class:`cashmatch.engine.candidates.AmountIndex`)."""
        index = amount_index(self.book)
        bkey = index.block_key
        out = np.full(len(group), -1, np.int64)
        if len(bkey) == 0:
            return out
        key = group * index.n_currencies + currency
        at = np.minimum(np.searchsorted(bkey, key), len(bkey) - 1)
        hit = (group >= 0) & (currency < index.n_currencies) & (bkey[at] == key)
        out[hit] = at[hit]
        return out

    def block(self, group: int, currency: int) -> np.ndarray:
        """The open invoices of one (customer group, currency), in row order (none: empty)."""
        b = int(self.block_of(np.array([group]), np.array([currency]))[0])
        if b < 0:
            return np.zeros(0, np.int64)
        index = amount_index(self.book)
        return index.members[index.block_start[b] : index.block_start[b + 1]]

    # -- single
    def single_proposal(self, p: int, k: int) -> Proposal:
        pairs = self.pairs
        inv = int(pairs.inv[k])
        rel = int(self.rel[k])
        adj = int(self.adj[k]) if rel in (FEE, DISCOUNT) else 0
        return Proposal(
            pay=p, inv=[inv], applied=[int(self.pay_amount[p])], adjustment=[adj],
            adjustment_reason=[adjustment_reason(rel)], confidence=float(self.conf[k]),
            rule=single_rule(float(pairs.ref[k]), bool(pairs.fuzzy[k])),
        )

    def single_proposals(self, ps: np.ndarray, ks: np.ndarray) -> dict[str, np.ndarray]:
        """:meth:`single_proposal` for many payments, as columns (one line each)."""
        pairs = self.pairs
        rel = self.rel[ks].astype(np.int64)
        has_adj = (rel == FEE) | (rel == DISCOUNT)
        ref, fz = pairs.ref[ks], pairs.fuzzy[ks].astype(bool)
        rule = np.where(ref <= 0, 0, np.where(fz | (ref < 0.97), 1, 2))  # SINGLE_RULES
        return {
            "pay": ps.astype(np.int64),
            "inv": pairs.inv[ks].astype(np.int64),
            "applied": self.pay_amount[ps].astype(np.int64),
            "adj": np.where(has_adj, self.adj[ks], 0).astype(np.int64),
            "reason": np.where(rel == FEE, 1, np.where(rel == DISCOUNT, 2, 0)),  # SINGLE_REASONS
            "conf": self.conf[ks].astype(np.float64),
            "rule": rule,
        }

    def pair_indices(self, p: int) -> np.ndarray:
        return self.order[self.starts[p] : self.starts[p + 1]]

    # -- partial / over payment of one quoted invoice
    def partial_proposal(self, p: int) -> Proposal | ExceptionItem | None:
        ks = self.pair_indices(p)
        ks = ks[_NOT_FULL[self.rel[ks]]
                & (self.pairs.ref[ks] >= PARTIAL_MIN_REF)]
        # an invoice in another currency only counts when nothing in the payment's does
        same_currency = ks[self.rel[ks] != CURRENCY]
        if len(same_currency) or (len(ks) and self.pairs.ref[ks[0]] < 0.97):
            ks = same_currency
        if len(ks) == 0:
            return None
        k = int(ks[0])
        inv, rel = int(self.pairs.inv[k]), int(self.rel[k])
        name = self.book.ids[inv].as_py()
        # the named invoice first, then the payment's other candidates (a mangled number can
        # name a settled or foreign invoice while the amount points to the right one)
        if rel == SETTLED:
            return self.exception(p, S.DUPLICATE, f"Invoice {name} is already settled; this "
                                  "payment may be a duplicate.", extra=[inv])
        if rel == CURRENCY:
            return self.exception(p, S.CURRENCY_MISMATCH, f"The reference names {name}, which "
                                  "is invoiced in another currency.", extra=[inv])
        if len(ks) > 1 and self.conf[ks[1]] >= self.conf[k] - AMBIGUITY_MARGIN:
            return None
        # another invoice that the amount settles in full: named less surely, or an open
        # item of the payer's for exactly the amount (a mangled number can be another real one)
        rivals = self.pair_indices(p)
        rivals = rivals[_FULL[self.rel[rivals]] & (
            (self.pairs.ref[rivals] > 0)
            | ((self.rel[rivals] == EXACT) & (self.cust_rel[rivals] == SAME)))]
        if len(rivals):
            other = self.book.ids[int(self.pairs.inv[rivals[0]])].as_py()
            why = ("whose number resembles the reference too" if self.pairs.ref[rivals[0]] > 0
                   else "an open invoice of the payer for exactly the amount")
            return self.exception(
                p, S.AMBIGUOUS, f"The reference names {name} but the amount settles {other} "
                f"in full, {why}; choose the right one.", np.concatenate([[k], rivals]))
        amount, open_ = int(self.pay_amount[p]), int(self.book.amount[inv])
        if rel == PARTIAL:
            return Proposal(p, [inv], [amount], [0], [None], float(self.conf[k]),
                            "partial_reference",
                            detail=f"Partial payment of {name}; the rest stays open.")
        return Proposal(p, [inv], [open_], [0], [None], float(self.conf[k]), "partial_reference",
                        unapplied_reason=S.OVERPAYMENT,
                        detail=f"Pays more than {name} is open for; the excess is unapplied.")

    # -- several invoices for one payment
    def subset_proposal(self, p: int, *, quoted_only: bool) -> Proposal | ExceptionItem | None:
        group_of, quoted_starts, quoted_rows = self.subset_inputs
        group = int(group_of[p])
        if group < 0:
            return None
        quoted = quoted_rows[quoted_starts[p] : quoted_starts[p + 1]]
        amount, fee = int(self.pay_amount[p]), int(self.fee_ceiling[p])
        opens = self.book.amount
        if self.pay_group[p] >= 0:
            identity = float(self.ident.confidence[p])
        else:  # a payer known only by the invoices it quotes: as sure as the pairs' customer
            # factor for an unknown payer's reference of that strength
            named = float(self.pairs.ref[self.pair_indices(p)].max(initial=0.0))
            factor = CUSTOMER_FACTOR_STRONG if named >= STRONG_REF else CUSTOMER_FACTOR_WEAK
            identity = factor[UNKNOWN]
        if quoted_only and len(quoted) >= 2:
            total = int(opens[quoted].sum())
            if 0 <= total - amount <= fee:
                return self.subset_allocation(p, quoted, amount, quoted_share=1.0,
                                              exact=total == amount, identity=1.0,
                                              exhaustive=True, rule="subset_reference")
            found = self.subsets(opens[quoted], amount, tolerance=fee,
                                 max_size=len(quoted), min_size=2, limit=AMBIGUOUS_SETS)
            if found.unique is not None:
                chosen = quoted[list(found.unique)]
                return self.subset_allocation(p, chosen, amount, quoted_share=1.0,
                                              exact=found.exact, identity=1.0,
                                              exhaustive=found.exhaustive,
                                              rule="subset_reference")
            if found.solutions:
                return self.ambiguous(p, [quoted[list(s)] for s in found.solutions])
            if total < amount:  # quoted ones plus some unquoted of the same customer
                return self.fill_subset(p, group, quoted, amount, fee, identity)
            return None
        # amount alone (plus any quoted ones as fixed members)
        return self.fill_subset(p, group, quoted, amount, fee, identity)

    @property
    def subset_inputs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per payment, for its subset proposals (built once, for all payments): the customer
        group whose open invoices a set is drawn from (-1: none — no payer and the invoices its
        reference quotes strongly are not all one group's), and the quoted invoices of that
        group in the payment's currency that are still open (rows
        ``quoted_rows[quoted_starts[p]:quoted_starts[p + 1]]``, ascending)."""
        if not hasattr(self, "_subset_inputs"):
            book, pairs = self.book, self.pairs
            q = np.flatnonzero(pairs.ref >= QUOTED_REF)
            pay, inv = pairs.pay[q].astype(np.int64), pairs.inv[q].astype(np.int64)
            order = np.lexsort((inv, pay))
            pay, inv = pay[order], inv[order]
            first = np.ones(len(pay), bool)
            first[1:] = (pay[1:] != pay[:-1]) | (inv[1:] != inv[:-1])
            pay, inv = pay[first], inv[first]
            group = np.where(self.pay_group >= 0, self.pay_group, self.ref_group)
            group = np.where(group >= 0, group, sole_group(pay, book.group[inv], self.n))
            group = settling_group(group, pay, inv, book, self.pay_currency, self.pay_amount,
                                   self.fee_ceiling)
            keep = ((book.group[inv] == group[pay]) & (book.currency[inv] == self.pay_currency[pay])
                    & (book.amount[inv] > 0))  # a settled invoice takes no cash
            starts = np.searchsorted(pay[keep], np.arange(self.n + 1))
            self._subset_inputs = (group.astype(np.int64), starts, inv[keep])
        return self._subset_inputs

    def fill_subset(self, p: int, group: int, fixed: np.ndarray, amount: int, fee: int,
                    identity: float) -> Proposal | ExceptionItem | None:
        got = self.fill_search(p, group, fixed, amount, fee)
        if got is None:
            return None
        found, block_size = got
        rest = amount - int(self.book.amount[fixed].sum())
        # Occam: the fit with the fewest invoices, when no other of its size or smaller fits;
        # larger sets were not all tried or fit too, but on a large block some fit any amount
        # by chance and say little against a small one (how little: ``chance``)
        fewest = found.fewest(AMBIGUOUS_SETS)
        if fewest is not None:
            chosen = np.concatenate([fixed, np.array(fewest, np.int64)])
            share = len(fixed) / len(chosen)
            # a fit by chance as small as the one found
            chance = coincidence(block_size=block_size, max_size=len(fewest),
                                 target=rest, tolerance=0 if found.exact else fee)
            prop = self.subset_allocation(p, chosen, amount, quoted_share=share,
                                          exact=found.exact, identity=identity,
                                          exhaustive=True, chance=chance,
                                          rule="subset_reference" if len(fixed)
                                          else "subset_amount")
            if found.unique is None or not found.exhaustive:
                prop.confidence = min(prop.confidence, LARGER_SETS_UNTRIED_MAX)
            rivals = [len(s) for s in found.solutions if s != fewest]
            prop.confidence *= fewest_share(block_size=block_size, size=len(fewest),
                                            rival_sizes=rivals)
            return prop
        if found.solutions:
            return self.ambiguous(p, [np.concatenate([fixed, np.array(s, np.int64)])
                                      for s in found.solutions])
        return None

    def fill_search(self, p: int, group: int, fixed: np.ndarray, amount: int, fee: int
                    ) -> tuple[SubsetSearch, int] | None:
        """The sets of the group's open invoices, other than ``fixed`` and those already
        claimed, that with ``fixed`` settle the payment (solutions as invoice rows), and how
        many invoices were searched; None when nothing is left to pay or to search. Read from
        :meth:`prefill_subsets` where it answered for ``p``."""
        slot = self.fill_slot[p] if hasattr(self, "fill_slot") else -1
        if slot >= 0:
            if self.filled.n_found[slot] == 0:
                return None
            return self.filled.get(int(slot)), int(self.filled.size[slot])
        book = self.book
        block = self.block(int(group), int(self.pay_currency[p]))
        block = block[~self.claimed[block]]
        if len(fixed):
            block = block[~np.isin(block, fixed)]
        rest = amount - int(book.amount[fixed].sum())
        if rest <= 0 or len(block) == 0:
            return None
        found = self.subsets(book.amount[block], rest, tolerance=fee,
                             max_size=self.fill_max_size(len(fixed)),
                             min_size=1 if len(fixed) else 2, due_order=book.due[block],
                             limit=AMBIGUOUS_SETS)
        rows = [tuple(int(r) for r in block[list(s)]) for s in found.solutions]
        return dataclasses.replace(found, solutions=rows), len(block)

    def fill_max_size(self, n_fixed: np.ndarray | int) -> np.ndarray | int:
        """How many invoices a set may add to ``n_fixed`` quoted ones."""
        return np.maximum(self.policy.max_subset_size - n_fixed, 1)

    def prefill_subsets(self, ps: np.ndarray) -> None:
        """:meth:`fill_search` for the payments ``ps`` at once (one compiled call over all
        their blocks; what the search finds does not depend on the order of payments). Not
        when the HiGHS fallback may run: its day budget is spent in payment order."""
        if self.milp_calls_left > 0 and self.policy.subset_milp_node_limit > 0:
            return
        group_of, quoted_starts, quoted_rows = self.subset_inputs
        ps = ps[group_of[ps] >= 0]
        n_fixed = quoted_starts[ps + 1] - quoted_starts[ps]
        owner = np.repeat(np.arange(len(ps)), n_fixed)
        fixed = quoted_rows[spans(quoted_starts[ps], n_fixed)]
        fixed_total = np.zeros(len(ps), np.int64)
        np.add.at(fixed_total, owner, self.book.amount[fixed])
        index = amount_index(self.book)
        starts, members = index.block_start, index.members
        self.filled = search_blocks(
            amount=self.book.amount, due=self.book.due, members=members, starts=starts,
            excluded=self.claimed, q_block=self.block_of(group_of[ps], self.pay_currency[ps]),
            fixed=fixed, fixed_starts=np.concatenate([[0], np.cumsum(n_fixed)]),
            target=self.pay_amount[ps] - fixed_total,
            tolerance=self.fee_ceiling[ps], max_size=self.fill_max_size(n_fixed),
            min_size=np.where(n_fixed > 0, 1, 2), limit=AMBIGUOUS_SETS)
        self.fill_slot = np.full(self.n, -1, np.int64)
        self.fill_slot[ps] = np.arange(len(ps))

    def subset_allocation(self, p: int, invs: np.ndarray, amount: int, *, quoted_share: float,
                          exact: bool, identity: float, exhaustive: bool, rule: str,
                          chance: float = 0.0) -> Proposal:
        invs = invs[np.lexsort((invs, self.book.due[invs]))]
        opens = self.book.amount[invs].astype(np.int64)
        short = int(opens.sum()) - amount  # a bank fee, taken on the last invoice
        applied = opens.copy()
        adj = np.zeros(len(invs), dtype=np.int64)
        if short > 0:
            applied[-1] -= short
            adj[-1] = short
        conf = subset_confidence(quoted_share=quoted_share, exact=exact, identity=identity,
                                 exhaustive=exhaustive, chance=chance)
        return Proposal(p, invs.tolist(), applied.tolist(), adj.tolist(),
                        [S.BANK_FEE if a else None for a in adj], conf, rule)

    def ambiguous(self, p: int, solutions: list[np.ndarray]) -> ExceptionItem:
        """The sets that fit, listed set after set, likeliest first: fewer invoices (many more
        large sets than small ones fit an amount by chance), then the older items (customers
        mostly pay their oldest items first)."""
        solutions = sorted(solutions, key=lambda s: (len(s), float(self.book.due[s].mean())))
        names = [" + ".join(self.book.ids.take(pa.array(s)).to_pylist()) for s in solutions]
        cands: list[int] = []
        for s in solutions:
            cands.extend(int(i) for i in s if int(i) not in cands)
        return ExceptionItem(p, S.AMBIGUOUS,
                          f"The amount fits more than one set of open invoices: "
                          f"{' or '.join(names)}; choose the right one.", cands,
                          [0.5] * len(cands))

    # -- remittance advice
    def linked_lines(self) -> tuple[pa.Table, np.ndarray]:
        """The remittance lines of this batch's payments (by payment id or end-to-end id),
        and the payment of each."""
        rem = self.remittances
        if rem is None or rem.num_rows == 0:
            return S.empty(S.REMITTANCES), np.zeros(0, np.int64)
        pid = pc.index_in(rem.column("payment_id"), value_set=self.payments.column("payment_id"))
        e2e = pc.index_in(rem.column("end_to_end_id"),
                          value_set=self.payments.column("end_to_end_id"))
        line_pay = np.asarray(pc.fill_null(pc.coalesce(pid, e2e), -1), dtype=np.int64)
        linked = np.flatnonzero(line_pay >= 0)
        if len(linked) < len(line_pay):
            rem = rem.take(pa.array(linked))
        return rem, line_pay[linked]

    def remittance_lines(self) -> np.ndarray:
        has = np.zeros(self.n, dtype=bool)
        self.remit_of = {}
        rem, line_pay, line_group, hits, fz = self.lines
        if len(line_pay) == 0:
            return has
        has[line_pay] = True
        line_total = (
            np.asarray(rem.column("paid_amount"), np.int64)
            + np.asarray(pc.fill_null(rem.column("discount_amount"), 0), np.int64)
            + np.asarray(pc.fill_null(rem.column("deduction_amount"), 0), np.int64)
        )
        # the payer's open invoices that a line's amounts settle exactly are candidates too
        # (a reference mangled past the fuzzy cutoff), weaker than a readable reference
        by_amount = amount_hits(
            pay_amount=line_total, pay_currency=self.pay_currency[line_pay],
            pay_group=line_group, pay_date=self.pay_date[line_pay], book=self.book,
            fee_ceiling=np.zeros(len(line_pay), np.int64),
            grace_days=self.policy.discount_grace_days, allow_discounts=False,
        )
        # ... and, for a payer still unknown, any customer's: candidates never applied unseen
        anyones = unknown_payer_amount_hits(
            pay_amount=line_total, pay_currency=self.pay_currency[line_pay],
            pay_group=line_group, book=self.book)
        by_amount = Pairs.concat([by_amount, anyones])
        lp = Pairs.concat([hits, fz, Pairs(by_amount.pay, by_amount.inv,
                                           np.full(len(by_amount), REMITTANCE_AMOUNT_REF),
                                           by_amount.fuzzy)])
        n_inv = len(self.book.amount)
        unseen = np.isin(lp.pay * n_inv + lp.inv, anyones.pay * n_inv + anyones.inv) & ~np.isin(
            lp.pay * n_inv + lp.inv, np.concatenate([hits.pay, fz.pay]) * n_inv
            + np.concatenate([hits.inv, fz.inv]))
        same = np.where(line_group[lp.pay] >= 0, self.book.group[lp.inv] == line_group[lp.pay],
                        ~unseen)
        settles = line_total[lp.pay] == self.book.amount[lp.inv]
        in_currency = self.book.currency[lp.inv] == self.pay_currency[line_pay[lp.pay]]
        score = lp.ref * np.where(same, 1.0, 0.5) * np.where(settles, 1.0, 0.9) * in_currency
        best, second, best_s, second_s = best_per_payment(lp.pay, lp.inv, score, len(line_pay))
        line_inv = np.where((best >= 0) & (best_s > 0), lp.inv[np.maximum(best, 0)], -1)
        ambiguous = (best >= 0) & (second_s >= best_s - 0.02) & (second >= 0)
        line_inv[ambiguous] = -1
        # a line whose invoice its amounts do not settle, while another candidate's they do
        # (a typo that names a real but different invoice), is not to be applied unseen
        b = np.maximum(best, 0)
        settles_best = (best >= 0) & settles[b] if len(lp.pay) else np.zeros(len(line_pay), bool)
        rival = np.zeros(len(line_pay), dtype=bool)
        if len(lp.pay):
            np.logical_or.at(rival, lp.pay, settles & same & (lp.ref >= 0.7))
        self.remit_line_candidates = Pairs(lp.pay, lp.inv, score, lp.fuzzy)
        # the candidate rows of each line (rows of line i: lc_order[lc_starts[i]:lc_starts[i+1]],
        # in row order, as np.flatnonzero(lc.pay == i) gives them)
        self.lc_order = np.argsort(lp.pay, kind="stable")
        self.lc_starts = np.searchsorted(lp.pay[self.lc_order], np.arange(len(line_pay) + 1))
        self.remit = {
            "pay": line_pay,
            "inv": line_inv,
            "strength": best_s,
            # another customer's invoice, when the payer is known, is never applied unseen
            "doubtful": (~settles_best & rival) | ((best >= 0) & ~same[b] if len(lp.pay)
                                                   else np.zeros(len(line_pay), bool)),
            "paid": np.asarray(rem.column("paid_amount"), np.int64),
            "discount": np.asarray(pc.fill_null(rem.column("discount_amount"), 0), np.int64),
            "deduction": np.asarray(pc.fill_null(rem.column("deduction_amount"), 0), np.int64),
            "reason": rem.column("reason_code").to_pylist(),
            "ref": rem.column("invoice_ref").to_pylist(),
        }
        order = np.argsort(line_pay, kind="stable")
        starts = np.searchsorted(line_pay[order], np.arange(self.n + 1))
        self.remit_order, self.remit_starts = order, starts
        return has

    def remittance_proposal(self, p: int) -> Proposal | ExceptionItem:
        r = self.remit
        lines = self.remit_order[self.remit_starts[p] : self.remit_starts[p + 1]]
        amount = int(self.pay_amount[p])
        line_inv = r["inv"][lines].tolist()
        unresolved = [r["ref"][i] for i, v in zip(lines.tolist(), line_inv, strict=True) if v < 0]
        cands = [v for v in line_inv if v >= 0]
        lc = self.remit_line_candidates
        for lo, hi in zip(self.lc_starts[lines].tolist(), self.lc_starts[lines + 1].tolist(),
                          strict=True):  # each line's own candidates, best first, after those
            mine = self.lc_order[lo:hi]
            cands += [v for v in lc.inv[mine[np.argsort(-lc.ref[mine])]][:2].tolist()
                      if v not in cands]
        if unresolved:
            return self.exception(
                p, S.NO_CANDIDATE,
                f"The remittance advice names {', '.join(map(str, unresolved[:3]))}, "
                "which match no open invoice.", extra=cands)
        paid = int(r["paid"][lines].sum())
        if paid > amount:
            return self.exception(
                p, S.SHORT_PAY,
                f"The remittance advice applies {paid} but the payment is {amount} "
                "(minor units); the payer paid less than advised.", np.array([], np.int64),
                extra=cands)
        disc, ded = r["discount"][lines].tolist(), r["deduction"][lines].tolist()
        reasons = [f"{S.DEDUCTION}:{r['reason'][i] or 'UNSPECIFIED'}" if d
                   else S.DISCOUNT if c else None
                   for i, c, d in zip(lines.tolist(), disc, ded, strict=True)]
        invs, applied = line_inv, r["paid"][lines].tolist()
        adj = [c + d for c, d in zip(disc, ded, strict=True)]
        conf = 0.985 if r["strength"][lines].min() >= 0.97 else 0.93
        if r["doubtful"][lines].any():
            conf = 0.8  # a line names one invoice but its amount settles another
        prop = Proposal(p, invs, applied, adj, reasons, conf, "remittance")
        if paid < amount:
            prop.unapplied_reason = S.OVERPAYMENT
            prop.detail = (
                "The remittance advice accounts for less than the payment; the rest is unapplied."
            )
        return prop

    # ------------------------------------------------------------------ exceptions
    def exception(self, p: int, reason: str, detail: str, ks: np.ndarray | None = None,
                  extra: list[int] | None = None) -> ExceptionItem:
        ks = self.pair_indices(p) if ks is None else ks
        cands = list(extra or [])
        scores = [0.5] * len(cands)
        for inv, conf in zip(self.pairs.inv[ks].tolist(), self.conf[ks].tolist(), strict=True):
            if inv not in cands:
                cands.append(inv)
                scores.append(conf)
        # every invoice named in ``extra`` stays (a proposal of six invoices lists all six)
        cap = max(MAX_CANDIDATES, len(extra or []))
        return ExceptionItem(p, reason, detail, cands[:cap], scores[:cap])

    def no_match_exception(self, p: int, best: int, best_c: float, second_c: float
                           ) -> ExceptionItem:
        ks = self.pair_indices(p)
        if len(ks) == 0:
            if self.pay_group[p] < 0 and self.ref_group[p] < 0:
                return self.exception(p, S.UNKNOWN_PAYER,
                                      "The payer is not a known customer and the reference "
                                      "names no open invoice.")
            return self.exception(p, S.NO_CANDIDATE, "The payer is known but no open invoice "
                                  "fits the reference or the amount.")
        top = ks[0]
        name = self.book.ids[int(self.pairs.inv[top])].as_py()
        if best >= 0 and second_c >= best_c - AMBIGUITY_MARGIN and best_c >= 0.5:
            return self.exception(p, S.AMBIGUOUS, "Several open invoices fit this payment "
                                  "equally well; choose the right one.")
        if self.pay_group[p] < 0 and self.pairs.ref[top] <= 0:
            return self.exception(p, S.UNKNOWN_PAYER, f"Unknown payer; the amount equals "
                                  f"{name}, but nothing else links them.")
        why = ("is below the auto-apply threshold" if self.conf[top] < self.policy.
               auto_apply_threshold else "is not applied: the reference or the amount also "
               "points to another invoice")
        return self.exception(p, S.LOW_CONFIDENCE, f"Best candidate {name} (confidence "
                              f"{self.conf[top]:.2f}) {why}.")

    # ------------------------------------------------------------------ settle
    def settle(self, proposals: list[Proposal], singles: dict[str, np.ndarray]
               ) -> tuple[list[Proposal], list[ExceptionItem]]:
        """Capacity check, strongest first; below-threshold proposals become exceptions.

        ``proposals`` are the per-payment objects, ``singles`` the one-to-one proposals as
        columns; both are ranked together. Decided in bulk where nothing competes: a proposal
        whose invoices no other eligible proposal line touches fits exactly when each line fits
        the invoice's open amount. Only proposals touching a shared invoice are walked in
        order. Sets ``singles_accepted`` (a mask over ``singles``).
        """
        threshold = self.policy.auto_apply_threshold
        allowed = self.policy.auto_apply_rules
        capacity = np.array(self.book.amount, np.int64)  # a copy
        # payment ids ranked once (ties of rank keep equal ids equal, as the id itself did)
        pid_rank = np.asarray(
            pc.rank(self.payments.column("payment_id"), sort_keys="ascending",
                    tiebreaker="min"), np.int64)
        n_obj, n_single = len(proposals), len(singles["pay"])
        n_prop = n_obj + n_single
        lens = np.concatenate([_each(proposals, "inv", np.int64, len),
                               np.ones(n_single, np.int64)])
        flat_inv = np.concatenate([_lines(proposals, "inv"), singles["inv"]])
        flat_need = np.concatenate([
            _lines(proposals, "applied") + _lines(proposals, "adjustment"),
            singles["applied"] + singles["adj"]])
        conf = np.concatenate([_each(proposals, "confidence", np.float64), singles["conf"]])
        pay = np.concatenate([_each(proposals, "pay", np.int64), singles["pay"]])
        rule_ok = np.array([r in allowed for r in SINGLE_RULES], bool)
        eligible = (conf >= threshold) & np.concatenate([
            _each(proposals, "rule", bool, allowed.__contains__), rule_ok[singles["rule"]]])
        owner = np.repeat(np.arange(n_prop), lens)
        touches = np.bincount(flat_inv[eligible[owner]], minlength=len(capacity))
        walk = eligible & (np.bincount(owner, weights=touches[flat_inv] >= 2,
                                       minlength=n_prop) > 0)
        fits = np.bincount(owner, weights=capacity[flat_inv] < flat_need,
                           minlength=n_prop) == 0
        starts = np.cumsum(lens) - lens
        # strongest first, then payment id (each payment has one proposal: no ties left)
        order = np.lexsort((pid_rank[pay], -conf))
        ok = eligible & fits
        for j in order[walk[order]]:  # the contested ones, in rank order
            invs = flat_inv[starts[j] : starts[j] + lens[j]]
            need = flat_need[starts[j] : starts[j] + lens[j]]
            ok[j] = not (capacity[invs] < need).any()
            if ok[j]:
                np.subtract.at(capacity, invs, need)
        accepted: list[Proposal] = []
        exceptions: list[ExceptionItem] = []
        for j in order[~ok[order] | (order < n_obj)]:
            if ok[j]:
                accepted.append(proposals[j])
                continue
            invs = flat_inv[starts[j] : starts[j] + lens[j]]
            if not eligible[j]:
                rule = proposals[j].rule if j < n_obj else SINGLE_RULES[
                    singles["rule"][j - n_obj]]
                names = ", ".join(self.book.ids.take(pa.array(invs)).to_pylist())
                item = self.exception(
                    int(pay[j]), S.LOW_CONFIDENCE,
                    f"Proposed {names} ({rule}, confidence {conf[j]:.2f}) is below "
                    "the auto-apply threshold; confirm or choose another.",
                    extra=invs.tolist() + self.remittance_rivals(int(pay[j]), invs))
                item.scores[: len(invs)] = [float(conf[j])] * min(len(invs), len(item.scores))
                exceptions.append(item)
                continue
            exceptions.append(self.exception(
                int(pay[j]), S.DUPLICATE, "An invoice this payment settles is already settled "
                "by another payment; check for a duplicate payment.", extra=invs.tolist()))
        self.singles_accepted = ok[n_obj:]
        return accepted, exceptions

    def remittance_rivals(self, p: int, chosen: np.ndarray) -> list[int]:
        """Invoices a payment's remittance lines could also mean, best first (for reviewers)."""
        lc = getattr(self, "remit_line_candidates", None)
        if lc is None or not hasattr(self, "remit_order"):
            return []
        lines = self.remit_order[self.remit_starts[p] : self.remit_starts[p + 1]]
        # the lines' candidate rows in row order (np.flatnonzero(np.isin(lc.pay, lines)),
        # without a pass over every row)
        mine = np.sort(np.concatenate(
            [self.lc_order[self.lc_starts[i] : self.lc_starts[i + 1]] for i in lines]
            or [np.zeros(0, np.int64)]))
        mine = mine[~np.isin(lc.inv[mine], chosen)]
        return [int(i) for i in lc.inv[mine[np.argsort(-lc.ref[mine], kind="stable")]]]

    # ------------------------------------------------------------------ outputs
    def build_outputs(self, proposals: list[Proposal], exceptions: list[ExceptionItem],
                      singles_accepted: np.ndarray | None = None) -> tuple[pa.Table, pa.Table]:
        pay_ids = self.payments.column("payment_id").combine_chunks()
        cur = self.payments.column("currency").combine_chunks()
        sg = getattr(self, "singles", None)
        if sg is None or singles_accepted is None:
            sg = self.single_proposals(np.zeros(0, np.int64), np.zeros(0, np.int64))
            singles_accepted = np.zeros(0, bool)
        sg = {k: v[singles_accepted] for k, v in sg.items()}
        lens = _each(proposals, "inv", np.int64, len)
        a_pay = np.concatenate([np.repeat(_each(proposals, "pay", np.int64), lens), sg["pay"]])
        a_inv = np.concatenate([_lines(proposals, "inv"), sg["inv"]])
        a_applied = np.concatenate([_lines(proposals, "applied"), sg["applied"]])
        a_adj = np.concatenate([_lines(proposals, "adjustment"), sg["adj"]])
        a_reason = pa.concat_arrays([
            pa.array(list(chain.from_iterable(map(attrgetter("adjustment_reason"), proposals))),
                     pa.string()),
            pa.array(SINGLE_REASONS, pa.string()).take(pa.array(sg["reason"], pa.int64()))])
        a_conf = np.concatenate([np.repeat(_each(proposals, "confidence", np.float64), lens),
                                 sg["conf"]])
        a_rule = pa.concat_arrays([
            pa.array(np.repeat(np.array(list(map(attrgetter("rule"), proposals)), dtype=object),
                               lens).tolist(), pa.string()),
            pa.array(SINGLE_RULES, pa.string()).take(pa.array(sg["rule"], pa.int64()))])
        # what stays open after each application, in value-date then payment-id order
        date = self.pay_date[a_pay]
        pid_rank = np.asarray(pc.rank(pay_ids, sort_keys="ascending"), np.int64)
        order = np.lexsort((pid_rank[a_pay], date, a_inv))
        used = (a_applied + a_adj)[order]
        inv_sorted = a_inv[order]
        csum = np.cumsum(used)
        first = np.ones(len(order), bool)
        first[1:] = inv_sorted[1:] != inv_sorted[:-1]
        base = np.maximum.accumulate(np.where(first, np.arange(len(order)), 0))
        before = np.where(base > 0, csum[np.maximum(base - 1, 0)], 0)
        running = csum - before
        open_after = np.empty(len(order), np.int64)
        open_after[order] = self.book.amount[inv_sorted] - running
        allocations = pa.table(
            {
                "payment_id": pay_ids.take(pa.array(a_pay)),
                "invoice_id": self.book.ids.take(pa.array(a_inv)),
                "applied_amount": pa.array(a_applied, pa.int64()),
                "adjustment_amount": pa.array(a_adj, pa.int64()),
                "adjustment_reason": a_reason,
                "invoice_open_after": pa.array(open_after, pa.int64()),
                "confidence": pa.array(np.round(a_conf, 4), pa.float64()),
                "rule": a_rule,
                "currency": cur.take(pa.array(a_pay)),
            },
            schema=S.ALLOCATIONS,
        )
        # remainders of partly applied payments
        applied_by_pay = np.bincount(a_pay, weights=a_applied, minlength=self.n).astype(np.int64)
        for pr in proposals:  # (a single proposal applies the whole payment: no remainder)
            rest = int(self.pay_amount[pr.pay]) - int(applied_by_pay[pr.pay])
            if rest:
                exceptions.append(ExceptionItem(
                    pr.pay, pr.unapplied_reason or S.OVERPAYMENT,
                    pr.detail or "Part of the payment is not applied to any invoice.",
                    list(pr.inv), [pr.confidence] * len(pr.inv)))
        e_pay = np.array([e.pay for e in exceptions], np.int64)
        applied_e = applied_by_pay[e_pay] if len(e_pay) else np.zeros(0, np.int64)
        unapplied = self.pay_amount[e_pay] - applied_e if len(e_pay) else np.zeros(0, np.int64)
        ids = self.book.ids
        c_lens = np.array([len(e.candidates) for e in exceptions], np.int64)
        c_flat = np.fromiter((c for e in exceptions for c in e.candidates), np.int64,
                             count=int(c_lens.sum()))
        c_offsets = np.zeros(len(exceptions) + 1, np.int32)
        np.cumsum(c_lens, out=c_offsets[1:])
        cand_ids = pa.ListArray.from_arrays(pa.array(c_offsets, pa.int32()),
                                            ids.take(pa.array(c_flat, pa.int64())))
        grp_cust = self.pay_customer[e_pay] if len(e_pay) else np.zeros(0, np.int64)
        cust_ids = self.index.ids.take(pa.array(np.maximum(grp_cust, 0))) if len(
            self.index.ids) and len(e_pay) else pa.nulls(len(e_pay), pa.string())
        cust_ids = pc.if_else(pa.array(grp_cust >= 0), cust_ids, None) if len(e_pay) else cust_ids
        exc = pa.table(
            {
                "payment_id": pay_ids.take(pa.array(e_pay)),
                "reason": pa.array([e.reason for e in exceptions], pa.string()),
                "unapplied_amount": pa.array(unapplied, pa.int64()),
                "candidates": cand_ids.cast(pa.list_(pa.string())),
                "detail": pa.array([e.detail for e in exceptions], pa.string()),
                "currency": cur.take(pa.array(e_pay)),
                "candidate_scores": pa.array([[round(s, 4) for s in e.scores]
                                              for e in exceptions], pa.list_(pa.float64())),
                "customer_id": cust_ids,
            },
            schema=S.EXCEPTIONS,
        )
        return allocations, exc
