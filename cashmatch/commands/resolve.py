"""``cashmatch resolve PAYMENT_ID``: a reviewer's decision on an exception."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "resolve",
        help="resolve an exception: APPLY to invoices, ON_ACCOUNT, REFUND or WRITE_OFF",
        description="Example: cashmatch resolve PAY-1 --action APPLY --invoice INV-7=1200.00 "
        "--invoice INV-8=300.00 --remember --reviewer ann",
    )
    p.add_argument("payment_id", metavar="PAYMENT_ID")
    p.add_argument(
        "--action",
        required=True,
        type=str.upper,
        choices=["APPLY", "ON_ACCOUNT", "REFUND", "WRITE_OFF"],
    )
    p.add_argument(
        "--invoice",
        action="append",
        default=[],
        metavar="INV=AMOUNT[:ADJ:REASON]",
        help="APPLY: invoice and amount (repeat); optional adjustment and its reason",
    )
    p.add_argument("--customer", dest="customer_id")
    p.add_argument("--reviewer", help="who decides (default: $USER)")
    p.add_argument("--note")
    p.add_argument(
        "--remember", action="store_true", help="map this payer's account and name to the customer"
    )
    from cashmatch.server.client import add_client_arguments

    add_client_arguments(p)
    p.set_defaults(func=run)


def parse_invoice_arg(text: str) -> tuple[str, str, str, str]:
    from cashmatch.engine.errors import InvalidInput

    inv, sep, rest = text.partition("=")
    if not sep or not inv.strip() or not rest.strip():
        raise InvalidInput(f"--invoice {text!r}: expected INVOICE=AMOUNT, e.g. INV-7=1200.00")
    parts = rest.split(":")
    if len(parts) not in (1, 3):
        raise InvalidInput(f"--invoice {text!r}: expected INVOICE=AMOUNT[:ADJUSTMENT:REASON]")
    amount, adj, reason = (parts + ["", ""])[:3]
    return inv.strip(), amount.strip(), adj.strip(), reason.strip()


def run(args: argparse.Namespace) -> int:
    import os

    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from cashmatch.console import plain_cells
    from cashmatch.server.client import connect
    from cashmatch.server.pb import cash_application_pb2 as pb

    allocations = [
        pb.AllocationInput(
            invoice_id=i, applied_amount=a, adjustment_amount=adj, adjustment_reason=r
        )
        for i, a, adj, r in map(parse_invoice_arg, args.invoice)
    ]
    req = pb.ResolveExceptionRequest(
        payment_id=args.payment_id,
        action=pb.ResolveExceptionRequest.Action.Value(args.action),
        allocations=allocations,
        customer_id=args.customer_id or "",
        reviewer=args.reviewer or os.environ.get("USER", ""),
        note=args.note or "",
        remember=args.remember,
    )
    client = connect(args)
    try:
        resp = client.call("ResolveException", req)
    finally:
        client.close()
    d = resp.payment
    console = Console()
    console.print(
        f"[bold]{escape(d.payment.payment_id)}[/]: {d.status} "
        f"({d.payment.amount} {d.payment.currency}, unapplied {d.unapplied_amount})"
        + (f", customer {escape(d.customer_id)}" if d.customer_id else "")
    )
    if d.allocations:
        t = Table(box=None)
        for c in ("invoice", "applied", "adjustment", "open after", "by"):
            t.add_column(c)
        for a in d.allocations:
            t.add_row(
                *plain_cells(
                    a.invoice_id,
                    a.applied_amount,
                    a.adjustment_amount,
                    a.invoice_open_after,
                    a.created_by,
                )
            )
        console.print(t)
    return 0
