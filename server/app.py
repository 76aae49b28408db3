"""The server process: grpc.aio with auth, health, reflection, TLS, limits, graceful stop.

:func:`run` is what ``cashmatch serve`` calls. Other doors into the same process (the
reviewers' web page, ``--http``) plug in as :class:`Sidecar` objects: they are started after
the store and service exist, and stopped before the store closes, so every door shares one
store and one :class:`LedgerService`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

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
    worker: bool = False  # one of run_workers' processes: port shared, the parent holds the lock


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


def _read_pem(flag: str, path: str) -> bytes:
    """A PEM file the server was pointed at, or a clear error naming the flag and the file."""
    from cashmatch.engine.errors import InvalidInput

    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InvalidInput(f"{flag} {path}: cannot read it ({exc.strerror})") from None
    if b"-----BEGIN " not in data:
        raise InvalidInput(f"{flag} {path}: not a PEM file (no '-----BEGIN ' line)")
    return data


def _lock_database(db: str) -> object | None:
    """One server per database file (its worker processes, :func:`run_workers`, share the
    lock): a second ``cashmatch serve`` on the same file is refused (advisory lock)."""
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
    from cashmatch.server.service import LedgerService
    from cashmatch.server.servicers import CashApplicationServicer, add_to_server
    from cashmatch.server.store import open_store

    if len(config.tokens) == 0:
        raise InvalidInput(
            "no tokens: give --token-file or set CASHMATCH_TOKEN (every RPC but health needs one)"
        )
    lock = None if config.worker else _lock_database(config.db)
    _warm_kernels()
    store = open_store(config.db)
    service = LedgerService(store, policy=config.policy, executor=config.executor, risk=config.risk)
    server = grpc.aio.server(
        interceptors=[make_interceptor(config.tokens)],
        options=[
            ("grpc.max_receive_message_length", config.max_message_bytes),
            ("grpc.max_send_message_length", config.max_message_bytes),
            ("grpc.so_reuseport", int(config.worker)),
        ],
        maximum_concurrent_rpcs=config.max_concurrent_rpcs,
    )
    add_to_server(CashApplicationServicer(service), server)
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
            [(_read_pem("--tls-key", config.tls_key), _read_pem("--tls-cert", config.tls_cert))]
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
    orphaned = asyncio.ensure_future(_parent_gone(stop)) if config.worker else None
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
        if orphaned is not None:
            orphaned.cancel()
        log.info("cashmatch stopped")


async def _parent_gone(stop: asyncio.Event) -> None:
    """A worker stops by itself when the process that started it is gone (killed)."""
    parent = os.getppid()
    while os.getppid() == parent:
        await asyncio.sleep(0.5)
    stop.set()


def _warm_kernels() -> None:
    """The compiled passes, ready before the first call: compiled on the first start after an
    install, loaded from numba's on-disk cache after. A small generated day matched once takes
    every pass a small Match takes; the rest are taken at the sizes they start from."""
    from cashmatch.engine import allocate, matcher, review
    from cashmatch.engine.normalize import warm_kernels
    from cashmatch.fixtures.generator import generate_day
    from cashmatch.server import wire

    warm_kernels()
    review.warm()
    allocate.warm()
    wire.warm()
    day = generate_day(payments=60, seed=0)
    matcher.match(invoices=day.invoices, payments=day.payments, remittances=day.remittances,
                  customers=day.customers)  # fmt: skip


def _worker(config: ServerConfig, log_level: int, ready: Any) -> None:
    from cashmatch.engine.errors import CashmatchError

    logging.basicConfig(level=log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        asyncio.run(run(config, on_started=ready.send))
    except CashmatchError as exc:
        print(f"cashmatch serve: worker {os.getpid()}: error: {exc}", file=sys.stderr)
        sys.exit(2)


def run_workers(
    config: ServerConfig, workers: int, *, on_started: Callable[[int], None] | None = None
) -> None:
    """``workers`` server processes on one address (SO_REUSEPORT: the kernel deals incoming
    connections out to them), each with its own store connections and prepared ledger: calls
    on different connections run on different cores. They see each other's writes through the
    store (``ledger_version`` moves on any process's commit; SQLite serialises the writers).
    Blocks until SIGTERM/SIGINT, which is passed on to every worker (each stops gracefully);
    if a worker dies, the others are stopped too."""
    import multiprocessing
    import socket

    from cashmatch.engine.errors import InvalidInput

    lock = _lock_database(config.db)
    host, _, port = config.addr.rpartition(":")
    try:
        family, kind, proto, _, sockaddr = socket.getaddrinfo(
            host.strip("[]") or None, int(port), type=socket.SOCK_STREAM
        )[0]
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"--addr {config.addr}: {exc}") from None
    reserve = socket.socket(family, kind, proto)  # holds the port (not listening) for them
    reserve.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        reserve.bind(sockaddr)
    except OSError as exc:
        raise InvalidInput(f"--addr {config.addr}: cannot listen there ({exc})") from None
    port = reserve.getsockname()[1]
    worker_config = dataclasses.replace(config, addr=f"{host}:{port}", worker=True)
    # compiled here once, so the workers load numba's cache rather than all compiling the same
    # passes side by side on a fresh install (and writing the same cache files at once)
    _warm_kernels()
    ctx = multiprocessing.get_context("spawn")  # no gRPC state forked from this process
    procs, pipes = [], []
    for _ in range(workers):
        receive, send = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_worker, args=(worker_config, log.getEffectiveLevel(), send))
        proc.start()
        procs.append(proc)
        pipes.append(receive)
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    try:
        for receive, proc in zip(pipes, procs, strict=True):
            while not receive.poll(0.2):
                if stopping.is_set():
                    return  # stopped while starting: the workers are stopped below
            try:
                receive.recv()
            except EOFError:  # it ended without starting
                raise InvalidInput(f"server worker {proc.pid} did not start (see above)") from None
        log.info("cashmatch: %d workers serving on port %s (db %s)", workers, port, config.db)
        if on_started:
            on_started(port)
        while not stopping.is_set() and all(p.is_alive() for p in procs):
            stopping.wait(0.5)
    finally:
        for proc in procs:
            if proc.is_alive():
                os.kill(proc.pid, signal.SIGTERM)
        for proc in procs:
            proc.join(config.grace_s + 5)
            if proc.is_alive():
                proc.kill()
        reserve.close()
        if lock is not None:
            lock.close()
    if not all(p.exitcode == 0 for p in procs):
        from cashmatch.engine.errors import FailedPrecondition

        raise FailedPrecondition(
            "server workers stopped: " + ", ".join(f"{p.pid}: exit {p.exitcode}" for p in procs)
        )
