"""Why a candidate invoice was suggested, in words a reviewer checks at a glance.

Display only: the engine decided the candidates and their confidence; this module points at the
evidence on the page (the reference tokens that name the invoice, how the amount compares, how
the payer's name and account relate to the customer, remittance lines) so it can be
highlighted. A handful of candidates per page, so plain Python is fine here (not a hot path).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations

from rapidfuzz import fuzz

from cashmatch.engine.money import format_minor

_TOKEN = re.compile(r"[0-9A-Za-z]+(?:[-/._][0-9A-Za-z]+)*")
_OCR = str.maketrans(
    {"O": "0", "Q": "0", "D": "0", "I": "1", "L": "1", "Z": "2", "S": "5", "B": "8"}
)

STRONG, WEAK, AGAINST, INFO = "strong", "weak", "against", ""


def canonical(text: str) -> str:
    """Upper-case alphanumerics; from the first digit on, look-alike letters read as digits
    and leading zeros dropped (``inv-000123`` -> ``INV123``, ``INV-1O23`` -> ``INV1023``)."""
    s = re.sub(r"[^0-9A-Za-z]", "", text).upper()
    first_digit = next((i for i, ch in enumerate(s) if ch.isdigit()), None)
    if first_digit is None:
        return s
    prefix, tail = s[:first_digit], s[first_digit:].translate(_OCR)
    if tail.isdigit():
        tail = tail.lstrip("0") or "0"
    return prefix + tail


def grouped(minor: int, currency: str) -> str:
    """``123456789, 'EUR'`` -> ``'1,234,567.89'`` (exact, thousands grouped)."""
    text = format_minor(int(minor), currency)
    sign = "-" if text.startswith("-") else ""
    whole, _, frac = text.lstrip("-").partition(".")
    return f"{sign}{int(whole):,}" + (f".{frac}" if frac else "")


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text).lstrip("0")


@dataclass(slots=True)
class Evidence:
    items: list[tuple[str, str]] = field(default_factory=list)  # (words, kind)
    spans: list[tuple[int, int]] = field(default_factory=list)  # matched reference spans


def reference_tokens(reference: str) -> list[tuple[int, int, str]]:
    return [(m.start(), m.end(), m.group(0)) for m in _TOKEN.finditer(reference or "")]


def _names(tok: str, invoice_id: str) -> bool:
    key, core = canonical(invoice_id), _digits(invoice_id)
    ck = canonical(tok)
    return ck == key or (len(core) >= 4 and _digits(tok) == core and ck.endswith(core))


def exact_hits(tokens: Sequence[tuple[int, int, str]], invoice_ids: Sequence[str]) -> set[int]:
    """Indexes of the reference tokens that name one of ``invoice_ids`` exactly."""
    return {k for k, (_, _, tok) in enumerate(tokens) for i in invoice_ids if _names(tok, i)}


def reference_evidence(
    tokens: Sequence[tuple[int, int, str]],
    invoice_id: str,
    po_number: str | None,
    *,
    taken: set[int] = frozenset(),  # type: ignore[assignment]
    cutoff: float = 84.0,
) -> tuple[list[tuple[str, str]], list[tuple[int, int]]]:
    """What in the reference names this invoice: exact (canonical key, or its number), its PO,
    else the closest near-miss token at or above ``cutoff`` among the tokens not ``taken`` by
    an exact hit on another invoice."""
    items: list[tuple[str, str]] = []
    spans: list[tuple[int, int]] = []
    key = canonical(invoice_id)
    best: tuple[float, int, int, str] | None = None
    for k, (start, end, tok) in enumerate(tokens):
        if _names(tok, invoice_id):
            items.append((f"reference names {invoice_id} (“{tok}”)", STRONG))
            spans.append((start, end))
            continue
        if po_number and canonical(tok) == canonical(po_number):
            items.append((f"reference quotes PO {po_number}", STRONG))
            spans.append((start, end))
            continue
        ck = canonical(tok)
        if k not in taken and len(ck) >= 4 and len(key) >= 4:
            score = fuzz.ratio(ck, key)
            if score >= cutoff and (best is None or score > best[0]):
                best = (score, start, end, tok)
    if best is not None and not spans:
        items.append((f"reference “{best[3]}” ≈ {invoice_id} ({best[0]:.0f}%)", WEAK))
        spans.append((best[1], best[2]))
    return items, spans


def amount_evidence(
    *, paid: int, open_amount: int, currency: str, fee_ceiling: int, discount_bp: int | None
) -> list[tuple[str, str]]:
    diff = open_amount - paid

    def fmt(v: int) -> str:
        return grouped(v, currency)

    if diff == 0:
        return [("amount equals the open amount", STRONG)]
    if diff > 0:
        if discount_bp and open_amount * discount_bp // 10_000 in (diff, diff + 1, diff - 1):
            return [(f"amount = open less {discount_bp / 100:g}% discount", STRONG)]
        if diff <= fee_ceiling:
            return [(f"short by {fmt(diff)}: a bank fee?", WEAK)]
        pct = 100 * paid // open_amount if open_amount else 0
        return [(f"pays {pct}% of the open {fmt(open_amount)}", WEAK if pct >= 50 else INFO)]
    return [(f"payment exceeds the open amount by {fmt(-diff)}", INFO)]


def name_evidence(
    *,
    payer_name: str | None,
    payer_account: str | None,
    customer_name: str | None,
    accounts: Sequence[str],
    aliases: Sequence[str],
) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if payer_account and payer_account in set(accounts):
        out.append(("payer account is the customer's", STRONG))
    if payer_name:
        pn = payer_name.casefold()
        if any(pn == a.casefold() for a in aliases):
            out.append(("payer name is a known alias", STRONG))
        elif customer_name:
            score = fuzz.token_set_ratio(pn, customer_name.casefold())
            if score >= 88:
                out.append((f"payer name ≈ {customer_name} ({score:.0f}%)", STRONG))
            elif score >= 65:
                out.append((f"payer name resembles {customer_name} ({score:.0f}%)", WEAK))
            else:
                out.append((f"payer name differs from {customer_name}", AGAINST))
    return out


def combination_evidence(
    paid: int, open_amounts: dict[str, int], *, limit: int = 10
) -> dict[str, list[str]]:
    """Invoices (among the first ``limit``) that together settle the payment exactly:
    ``{invoice_id: [the others in the smallest such set]}``. At most 2^10 sums."""
    ids = list(open_amounts)[:limit]
    for size in range(2, len(ids) + 1):
        for combo in combinations(ids, size):
            if sum(open_amounts[i] for i in combo) == paid:
                return {i: [j for j in combo if j != i] for i in combo}
    return {}


def mark_spans(text: str, spans: Sequence[tuple[int, int, str]]) -> list[tuple[str, str]]:
    """Split ``text`` into ``(piece, title)`` parts; ``title`` is non-empty where the piece is
    evidence (what it matched). Overlapping spans merge; escaping is the template's."""
    if not text:
        return []
    marks = sorted(spans)
    parts: list[tuple[str, str]] = []
    pos = 0
    for start, end, title in marks:
        if start < pos:
            continue
        if start > pos:
            parts.append((text[pos:start], ""))
        parts.append((text[start:end], title))
        pos = end
    if pos < len(text):
        parts.append((text[pos:], ""))
    return parts
