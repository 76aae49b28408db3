"""Thin gRPC servicers: proto -> Python, one call into :class:`LedgerService`, Python -> proto.

Service calls are blocking (SQLite, the engine) and run in worker threads so the event loop
keeps serving. Errors: a :class:`CashmatchError` becomes its own status code
(``err.grpc_code``); anything else is logged and answered ``INTERNAL`` without detail.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc
from google.protobuf.message import DecodeError

from cashmatch.engine.errors import CashmatchError, InvalidInput
from cashmatch.server import convert as C
from cashmatch.server import wire
from cashmatch.server.auth import current_principal
from cashmatch.server.pb import cash_application_pb2 as pb
from cashmatch.server.pb import cash_application_pb2_grpc as pb_grpc
from cashmatch.server.service import AllocationInput, AlreadyResolved, LedgerService

log = logging.getLogger("cashmatch.server")
T = TypeVar("T")
INLINE_MATCH_ROWS = 2_000


def _caller() -> str:
    p = current_principal.get()
    return p.name if p else "anonymous"


def rpc(fn: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
    """Map cashmatch errors to status codes; never INTERNAL for a client's mistake."""

    @functools.wraps(fn)
    async def wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext) -> T:
        try:
            return await fn(self, request, context)
        except AlreadyResolved as exc:
            context.set_trailing_metadata(
                (
                    ("resolved-by", exc.resolved_by),
                    ("resolved-at", exc.resolved_at),
                    ("resolution", exc.resolution),
                )
            )
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(exc))
        except CashmatchError as exc:
            code = getattr(grpc.StatusCode, exc.grpc_code, grpc.StatusCode.INTERNAL)
            if code is grpc.StatusCode.INTERNAL:
                log.exception("engine error in %s", fn.__name__)
            await context.abort(code, str(exc))
        except (grpc.aio.AbortError, asyncio.CancelledError):
            raise
        except Exception:  # noqa: BLE001 - a bug: logged, answered INTERNAL without detail
            log.exception("unexpected error in %s", fn.__name__)
            await context.abort(grpc.StatusCode.INTERNAL, "internal error (logged on the server)")
        raise AssertionError("unreachable")  # pragma: no cover

    return wrapper


async def _collect(requests: AsyncIterator[Any], attr: str) -> list[Any]:
    items: list[Any] = []
    async for req in requests:
        items.extend(getattr(req, attr))
    return items


SETTLE_ABOVE = 10_000  # objects the collector tracks (outside the frozen ones)


def _settle_heap() -> None:
    """Move what is alive now out of the garbage collector's reach (``gc.freeze``) when the
    collector tracks many objects.

    A served process holds ~150k long-lived objects (modules, the kernels and libraries the
    first match loads, the prepared ledger); a full collection walks them all, ~70 ms of CPU
    in the middle of some call: the latency tail of a small Match. Frozen, they are never
    walked again (they are still freed by reference counting when dropped); what calls
    create is collected as before. Collected first, so no garbage is frozen. Only above
    :data:`SETTLE_ABOVE` (the first call, a burst of lazily loaded code): each freeze also
    keeps whatever cycles are in flight at that moment, which would otherwise pile up."""
    if len(gc.get_objects()) > SETTLE_ABOVE:
        gc.collect()
        gc.freeze()


