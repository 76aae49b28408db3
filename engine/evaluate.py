"""Scoring a match result against the truth of a labelled day.

Truth file (``truth.csv`` / ``truth.parquet``, schema :data:`cashmatch.engine.schema.TRUTH`):

| column | meaning |
|---|---|
| payment_id | |
| scenario | what kind of credit it is (``clean_ref``, ``multi_invoice``, ``trap_amount``, ...) |
| matchable | ``true`` when some open invoice is really paid by it |
| invoice_ids | ``;``-separated invoices it truly pays (empty when not matchable) |
| applied_amounts | ``;``-separated decimal amounts, the cash applied to each invoice, aligned |
| currency | *extra*: the payment's currency (to read the amounts exactly) |
| customer_id | *extra*: the customer whose invoices it pays |
| adjustment_amounts | *extra*: ``;``-separated amounts written off beside the cash (fee, |
| | discount, deduction), aligned; ``0`` for none; an empty field means none for all |
| adjustment_reasons | *extra*: ``;``-separated ``BANK_FEE``, ``DISCOUNT``, |
| | ``DEDUCTION:<payer reason>`` or empty, aligned |
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from cashmatch.engine import schema as S
from cashmatch.engine.errors import InvalidInput, RowProblem
from cashmatch.engine.interchange import ReadResult, Source, _read_text_table, _text
from cashmatch.engine.money import format_minor_array, parse_minor_array

# ---------------------------------------------------------------- truth files


def _list_parents(lists: pa.ListArray) -> np.ndarray:
    return np.asarray(pc.list_parent_indices(lists), dtype=np.int64)


def truth_for_csv(truth: pa.Table) -> pa.Table:
    amounts = truth.column("applied_amounts").combine_chunks()
    parents = _list_parents(amounts)
    cur = pc.take(truth.column("currency").combine_chunks(), pa.array(parents))
    flat = format_minor_array(pc.list_flatten(amounts), cur)
    offsets = amounts.offsets
    text_lists = pa.ListArray.from_arrays(offsets, flat)
    empty = pa.scalar([], pa.list_(pa.string()))
    ids = pc.fill_null(truth.column("invoice_ids").combine_chunks(), empty)
    id_cur = pc.take(truth.column("currency").combine_chunks(), pa.array(_list_parents(ids)))
    adj_text = pa.ListArray.from_arrays(
        ids.offsets, format_minor_array(_aligned(truth, "adjustment_amounts", 0), id_cur)
    )
    reasons = pa.ListArray.from_arrays(ids.offsets, _aligned(truth, "adjustment_reasons", ""))
    return pa.table(
        {
            "payment_id": truth.column("payment_id"),
            "scenario": truth.column("scenario"),
            "matchable": pc.if_else(truth.column("matchable"), "true", "false"),
            "invoice_ids": pc.binary_join(pc.fill_null(truth.column("invoice_ids"), empty), ";"),
            "applied_amounts": pc.binary_join(pc.fill_null(text_lists, empty), ";"),
            "currency": pc.fill_null(truth.column("currency"), ""),
            "customer_id": pc.fill_null(truth.column("customer_id"), ""),
            "adjustment_amounts": pc.binary_join(adj_text, ";"),
            "adjustment_reasons": pc.binary_join(reasons, ";"),
        }
    )


def write_truth(truth: pa.Table, path: str | Path) -> None:
    """Truth as CSV (decimal strings) or Parquet (int64 minor units), by suffix."""
    path = Path(path)
    truth = truth.sort_by([("payment_id", "ascending")])
    if path.suffix == ".parquet":
        pq.write_table(truth, path)
    else:
        pacsv.write_csv(
            truth_for_csv(truth), path, write_options=pacsv.WriteOptions(quoting_style="needed")
        )


def read_truth(src: Source, *, source: str | None = None) -> ReadResult:
    """Read a truth file; rows that cannot be read are reported (line, column) and left out."""
    name = source or ("<bytes>" if isinstance(src, bytes) else str(src))
    problems: list[RowProblem] = []
    text_table = _read_text_table(src, name, problems)
    raw = text_table.table
    for col in ("payment_id", "scenario", "matchable", "invoice_ids", "applied_amounts"):
        if col not in raw.column_names:
            raise InvalidInput(f"{name}: missing required column {col!r}")
    if raw.schema.field("applied_amounts").type != pa.string():  # parquet, already typed
        return ReadResult(S.conform(raw, S.TRUTH), problems)
    n = raw.num_rows
    lines = text_table.lines
    bad = np.zeros(n, dtype=bool)

    def report(mask: np.ndarray, column: str, reason: str) -> None:
        for i in np.flatnonzero(mask & ~bad):
            problems.append(RowProblem(name, int(lines[i]), column, reason))
        bad[mask] = True

    pid = _text(raw.column("payment_id"))
    report(np.asarray(pid.is_null(), bool), "payment_id", "required value is empty")
    matchable_txt = pc.utf8_lower(pc.fill_null(_text(raw.column("matchable")), ""))
    is_true = np.asarray(pc.is_in(matchable_txt, value_set=pa.array(["true", "1", "yes"])), bool)
    is_false = np.asarray(pc.is_in(matchable_txt, value_set=pa.array(["false", "0", "no"])), bool)
    report(~is_true & ~is_false, "matchable", "expected true or false")
    currency = (
        pc.utf8_upper(_text(raw.column("currency")))
        if "currency" in raw.column_names
        else pa.nulls(n, pa.string())
    )
    currency = pc.fill_null(currency, "USD")

    def split(col: str) -> pa.ListArray:
        parts = pc.split_pattern(pc.fill_null(_text(raw.column(col)), ""), ";")
        flat = pc.utf8_trim_whitespace(pc.list_flatten(parts))
        parents = _list_parents(parts)
        keep = np.asarray(pc.not_equal(flat, ""), bool)
        counts = np.bincount(parents[keep], minlength=n)
        offsets = pa.array(np.r_[0, np.cumsum(counts)].astype(np.int32))
        return pa.ListArray.from_arrays(offsets, pc.filter(flat, pa.array(keep)))

    ids = split("invoice_ids")
    amount_text = split("applied_amounts")
    parents = _list_parents(amount_text)
    flat_cur = pc.take(currency, pa.array(parents))
    values, errors = parse_minor_array(pc.list_flatten(amount_text), flat_cur)
    failed = np.zeros(n, dtype=bool)
    failed[parents[np.not_equal(errors, None)]] = True
    report(failed, "applied_amounts", "expected ';'-separated decimal amounts")
    id_len = np.asarray(pc.list_value_length(ids), dtype=np.int64)
    amt_len = np.asarray(pc.list_value_length(amount_text), dtype=np.int64)
    report(id_len != amt_len, "applied_amounts", "not as many amounts as invoice_ids")
    report(is_false & (id_len > 0), "invoice_ids", "an unmatchable payment names invoices")
    amounts = pa.ListArray.from_arrays(amount_text.offsets, pa.array(values, pa.int64()))
    extra: dict[str, pa.Array] = {}
    if "adjustment_amounts" in raw.column_names or "adjustment_reasons" in raw.column_names:

        def aligned(col: str) -> pa.ListArray:
            """Items kept empty (an empty reason is "none"); no items for a row with no ids."""
            text = _text(raw.column(col)) if col in raw.column_names else pa.nulls(n, pa.string())
            # an empty field: no adjustment on any of the row's invoices
            blanks = pc.binary_repeat(
                pc.fill_null(pa.nulls(n, pa.string()), ";"),
                pa.array(np.maximum(id_len - 1, 0)),
            )
            parts = pc.split_pattern(pc.coalesce(text, blanks), ";")
            par = _list_parents(parts)
            keep = id_len[par] > 0
            counts = np.bincount(par[keep], minlength=n)
            offsets = pa.array(np.r_[0, np.cumsum(counts)].astype(np.int32))
            flat = pc.utf8_trim_whitespace(pc.list_flatten(parts))
            return pa.ListArray.from_arrays(offsets, pc.filter(flat, pa.array(keep)))

        adj_text = aligned("adjustment_amounts")
        adj_par = _list_parents(adj_text)
        adj_flat = pc.list_flatten(adj_text)
        adj_flat = pc.if_else(pc.equal(adj_flat, ""), "0", adj_flat)
        adj_values, adj_errors = parse_minor_array(adj_flat, pc.take(currency, pa.array(adj_par)))
        bad_adj = np.zeros(n, dtype=bool)
        bad_adj[adj_par[np.not_equal(adj_errors, None)]] = True
        report(bad_adj, "adjustment_amounts", "expected ';'-separated decimal amounts")
        reasons = aligned("adjustment_reasons")
        for col, lists in (("adjustment_amounts", adj_text), ("adjustment_reasons", reasons)):
            if col in raw.column_names:
                length = np.asarray(pc.list_value_length(lists), dtype=np.int64)
                report(length != id_len, col, f"not as many {col} as invoice_ids")
        extra["adjustment_amounts"] = pa.ListArray.from_arrays(
            adj_text.offsets, pa.array(adj_values, pa.int64())
        )
        extra["adjustment_reasons"] = reasons
    table = pa.table(
        {
            "payment_id": pid,
            "scenario": pc.fill_null(_text(raw.column("scenario")), "unknown"),
            "matchable": pa.array(is_true),
            "invoice_ids": ids,
            "applied_amounts": amounts,
            "currency": currency,
            "customer_id": _text(raw.column("customer_id"))
            if "customer_id" in raw.column_names
            else pa.nulls(n, pa.string()),
            **extra,
        }
    )
    table = S.conform(table, S.TRUTH)
    if bad.any():
        table = table.filter(pa.array(~bad))
    return ReadResult(table, sorted(problems, key=lambda p: p.line or 0))


# ---------------------------------------------------------------- scoring

SCENARIOS: tuple[str, ...] = (
    "clean_ref",
    "messy_ref",
    "missing_ref",
    "multi_invoice",
    "bank_fee",
    "discount",
    "short_pay_remittance",
    "remittance_multi",
    "instalment",
    "subsidiary_payer",
    "overpayment",
    "unmatchable",
    "trap_amount",
)
"""The scenarios of labelled days, in report order (see :mod:`cashmatch.fixtures.generator`)."""
UNMATCHABLE_SCENARIOS = frozenset({"unmatchable", "trap_amount"})
ONE_TO_ONE_SCENARIOS = ("clean_ref", "messy_ref", "missing_ref")

BANDS: tuple[tuple[str, float, float], ...] = (
    ("[0.95, 1]", 0.95, float("inf")),
    ("[0.90, 0.95)", 0.90, 0.95),
    ("[0.80, 0.90)", 0.80, 0.90),
    ("< 0.80", float("-inf"), 0.80),
)
TOP_N = 3


def _pct(num: int, den: int) -> float | None:
    return 100.0 * num / den if den else None


@dataclass(frozen=True, slots=True)
class ScenarioScore:
    """Counts for one scenario (or all of them); the percentages are derived."""

    scenario: str
    payments: int = 0
    matchable: int = 0
    auto: int = 0
    """auto-applied: allocation rows and no exception row (the interchange contract)."""
    auto_matchable: int = 0
    auto_correct: int = 0
    """auto-applied matchable payments whose set of invoice ids equals the truth."""
    wrong_auto: int = 0
    """auto-applied payments whose set of invoice ids differs from the truth."""
    posted: int = 0
    """payments with any allocation row (also those with an exception for the rest)."""
    posted_matchable: int = 0
    wrong_posted: int = 0
    unmatchable_applied: int = 0
    """unmatchable payments with any allocation row (must be 0)."""
    links_predicted: int = 0
    links_true: int = 0
    links_correct: int = 0
    amount_exact: int = 0
    """correct links of auto-applied payments whose applied amount equals the truth."""
    adjustments: int = 0
    """correct links of auto-applied payments with an adjustment in the truth or the result."""
    adjustments_exact: int = 0
    """... whose adjustment amount and reason (``BANK_FEE``, ``DEDUCTION:<reason>``) are the
    truth's."""
    excepted_matchable: int = 0
    """matchable payments with no allocation, only exceptions."""
    topn_hits: int = 0
    """... whose truth invoices are all among the first max(3, number of truth invoices)
    candidates."""
    missing: int = 0
    """truth payments that appear in neither output (an engine bug)."""

    @property
    def auto_pct(self) -> float | None:
        return _pct(self.auto_matchable, self.matchable)

    @property
    def auto_correct_pct(self) -> float | None:
        return _pct(self.auto_correct, self.matchable)

    @property
    def posted_pct(self) -> float | None:
        return _pct(self.posted_matchable, self.matchable)

    @property
    def wrong_auto_pct(self) -> float | None:
        return _pct(self.wrong_auto, self.auto)

    @property
    def wrong_posted_pct(self) -> float | None:
        return _pct(self.wrong_posted, self.posted)

    @property
    def link_precision(self) -> float | None:
        return _pct(self.links_correct, self.links_predicted)

    @property
    def link_recall(self) -> float | None:
        return _pct(self.links_correct, self.links_true)

    @property
    def amount_exact_pct(self) -> float | None:
        return _pct(self.amount_exact, self.links_correct)

    @property
    def adjustment_pct(self) -> float | None:
        return _pct(self.adjustments_exact, self.adjustments)

    @property
    def topn_pct(self) -> float | None:
        return _pct(self.topn_hits, self.excepted_matchable)

    def __add__(self, other: ScenarioScore) -> ScenarioScore:
        """Counts of two days (or two scenarios) together; the name of the left one."""
        counts = {
            f: getattr(self, f) + getattr(other, f)
            for f in self.__dataclass_fields__
            if f != "scenario"
        }
        return ScenarioScore(self.scenario, **counts)

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {f: getattr(self, f) for f in self.__dataclass_fields__}
        for name in (
            "auto_pct",
            "auto_correct_pct",
            "posted_pct",
            "wrong_auto_pct",
            "wrong_posted_pct",
            "link_precision",
            "link_recall",
            "amount_exact_pct",
            "adjustment_pct",
            "topn_pct",
        ):
            out[name] = getattr(self, name)
        return out


