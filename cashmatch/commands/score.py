"""``cashmatch score``: how good is a match result, scored against the truth of a labelled day."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa
    from rich.console import Console
    from rich.table import Table

    from cashmatch.engine.evaluate import ScenarioScore, Score


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "score", help="score allocations/exceptions against a truth file (generated days)"
    )
    p.add_argument("--truth", type=Path, required=True, help="truth.csv or truth.parquet")
    p.add_argument(
        "--results",
        type=Path,
        required=True,
        help="directory with allocations and exceptions (.csv or .parquet) of cashmatch match",
    )
    p.add_argument("--json", type=Path, default=None, help="also write the figures as JSON here")
    p.add_argument("--reasons", action="store_true", help="also show exception reasons by scenario")
    p.add_argument("--markdown", action="store_true", help="print the tables as Markdown")
    p.add_argument(
        "--examples",
        type=int,
        default=0,
        metavar="N",
        help="also list up to N wrong postings (truth vs applied invoices)",
    )
    p.set_defaults(func=run)


def fmt(value: float | None, digits: int = 1) -> str:
    """A percentage for a table; a dash when there is nothing to divide by."""
    return "–" if value is None else f"{value:.{digits}f}"


COLUMNS = (
    ("scenario", lambda s: s.scenario),
    ("payments", lambda s: f"{s.payments:,}"),
    ("matchable", lambda s: f"{s.matchable:,}"),
    ("auto%", lambda s: fmt(s.auto_pct)),
    ("wrong%", lambda s: fmt(s.wrong_auto_pct, 2)),
    ("posted%", lambda s: fmt(s.posted_pct)),
    ("wrongPost%", lambda s: fmt(s.wrong_posted_pct, 2)),
    ("unm.applied", lambda s: str(s.unmatchable_applied) if s.matchable < s.payments else "–"),
    ("linkP%", lambda s: fmt(s.link_precision)),
    ("linkR%", lambda s: fmt(s.link_recall)),
    ("amount%", lambda s: fmt(s.amount_exact_pct)),
    ("adjust%", lambda s: fmt(s.adjustment_pct)),
    ("top3%", lambda s: fmt(s.topn_pct)),
)


def scenario_table(score: Score, *, title: str = "score by scenario") -> Table:
    """Per-scenario table: auto-application, errors, links, and exceptions' candidates."""
    from rich.table import Table

    t = Table(title=title, header_style="bold", show_lines=False)
    for i, (name, _) in enumerate(COLUMNS):
        t.add_column(name, justify="left" if i == 0 else "right", no_wrap=True)

    def row(s: ScenarioScore, style: str | None = None) -> None:
        t.add_row(*[get(s) for _, get in COLUMNS], style=style)

    for s in score.scenarios.values():
        row(s)
    t.add_section()
    row(score.one_to_one, "dim")
    row(score.overall, "bold")
    t.caption = (
        "auto% = auto-applied (allocations, no exception) of matchable; wrong% = auto-applied "
        "whose invoice set is not the truth; posted% = matchable with any allocation; "
        "wrongPost% = payments with allocations whose invoice set is not the truth; "
        "unm.applied = unmatchable with any allocation; linkP/R% over (payment, invoice) links "
        "of auto-applied payments; amount% = those correct links with the true cash amount; "
        "adjust% = those with a fee, discount or deduction whose adjustment and reason are right; "
        "top3% = matchable payments left to a person whose truth invoices are all among the "
        "first max(3, k) candidates"
    )
    return t


def band_table(score: Score) -> Table:
    from rich.table import Table

    t = Table(title="reliability by confidence band (allocation links)", header_style="bold")
    t.add_column("confidence")
    t.add_column("allocations", justify="right")
    t.add_column("correct %", justify="right")
    for b in score.bands:
        t.add_row(b.band, f"{b.allocations:,}", fmt(b.correct_pct, 2))
    return t


def reasons_table(score: Score) -> Table:
    from rich.table import Table

    reasons = sorted({r for by in score.reasons.values() for r in by})
    t = Table(title="exception rows by scenario and reason", header_style="bold")
    t.add_column("scenario", no_wrap=True)
    for r in reasons:
        t.add_column(r, justify="right")
    for scen, by in score.reasons.items():
        t.add_row(scen, *[f"{by[r]:,}" if r in by else "" for r in reasons])
    return t


def examples_table(wrong: pa.Table) -> Table:
    from rich.table import Table

    t = Table(title=f"wrong postings ({wrong.num_rows} shown)", header_style="bold")
    for name in wrong.column_names:
        t.add_column(name, justify="right" if name == "confidence" else "left")
    for row in wrong.to_pylist():
        row["confidence"] = f"{row['confidence']:.3f}"
        t.add_row(*[str(v) for v in row.values()])
    return t


def markdown(score: Score) -> str:
    """The per-scenario and confidence-band tables as Markdown (for reports and PRs)."""
    lines = ["| " + " | ".join(name for name, _ in COLUMNS) + " |"]
    lines.append("|" + "|".join("---" if i == 0 else "---:" for i in range(len(COLUMNS))) + "|")
    rows = [*score.scenarios.values(), score.one_to_one, score.overall]
    for s in rows:
        cells = [get(s) for _, get in COLUMNS]
        if s is score.overall:
            cells = [f"**{c}**" for c in cells]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "| confidence | allocations | correct % |", "|---|---:|---:|"]
    lines += [f"| {b.band} | {b.allocations:,} | {fmt(b.correct_pct, 2)} |" for b in score.bands]
    return "\n".join(lines) + "\n"


def render(score: Score, console: Console) -> None:
    """Print the per-scenario and reliability tables (also used by the benchmarks)."""
    console.print(scenario_table(score))
    console.print(band_table(score))
    o = score.overall
    console.print(
        f"[bold]overall[/bold]: {o.payments:,} payments, {o.matchable:,} matchable, "
        f"auto-applied {fmt(o.auto_pct)}% of matchable, wrong auto {fmt(o.wrong_auto_pct, 2)}%,"
        f" unmatchable applied {o.unmatchable_applied}, exceptions with truth in top 3 "
        f"{fmt(o.topn_pct)}%"
    )
    if o.missing:
        console.print(f"[red]{o.missing:,} payments of the truth are in neither output")
    if score.unknown_payments:
        console.print(f"[yellow]{score.unknown_payments:,} result payments not in the truth")


def wide_console() -> Console:
    """A console wide enough for the score table when the output is a file or a pipe."""
    import sys

    from rich.console import Console

    return Console() if sys.stdout.isatty() else Console(width=160)


def run(args: argparse.Namespace) -> int:

    from cashmatch.engine.errors import InvalidInput
    from cashmatch.engine.evaluate import evaluate, read_results, read_truth

    truth = read_truth(args.truth)
    if truth.problems:
        raise InvalidInput(
            f"{len(truth.problems)} unreadable truth row(s), first: {truth.problems[0]}"
        )
    allocations, exceptions = read_results(args.results)
    score = evaluate(truth=truth.table, allocations=allocations, exceptions=exceptions)
    console = wide_console()
    if args.markdown:
        print(markdown(score), end="")
    else:
        render(score, console)
    if args.reasons and score.reasons:
        console.print(reasons_table(score))
    if args.examples > 0:
        from cashmatch.engine.evaluate import wrong_postings

        wrong = wrong_postings(truth=truth.table, allocations=allocations, limit=args.examples)
        console.print(examples_table(wrong))
    if args.json:
        args.json.write_text(json.dumps(score.to_dict(), indent=2) + "\n")
    return 0
