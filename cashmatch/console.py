"""Terminal output shared by the commands: progress, row problems, the match summary table."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from cashmatch.engine.errors import RowProblem
from cashmatch.engine.money import format_minor
from cashmatch.engine.result import Summary

console = Console(stderr=True)
out = Console()
MAX_PROBLEMS_SHOWN = 20


@contextmanager
def progress(total: int) -> Iterator[Progress]:
    """A progress bar over named steps (shown on stderr; hidden when not a terminal, and then
    not even drawn unseen by its refresh thread, ten times a second through a long match)."""
    bar = Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )
    with bar:
        bar.add_task("starting", total=total)
        yield bar


def step(bar: Progress, description: str) -> None:
    task = bar.tasks[0]
    if task.description != "starting":
        bar.advance(task.id)
    bar.update(task.id, description=description)


def report_problems(problems: Sequence[RowProblem]) -> None:
    """Rows that could not be read: each named with file, line and column, on stderr."""
    if not problems:
        return
    console.print(f"[yellow]{len(problems)} row(s) could not be read and were left out:")
    for p in problems[:MAX_PROBLEMS_SHOWN]:
        console.print(f"  {p}", markup=False, highlight=False, soft_wrap=True)
    if len(problems) > MAX_PROBLEMS_SHOWN:
        console.print(f"  ... and {len(problems) - MAX_PROBLEMS_SHOWN} more")


def summary_table(summary: Summary, *, title: str = "cashmatch") -> Table:
    table = Table(title=title, show_header=True, header_style="bold")
    table.add_column("", style="bold")
    table.add_column("value", justify="right")
    table.add_row("payments", f"{summary.payments:,}")
    table.add_row("auto-applied", f"{summary.auto_applied:,} ({summary.auto_applied_pct:.1f}%)")
    exceptions = sum(summary.exceptions_by_reason.values())
    table.add_row("exceptions", f"{exceptions:,}")
    for reason, count in summary.exceptions_by_reason.items():
        table.add_row(f"  {reason}", f"{count:,}")
    for cur in sorted(summary.amount_by_currency):
        table.add_row(f"received {cur}", format_minor(summary.amount_by_currency[cur], cur))
        table.add_row(f"applied {cur}",
                      format_minor(summary.applied_by_currency.get(cur, 0), cur))
        table.add_row(f"unapplied {cur}",
                      format_minor(summary.unapplied_by_currency.get(cur, 0), cur))
    return table


def plain_cells(*cells: object) -> list[object]:
    """Table cells as plain text: bank data is never read as rich markup."""
    out: list[object] = []
    for c in cells:
        if isinstance(c, list | tuple):
            out.extend(Text(str(x)) for x in c)
        else:
            out.append(Text(str(c)))
    return out
