"""Scoring against the truth: a hand-made perfect result scores 100%, wrong ones are counted."""

from __future__ import annotations

import pyarrow as pa
import pytest

from cashmatch.cli import main
from cashmatch.engine import interchange as io
from cashmatch.engine import schema as S
from cashmatch.engine.evaluate import (
    evaluate,
    read_results,
    read_truth,
    write_truth,
    wrong_postings,
)

# payment -> (scenario, invoices, applied amounts in cents)
TRUTH = {
    "P1": ("clean_ref", ["INV-1"], [10000]),
    "P2": ("multi_invoice", ["INV-2", "INV-3"], [5000, 7000]),
    "P3": ("short_pay_remittance", ["INV-4"], [9000]),
    "P4": ("overpayment", ["INV-5"], [3000]),
    "P5": ("unmatchable", [], []),
    "P6": ("trap_amount", [], []),
    "P7": ("messy_ref", ["INV-7"], [4000]),
    "P8": ("multi_invoice", ["INV-8", "INV-9", "INV-10", "INV-11"], [100, 200, 300, 400]),
}
AMOUNTS = {
    "P1": 10000,
    "P2": 12000,
    "P3": 9000,
    "P4": 3500,
    "P5": 777,
    "P6": 4000,
    "P7": 4000,
    "P8": 1000,
}


def truth_table() -> pa.Table:
    ids = list(TRUTH)
    return S.conform(
        pa.table(
            {
                "payment_id": ids,
                "scenario": [TRUTH[p][0] for p in ids],
                "matchable": [bool(TRUTH[p][1]) for p in ids],
                "invoice_ids": [TRUTH[p][1] for p in ids],
                "applied_amounts": pa.array([TRUTH[p][2] for p in ids], pa.list_(pa.int64())),
                "currency": ["EUR"] * len(ids),
                "customer_id": [("C1" if TRUTH[p][1] else None) for p in ids],
                # only P3 states its adjustment; the others leave it out (meaning none)
                "adjustment_amounts": pa.array(
                    [[1000] if p == "P3" else None for p in ids], pa.list_(pa.int64())
                ),
                "adjustment_reasons": pa.array(
                    [["DEDUCTION:DAMAGED"] if p == "P3" else None for p in ids],
                    pa.list_(pa.string()),
                ),
            }
        ),
        S.TRUTH,
    )


def allocations(rows: list[tuple]) -> pa.Table:
    """rows: (payment_id, invoice_id, applied, confidence[, adjustment, reason])"""
    return S.conform(
        pa.table(
            {
                "payment_id": [r[0] for r in rows],
                "invoice_id": [r[1] for r in rows],
                "applied_amount": pa.array([r[2] for r in rows], pa.int64()),
                "adjustment_amount": pa.array(
                    [r[4] if len(r) > 4 else 0 for r in rows], pa.int64()
                ),
                "adjustment_reason": pa.array(
                    [r[5] if len(r) > 5 else None for r in rows], pa.string()
                ),
                "invoice_open_after": pa.array([0] * len(rows), pa.int64()),
                "confidence": pa.array([r[3] for r in rows], pa.float64()),
                "rule": ["test"] * len(rows),
                "currency": ["EUR"] * len(rows),
            }
        ),
        S.ALLOCATIONS,
    )


def exceptions(rows: list[tuple[str, str, int, list[str]]]) -> pa.Table:
    return S.conform(
        pa.table(
            {
                "payment_id": [r[0] for r in rows],
                "reason": [r[1] for r in rows],
                "unapplied_amount": pa.array([r[2] for r in rows], pa.int64()),
                "candidates": pa.array([r[3] for r in rows], pa.list_(pa.string())),
                "detail": ["x"] * len(rows),
                "currency": ["EUR"] * len(rows),
            }
        ),
        S.EXCEPTIONS,
    )


def perfect() -> tuple[pa.Table, pa.Table]:
    alloc = [
        ("P1", "INV-1", 10000, 0.99),
        ("P2", "INV-2", 5000, 0.97),
        ("P2", "INV-3", 7000, 0.97),
        ("P3", "INV-4", 9000, 0.96, 1000, "DEDUCTION:DAMAGED"),
        ("P4", "INV-5", 3000, 0.99),
        ("P7", "INV-7", 4000, 0.95),
        ("P8", "INV-8", 100, 0.96),
        ("P8", "INV-9", 200, 0.96),
        ("P8", "INV-10", 300, 0.96),
        ("P8", "INV-11", 400, 0.96),
    ]
    exc = [
        ("P4", "OVERPAYMENT", 500, []),
        ("P5", "UNKNOWN_PAYER", 777, []),
        ("P6", "UNKNOWN_PAYER", 4000, ["INV-99"]),
    ]
    return allocations(alloc), exceptions(exc)


