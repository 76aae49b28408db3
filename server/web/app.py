"""The reviewers' web page (``spec/reviewer-ui.md``): an aiohttp app over the service.

A second door into the same rooms as the gRPC servicers: every page calls
:class:`cashmatch.server.service.LedgerService` (``list_exceptions``, ``get_payment``,
``resolve_exception``), so a decision has exactly one implementation. aiohttp because its
server runs on the asyncio loop that ``grpc.aio`` already runs (one process, one store); the
service is synchronous (SQLite), so each page is built in a small thread pool and the loop
never blocks.

Security: Jinja2 with autoescape on (hostile payer names and references render as text); a CSP
with no inline script (``script-src 'self'``) and ``frame-ancestors 'none'``; ``nosniff``;
session cookie ``HttpOnly; SameSite=Strict`` (``Secure`` under TLS); a per-session CSRF token on
every POST but ``/signin`` (403 without it) plus a same-origin check; every other path without a
session redirects to ``/signin``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import jinja2
from aiohttp import web

from cashmatch.engine.errors import CashmatchError, FailedPrecondition, InvalidInput, NotFound
from cashmatch.server.web import views as V
from cashmatch.server.web.sessions import COOKIE, Session, Sessions, clean_reviewer_name, csrf_ok

log = logging.getLogger("cashmatch.web")

HERE = Path(__file__).parent
STATIC = HERE / "static"
TEMPLATES = HERE / "templates"

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}
STATIC_TYPES = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml"}

SERVICE: web.AppKey[Any] = web.AppKey("service", object)
SESSIONS: web.AppKey[Sessions] = web.AppKey("sessions", Sessions)
ENV: web.AppKey[jinja2.Environment] = web.AppKey("env", jinja2.Environment)
POOL: web.AppKey[ThreadPoolExecutor] = web.AppKey("pool", ThreadPoolExecutor)
CONFIG: web.AppKey[dict] = web.AppKey("config", dict)


def _today() -> date:
    return datetime.now(UTC).date()


def make_env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,  # every template, whatever its name
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["when"] = V.when
    return env


# --------------------------------------------------------------------------- plumbing


async def _run(request: web.Request, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run synchronous service work (SQLite) off the event loop."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(request.app[POOL], functools.partial(fn, *args, **kwargs))


def _html(request: web.Request, template: str, status: int = 200, **ctx: Any) -> web.Response:
    ctx.setdefault("session", request.get("session"))
    body = request.app[ENV].get_template(template).render(**ctx)
    return web.Response(text=body, status=status, content_type="text/html", charset="utf-8")


async def _page(request: web.Request, template: str, status: int = 200, **ctx: Any) -> web.Response:
    """Render in the pool (templates of big pages take a few ms)."""
    ctx.setdefault("session", request.get("session"))
    env = request.app[ENV]
    body = await _run(request, lambda: env.get_template(template).render(**ctx))
    return web.Response(text=body, status=status, content_type="text/html", charset="utf-8")


def _error_page(request: web.Request, status: int, title: str, message: str) -> web.Response:
    return _html(request, "error.html", status=status, title=title, message=message)


def _safe_next(value: str | None) -> str:
    """Only same-site relative paths (no open redirect)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/exceptions"
    return value


def _same_origin(request: web.Request) -> bool:
    """A POST whose Origin (or Referer) names another site is refused."""
    origin = request.headers.get("Origin")
    if origin is None:
        ref = request.headers.get("Referer")
        if not ref:
            return True  # older clients and scripts; the CSRF token still guards
        parts = urlsplit(ref)
        origin = f"{parts.scheme}://{parts.netloc}"
    if origin == "null":
        return False
    return origin == f"{request.scheme}://{request.host}"


