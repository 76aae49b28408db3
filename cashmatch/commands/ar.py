"""``cashmatch ar``: receivables analytics over a history (aging, DSO/CEI, behaviour, risk).

Writes ``aging``, ``metrics`` and ``accounts`` (CSV or Parquet) and ``report.html`` into
``--out``, and prints a summary: metrics per currency, aging totals, the accounts most at risk.
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

# the columns the analytics read (the others are skipped, so clean files take the fast path);
# of the payments only their dates: amounts and currencies come from the allocations, so the
# payments' own amount and currency are neither parsed nor checked (3.6M amounts at 5M invoices)
INVOICE_NEEDS = ("invoice_id", "customer_id", "amount", "currency", "issue_date", "due_date")
PAYMENT_NEEDS = ("payment_id", "value_date")
ALLOCATION_NEEDS = (
    "payment_id",
    "invoice_id",
    "applied_amount",
    "adjustment_amount",
    "adjustment_reason",
    "currency",
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "ar",
        help="receivables analytics: aging, DSO/CEI, payment behaviour, at-risk accounts",
        description=(
            "Read a history (every invoice issued, payments, allocations, optional adjustments "
            "and promises) and report receivables as of a date, per currency."
        ),
    )
    p.add_argument("--invoices", required=True, type=Path, help="every invoice issued")
    p.add_argument("--payments", required=True, type=Path)
    p.add_argument("--allocations", required=True, type=Path)
    p.add_argument("--adjustments", type=Path, help="write-offs, credit notes")
    p.add_argument("--customers", type=Path)
    p.add_argument("--promises", type=Path, help="promises to pay")
    p.add_argument("--as-of", required=True, type=_iso_date, help="YYYY-MM-DD")
    p.add_argument("--period-days", type=int, default=90)
    p.add_argument("--risk", type=Path, help="risk model TOML (default: the shipped one)")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--format", choices=("csv", "parquet"), default="csv")
    p.add_argument("--no-report", action="store_true", help="skip report.html")
    p.add_argument("--quiet", action="store_true", help="no summary on the terminal")
    p.set_defaults(func=run)


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {text!r}") from exc


def run(args: argparse.Namespace) -> int:
    import sys
    import time
    from concurrent.futures import ThreadPoolExecutor

    from rich.console import Console

    from cashmatch.engine import interchange as io
    from cashmatch.engine.errors import InvalidInput
    from cashmatch.engine.receivables import RiskModel, analyse, build_ledger

    console = Console(stderr=False, quiet=args.quiet)
    err = Console(stderr=True)
    if args.period_days < 1:
        raise InvalidInput("--period-days must be at least 1")
    started = time.perf_counter()
    for name in ("invoices", "payments", "allocations", "adjustments", "customers", "promises"):
        path = getattr(args, name)
        if path is not None and not path.is_file():
            raise InvalidInput(f"--{name}: no such file: {path}")
    risk = RiskModel.from_toml(args.risk) if args.risk else RiskModel.default()

    # the files side by side, each parsed on its own thread (Arrow's threads within each file
    # would only add work: the files keep both cores busy); meanwhile the compiled kernels of
    # the analytics are loaded (numba: about half a second of CPU on first use)
    with ThreadPoolExecutor(max_workers=5) as pool:
        pool.submit(_load_kernels)
        jobs = {
            "payments": pool.submit(
                io.read_payments,
                args.payments,
                only=PAYMENT_NEEDS,
                check_required=False,
                threads=False,
            ),
            "allocations": pool.submit(
                io.read_allocations, args.allocations, only=ALLOCATION_NEEDS, threads=False
            ),
        }
        if args.promises:
            jobs["promises"] = pool.submit(io.read_promises, args.promises, threads=False)
        if args.customers:
            jobs["customers"] = pool.submit(io.read_customers, args.customers)
        read = {"invoices": io.read_invoices(args.invoices, only=INVOICE_NEEDS, threads=False)}
        if args.adjustments:  # needs the invoices (an adjustment without currency takes theirs)
            read["adjustments"] = io.read_adjustments(
                args.adjustments, invoices=read["invoices"].table
            )
        read.update((name, job.result()) for name, job in jobs.items())
    order = ("invoices", "payments", "allocations", "adjustments", "promises", "customers")
    problems = [p for name in order if name in read for p in read[name].problems]
    tables = {name: r.table for name, r in read.items()}
    del read
    ledger = build_ledger(
        **tables,
        sources={
            "invoices": str(args.invoices),
            "allocations": str(args.allocations),
            "adjustments": str(args.adjustments),
            "promises": str(args.promises),
        },
    )
    result = analyse(ledger, as_of=args.as_of, period_days=args.period_days, risk=risk)
    result.problems = problems = problems + result.problems  # the ledger's joins report too
    paths = io.write_receivables(result, args.out, fmt=args.format)
    if not args.no_report:
        from cashmatch.report import render_report

        html = render_report(result, risk=risk)
        (args.out / "report.html").write_text(html, encoding="utf-8")
        paths.append(args.out / "report.html")
    elapsed = time.perf_counter() - started

    for p in problems[:50]:
        err.print(f"[yellow]warning[/]: {p}", highlight=False, markup=True)
    if len(problems) > 50:
        err.print(f"[yellow]warning[/]: … and {len(problems) - 50} more problems")
    _summary(console, result, elapsed, paths)
    sys.stdout.flush()
    return 0


def _load_kernels() -> None:
    from cashmatch.engine import receivables_kernel

    receivables_kernel.warm()


def _summary(console, result, elapsed: float, paths: list[Path]) -> None:  # noqa: ANN001
    from rich.table import Table

    from cashmatch.engine.schema import AGING_BUCKETS
    from cashmatch.report import money as short_money
    from cashmatch.report import top_at_risk

    def num(v: float | None, nd: int = 1) -> str:
        return "—" if v is None else f"{v:,.{nd}f}"

    def money(v: int, cur: str) -> str:
        # compact on the terminal (1.23M); the files hold the exact amounts
        return short_money(int(v), cur, short=True)

    t = Table(title=f"Receivables as of {result.as_of} (last {result.period_days} days)")
    for col in (
        "cur",
        "AR",
        "overdue",
        "sales",
        "DSO",
        "best DSO",
        "ADD",
        "CEI %",
        "turn",
        "bad debt %",
    ):
        t.add_column(col, justify="left" if col == "cur" else "right")
    for m in result.metrics.to_pylist():
        c = m["currency"]
        t.add_row(
            c,
            money(m["ar"], c),
            money(m["overdue"], c),
            money(m["sales"], c),
            num(m["dso"]),
            num(m["best_possible_dso"]),
            num(m["add"]),
            num(m["cei"]),
            num(m["turnover"], 2),
            num(None if m["bad_debt_ratio"] is None else m["bad_debt_ratio"] * 100, 2),
        )
    console.print(t)

    aging = result.aging
    a = Table(title="Aging (open amounts by days past due)")
    a.add_column("currency")
    for b in (*AGING_BUCKETS, "total"):
        a.add_column(b.replace("_plus", "+").replace("_", "–"), justify="right")
    import pyarrow.compute as pc

    for cur in result.metrics.column("currency").to_pylist():
        sub = aging.filter(pc.equal(aging.column("currency"), cur))
        a.add_row(
            cur,
            *[money(pc.sum(sub.column(b)).as_py() or 0, cur) for b in (*AGING_BUCKETS, "total")],
        )
    console.print(a)

    n_flagged = pc.sum(result.accounts.column("at_risk")).as_py() or 0
    r = Table(title=f"Accounts most at risk ({n_flagged} flagged of {result.accounts.num_rows})")
    for col in ("customer", "cur", "open", "overdue", "score", "main reason"):
        r.add_column(col, justify="right" if col in ("open", "overdue", "score") else "left")
    for row in top_at_risk(result.accounts, result.metrics):
        r.add_row(
            row["customer_id"],
            row["currency"],
            money(row["open"], row["currency"]),
            money(row["overdue"], row["currency"]),
            str(row["risk_score"]),
            row["risk_reasons"].split("; ")[0],
        )
    console.print(r)
    console.print(
        f"{len(result.problems)} input problems · {elapsed:.2f} s · wrote "
        + ", ".join(str(p) for p in paths)
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m cashmatch.commands.ar ...``: the command on its own (used by benchmarks)."""
    parser = argparse.ArgumentParser(prog="cashmatch")
    register(parser.add_subparsers(dest="command", required=True))
    import sys

    args = parser.parse_args(["ar", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
