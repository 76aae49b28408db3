"""``cashmatch submit FILE``: send a bank statement (or remittance advice) to the server."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "submit",
        help="submit bank statements or remittance advices to a cashmatch server",
        description="Each file is sent once with an idempotency key (default: derived from the "
        "file's content), so re-running a batch job never applies cash twice.",
    )
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--remittance", action="store_true", help="the files are remittance advices")
    p.add_argument("--format", help="file format (default: detected by the server)")
    p.add_argument("--idempotency-key", help="key for a single file (default: content hash)")
    p.add_argument("--strict", action="store_true", help="reject a file with any unreadable row")
    p.add_argument("--show", type=int, default=20, help="exceptions to list per file")
    from cashmatch.server.client import add_client_arguments

    add_client_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import hashlib
    from pathlib import Path

    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from cashmatch.console import plain_cells
    from cashmatch.engine.errors import InvalidInput
    from cashmatch.engine.money import format_minor
    from cashmatch.server.client import connect
    from cashmatch.server.pb import cash_application_pb2 as pb

    if args.idempotency_key and len(args.files) > 1:
        raise InvalidInput("--idempotency-key names one file; give one FILE with it")
    console = Console()
    client = connect(args)
    worst = 0
    try:
        for name in args.files:
            path = Path(name)
            try:
                content = path.read_bytes()
            except OSError as exc:
                raise InvalidInput(f"{path}: cannot read: {exc}") from None
            key = args.idempotency_key or "sha256:" + hashlib.sha256(content).hexdigest()
            kind = pb.SubmitRemittanceRequest if args.remittance else pb.SubmitStatementRequest
            request = kind(
                content=content,
                filename=path.name,
                format=args.format or "",
                idempotency_key=key,
                strict=args.strict,
            )
            method = "SubmitRemittance" if args.remittance else "SubmitStatement"
            resp = client.call(method, request)
            s = resp.summary
            head = "[yellow]duplicate: first result[/]" if resp.duplicate else "[green]stored[/]"
            console.print(
                f"[bold]{escape(str(path))}[/] -> {resp.statement_id} ({head}): "
                f"{s.payments} payments, "
                f"{s.auto_applied} auto-applied ({s.auto_applied_pct:.1f}%)"
            )
            dup = sum(1 for p in resp.payments if p.status == "DUPLICATE")
            if dup:
                console.print(f"  {dup} payment(s) already received earlier: not applied again")
            money = Table(box=None, show_header=True, pad_edge=False)
            for col in ("currency", "received", "applied", "unapplied"):
                money.add_column(col, justify="right")
            cur = sorted({a.currency for a in [*s.received, *s.applied, *s.unapplied]})
            by = {
                k: {a.currency: a.amount for a in getattr(s, k)}
                for k in ("received", "applied", "unapplied")
            }
            for c in cur:
                zero = format_minor(0, c)
                money.add_row(
                    c,
                    by["received"].get(c, zero),
                    by["applied"].get(c, zero),
                    by["unapplied"].get(c, zero),
                )
            if cur:
                console.print(money)
            if resp.exceptions and args.show:
                t = Table(title="exceptions", show_lines=False)
                for col in ("payment", "reason", "unapplied", "candidates", "detail"):
                    t.add_column(col)
                for e in list(resp.exceptions)[: args.show]:
                    t.add_row(
                        *plain_cells(
                            e.payment_id,
                            e.reason,
                            f"{e.unapplied_amount} {e.currency}",
                            ", ".join(e.candidates[:3]),
                            e.detail,
                        )
                    )
                console.print(t)
                if len(resp.exceptions) > args.show:
                    console.print(f"  ... and {len(resp.exceptions) - args.show} more")
            for prob in resp.problems:
                where = f"{prob.source}:{prob.line}" + (f" [{prob.column}]" if prob.column else "")
                console.print(
                    f"[red]problem[/] {escape(where)}: {escape(prob.reason)}", highlight=False
                )
            if resp.problems:
                worst = max(worst, 1)
    finally:
        client.close()
    return worst
