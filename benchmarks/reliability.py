"""How often a proposal is right, by rule and confidence band — the applied ones and those left
below the threshold for a person alike (the evaluator's reliability table sees only the
applied). Reports; asserts nothing.

    python benchmarks/reliability.py --payments 5000 --seeds 1,2,3

A proposal is the set of invoices a payment was allocated (rule and confidence from its
allocation rows), or the set a ``LOW_CONFIDENCE`` exception proposes ("Proposed ... (rule,
confidence c)"; "Best candidate X (confidence c)" counts as rule ``best_candidate``). It is
right when the truth pays exactly that set.
"""

from __future__ import annotations

import argparse
import re
from collections import defaultdict

BANDS = (0.0, 0.5, 0.7, 0.8, 0.85, 0.9, 0.92, 0.95, 0.97, 1.0001)
PROPOSED = re.compile(r"Proposed (.*) \((\w+), confidence ([0-9.]+)\)")
BEST = re.compile(r"Best candidate (.*) \(confidence ([0-9.]+)\)")


def proposals(result: object) -> dict[str, tuple[frozenset[str], str, float]]:
    """payment id -> (invoice ids, rule, confidence) of what was applied or proposed."""
    out: dict[str, tuple[set[str], str, float]] = {}
    for r in result.allocations.select(
        ["payment_id", "invoice_id", "rule", "confidence"]
    ).to_pylist():
        out.setdefault(r["payment_id"], (set(), r["rule"], r["confidence"]))[0].add(r["invoice_id"])
    for e in result.exceptions.select(["payment_id", "reason", "detail"]).to_pylist():
        if e["reason"] != "LOW_CONFIDENCE" or e["payment_id"] in out:
            continue
        if m := PROPOSED.match(e["detail"]):
            out[e["payment_id"]] = (set(m.group(1).split(", ")), m.group(2), float(m.group(3)))
        elif m := BEST.match(e["detail"]):
            out[e["payment_id"]] = ({m.group(1)}, "best_candidate", float(m.group(2)))
    return {p: (frozenset(ids), rule, c) for p, (ids, rule, c) in out.items()}


def band(c: float) -> str:
    lo = max(b for b in BANDS if b <= c)
    hi = min(b for b in BANDS if b > c)
    return f"[{lo:.2f}, {min(hi, 1.0):.2f}{']' if hi > 1 else ')'}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--payments", type=int, default=5_000)
    p.add_argument("--seeds", default="1,2,3", help="comma-separated, e.g. 1,2,3")
    args = p.parse_args(argv)
    from cashmatch.engine.matcher import match
    from cashmatch.fixtures.generator import generate_day

    table: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for seed in (int(s) for s in args.seeds.split(",") if s.strip()):
        day = generate_day(payments=args.payments, seed=seed)
        result = match(
            invoices=day.invoices,
            payments=day.payments,
            remittances=day.remittances,
            customers=day.customers,
        )
        truth = {t["payment_id"]: t for t in day.truth.to_pylist()}
        for pid, (ids, rule, conf) in proposals(result).items():
            t = truth[pid]
            cell = table[(rule, band(conf))]
            cell[0] += 1
            cell[1] += bool(t["matchable"]) and frozenset(t["invoice_ids"] or []) == ids
    print(f"Proposals by rule and confidence ({args.payments:,} payments, seeds {args.seeds})\n")
    print("| rule | confidence | proposals | right % |\n|---|---|---:|---:|")
    for (rule, b), (n, right) in sorted(table.items()):
        print(f"| {rule} | {b} | {n:,} | {100 * right / n:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
