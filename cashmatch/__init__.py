"""cashmatch — cash application and bank reconciliation.

Public API (imported lazily so that ``import cashmatch`` stays fast)::

    from cashmatch import match, Policy
    result = match(invoices=..., payments=...)   # Arrow tables in cashmatch.engine.schema
    ledger = prepare_ledger(invoices=..., customers=...)   # once, for many batches:
    result = match(ledger=ledger, payments=...)   # the same result as with the tables
"""

from __future__ import annotations

import os
from typing import Any

__version__ = "0.1.0"

# In a source checkout the sub-packages stand beside this folder (engine/, parsers/, server/,
# fixtures/), as pyproject.toml maps them. When this file is imported from the checkout
# itself — `python -m cashmatch...` or a Ray worker started in the repository — look there
# too, so that the checkout behaves like the installed package.
_checkout = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if os.path.isfile(os.path.join(_checkout, "pyproject.toml")) and os.path.isdir(
    os.path.join(_checkout, "engine")
):
    __path__.append(_checkout)

_LAZY = {
    "match": ("cashmatch.engine.matcher", "match"),
    "MatchResult": ("cashmatch.engine.matcher", "MatchResult"),
    "prepare_ledger": ("cashmatch.engine.ledger", "prepare_ledger"),
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
