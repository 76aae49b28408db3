"""Parsers: one module per bank or remittance format, each ``bytes -> Arrow``.

``parse_file`` is the one door for any payments or remittance input: it sniffs the format from
the first bytes (or takes ``format=``), runs that module's ``parse`` and returns a
:class:`ParseResult`. Every module has ``NAME``, ``KINDS`` (what it produces),
``sniff(head: bytes) -> bool`` and ``parse(data: bytes, *, source: str) -> ParseResult``.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

import pyarrow as pa

from cashmatch.engine.errors import CashmatchError, InvalidInput, RowProblem
from cashmatch.engine.interchange import CurrencyLookup
from cashmatch.parsers._common import ParseResult

__all__ = ["FORMATS", "ParseResult", "RowProblem", "parse_file", "sniff", "module_for"]

#: format name -> module (under cashmatch.parsers), in sniffing order: the most specific first.
FORMATS: dict[str, str] = {
    "payments-csv": "interchange",
    "remittance-csv": "interchange",
    "interchange-parquet": "interchange",
    "mt940": "mt940",
    "camt": "camt",
    "ofx": "ofx",
    "bai2": "bai",
    "x12-820": "x12_820",
    "bank-csv": "bank_csv",
}

#: what each format yields: "payments", "remittances" or both
FORMAT_KINDS: dict[str, frozenset[str]] = {
    "payments-csv": frozenset({"payments"}),
    "remittance-csv": frozenset({"remittances"}),
    "interchange-parquet": frozenset({"payments", "remittances"}),
    "mt940": frozenset({"payments"}),
    "camt": frozenset({"payments", "remittances"}),
    "ofx": frozenset({"payments"}),
    "bai2": frozenset({"payments"}),
    "x12-820": frozenset({"remittances"}),
    "bank-csv": frozenset({"payments"}),
}

_ALIASES = {
    "camt053": "camt",
    "camt054": "camt",
    "camt.053": "camt",
    "camt.054": "camt",
    "qfx": "ofx",
    "bai": "bai2",
    "edi820": "x12-820",
    "820": "x12-820",
    "sta": "mt940",
    "csv": "bank-csv",
    "payments": "payments-csv",
    "remittances": "remittance-csv",
    "parquet": "interchange-parquet",
}

HEAD_BYTES = 1 << 16


def module_for(fmt: str) -> ModuleType:
    return importlib.import_module(f"cashmatch.parsers.{FORMATS[fmt]}")


def _canonical(fmt: str) -> str:
    key = fmt.strip().lower()
    key = _ALIASES.get(key, key)
    if key not in FORMATS:
        raise InvalidInput(f"unknown format {fmt!r}; known formats: {', '.join(FORMATS)}")
    return key


def sniff(head: bytes, *, kind: str = "any") -> str | None:
    """The first format (in :data:`FORMATS` order) whose ``sniff`` accepts ``head``."""
    for fmt in _candidates(kind):
        sniffer = _sniffer(fmt)  # an import error is a bug and must surface
        try:
            if sniffer(head):
                return fmt
        except Exception:  # noqa: BLE001 - a sniffer must never break the door
            continue
    return None


def _candidates(kind: str) -> list[str]:
    if kind not in ("any", "payments", "remittances"):
        raise InvalidInput(f"kind must be 'any', 'payments' or 'remittances', not {kind!r}")
    return [f for f in FORMATS if kind == "any" or kind in FORMAT_KINDS[f]]


def _sniffer(fmt: str):
    mod = module_for(fmt)
    return getattr(mod, f"sniff_{fmt.replace('-', '_')}", None) or mod.sniff


def parse_file(
    data: bytes | str | Path,
    *,
    format: str | None = None,  # noqa: A002 - the agreed API
    source: str | None = None,
    kind: str = "any",
    profile: str | Path | None = None,
    currency_of: pa.Table | CurrencyLookup | None = None,
) -> ParseResult:
    """Parse any supported payments or remittance input into Arrow tables.

    ``data`` is the file's bytes or a path (a ``str`` is a path). ``format`` skips sniffing.
    ``kind`` limits sniffing to formats that yield ``payments`` or ``remittances``.
    ``profile`` names a bank-CSV mapping profile (built in, or a TOML file path).
    ``currency_of`` gives interchange remittance lines, which carry no currency, their
    payment's: a table of payments (payment_id, end_to_end_id, currency) to look them up in, or
    a function from the lines as read to their currencies; other formats state their own.
    Raises :class:`InvalidInput` when the format is unknown or the file unreadable as a whole;
    row-level trouble is in ``result.problems``.
    """
    if isinstance(data, str | Path):
        path = Path(data)
        name = source or str(path)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise InvalidInput(f"{name}: cannot read: {exc.strerror or exc}") from exc
    elif isinstance(data, bytes | bytearray | memoryview):
        raw = bytes(data)
        name = source or "<bytes>"
    else:
        raise InvalidInput(f"parse_file takes bytes or a path, not {type(data).__name__}")
    if format is None and profile is not None:
        format = "bank-csv"  # noqa: A001
    if format is not None:
        fmt = _canonical(format)
    else:
        fmt = sniff(raw[:HEAD_BYTES], kind=kind)
        if fmt is None:
            tried = ", ".join(_candidates(kind))
            raise InvalidInput(
                f"{name}: not a format cashmatch recognises (tried {tried}); "
                f"pass --format if it is one of them"
            )
    if kind != "any" and kind not in FORMAT_KINDS[fmt]:
        raise InvalidInput(f"{name}: format {fmt} carries no {kind}")
    mod = module_for(fmt)
    kwargs: dict[str, object] = {"source": name}
    if fmt == "bank-csv":
        kwargs["profile"] = profile
    if FORMATS[fmt] == "interchange":
        kwargs["fmt"] = fmt
        kwargs["currency_of"] = currency_of
    try:
        result = mod.parse(raw, **kwargs)
    except CashmatchError:
        raise
    except (ValueError, KeyError, IndexError, TypeError, UnicodeError, RecursionError) as exc:
        # a parser bug must still name the file; the caller gets a clean error, not a traceback
        raise InvalidInput(f"{name}: cannot read as {fmt}: {exc}") from exc
    return result
