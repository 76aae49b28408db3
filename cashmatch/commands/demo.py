"""``cashmatch demo``: match the bundled sample day and print the summary."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the bundled sample day and print the summary")
    p.add_argument("--out", type=Path, default=None, help="keep the outputs here")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from cashmatch.commands import match
    from cashmatch.console import out
    from cashmatch.fixtures import SAMPLE_DAY

    out_dir = args.out or Path(tempfile.mkdtemp(prefix="cashmatch-demo-"))
    remittances = SAMPLE_DAY / "remittances.csv"
    ns = argparse.Namespace(
        invoices=SAMPLE_DAY / "invoices.csv",
        payments=[SAMPLE_DAY / "payments.csv"],
        remittances=[remittances] if remittances.exists() else [],
        customers=SAMPLE_DAY / "customers.csv",
        policy=None,
        out=out_dir,
        format="csv",
        executor="local",
        ray_address=None,
    )
    out.print(f"[bold]cashmatch demo[/bold]: the sample day in {SAMPLE_DAY}")
    code = match.run(ns)
    out.print(f"allocations and exceptions are in {out_dir}")
    return code
