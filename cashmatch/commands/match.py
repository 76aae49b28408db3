"""``cashmatch match``: open invoices and bank credits in, allocations and exceptions out."""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("match", help="apply bank credits to open invoices")
    add_match_arguments(p)
    p.set_defaults(func=run)


def add_match_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--invoices", type=Path, required=True, help="open invoices (CSV or Parquet)")
    p.add_argument(
        "--payments",
        type=Path,
        action="append",
        required=True,
        help="bank credits: interchange CSV/Parquet or a bank file; repeatable",
    )
    p.add_argument(
        "--remittances",
        type=Path,
        action="append",
        default=[],
        help="remittance advices; repeatable",
    )
    p.add_argument("--customers", type=Path, help="customer master (CSV or Parquet)")
    p.add_argument("--policy", type=Path, help="matching policy (TOML)")
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.add_argument("--format", choices=("csv", "parquet"), default="csv")
    p.add_argument("--executor", choices=("local", "ray"), default="local")
    p.add_argument("--ray-address", default=None, help="Ray cluster to join")


@dataclass
class Inputs:
    invoices: pa.Table
    payments: pa.Table
    remittances: pa.Table | None
    customers: pa.Table | None
    problems: list = field(default_factory=list)


def load_inputs(args: argparse.Namespace, bar: object | None = None) -> Inputs:
    """Read every input; bank files go through the parsers' door, sniffed."""
    from cashmatch.console import step
    from cashmatch.engine import interchange as io
    from cashmatch.engine.result import credits_only
    from cashmatch.parsers import parse_file, sniff

    def tick(what: str) -> None:
        if bar is not None:
            step(bar, what)

    problems = []
    tick("reading invoices")
    inv = io.read_invoices(args.invoices)
    problems += inv.problems
    tick("reading payments")
    parsed = [parse_file(path, kind="payments") for path in args.payments]
    for r in parsed:
        problems += r.problems
    payments = credits_only(pa.concat_tables([r.payments for r in parsed]))
    remittances = []
    for path in args.remittances:
        with open(path, "rb") as fh:
            head = fh.read(1 << 16)
        if sniff(head, kind="remittances") == "remittance-csv":
            # interchange advices carry no currency: each line takes its payment's
            r = io.read_remittances(path, payments=payments)
            problems += r.problems
            remittances.append(r.table)
        else:
            r = parse_file(path, kind="remittances")
            problems += r.problems
            remittances.append(r.remittances)
    customers = None
    if args.customers:
        cr = io.read_customers(args.customers)
        problems += cr.problems
        customers = cr.table
    return Inputs(
        inv.table,
        payments,
        pa.concat_tables(remittances) if remittances else None,
        customers,
        problems,
    )


def run(args: argparse.Namespace) -> int:
    from cashmatch.console import out, progress, report_problems, step, summary_table
    from cashmatch.engine import interchange as io
    from cashmatch.engine.executors import executor_from_args
    from cashmatch.engine.matcher import match
    from cashmatch.engine.policy import Policy, load_policy

    policy = load_policy(args.policy) if args.policy else Policy()
    t0 = time.perf_counter()
    with progress(total=5) as bar:
        inputs = load_inputs(args, bar)
        step(bar, f"matching {inputs.payments.num_rows:,} payments")
        with executor_from_args(args) as executor:
            result = match(
                invoices=inputs.invoices,
                payments=inputs.payments,
                remittances=inputs.remittances,
                customers=inputs.customers,
                policy=policy,
                executor=executor,
            )
        step(bar, "writing results")
        args.out.mkdir(parents=True, exist_ok=True)
        suffix = ".parquet" if args.format == "parquet" else ".csv"
        io.write_allocations(result.allocations, args.out / f"allocations{suffix}")
        io.write_exceptions(result.exceptions, args.out / f"exceptions{suffix}")
    report_problems(inputs.problems)
    elapsed = time.perf_counter() - t0
    out.print(summary_table(result.summary, title=f"cashmatch match ({elapsed:.2f} s)"))
    out.print(
        f"wrote {args.out / ('allocations' + suffix)} and {args.out / ('exceptions' + suffix)}"
    )
    return 0
