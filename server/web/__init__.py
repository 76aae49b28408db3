"""The reviewers' web page: ``cashmatch serve --http 127.0.0.1:8080`` (spec/reviewer-ui.md)."""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:  # keep `import cashmatch.server.web` light (aiohttp, jinja2)
    if name in ("create_app", "start_http", "parse_addr"):
        from cashmatch.server.web import app

        return getattr(app, name)
    raise AttributeError(name)


__all__ = ["create_app", "parse_addr", "start_http"]