def test_a_perfect_result_scores_100() -> None:
    alloc, exc = perfect()
    score = evaluate(truth=truth_table(), allocations=alloc, exceptions=exc)
    o = score.overall
    assert (o.payments, o.matchable) == (8, 6)
    # the overpayment is applied correctly but keeps an exception for the excess
    assert o.auto_matchable == 5 and o.posted_matchable == 6
    assert score.scenarios["overpayment"].auto_pct == 0.0
    assert score.scenarios["overpayment"].posted_pct == 100.0
    assert score.scenarios["overpayment"].wrong_posted == 0
    for name in ("clean_ref", "multi_invoice", "short_pay_remittance", "messy_ref"):
        s = score.scenarios[name]
        assert s.auto_pct == 100.0 and s.wrong_auto == 0, name
        assert s.link_precision == 100.0 and s.link_recall == 100.0, name
        assert s.amount_exact_pct == 100.0, name
    assert o.wrong_auto == 0 and o.wrong_posted == 0 and o.unmatchable_applied == 0
    assert o.missing == 0 and score.unknown_payments == 0
    assert o.excepted_matchable == 0 and o.topn_pct is None
    assert (o.adjustments, o.adjustments_exact) == (1, 1)
    assert score.scenarios["short_pay_remittance"].adjustment_pct == 100.0
    assert [b.allocations for b in score.bands] == [10, 0, 0, 0]
    assert score.bands[0].correct_pct == 100.0
    assert score.one_to_one.payments == 2 and score.one_to_one.auto_pct == 100.0
    assert list(score.scenarios)[:3] == ["clean_ref", "messy_ref", "multi_invoice"]


def test_wrong_results_are_counted_as_wrong() -> None:
    alloc = allocations(
        [
            ("P1", "INV-9", 10000, 0.97),  # wrong invoice
            ("P2", "INV-2", 12000, 0.92),  # one of two invoices: set wrong, link right
            ("P3", "INV-4", 8000, 0.85, 1000, "BANK_FEE"),  # right invoice, wrong amounts
            ("P6", "INV-99", 4000, 0.5),  # a trap auto-applied
        ]
    )
    exc = exceptions(
        [
            ("P4", "OVERPAYMENT", 3500, ["INV-5"]),  # left to a person, truth first
            ("P5", "UNKNOWN_PAYER", 777, []),
            ("P7", "NO_CANDIDATE", 4000, ["A", "B", "C", "INV-7"]),  # truth 4th: a miss
            # four truth invoices: all among the first four candidates is a hit
            ("P8", "AMBIGUOUS", 1000, ["INV-11", "INV-10", "INV-9", "INV-8", "X"]),
        ]
    )
    score = evaluate(truth=truth_table(), allocations=alloc, exceptions=exc)
    o = score.overall
    assert o.auto == 4 and o.auto_matchable == 3
    assert o.auto_correct == 1  # P3's set is right (its amount is not)
    assert o.wrong_auto == 3  # P1, P2, P6
    assert o.unmatchable_applied == 1
    assert score.scenarios["trap_amount"].unmatchable_applied == 1
    assert score.scenarios["clean_ref"].wrong_auto_pct == 100.0
    m = score.scenarios["multi_invoice"]
    assert (m.links_predicted, m.links_true, m.links_correct) == (1, 2, 1)
    assert m.link_precision == 100.0 and m.link_recall == 50.0
    s = score.scenarios["short_pay_remittance"]
    assert s.links_correct == 1 and s.amount_exact == 0
    assert (s.adjustments, s.adjustments_exact) == (1, 0)  # the reason is wrong
    # links over auto-applied: predicted P1 1 + P2 1 + P3 1 + P6 1; true 1 + 2 + 1 + 0
    assert (o.links_predicted, o.links_true, o.links_correct) == (4, 4, 2)
    assert o.excepted_matchable == 3  # P4, P7, P8
    assert o.topn_hits == 2  # P4 and P8, not P7
    assert score.scenarios["messy_ref"].topn_pct == 0.0
    bands = {b.band: b for b in score.bands}
    assert bands["[0.95, 1]"].allocations == 1 and bands["[0.95, 1]"].correct == 0
    assert bands["[0.90, 0.95)"].correct == 1
    assert bands["[0.80, 0.90)"].correct == 1
    assert bands["< 0.80"].allocations == 1 and bands["< 0.80"].correct == 0


