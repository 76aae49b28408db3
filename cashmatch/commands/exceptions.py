"""``cashmatch exceptions``: the reviewers' queue of a cashmatch server, as a table."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "exceptions", help="list the open exceptions of a cashmatch server (the reviewers' queue)"
    )
    p.add_argument("--reason")
    p.add_argument("--customer", dest="customer_id")
    p.add_argument("--currency")
    p.add_argument("--min-amount")
    p.add_argument("--max-amount")
    p.add_argument("--older-than-days", type=int)
    p.add_argument(
        "--sort",
        default="age",
        help="age (default), -age, amount, -amount, payment_id, reason, customer_id",
    )
    p.add_argument("--resolved", action="store_true", help="list resolved exceptions instead")
    p.add_argument("--limit", type=int, default=50, help="rows to show (0: all)")
    p.add_argument("--csv", action="store_true", help="print CSV instead of a table")
    from cashmatch.server.client import add_client_arguments

    add_client_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import csv
    import sys

    from rich.console import Console
    from rich.table import Table

    from cashmatch.console import plain_cells
    from cashmatch.server.client import connect
    from cashmatch.server.pb import cash_application_pb2 as pb

    client = connect(args)
    items = []
    token = ""
    total, counts = 0, {}
    try:
        while True:
            want = 1000 if args.limit == 0 else min(1000, args.limit - len(items))
            req = pb.ListExceptionsRequest(
                page_size=want,
                page_token=token,
                reason=args.reason or "",
                customer_id=args.customer_id or "",
                currency=args.currency or "",
                min_amount=args.min_amount or "",
                max_amount=args.max_amount or "",
                sort=args.sort,
                status="resolved" if args.resolved else "open",
            )
            if args.older_than_days is not None:
                req.older_than_days = args.older_than_days
            resp = client.call("ListExceptions", req)
            items.extend(resp.exceptions)
            total, counts = resp.total, dict(resp.counts_by_reason)
            token = resp.next_page_token
            if not token or (args.limit and len(items) >= args.limit):
                break
    finally:
        client.close()
    cols = (
        "payment_id",
        "value_date",
        "reason",
        "unapplied_amount",
        "currency",
        "customer_id",
        "payer_name",
        "reference",
        "candidates",
        "detail",
    )
    if args.csv:
        w = csv.writer(sys.stdout)
        w.writerow(cols)
        for e in items:
            w.writerow(
                [";".join(e.candidates) if c == "candidates" else getattr(e, c) for c in cols]
            )
        return 0
    console = Console()
    t = Table(title=f"{total} {'resolved' if args.resolved else 'open'} exception(s)")
    for c in (
        "payment",
        "date",
        "reason",
        "unapplied",
        "customer",
        "payer",
        "reference",
        "candidates",
    ):
        t.add_column(c, overflow="fold")
    if args.resolved:
        t.add_column("resolved")
    for e in items:
        row = [
            e.payment_id,
            e.value_date,
            e.reason,
            f"{e.unapplied_amount} {e.currency}",
            e.customer_id,
            e.payer_name,
            e.reference,
            ", ".join(e.candidates[:3]),
        ]
        if args.resolved:
            row.append(f"{e.resolution} by {e.resolved_by} at {e.resolved_at[:19]}")
        t.add_row(*plain_cells(*row))
    console.print(t)
    if counts:
        console.print("by reason: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    if len(items) < total:
        console.print(f"showing {len(items)} of {total} (--limit 0 for all)")
    return 0
