"""``cashmatch match``: open invoices and bank credits in, allocations and exceptions out."""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from functools import partial
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
    p.add_argument(
        "--chunk-size",
        type=int,
        default=None,
        metavar="N",
        help="stream the payments N rows at a time (one interchange CSV/Parquet file) against "
        "the invoices loaded once, writing results as they come: bounded memory; a chunk "
        "sees what earlier chunks left open (see cashmatch.engine.streaming)",
    )


@dataclass
class Inputs:
    invoices: pa.Table | None  # None once the ledger is prepared from it
    payments: pa.Table
    remittances: pa.Table | None
    customers: pa.Table | None
    problems: list = field(default_factory=list)


#: the invoices' columns no match reads (checked as read, not joined into one array: a copy saved)
UNREAD_INVOICE_COLUMNS = ("po_number",)


def load_inputs(args: argparse.Namespace) -> Inputs:
    """Read every input; bank files go through the parsers' door, sniffed.

    The invoices (the largest file) are parsed on a thread of their own, on both cores (Arrow's
    threads; the columns no match reads left in Arrow's blocks), while the payments, their
    advices and the customers are read on this one, and meanwhile the engine's modules
    and the readers' compiled kernels load (Python holding the lock, beside Arrow's parsing
    without it). Nothing numba is imported before the parses start (numba's import, ~0.5 s of
    CPU, beside them; a CSV's amounts are converted after its parse). A large match's other
    kernels load after the reads (:func:`run`)."""
    from concurrent.futures import ThreadPoolExecutor

    from cashmatch.engine import interchange as io
    from cashmatch.parsers import parse_file

    with ThreadPoolExecutor(max_workers=2) as pool:
        invoices = pool.submit(io.read_invoices, args.invoices, unread=UNREAD_INVOICE_COLUMNS)
        pool.submit(_load_engine)
        parsed = [parse_file(path, kind="payments") for path in args.payments]
        from cashmatch.engine.result import credits_only  # (imports numba)

        payments = credits_only(pa.concat_tables([r.payments for r in parsed]))
        # interchange advices carry no currency: each line takes its payment's
        advices = [
            parse_file(path, kind="remittances", currency_of=payments) for path in args.remittances
        ]
        cr = io.read_customers(args.customers) if args.customers else None
        inv = invoices.result()
    problems = list(inv.problems)
    for r in [*parsed, *advices]:
        problems += r.problems
    if cr is not None:
        problems += cr.problems
    return Inputs(
        inv.table,
        payments,
        pa.concat_tables([r.remittances for r in advices]) if advices else None,
        cr.table if cr is not None else None,
        problems,
    )


#: payments files from this size on (~120k payments) make a large match: the compiled passes
#: it takes are loaded on a thread as its ledger is prepared (0.3-0.45 s of first calls at 1M)
LARGE_MATCH_BYTES = 16 << 20


def _load_engine() -> None:
    """Import the matcher and load the compiled passes it takes at any size (numba's cache)."""
    from cashmatch.engine import matcher  # noqa: F401
    from cashmatch.engine.normalize import warm_kernels

    warm_kernels()


def is_large(args: argparse.Namespace) -> bool:
    """Whether the payments files make a large match (:data:`LARGE_MATCH_BYTES`)."""
    return sum(p.stat().st_size for p in args.payments if p.is_file()) >= LARGE_MATCH_BYTES


