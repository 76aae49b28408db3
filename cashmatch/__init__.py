"""cashmatch — cash application and bank reconciliation.

Public API (imported lazily so that ``import cashmatch`` stays fast)::

    from cashmatch import match, Policy
    result = match(invoices=..., payments=...)   # Arrow tables in cashmatch.engine.schema
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "match": ("cashmatch.engine.matcher", "match"),
    "MatchResult": ("cashmatch.engine.matcher", "MatchResult"),
    "Policy": ("cashmatch.engine.policy", "Policy"),
    "schema": ("cashmatch.engine", "schema"),
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'cashmatch' has no attribute {name!r}")