class CashApplicationServicer(pb_grpc.CashApplicationServicer):
    def __init__(self, service: LedgerService) -> None:
        self.service = service
        self._settled_version: int | None = None  # ledger version of the last _settle_heap

    async def _run(self, fn: Callable[..., T], /, **kwargs: Any) -> T:
        return await asyncio.to_thread(fn, **kwargs)

    async def _inline(self, fn: Callable[..., T], /, **kwargs: Any) -> T:
        return fn(**kwargs)

    @rpc
    async def Match(self, data: bytes, context: Any) -> bytes:  # noqa: N802
        """A ``MatchRequest`` in wire format, as gRPC received it, answered by the match's
        ``MatchResponse`` in wire format (:func:`convert.match_response`), which gRPC sends as
        it is (:func:`add_to_server`): the messages' string fields are read from these bytes,
        not from the request serialised again."""
        try:
            request = pb.MatchRequest.FromString(data)
        except DecodeError as exc:
            raise InvalidInput("MatchRequest: not a message of its type") from exc

        def rows(name: str) -> wire.Repeated:
            return wire.Repeated(request, name, data)

        payments = C.payments_from_proto(rows("payments"))
        invoices = C.invoices_from_proto(rows("invoices"))[0] if request.invoices else None
        customers = C.customers_from_proto(rows("customers")) if request.customers else None
        remittances = C.remittances_from_proto(rows("remittances"), payments)
        policy = C.policy_from_proto(request.policy) if request.HasField("policy") else None
        # a small stateless match is pure CPU: run it on the loop (a thread hop would only add
        # GIL hand-offs); a large one, or one that must first read and prepare the server's
        # ledger after a write, goes to a worker thread so the loop keeps serving
        ledger = self.service.ledger_at_hand() if request.use_ledger else None
        small = len(request.payments) + len(request.invoices) <= INLINE_MATCH_ROWS and (
            not request.use_ledger or ledger is not None
        )
        result = await (self._inline if small else self._run)(
            self.service.match,
            invoices=invoices,
            payments=payments,
            remittances=remittances,
            customers=customers,
            policy=policy,
            use_ledger=request.use_ledger,
            ledger=ledger,
        )
        response = C.match_response(result)
        version = self.service.prepared_version()
        if request.use_ledger and version != self._settled_version:
            # looked at once per ledger version: after its first call, what it loaded stays
            self._settled_version = version
            _settle_heap()
        return response

    @rpc
    async def UpsertInvoices(
        self, request_iterator: Any, context: Any
    ) -> (  # noqa: N802
        pb.UpsertInvoicesResponse
    ):
        msgs = await _collect(request_iterator, "invoices")
        invoices, closed = C.invoices_from_proto(msgs)
        n = await self._run(
            self.service.upsert_invoices, invoices=invoices, closed=closed, actor=_caller()
        )
        return pb.UpsertInvoicesResponse(upserted=n)

    @rpc
    async def UpsertCustomers(
        self, request_iterator: Any, context: Any
    ) -> (  # noqa: N802
        pb.UpsertCustomersResponse
    ):
        msgs = await _collect(request_iterator, "customers")
        customers = C.customers_from_proto(msgs)
        n = await self._run(self.service.upsert_customers, customers=customers, actor=_caller())
        return pb.UpsertCustomersResponse(upserted=n)

    async def _submit(self, fn: Callable[..., Any], request: Any) -> dict[str, Any]:
        log.info(
            "%s %r (%d bytes) from %s",
            fn.__name__,
            request.filename,
            len(request.content),
            _caller(),
        )
        result = await self._run(
            fn,
            content=request.content,
            filename=request.filename,
            format=request.format or None,
            idempotency_key=request.idempotency_key or None,
            submitted_by=_caller(),
            strict=request.strict,
        )
        if request.summary_only:
            return {
                "statement_id": result.statement_id,
                "summary": C.summary_to_proto(result.summary),
                "duplicate": result.duplicate,
                "problems": C.problems_to_proto(result.problems),
                "received_at": result.received_at,
                "format": result.format,
            }
        return {
            "statement_id": result.statement_id,
            "payments": C.payment_statuses_to_proto(result.payments),
            "summary": C.summary_to_proto(result.summary),
            "allocations": C.allocations_to_proto(result.allocations),
            "exceptions": C.exceptions_to_proto(result.exceptions),
            "duplicate": result.duplicate,
            "problems": C.problems_to_proto(result.problems),
            "received_at": result.received_at,
            "format": result.format,
        }

    @rpc
    async def SubmitStatement(
        self, request: pb.SubmitStatementRequest, context: Any
    ) -> (  # noqa: N802
        pb.SubmitStatementResponse
    ):
        return pb.SubmitStatementResponse(
            **await self._submit(self.service.submit_statement, request)
        )

    @rpc
    async def SubmitRemittance(
        self, request: pb.SubmitRemittanceRequest, context: Any
    ) -> (  # noqa: N802
        pb.SubmitRemittanceResponse
    ):
        return pb.SubmitRemittanceResponse(
            **await self._submit(self.service.submit_remittance, request)
        )

    @rpc
    async def ListExceptions(
        self, request: pb.ListExceptionsRequest, context: Any
    ) -> (  # noqa: N802
        pb.ListExceptionsResponse
    ):
        page = await self._run(
            self.service.list_exceptions,
            page_size=request.page_size,
            page_token=request.page_token or None,
            reason=request.reason or None,
            customer_id=request.customer_id or None,
            currency=request.currency or None,
            min_amount=request.min_amount or None,
            max_amount=request.max_amount or None,
            older_than_days=request.older_than_days
            if request.HasField("older_than_days")
            else None,
            sort=request.sort or "age",
            status=request.status or "open",
        )
        return pb.ListExceptionsResponse(
            exceptions=[C.exception_record_to_proto(r) for r in page.items],
            next_page_token=page.next_page_token,
            total=page.total,
            counts_by_reason=page.counts_by_reason,
        )

    @rpc
    async def ResolveException(
        self, request: pb.ResolveExceptionRequest, context: Any
    ) -> (  # noqa: N802
        pb.ResolveExceptionResponse
    ):
        if request.action == pb.ResolveExceptionRequest.ACTION_UNSPECIFIED:
            raise InvalidInput("action: required (APPLY, ON_ACCOUNT, REFUND or WRITE_OFF)")
        view = await self._run(
            self.service.resolve_exception,
            payment_id=request.payment_id,
            action=pb.ResolveExceptionRequest.Action.Name(request.action),
            allocations=[
                AllocationInput(
                    a.invoice_id,
                    a.applied_amount,
                    a.adjustment_amount or "0",
                    a.adjustment_reason or None,
                )
                for a in request.allocations
            ],
            customer_id=request.customer_id or None,
            reviewer=request.reviewer or _caller(),
            note=request.note or None,
            remember=request.remember,
        )
        return pb.ResolveExceptionResponse(payment=C.payment_detail_to_proto(view))

    @rpc
    async def GetPayment(self, request: pb.GetPaymentRequest, context: Any) -> pb.PaymentDetail:  # noqa: N802
        if not request.payment_id:
            raise InvalidInput("payment_id: required")
        view = await self._run(self.service.get_payment, payment_id=request.payment_id)
        return C.payment_detail_to_proto(view)

    @rpc
    async def GetReceivables(  # noqa: N802
        self, request: pb.GetReceivablesRequest, context: Any
    ) -> pb.GetReceivablesResponse:
        as_of = C.as_of_from_proto(request.as_of)
        period = C.period_from_proto(request.period_days)
        top = C.top_from_proto(request.top_at_risk)

        def answer() -> pb.GetReceivablesResponse:  # analytics and conversion off the loop
            result = self.service.get_receivables(as_of=as_of, period_days=period)
            return C.receivables_to_proto(result, top=top)

        return await self._run(answer)

    @rpc
    async def GetAccount(self, request: pb.GetAccountRequest, context: Any) -> pb.AccountStatus:  # noqa: N802
        if not request.customer_id:
            raise InvalidInput("customer_id: required")
        as_of = C.as_of_from_proto(request.as_of)
        period = C.period_from_proto(request.period_days)

        def answer() -> pb.AccountStatus:
            view = self.service.get_account(
                customer_id=request.customer_id, as_of=as_of, period_days=period
            )
            return C.account_to_proto(view)

        return await self._run(answer)

    @rpc
    async def RecordPromise(self, request: pb.RecordPromiseRequest, context: Any) -> pb.Promise:  # noqa: N802
        row = await self._run(
            self.service.record_promise,
            customer_id=request.customer_id,
            invoice_id=request.invoice_id or None,
            amount=request.amount or None,
            currency=request.currency or None,
            promised_date=request.promised_date,
            made_on=request.made_on or None,
            recorded_by=request.recorded_by or _caller(),
            note=request.note or None,
            idempotency_key=request.idempotency_key or None,
        )
        return C.promise_to_proto(row)


class _MatchInWireFormat:
    """A server as the generated registration sees it: what it registers is passed on, with
    Match's request deserialiser and response serialiser ``bytes`` (its servicer reads and
    writes the wire format: gRPC hands it the bytes it received and sends those it returns)."""

    def __init__(self, server: grpc.aio.Server) -> None:
        self.server = server

    def add_generic_rpc_handlers(self, handlers: Any) -> None:
        pass  # (the same handlers as the registered ones: added with them, below)

    def add_registered_method_handlers(self, service: str, handlers: dict[str, Any]) -> None:
        match = handlers["Match"]
        handlers = {**handlers, "Match": grpc.unary_unary_rpc_method_handler(
            match.unary_unary, request_deserializer=bytes, response_serializer=bytes)}
        self.server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(service, handlers),))
        self.server.add_registered_method_handlers(service, handlers)


def add_to_server(servicer: CashApplicationServicer, server: grpc.aio.Server) -> None:
    """Register ``servicer`` on ``server`` (the generated registration, Match's request and
    response in wire format: :class:`_MatchInWireFormat`)."""
    pb_grpc.add_CashApplicationServicer_to_server(servicer, _MatchInWireFormat(server))


__all__ = ["CashApplicationServicer", "add_to_server"]
