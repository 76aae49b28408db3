"""End-to-end throughput on a generated day: payments/s, time by stage, peak RSS, bytes per
invoice, and the score table. Reports; asserts nothing.

    python benchmarks/throughput.py --payments 100000 [--seed 1] [--csv] [--json FILE]
    python benchmarks/throughput.py --sizes 10000,100000,1000000 --csv --results benchmarks/results
    python benchmarks/throughput.py --payments 100000 --executor ray   # Ray overhead

In memory: a child process generates the day and writes its Arrow tables (Arrow IPC files, the
tables exactly as generated); this process reads them back, runs ``cashmatch.match`` on them and
scores it, so its peak RSS is the match's on Arrow input, not the generator's. With ``--csv``
also the batch path: the child writes the interchange files too, ``cashmatch match`` runs on them
in another child process (its own peak RSS) and the files it wrote are scored.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

_TABLES = ("invoices", "customers", "payments", "remittances", "truth")


def _rss_mib(who: int = resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024.0  # Linux: KiB


def _cpu_s(who: int = resource.RUSAGE_SELF) -> float:
    """User + system CPU seconds (of this process, or of its waited-for children)."""
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


def _current_rss_mib() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


# `cashmatch` that reports its own peak resident set (VmHWM) on stderr as it exits
_CLI_WITH_PEAK = (
    "import atexit, sys\n"
    "def _peak():\n"
    "    for line in open('/proc/self/status'):\n"
    "        if line.startswith('VmHWM:'):\n"
    "            print('VMHWM_KIB', line.split()[1], file=sys.stderr)\n"
    "atexit.register(_peak)\n"
    "from cashmatch.cli import script\n"
    "script()\n"
)


def _write_day(day_dir: Path, payments: int, seed: int, per_payment: float, csv: bool
               ) -> tuple[float, float]:  # fmt: skip
    """(In a child process.) Generate the day and write its tables as Arrow IPC files (and the
    interchange CSV files with ``csv``) into ``day_dir``; returns the seconds generating and
    writing the CSV files took."""
    import pyarrow as pa

    from cashmatch.fixtures.generator import generate_day, write_day

    t0 = time.perf_counter()
    day = generate_day(payments=payments, seed=seed, invoices_per_payment=per_payment)
    t_gen = time.perf_counter() - t0
    day_dir.mkdir(parents=True, exist_ok=True)
    for name in _TABLES:
        table = getattr(day, name)
        with pa.OSFile(str(day_dir / f"{name}.arrow"), "wb") as f, pa.ipc.new_file(
            f, table.schema
        ) as w:
            w.write_table(table)
    t0 = time.perf_counter()
    if csv:
        write_day(day, day_dir, format="csv")
    return t_gen, time.perf_counter() - t0


def _read_arrow(path: Path) -> pa.Table:
    import pyarrow as pa

    with pa.OSFile(str(path), "rb") as f:
        return pa.ipc.open_file(f).read_all()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--payments", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--invoices-per-payment", type=float, default=2.5)
    p.add_argument("--csv", action="store_true", help="also run CSV -> CSV through the CLI")
    p.add_argument(
        "--keep", type=Path, default=None, help="write the day (and CSV outputs) here; keep them"
    )
    p.add_argument("--json", type=Path, default=None, help="write the figures as JSON here")
    p.add_argument("--executor", choices=("local", "ray"), default="local")
    p.add_argument(
        "--partitions",
        type=int,
        default=None,
        help="split the day into this many parts (default: the executor's choice)",
    )
    p.add_argument(
        "--sizes",
        default=None,
        help="comma-separated payment counts: run each in its own process (clean peak RSS) "
        "and write the table and plot into --results",
    )
    p.add_argument("--results", type=Path, default=Path(__file__).parent / "results")
    args = p.parse_args(argv)
    if args.sizes:
        from scale_report import run_sizes

        return run_sizes(args, [int(x) for x in args.sizes.split(",")])

    from rich.console import Console
    from rich.table import Table

    from cashmatch.commands.score import render
    from cashmatch.engine.evaluate import evaluate, read_results
    from cashmatch.engine.matcher import match

    console = Console() if sys.stdout.isatty() else Console(width=150)
    figures: dict[str, object] = {"payments": args.payments, "seed": args.seed}

    base = args.keep or Path(tempfile.mkdtemp(prefix="cashmatch-throughput-"))
    day_dir, out_dir = base / "day", base / "out"
    spawn = multiprocessing.get_context("spawn")  # (a fresh process: nothing of this one's)
    with ProcessPoolExecutor(1, mp_context=spawn) as child:
        t_gen, t_write = child.submit(_write_day, day_dir, args.payments, args.seed,
                             args.invoices_per_payment, args.csv).result()  # fmt: skip
    invoices, customers, payments, remittances = (
        _read_arrow(day_dir / f"{name}.arrow") for name in _TABLES[:4]
    )
    n_pay, n_inv = payments.num_rows, invoices.num_rows
    rss_before = _current_rss_mib()
    peak_before = _rss_mib()
    console.print(
        f"generated {n_pay:,} payments, {n_inv:,} open invoices, "
        f"{customers.num_rows:,} customers, {remittances.num_rows:,} remittance lines "
        f"in {t_gen:.1f} s (seed {args.seed}; read back as Arrow tables: RSS "
        f"{rss_before:,.0f} MiB)"
    )

    from cashmatch.engine.executors import LocalExecutor, RayExecutor

    executor = None
    t_start = 0.0
    if args.executor == "ray":
        t0 = time.perf_counter()
        executor = RayExecutor()
        t_start = time.perf_counter() - t0
        figures.update(ray_start_s=round(t_start, 3), ray_workers=executor.workers)
    t0, c0 = time.perf_counter(), _cpu_s()
    result = match(
        invoices=invoices,
        payments=payments,
        remittances=remittances,
        customers=customers,
        executor=executor or LocalExecutor(),
        partitions=args.partitions,
    )
    t_match, c_match = time.perf_counter() - t0, _cpu_s() - c0
    if executor is not None:
        executor.close()
        console.print(f"Ray started in {t_start:.1f} s with {figures['ray_workers']} workers")
    figures["executor"] = args.executor
    figures["partitions"] = args.partitions
    peak_after = _rss_mib()
    t0 = time.perf_counter()
    truth = _read_arrow(day_dir / "truth.arrow")
    score = evaluate(truth=truth, allocations=result.allocations, exceptions=result.exceptions)
    t_score = time.perf_counter() - t0

    inv_bytes = invoices.nbytes
    figures.update(
        invoices=n_inv,
        generate_s=round(t_gen, 3),
        match_s=round(t_match, 3),
        match_cpu_s=round(c_match, 3),  # all threads of this process (the box is shared)
        score_s=round(t_score, 3),
        payments_per_s=round(n_pay / t_match, 1),
        timings={k: round(v, 4) for k, v in result.timings.items()},
        peak_rss_mib=round(peak_after, 1),
        rss_before_match_mib=round(rss_before, 1),
        peak_rss_growth_in_match_mib=round(max(peak_after - peak_before, 0.0), 1),
        invoice_table_bytes_per_invoice=round(inv_bytes / max(n_inv, 1), 1),
        score=score.to_dict(),
    )

    t = Table(title=f"in memory: {n_pay:,} payments x {n_inv:,} invoices", header_style="bold")
    t.add_column("stage")
    t.add_column("seconds", justify="right")
    t.add_column("share", justify="right")
    stages = {k: v for k, v in result.timings.items() if k != "total"}
    for stage, sec in sorted(stages.items(), key=lambda kv: -kv[1]):
        t.add_row(stage, f"{sec:.3f}", f"{100 * sec / t_match:.0f}%")
    untimed = t_match - sum(stages.values())
    t.add_row("(in no stage)", f"{untimed:.3f}", f"{100 * untimed / t_match:.0f}%", style="dim")
    t.add_section()
    t.add_row("match (wall)", f"{t_match:.3f}", "100%", style="bold")
    t.add_row("match (CPU)", f"{c_match:.3f}", "", style="bold")
    console.print(t)
    growth = max(peak_after - peak_before, 0.0)
    console.print(
        f"[bold]{n_pay / t_match:,.0f} payments/s[/bold]; peak RSS {peak_after:,.0f} MiB "
        f"(RSS {rss_before:,.0f} MiB with the day loaded; the match raised the peak by "
        f"{growth:,.0f} MiB = {growth * 2**20 / max(n_inv, 1):,.0f} B per invoice); invoice table "
        f"{inv_bytes / max(n_inv, 1):,.0f} B per invoice in Arrow"
    )
    render(score, console)
    console.print(f"(scored in {t_score:.2f} s)")

    if args.csv:
        del invoices, customers, payments, remittances, result
        cmd = [
            sys.executable, "-c", _CLI_WITH_PEAK, "match",
            "--invoices", str(day_dir / "invoices.csv"),
            "--payments", str(day_dir / "payments.csv"),
            "--remittances", str(day_dir / "remittances.csv"),
            "--customers", str(day_dir / "customers.csv"),
            "--out", str(out_dir),
            "--executor", args.executor,
        ]  # fmt: skip
        t0, c0 = time.perf_counter(), _cpu_s(resource.RUSAGE_CHILDREN)
        proc = subprocess.run(cmd, capture_output=True, text=True)
        t_cli, c_cli = time.perf_counter() - t0, _cpu_s(resource.RUSAGE_CHILDREN) - c0
        if proc.returncode != 0:
            console.print(f"[red]cashmatch match failed ({proc.returncode}):\n{proc.stderr}")
            return 1
        # VmHWM of the child itself: ru_maxrss of a child also counts the parent's pages it
        # held between fork and exec
        peaks = [ln for ln in proc.stderr.splitlines() if ln.startswith("VMHWM_KIB ")]
        child_peak = (
            int(peaks[-1].split()[1]) / 1024.0 if peaks else _rss_mib(resource.RUSAGE_CHILDREN)
        )
        allocations, exceptions = read_results(out_dir)
        csv_score = evaluate(
            truth=truth,
            allocations=allocations,
            exceptions=exceptions,
        )
        figures.update(
            csv_write_s=round(t_write, 3),
            csv_cli_s=round(t_cli, 3),
            csv_cli_cpu_s=round(c_cli, 3),
            csv_payments_per_s=round(n_pay / t_cli, 1),
            csv_cli_peak_rss_mib=round(child_peak, 1),
            csv_score_overall=csv_score.overall.to_dict(),
        )
        console.print(
            f"CSV -> CSV through the CLI: [bold]{n_pay / t_cli:,.0f} payments/s[/bold] "
            f"({t_cli:.1f} s including reading and writing, {c_cli:.1f} CPU s; files written in "
            f"{t_write:.1f} s), "
            f"peak RSS of the match process {child_peak:,.0f} MiB; auto-applied "
            f"{csv_score.overall.auto_pct or 0:.1f}% of matchable, wrong auto "
            f"{csv_score.overall.wrong_auto_pct or 0:.2f}%"
        )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    if args.keep is None:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