@dataclass(frozen=True, slots=True)
class BandScore:
    band: str
    allocations: int
    correct: int

    @property
    def correct_pct(self) -> float | None:
        return _pct(self.correct, self.allocations)

    def to_dict(self) -> dict[str, object]:
        return {
            "band": self.band,
            "allocations": self.allocations,
            "correct": self.correct,
            "correct_pct": self.correct_pct,
        }


@dataclass(frozen=True, slots=True)
class Score:
    scenarios: dict[str, ScenarioScore]
    overall: ScenarioScore
    bands: list[BandScore]
    one_to_one: ScenarioScore
    """clean, messy and missing references together (issue 2's bar)."""
    unknown_payments: int = 0
    """payments in the results that the truth does not know (ignored in the figures)."""
    reasons: dict[str, dict[str, int]] = field(default_factory=dict)
    """scenario -> exception reason -> number of exception rows."""

    def to_dict(self) -> dict[str, object]:
        return {
            "scenarios": {k: v.to_dict() for k, v in self.scenarios.items()},
            "overall": self.overall.to_dict(),
            "one_to_one": self.one_to_one.to_dict(),
            "bands": [b.to_dict() for b in self.bands],
            "unknown_payments": self.unknown_payments,
            "reasons": self.reasons,
        }


def combine(scores: Sequence[Score]) -> Score:
    """Several days' scores as one (counts added: e.g. several seeds of the same size)."""
    if not scores:
        raise ValueError("no scores to combine")
    names = [s for s in SCENARIOS if any(s in sc.scenarios for sc in scores)]
    names += sorted({s for sc in scores for s in sc.scenarios} - set(names))
    scenarios = {
        name: sum(
            (sc.scenarios[name] for sc in scores if name in sc.scenarios), ScenarioScore(name)
        )
        for name in names
    }
    bands = [
        BandScore(
            b.band,
            sum(sc.bands[i].allocations for sc in scores),
            sum(sc.bands[i].correct for sc in scores),
        )
        for i, b in enumerate(scores[0].bands)
    ]
    reasons: dict[str, dict[str, int]] = {}
    for sc in scores:
        for scen, by in sc.reasons.items():
            for reason, count in by.items():
                reasons.setdefault(scen, {})[reason] = reasons.get(scen, {}).get(reason, 0) + count
    return Score(
        scenarios,
        sum((sc.overall for sc in scores), ScenarioScore("overall")),
        bands,
        sum((sc.one_to_one for sc in scores), ScenarioScore("one_to_one")),
        unknown_payments=sum(sc.unknown_payments for sc in scores),
        reasons={s: reasons[s] for s in names if s in reasons},
    )