@web.middleware
async def security_headers(request: web.Request, handler: Callable) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers.update(SECURITY_HEADERS)
        if request.app[CONFIG].get("tls"):
            exc.headers["Strict-Transport-Security"] = "max-age=31536000"
        raise
    response.headers.update(SECURITY_HEADERS)
    if request.app[CONFIG].get("tls"):
        response.headers["Strict-Transport-Security"] = "max-age=31536000"
    if not request.path.startswith("/static/"):
        response.headers["Cache-Control"] = "no-store"
    return response


@web.middleware
async def require_session(request: web.Request, handler: Callable) -> web.StreamResponse:
    path = request.path
    session = request.app[SESSIONS].get(request.cookies.get(COOKIE))
    request["session"] = session
    public = path == "/signin" or path.startswith("/static/")
    if request.method == "POST" and not _same_origin(request):
        return _error_page(request, 403, "Refused", "This form was sent from another site.")
    if not public and session is None:
        target = "/signin"
        if request.method == "GET" and path not in ("/", "/signout"):
            target += "?next=" + quote(request.path_qs, safe="")
        raise web.HTTPSeeOther(target)
    if request.method == "POST" and path != "/signin":
        form = await request.post()
        token = form.get("csrf_token")
        if not isinstance(token, str) or not csrf_ok(session, token):
            return _error_page(
                request,
                403,
                "Refused",
                "The form's security token is missing or out of date. Reload the page and try "
                "again.",
            )
    return await handler(request)


# --------------------------------------------------------------------------- sign-in


async def signin_form(request: web.Request) -> web.Response:
    if request.get("session") is not None:
        raise web.HTTPSeeOther(_safe_next(request.query.get("next")))
    return _html(
        request, "signin.html", error=None, name="", next=_safe_next(request.query.get("next"))
    )


