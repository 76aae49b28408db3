"""``cashmatch serve``: the gRPC service over a durable ledger (SQLite file by default)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "serve",
        help="run the gRPC service (ledger, statements, exception queue)",
        description="Serve cashmatch.v1.CashApplication over gRPC. Every RPC but health needs "
        "'authorization: Bearer <token>' (tokens from --token-file or CASHMATCH_TOKEN). Stops "
        "gracefully on SIGTERM.",
    )
    p.add_argument("--addr", default="127.0.0.1:50051", help="host:port (port 0: any free port)")
    p.add_argument("--db", default="cashmatch.db", help="ledger: a SQLite file (created if absent)")
    p.add_argument("--token-file", help="tokens, one per line: TOKEN [NAME] [read|write]")
    p.add_argument("--tls-cert", help="PEM certificate chain (with --tls-key: serve TLS)")
    p.add_argument("--tls-key", help="PEM private key")
    p.add_argument("--policy", help="matching policy (TOML)")
    p.add_argument(
        "--risk",
        help="receivables risk model (TOML, as for `cashmatch ar --risk`; default: shipped)",
    )
    p.add_argument("--executor", choices=["local", "ray"], default="local")
    p.add_argument("--max-message-mb", type=int, default=64, help="largest message (MiB)")
    p.add_argument("--grace", type=float, default=30.0, help="seconds in-flight calls get on stop")
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes sharing the address (SO_REUSEPORT; each client connection goes "
        "to one of them): concurrent calls on different connections use more cores",
    )
    p.add_argument("-v", "--verbose", action="store_true")
    add_sidecar_arguments(p)
    p.set_defaults(func=run)


def add_sidecar_arguments(parser: argparse.ArgumentParser) -> None:
    """Hook for other doors into the same process (e.g. ``--http ADDR`` for the reviewers'
    page): add their flags here and build them in :func:`sidecars`."""
    parser.add_argument(
        "--http",
        metavar="ADDR",
        help="also serve the reviewers' web page on host:port "
        "(same process and ledger; HTTPS with --tls-cert/--tls-key)",
    )


def sidecars(args: argparse.Namespace) -> list:
    """The extra doors to start beside gRPC, from the parsed flags."""
    if not getattr(args, "http", None):
        return []
    from cashmatch.server.auth import TokenTable
    from cashmatch.server.web.app import WebSidecar, tls_context

    return [
        WebSidecar(
            addr=args.http,
            tokens=TokenTable.load(token_file=args.token_file),
            ssl_context=tls_context(args.tls_cert, args.tls_key),
        )
    ]


def run(args: argparse.Namespace) -> int:
    import asyncio
    import logging
    import sys
    from pathlib import Path

    from cashmatch.server.app import ServerConfig
    from cashmatch.server.app import run as serve
    from cashmatch.server.auth import TokenTable

    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    policy = None
    if args.policy:
        from cashmatch.engine.policy import load_policy

        policy = load_policy(args.policy)
    risk = None
    if args.risk:
        from cashmatch.engine.receivables import RiskModel

        risk = RiskModel.from_toml(args.risk)
    executor = None
    if args.executor == "ray":
        try:
            from cashmatch.engine import executors  # type: ignore[attr-defined]

            executor = executors.RayExecutor()
        except (ImportError, AttributeError) as exc:
            from cashmatch.engine.errors import InvalidInput

            raise InvalidInput(f"--executor ray is not available in this build: {exc}") from None
    config = ServerConfig(
        addr=args.addr,
        db=args.db,
        tokens=TokenTable.load(token_file=args.token_file),
        tls_cert=Path(args.tls_cert) if args.tls_cert else None,
        tls_key=Path(args.tls_key) if args.tls_key else None,
        max_message_bytes=args.max_message_mb * 1024 * 1024,
        grace_s=args.grace,
        executor=executor,
        policy=policy,
        risk=risk,
    )

    def started(port: int) -> None:
        host = args.addr.rsplit(":", 1)[0]
        print(f"cashmatch serving on {host}:{port} (db {args.db})", flush=True)

    if args.workers == 1:
        asyncio.run(serve(config, sidecars=sidecars(args), on_started=started))
    else:
        from cashmatch.engine.errors import InvalidInput
        from cashmatch.server.app import run_workers

        if args.workers < 1 or args.executor != "local" or sidecars(args):
            raise InvalidInput("--workers: at least 1, and only 1 with --executor ray or --http")
        run_workers(config, args.workers, on_started=started)
    print("cashmatch stopped", file=sys.stderr, flush=True)
    return 0