def _explode(table: pa.Table, list_col: str, *extra: str) -> tuple[np.ndarray, pa.Array, dict]:
    """(row index, flattened values, {extra list column: flattened values}) of a list column."""
    lists = table.column(list_col).combine_chunks()
    lists = pc.fill_null(lists, pa.scalar([], lists.type))
    parents = _list_parents(lists)
    flat = pc.list_flatten(lists)
    others = {}
    for name in extra:
        col = table.column(name).combine_chunks()
        others[name] = pc.list_flatten(pc.fill_null(col, pa.scalar([], col.type)))
    return parents, flat, others


def _aligned(truth: pa.Table, col: str, default: object) -> pa.Array:
    """The list column ``col`` flattened in step with the flattened ``invoice_ids``; rows whose
    list is missing (older truth files, hand-made tables) or not aligned give ``default``."""
    ids = truth.column("invoice_ids").combine_chunks()
    ids = pc.fill_null(ids, pa.scalar([], ids.type))
    lists = truth.column(col).combine_chunks()
    id_len = np.asarray(pc.list_value_length(ids), dtype=np.int64)
    ln = np.asarray(pc.fill_null(pc.list_value_length(lists), -1), dtype=np.int64)
    par = _list_parents(ids)
    id_start = np.asarray(ids.offsets, dtype=np.int64)[:-1] - ids.offsets[0].as_py()
    pos = np.arange(len(par)) - id_start[par]
    ok = (ln == id_len)[par]
    start = np.asarray(lists.offsets, dtype=np.int64)[:-1] - lists.offsets[0].as_py()
    flat = pc.list_flatten(pc.fill_null(lists, pa.scalar([], lists.type)))
    flat = pa.concat_arrays([flat, pa.array([default], flat.type)])  # a slot for the default
    idx = np.where(ok, start[par] + pos, len(flat) - 1)
    return pc.take(flat, pa.array(idx))


