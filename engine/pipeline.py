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
import functools
from collections.abc import Callable, Set
from contextlib import AbstractContextManager
from dataclasses import dataclass, fields
from itertools import accumulate, chain, repeat
from operator import attrgetter
from typing import NamedTuple, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from rapidfuzz import fuzz, process

from cashmatch.engine import output_kernel
from cashmatch.engine import schema as S
from cashmatch.engine.allocate import (
    ADJUSTMENT_REASONS,
    ADVICE_LESS,
    AMBIGUITY_MARGIN,
    MAX_CANDIDATES,
    PARTIAL_RULE,
    PAYS_MORE,
    REMAINDERS,
    REMITTANCE_RULE,
    RULES,
    SINGLE_RULES,
    SUBSET_RULES,
    ExceptionItem,
    Proposals,
    lexsort_ints,
    ranked_candidates,
    resolve_full_conflicts,
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
    index_in,
    reference_hits,
    unknown_payer_amount_hits,
)
from cashmatch.engine.identify import BY_FUZZY_NAME, IDENTITY_CONFIDENCE, fuzzy_workers, identify
from cashmatch.engine.ledger import PreparedLedger, days, release_memory, stage
from cashmatch.engine.money import sums_by_code
from cashmatch.engine.normalize import spans, string_parts
from cashmatch.engine.policy import Policy
from cashmatch.engine.review import (
    Lookalikes,
    anyones_by_name,
    lookalike_table,
    rerank,
    sole_lookalikes,
)
from cashmatch.engine.scoring import (
    COINCIDENCE_MAX,
    COINCIDENCE_ODDS,
    COMBINATION_RIVAL_FACTOR,
    CUSTOMER_FACTOR_STRONG,
    CUSTOMER_FACTOR_WEAK,
    FEE_DEDUCTED,
    LARGER_SETS_UNTRIED_MAX,
    OTHER,
    SAME,
    STRONG_REF,
    UNKNOWN,
    coincidence,
    comb_count,
    fewest_share,
    pair_confidence,
    subset_confidence,
    subset_count,
)
from cashmatch.engine.subset import BlockSearches, SubsetSearch, search_blocks, search_blocks_beside
from cashmatch.engine.subset import search as subset_search
from cashmatch.engine.threads import in_background, side_by_side

QUOTED_REF = 0.80  # a reference hit at least this strong counts as "the payer quoted it"
AMBIGUOUS_SETS = 3  # sets an AMBIGUOUS subset exception offers (two make it ambiguous)
QUOTED_BATCH_MIN = 8  # payments from which their quoted invoices are searched in one batch
IDS_TAKE_MIN = 32  # invoices from which their ids are taken at once (invoice_ids)
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


# relation code -> "settles the invoice in full" / "a partial, over, settled or currency
# relation" (a table lookup: np.isin costs tens of microseconds on a payment's few pairs)
_FULL = np.zeros(7, dtype=bool)
_FULL[[EXACT, FEE, DISCOUNT]] = True
_NOT_FULL = np.zeros(7, dtype=bool)
_NOT_FULL[[PARTIAL, OVER, SETTLED, CURRENCY]] = True


# one payment's proposal while it is decided: row ``[1]`` of the batch ``[0]``
Pick = tuple[Proposals, int]
T = TypeVar("T")
# why an amount-only match is AMBIGUOUS when combinations of open items make the amount too
COMBINED_DETAIL = ("The amount equals an open invoice of this customer but also other open "
                   "items or pairs of them, and the reference names none.")


class Evidence(NamedTuple):
    """Per payment, what its scored pairs say (:func:`allocate_kernel.payment_evidence`)."""

    best: np.ndarray  # its best full settlement (a pair; -1: none) ...
    second: np.ndarray  # ... and the runner-up
    n_quoted: np.ndarray  # pairs its reference quotes (QUOTED_REF), not another customer's
    quoted_ref: np.ndarray  # the strongest of those references
    contra_ref: np.ndarray  # ... of those in the payment's currency
    named_ref: np.ndarray  # its strongest reference not of another customer's invoice
    own_exact: np.ndarray  # an open item of its own customer for exactly the amount
    max_ref: np.ndarray  # its strongest reference


def confidence(batch: Proposals, row: int) -> float:
    """The confidence of a picked proposal."""
    return float(batch.confidence[row])


_SUBSET_RULE = np.array([r in SUBSET_RULES for r in RULES])  # (by rule code)


def fee_sets(batch: Proposals, threshold: float) -> list[bool]:
    """Per proposal of ``batch``: is it a set of invoices that fits only less a fee, below
    ``threshold``? (all of them at once: a batch holds many a loop asks about one by one)"""
    adjusted = np.zeros(len(batch.adjustment) + 1, np.int64)  # (lines with one, cumulated)
    np.cumsum(batch.adjustment != 0, out=adjusted[1:])
    return (_SUBSET_RULE[batch.rule] & (batch.confidence < threshold)
            & (adjusted[batch.start[1:]] > adjusted[batch.start[:-1]])).tolist()


# picks of proposals, one a payment: the payments, the batches, each pick's batch (an index
# into those) and its row of that batch
Picks = tuple[np.ndarray, list[Proposals], np.ndarray, np.ndarray]


def picks(pay: np.ndarray, picked: list[Pick]) -> Picks:
    """The proposals ``picked`` (a batch and a row each) of the payments ``pay``."""
    return (pay, [batch for batch, _ in picked], np.arange(len(picked)),
            np.fromiter((row for _, row in picked), np.int64, len(picked)))


def rows_of(pay: np.ndarray, batch: Proposals, rows: np.ndarray) -> Picks:
    """The proposals ``rows`` of one batch, of the payments ``pay``."""
    return pay, [batch], np.zeros(len(rows), np.int64), rows


def gathered(*parts: Picks) -> Proposals:
    """The proposals ``parts`` name, in the order of their payments (each payment in one part
    at most), from each batch they pick from once (joined in order of its first pick)."""
    batches = [batch for _, bs, _, _ in parts for batch in bs]
    first_batch = list(accumulate((len(bs) for _, bs, _, _ in parts), initial=0))[:-1]
    order = np.argsort(np.concatenate([np.asarray(p, np.int64) for p, *_ in parts]),
                       kind="stable")
    which = np.concatenate([w + b for (_, _, w, _), b in zip(parts, first_batch, strict=True)])
    which = which[order]
    row = np.concatenate([np.asarray(r, np.int64) for *_, r in parts])[order]
    same: dict[int, int] = {}  # (a batch may be in several parts)
    batch_of = np.array([same.setdefault(id(b), i) for i, b in enumerate(batches)], np.int64)
    picked = batch_of[which]
    used, first = np.unique(picked, return_index=True)
    joined = used[np.argsort(first)]
    at = np.zeros(len(batches), np.int64)
    at[joined] = np.cumsum([0] + [len(batches[j]) for j in joined.tolist()])[:-1]
    return Proposals.concat([batches[j] for j in joined.tolist()]).take(at[picked] + row)


def by_payment(ps: np.ndarray, made: Proposals, excepted: np.ndarray,
               exceptions: list[ExceptionItem]) -> dict[int, Pick | ExceptionItem | None]:
    """The outcome of each payment of ``ps`` (:meth:`DayMatch.partial_outcomes`: its proposal
    of ``made``, its exception, or None), for a loop that reads them one by one."""
    out: dict[int, Pick | ExceptionItem | None] = dict.fromkeys(ps.tolist())
    out.update(zip(excepted.tolist(), exceptions, strict=True))
    out.update((p, (made, j)) for j, p in enumerate(made.pay.tolist()))
    return out


def in_payment_order(*parts: tuple[np.ndarray, list[T]]) -> list[T]:
    """The items of ``parts`` (each: its items' payments, one each, and the items) in the
    order of their payments (each payment in one part at most)."""
    pay = np.concatenate([np.asarray(p, np.int64) for p, _ in parts])
    items = list(chain.from_iterable(i for _, i in parts))
    return [items[i] for i in np.argsort(pay, kind="stable").tolist()]


def candidate_list(extra: list[int], invs: list[int], confs: list[float]
                   ) -> tuple[list[int], list[float]]:
    """An exception's candidates and their scores: the invoices ``extra`` (scored 0.5), then
    ``invs`` not among them (scored ``confs``), at most MAX_CANDIDATES unless ``extra`` holds
    more (a proposal of six invoices lists all six)."""
    cands = list(extra)
    scores = [0.5] * len(cands)
    cap = max(MAX_CANDIDATES, len(extra))
    for inv, conf in zip(invs, confs, strict=True):
        if len(cands) >= cap:  # (the rest would be cut: a payment may have hundreds)
            break
        if inv not in cands:
            cands.append(inv)
            scores.append(conf)
    return cands, scores


def candidate_lists(order: np.ndarray, start: np.ndarray, n: np.ndarray, inv: np.ndarray,
                    conf: np.ndarray) -> list[tuple[list[int], list[float]]]:
    """``candidate_list([], inv[r].tolist(), conf[r].tolist())`` of each run of pairs
    ``r = order[start[i] : start[i] + n[i]]``, for all runs at once: a run's first
    MAX_CANDIDATES pairs where their invoices differ (all that candidate_list keeps then, and
    only they are listed: a run may hold hundreds), else candidate_list of the whole run."""
    n_c = np.minimum(n, MAX_CANDIDATES)
    ks = order[spans(start, n_c)]
    first = inv[ks]
    owner = np.repeat(np.arange(len(n)), n_c)
    repeats = np.zeros(len(n), bool)
    for d in range(1, MAX_CANDIDATES):  # (each pair against the few before it in its run)
        repeats[owner[d:][(owner[d:] == owner[:-d]) & (first[d:] == first[:-d])]] = True
    invs, confs = first.tolist(), conf[ks].tolist()
    at = np.zeros(len(n) + 1, np.int64)
    np.cumsum(n_c, out=at[1:])
    out = [(invs[a:b], confs[a:b]) for a, b in zip(at[:-1].tolist(), at[1:].tolist(),
                                                    strict=True)]
    for i in np.flatnonzero(repeats).tolist():  # (an invoice twice: candidate_list reads on)
        r = order[start[i] : start[i] + n[i]]
        out[i] = candidate_list([], inv[r].tolist(), conf[r].tolist())
    return out


def sole_group(pay: np.ndarray, group: np.ndarray, n: int) -> np.ndarray:
    """Per payment (0..n-1), the one group all its (pay, group) entries name; -1 for none or
    several (one compiled pass: :func:`allocate_kernel.sole_group`)."""
    from cashmatch.engine import allocate_kernel

    return allocate_kernel.sole_group(pay, group, n)


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
    order = lexsort_ints((g, pay))
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


# from this many payments, DayMatch identifies the payers beside the exact hits (which read no
# payer), and finds the fuzzy hits beside the amount hits (each reads only the exact hits and
# the payers), on two threads
SIDE_BY_SIDE_PAYMENTS = 50_000
RELEASE_PAYMENTS = 100_000  # from this many payments, DayMatch.release_memory releases


