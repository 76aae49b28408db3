"""Reviewer sessions: sign-in with a name and one of the server's tokens, CSRF tokens,
and a small throttle on failed sign-ins.

Sessions live in memory (a restart signs everyone out, which is the safe direction); the cookie
carries only a random id. Tokens are compared in constant time.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
import unicodedata
from dataclasses import dataclass
from typing import Any

COOKIE = "cashmatch_session"
MAX_NAME = 64


@dataclass(slots=True)
class Session:
    sid: str
    reviewer: str
    csrf: str
    created: float
    last_seen: float
    can_decide: bool = True  # a read-only token may look, not decide


def clean_reviewer_name(raw: str) -> str | None:
    """A printable name of 1..64 characters (no control characters), else ``None``."""
    name = " ".join((raw or "").split())
    if not name or len(name) > MAX_NAME:
        return None
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        return None
    return name


class Sessions:
    """Signed-in reviewers by session id; idle and absolute expiry."""

    def __init__(
        self,
        *,
        tokens: Any,
        idle_seconds: float = 8 * 3600,
        max_seconds: float = 12 * 3600,
        max_sessions: int = 10_000,
    ) -> None:
        # the server's TokenTable (token -> principal with scopes), or plain token strings
        self._table = tokens if hasattr(tokens, "lookup") else None
        self._tokens = [] if self._table is not None else [t.encode() for t in tokens if t]
        self.idle_seconds = idle_seconds
        self.max_seconds = max_seconds
        self.max_sessions = max_sessions
        self._by_id: dict[str, Session] = {}
        self._lock = threading.Lock()
        self._failures: dict[str, list[float]] = {}

    def check_token(self, token: str) -> tuple[bool, bool]:
        """``(valid, may_decide)`` for a token typed at sign-in (constant-time compare). A token
        of the ``receivables`` scope alone is not valid here: the page shows the payments and
        payers of the exception queue, which need ``read``."""
        if not token:
            return False, False
        if self._table is not None:
            principal = self._table.lookup(token)
            if principal is None:
                return False, False
            scopes = getattr(principal, "scopes", {"write"})
            return "read" in scopes, "write" in scopes
        given = token.encode()
        ok = False
        for known in self._tokens:  # constant time per token; no early exit
            ok |= hmac.compare_digest(given, known)
        return ok, ok

    # -- throttle: at most `limit` failed sign-ins per client per `window` seconds
    def throttled(self, client: str, *, limit: int = 10, window: float = 600.0) -> bool:
        now = time.monotonic()
        with self._lock:
            recent = [t for t in self._failures.get(client, []) if now - t < window]
            self._failures[client] = recent
            return len(recent) >= limit

    def failed(self, client: str) -> None:
        with self._lock:
            self._failures.setdefault(client, []).append(time.monotonic())

    def create(self, reviewer: str, *, can_decide: bool = True) -> Session:
        now = time.time()
        session = Session(
            sid=secrets.token_urlsafe(32),
            reviewer=reviewer,
            csrf=secrets.token_urlsafe(32),
            created=now,
            last_seen=now,
            can_decide=can_decide,
        )
        with self._lock:
            if len(self._by_id) >= self.max_sessions:
                self._expire(now)
                if len(self._by_id) >= self.max_sessions:  # drop the oldest
                    oldest = min(self._by_id.values(), key=lambda s: s.last_seen)
                    self._by_id.pop(oldest.sid, None)
            self._by_id[session.sid] = session
        return session

    def get(self, sid: str | None) -> Session | None:
        if not sid:
            return None
        now = time.time()
        with self._lock:
            session = self._by_id.get(sid)
            if session is None:
                return None
            if (
                now - session.last_seen > self.idle_seconds
                or now - session.created > self.max_seconds
            ):
                self._by_id.pop(sid, None)
                return None
            session.last_seen = now
            return session

    def drop(self, sid: str) -> None:
        with self._lock:
            self._by_id.pop(sid, None)

    def _expire(self, now: float) -> None:
        dead = [
            s.sid
            for s in self._by_id.values()
            if now - s.last_seen > self.idle_seconds or now - s.created > self.max_seconds
        ]
        for sid in dead:
            self._by_id.pop(sid, None)


def csrf_ok(session: Session, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(session.csrf.encode(), (given or "").encode())