def _index_in(values: pa.Array | pa.ChunkedArray, keys: pa.Array) -> np.ndarray:
    """Position of each value in ``keys`` (-1 where absent)."""
    idx = pc.index_in(values, value_set=keys)
    return np.asarray(pc.fill_null(idx, -1), dtype=np.int64)


def evaluate(*, truth: pa.Table, allocations: pa.Table, exceptions: pa.Table) -> Score:
    """Score ``allocations``/``exceptions`` (schemas ALLOCATIONS/EXCEPTIONS, as written by
    ``cashmatch match``) against ``truth`` (schema TRUTH). Vectorised: joins on payment id."""
    truth = truth.combine_chunks()
    n = truth.num_rows
    pids = truth.column("payment_id").combine_chunks()
    if pc.count_distinct(pids).as_py() != n:
        raise InvalidInput("truth: payment ids are not unique")
    matchable = np.asarray(truth.column("matchable").combine_chunks().fill_null(False), bool)

    c = _link_counts(truth, allocations)
    n_truth, n_alloc, n_correct, n_amount_ok = (
        c["n_truth"],
        c["n_alloc"],
        c["n_correct"],
        c["n_amount_ok"],
    )
    truth_links, l_hit, a_idx = c["truth_links"], c["link_hit"], c["allocation_index"]
    a_known = a_idx >= 0

    e_idx = _index_in(exceptions.column("payment_id"), pids)
    has_exc = np.zeros(n, bool)
    has_exc[e_idx[e_idx >= 0]] = True
    strays = pa.chunked_array(
        [
            pc.filter(allocations.column("payment_id"), pa.array(~a_known)),
            pc.filter(exceptions.column("payment_id"), pa.array(e_idx < 0)),
        ],
        type=pa.string(),
    )
    unknown = pc.count_distinct(strays).as_py() if len(strays) else 0

    posted = n_alloc > 0
    auto = posted & ~has_exc
    set_ok = (n_alloc == n_truth) & (n_correct == n_truth)
    excepted = matchable & ~posted & has_exc

    # exceptions: are the truth invoices among the first max(3, k) candidates?
    exc = exceptions.filter(pa.array(e_idx >= 0))
    e_rows = e_idx[e_idx >= 0]
    c_par, c_inv, _ = _explode(exc, "candidates")
    cands = exc.column("candidates").combine_chunks()
    cands = pc.fill_null(cands, pa.scalar([], cands.type))
    starts = np.asarray(cands.offsets, dtype=np.int64)[:-1] - cands.offsets[0].as_py()
    position = np.arange(len(c_par)) - starts[c_par]
    c_p = e_rows[c_par]
    within = position < np.maximum(TOP_N, n_truth[c_p])
    cand_links = pa.table({"p": pa.array(c_p[within]), "i": pc.filter(c_inv, pa.array(within))})
    cand_links = cand_links.group_by(["p", "i"]).aggregate([])
    cand_hits = cand_links.join(truth_links, keys=["p", "i"], join_type="inner")
    n_cand_hits = np.bincount(np.asarray(cand_hits.column("p"), dtype=np.int64), minlength=n)
    topn = excepted & (n_truth > 0) & (n_cand_hits == n_truth)

    seen = posted | has_exc
    per_payment = {
        "payments": np.ones(n, np.int64),
        "matchable": matchable,
        "auto": auto,
        "auto_matchable": auto & matchable,
        "auto_correct": auto & matchable & set_ok,
        "wrong_auto": auto & ~(set_ok & matchable),
        "posted": posted,
        "posted_matchable": posted & matchable,
        "wrong_posted": posted & ~(set_ok & matchable),
        "unmatchable_applied": posted & ~matchable,
        "links_predicted": np.where(auto, n_alloc, 0),
        "links_true": np.where(auto, n_truth, 0),
        "links_correct": np.where(auto, n_correct, 0),
        "amount_exact": np.where(auto, n_amount_ok, 0),
        "adjustments": np.where(auto, c["n_adj_relevant"], 0),
        "adjustments_exact": np.where(auto, c["n_adj_ok"], 0),
        "excepted_matchable": excepted,
        "topn_hits": topn,
        "missing": ~seen,
    }
    scen = truth.column("scenario").combine_chunks().fill_null("unknown").dictionary_encode()
    codes = np.asarray(scen.indices, dtype=np.int64)
    names = scen.dictionary.to_pylist()
    sums = {
        k: np.bincount(codes, weights=np.asarray(v, np.int64), minlength=len(names))
        for k, v in per_payment.items()
    }
    by_name = {
        name: ScenarioScore(name, **{k: int(round(s[j])) for k, s in sums.items()})
        for j, name in enumerate(names)
    }
    order = [s for s in SCENARIOS if s in by_name] + sorted(set(by_name) - set(SCENARIOS))
    scenarios = {s: by_name[s] for s in order}
    overall = ScenarioScore("overall", **{k: int(np.sum(v)) for k, v in per_payment.items()})
    one = np.isin(codes, [j for j, s in enumerate(names) if s in ONE_TO_ONE_SCENARIOS])
    one_to_one = ScenarioScore(
        "one_to_one",
        **{k: int(np.sum(np.asarray(v, np.int64)[one])) for k, v in per_payment.items()},
    )

    # reliability: allocation links by confidence band
    conf = c["link_confidence"]
    bands = [
        BandScore(
            label,
            int(((conf >= lo) & (conf < hi)).sum()),
            int(((conf >= lo) & (conf < hi) & l_hit).sum()),
        )
        for label, lo, hi in BANDS
    ]
    # exception reasons by scenario
    reasons: dict[str, dict[str, int]] = {}
    if exc.num_rows:
        pairs = pa.table({"s": pa.array(codes[e_rows]), "r": exc.column("reason")})
        counted = pairs.group_by(["s", "r"]).aggregate([("r", "count")])
        for s_code, reason, count in zip(
            counted.column("s").to_pylist(),
            counted.column("r").to_pylist(),
            counted.column("r_count").to_pylist(),
            strict=True,
        ):
            reasons.setdefault(names[s_code], {})[reason] = count
    reasons = {
        s: dict(sorted(reasons[s].items(), key=lambda kv: (-kv[1], kv[0])))
        for s in order
        if s in reasons
    }
    return Score(scenarios, overall, bands, one_to_one, unknown_payments=unknown, reasons=reasons)


