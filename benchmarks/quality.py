"""Matching quality over several seeds: generate, match and score each day, then print the
per-seed headline and the pooled per-scenario table (counts of all days added). Reports;
asserts nothing.

    python benchmarks/quality.py --payments 5000 --seeds 1,2,3 [--markdown] [--json FILE]
        [--misses] [--misses-csv FILE]

``--misses`` adds why each matchable credit was not auto-applied (:mod:`misses`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def _seeds(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--payments", type=int, default=5_000)
    p.add_argument("--seeds", type=_seeds, default=[1, 2, 3], help="comma-separated, e.g. 1,2,3")
    p.add_argument("--invoices-per-payment", type=float, default=2.5)
    p.add_argument("--markdown", action="store_true", help="print the pooled table as Markdown")
    p.add_argument("--json", type=Path, default=None, help="write per-seed and pooled figures")
    p.add_argument("--misses", action="store_true", help="classify every miss (misses.py)")
    p.add_argument("--misses-csv", type=Path, default=None, help="... one row each, to a CSV")
    args = p.parse_args(argv)
    from misses import classify, summary, write_csv

    from cashmatch.commands.score import fmt, markdown, render, wide_console
    from cashmatch.engine.evaluate import combine, evaluate
    from cashmatch.engine.matcher import match
    from cashmatch.fixtures.generator import generate_day

    console = wide_console()
    scores = []
    miss_rows: list[dict] = []
    per_seed: dict[str, object] = {}
    for seed in args.seeds:
        day = generate_day(
            payments=args.payments, seed=seed, invoices_per_payment=args.invoices_per_payment
        )
        t0 = time.perf_counter()
        result = match(
            invoices=day.invoices,
            payments=day.payments,
            remittances=day.remittances,
            customers=day.customers,
        )
        seconds = time.perf_counter() - t0
        score = evaluate(
            truth=day.truth, allocations=result.allocations, exceptions=result.exceptions
        )
        scores.append(score)
        if args.misses or args.misses_csv:
            miss_rows += [{**r, "seed": seed} for r in classify(day, result)]
        o, one = score.overall, score.one_to_one
        console.print(
            f"seed {seed}: {o.payments:,} payments in {seconds:.1f} s; auto {fmt(o.auto_pct)}% "
            f"of matchable (one-to-one {fmt(one.auto_pct)}%), wrong auto "
            f"{fmt(o.wrong_auto_pct, 2)}%, unmatchable applied {o.unmatchable_applied}, "
            f"top-3 {fmt(o.topn_pct)}%"
        )
        per_seed[str(seed)] = score.to_dict()
    pooled = combine(scores)
    title = f"{len(scores)} seeds x {args.payments:,} payments, pooled"
    if args.markdown:
        print(f"\n{title}\n")
        print(markdown(pooled), end="")
    else:
        console.rule(title)
        render(pooled, console)
    if args.misses:
        print(f"\nMisses: matchable credits not auto-applied ({title})\n")
        print(summary(miss_rows), end="")
    if args.misses_csv:
        write_csv(miss_rows, args.misses_csv)
    if args.json:
        args.json.write_text(
            json.dumps({"per_seed": per_seed, "pooled": pooled.to_dict()}, indent=2) + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
