"""Slow, obviously-correct reference implementations of the matcher's fast paths.

Plain Python, one pair at a time. They exist for differential tests: the vectorised stages in
:mod:`normalize`, :mod:`candidates` and :mod:`subset` must agree with them on random inputs.
Never call these on a hot path.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from itertools import combinations

from cashmatch.engine.candidates import (
    CURRENCY,
    DISCOUNT,
    EXACT,
    FEE,
    FUZZY_MIN_LEN,
    MAX_INVOICES_PER_KEY,
    OVER,
    PARTIAL,
    SETTLED,
)
from cashmatch.engine.normalize import (
    DATES,
    LEGAL_SUFFIXES,
    MAX_JOIN,
    MIN_DIGITS_KEY,
    MIN_TAIL_KEY,
    OCR_TO_DIGIT,
    STRENGTH,
)


def alnum(text: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", (text or "").upper())


def digits(an: str) -> str:
    body = re.sub(r"^[A-Z]+", "", an)
    letters = sum(1 for ch in body if ch.isalpha())
    if letters * 3 <= len(body):
        body = "".join(OCR_TO_DIGIT.get(ch, ch) for ch in body)
    return re.sub(r"[^0-9]", "", body).lstrip("0")


def tail(text: str) -> str:
    m = re.search(r"[0-9][^0-9]+([0-9]+)[^0-9]*$", (text or "").upper())
    return m.group(1).lstrip("0") if m else ""


def invoice_keys(invoice_id: str) -> dict[str, float]:
    """key -> strongest strength, for one invoice."""
    out: dict[str, float] = {}

    def add(key: str, kind: str) -> None:
        if key and STRENGTH[kind] > out.get(key, -1):
            out[key] = STRENGTH[kind]

    a = alnum(invoice_id)
    d = digits(a)
    if len(a) >= 3:
        out[a] = STRENGTH["alnum"]
    if len(d) >= MIN_DIGITS_KEY:
        add(d, "digits")
    t = tail(invoice_id)
    if len(t) >= MIN_TAIL_KEY and t != d:
        add(t, "tail")
    for cut in (1, 2, 3):
        if len(d) - cut >= 6:
            add(d[:-cut], "prefix")
    return out


def invoice_key_kinds(invoice_id: str) -> list[tuple[str, str]]:
    """(key, kind) rows as the fast path produces them (alnum keys kept apart)."""
    a = alnum(invoice_id)
    d = digits(a)
    rows = []
    if len(a) >= 3:
        rows.append((a, "alnum"))
    if len(d) >= MIN_DIGITS_KEY:
        rows.append((d, "digits"))
    t = tail(invoice_id)
    if len(t) >= MIN_TAIL_KEY and t != d:
        rows.append((t, "tail"))
    for cut in (1, 2, 3):
        if len(d) - cut >= 6:
            rows.append((d[:-cut], "prefix"))
    return rows


def reference_tokens(text: str) -> list[tuple[str, str]]:
    text = re.sub(DATES, " ", (text or "").upper())
    runs = [r for r in re.split(r"[^A-Z0-9]+", text) if r]
    tokens = []
    for width in range(1, MAX_JOIN + 1):
        for i in range(len(runs) - width + 1):
            a = "".join(runs[i : i + width])
            tokens.append((a, digits(a)))
    return tokens


def exact_hits(texts: list[str], invoice_ids: list[str]) -> dict[tuple[int, int], float]:
    """(payment, invoice) -> strongest exact key hit, one pair at a time."""
    kinds = [invoice_key_kinds(i) for i in invoice_ids]
    owners: dict[str, set[int]] = defaultdict(set)
    for inv, rows in enumerate(kinds):
        for key, _ in rows:
            owners[key].add(inv)
    hits: dict[tuple[int, int], float] = {}
    for p, text in enumerate(texts):
        for a, d in reference_tokens(text):
            for inv, rows in enumerate(kinds):
                for key, kind in rows:
                    if len(owners[key]) > MAX_INVOICES_PER_KEY:
                        continue
                    form = a if kind == "alnum" else d
                    if form and form == key:
                        s = STRENGTH[kind]
                        if s > hits.get((p, inv), -1):
                            hits[(p, inv)] = s
    return hits


def fuzzy_pair_refs(texts: list[str], invoice_ids: list[str],
                    pairs: list[tuple[int, int, float]], *, cutoff: float) -> list[float]:
    """Per (payment, invoice, ref) pair: the stronger of ref and the best fuzzy ratio of the
    payment's numeric tokens against the invoice's digits key, one token at a time."""
    from rapidfuzz import fuzz

    out = []
    for p, inv, ref in pairs:
        keys = [k for k, kind in invoice_key_kinds(invoice_ids[inv]) if kind == "digits"]
        best = max((fuzz.ratio(d, k) for _, d in reference_tokens(texts[p])
                    if len(d) >= FUZZY_MIN_LEN for k in keys), default=0.0)
        strength = 0.70 + 0.20 * (best - cutoff) / (100.0 - cutoff) if best >= cutoff else 0.0
        out.append(max(ref, strength))
    return out


def name_key(name: str) -> str:
    folded = unicodedata.normalize("NFKD", name or "")
    upper = "".join(ch for ch in folded if ord(ch) < 128).upper()
    upper = re.sub(r"\b([A-Z])\.(?:([A-Z])\.)?", lambda m: m.group(1) + (m.group(2) or ""), upper)
    upper = re.sub(r"[^A-Z0-9 ]+", " ", upper)
    words = [w for w in upper.split() if w not in LEGAL_SUFFIXES]
    return " ".join(words)


def fuzzy_name(name: str, keys: list[str], customers: list[int], groups: list[int], *,
               cutoff: float, margin: float) -> tuple[int, int]:
    """The customer a payer's name key identifies among the name keys of its block (with
    their customers and groups), -1 if none; and the customer it resembles most (scoring at
    least 0.8 of ``cutoff``), -1 if none. Pair by pair: the first of the best scores, which
    must reach ``cutoff`` and beat every other group's key by ``margin``."""
    from rapidfuzz import fuzz

    score = [fuzz.WRatio(name, k, score_cutoff=cutoff * 0.8) for k in keys]
    best = score.index(max(score))
    other = max([s for s, g in zip(score, groups, strict=True) if g != groups[best]] or [0.0])
    ok = score[best] >= cutoff and score[best] - other >= margin
    return (customers[best] if ok else -1), (customers[best] if score[best] > 0 else -1)


