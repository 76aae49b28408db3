"""A small client for the command line (and tests): channel, token, error messages."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cashmatch.engine.errors import CashmatchError


class ClientError(CashmatchError):
    """A call to the server failed; carries the gRPC status code name."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.grpc_code = code


def add_client_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--server",
        default=os.environ.get("CASHMATCH_SERVER", "127.0.0.1:50051"),
        help="host:port of cashmatch serve (env CASHMATCH_SERVER)",
    )
    parser.add_argument("--token", help="bearer token (default: env CASHMATCH_TOKEN)")
    parser.add_argument("--tls", action="store_true", help="use TLS with the system roots")
    parser.add_argument("--tls-ca", help="PEM CA bundle to trust (implies --tls)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per call")


@dataclass
class Client:
    stub: Any
    metadata: tuple[tuple[str, str], ...]
    timeout: float
    channel: Any

    def call(self, method: str, request: Any) -> Any:
        import grpc

        try:
            return getattr(self.stub, method)(request, metadata=self.metadata, timeout=self.timeout)
        except grpc.RpcError as exc:
            raise ClientError(exc.code().name, exc.details() or "") from None

    def close(self) -> None:
        self.channel.close()


def connect(args: argparse.Namespace, *, max_message_mb: int = 64) -> Client:
    import grpc

    from cashmatch.server.pb import cash_application_pb2_grpc as pb_grpc

    token = args.token or os.environ.get("CASHMATCH_TOKEN", "")
    if not token:
        raise ClientError("UNAUTHENTICATED", "no token: give --token or set CASHMATCH_TOKEN")
    options = [
        ("grpc.max_receive_message_length", max_message_mb * 1024 * 1024),
        ("grpc.max_send_message_length", max_message_mb * 1024 * 1024),
    ]
    if args.tls or args.tls_ca:
        roots = Path(args.tls_ca).read_bytes() if args.tls_ca else None
        channel = grpc.secure_channel(
            args.server, grpc.ssl_channel_credentials(root_certificates=roots), options=options
        )
    else:
        channel = grpc.insecure_channel(args.server, options=options)
    return Client(
        pb_grpc.CashApplicationStub(channel),
        (("authorization", f"Bearer {token}"),),
        args.timeout,
        channel,
    )
