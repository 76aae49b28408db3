"""``cashmatch parse FILE... --out payments.csv|.parquet`` — bank and remittance files to
interchange files, with a summary of what was read and of every statement's reconciliation."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "parse",
        help="read bank statements and remittance advices into interchange files",
        description="Read MT940, CAMT.053/054, OFX/QFX, BAI2, bank CSV (with a profile), "
        "X12 820 and interchange CSV/Parquet; write payments (credits and debits) and "
        "remittance lines as interchange CSV or Parquet, and check every statement's balances.",
    )
    p.add_argument("files", nargs="+", type=Path, metavar="FILE")
    p.add_argument(
        "--format",
        dest="fmt",
        default=None,
        help="skip sniffing: mt940, camt, ofx, bai2, bank-csv, x12-820, "
        "payments-csv, remittance-csv, interchange-parquet",
    )
    p.add_argument(
        "--profile", default=None, help="bank CSV mapping profile: a built-in name or a TOML file"
    )
    p.add_argument(
        "--out", type=Path, default=None, help="payments file to write (.csv or .parquet)"
    )
    p.add_argument(
        "--remittances-out",
        type=Path,
        default=None,
        help="remittance lines file to write (.csv or .parquet)",
    )
    p.add_argument(
        "--statements-out",
        type=Path,
        default=None,
        help="statements (balances and totals) file to write (.csv or .parquet)",
    )
    p.add_argument(
        "--credits-only",
        action="store_true",
        help="write only credits (what cash application needs)",
    )
    p.add_argument(
        "--strict",
        action="store_true",
        help="exit with status 1 when any row problem or reconciliation finding is reported",
    )
    p.add_argument(
        "--max-problems", type=int, default=50, help="how many problems to print (all are counted)"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv
    from rich.console import Console
    from rich.table import Table

    from cashmatch.engine import interchange as ix
    from cashmatch.engine import schema as S
    from cashmatch.engine.errors import InvalidInput
    from cashmatch.engine.money import format_minor
    from cashmatch.parsers import parse_file
    from cashmatch.parsers._common import statement_status

    console = Console(stderr=True)
    if not console.is_terminal:  # logs and pipes: do not cut statement ids and findings
        console = Console(stderr=True, width=200)
    if args.out is None and args.remittances_out is None and args.statements_out is None:
        raise InvalidInput("nothing to write: give --out, --remittances-out or --statements-out")
    for target in (args.out, args.remittances_out, args.statements_out):
        if target is not None and target.suffix not in (".csv", ".parquet"):
            raise InvalidInput(f"{target}: the output must end in .csv or .parquet")
    payments, remittances, statements, problems = [], [], [], []
    files = Table(title="files read", title_justify="left")
    for col in ("file", "format", "credits", "debits", "remittance lines", "problems"):
        files.add_column(col, justify="left" if col in ("file", "format") else "right")
    for path in args.files:
        result = parse_file(path, format=args.fmt, profile=args.profile)
        pay = result.payments
        debit = pc.equal(pc.fill_null(pay.column("direction"), "CRDT"), "DBIT")
        n_debits = int(pc.sum(pc.cast(debit, pa.int64())).as_py() or 0)
        files.add_row(
            str(path),
            result.format,
            str(pay.num_rows - n_debits),
            str(n_debits),
            str(result.remittances.num_rows),
            str(len(result.problems)),
        )
        if args.credits_only:
            pay = pay.filter(pc.invert(debit))
        payments.append(pay)
        remittances.append(result.remittances)
        statements.append(result.statements)
        problems.extend(result.problems)
    pay_all = pa.concat_tables(payments) if payments else S.empty(S.PAYMENTS)
    rem_all = pa.concat_tables(remittances) if remittances else S.empty(S.REMITTANCES)
    st_all = pa.concat_tables(statements) if statements else S.empty(S.STATEMENTS)
    if args.out is not None:
        ix.write_payments(pay_all, args.out)
    if args.remittances_out is not None:
        ix.write_remittances(rem_all, args.remittances_out)
    if args.statements_out is not None:
        if args.statements_out.suffix == ".parquet":
            import pyarrow.parquet as pq

            pq.write_table(st_all, args.statements_out)
        else:
            pacsv.write_csv(st_all, args.statements_out)
    console.print(files)
    if st_all.num_rows:
        status = statement_status(st_all, problems)
        table = Table(title="statements", title_justify="left")
        for col in (
            "statement",
            "account",
            "ccy",
            "seq",
            "opening",
            "credits",
            "debits",
            "closing",
            "check",
        ):
            table.add_column(
                col,
                no_wrap=col in ("statement", "check"),
                justify="right" if col in ("opening", "credits", "debits", "closing") else "left",
            )
        for row in st_all.to_pylist():
            cur = row["currency"] or ""

            def money(v: int | None, cur: str = cur) -> str:
                if v is None:
                    return "-"
                try:
                    return format_minor(v, cur)
                except InvalidInput:
                    return str(v)

            check = status.get(row["statement_id"], "ok")
            if row["opening_balance"] is None or row["closing_balance"] is None:
                check = "no balances" if check == "ok" else check
            style = "green" if check == "ok" else ("yellow" if check == "no balances" else "red")
            table.add_row(
                row["statement_id"],
                row["account"] or "",
                cur,
                row["sequence"] or "",
                money(row["opening_balance"]),
                money(row["total_credits"]),
                money(row["total_debits"]),
                money(row["closing_balance"]),
                f"[{style}]{check}[/{style}]",
            )
        console.print(table)
    if problems:
        console.print(f"[bold]{len(problems)} problem(s)[/bold]:")
        for p in problems[: args.max_problems]:
            console.print(f"  {p}", markup=False, highlight=False)
        if len(problems) > args.max_problems:
            console.print(f"  ... and {len(problems) - args.max_problems} more")
    written = [str(t) for t in (args.out, args.remittances_out, args.statements_out) if t]
    print(
        f"{pay_all.num_rows} payments, {rem_all.num_rows} remittance lines, "
        f"{st_all.num_rows} statements, {len(problems)} problems -> {', '.join(written)}",
        file=sys.stderr,
    )
    return 1 if (args.strict and problems) else 0
