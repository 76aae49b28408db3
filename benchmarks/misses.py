"""Why matchable credits were not auto-applied: every miss of a generated day, classified.

For each matchable payment that is not auto-applied (no allocation, or an allocation with an
exception row), this lists the scenario, the exception reason, whether the truth is among the
first max(3, k) candidates, and what the customer's open items allow:

* ``k``: invoices the credit really pays; ``quoted``: how many of them the reference names
  (as the full id or the bare number: ``all``/``some``/``none``); ``open``: the customer's open
  invoices in the payment's currency, less those other payments were allocated today.
* ``fits``: distinct sets of at most ``--max-size`` open invoices that contain every quoted
  truth invoice and settle the amount (exactly, or within the bank-fee ceiling when no set fits
  exactly), counted up to ``--cap``; ``smaller``: how many of them have fewer invoices than the
  truth; ``same``: how many have as many.

Classes (multi-invoice and other several-invoice credits):

* ``ambiguous``: another set of the truth's size or smaller fits as well: AMBIGUOUS is right;
* ``unique``: the truth is the only set that fits: recoverable;
* ``unique_smallest``: the only fit of its size or smaller; larger sets fit too;
* ``truth_unfit``: the truth is not a fit as counted here (its invoices were taken, etc.);
* ``budget``: the count gave up (a huge block).

    python benchmarks/misses.py --payments 5000 --seeds 1,2,3 [--csv FILE]
    python benchmarks/quality.py ... --misses   (the same summary after the score table)
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
from numba import njit

from cashmatch.engine.evaluate import TOP_N


@njit(cache=True)
def count_fits(amounts: np.ndarray, lo: int, hi: int, max_size: int, cap: int,
               budget: int) -> tuple[np.ndarray, bool]:
    """Sets of ``amounts`` (sorted ascending, positive) with a sum in [lo, hi] and at most
    ``max_size`` members, counted by size (each count capped at ``cap``); and whether the
    search finished within ``budget`` nodes. Depth-first with sum bounds."""
    n = len(amounts)
    counts = np.zeros(max_size + 1, np.int64)
    stack_i = np.zeros(max_size + 1, np.int64)
    stack_s = np.zeros(max_size + 1, np.int64)
    depth = 0
    stack_i[0] = 0
    stack_s[0] = 0
    nodes = 0
    # iterative DFS: at depth d, try item stack_i[d] next
    while depth >= 0:
        nodes += 1
        if nodes > budget:
            return counts, False
        i = stack_i[depth]
        s = stack_s[depth]
        if i >= n or depth >= max_size or s + amounts[i] > hi:
            depth -= 1
            if depth >= 0:
                stack_i[depth] += 1
            continue
        t = s + amounts[i]
        if t >= lo and counts[depth + 1] < cap:
            counts[depth + 1] += 1
        # descend with i taken
        stack_i[depth + 1] = i + 1
        stack_s[depth + 1] = t
        depth += 1
    return counts, True


def _quoted(reference: str | None, inv_id: str) -> bool:
    if not reference:
        return False
    ref = reference.upper()
    if inv_id.upper() in ref:
        return True
    bare = re.search(r"(\d+)$", inv_id)
    if bare is None:
        return False
    tokens = set(re.findall(r"\d+", ref))
    return bare.group(1) in tokens or bare.group(1).lstrip("0") in tokens


def classify(day: object, result: object, *, max_size: int = 8, cap: int = 50,
             fee_ceiling: int = 2500) -> list[dict]:
    """One row per matchable credit that was not auto-applied."""
    truth = day.truth.to_pylist()
    inv = day.invoices
    inv_ids = inv.column("invoice_id").to_pylist()
    row_of = {x: i for i, x in enumerate(inv_ids)}
    inv_cust = inv.column("customer_id").to_pylist()
    inv_cur = inv.column("currency").to_pylist()
    inv_amt = np.asarray(inv.column("amount"), np.int64)
    by_cust: dict[tuple[str, str], list[int]] = {}
    for i, (c, cur) in enumerate(zip(inv_cust, inv_cur, strict=True)):
        by_cust.setdefault((c, cur), []).append(i)
    pay = day.payments
    pay_ids = pay.column("payment_id").to_pylist()
    pay_amt = dict(zip(pay_ids, pay.column("amount").to_pylist(), strict=True))
    pay_ref = dict(zip(pay_ids, pay.column("reference").to_pylist(), strict=True))
    alloc = result.allocations
    a_pay = alloc.column("payment_id").to_pylist()
    a_inv = alloc.column("invoice_id").to_pylist()
    posted: dict[str, set[str]] = {}
    for p, i in zip(a_pay, a_inv, strict=True):
        posted.setdefault(p, set()).add(i)
    exc = {r["payment_id"]: r for r in result.exceptions.select(
        ["payment_id", "reason", "candidates", "detail"]).to_pylist()}
    taken_by: dict[str, str] = {}
    for p, invs in posted.items():
        for i in invs:
            taken_by[i] = p
    parent = dict(zip(day.customers.column("customer_id").to_pylist(),
                      day.customers.column("parent_id").to_pylist(), strict=True))

    def root(c: str) -> str:
        while parent.get(c):
            c = parent[c]
        return c

    by_group: dict[tuple[str, str], list[int]] = {}
    for (c, cur), rows_ in by_cust.items():
        by_group.setdefault((root(c), cur), []).extend(rows_)
    rows = []
    for t in truth:
        pid = t["payment_id"]
        if not t["matchable"] or (pid in posted and pid not in exc):
            continue
        ids = t["invoice_ids"] or []
        k = len(ids)
        e = exc.get(pid)
        cands = (e["candidates"] or []) if e else []
        top = cands[: max(TOP_N, k)]
        q = [i for i in ids if _quoted(pay_ref[pid], i)]
        quoted = "none" if not q else ("all" if len(q) == k else "some")
        amount = int(pay_amt[pid])
        row = {"payment_id": pid, "scenario": t["scenario"], "k": k, "quoted": quoted,
               "reason": e["reason"] if e else "", "posted": pid in posted,
               "top": all(i in top for i in ids),
               "truth_pos": ",".join(str(cands.index(i)) if i in cands else "-" for i in ids),
               "detail": e["detail"] if e else "", "amount": amount,
               "truth_sum": int(sum(inv_amt[row_of[i]] for i in ids))}
        for pool, blocks in (("own", by_cust), ("group", by_group)):
            key = (t["customer_id"], t["currency"])
            if pool == "group":
                key = (root(t["customer_id"]), t["currency"])
            block = [i for i in blocks.get(key, [])
                     if inv_amt[i] > 0 and taken_by.get(inv_ids[i], pid) == pid]
            row[f"open_{pool}"] = len(block)
            if k >= 2:
                row[f"cls_{pool}"], row[f"fits_{pool}"] = _fit_class(
                    block, [row_of[i] for i in q], inv_amt, inv_ids, amount, k,
                    row["truth_sum"], max_size, cap, fee_ceiling)
        rows.append(row)
    return rows


def _fit_class(block: list[int], fixed: list[int], inv_amt: np.ndarray, inv_ids: list[str],
               amount: int, k: int, truth_sum: int, max_size: int, cap: int,
               fee_ceiling: int) -> tuple[str, int]:
    """(class, sets that fit) of one several-invoice credit: the quoted truth invoices are
    fixed members, the rest of the block is free."""
    fixed_ids = {inv_ids[i] for i in fixed}
    free = np.array(sorted(inv_amt[i] for i in block if inv_ids[i] not in fixed_ids), np.int64)
    rest = amount - int(inv_amt[fixed].sum()) if fixed else amount
    n_free = k - len(fixed)
    if n_free == 0:
        return ("quoted_fit" if 0 <= -rest <= fee_ceiling else "truth_unfit"), 1
    for lo, hi in ((rest, rest), (rest + 1, rest + fee_ceiling)):
        if rest <= 0:
            break
        # sets no larger than the truth decide ambiguity; then larger ones, on a budget
        small, done = count_fits(free, lo, hi, n_free, cap, 20_000_000)
        if not done:
            return "budget", -1
        if small.sum() == 0:
            continue
        if not lo <= truth_sum - (amount - rest) <= hi or small[n_free] == 0:
            return "truth_unfit", int(small.sum())
        if small[:n_free].sum() or small[n_free] > 1:
            return "ambiguous", int(small.sum())
        every, done = count_fits(free, lo, hi, max(max_size - len(fixed), n_free), cap,
                                 20_000_000)
        if not done:
            return "unique_smallest?", int(every.sum())
        return ("unique" if every.sum() == 1 else "unique_smallest"), int(every.sum())
    return "truth_unfit", 0


CLASSES = ("ambiguous", "unique", "unique_smallest", "quoted_fit", "truth_unfit", "budget")


def summary(rows: list[dict]) -> str:
    """Markdown: misses by scenario and reason; several-invoice misses by k, quotes and class."""
    out = ["| scenario | reason | misses | truth in top-3 |", "|---|---|---:|---:|"]
    c = Counter((r["scenario"], r["reason"] or "(posted)") for r in rows)
    hit = Counter((r["scenario"], r["reason"] or "(posted)") for r in rows if r["top"])
    for key in sorted(c):
        out.append(f"| {key[0]} | {key[1]} | {c[key]} | {hit[key]} |")
    multi = [r for r in rows if r["k"] >= 2]
    if multi:
        out += ["", "Classes on the payer's group's open invoices (what the engine searches); "
                "in brackets, on the paying customer's own.", "",
                "| scenario | k | quoted | misses | top-3 | open p50 | ambiguous | unique "
                "| unique_smallest | quoted_fit | truth_unfit | budget |",
                "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        groups: dict[tuple, list[dict]] = {}
        for r in multi:
            groups.setdefault((r["scenario"], r["k"], r["quoted"]), []).append(r)
        for key in sorted(groups):
            g = groups[key]
            cg = Counter(r["cls_group"] for r in g)
            co = Counter(r["cls_own"] for r in g)
            cells = " | ".join(f"{cg[c] + cg[c + '?']} ({co[c] + co[c + '?']})" for c in CLASSES)
            out.append(f"| {key[0]} | {key[1]} | {key[2]} | {len(g)} | "
                       f"{sum(r['top'] for r in g)} | "
                       f"{int(np.median([r['open_group'] for r in g]))} | {cells} |")
    return "\n".join(out) + "\n"


def write_csv(rows: list[dict], path: Path) -> None:
    import pyarrow.csv as csv

    cols = sorted({k for r in rows for k in r})
    csv.write_csv(pa.table({c: [r.get(c) for r in rows] for c in cols}), path)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--payments", type=int, default=5_000)
    p.add_argument("--seeds", default="1,2,3")
    p.add_argument("--csv", type=Path, default=None, help="write every miss, one row each")
    args = p.parse_args(argv)
    from cashmatch.engine.matcher import match
    from cashmatch.fixtures.generator import generate_day

    rows: list[dict] = []
    for seed in [int(s) for s in args.seeds.split(",") if s.strip()]:
        day = generate_day(payments=args.payments, seed=seed)
        result = match(invoices=day.invoices, payments=day.payments,
                       remittances=day.remittances, customers=day.customers)
        for r in classify(day, result):
            r["seed"] = seed
            rows.append(r)
    print(summary(rows), end="")
    if args.csv:
        write_csv(rows, args.csv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
