"""``cashmatch generate``: a seeded, labelled messy day of any size (interchange files + truth)."""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path


def _mix(text: str) -> dict[str, float]:
    """``clean_ref=0.5,trap_amount=0.1`` -> a scenario mix."""
    out = {}
    for part in text.split(","):
        name, _, value = part.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected scenario=share, got {part!r}") from None
    return out


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("generate", help="generate a labelled messy day (files + truth.csv)")
    p.add_argument("--payments", type=int, required=True, help="number of bank credits")
    p.add_argument("--seed", type=int, default=1, help="same seed, same day (default 1)")
    p.add_argument(
        "--invoices-per-payment",
        type=float,
        default=2.5,
        help="open invoices per credit, paid today or not (default 2.5)",
    )
    p.add_argument(
        "--mix",
        type=_mix,
        default=None,
        help="scenario shares, e.g. clean_ref=0.6,messy_ref=0.4 (default: every scenario)",
    )
    p.add_argument("--as-of", type=date.fromisoformat, default=None, help="value date (ISO)")
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.add_argument("--format", choices=("csv", "parquet"), default="csv")
    p.set_defaults(func=run)


STAGES = (
    "customers",
    "payments plan",
    "invoices",
    "payments",
    "names and references",
    "shuffle and ids",
    "truth",
)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from cashmatch.engine.errors import InvalidInput
    from cashmatch.fixtures.generator import DEFAULT_AS_OF, generate_day, write_day

    if args.payments < 1:
        raise InvalidInput("--payments must be at least 1")
    out = Console()
    bar = Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    with bar:
        task = bar.add_task("generating", total=len(STAGES) + 5)

        def step(stage: str) -> None:
            bar.update(task, description=f"generating: {stage}")
            bar.advance(task)

        try:
            day = generate_day(
                payments=args.payments,
                seed=args.seed,
                invoices_per_payment=args.invoices_per_payment,
                scenario_mix=args.mix,
                as_of=args.as_of or DEFAULT_AS_OF,
                progress=step,
            )
        except ValueError as exc:
            raise InvalidInput(str(exc)) from exc
        bar.update(task, description=f"writing {args.format} files to {args.out}")
        paths = write_day(day, args.out, format=args.format)
        bar.update(task, completed=len(STAGES) + 5)

    out.print(
        f"[bold]generated day[/bold] (seed {args.seed}, value date {day.as_of}) in {args.out}"
    )
    table = Table(header_style="bold")
    table.add_column("file")
    table.add_column("rows", justify="right")
    for path, tbl in zip(
        paths, (day.invoices, day.customers, day.payments, day.remittances, day.truth), strict=True
    ):
        table.add_row(path.name, f"{tbl.num_rows:,}")
    out.print(table)
    scen = day.truth.column("scenario").value_counts().to_pylist()
    mix = Table(title="scenarios", header_style="bold")
    mix.add_column("scenario")
    mix.add_column("payments", justify="right")
    for item in sorted(scen, key=lambda r: -r["counts"]):
        mix.add_row(item["values"], f"{item['counts']:,}")
    out.print(mix)
    return 0