def _link_counts(truth: pa.Table, allocations: pa.Table) -> dict[str, np.ndarray]:
    """Per truth row: allocation links, truth links, correct links, links with the true amount;
    plus the links table itself (for the confidence bands)."""
    n = truth.num_rows
    pids = truth.column("payment_id").combine_chunks()
    t_par, t_inv, t_extra = _explode(truth, "invoice_ids", "applied_amounts")
    truth_links = pa.table(
        {
            "p": pa.array(t_par),
            "i": t_inv,
            "truth_amount": t_extra["applied_amounts"],
            "truth_adjustment": _aligned(truth, "adjustment_amounts", 0),
            "truth_reason": _aligned(truth, "adjustment_reasons", ""),
            "hit": pa.array(np.ones(len(t_par), bool)),
        }
    )
    a_idx = _index_in(allocations.column("payment_id"), pids)
    alloc = pa.table(
        {
            "p": pa.array(a_idx),
            "i": allocations.column("invoice_id"),
            "applied": allocations.column("applied_amount"),
            "adjustment": pc.fill_null(allocations.column("adjustment_amount"), 0),
            "reason": pc.fill_null(allocations.column("adjustment_reason"), ""),
            "confidence": allocations.column("confidence"),
        }
    ).filter(pa.array(a_idx >= 0))
    links = alloc.group_by(["p", "i"]).aggregate(
        [("applied", "sum"), ("adjustment", "sum"), ("reason", "max"), ("confidence", "max")]
    )
    links = links.join(truth_links, keys=["p", "i"], join_type="left outer")
    l_p = np.asarray(links.column("p"), dtype=np.int64)
    l_hit = np.asarray(links.column("hit").fill_null(False), bool)
    l_amount_ok = l_hit & np.asarray(
        pc.fill_null(pc.equal(links.column("applied_sum"), links.column("truth_amount")), False),
        bool,
    )
    t_adj = np.asarray(pc.fill_null(links.column("truth_adjustment"), 0), dtype=np.int64)
    p_adj = np.asarray(links.column("adjustment_sum"), dtype=np.int64)
    l_adj_relevant = l_hit & ((t_adj != 0) | (p_adj != 0))
    same_reason = pc.equal(
        pc.fill_null(links.column("reason_max"), ""), pc.fill_null(links.column("truth_reason"), "")
    )
    l_adj_ok = l_adj_relevant & (t_adj == p_adj) & np.asarray(pc.fill_null(same_reason, False))
    return {
        "n_adj_relevant": np.bincount(l_p[l_adj_relevant], minlength=n),
        "n_adj_ok": np.bincount(l_p[l_adj_ok], minlength=n),
        "n_truth": np.bincount(t_par, minlength=n),
        "n_alloc": np.bincount(l_p, minlength=n),
        "n_correct": np.bincount(l_p[l_hit], minlength=n),
        "n_amount_ok": np.bincount(l_p[l_amount_ok], minlength=n),
        "link_hit": l_hit,
        "link_confidence": np.asarray(
            links.column("confidence_max").fill_null(0.0), dtype=np.float64
        ),
        "truth_links": truth_links,
        "allocation_index": a_idx,
    }


