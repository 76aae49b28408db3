"""The server process: grpc.aio with auth, health, reflection, TLS, limits, graceful stop.

:func:`run` is what ``cashmatch serve`` calls. Other doors into the same process (the
reviewers' web page, ``--http``) plug in as :class:`Sidecar` objects: they are started after
the store and service exist, and stopped before the store closes, so every door shares one
store and one :class:`LedgerService`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from cashmatch.server.auth import TokenTable

log = logging.getLogger("cashmatch.server")

SERVICE_NAME = "cashmatch.v1.CashApplication"
DEFAULT_MAX_MESSAGE = 64 * 1024 * 1024


class Sidecar(Protocol):
    """Another door into the same process (e.g. the reviewers' HTTP page)."""

    async def start(self, service: object) -> None: ...
    async def stop(self) -> None: ...


@dataclass(slots=True)
class ServerConfig:
    addr: str = "127.0.0.1:50051"
    db: str = "cashmatch.db"
    tokens: TokenTable = field(default_factory=lambda: TokenTable([]))
    tls_cert: Path | None = None
    tls_key: Path | None = None
    max_message_bytes: int = DEFAULT_MAX_MESSAGE
    grace_s: float = 30.0
    max_concurrent_rpcs: int | None = 256
    executor: object | None = None
    policy: object | None = None
    risk: object | None = None  # receivables RiskModel (None: the shipped default)


def _add_reflection(server: object, names: Sequence[str]) -> None:
    """Reflection v1alpha (what grpcurl and most tools speak), and v1 on the same servicer:
    the v1 messages are wire-identical to v1alpha."""
    import grpc
    from grpc_reflection.v1alpha import reflection
    from grpc_reflection.v1alpha import reflection_pb2 as rpb

    reflection.enable_server_reflection(names, server)
    servicer = reflection.aio.ReflectionServicer(names)
    handler = grpc.stream_stream_rpc_method_handler(
        servicer.ServerReflectionInfo,
        request_deserializer=rpb.ServerReflectionRequest.FromString,
        response_serializer=rpb.ServerReflectionResponse.SerializeToString,
    )
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                "grpc.reflection.v1.ServerReflection", {"ServerReflectionInfo": handler}
            ),
        )
    )


def _lock_database(db: str) -> object | None:
    """One server process per database file: the ledger cache of a process is invalidated by
    its own writes only. A second server on the same file is refused (advisory lock)."""
    if "://" in db and not db.startswith("sqlite:///"):
        return None
    import fcntl

    from cashmatch.engine.errors import FailedPrecondition

    path = Path(db.removeprefix("sqlite:///") + ".lock")
    fh = open(path, "a+")  # noqa: SIM115 - held open for the life of the server
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fh.close()
        raise FailedPrecondition(
            f"{db}: another cashmatch server is using this database (lock {path})"
        ) from None
    return fh


async def run(
    config: ServerConfig,
    *,
    sidecars: Sequence[Sidecar] = (),
    on_started: Callable[[int], None] | None = None,
    stop_event: asyncio.Event | None = None,
) -> None:
    """Serve until SIGTERM/SIGINT (or ``stop_event``): then health turns NOT_SERVING, new
    calls are refused, in-flight calls get ``grace_s`` to finish, the store is closed."""
    import grpc
    from grpc_health.v1 import health, health_pb2, health_pb2_grpc

    from cashmatch.engine.errors import InvalidInput
    from cashmatch.server.auth import make_interceptor
    from cashmatch.server.pb import cash_application_pb2_grpc as pb_grpc
    from cashmatch.server.service import LedgerService
    from cashmatch.server.servicers import CashApplicationServicer
    from cashmatch.server.store import open_store

    if len(config.tokens) == 0:
        raise InvalidInput(
            "no tokens: give --token-file or set CASHMATCH_TOKEN (every RPC but health needs one)"
        )
    lock = _lock_database(config.db)
    store = open_store(config.db)
    service = LedgerService(store, policy=config.policy, executor=config.executor, risk=config.risk)
    server = grpc.aio.server(
        interceptors=[make_interceptor(config.tokens)],
        options=[
            ("grpc.max_receive_message_length", config.max_message_bytes),
            ("grpc.max_send_message_length", config.max_message_bytes),
            ("grpc.so_reuseport", 0),
        ],
        maximum_concurrent_rpcs=config.max_concurrent_rpcs,
    )
    pb_grpc.add_CashApplicationServicer_to_server(CashApplicationServicer(service), server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    _add_reflection(
        server,
        [
            SERVICE_NAME,
            health.SERVICE_NAME,
            "grpc.reflection.v1alpha.ServerReflection",
            "grpc.reflection.v1.ServerReflection",
        ],
    )
    if config.tls_cert or config.tls_key:
        if not (config.tls_cert and config.tls_key):
            raise InvalidInput("TLS needs both --tls-cert and --tls-key")
        creds = grpc.ssl_server_credentials(
            [(Path(config.tls_key).read_bytes(), Path(config.tls_cert).read_bytes())]
        )
        port = server.add_secure_port(config.addr, creds)
    else:
        port = server.add_insecure_port(config.addr)
    if not port:
        raise InvalidInput(f"--addr {config.addr}: cannot listen there")
    await server.start()
    for name in ("", SERVICE_NAME):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    for car in sidecars:
        await car.start(service)
    log.info("cashmatch serving on port %s (db %s)", port, config.db)
    if on_started:
        on_started(port)

    stop = stop_event or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        # not available off the main thread or on some platforms
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await health_servicer.enter_graceful_shutdown()
        # new calls are refused from here on, in-flight calls get grace_s to finish
        stopping = asyncio.ensure_future(server.stop(config.grace_s))
        await asyncio.sleep(0.05)
        log.info("stopping: new calls are refused, calls in flight get %ss", config.grace_s)
        await asyncio.gather(stopping, *(car.stop() for car in reversed(sidecars)))
        store.close()
        if lock is not None:
            lock.close()
        log.info("cashmatch stopped")