def test_reasons_by_scenario_and_the_wrong_postings_listed() -> None:
    alloc = allocations(
        [
            ("P1", "INV-9", 10000, 0.97),
            ("P2", "INV-2", 12000, 0.92),
            ("P4", "INV-5", 3000, 0.99),
            ("P7", "INV-7", 4000, 0.95),
        ]
    )
    exc = exceptions(
        [
            ("P4", "OVERPAYMENT", 500, []),
            ("P5", "UNKNOWN_PAYER", 777, []),
            ("P6", "UNKNOWN_PAYER", 4000, []),
            ("P8", "AMBIGUOUS", 1000, []),
        ]
    )
    score = evaluate(truth=truth_table(), allocations=alloc, exceptions=exc)
    assert score.reasons == {
        "multi_invoice": {"AMBIGUOUS": 1},
        "overpayment": {"OVERPAYMENT": 1},
        "unmatchable": {"UNKNOWN_PAYER": 1},
        "trap_amount": {"UNKNOWN_PAYER": 1},
    }
    wrong = wrong_postings(truth=truth_table(), allocations=alloc)
    assert wrong.to_pylist() == [
        {
            "payment_id": "P1",
            "scenario": "clean_ref",
            "truth_invoices": "INV-1",
            "applied_invoices": "INV-9",
            "rules": "test",
            "confidence": 0.97,
        },
        {
            "payment_id": "P2",
            "scenario": "multi_invoice",
            "truth_invoices": "INV-2;INV-3",
            "applied_invoices": "INV-2",
            "rules": "test",
            "confidence": 0.92,
        },
    ]


def test_missing_and_unknown_payments_are_reported() -> None:
    alloc = allocations([("P1", "INV-1", 10000, 0.99), ("PX", "INV-1", 1, 0.99)])
    exc = exceptions([("P2", "NO_CANDIDATE", 12000, [])])
    score = evaluate(truth=truth_table(), allocations=alloc, exceptions=exc)
    assert score.overall.missing == 6
    assert score.unknown_payments == 1
    assert score.overall.auto == 1


def test_truth_csv_round_trip_and_bad_rows(tmp_path) -> None:
    path = tmp_path / "truth.csv"
    write_truth(truth_table(), path)
    text = path.read_text()
    assert '"P2","multi_invoice","true","INV-2;INV-3","50.00;70.00","EUR","C1"' in text
    back = read_truth(path)
    assert back.problems == []
    want = truth_table().sort_by("payment_id")
    assert back.table.select(range(7)).equals(want.select(range(7)))
    # adjustments left out in the table are written (and read back) as none, aligned
    assert back.table.column("adjustment_amounts").to_pylist()[:3] == [[0], [0, 0], [1000]]
    assert back.table.column("adjustment_reasons").to_pylist()[2] == ["DEDUCTION:DAMAGED"]
    assert evaluate(truth=back.table, allocations=perfect()[0], exceptions=perfect()[1]) == (
        evaluate(truth=want, allocations=perfect()[0], exceptions=perfect()[1])
    )
    lines = text.splitlines()
    lines[1] = lines[1].replace("100.00", "1O0.00")  # P1: an unreadable amount
    lines[2] = lines[2].replace('"50.00;70.00"', '"50.00"')  # P2: fewer amounts than ids
    path.write_text("\n".join(lines) + "\n")
    bad = read_truth(path)
    assert [(p.line, p.column) for p in bad.problems] == [
        (2, "applied_amounts"),
        (3, "applied_amounts"),
    ]
    assert bad.table.num_rows == len(TRUTH) - 2


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_score_command_reads_result_files(tmp_path, capsys, fmt: str) -> None:
    alloc, exc = perfect()
    write_truth(truth_table(), tmp_path / f"truth.{fmt}")
    res = tmp_path / "out"
    res.mkdir()
    io.write_allocations(alloc, res / f"allocations.{fmt}")
    io.write_exceptions(exc, res / f"exceptions.{fmt}")
    back_alloc, back_exc = read_results(res)
    assert back_alloc.num_rows == alloc.num_rows and back_exc.num_rows == exc.num_rows
    code = main(
        [
            "score",
            "--truth",
            str(tmp_path / f"truth.{fmt}"),
            "--results",
            str(res),
            "--json",
            str(tmp_path / "score.json"),
            "--reasons",
            "--examples",
            "5",
        ]
    )
    assert code == 0
    shown = capsys.readouterr().out
    assert "clean_ref" in shown and "overall" in shown and "[0.95, 1]" in shown
    assert "OVERPAYMENT" in shown and "wrong postings (0 shown)" in shown
    import json

    figures = json.loads((tmp_path / "score.json").read_text())
    assert figures["overall"]["auto_matchable"] == 5
    assert figures["overall"]["wrong_auto"] == 0