def wrong_postings(*, truth: pa.Table, allocations: pa.Table, limit: int | None = None) -> pa.Table:
    """Payments with allocations whose invoice set differs from the truth, for a person to read:
    ``payment_id, scenario, truth_invoices, applied_invoices, rules, confidence``, highest
    confidence first: the most dangerous mistakes on top."""
    truth = truth.combine_chunks()
    c = _link_counts(truth, allocations)
    wrong = (c["n_alloc"] > 0) & ~(
        (c["n_alloc"] == c["n_truth"]) & (c["n_correct"] == c["n_truth"])
    )
    rows = np.flatnonzero(wrong)
    a_idx = c["allocation_index"]
    mine = np.isin(a_idx, rows)
    alloc = pa.table(
        {
            "p": pa.array(a_idx[mine]),
            "invoice_id": allocations.column("invoice_id").filter(pa.array(mine)),
            "rule": allocations.column("rule").filter(pa.array(mine)),
            "confidence": allocations.column("confidence").filter(pa.array(mine)),
        }
    ).sort_by([("p", "ascending"), ("invoice_id", "ascending")])
    got = alloc.group_by("p", use_threads=False).aggregate(
        [("invoice_id", "distinct"), ("rule", "distinct"), ("confidence", "max")]
    )
    p = np.asarray(got.column("p"), dtype=np.int64)
    empty = pa.scalar([], pa.list_(pa.string()))
    t = truth.take(pa.array(p))
    out = pa.table(
        {
            "payment_id": t.column("payment_id"),
            "scenario": t.column("scenario"),
            "truth_invoices": pc.binary_join(pc.fill_null(t.column("invoice_ids"), empty), ";"),
            "applied_invoices": pc.binary_join(got.column("invoice_id_distinct"), ";"),
            "rules": pc.binary_join(got.column("rule_distinct"), ";"),
            "confidence": got.column("confidence_max"),
        }
    ).sort_by(
        [("scenario", "ascending"), ("confidence", "descending"), ("payment_id", "ascending")]
    )
    return out if limit is None else out.slice(0, limit)


def read_results(results: str | Path) -> tuple[pa.Table, pa.Table]:
    """``allocations`` and ``exceptions`` of a ``cashmatch match --out DIR`` (CSV or Parquet)."""
    from cashmatch.engine import interchange as io

    d = Path(results)
    out = []
    for name, reader in (("allocations", io.read_allocations), ("exceptions", io.read_exceptions)):
        for ext in (".parquet", ".csv"):
            path = d / f"{name}{ext}"
            if path.exists():
                res = reader(path)
                if res.problems:
                    first = res.problems[0]
                    raise InvalidInput(f"{len(res.problems)} unreadable row(s), first: {first}")
                out.append(res.table)
                break
        else:
            raise InvalidInput(f"{d}: no {name}.csv or {name}.parquet")
    return out[0], out[1]
