"""Bearer-token authentication (and scopes) for every RPC but health.

Tokens come from a file (``--token-file``) or the ``CASHMATCH_TOKEN`` environment variable.
A token file has one token per line, optionally followed by a principal name and a
comma-separated list of scopes::

    # token                 name     scopes
    s3cr3t-ingest           billing  write
    r3ad-only-t0ken         audit    read
    crm-t0ken-1234          crm      receivables

Three scopes, each including the next: ``write`` (every RPC; a token without scopes has it),
``read`` (the RPCs that change nothing: Match, ListExceptions, GetPayment, and those of
``receivables``) and ``receivables`` (GetReceivables and GetAccount only, plus reflection: a
CRM integration's token sees the receivables figures and one customer's status, never the
payments, payers or exception queue). Tokens are compared by their SHA-256 digest
(constant-time).
"""

from __future__ import annotations

import contextvars
import hashlib
import hmac
import os
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from cashmatch.engine.errors import InvalidInput

RECEIVABLES = "receivables"
READ = "read"
WRITE = "write"
SCOPES = (RECEIVABLES, READ, WRITE)
_IMPLIED = {
    WRITE: {RECEIVABLES, READ, WRITE},
    READ: {RECEIVABLES, READ},
    RECEIVABLES: {RECEIVABLES},
}

# methods a receivables token may call (full gRPC method names)
RECEIVABLES_METHODS = frozenset(
    {
        "/cashmatch.v1.CashApplication/GetReceivables",
        "/cashmatch.v1.CashApplication/GetAccount",
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    }
)
# methods a read-only token may call besides those
READ_METHODS = frozenset(
    {
        "/cashmatch.v1.CashApplication/Match",
        "/cashmatch.v1.CashApplication/ListExceptions",
        "/cashmatch.v1.CashApplication/GetPayment",
    }
)
OPEN_PREFIXES = ("/grpc.health.v1.Health/",)


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    scopes: frozenset[str]

    def allows(self, method: str) -> bool:
        if method in RECEIVABLES_METHODS:
            return RECEIVABLES in self.scopes
        return (READ if method in READ_METHODS else WRITE) in self.scopes


current_principal: contextvars.ContextVar[Principal | None] = contextvars.ContextVar(
    "cashmatch_principal", default=None
)


class TokenTable:
    """token digest -> principal."""

    def __init__(self, entries: Iterable[tuple[str, Principal]]) -> None:
        self._by_digest: dict[bytes, Principal] = {}
        for token, principal in entries:
            self._by_digest[_digest(token)] = principal

    def __len__(self) -> int:
        return len(self._by_digest)

    def lookup(self, token: str) -> Principal | None:
        d = _digest(token)
        found = None
        for key, principal in self._by_digest.items():  # constant time over the table
            if hmac.compare_digest(key, d):
                found = principal
        return found

    @classmethod
    def load(
        cls, *, token_file: str | Path | None = None, env: str = "CASHMATCH_TOKEN"
    ) -> TokenTable:
        entries: list[tuple[str, Principal]] = []
        if token_file:
            path = Path(token_file)
            try:
                lines = path.read_text(encoding="utf-8").splitlines()
            except OSError as exc:
                raise InvalidInput(f"{path}: cannot read token file: {exc}") from None
            for lineno, raw in enumerate(lines, 1):
                line = raw.strip()
                if not line or line.startswith("#"):
                    continue
                parts = line.split()
                token = parts[0]
                name = parts[1] if len(parts) > 1 else f"token{lineno}"
                scopes = set(parts[2].split(",")) if len(parts) > 2 else {WRITE}
                unknown = scopes - set(SCOPES)
                if unknown or len(parts) > 3:
                    raise InvalidInput(
                        f"{path}:{lineno}: expected 'token [name] [scopes]' with scopes from "
                        f"{list(SCOPES)}"
                    )
                if len(token) < 8:
                    raise InvalidInput(f"{path}:{lineno}: token too short (at least 8 chars)")
                implied = set().union(*(_IMPLIED[s] for s in scopes))
                entries.append((token, Principal(name, frozenset(implied))))
        value = os.environ.get(env, "").strip()
        if value:
            entries.append((value, Principal("env", frozenset(_IMPLIED[WRITE]))))
        return cls(entries)


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def bearer(metadata: Iterable[tuple[str, str | bytes]] | None) -> str | None:
    for key, value in metadata or ():
        if key.lower() == "authorization":
            text = value.decode() if isinstance(value, bytes) else value
            scheme, _, token = text.strip().partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
            return None
    return None


def make_interceptor(tokens: TokenTable):  # noqa: ANN201 - grpc types imported lazily
    """A ``grpc.aio.ServerInterceptor`` enforcing the tokens; sets :data:`current_principal`."""
    import grpc

    def _abort_handler(
        handler: grpc.RpcMethodHandler, code: grpc.StatusCode, message: str
    ) -> grpc.RpcMethodHandler:
        async def unary(request: object, context: grpc.aio.ServicerContext) -> None:
            await context.abort(code, message)

        async def stream(request_iterator: object, context: grpc.aio.ServicerContext) -> None:
            await context.abort(code, message)

        kw = {
            "request_deserializer": handler.request_deserializer,
            "response_serializer": handler.response_serializer,
        }
        if handler.request_streaming and handler.response_streaming:
            return grpc.stream_stream_rpc_method_handler(stream, **kw)
        if handler.request_streaming:
            return grpc.stream_unary_rpc_method_handler(stream, **kw)
        if handler.response_streaming:
            return grpc.unary_stream_rpc_method_handler(unary, **kw)
        return grpc.unary_unary_rpc_method_handler(unary, **kw)

    def _with_principal(
        handler: grpc.RpcMethodHandler, principal: Principal
    ) -> grpc.RpcMethodHandler:
        def wrap(fn: Callable[..., Awaitable[object]] | None) -> Callable[..., object] | None:
            if fn is None:
                return None

            async def call(request: object, context: grpc.aio.ServicerContext) -> object:
                current_principal.set(principal)
                return await fn(request, context)

            return call

        return handler._replace(
            unary_unary=wrap(handler.unary_unary), stream_unary=wrap(handler.stream_unary)
        )

    class AuthInterceptor(grpc.aio.ServerInterceptor):
        async def intercept_service(
            self,
            continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
            details: grpc.HandlerCallDetails,
        ) -> grpc.RpcMethodHandler:
            handler = await continuation(details)
            if handler is None or details.method.startswith(OPEN_PREFIXES):
                return handler
            token = bearer(details.invocation_metadata)
            if token is None:
                return _abort_handler(
                    handler,
                    grpc.StatusCode.UNAUTHENTICATED,
                    "missing 'authorization: Bearer <token>' metadata",
                )
            principal = tokens.lookup(token)
            if principal is None:
                return _abort_handler(handler, grpc.StatusCode.UNAUTHENTICATED, "invalid token")
            if not principal.allows(details.method):
                return _abort_handler(
                    handler,
                    grpc.StatusCode.PERMISSION_DENIED,
                    f"token of {principal.name} lacks the scope for {details.method}",
                )
            return _with_principal(handler, principal)

    return AuthInterceptor()