async def signin(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    sessions = request.app[SESSIONS]
    client = request.remote or "?"
    raw_name = str(form.get("name") or "")
    nxt = _safe_next(str(form.get("next") or ""))
    if sessions.throttled(client):
        return _html(
            request,
            "signin.html",
            status=429,
            name=raw_name,
            next=nxt,
            error="Too many failed sign-ins from here. Wait a few minutes and try again.",
        )
    name = clean_reviewer_name(raw_name)
    if name is None:
        return _html(
            request,
            "signin.html",
            status=400,
            name=raw_name,
            next=nxt,
            error="Give your name (1 to 64 printable characters): it signs your decisions.",
        )
    valid, may_decide = sessions.check_token(str(form.get("token") or ""))
    if not valid:
        sessions.failed(client)
        log.warning("failed sign-in for %r from %s", name, client)
        return _html(
            request,
            "signin.html",
            status=401,
            name=name,
            next=nxt,
            error="That token is not one of this server's tokens.",
        )
    old = request.get("session")
    if old is not None:
        sessions.drop(old.sid)
    session = sessions.create(name, can_decide=may_decide)
    log.info("reviewer %r signed in from %s", name, client)
    response = web.HTTPSeeOther(nxt)
    _set_cookie(request, response, session)
    raise response


def _set_cookie(request: web.Request, response: web.StreamResponse, session: Session) -> None:
    response.set_cookie(
        COOKIE,
        session.sid,
        httponly=True,
        samesite="Strict",
        secure=bool(request.app[CONFIG].get("tls")) or request.secure,
        path="/",
        max_age=int(request.app[SESSIONS].max_seconds),
    )


async def signout(request: web.Request) -> web.StreamResponse:
    session: Session | None = request.get("session")
    if session is not None:
        request.app[SESSIONS].drop(session.sid)
    response = web.HTTPSeeOther("/signin")
    response.del_cookie(COOKIE, path="/")
    raise response


# --------------------------------------------------------------------------- queue


async def root(request: web.Request) -> web.StreamResponse:
    raise web.HTTPSeeOther("/exceptions")


def _queue_model(service: Any, query: dict[str, str], token: str, pos: int) -> dict[str, Any]:
    q = V.queue_params(query)
    error = None
    status = 200
    size = V.page_size(q)
    try:
        page = service.list_exceptions(page_size=size, page_token=token or None, **V.list_kwargs(q))
    except InvalidInput as exc:
        from cashmatch.server.service import ExceptionPage

        error, status = str(exc), 400
        page = ExceptionPage([], "", 0, {})
    today = _today()
    rows = V.queue_rows(page.items, today=today, queue=q)
    counts = sorted(page.counts_by_reason.items(), key=lambda kv: (-kv[1], kv[0]))
    filtered = any(q[k] for k in V.QUEUE_FILTERS)
    carry = {k: q[k] for k in V.QUEUE_KEYS if q[k]}
    next_href = None
    if page.next_page_token:
        next_href = V.queue_href(carry, page_token=page.next_page_token, pos=str(pos + len(rows)))
    return {
        "status": status,
        "error": error,
        "f": {**q, "sort": q["sort"] or "age"},
        "page_size": size,
        "rows": rows,
        "total": page.total,
        "counts": counts,
        "all_count": sum(page.counts_by_reason.values()),
        "all_reasons": V.ALL_REASONS,
        "sorts": V.SORTS,
        "filtered": filtered,
        "start": pos + 1,
        "end": pos + len(rows),
        "first_page": not token,
        "first_href": V.queue_href(carry),
        "next_href": next_href,
        "reason_href": lambda r: V.queue_href(carry, reason=r),
        "sort_href": lambda s: V.queue_href(
            carry,
            sort=(("-" + s) if q["sort"] == s or (s == "age" and not q["sort"]) else s)
            if s in ("age", "amount")
            else s,
        ),
    }


async def queue(request: web.Request) -> web.Response:
    query = dict(request.query)
    try:
        pos = max(int(query.get("pos") or 0), 0)
    except ValueError:
        pos = 0
    model = await _run(
        request, _queue_model, request.app[SERVICE], query, query.get("page_token", ""), pos
    )
    return await _page(request, "queue.html", status=model.pop("status"), **model)


# --------------------------------------------------------------------------- item


def _neighbour(service: Any, q: dict[str, str], payment_id: str) -> str | None:
    """The item after ``payment_id`` in the queue's order under the same filters (else the
    first other item): what "Next item" opens."""
    from cashmatch.server.web.queries import exception_after

    try:
        kwargs = V.list_kwargs(q)
        sort = kwargs.pop("sort")
        return exception_after(service, payment_id=payment_id, sort=sort, **kwargs)
    except CashmatchError:
        return None


def _item_page_model(
    service: Any,
    payment_id: str,
    query: dict[str, str],
    *,
    form: V.DecisionForm | None = None,
) -> dict[str, Any]:
    q = V.queue_params(query)
    carry = {k: q[k] for k in V.QUEUE_KEYS if q[k]}
    model = V.item_model(
        service, payment_id, today=_today(), find=(query.get("find") or "").strip(), form=form
    )
    nxt = _neighbour(service, q, payment_id)
    model["next_href"] = V.item_href(nxt, carry) if nxt else None
    model["back_href"] = V.queue_href(carry)
    model["carry_qs"] = ("?" + urlencode(carry)) if carry else ""
    return model


async def item(request: web.Request) -> web.Response:
    payment_id = request.match_info["payment_id"]
    try:
        model = await _run(
            request, _item_page_model, request.app[SERVICE], payment_id, dict(request.query)
        )
    except NotFound as exc:
        return _error_page(request, 404, "Not found", str(exc))
    return await _page(request, "item.html", result=None, **model)


def _decision_form(form: Any) -> tuple[V.DecisionForm, int, int]:
    ids = [str(x) for x in form.getall("invoice_id", [])]
    amounts = [str(x) for x in form.getall("applied_amount", [])]
    adjs = [str(x) for x in form.getall("adjustment_amount", [])]
    whys = [str(x) for x in form.getall("adjustment_reason", [])]
    lines = []
    for k, inv in enumerate(ids):
        lines.append(
            (
                inv,
                amounts[k] if k < len(amounts) else "",
                adjs[k] if k < len(adjs) and len(adjs) == len(ids) else "0",
                whys[k] if k < len(whys) and len(whys) == len(ids) else "",
            )
        )
    return (
        V.DecisionForm(
            action=str(form.get("action") or "").strip().upper(),
            customer_id=str(form.get("customer_id") or "").strip(),
            remember=form.get("remember") == "on",
            note=str(form.get("note") or "").strip(),
            lines=lines,
        ),
        len(ids),
        len(amounts),
    )


def _decide(
    service: Any, payment_id: str, form: Any, reviewer: str, query: dict[str, str]
) -> tuple[int, dict[str, Any]]:
    from cashmatch.server.service import AllocationInput, AlreadyResolved

    decision, n_ids, n_amounts = _decision_form(form)
    status, result = 200, None
    try:
        if n_ids != n_amounts:
            raise InvalidInput(
                "invoice_id and applied_amount must come in pairs, in the same order "
                f"({n_ids} invoices, {n_amounts} amounts)"
            )
        allocations = [
            AllocationInput(
                invoice_id=inv,
                applied_amount=amount.replace(",", "").strip(),
                adjustment_amount=(adj or "0").replace(",", "").strip() or "0",
                adjustment_reason=why or None,
            )
            for inv, amount, adj, why in decision.lines
        ]
        view = service.resolve_exception(
            payment_id=payment_id,
            action=decision.action,
            allocations=allocations if decision.action == "APPLY" else (),
            customer_id=decision.customer_id or None,
            reviewer=reviewer,
            note=decision.note or None,
            remember=decision.remember,
        )
        message = V.decision_message(view, reviewer=reviewer, action=decision.action)
        if decision.remember:
            message += " This payer is remembered: their next payment is matched to " + (
                f"{view.payment.get('customer_id')}."
            )
        result = {"status": "applied", "message": message}
        decision = None  # the form is gone: the exception is resolved
    except AlreadyResolved as exc:
        status = 409
        result = {
            "status": "rejected",
            "message": f"Already resolved by {exc.resolved_by} at {V.when(exc.resolved_at)} "
            f"({exc.resolution}). Nothing was applied.",
        }
        decision = None
    except NotFound as exc:
        if service.store.payment_row(payment_id) is None:
            raise
        status, result = 422, {"status": "rejected", "message": f"Not applied: {exc}"}
    except FailedPrecondition as exc:
        status, result = 409, {"status": "rejected", "message": f"Not applied: {exc}"}
    except InvalidInput as exc:
        status, result = 422, {"status": "rejected", "message": f"Not applied: {exc}"}
    model = _item_page_model(service, payment_id, query, form=decision)
    model["result"] = result
    return status, model


async def decision(request: web.Request) -> web.Response:
    payment_id = request.match_info["payment_id"]
    session: Session = request["session"]
    if not session.can_decide:
        return _error_page(
            request,
            403,
            "Read-only",
            "You signed in with a read-only token: decisions need a token with the write scope.",
        )
    form = await request.post()
    try:
        status, model = await _run(
            request,
            _decide,
            request.app[SERVICE],
            payment_id,
            form,
            session.reviewer,
            dict(request.query),
        )
    except NotFound as exc:
        return _error_page(request, 404, "Not found", str(exc))
    return await _page(request, "item.html", status=status, **model)


async def payment(request: web.Request) -> web.Response:
    payment_id = request.match_info["payment_id"]
    try:
        model = await _run(request, V.payment_model, request.app[SERVICE], payment_id)
    except NotFound as exc:
        return _error_page(request, 404, "Not found", str(exc))
    return await _page(request, "payment.html", **model)


async def static(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    path = STATIC / name
    if "/" in name or name.startswith(".") or not path.is_file() or path.suffix not in STATIC_TYPES:
        raise web.HTTPNotFound()
    return web.Response(
        body=path.read_bytes(),
        content_type=STATIC_TYPES[path.suffix],
        charset="utf-8" if path.suffix != ".svg" else None,
        headers={"Cache-Control": "no-cache"},
    )


async def not_found(request: web.Request) -> web.Response:
    return _error_page(request, 404, "Not found", "There is no page at this address.")


# --------------------------------------------------------------------------- app


def create_app(
    *,
    service: Any,
    tokens: Any,
    tls: bool = False,
    workers: int = 4,
) -> web.Application:
    """The reviewers' web app over ``service`` (a :class:`LedgerService`).

    ``tokens``: the server's :class:`~cashmatch.server.auth.TokenTable` (or plain token
    strings); a reviewer signs in with a name and one of them (read-only tokens may look but
    not decide).
    ``tls``: the page is served over HTTPS (cookies get ``Secure``, HSTS is sent).
    """
    if not len(tokens):
        raise InvalidInput("the reviewers' page needs at least one access token to sign in with")
    app = web.Application(
        middlewares=[security_headers, require_session], client_max_size=1024 * 1024
    )
    app[SERVICE] = service
    app[SESSIONS] = Sessions(tokens=tokens)
    app[ENV] = make_env()
    app[POOL] = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cashmatch-web")
    app[CONFIG] = {"tls": tls}
    app.router.add_get("/", root)
    app.router.add_get("/signin", signin_form)
    app.router.add_post("/signin", signin)
    app.router.add_post("/signout", signout)
    app.router.add_get("/exceptions", queue)
    app.router.add_get("/exceptions/{payment_id}", item)
    app.router.add_post("/exceptions/{payment_id}/decision", decision)
    app.router.add_get("/payments/{payment_id}", payment)
    app.router.add_get("/static/{name}", static)
    app.router.add_route("*", "/{tail:.*}", not_found)

    async def _close_pool(app: web.Application) -> None:
        app[POOL].shutdown(wait=False, cancel_futures=True)

    app.on_cleanup.append(_close_pool)
    return app


async def start_http(
    *,
    service: Any,
    tokens: Any,
    host: str = "127.0.0.1",
    port: int = 8080,
    ssl_context: Any = None,
) -> tuple[web.AppRunner, int]:
    """Start the page on the running loop (beside grpc.aio); returns the runner and the bound
    port (``port=0`` picks a free one). Stop with ``await runner.cleanup()``."""
    app = create_app(service=service, tokens=tokens, tls=ssl_context is not None)
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=5.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=ssl_context)
    await site.start()
    bound = port
    server = getattr(site, "_server", None)
    if server is not None and server.sockets:
        bound = server.sockets[0].getsockname()[1]
    return runner, bound


def parse_addr(addr: str) -> tuple[str, int]:
    """``127.0.0.1:8080`` / ``[::1]:8080`` / ``:8080`` -> (host, port)."""
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit():
        raise InvalidInput(f"--http: expected HOST:PORT like 127.0.0.1:8080, got {addr!r}")
    host = host.strip("[]") or "127.0.0.1"
    return host, int(port)


class WebSidecar:
    """The page as a door of ``cashmatch serve`` (:class:`cashmatch.server.app.Sidecar`):
    started on the gRPC loop with the server's one :class:`LedgerService`."""

    def __init__(self, *, addr: str, tokens: Any, ssl_context: Any = None) -> None:
        self.host, self.port = parse_addr(addr)
        self.tokens = tokens
        self.ssl_context = ssl_context
        self.runner: web.AppRunner | None = None

    async def start(self, service: object) -> None:
        self.runner, self.port = await start_http(
            service=service,
            tokens=self.tokens,
            host=self.host,
            port=self.port,
            ssl_context=self.ssl_context,
        )
        scheme = "https" if self.ssl_context is not None else "http"
        print(f"cashmatch reviewers' page on {scheme}://{self.host}:{self.port}/", flush=True)

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None


def tls_context(cert: str | None, key: str | None) -> Any:
    """An HTTPS context from the server's ``--tls-cert``/``--tls-key`` (``None`` without)."""
    if not (cert and key):
        return None
    import ssl

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    return ctx