def test_score_command_names_a_missing_results_file(tmp_path, capsys) -> None:
    write_truth(truth_table(), tmp_path / "truth.csv")
    code = main(["score", "--truth", str(tmp_path / "truth.csv"), "--results", str(tmp_path)])
    assert code == 2
    assert "allocations" in capsys.readouterr().err


def test_generate_match_score_end_to_end(tmp_path, capsys) -> None:
    day = tmp_path / "day"
    assert main(["generate", "--payments", "120", "--seed", "4", "--out", str(day)]) == 0
    out = tmp_path / "out"
    assert (
        main(
            [
                "match",
                "--invoices",
                str(day / "invoices.csv"),
                "--payments",
                str(day / "payments.csv"),
                "--remittances",
                str(day / "remittances.csv"),
                "--customers",
                str(day / "customers.csv"),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert (
        main(
            [
                "score",
                "--truth",
                str(day / "truth.csv"),
                "--results",
                str(out),
                "--json",
                str(tmp_path / "s.json"),
            ]
        )
        == 0
    )
    import json

    figures = json.loads((tmp_path / "s.json").read_text())
    assert figures["overall"]["payments"] == 120
    assert figures["overall"]["missing"] == 0
    assert figures["unknown_payments"] == 0


def test_scores_of_several_days_combine_by_adding_counts() -> None:
    from cashmatch.commands.score import markdown
    from cashmatch.engine.evaluate import combine

    alloc, exc = perfect()
    good = evaluate(truth=truth_table(), allocations=alloc, exceptions=exc)
    bad = evaluate(
        truth=truth_table(),
        allocations=allocations([("P1", "INV-9", 10000, 0.97)]),
        exceptions=exceptions([("P2", "NO_CANDIDATE", 12000, ["INV-2", "INV-3"])]),
    )
    both = combine([good, bad])
    assert both.overall.payments == 16
    assert both.overall.auto_matchable == good.overall.auto_matchable + 1
    assert both.overall.wrong_auto == 1
    assert both.scenarios["clean_ref"].auto_correct == 1
    assert both.scenarios["multi_invoice"].topn_hits == 1
    assert both.bands[0].allocations == good.bands[0].allocations + 1
    assert both.reasons["multi_invoice"] == {"NO_CANDIDATE": 1}
    text = markdown(both)
    assert text.splitlines()[0].startswith("| scenario | payments | matchable | auto% |")
    assert "| clean_ref | 2 | 2 | 100.0 | 50.00 |" in text
    assert "| **overall** | **16** |" in text


# ---------------------------------------------------------------- differential: slow reference


def _slow_overall(truth: pa.Table, alloc: pa.Table, exc: pa.Table) -> dict[str, int]:
    """Obviously-correct scoring with dicts and sets, one payment at a time."""
    links: dict[str, dict[str, int]] = {}
    adjust: dict[tuple[str, str], tuple[int, str]] = {}
    conf: dict[tuple[str, str], float] = {}
    for r in alloc.to_pylist():
        d = links.setdefault(r["payment_id"], {})
        d[r["invoice_id"]] = d.get(r["invoice_id"], 0) + r["applied_amount"]
        a, why = adjust.get((r["payment_id"], r["invoice_id"]), (0, ""))
        adjust[(r["payment_id"], r["invoice_id"])] = (
            a + (r["adjustment_amount"] or 0),
            max(why, r["adjustment_reason"] or ""),
        )
        key = (r["payment_id"], r["invoice_id"])
        conf[key] = max(conf.get(key, 0.0), r["confidence"])
    cands: dict[str, list[list[str]]] = {}
    for r in exc.to_pylist():
        cands.setdefault(r["payment_id"], []).append(r["candidates"] or [])
    out = dict.fromkeys(
        ["auto", "auto_matchable", "auto_correct", "wrong_auto", "posted", "wrong_posted",
         "unmatchable_applied", "links_predicted", "links_true", "links_correct",
         "amount_exact", "excepted_matchable", "topn_hits", "missing", "band0", "band0_ok",
         "adjustments", "adjustments_exact"],
        0,
    )  # fmt: skip
    for t in truth.to_pylist():
        pid, m = t["payment_id"], t["matchable"]
        true = dict(zip(t["invoice_ids"], t["applied_amounts"], strict=True))
        true_adj = dict(
            zip(
                t["invoice_ids"],
                zip(t["adjustment_amounts"], t["adjustment_reasons"], strict=True),
                strict=True,
            )
        )
        got = links.get(pid, {})
        posted, has_exc = bool(got), pid in cands
        auto = posted and not has_exc
        right = m and set(got) == set(true)
        out["missing"] += not posted and not has_exc
        out["posted"] += posted
        out["wrong_posted"] += posted and not right
        out["unmatchable_applied"] += posted and not m
        if auto:
            out["auto"] += 1
            out["auto_matchable"] += m
            out["auto_correct"] += right
            out["wrong_auto"] += not right
            out["links_predicted"] += len(got)
            out["links_true"] += len(true)
            out["links_correct"] += len(set(got) & set(true))
            out["amount_exact"] += sum(got[i] == true[i] for i in set(got) & set(true))
            for i in set(got) & set(true):
                if true_adj[i][0] or adjust[(pid, i)][0]:
                    out["adjustments"] += 1
                    out["adjustments_exact"] += adjust[(pid, i)] == true_adj[i]
        if m and not posted and has_exc:
            out["excepted_matchable"] += 1
            k = max(3, len(true))
            shown = {c for lst in cands[pid] for c in lst[:k]}
            out["topn_hits"] += bool(true) and set(true) <= shown
        for inv in got:
            if conf[(pid, inv)] >= 0.95:
                out["band0"] += 1
                out["band0_ok"] += inv in true
    return out


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_evaluate_agrees_with_a_slow_reference_on_perturbed_results(seed: int) -> None:
    import numpy as np
    import pyarrow.compute as pc

    from cashmatch.fixtures.generator import generate_day, oracle_result

    day = generate_day(payments=400, seed=seed)
    alloc, exc = oracle_result(day)
    rng = np.random.default_rng(seed)
    n = alloc.num_rows
    # perturb: drop links, point links at other invoices, change amounts and confidences,
    # add exceptions with shuffled candidates, apply some unmatchable credits
    keep = rng.random(n) > 0.1
    inv_ids = day.invoices.column("invoice_id")
    other = pc.take(inv_ids, pa.array(rng.integers(0, len(inv_ids), n)))
    swap = rng.random(n) < 0.1
    alloc = alloc.set_column(
        1, "invoice_id", pc.if_else(pa.array(swap), other, alloc.column("invoice_id"))
    )
    amounts = np.asarray(alloc.column("applied_amount")) + (rng.random(n) < 0.1)
    alloc = alloc.set_column(2, "applied_amount", pa.array(amounts))
    adj = np.asarray(alloc.column("adjustment_amount")) + (rng.random(n) < 0.1)
    alloc = alloc.set_column(3, "adjustment_amount", pa.array(adj))
    alloc = alloc.set_column(6, "confidence", pa.array(rng.uniform(0.7, 1.0, n)))
    alloc = S.conform(alloc.filter(pa.array(keep)), S.ALLOCATIONS)
    pids = day.truth.column("payment_id")
    extra_exc = rng.choice(len(pids), size=60, replace=False)
    truth_ids = day.truth.column("invoice_ids").to_pylist()
    all_ids = inv_ids.to_pylist()
    cand_lists = []
    for i in extra_exc:  # test data only
        lst = list(truth_ids[i]) + [all_ids[j] for j in rng.integers(0, len(all_ids), 3)]
        cand_lists.append([lst[j] for j in rng.permutation(len(lst))])
    more = exceptions(
        [
            (pids[int(i)].as_py(), "AMBIGUOUS", 1, c)
            for i, c in zip(extra_exc, cand_lists, strict=True)
        ]
    )
    exc = pa.concat_tables([exc, more])
    # half of those are left to a person entirely (no allocation)
    left = pc.take(pids, pa.array(extra_exc[:30]))
    alloc = alloc.filter(pc.invert(pc.is_in(alloc.column("payment_id"), value_set=left)))
    unmatchable = pc.filter(pids, pc.invert(day.truth.column("matchable")))
    rogue = allocations([(unmatchable[i].as_py(), inv_ids[i].as_py(), 100, 0.99) for i in range(5)])
    alloc = pa.concat_tables([alloc, rogue])

    fast = evaluate(truth=day.truth, allocations=alloc, exceptions=exc).overall
    slow = _slow_overall(day.truth, alloc, exc)
    score = evaluate(truth=day.truth, allocations=alloc, exceptions=exc)
    for key, value in slow.items():
        if key == "band0":
            assert score.bands[0].allocations == value
        elif key == "band0_ok":
            assert score.bands[0].correct == value
        else:
            assert getattr(fast, key) == value, key
    assert fast.unmatchable_applied == 5 and fast.wrong_auto > 0 and fast.topn_hits > 0
    assert 0 < fast.adjustments_exact < fast.adjustments
