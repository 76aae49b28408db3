"""``throughput.py --sizes``: each size in its own process, then a markdown table, a JSON file
and a PNG plot (time and peak memory against size) in ``benchmarks/results/``."""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

STAGES = (
    "ledger_sort", "ledger_customers", "ledger_book", "ledger_keys", "ledger_key_index",
    "ledger_amounts", "payments", "prepare", "identify", "candidates_exact", "candidates_fuzzy",
    "candidates_amount", "scoring", "allocate", "output", "check",
)  # fmt: skip


def rewrite(out_dir: Path, extra: list[Path]) -> None:
    """Rewrite the table and plot from ``scale.json`` plus extra single-run JSON files (e.g.
    the Ray runs: ``throughput.py --executor ray --json FILE``), which join the table only."""
    rows = json.loads((out_dir / "scale.json").read_text())
    more = [json.loads(p.read_text()) for p in extra]
    (out_dir / "scale.md").write_text(markdown(rows + more))
    plot(rows, out_dir / "scale.png")


def run_sizes(args: argparse.Namespace, sizes: list[int]) -> int:
    out_dir: Path = args.results
    out_dir.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    for n in sizes:
        with tempfile.TemporaryDirectory(prefix="cashmatch-scale-") as tmp:
            js = Path(tmp) / "figures.json"
            cmd = [
                sys.executable, str(Path(__file__).parent / "throughput.py"),
                "--payments", str(n), "--seed", str(args.seed),
                "--invoices-per-payment", str(args.invoices_per_payment),
                "--executor", args.executor, "--json", str(js),
                "--keep", str(Path(tmp) / "csv"),
            ] + (["--csv"] if args.csv else [])  # fmt: skip
            print(f"== {n:,} payments: {' '.join(cmd[1:])}", flush=True)
            proc = subprocess.run(cmd)
            if proc.returncode != 0 or not js.exists():
                print(f"size {n} failed ({proc.returncode})")
                continue
            rows.append(json.loads(js.read_text()))
    (out_dir / "scale.json").write_text(json.dumps(rows, indent=2) + "\n")
    (out_dir / "scale.md").write_text(markdown(rows))
    plot(rows, out_dir / "scale.png")
    print(f"wrote {out_dir / 'scale.md'}, scale.json and scale.png")
    return 0


def _executor(r: dict) -> str:
    parts = r.get("partitions")
    return r.get("executor", "local") + (f", {parts} parts" if parts else "")


def _f(x: object, fmt: str = "{:.2f}") -> str:
    return "–" if x is None else fmt.format(x)


def markdown(rows: list[dict]) -> str:
    cpu = platform.processor() or platform.machine()
    lines = [
        "# End-to-end throughput by size",
        "",
        f"Generated days (all scenarios, 2.5 open invoices per payment), {cpu}, "
        f"Python {platform.python_version()}; written by `benchmarks/throughput.py --sizes`. "
        "In memory = `cashmatch.match` on Arrow tables (executor in the `executor` column); "
        "CSV -> CSV = `cashmatch match` in a child process, reading and writing included. "
        "Peak RSS in memory is the benchmark process, which holds the day's Arrow tables as "
        "read back from the generator's child process (not the generator's own memory) and "
        "the result; the CSV figure is the `cashmatch match` process alone (its VmHWM). With "
        "Ray the RSS is the driver's; the workers are other processes.",
        "",
        "Targets (issue 5): 1M payments <= 3 s in memory, <= 10 s CSV -> CSV, <= 2 GiB. "
        "The box has 2 cores shared with other jobs: wall seconds are noisy, so CPU seconds "
        "(user + system, all threads; the CSV figure is the child process) stand beside them.",
        "",
        "| payments | invoices | executor | in memory s | in memory CPU s | payments/s | "
        "peak RSS MiB | match RSS growth B/invoice | invoice table B/invoice | CSV->CSV s | "
        "CSV CPU s | CSV payments/s | CSV peak RSS MiB | auto % | wrong auto % | top-3 % |",
        "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        o = r["score"]["overall"]
        growth = r["peak_rss_growth_in_match_mib"] * 2**20 / max(r["invoices"], 1)
        lines.append(
            f"| {r['payments']:,} | {r['invoices']:,} | {_executor(r)} | "
            f"{r['match_s']:.2f} | {_f(r.get('match_cpu_s'))} | {r['payments_per_s']:,.0f} | "
            f"{r['peak_rss_mib']:,.0f} | {growth:,.0f} | "
            f"{r['invoice_table_bytes_per_invoice']:.0f} | {_f(r.get('csv_cli_s'))} | "
            f"{_f(r.get('csv_cli_cpu_s'))} | {_f(r.get('csv_payments_per_s'), '{:,.0f}')} | "
            f"{_f(r.get('csv_cli_peak_rss_mib'), '{:,.0f}')} | {_f(o.get('auto_pct'), '{:.1f}')} "
            f"| {_f(o.get('wrong_auto_pct'), '{:.3f}')} | {_f(o.get('topn_pct'), '{:.1f}')} |"
        )
    for r in rows:
        if r.get("executor") == "ray":
            lines.append(
                f"\nRay at {r['payments']:,} payments: a local Ray with {r.get('ray_workers')} "
                f"CPUs started in {r.get('ray_start_s', 0):.1f} s (not in the match time); "
                f"{r.get('partitions') or 'default'} partitions."
            )
    lines += [
        "",
        "## Seconds by stage (in memory)",
        "",
        "| payments | " + " | ".join(STAGES) + " | total |",
        "|---:|" + "---:|" * (len(STAGES) + 1),
    ]
    for r in rows:
        t = r["timings"]
        lines.append(
            f"| {r['payments']:,} {_executor(r)} | "
            + " | ".join(_f(t.get(s)) for s in STAGES)
            + f" | {_f(t.get('total'))} |"
        )
    return "\n".join(lines) + "\n"


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not rows:
        return
    n = [r["payments"] for r in rows]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    ax1.plot(n, [r["match_s"] for r in rows], "o-", label="in memory")
    if any("csv_cli_s" in r for r in rows):
        ax1.plot(n, [r.get("csv_cli_s") for r in rows], "s-", label="CSV -> CSV (CLI)")
    ax1.plot(n, [3.0 * x / 1e6 for x in n], "k--", lw=0.8, label="target in memory (3 s per 1M)")
    ax1.plot(n, [10.0 * x / 1e6 for x in n], "k:", lw=0.8, label="target CSV (10 s per 1M)")
    ax1.set(xscale="log", yscale="log", xlabel="payments", ylabel="seconds",
            title="wall time")  # fmt: skip
    ax1.legend()
    ax2.plot(n, [r["peak_rss_mib"] for r in rows], "o-", label="benchmark process (in memory)")
    if any("csv_cli_peak_rss_mib" in r for r in rows):
        ax2.plot(n, [r.get("csv_cli_peak_rss_mib") for r in rows], "s-", label="cashmatch match")
    ax2.plot(n, [2048 for _ in n], "k--", lw=0.8, label="target 2 GiB")
    ax2.set(xscale="log", yscale="log", xlabel="payments", ylabel="peak RSS (MiB)",
            title="memory")  # fmt: skip
    ax2.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