def amount_relation(
    *, pay_amount: int, pay_currency: str, pay_date: int, open_amount: int, currency: str,
    issue: int, discount_bp: int, discount_days: int, fee_ceiling: int, grace_days: int,
) -> int:
    if pay_currency != currency:
        return CURRENCY
    if open_amount <= 0:
        return SETTLED
    diff = open_amount - pay_amount
    if diff == 0:
        return EXACT
    if diff < 0:
        return OVER
    disc = (open_amount * discount_bp + 5000) // 10000
    if discount_bp > 0 and pay_date <= issue + discount_days + grace_days and abs(diff - disc) <= 1:
        return DISCOUNT
    if diff <= fee_ceiling:
        return FEE
    return PARTIAL


def subsets(amounts: list[int], target: int, *, tolerance: int, max_size: int
            ) -> tuple[list[tuple[int, ...]], bool]:
    """Every subset (size 1..max_size) that fits exactly; else every tolerant fit."""
    idx = range(len(amounts))
    for lo, hi, exact in ((target, target, True), (target + 1, target + tolerance, False)):
        found = [
            c for k in range(1, max_size + 1) for c in combinations(idx, k)
            if lo <= sum(amounts[i] for i in c) <= hi and all(amounts[i] > 0 for i in c)
        ]
        if found:
            return found, exact
    return [], True