def run(args: argparse.Namespace) -> int:
    from cashmatch.console import out, progress, report_problems, step, summary_table
    from cashmatch.engine import interchange as io
    from cashmatch.engine.policy import Policy, load_policy

    policy = load_policy(args.policy) if args.policy else Policy()
    if getattr(args, "chunk_size", None):
        return run_chunked(args, policy)
    t0 = time.perf_counter()
    with progress(total=3) as bar:
        step(bar, "reading the inputs")
        inputs = load_inputs(args)  # (the engine loads meanwhile)
        if is_large(args):
            # every pass a large match may take, on a thread nobody waits for: after the
            # reads, not beside them (three threads for two cores, two of them wanting the
            # interpreter: load_inputs ~0.3 s longer), and before the ledger's first passes
            from cashmatch.engine.kernel_cache import load_in_background

            load_in_background()
        from cashmatch.engine.executors import executor_from_args
        from cashmatch.engine.ledger import prepare_ledger
        from cashmatch.engine.matcher import match, read_columns
        from cashmatch.engine.threads import in_background

        inputs.payments = read_columns(inputs.payments)  # (the rest let go before the ledger)
        step(bar, f"matching {inputs.payments.num_rows:,} payments")
        with executor_from_args(args) as executor:
            # the ledger keeps what the match reads (a match in one part: only the book, not
            # the invoices' other columns), for this match only: the table read is let go
            ledger = prepare_ledger(invoices=inputs.invoices, customers=inputs.customers,
                                    keep_invoices=executor.workers > 1, single_use=True)
            inputs.invoices = inputs.customers = None
            result = match(
                ledger=ledger,
                payments=inputs.payments,
                remittances=inputs.remittances,
                policy=policy,
                executor=executor,
            )
        step(bar, "writing results")
        args.out.mkdir(parents=True, exist_ok=True)
        suffix = ".parquet" if args.format == "parquet" else ".csv"
        # a large day's exceptions written on a thread beside the allocations' sort (Arrow's,
        # on one core)
        exceptions_written = in_background(
            partial(io.write_exceptions, result.exceptions, args.out / f"exceptions{suffix}"),
            thread=result.allocations.num_rows >= io.PARALLEL_WRITE_ROWS)
        io.write_allocations(result.allocations, args.out / f"allocations{suffix}")
        exceptions_written()
    report_problems(inputs.problems)
    elapsed = time.perf_counter() - t0
    out.print(summary_table(result.summary, title=f"cashmatch match ({elapsed:.2f} s)"))
    out.print(
        f"wrote {args.out / ('allocations' + suffix)} and {args.out / ('exceptions' + suffix)}"
    )
    return 0


def run_chunked(args: argparse.Namespace, policy: object) -> int:
    """``--chunk-size``: the payments streamed in chunks, results appended as they come."""
    from cashmatch.console import out, report_problems, summary_table
    from cashmatch.engine import interchange as io
    from cashmatch.engine import streaming
    from cashmatch.engine.errors import InvalidInput
    from cashmatch.engine.executors import executor_from_args
    from cashmatch.engine.result import credits_only

    if args.chunk_size <= 0:
        raise InvalidInput("--chunk-size must be a positive number of rows")
    bank_remittances = any(p.suffix.lower() not in (".csv", ".parquet") for p in args.remittances)
    if len(args.payments) != 1 or bank_remittances:
        raise InvalidInput(
            "--chunk-size streams one interchange payments file (CSV or Parquet) with "
            "interchange remittances; read bank files without --chunk-size"
        )
    t0 = time.perf_counter()
    inv = io.read_invoices(args.invoices)
    problems = list(inv.problems)
    customers = None
    if args.customers:
        cr = io.read_customers(args.customers)
        problems += cr.problems
        customers = cr.table
    chunk_results = []

    def chunks():
        for r in streaming.payment_chunks(args.payments[0], args.chunk_size):
            chunk_results.append(r)
            problems.extend(r.problems)
            r.problems = []
            yield credits_only(r.table)

    remittances = None
    if args.remittances:
        # advices carry no currency; they take their payment's, read from the payments file
        # column by column (payment id, end-to-end id, currency: small beside the whole file)
        pay_keys = io.read_payments(
            args.payments[0], only=["payment_id", "end_to_end_id", "currency"]
        ).table
        rems = []
        for path in args.remittances:
            r = io.read_remittances(path, payments=pay_keys)
            problems += r.problems
            rems.append(r.table)
        remittances = pa.concat_tables(rems)
        del pay_keys
    args.out.mkdir(parents=True, exist_ok=True)
    suffix = ".parquet" if args.format == "parquet" else ".csv"
    writer = streaming.ResultWriter(
        allocations=args.out / f"allocations{suffix}", exceptions=args.out / f"exceptions{suffix}"
    )
    try:
        with executor_from_args(args) as executor:
            summary = streaming.match_chunks(
                invoices=inv.table,
                chunks=chunks(),
                remittances=remittances,
                customers=customers,
                policy=policy,
                executor=executor,
                on_result=writer.write,
            )
    finally:
        writer.close()
    report_problems(problems)
    elapsed = time.perf_counter() - t0
    out.print(
        summary_table(
            summary,
            title=f"cashmatch match ({elapsed:.2f} s, {len(chunk_results)} chunks of "
            f"{args.chunk_size:,})",
        )
    )
    out.print(
        f"wrote {args.out / ('allocations' + suffix)} and {args.out / ('exceptions' + suffix)}"
    )
    return 0