@functools.lru_cache(maxsize=64)
def _strings(values: tuple[str | None, ...]) -> pa.Array:
    """A few strings (rules, reasons) as an Arrow array, made once: what outputs take from."""
    return pa.array(values, pa.string())


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
        # the invoices' currencies first, in the same order: the book's codes stay valid (the
        # ledger's own when it has every payment's: one look-up, most days)
        codes = pc.index_in(pay.column("currency"), value_set=ledger.currencies)
        currencies = ledger.currencies
        if codes.null_count:
            currencies = pc.unique(
                pa.concat_arrays([ledger.currencies, pay.column("currency").combine_chunks()]))
            codes = pc.index_in(pay.column("currency"), value_set=currencies)
        self.currency_codes = currencies
        self.index = ledger.index
        self.book = ledger.book
        self.n = pay.num_rows
        self.pay_amount = np.asarray(pay.column("amount"), dtype=np.int64)
        self.pay_currency = np.asarray(codes, dtype=np.int64)
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
    def candidates(self, *, beside: Callable[[], None] | None = None) -> None:
        """The payments' candidate pairs and their features (after :meth:`identify_payers`, or
        after ``beside``, which identifies them beside the gathering of the texts and the exact
        hits: those read no payer, and on two cores its temporaries live beside one chunk's of
        theirs, :func:`reference_hits`);
        the remittance lines' exact and fuzzy hits come from the same calls (their texts after
        the payments', their rows in ``pay`` from ``n`` on): one set of fixed costs for both.
        The fuzzy and the amount hits read only the exact ones and the payers: on a large day,
        side by side."""
        book = self.book
        with self.stage("candidates_exact"):
            # identify started first, on a thread of its own beside the texts gathered here
            # (the exact hits' thread that would run it waits for it instead, then takes chunks)
            identified = None if beside is None else in_background(beside, thread=True)
            rem, line_pay = self.linked_lines()
            texts = self.reference_text()
            if rem.num_rows:
                texts = pa.concat_arrays([texts, rem.column("invoice_ref").combine_chunks()])
            hits, tokens = reference_hits(texts, book, beside=identified)
            self.ledger.key_index_read()
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

        def fuzzy_pairs(exact: Pairs) -> tuple[Pairs, Pairs]:
            with self.stage("candidates_fuzzy"):
                best_ref = np.zeros(self.n)
                np.maximum.at(best_ref, exact.pay, exact.ref)
                group_for_fuzzy = np.where(self.pay_group >= 0, self.pay_group, self.ref_group)
                return fuzzy_hits(
                    tokens, np.concatenate([best_ref < 0.97, np.ones(len(line_pay), bool)]),
                    np.concatenate([group_for_fuzzy, line_group]), book,
                    cutoff=self.policy.fuzzy_reference_cutoff,
                ).split(self.n)

        def amount_pairs() -> tuple[Pairs, Pairs]:
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
                return by_amount, fuzzy_pair_refs(tokens, for_review, book,
                                                  cutoff=self.policy.fuzzy_reference_cutoff)

        (fuzzy, line_fuzzy), (by_amount, for_review) = side_by_side(
            [functools.partial(fuzzy_pairs, exact), amount_pairs],
            threads=self.n >= SIDE_BY_SIDE_PAYMENTS)
        self.lines = rem, line_pay, line_group, line_hits, line_fuzzy
        self.release_memory()  # (the scoring's peak else holds what the searches freed)
        with self.stage("scoring"):
            pairs = Pairs.concat([exact, fuzzy, by_amount, for_review])
            del exact, fuzzy, by_amount, for_review  # (their rows are the pairs' now)

            def amounts() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
                rel, adj = amount_relation(
                    pairs=pairs, pay_amount=self.pay_amount, pay_currency=self.pay_currency,
                    pay_date=self.pay_date, book=book, fee_ceiling=self.fee_ceiling,
                    grace_days=self.policy.discount_grace_days,
                    allow_discounts=self.policy.allow_discounts,
                )
                return rel, adj, self.amount_chance(pairs, rel)

            def customers() -> tuple[np.ndarray, np.ndarray]:
                from cashmatch.engine import scoring_kernel

                by_group = scoring_kernel.customer_relations(
                    pairs.pay, pairs.inv, self.pay_group, book.group, SAME, UNKNOWN, OTHER)
                cust_rel = self.name_evidence(pairs, by_group)
                # a payer nobody identified whose name resembles the invoice's customer: as
                # sure of the customer as a fuzzy name makes it (for this pair)
                return cust_rel, np.where((cust_rel == SAME) & (by_group == UNKNOWN),
                                          IDENTITY_CONFIDENCE[BY_FUZZY_NAME],
                                          self.ident.confidence[pairs.pay])

            # the amounts' passes and the customers' read the pairs, not each other: on a large
            # day side by side, one a core
            (rel, adj, chance), (cust_rel, identity) = side_by_side(
                [amounts, customers], threads=self.n >= SIDE_BY_SIDE_PAYMENTS)
            self.pairs, self.rel, self.adj = pairs, rel, adj
            self.conf = pair_confidence(
                ref=pairs.ref, relation=rel, customer_relation=cust_rel,
                identity=identity, chance=chance,
            )
            self.cust_rel = cust_rel

    def amount_chance(self, pairs: Pairs, rel: np.ndarray) -> np.ndarray:
        """Per pair: block size × amount window / amount (see ``scoring.pair_confidence``); for
        the one invoice a payment's reference names that the amount settles in full, the block
        is that invoice (no other named invoice fits: it is the named one falling in the window
        by chance, not any of the customer's, that would be the coincidence). One compiled
        pass (:func:`cashmatch.engine.scoring_kernel.chances`; the pairs of Pairs.concat, one
        row per (pay, inv))."""
        from cashmatch.engine import scoring_kernel

        return scoring_kernel.chances(pairs.pay, pairs.inv, rel, pairs.ref,
                                      block_sizes(self.book), self.fee_ceiling,
                                      self.pay_amount, self.n)

    def name_evidence(self, pairs: Pairs, cust_rel: np.ndarray) -> np.ndarray:
        """A payer nobody identified whose name resembles the invoice's customer is taken as
        that customer for this pair (rapidfuzz ``cpdist``, all such pairs at once): of the pairs
        whose ``WRatio`` may reach the cutoff (:func:`text_kernel.wratio_reach`, a proven
        bound: at a million payments ~1 pair in 80 reaches it)."""
        unknown = np.flatnonzero(cust_rel == UNKNOWN)  # (the customers of these pairs only)
        unknown = unknown[self.book.customer[pairs.inv[unknown]] >= 0]
        if len(unknown) == 0:
            return cust_rel
        from cashmatch.engine import text_kernel

        cutoff = self.policy.payer_name_cutoff
        pay, cust = pairs.pay[unknown], self.book.customer[pairs.inv[unknown]]
        names, by_customer = self.ident.names, self.index.names_by_customer
        reach = text_kernel.wratio_reach(*string_parts(names), pay, *string_parts(by_customer),
                                         cust, cutoff)
        unknown, pay, cust = unknown[reach], pay[reach], cust[reach]
        a = pc.take(names, pa.array(pay)).to_pylist()
        b = pc.take(by_customer, pa.array(cust)).to_pylist()
        score = process.cpdist(a, b, scorer=fuzz.WRatio, workers=fuzzy_workers(len(a)))
        out = cust_rel.copy()
        out[unknown[score >= cutoff]] = SAME
        return out

    # ------------------------------------------------------------------ proposals
    def run(self) -> tuple[pa.Table, pa.Table]:
        """The day's allocation and exception tables: :meth:`decide`, then the tables built
        once what only the decisions read is let go (:meth:`let_go`)."""
        with self.stage("prepare"):
            self.prepare()
        if self.n == 0:
            return S.empty(S.ALLOCATIONS), S.empty(S.EXCEPTIONS)
        allocations, exceptions = self.decide()
        self.let_go()
        self.release_memory()  # (what the stages before let go of: the output's peak else)
        with self.stage("output"):
            return self.build_outputs(allocations, exceptions)

    def decide(self) -> tuple[Proposals, list[ExceptionItem]]:
        """The allocations to make and the exceptions (after :meth:`prepare`), the day's
        candidates and their features kept on it."""
        def identified() -> None:
            with self.stage("identify"):
                self.identify_payers()
            self.release_memory()  # (what identify freed: else resident under the exact search's)

        if self.n >= SIDE_BY_SIDE_PAYMENTS:
            self.candidates(beside=identified)
        else:
            identified()
            self.candidates()
        self.release_memory()  # (what the candidates' threads freed, in their arenas)
        with self.stage("allocate"):
            proposals, exceptions = self.propose()
            self.drop(self.PROPOSE_READS)
            self.release_memory()
            allocations, more = self.settle(proposals, self.singles)
            exceptions.extend(more)
        self.release_memory()
        with self.stage("review"):
            return allocations, self.review(exceptions)

    def release_memory(self) -> None:
        """On a large day, what the stages so far freed given back to the system
        (:func:`cashmatch.engine.ledger.release_memory`): at a million payments the day's peak
        is the allocation's, with the freed pages of the stages before still resident (a few
        ms a call)."""
        if self.n >= RELEASE_PAYMENTS:
            release_memory()

    # what build_outputs reads of a day (with the dataclass's fields and the timings)
    OUTPUT_READS = frozenset(
        ("book", "index", "n", "pay_amount", "pay_customer", "pay_date", "_pid_rank"))

    # what only propose's searches read (the pairs' amount and customer relations, the subset
    # searches' inputs and state, the remittance lines' proposals), let go before its
    # look-alikes; and with what the look-alikes read of it too, before settle (at a million
    # payments ~110 + 70 MiB less under the look-alikes' and settle's peaks)
    SEARCH_READS = frozenset(("adj", "cust_rel", "rel", "claimed", "fill_slot",
                              "filled_outcome", "fill_none", "fill_row", "fill_sets",
                              "_subset_inputs", "remit"))
    PROPOSE_READS = SEARCH_READS | {"evidence", "lines"}

    def let_go(self) -> None:
        """Drop what the stages before the output derived for one another (the candidate pairs
        and their features, the payments' tokens, look-alikes, remittance lines, the subset
        searches' inputs): the output's tables are then built without them beside (at a million
        payments the output stage held the match's live peak)."""
        self.drop(vars(self).keys() - self.OUTPUT_READS - {f.name for f in fields(self)}
                  - {"timings"})

    def drop(self, names: Set[str]) -> None:
        """Let go of the attributes ``names`` (those that are set)."""
        for name in names & vars(self).keys():
            delattr(self, name)

    def propose(self) -> tuple[Proposals, list[ExceptionItem]]:
        pairs, conf, rel = self.pairs, self.conf, self.rel
        threshold = self.policy.auto_apply_threshold
        full = _FULL[rel]
        # the pairs ranked by their confidences as scored (beside the evidence on a large day:
        # taken before the amount alternatives lower some below)
        ranked = in_background(lambda: ranked_candidates(pairs.pay, pairs.inv, conf, self.n),
                               thread=self.n >= SIDE_BY_SIDE_PAYMENTS)
        ev = self.evidence = self.payment_evidence()
        best, best_c, second_c = self.best_full_settlement()

        n_quoted, quoted_ref, named_ref = ev.n_quoted, ev.quoted_ref, ev.named_ref
        has_remit = np.zeros(self.n, dtype=bool)  # (its lines' invoices: beside the search)
        has_remit[self.lines[1]] = True
        clear_single = (best >= 0) & (best_c >= threshold) & (
            second_c < best_c - AMBIGUITY_MARGIN
        )
        best_ref = pairs.ref[np.maximum(best, 0)] if len(pairs) else np.zeros(self.n)
        # a reference quoting one invoice contradicts a match on another named less surely;
        # not one invoiced in another currency (the payment cannot settle it: a mangled
        # number that happens to be another real one)
        clear_single &= best_ref >= ev.contra_ref - 0.15
        # a reference naming another customer's invoice is not applied while the payer's own
        # open items hold one for exactly the amount (a mangled number can name a real one)
        if len(pairs):
            clear_single &= ~((self.cust_rel[np.maximum(best, 0)] == OTHER) & ev.own_exact)
        # an amount-only match where other open items of the customer, together, make the
        # amount too: a rival single invoice already made it AMBIGUOUS (the margin above);
        # combinations are far likelier to be chance than the one invoice (there are many
        # more pairs than invoices to coincide), so they lower the confidence, not veto it
        alternatives = self.bulk_amount_alternatives(
            np.flatnonzero(clear_single & (best_ref <= 0)), best)
        self.order, self.starts = ranked()
        self.conf[best[alternatives]] *= COMBINATION_RIVAL_FACTOR
        # a payment quoting several invoices is a subset question unless one quoted invoice
        # alone is settled by a strong reference
        multi = (n_quoted >= 2) & ~(clear_single & (best_ref >= 0.97))
        chosen = np.where(clear_single & ~has_remit & ~multi, best, -1)
        chosen, lost = resolve_full_conflicts(
            chosen, pairs.pay, pairs.inv, conf, full & (conf >= threshold)
        )
        exceptions: list[ExceptionItem] = []
        # the clear one-to-one proposals, as arrays (what single_proposal makes, all at once)
        single_pay = np.flatnonzero(chosen >= 0)
        self.singles = self.single_proposals(single_pay, chosen[single_pay])
        # what they settle in full is not open for another payment's set of invoices (decided
        # for all payments at once, before any set is looked for: the input order never counts)
        sure = (self.singles.confidence >= threshold) & np.array(
            [r in self.policy.auto_apply_rules for r in SINGLE_RULES], bool)[self.singles.rule]
        self.claimed = np.zeros(len(self.book.amount), dtype=bool)
        self.claimed[self.singles.inv[sure]] = True
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
        self.fill_slot = np.full(self.n, -1, np.int64)  # none searched in bulk (yet)
        self.filled_outcome: list[Pick | ExceptionItem | None] = []  # their outcomes, by slot
        self.fill_row = np.full(self.n, -1, np.int64)  # a set found in bulk: its row of fill_sets
        self.fill_none = np.zeros(self.n, bool)  # searched in bulk, no set found
        self.fill_sets = Proposals.empty()
        # (the search runs beside what follows, up to the partial payments)
        prefilled = self.prefill_subsets(rest[may_fill])
        self.remittance_lines()
        remit = rest[has_remit[rest]]
        remitted = self.remittance_proposals(remit)
        quoted = rest[~has_remit[rest] & (n_quoted[rest] >= 2)]
        fit, fits = self.quoted_set_proposals(quoted)
        fit_all = np.zeros(self.n, bool)  # (their quoted invoices together settle them)
        fit_all[fit] = True
        quoted_sets, short = self.quoted_subsets(quoted[~fit_all[quoted]])
        # the reference resembles an invoice, if only weakly, and no single settles clearly
        resembles_all = (named_ref >= PARTIAL_MIN_REF) & ~clear_single
        # decided by their flags alone, for all of them at once (what the loop below would
        # decide): no candidate, customer or advice (nothing to search); and a best candidate
        # but nothing else to try (no quote, set, fee, resemblance: no match, or AMBIGUOUS
        # where combinations of open items make the amount too)
        advice = has_remit[rest]
        no_pair = ((self.starts[rest + 1] == self.starts[rest]) & ~advice
                   & (self.pay_group[rest] < 0))
        pairless = rest[no_pair]
        decided = self.no_pair_exceptions(pairless)
        nothing_else = (~advice & (n_quoted[rest] < 2) & (best[rest] >= 0) & ~quotes_all[rest]
                        & ~fee_only_all[rest] & ~resembles_all[rest])
        no_more = rest[nothing_else]
        # and the quoted invoices that together settle a payment, unless they fit only less a
        # fee and the reference (quoting or resembling one) may name one paid in part: the
        # loop weighs those (fee_set)
        weighed = np.zeros(self.n, bool)
        weighed[fit] = fee_sets(fits, threshold)
        weighed &= quotes_all | resembles_all
        weigh = np.flatnonzero(weighed[fit])
        quoted_sets.update(zip(fit[weigh].tolist(), zip(repeat(fits), weigh.tolist()),
                               strict=True))
        fit_row = np.full(self.n, -1, np.int64)
        fit_row[fit] = np.arange(len(fit))
        quoted_fit = (~advice & ~no_pair & (n_quoted[rest] >= 2) & fit_all[rest]
                      & ~weighed[rest])
        quoted_fits = rest[quoted_fit]
        # the partial payments of those the loop may weigh (and of the sets found in bulk,
        # known only once the search is done: each payment's answer is its own)
        undecided = rest[~advice & ~no_pair & ~nothing_else & ~quoted_fit]
        partial_outs = self.partial_outcomes(undecided)
        partials = by_payment(undecided, *partial_outs)
        prefilled()
        quoted_sets.update((p, self.subset_proposal(p, quoted_only=False))
                           for p in short.tolist())
        # and a set found in bulk for a known payer's amount, alone or less a fee (no quote or
        # resemblance to weigh against it): proposed as found
        set_found = (~advice & ~no_pair & ~nothing_else & (n_quoted[rest] < 2)
                     & (self.fill_row[rest] >= 0) & ~quotes_all[rest] & ~resembles_all[rest]
                     & ((best[rest] < 0) | fee_only_all[rest]) & (self.pay_group[rest] >= 0))
        sets_found = rest[set_found]
        # and where nothing else is quoted and no set was found (or none could be looked for),
        # the partial payment the reference names, or nothing, for all of them at once (what
        # the loop below would decide: no candidate, a quote or a resemblance sends them to it)
        unset = rest[~advice & ~no_pair & ~nothing_else & ~set_found & ~quoted_fit]
        u_best, u_quotes = best[unset], quotes_all[unset]
        fills = (((u_best < 0) | u_quotes | fee_only_all[unset])
                 & ((self.pay_group[unset] >= 0) | u_quotes))
        no_set = self.fill_none | ((self.fill_slot < 0) & (self.subset_inputs[0] < 0))
        by_partial = np.zeros(self.n, bool)
        by_partial[unset[(n_quoted[unset] < 2) & (~fills | no_set[unset])
                         & ((u_best < 0) | u_quotes | resembles_all[unset])]] = True
        looped = unset[~by_partial[unset]]
        made: list[Pick] = []
        made_pay: list[int] = []
        found: list[ExceptionItem] = []
        found_pay: list[int] = []
        rivalled: list[int] = []  # (AMBIGUOUS: combinations of open items make the amount)
        # fee_sets of each batch met, by its id (the batch held too: a batch let go could
        # leave its id to another)
        fee_set_rows: dict[int, tuple[Proposals, list[bool]]] = {}
        unmatched: list[int] = []  # (their exceptions made at once below)
        # the loop reads each payment's flags as Python values (a numpy scalar costs more)
        for p, n_q, clear, quotes, resembles, fee_only, b, known, alternative, slot in zip(
                *(a[looped].tolist() for a in (
                    np.arange(self.n), n_quoted, clear_single, quotes_all, resembles_all,
                    fee_only_all, best, self.pay_group >= 0, alternatives, self.fill_slot)),
                strict=True):
            prop = None
            if n_q >= 2:
                prop = (quoted_sets[p] if p in quoted_sets
                        else self.subset_proposal(p, quoted_only=True))
                if prop is None and clear:
                    prop = self.single_proposal(p, b)
            if prop is None and (b < 0 or quotes or fee_only) and (known or quotes):
                # the quoted invoice plus others of the customer, or the amount alone
                prop = (self.filled_outcome[slot] if slot >= 0
                        else self.subset_proposal(p, quoted_only=False))
                if fee_only and isinstance(prop, ExceptionItem):
                    prop = self.put_first(prop, np.array([b]), "alone, less a bank fee")
            # sets that fit the amount alone say less than a number that resembles an invoice
            amount_sets = (isinstance(prop, ExceptionItem) and prop.reason == S.AMBIGUOUS
                           and resembles and not quotes)
            # a set that fits only less a fee is far likelier a coincidence than a fit to the
            # minor unit (scoring.FEE_DEDUCTED): the quoted invoice over- or part-paid, if surer
            fee_set = False
            if (quotes or resembles) and isinstance(prop, tuple):
                batch, row = prop
                if id(batch) not in fee_set_rows:
                    fee_set_rows[id(batch)] = batch, fee_sets(batch, threshold)
                fee_set = fee_set_rows[id(batch)][1][row]
            if prop is None and (b < 0 or quotes or resembles):
                prop = partials[p]
            elif fee_set:
                partial = partials[p]
                if isinstance(partial, tuple) and confidence(*partial) > confidence(*prop):
                    prop = partial
            elif amount_sets:
                partial = partials[p]
                if isinstance(partial, tuple):
                    prop = partial
                else:  # the invoices the reference resembles, before the sets
                    ks = self.pair_indices(p)
                    ks = ks[(self.pairs.ref[ks] >= PARTIAL_MIN_REF) & (self.cust_rel[ks] != OTHER)]
                    prop = self.put_first(prop, ks[:AMBIGUOUS_SETS],
                                          "in part, whose numbers the reference resembles")
            if isinstance(prop, ExceptionItem):
                found.append(prop)
                found_pay.append(p)
            elif prop is not None:
                made.append(prop)
                made_pay.append(p)
            elif alternative:
                rivalled.append(p)
            else:
                unmatched.append(p)
        # the remittance advice applied as given, or why not (nothing else is tried)
        advised = [remitted[p] for p in remit.tolist()]
        by_advice = np.array([isinstance(a, tuple) for a in advised], bool)
        # (those decided by a partial payment alone: a proposal, an exception, or neither)
        partial_made, partial_why, partial_items = partial_outs
        made_rows = np.flatnonzero(by_partial[partial_made.pay])
        why_rows = np.flatnonzero(by_partial[partial_why])
        by_partial[partial_made.pay] = by_partial[partial_why] = False
        partial_none = np.flatnonzero(by_partial)
        combined = np.concatenate([no_more[alternatives[no_more]], rivalled,
                                   partial_none[alternatives[partial_none]]]).astype(np.int64)
        ps = np.sort(np.concatenate([no_more[~alternatives[no_more]], unmatched,
                                     partial_none[~alternatives[partial_none]]])).astype(np.int64)
        exceptions.extend(in_payment_order(
            (pairless, list(decided.values())),
            (remit[~by_advice], [a for a in advised if not isinstance(a, tuple)]),
            (combined, [self.exception(p, S.AMBIGUOUS, COMBINED_DETAIL)
                        for p in combined.tolist()]),
            (np.array(found_pay, np.int64), found),
            (partial_why[why_rows], [partial_items[i] for i in why_rows.tolist()]),
            (ps, self.no_match_exceptions(ps, best[ps], best_c[ps], second_c[ps]))))
        proposals = gathered(
            picks(remit[by_advice], [a for a in advised if isinstance(a, tuple)]),
            picks(np.array(made_pay, np.int64), made),
            rows_of(partial_made.pay[made_rows], partial_made, made_rows),
            rows_of(sets_found, self.fill_sets, self.fill_row[sets_found]),
            rows_of(quoted_fits, fits, fit_row[quoted_fits]))
        self.drop(self.SEARCH_READS)
        proposed, exceptions = self.lookalike_proposals(proposals, exceptions)
        self.corroborate_instalments(proposed)
        return proposed, exceptions

    def lookalikes(self, pays: np.ndarray) -> Lookalikes:
        """The look-alike invoices of the payments ``pays`` (:mod:`review`)."""
        resembles = self.ident.resembles
        return lookalike_table(
            pays, tokens=self.tokens, pay_group=self.pay_group,
            ref_group=self.ref_group,
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

    def lookalike_proposals(self, proposals: Proposals, exceptions: list[ExceptionItem]
                            ) -> tuple[Proposals, list[ExceptionItem]]:
        """An identified payer's credit left to a person so far (an exception, or a proposal
        below the threshold) whose reference gives one of the payer's open invoices with one
        keystroke wrong, an invoice it pays part of or settles less a fee or a discount, and
        that no other look-alike rivals (``review.sole_lookalikes``), is proposed as that
        (LOOKALIKE_CONFIDENCE): instalments and short payments quoting a mangled number. Not
        when an open invoice of the payer's is for exactly the amount, nor with remittance
        advice."""
        threshold = self.policy.auto_apply_threshold
        left = np.unique(np.concatenate([
            np.fromiter((e.pay for e in exceptions), np.int64, len(exceptions)),
            proposals.pay[proposals.confidence < threshold]]))
        # (kept for the reviewer's candidates: review)
        self.looks = table = self.lookalikes(left)
        own_exact = self.evidence.own_exact.copy()
        own_exact[self.lines[1]] = True  # (and a credit with remittance advice)
        pays = left[(self.pay_group[left] >= 0) & ~own_exact[left]]
        rows = sole_lookalikes(table, pays)
        pays, rows = pays[rows >= 0], rows[rows >= 0]
        if len(pays) == 0:
            return proposals, exceptions
        inv, rel = table.inv[rows], table.rel[rows]
        amount = self.pay_amount[pays]
        # a part payment (the rest stays open), or a settlement less a fee or a discount
        part = rel == PARTIAL
        chosen = Proposals.of(
            pays, np.ones(len(pays), np.int64), inv, amount,
            np.where(part, 0, self.book.amount[inv] - amount), np.full(len(pays),
                                                                       LOOKALIKE_CONFIDENCE),
            np.where(part, PARTIAL_RULE, RULES.index("fuzzy_reference")),
            reason=np.where(rel == FEE, 1, np.where(rel == DISCOUNT, 2, 0)))  # (the reasons')
        taken = np.zeros(self.n, bool)
        taken[pays] = True
        return (Proposals.concat([proposals.take(np.flatnonzero(~taken[proposals.pay])),
                                  chosen]),
                [e for e in exceptions if not taken[e.pay]])

    def put_first(self, item: ExceptionItem, ks: np.ndarray, why: str) -> ExceptionItem:
        """The sets that fit, after single invoices that fit otherwise (pairs ``ks``: a set of
        one is the fewest invoices), with ``why`` said in the detail."""
        invs = [int(i) for i in self.pairs.inv[ks]]
        keep = [j for j, c in enumerate(item.candidates) if c not in invs]
        names = ", ".join(self.invoice_ids(invs))
        return ExceptionItem(item.pay, item.reason, f"{item.detail} Or {names} {why}.",
                             invs + [item.candidates[j] for j in keep],
                             [float(c) for c in self.conf[ks]] + [item.scores[j] for j in keep])

    def corroborate_instalments(self, proposals: Proposals) -> None:
        """Payments of the invoice's own customer that each pay part of the same quoted invoice
        today, together no more than it has open, vouch for each other (instalments, a split
        payment): each rises to the confidence of the surest, at most INSTALMENT_SIBLING_MAX;
        to that much when together they settle exactly what it has open."""
        first = proposals.start[:-1]
        inv = proposals.inv[first]
        parts = np.flatnonzero((proposals.rule == PARTIAL_RULE) & (proposals.remainder == 0)
                               & (self.pay_group[proposals.pay] == self.book.group[inv]))
        named = np.sort(inv[parts])
        if not (named[1:] == named[:-1]).any():  # (no invoice paid in part twice)
            return
        invs, at, count = np.unique(inv[parts], return_inverse=True, return_counts=True)
        paid = sums_by_code(at, proposals.applied[first[parts]], len(invs))
        conf = proposals.confidence[parts]
        surest = np.zeros(len(invs))
        np.maximum.at(surest, at, conf)
        surest = np.where(paid == self.book.amount[invs], INSTALMENT_SIBLING_MAX,
                          np.minimum(surest, INSTALMENT_SIBLING_MAX))
        vouched = (count >= 2) & (paid <= self.book.amount[invs])
        conf = np.where(vouched[at], np.maximum(conf, surest[at]), conf)
        proposals.confidence = proposals.confidence.copy()
        proposals.confidence[parts] = conf

    def payment_evidence(self) -> Evidence:
        """Per payment, what its pairs say (:class:`Evidence`): one compiled pass over them."""
        from cashmatch.engine import allocate_kernel

        pairs = self.pairs
        return Evidence(*allocate_kernel.payment_evidence(
            pairs.pay, pairs.inv, pairs.ref, self.rel, self.cust_rel, self.conf, self.n, _FULL,
            QUOTED_REF, OTHER, SAME, EXACT, CURRENCY))

    def best_full_settlement(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per payment: the best pair that settles an invoice in full (-1: none), its confidence,
        and the confidence of the runner-up that could make it ambiguous.

        A pair with reference evidence outranks any pair resting on the amount alone, so the
        runner-up that counts is one of the same kind.
        """
        best, second = self.evidence.best, self.evidence.second
        if len(self.pairs) == 0:
            return best, np.zeros(self.n), np.zeros(self.n)
        conf, has_ref = self.conf, self.pairs.ref > 0
        b, s = np.maximum(best, 0), np.maximum(second, 0)
        best_c = np.where(best >= 0, conf[b], 0.0)
        same_kind = (best >= 0) & (second >= 0) & (has_ref[b] == has_ref[s])
        second_c = np.where(same_kind, conf[s], 0.0)
        return best, best_c, second_c

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
    def single_proposal(self, p: int, k: int) -> Pick:
        return self.single_proposals(np.array([p]), np.array([k])), 0

    def single_proposals(self, ps: np.ndarray, ks: np.ndarray) -> Proposals:
        """:meth:`single_proposal` for many payments, as columns (one line each)."""
        pairs = self.pairs
        rel = self.rel[ks].astype(np.int64)
        has_adj = (rel == FEE) | (rel == DISCOUNT)
        ref, fz = pairs.ref[ks], pairs.fuzzy[ks].astype(bool)
        return Proposals.of(
            ps, np.ones(len(ps), np.int64), pairs.inv[ks], self.pay_amount[ps],
            np.where(has_adj, self.adj[ks], 0), self.conf[ks],
            np.where(ref <= 0, 0, np.where(fz | (ref < 0.97), 1, 2)),  # SINGLE_RULES
            reason=np.where(rel == FEE, 1, np.where(rel == DISCOUNT, 2, 0)))  # (the reasons')

    def pair_indices(self, p: int) -> np.ndarray:
        return self.order[self.starts[p] : self.starts[p + 1]]

    # -- partial / over payment of one quoted invoice
    def partial_outcomes(self, ps: np.ndarray
                         ) -> tuple[Proposals, np.ndarray, list[ExceptionItem]]:
        """Per payment of ``ps``: the partial or over payment of the invoice its reference names
        (at least PARTIAL_MIN_REF; one in another currency only when nothing in the payment's
        is named); an exception when that invoice is settled or in another currency, or when
        the amount settles another in full; neither when none is named or two about as surely.
        Decided for all of them at once, as arrays: the proposals (one a payment, ``pay``), the
        payments excepted and their exceptions (built one by one)."""
        from cashmatch.engine import allocate_kernel

        n_k = self.starts[ps + 1] - self.starts[ps]
        ks = self.order[spans(self.starts[ps], n_k)]  # each payment's pairs, best first
        if len(ks) == 0:
            return Proposals.empty(), np.zeros(0, np.int64), []
        owner = np.repeat(np.arange(len(ps)), n_k)
        rel, ref = self.rel[ks], self.pairs.ref[ks]
        # per payment, its first and second pairs (positions in ``ks``) that name an invoice
        # at least PARTIAL_MIN_REF in a partial, over, settled or currency relation; those in
        # the payment's currency; and the first that rivals one (-1 where none)
        named = _NOT_FULL[rel] & (ref >= PARTIAL_MIN_REF)
        first, second = allocate_kernel.first_two(
            owner, np.stack([named, named & (rel != CURRENCY), self.partial_rivals(ks)]),
            len(ps))
        (c1, s1, rival), (c2, s2, _) = first, second
        use_same = (s1 >= 0) | ((c1 >= 0) & (ref[np.maximum(c1, 0)] < 0.97))
        k1, k2 = np.where(use_same, s1, c1), np.where(use_same, s2, c2)
        k, k_next = ks[np.maximum(k1, 0)], ks[np.maximum(k2, 0)]
        kind = rel[np.maximum(k1, 0)]
        tie = (k2 >= 0) & (self.conf[k_next] >= self.conf[k] - AMBIGUITY_MARGIN)
        rivalled = rival >= 0
        inv = self.pairs.inv[k]
        # a settled or foreign invoice named (even as surely as another), or one rivalled
        gone = (kind == SETTLED) | (kind == CURRENCY)
        why = (k1 >= 0) & ~(tie & ~gone) & (gone | rivalled)
        exceptions = [self.partial_exception(p, kk)
                      for p, kk in zip(ps[why].tolist(), k[why].tolist(), strict=True)]
        make = np.flatnonzero((k1 >= 0) & ~tie & ~rivalled & ((kind == PARTIAL) | (kind == OVER)))
        # a part payment (the rest stays open), or one of more than the invoice is open for
        # (the excess unapplied)
        over = kind[make] == OVER
        inv = inv[make]
        made = Proposals.of(
            ps[make], np.ones(len(make), np.int64), inv,
            np.where(over, self.book.amount[inv], self.pay_amount[ps[make]]),
            np.zeros(len(make), np.int64), self.conf[k[make]], PARTIAL_RULE,
            remainder=np.where(over, PAYS_MORE, 0))
        return made, ps[why], exceptions

    def partial_rivals(self, ks: np.ndarray) -> np.ndarray:
        """Which pairs ``ks`` settle their invoice in full and rival a named invoice paid in
        part: named less surely, or an open item of the payer's for exactly the amount (a
        mangled number can be another real one)."""
        return _FULL[self.rel[ks]] & ((self.pairs.ref[ks] > 0) | (
            (self.rel[ks] == EXACT) & (self.cust_rel[ks] == SAME)))

    def partial_exception(self, p: int, k: int) -> ExceptionItem:
        """Why pair ``k``, the invoice payment ``p`` names and pays in part, is not proposed:
        the invoice is settled, in another currency, or another the amount settles rivals it
        (the named invoice first, then the payment's other candidates: a mangled number can
        name a settled or foreign invoice while the amount points to the right one)."""
        inv, rel = int(self.pairs.inv[k]), int(self.rel[k])
        name = self.book.ids[inv].as_py()
        if rel == SETTLED:
            return self.exception(p, S.DUPLICATE, f"Invoice {name} is already settled; this "
                                  "payment may be a duplicate.", extra=[inv])
        if rel == CURRENCY:
            return self.exception(p, S.CURRENCY_MISMATCH, f"The reference names {name}, which "
                                  "is invoiced in another currency.", extra=[inv])
        rivals = self.pair_indices(p)
        rivals = rivals[self.partial_rivals(rivals)]
        other = self.book.ids[int(self.pairs.inv[rivals[0]])].as_py()
        why = ("whose number resembles the reference too" if self.pairs.ref[rivals[0]] > 0
               else "an open invoice of the payer for exactly the amount")
        return self.exception(
            p, S.AMBIGUOUS, f"The reference names {name} but the amount settles {other} "
            f"in full, {why}; choose the right one.", np.concatenate([[k], rivals]))

    # -- several invoices for one payment
    def subset_proposal(self, p: int, *, quoted_only: bool) -> Pick | ExceptionItem | None:
        group_of, quoted_starts, quoted_rows = self.subset_inputs
        group = int(group_of[p])
        if group < 0:
            return None
        quoted = quoted_rows[quoted_starts[p] : quoted_starts[p + 1]]
        amount, fee = int(self.pay_amount[p]), int(self.fee_ceiling[p])
        opens = self.book.amount
        if quoted_only and len(quoted) >= 2:  # (all of them fit: quoted_set_proposals)
            total = int(opens[quoted].sum())
            found = self.subsets(opens[quoted], amount, tolerance=fee,
                                 max_size=len(quoted), min_size=2, limit=AMBIGUOUS_SETS)
            if found.unique is not None:
                chosen = quoted[list(found.unique)]
                return self.subset_allocation(p, chosen, quoted_share=1.0,
                                              exact=found.exact, identity=1.0,
                                              exhaustive=found.exhaustive,
                                              rule="subset_reference")
            if found.solutions:
                return self.ambiguous(p, [quoted[list(s)] for s in found.solutions])
            if total < amount:  # quoted ones plus some unquoted of the same customer
                return self.fill_subset(p, group, quoted, amount, fee)
            return None
        # amount alone (plus any quoted ones as fixed members)
        return self.fill_subset(p, group, quoted, amount, fee)

    def quoted_set_proposals(self, ps: np.ndarray) -> tuple[np.ndarray, Proposals]:
        """The payments of ``ps`` whose quoted open invoices (:attr:`subset_inputs`, two or
        more) together settle them, within the fee, and their proposals (one each, in that
        order) to apply all of them, for all such payments at once (the first answer of
        ``subset_proposal(quoted_only=True)``)."""
        group_of, quoted_starts, quoted_rows = self.subset_inputs
        n_q = quoted_starts[ps + 1] - quoted_starts[ps]
        ps = ps[(group_of[ps] >= 0) & (n_q >= 2)]
        if len(ps) == 0:
            return ps, Proposals.empty()
        n_q = quoted_starts[ps + 1] - quoted_starts[ps]
        total = np.add.reduceat(self.book.amount[quoted_rows[spans(quoted_starts[ps], n_q)]],
                                np.cumsum(n_q) - n_q)
        over = total - self.pay_amount[ps]
        fits = (over >= 0) & (over <= self.fee_ceiling[ps])
        ps, n_q, exact = ps[fits], n_q[fits], over[fits] == 0
        if len(ps) == 0:
            return ps, Proposals.empty()
        conf = {e: subset_confidence(quoted_share=1.0, exact=e, identity=1.0, exhaustive=True,
                                     chance=0.0) for e in (True, False)}
        props = self.set_proposals(ps, n_q, quoted_rows[spans(quoted_starts[ps], n_q)],
                                   np.where(exact, conf[True], conf[False]),
                                   np.full(len(ps), RULES.index("subset_reference")))
        return ps, props

    def quoted_subsets(self, ps: np.ndarray
                       ) -> tuple[dict[int, Pick | ExceptionItem | None], np.ndarray]:
        """``subset_proposal(p, quoted_only=True)`` of the payments ``ps`` at once: one compiled
        search over each one's quoted invoices (what it finds does not depend on the order of
        payments; the proposals built together), the choices for a person one by one; and
        apart, the payments whose quoted invoices, none fitting, fall short (for the caller
        to fill up: ``subset_proposal(p, quoted_only=False)``, once :meth:`prefill_subsets`
        is done). Not when the HiGHS fallback may run (its day budget is spent in payment
        order), for a payment of no positive amount, nor for fewer than QUOTED_BATCH_MIN
        payments (the batch's fixed cost is the larger): those are left to
        ``subset_proposal``."""
        none: tuple[dict[int, Pick | ExceptionItem | None], np.ndarray] = (
            {}, np.zeros(0, np.int64))
        if self.milp_calls_left > 0 and self.policy.subset_milp_node_limit > 0:
            return none
        group_of, quoted_starts, quoted_rows = self.subset_inputs
        n_q = quoted_starts[ps + 1] - quoted_starts[ps]
        ps = ps[(group_of[ps] >= 0) & (n_q >= 2) & (self.pay_amount[ps] > 0)]
        if len(ps) < QUOTED_BATCH_MIN:
            return none
        n_q = quoted_starts[ps + 1] - quoted_starts[ps]
        amount, fee = self.pay_amount[ps], self.fee_ceiling[ps]
        # each payment's quoted invoices are the block it searches (block p: its rows)
        f = search_blocks(
            amount=self.book.amount, due=None, members=quoted_rows, starts=quoted_starts,
            excluded=np.zeros(len(self.book.amount), bool), q_block=ps,
            fixed=np.zeros(0, np.int64), fixed_starts=np.zeros(len(ps) + 1, np.int64),
            target=amount, tolerance=fee, max_size=n_q, min_size=np.full(len(ps), 2),
            limit=AMBIGUOUS_SETS)
        out: dict[int, Pick | ExceptionItem | None] = dict.fromkeys(ps.tolist())
        one = np.flatnonzero(f.n_found == 1)  # the one set that fits: all proposed together
        s = one * f.limit
        conf = {(e, x): subset_confidence(quoted_share=1.0, exact=e, identity=1.0,
                                          exhaustive=x, chance=0.0)
                for e in (True, False) for x in (True, False)}
        props = self.set_proposals(
            ps[one], f.sol_len[s], f.rows[spans(f.sol_start[s], f.sol_len[s])],
            np.array([conf[k] for k in zip(f.exact[one].tolist(), f.exhaustive[one].tolist(),
                                           strict=True)]),
            np.full(len(one), RULES.index("subset_reference")))
        out.update((p, (props, j)) for j, p in enumerate(ps[one].tolist()))
        amb = np.flatnonzero(f.n_found >= 2).tolist()
        out.update(zip(ps[amb].tolist(), self.ambiguous_sets(
            ps[amb].tolist(), [[np.array(sol, np.int64) for sol in f.get(q).solutions]
                               for q in amb]), strict=True))
        # none fits: the quoted ones plus some unquoted of the same customer, if they fall short
        total = np.add.reduceat(self.book.amount[quoted_rows[spans(quoted_starts[ps], n_q)]],
                                np.cumsum(n_q) - n_q)
        return out, ps[(f.n_found == 0) & (total < amount)]

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
            n_inv = max(len(book.amount), 1)  # (payment, invoice) sorted and distinct:
            key = pairs.pay[q].astype(np.int64) * n_inv + pairs.inv[q]  # one key
            if not (key[1:] > key[:-1]).all():  # (as Pairs.concat leaves them: no sort)
                key = np.unique(key)
            pay, inv = np.divmod(key, n_inv)
            group = np.where(self.pay_group >= 0, self.pay_group, self.ref_group)
            group = np.where(group >= 0, group, sole_group(pay, book.group[inv], self.n))
            group = settling_group(group, pay, inv, book, self.pay_currency, self.pay_amount,
                                   self.fee_ceiling)
            keep = ((book.group[inv] == group[pay]) & (book.currency[inv] == self.pay_currency[pay])
                    & (book.amount[inv] > 0))  # a settled invoice takes no cash
            starts = np.searchsorted(pay[keep], np.arange(self.n + 1))
            self._subset_inputs = (group.astype(np.int64), starts, inv[keep])
        return self._subset_inputs

    def fill_subset(self, p: int, group: int, fixed: np.ndarray, amount: int, fee: int
                    ) -> Pick | ExceptionItem | None:
        if self.fill_slot[p] >= 0:  # decided in bulk
            return self.filled_outcome[self.fill_slot[p]]
        got = self.fill_search(p, group, fixed, amount, fee)
        if got is None:
            return None
        found, block_size = got
        choice = self.fill_choice(p, found, block_size, fixed,
                                  amount - int(self.book.amount[fixed].sum()), fee,
                                  float(self.set_identity(np.array([p]))[0]))
        if not isinstance(choice, tuple):
            return choice
        chosen, conf, rule = choice
        return self.set_proposals(np.array([p]), np.array([len(chosen)]), chosen,
                                  np.array([conf]), np.array([RULES.index(rule)])), 0

    def fill_choice(self, p: int, found: SubsetSearch, block_size: int, fixed: np.ndarray,
                    rest: int, fee: int, identity: float
                    ) -> tuple[np.ndarray, float, str] | ExceptionItem | None:
        """What the sets ``found`` (invoice rows) that with ``fixed`` settle payment ``p`` (``rest``
        left after ``fixed``) make: the invoices to propose with the confidence and rule, the
        choice for a person, or nothing."""
        # Occam: the fit with the fewest invoices, when no other of its size or smaller fits;
        # larger sets were not all tried or fit too, but on a large block some fit any amount
        # by chance and say little against a small one (how little: ``chance``)
        fewest = found.fewest(AMBIGUOUS_SETS)
        if fewest is not None:
            conf = self.fewest_confidence(
                len(fixed), len(fewest), [len(s) for s in found.solutions if s != fewest],
                found.exact, found.unique is not None and found.exhaustive, block_size, rest,
                fee, identity)
            return (np.concatenate([fixed, np.array(fewest, np.int64)]), conf,
                    SUBSET_RULES[0] if len(fixed) else SUBSET_RULES[1])
        if found.solutions:
            return self.ambiguous(p, [np.concatenate([fixed, np.array(s, np.int64)])
                                      for s in found.solutions])
        return None

    @staticmethod
    def fewest_confidence(n_fixed: int, n_added: int, rivals: list[int], exact: bool,
                          proven: bool, block_size: int, rest: int, fee: int, identity: float
                          ) -> float:
        """The confidence of ``n_fixed`` quoted invoices plus ``n_added`` others, the fit with
        the fewest invoices (``rivals``: the sizes of the other sets that fit; ``proven``: the
        only fit, all sets tried; :meth:`fill_choice`)."""
        share = n_fixed / (n_fixed + n_added)
        # a fit by chance as small as the one found
        chance = coincidence(block_size=block_size, max_size=n_added,
                             target=rest, tolerance=0 if exact else fee)
        conf = subset_confidence(quoted_share=share, exact=exact, identity=identity,
                                 exhaustive=True, chance=chance)
        if not proven:
            conf = min(conf, LARGER_SETS_UNTRIED_MAX)
        return conf * fewest_share(block_size=block_size, size=n_added, rival_sizes=rivals)

    @staticmethod
    def fewest_confidences(n_fixed: np.ndarray, n_added: np.ndarray, rivals: np.ndarray,
                           exact: np.ndarray, proven: np.ndarray, block_size: np.ndarray,
                           rest: np.ndarray, fee: np.ndarray, identity: np.ndarray
                           ) -> np.ndarray:
        """:meth:`fewest_confidence` of many fits at once (``rivals``: a row each, the sizes of
        the other sets that fit, -1 after them), the same floats: its quotients of integers
        (counts of subsets, amounts), which Python rounds from the exact quotient, divided as
        float64 where both sides are exact in float64 (below 2**53), the others by
        :meth:`fewest_confidence` itself."""
        exact_max = 2.0**53
        sizes = np.concatenate([n_added[:, None], rivals], axis=1)
        width = int(sizes.max(initial=0)) + 1
        keys, at = np.unique(block_size[:, None] * width + np.maximum(sizes, 0),
                             return_inverse=True)
        bs, size = np.divmod(keys, width)
        combs = [comb_count(b, k) for b, k in zip(bs.tolist(), size.tolist(), strict=True)]
        comb = np.array([min(c, exact_max) for c in combs], np.float64)[at.reshape(sizes.shape)]
        keys, at = np.unique(block_size * width + n_added, return_inverse=True)
        bs, size = np.divmod(keys, width)
        n_sets = np.array([min(subset_count(b, k), exact_max) for b, k in zip(
            bs.tolist(), size.tolist(), strict=True)], np.float64)[at.reshape(-1)]
        # subsets times the window's width over the amount left (coincidence)
        window = n_sets * (np.where(exact, 0, fee) + 1)
        chance = window / np.maximum(rest, 1)
        odds = COINCIDENCE_ODDS * chance / np.where(exact, 1.0, FEE_DEDUCTED)
        conf = np.minimum(COINCIDENCE_MAX / (1.0 + odds) * identity, 0.995)  # subset_confidence
        conf = np.where(proven, conf, np.minimum(conf, LARGER_SETS_UNTRIED_MAX))
        odds = np.zeros(len(conf))  # fewest_share's sum, rival after rival
        for j in range(1, sizes.shape[1]):
            odds += np.where(sizes[:, j] >= 0, comb[:, 0] / np.maximum(comb[:, j], 1), 0.0)
        conf = conf * (1.0 / (1.0 + odds))
        inexact = (((comb >= exact_max) & (sizes >= 0)).any(axis=1) | (window >= exact_max)
                   | (rest >= exact_max) | (n_added < 1))
        for i in np.flatnonzero(inexact).tolist():
            conf[i] = DayMatch.fewest_confidence(
                int(n_fixed[i]), int(n_added[i]), [r for r in rivals[i].tolist() if r >= 0],
                bool(exact[i]), bool(proven[i]), int(block_size[i]), int(rest[i]), int(fee[i]),
                float(identity[i]))
        return conf

    def fill_search(self, p: int, group: int, fixed: np.ndarray, amount: int, fee: int
                    ) -> tuple[SubsetSearch, int] | None:
        """The sets of the group's open invoices, other than ``fixed`` and those already
        claimed, that with ``fixed`` settle the payment (solutions as invoice rows), and how
        many invoices were searched; None when nothing is left to pay or to search."""
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

    def prefill_subsets(self, ps: np.ndarray) -> Callable[[], None]:
        """:meth:`fill_subset` for the payments ``ps`` at once (one compiled search over all
        their blocks, what it finds does not depend on the order of payments; the proposals
        built together). Not when the HiGHS fallback may run: its day budget is spent in
        payment order. The search runs beside the caller's work (it reads the book and
        ``claimed``, which nothing changes meanwhile; ``fill_slot`` is set at once); the call
        returned waits for it and builds the outcomes (``filled_outcome``, ``fill_sets``,
        ``fill_row``): call it before any of them is read."""
        from cashmatch.engine import allocate_kernel

        if self.milp_calls_left > 0 and self.policy.subset_milp_node_limit > 0:
            return lambda: None
        group_of, quoted_starts, quoted_rows = self.subset_inputs
        ps = ps[group_of[ps] >= 0]
        if len(ps) == 0:  # (none to search: fill_slot stays -1)
            return lambda: None
        fixed, fixed_at, fixed_total = allocate_kernel.gather_quoted(
            ps, quoted_starts, quoted_rows, self.book.amount)
        n_fixed = np.diff(fixed_at)
        index = amount_index(self.book)
        starts, members = index.block_start, index.members
        searched = search_blocks_beside(
            amount=self.book.amount, due=self.book.due, members=members, starts=starts,
            excluded=self.claimed, q_block=self.block_of(group_of[ps], self.pay_currency[ps]),
            fixed=fixed, fixed_starts=fixed_at,
            target=self.pay_amount[ps] - fixed_total,
            tolerance=self.fee_ceiling[ps], max_size=self.fill_max_size(n_fixed),
            min_size=np.where(n_fixed > 0, 1, 2), limit=AMBIGUOUS_SETS)
        self.fill_slot[ps] = np.arange(len(ps))
        return lambda: self.fill_outcomes(ps, fixed, fixed_at, fixed_total, searched())

    def fill_outcomes(self, ps: np.ndarray, fixed: np.ndarray, fixed_at: np.ndarray,
                      fixed_total: np.ndarray, f: BlockSearches) -> None:
        """What :meth:`prefill_subsets`' search ``f`` found for the payments ``ps`` (with their
        quoted invoices ``fixed[fixed_at[q]:fixed_at[q + 1]]``, of ``fixed_total``) makes:
        ``filled_outcome`` by slot, and the sets proposed as found (``fill_sets``, ``fill_row``)."""
        from cashmatch.engine import allocate_kernel

        n_fixed = np.diff(fixed_at)
        self.filled_outcome = [None] * len(ps)  # (None where no set is found)
        self.fill_none[ps] = f.n_found == 0
        rest, fee = self.pay_amount[ps] - fixed_total, self.fee_ceiling[ps]
        identity = self.set_identity(ps)
        # the fewest invoices that fit, where that is the answer, for all payments at once:
        # only its confidence is reckoned one by one (and the choices for a person built)
        slot = f.fewest(AMBIGUOUS_SETS)
        # (where no fewest is the answer, the sets that fit are a choice for a person: what
        # fill_choice makes of them, for all such payments at once)
        amb = np.flatnonzero((f.n_found > 0) & (slot < 0)).tolist()
        for q, item in zip(amb, self.ambiguous_sets(
                ps[amb].tolist(), [[np.concatenate([fixed[fixed_at[q] : fixed_at[q + 1]],
                                                    np.array(s, np.int64)])
                                    for s in f.get(q).solutions] for q in amb]), strict=True):
            self.filled_outcome[q] = item
        qs = np.flatnonzero(slot >= 0)
        if len(qs) == 0:
            return
        s, n_fix = slot[qs], n_fixed[qs]
        n_add = f.sol_len[s]
        # the sizes of the other sets that fit (-1: none), in their order
        lens = f.sol_len.reshape(-1, f.limit)[qs]
        other = ((np.arange(f.limit) < f.n_found[qs, None])
                 & (qs[:, None] * f.limit + np.arange(f.limit) != s[:, None]))
        rivals = np.where(other, lens, -1)
        conf = self.fewest_confidences(n_fix, n_add, rivals, f.exact[qs], f.exhaustive[qs]
                                       & (f.n_found[qs] == 1), f.size[qs], rest[qs], fee[qs],
                                       identity[qs])
        # each set's quoted invoices and those added (set_proposals orders them by due date)
        invs = allocate_kernel.join_spans(fixed, fixed_at[qs], n_fix, f.rows, f.sol_start[s],
                                          n_add)
        props = self.set_proposals(
            ps[qs], n_fix + n_add, invs, conf,
            np.where(n_fix > 0, RULES.index(SUBSET_RULES[0]), RULES.index(SUBSET_RULES[1])))
        for j, q in enumerate(qs.tolist()):
            self.filled_outcome[q] = props, j
        self.fill_sets, self.fill_row[ps[qs]] = props, np.arange(len(qs))

    def set_identity(self, ps: np.ndarray) -> np.ndarray:
        """How surely each payment of ``ps`` is the customer whose open invoices its sets are
        drawn from: its identification; a payer known only by the invoices it quotes, the
        pairs' customer factor for an unknown payer's reference of that strength."""
        unknown = np.where(self.evidence.max_ref[ps] >= STRONG_REF, CUSTOMER_FACTOR_STRONG[UNKNOWN],
                           CUSTOMER_FACTOR_WEAK[UNKNOWN])
        return np.where(self.pay_group[ps] >= 0, self.ident.confidence[ps], unknown)

    def subset_allocation(self, p: int, invs: np.ndarray, *, quoted_share: float,
                          exact: bool, identity: float, exhaustive: bool, rule: str,
                          chance: float = 0.0) -> Pick:
        conf = subset_confidence(quoted_share=quoted_share, exact=exact, identity=identity,
                                 exhaustive=exhaustive, chance=chance)
        return self.set_proposals(np.array([p]), np.array([len(invs)]), invs, np.array([conf]),
                                  np.array([RULES.index(rule)])), 0

    def set_proposals(self, ps: np.ndarray, counts: np.ndarray, invs: np.ndarray,
                      conf: np.ndarray, rule: np.ndarray) -> Proposals:
        """Per payment ``ps[i]``: the proposal to settle its ``counts[i]`` (at least one)
        invoice rows of ``invs`` (one set after another), with confidence ``conf[i]`` by rule
        ``RULES[rule[i]]``. Each
        invoice takes its open amount, earliest due first; a bank fee (what the set's total
        exceeds the payment by) is taken on the last, and what of it exceeds the last one's
        amount on the one before, and so on (never an applied amount below zero)."""
        owner = np.repeat(np.arange(len(ps)), counts)
        invs = invs[lexsort_ints((invs, self.book.due[invs], owner))]
        applied = self.book.amount[invs].astype(np.int64)
        end = np.cumsum(counts)
        start = end - counts
        short = np.add.reduceat(applied, start) - self.pay_amount[ps]
        csum = np.cumsum(applied)
        after = csum[end - 1][owner] - csum  # the set's amounts after each invoice
        adj = np.minimum(np.maximum(short[owner] - after, 0), applied)  # (np.clip's fixed
        # cost is several times these two's)
        applied -= adj
        return Proposals.of(ps, counts, invs, applied, adj, conf, rule)  # (a fee: BANK_FEE)

    def ambiguous(self, p: int, solutions: list[np.ndarray]) -> ExceptionItem:
        """The sets that fit, listed set after set, likeliest first: fewer invoices (many more
        large sets than small ones fit an amount by chance), then the older items (customers
        mostly pay their oldest items first)."""
        return self.ambiguous_sets([p], [solutions])[0]

    def ambiguous_sets(self, ps: list[int], solutions: list[list[np.ndarray]]
                       ) -> list[ExceptionItem]:
        """:meth:`ambiguous` of each payment of ``ps`` with its sets ``solutions``: the
        invoices' due dates and ids of all of them taken at once."""
        sets = [s.tolist() for sols in solutions for s in sols]  # (a few invoices each: lists)
        rows = list(chain.from_iterable(sets))
        dues = self.book.due[np.array(rows, np.int64)].tolist()
        ids = self.invoice_ids(rows)
        at = list(accumulate(map(len, sets), initial=0))
        out = []
        first = 0  # each payment's first set
        for p, n in zip(ps, map(len, solutions), strict=True):
            mine = range(first, first + n)
            first += n
            key = {i: (len(sets[i]), sum(dues[at[i] : at[i + 1]]) / len(sets[i])) for i in mine}
            ranked = sorted(mine, key=key.__getitem__)
            names = [" + ".join(ids[at[i] : at[i + 1]]) for i in ranked]
            cands: list[int] = []
            for i in ranked:
                cands.extend(r for r in sets[i] if r not in cands)
            out.append(ExceptionItem(p, S.AMBIGUOUS,
                                     f"The amount fits more than one set of open invoices: "
                                     f"{' or '.join(names)}; choose the right one.", cands,
                                     [0.5] * len(cands)))
        return out

    # -- remittance advice
    def linked_lines(self) -> tuple[pa.Table, np.ndarray]:
        """The remittance lines of this batch's payments (by payment id or end-to-end id),
        and the payment of each."""
        rem = self.remittances
        if rem is None or rem.num_rows == 0:
            return S.empty(S.REMITTANCES), np.zeros(0, np.int64)
        # an absent id links nothing (Arrow would match a line's null to a payment's null)
        pid, e2e = (index_in(rem.column(c), self.payments.column(c))
                    for c in ("payment_id", "end_to_end_id"))
        line_pay = np.where(pid >= 0, pid, e2e)
        linked = np.flatnonzero(line_pay >= 0)
        if len(linked) < len(line_pay):
            rem = rem.take(pa.array(linked))
        return rem, line_pay[linked]

    def remittance_lines(self) -> None:
        """Each remittance line's invoice among its candidates, and how surely (``remit``, read
        by :meth:`remittance_proposals`; the candidates kept for the reviewer). Reads the book
        and the lines alone: on a large day it runs beside the subset search."""
        from cashmatch.engine import allocate_kernel

        rem, line_pay, line_group, hits, fz = self.lines
        if len(line_pay) == 0:
            return
        paid, discount, deduction = (
            S.int_values(rem.column(c)) for c in ("paid_amount", "discount_amount",
                                                  "deduction_amount"))
        line_total = paid + discount + deduction
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
        lp = Pairs.concat([hits, fz, *(Pairs(p.pay, p.inv, np.full(len(p), REMITTANCE_AMOUNT_REF),
                                             p.fuzzy) for p in (by_amount, anyones))])
        # each line's invoice, scored among its candidates (ascending by (line, invoice), as
        # Pairs.concat leaves them): a (line, invoice) that only the anyone's search found is
        # not the payer's; the best, unless a rival is within 0.02; doubtful where its amounts
        # do not settle it while another candidate's they do (a typo that names a real but
        # different invoice), or where it is another customer's than the known payer's
        book = self.book
        score, line_inv, best_s, doubtful, self.lc_starts = (
            allocate_kernel.remittance_line_choices(
                lp.pay, lp.inv, lp.ref, hits.pay, hits.inv, fz.pay, fz.inv, anyones.pay,
                anyones.inv, line_group, line_total, self.pay_currency[line_pay], book.group,
                book.amount, book.currency))
        self.remit_line_candidates = Pairs(lp.pay, lp.inv, score, lp.fuzzy)
        # the candidate rows of each line: lc_order[lc_starts[i]:lc_starts[i+1]] (in row order,
        # as np.flatnonzero(lc.pay == i) gives them: the rows are in line order)
        self.lc_order = np.arange(len(lp))
        self.remit = {
            "pay": line_pay,
            "inv": line_inv,
            "strength": best_s,
            # another customer's invoice, when the payer is known, is never applied unseen
            "doubtful": doubtful,
            "paid": paid,
            "discount": discount,
            "deduction": deduction,
            "reason": rem.column("reason_code").to_pylist(),
            "ref": rem.column("invoice_ref").to_pylist(),
        }
        order = np.argsort(line_pay, kind="stable")
        starts = np.searchsorted(line_pay[order], np.arange(self.n + 1))
        self.remit_order, self.remit_starts = order, starts

    def remittance_proposals(self, ps: np.ndarray) -> dict[int, Pick | ExceptionItem]:
        """Per payment of ``ps`` (each with remittance lines): its lines applied as given, or
        an exception when a line names no open invoice or the lines apply more than was paid.
        Decided for all of them at once; only the exceptions are built one by one."""
        if len(ps) == 0:
            return {}
        r = self.remit
        n_lines = self.remit_starts[ps + 1] - self.remit_starts[ps]
        lines = self.remit_order[spans(self.remit_starts[ps], n_lines)]
        at = np.cumsum(n_lines) - n_lines  # every payment here has a line
        line_inv = r["inv"][lines]
        paid = np.add.reduceat(r["paid"][lines], at)
        ok = ~np.logical_or.reduceat(line_inv < 0, at) & (paid <= self.pay_amount[ps])
        conf = np.where(np.minimum.reduceat(r["strength"][lines], at) >= 0.97, 0.985, 0.93)
        # a line names one invoice but its amount settles another
        conf = np.where(np.logical_or.reduceat(r["doubtful"][lines], at), 0.8, conf)
        good = np.flatnonzero(ok)
        n_good = n_lines[good]
        lines = lines[spans(at[good], n_good)]
        disc, ded = r["discount"][lines], r["deduction"][lines]
        why = [f"{S.DEDUCTION}:{r['reason'][i] or 'UNSPECIFIED'}" if d
               else S.DISCOUNT if c else None
               for i, c, d in zip(lines.tolist(), disc.tolist(), ded.tolist(), strict=True)]
        reasons = tuple(dict.fromkeys(chain(ADJUSTMENT_REASONS, why)))
        code = {w: i for i, w in enumerate(reasons)}
        made = Proposals.of(
            ps[good], n_good, r["inv"][lines], r["paid"][lines], disc + ded, conf[good],
            REMITTANCE_RULE, reason=np.array([code[w] for w in why], np.int64),
            reasons=reasons, remainder=np.where(paid[good] < self.pay_amount[ps[good]],
                                                ADVICE_LESS, 0))
        out: dict[int, Pick | ExceptionItem] = {
            p: (made, j) for j, p in enumerate(ps[good].tolist())}
        for p in ps[~ok].tolist():
            out[p] = self.remittance_exception(p)
        return out

    def remittance_exception(self, p: int) -> ExceptionItem:
        """Why the remittance lines of payment ``p`` cannot be applied as given: a line names
        no open invoice, or the lines apply more than was paid."""
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
        return self.exception(
            p, S.SHORT_PAY,
            f"The remittance advice applies {paid} but the payment is {amount} "
            "(minor units); the payer paid less than advised.", np.array([], np.int64),
            extra=cands)

    # ------------------------------------------------------------------ exceptions
    def invoice_ids(self, rows: list[int]) -> list[str]:
        """The ids of invoices: of a few, a scalar each (an Arrow take costs as much as tens of
        scalars); of IDS_TAKE_MIN or more, one take."""
        ids = self.book.ids
        if len(rows) >= IDS_TAKE_MIN:
            return ids.take(pa.array(rows, pa.int64())).to_pylist()
        return [ids[r].as_py() for r in rows]

    def exception(self, p: int, reason: str, detail: str, ks: np.ndarray | None = None,
                  extra: list[int] | None = None) -> ExceptionItem:
        ks = self.pair_indices(p) if ks is None else ks
        return ExceptionItem(p, reason, detail, *candidate_list(
            extra or [], self.pairs.inv[ks].tolist(), self.conf[ks].tolist()))

    def no_pair_exceptions(self, ps: np.ndarray) -> dict[int, ExceptionItem]:
        """The exception of each payment of ``ps``, none of which has a candidate invoice."""
        why = {True: (S.UNKNOWN_PAYER, "The payer is not a known customer and the reference "
                      "names no open invoice."),
               False: (S.NO_CANDIDATE, "The payer is known but no open invoice fits the "
                       "reference or the amount.")}
        unknown = (self.pay_group[ps] < 0) & (self.ref_group[ps] < 0)
        return {p: ExceptionItem(p, *why[u]) for p, u in zip(ps.tolist(), unknown.tolist(),
                                                              strict=True)}

    def no_match_exceptions(self, ps: np.ndarray, best: np.ndarray, best_c: np.ndarray,
                            second_c: np.ndarray) -> list[ExceptionItem]:
        """Why nothing is proposed for each payment of ``ps`` (``best``, ``best_c``,
        ``second_c``: its best full settlement, that one's and the runner-up's confidence),
        with its candidates best first; for all of them at once."""
        n_k = self.starts[ps + 1] - self.starts[ps]
        none = self.no_pair_exceptions(ps[n_k == 0])
        if int(n_k.sum()) == 0:
            return [none[p] for p in ps.tolist()]
        cands = candidate_lists(self.order, self.starts[ps], n_k, self.pairs.inv, self.conf)
        top = self.order[np.minimum(self.starts[ps], len(self.order) - 1)]  # (if it has one)
        names = self.invoice_ids(self.pairs.inv[top].tolist())
        tie = (best >= 0) & (second_c >= best_c - AMBIGUITY_MARGIN) & (best_c >= 0.5)
        unknown = (self.pay_group[ps] < 0) & (self.pairs.ref[top] <= 0)
        top_c = self.conf[top].tolist()
        threshold = self.policy.auto_apply_threshold
        out: list[ExceptionItem] = []
        for p, n, t, u, name, c, (invs, scores) in zip(
                ps.tolist(), n_k.tolist(), tie.tolist(), unknown.tolist(), names, top_c, cands,
                strict=True):
            if n == 0:
                out.append(none[p])
                continue
            if t:
                reason, detail = S.AMBIGUOUS, ("Several open invoices fit this payment equally "
                                               "well; choose the right one.")
            elif u:
                reason, detail = S.UNKNOWN_PAYER, (f"Unknown payer; the amount equals {name}, "
                                                   "but nothing else links them.")
            else:
                why = ("is below the auto-apply threshold" if c < threshold else "is not "
                       "applied: the reference or the amount also points to another invoice")
                reason, detail = S.LOW_CONFIDENCE, (f"Best candidate {name} (confidence "
                                                    f"{c:.2f}) {why}.")
            out.append(ExceptionItem(p, reason, detail, invs, scores))
        return out

    # ------------------------------------------------------------------ settle
    def settle(self, proposals: Proposals, singles: Proposals
               ) -> tuple[Proposals, list[ExceptionItem]]:
        """Capacity check, strongest first; below-threshold proposals become exceptions.

        ``proposals`` and the one-to-one ``singles`` are ranked together. Decided in bulk
        where nothing competes: a proposal whose invoices no other eligible proposal line
        touches fits exactly when each line fits the invoice's open amount. Only proposals
        touching a shared invoice are walked in order. Returns the accepted ones (those of
        ``proposals`` in rank order, then those of ``singles`` in theirs) and the exceptions.
        """
        from cashmatch.engine import allocate_kernel

        every = Proposals.concat([proposals, singles])
        rule_ok = np.array([r in self.policy.auto_apply_rules for r in RULES], bool)
        need = every.applied + every.adjustment
        conf, n_obj = every.confidence, len(proposals)
        order, walk, ok, eligible = allocate_kernel.settle_counted(
            every.start, every.inv, need, self.book.amount, conf, every.rule, rule_ok,
            self.policy.auto_apply_threshold, n_obj)
        # strongest first, then payment id (each payment has one proposal: no ties left), of
        # those whose rank counts: the contested, the rejected and those not one-to-one (the
        # accepted singles keep their order)
        order = order[np.lexsort((self.payment_id_rank()[every.pay[order]], -conf[order]))]
        accepted, rejected, below = allocate_kernel.settle_walked(
            every.start, every.inv, need, self.book.amount, order, walk, ok, eligible, n_obj)
        accepted = every.take(accepted)
        pay, starts, flat_inv = every.pay, every.start, every.inv
        low = iter(self.low_confidence_exceptions(every, rejected[below]))
        exceptions: list[ExceptionItem] = []
        for j, low_conf in zip(rejected.tolist(), below.tolist(), strict=True):
            if low_conf:
                exceptions.append(next(low))
                continue
            exceptions.append(self.exception(
                int(pay[j]), S.DUPLICATE, "An invoice this payment settles is already settled "
                "by another payment; check for a duplicate payment.",
                extra=flat_inv[starts[j] : starts[j + 1]].tolist()))
        return accepted, exceptions

    def low_confidence_exceptions(self, every: Proposals, js: np.ndarray
                                  ) -> list[ExceptionItem]:
        """The LOW_CONFIDENCE exception of each proposal ``js`` of ``every`` (below the
        auto-apply threshold, or of a rule not auto-applied), in that order: its invoices
        first (scored its confidence), then their remittance rivals and its payment's
        candidates. The invoices' ids and the candidates gathered for all at once."""
        n_inv = every.start[js + 1] - every.start[js]
        invs = every.inv[spans(every.start[js], n_inv)]
        inv_l = invs.tolist()
        ids = self.invoice_ids(inv_l)
        ps = every.pay[js]
        n_k = self.starts[ps + 1] - self.starts[ps]
        ks = self.order[spans(self.starts[ps], n_k)]
        k_inv, k_conf = self.pairs.inv[ks].tolist(), self.conf[ks].tolist()
        out: list[ExceptionItem] = []
        at, at_k = 0, 0
        for p, n, nk, rule, c in zip(ps.tolist(), n_inv.tolist(), n_k.tolist(),
                                     every.rule[js].tolist(), every.confidence[js].tolist(),
                                     strict=True):
            mine = inv_l[at : at + n]
            item = ExceptionItem(p, S.LOW_CONFIDENCE, (
                f"Proposed {', '.join(ids[at : at + n])} ({RULES[rule]}, confidence {c:.2f}) "
                "is below the auto-apply threshold; confirm or choose another."),
                *candidate_list(mine + self.remittance_rivals(p, invs[at : at + n]),
                                k_inv[at_k : at_k + nk], k_conf[at_k : at_k + nk]))
            item.scores[:n] = [c] * min(n, len(item.scores))
            out.append(item)
            at, at_k = at + n, at_k + nk
        return out

    def payment_id_rank(self) -> np.ndarray:
        """Each payment's rank by payment id, equal ids in row order (ranked once: settle and
        the outputs both order by it): the inverse of one stable sort. (Equal ids never reach
        a result: :func:`~cashmatch.engine.result.check_invariants` rejects them.)"""
        if not hasattr(self, "_pid_rank"):
            by_id = np.asarray(pc.sort_indices(self.payments.column("payment_id")), np.int64)
            self._pid_rank = np.empty(self.n, np.int64)
            self._pid_rank[by_id] = np.arange(self.n)
        return self._pid_rank

    def remittance_rivals(self, p: int, chosen: np.ndarray) -> list[int]:
        """Invoices a payment's remittance lines could also mean, best first (for reviewers)."""
        lc = getattr(self, "remit_line_candidates", None)
        if lc is None or not hasattr(self, "remit_order"):
            return []
        lines = self.remit_order[self.remit_starts[p] : self.remit_starts[p + 1]]
        if len(lines) == 0:  # (most payments: none, and then no numpy steps on empty arrays)
            return []
        # the lines' candidate rows in row order (np.flatnonzero(np.isin(lc.pay, lines)),
        # without a pass over every row)
        lo = self.lc_starts[lines]
        mine = np.sort(self.lc_order[spans(lo, self.lc_starts[lines + 1] - lo)])
        taken = set(chosen.tolist())
        mine = mine[[v not in taken for v in lc.inv[mine].tolist()]]
        return lc.inv[mine[np.argsort(-lc.ref[mine], kind="stable")]].tolist()

    # ------------------------------------------------------------------ outputs
    def build_outputs(self, proposals: Proposals, exceptions: list[ExceptionItem]
                      ) -> tuple[pa.Table, pa.Table]:
        """The allocation table of the accepted ``proposals`` (:meth:`allocation_table`: on a
        large day on a thread of its own, its Arrow takes, sort and compiled pass beside the
        exceptions' Python here) and the exception table of ``exceptions``, then of the
        remainders the proposals leave unapplied."""
        a_pay = np.repeat(proposals.pay, proposals.lens)
        allocations = in_background(lambda: self.allocation_table(proposals, a_pay),
                                    thread=self.n >= SIDE_BY_SIDE_PAYMENTS)
        # remainders of partly applied payments
        applied_by_pay = sums_by_code(a_pay, proposals.applied, self.n)
        prop_pay = proposals.pay
        rest = np.flatnonzero(self.pay_amount[prop_pay] != applied_by_pay[prop_pay])
        first = (self.book.ids.take(pa.array(proposals.inv[proposals.start[rest]])).to_pylist()
                 if len(rest) else [])
        for j, invoice in zip(rest.tolist(), first, strict=True):
            invs = proposals.inv[proposals.start[j] : proposals.start[j + 1]].tolist()
            exceptions.append(ExceptionItem(
                int(prop_pay[j]), S.OVERPAYMENT,
                REMAINDERS[proposals.remainder[j]].format(invoice=invoice), invs,
                [float(proposals.confidence[j])] * len(invs)))
        return allocations(), self.exception_table(exceptions, applied_by_pay)

    def allocation_table(self, proposals: Proposals, a_pay: np.ndarray) -> pa.Table:
        """The allocation table of the accepted ``proposals``, ``a_pay`` each allocation's
        payment: the payments' ids and currencies, the invoices' ids and the reasons and rules
        taken by row (a few calls, whatever the rows), and what stays open after each
        application, in value-date then payment-id order."""
        lens, a_inv, a_applied = proposals.lens, proposals.inv, proposals.applied
        by_row = self.payments.select(["payment_id", "currency"]).take(pa.array(a_pay))
        n_a = len(a_pay)
        words = _strings(proposals.reasons + RULES).take(pa.array(np.concatenate(
            [proposals.reason, np.repeat(proposals.rule, lens) + len(proposals.reasons)])))
        order = lexsort_ints((self.payment_id_rank()[a_pay], self.pay_date[a_pay], a_inv))
        open_after = output_kernel.open_after(order, a_inv, a_applied + proposals.adjustment,
                                              self.book.amount)
        return pa.Table.from_arrays([
            by_row.column(0),
            self.book.ids.take(pa.array(a_inv)),
            pa.array(a_applied, pa.int64()),
            pa.array(proposals.adjustment, pa.int64()),
            words.slice(0, n_a),
            pa.array(open_after, pa.int64()),
            pa.array(np.round(np.repeat(proposals.confidence, lens), 4), pa.float64()),
            words.slice(n_a),
            by_row.column(1),
        ], schema=S.ALLOCATIONS)  # fmt: skip

    def exception_table(self, exceptions: list[ExceptionItem], applied_by_pay: np.ndarray
                        ) -> pa.Table:  # fmt: skip
        """The exception table of ``exceptions``, ``applied_by_pay`` what the allocations
        apply of each payment: their lists read by C iterators (``map``, ``chain``), not a
        Python loop per candidate."""
        e_pay = np.fromiter(map(attrgetter("pay"), exceptions), np.int64, count=len(exceptions))
        by_row = self.payments.select(["payment_id", "currency"]).take(pa.array(e_pay))
        candidates = list(map(attrgetter("candidates"), exceptions))
        c_offsets = np.zeros(len(exceptions) + 1, np.int32)
        np.cumsum(np.fromiter(map(len, candidates), np.int64, count=len(exceptions)),
                  out=c_offsets[1:])
        c_flat = np.fromiter(chain.from_iterable(candidates), np.int64, count=int(c_offsets[-1]))
        unapplied = self.pay_amount[e_pay] - applied_by_pay[e_pay]
        cand_ids = pa.ListArray.from_arrays(pa.array(c_offsets, pa.int32()),
                                            self.book.ids.take(pa.array(c_flat)))
        if cand_ids.type != S.EXCEPTIONS.field("candidates").type:  # (large ids: string)
            cand_ids = cand_ids.cast(S.EXCEPTIONS.field("candidates").type)
        scores = list(map(attrgetter("scores"), exceptions))
        s_offsets = np.zeros(len(exceptions) + 1, np.int32)
        np.cumsum(np.fromiter(map(len, scores), np.int64, count=len(exceptions)),
                  out=s_offsets[1:])
        scores = pa.ListArray.from_arrays(pa.array(s_offsets, pa.int32()), pa.array(
            list(map(round, chain.from_iterable(scores), repeat(4))), pa.float64()))
        grp_cust = self.pay_customer[e_pay]
        cust_ids = self.index.ids.take(pa.array(np.maximum(grp_cust, 0), mask=grp_cust < 0)) if len(
            self.index.ids) and len(e_pay) else pa.nulls(len(e_pay), pa.string())  # (none: null)
        texts = pa.array(list(map(attrgetter("reason"), exceptions))
                         + list(map(attrgetter("detail"), exceptions)), pa.string())
        return pa.Table.from_arrays([
            by_row.column(0),
            texts.slice(0, len(exceptions)),
            pa.array(unapplied, pa.int64()),
            cand_ids,
            texts.slice(len(exceptions)),
            by_row.column(1),
            scores,
            cust_ids,
        ], schema=S.EXCEPTIONS)  # fmt: skip
