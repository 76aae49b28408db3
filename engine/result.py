"""What a match returns, its summary, and the invariants checked on every result."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cashmatch.engine import schema as S
from cashmatch.engine.errors import InvariantViolation
from cashmatch.engine.kernel_cache import njit
from cashmatch.engine.normalize import HASH_BASE, HASH_MIX, string_parts


@dataclass(frozen=True, slots=True)
class Summary:
    payments: int
    auto_applied: int
    exceptions_by_reason: dict[str, int]
    amount_by_currency: dict[str, int]  # minor units received
    applied_by_currency: dict[str, int]  # minor units applied
    unapplied_by_currency: dict[str, int]

    @property
    def auto_applied_pct(self) -> float:
        return 100.0 * self.auto_applied / self.payments if self.payments else 0.0


@dataclass(slots=True)
class MatchResult:
    allocations: pa.Table  # schema.ALLOCATIONS
    exceptions: pa.Table  # schema.EXCEPTIONS
    summary: Summary
    timings: dict[str, float] = field(default_factory=dict)  # seconds by stage


def credits_only(payments: pa.Table) -> pa.Table:
    """The bank credits the engine applies: not debits, not reversals."""
    direction, reversal = payments.column("direction"), payments.column("reversal")
    if reversal.null_count == len(reversal) and direction.null_count + sum(
        c.true_count for c in pc.equal(direction, "CRDT").chunks
    ) == len(direction):
        return payments  # all credits (an API batch): nothing to filter
    direction = pc.fill_null(payments.column("direction"), "CRDT")
    reversal = pc.fill_null(payments.column("reversal"), False)
    keep = pc.and_(pc.equal(direction, "CRDT"), pc.invert(reversal))
    return payments.filter(keep)


def _sum_by(keys: pa.ChunkedArray, values: pa.ChunkedArray) -> dict[str, int]:
    """Exact int64 sums by key, keys in order of first appearance: in one compiled pass over
    the keys' bytes when each is three capitals, as currency codes are (:func:`_sums_by_currency`),
    else by :func:`_sum_by_encoding` (its reference; three dictionary encodings were most of a
    small batch's summary)."""
    if len(keys) == 0:
        return {}
    if not values.null_count:
        values_int = np.asarray(values, dtype=np.int64)
        return _sums_found(_sums_by_currency(*_key_parts(keys), values_int), keys, values)
    return _sum_by_encoding(keys, values)


def _key_parts(keys: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """The keys' :func:`string_parts` for :func:`_sums_by_currency`; with a null among them,
    parts no key of which is three capitals (all empty: the sums by the encoding)."""
    if keys.null_count:
        return np.zeros(len(keys) + 1, np.int32), np.zeros(0, np.uint8)
    return string_parts(keys)


def _sums_found(found: tuple[np.ndarray, np.ndarray, bool], keys: pa.ChunkedArray,
                values: pa.ChunkedArray) -> dict[str, int]:  # fmt: skip
    """The sums by key :func:`_sums_by_currency` ``found``, or when it could not, by
    :func:`_sum_by_encoding`."""
    codes, sums, ok = found
    if not ok:
        return _sum_by_encoding(keys, values)
    return dict(zip(map(_code_letters, codes.tolist()), sums.tolist(), strict=True))


def _sum_by_encoding(keys: pa.ChunkedArray, values: pa.ChunkedArray) -> dict[str, int]:
    """:func:`_sum_by` by a dictionary encoding and ``np.add.at`` (an Acero group-by costs a
    small batch ten times more), whatever the keys."""
    enc = keys.combine_chunks().dictionary_encode(null_encoding="encode")
    sums = np.zeros(len(enc.dictionary), dtype=np.int64)
    np.add.at(sums, np.asarray(enc.indices, dtype=np.int64), np.asarray(values, dtype=np.int64))
    return dict(zip(enc.dictionary.to_pylist(), sums.tolist(), strict=True))


MAX_CODES = 64  # distinct keys _sums_by_currency looks among (more: the dictionary encoding)


@njit(cache=True, nogil=True)
def _sums_by_currency(offsets: np.ndarray, raw: np.ndarray, values: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, bool]:  # fmt: skip
    """The sums of ``values`` by key, each key ``raw[offsets[i]:offsets[i + 1]]`` three
    capitals A-Z (coded by their letters in base 26), the codes in order of first appearance
    (int64, wrapping as ``np.add.at``); whether every key is three capitals and there are at
    most :data:`MAX_CODES` of them (else the sums are not all there)."""
    codes = np.empty(MAX_CODES, np.int64)
    sums = np.zeros(MAX_CODES, np.int64)
    m = 0
    for i in range(len(values)):
        a = offsets[i]
        if offsets[i + 1] - a != 3:
            return codes[:m], sums[:m], False
        code = 0
        for t in range(a, a + 3):
            b = int(raw[t])
            if b < 65 or b > 90:
                return codes[:m], sums[:m], False
            code = code * 26 + b - 65
        s = 0
        while s < m and codes[s] != code:
            s += 1
        if s == m:
            if m == MAX_CODES:
                return codes[:m], sums[:m], False
            codes[m] = code
            m += 1
        sums[s] += values[i]
    return codes[:m], sums[:m], True


def _code_letters(code: int) -> str:
    """The three capitals of a code of :func:`_sums_by_currency`."""
    return chr(65 + code // 676) + chr(65 + code // 26 % 26) + chr(65 + code % 26)


def summarize(
    payments: pa.Table,
    allocations: pa.Table,
    exceptions: pa.Table,
    rows: np.ndarray | None = None,
) -> Summary:
    """The result's summary. ``rows``: each output row's payment (allocations', then
    exceptions'), as :func:`check_invariants` returns them; derived when not given."""
    if rows is None:
        rows = _payment_codes(payments, allocations, exceptions)[payments.num_rows :]
    # the payments with an allocation and no exception (codes -1 .. len(codes) - 1)
    applied = np.zeros(payments.num_rows + len(rows) + 1, dtype=bool)
    applied[rows[: allocations.num_rows] + 1] = True
    applied[rows[allocations.num_rows :] + 1] = False
    auto = int(applied.sum())
    return Summary(
        payments=payments.num_rows,
        auto_applied=auto,
        exceptions_by_reason=_by_reason(exceptions),
        amount_by_currency=_sum_by(payments.column("currency"), payments.column("amount")),
        applied_by_currency=_sum_by(
            allocations.column("currency"), allocations.column("applied_amount")
        ),
        unapplied_by_currency=_sum_by(
            exceptions.column("currency"), exceptions.column("unapplied_amount")
        ),
    )


def checked_summary(payments: pa.Table, allocations: pa.Table, exceptions: pa.Table
                    ) -> Summary:  # fmt: skip
    """:func:`check_invariants` then :func:`summarize` (their reference), the check, the
    auto-applied count and the three sums by currency in one compiled pass
    (:func:`_checked_sums`): what a match returns its result with. Raises
    :class:`InvariantViolation` as the check does."""
    n = payments.num_rows
    code = _payment_codes(payments, allocations, exceptions)
    keys = [t.column("currency") for t in (payments, allocations, exceptions)]
    values = [payments.column("amount"), allocations.column("applied_amount"),
              exceptions.column("unapplied_amount")]  # fmt: skip
    ok, auto, *found = _checked_sums(code, n, *(np.asarray(v, dtype=np.int64) for v in values),
                                     *(p for k in keys for p in _key_parts(k)))
    if not ok:
        _check_by_numpy(payments, allocations, exceptions, code)
    amount, applied, unapplied = (_sums_found(found[3 * i : 3 * i + 3], k, v)
                                  for i, (k, v) in enumerate(zip(keys, values, strict=True)))
    return Summary(payments=n, auto_applied=auto, exceptions_by_reason=_by_reason(exceptions),
                   amount_by_currency=amount, applied_by_currency=applied,
                   unapplied_by_currency=unapplied)  # fmt: skip


@njit(cache=True, nogil=True)
def _checked_sums(code: np.ndarray, n: int, amount: np.ndarray, applied: np.ndarray,
                  unapplied: np.ndarray, p_offsets: np.ndarray, p_raw: np.ndarray,
                  a_offsets: np.ndarray, a_raw: np.ndarray, e_offsets: np.ndarray,
                  e_raw: np.ndarray) -> tuple:  # fmt: skip
    """Whether the invariants hold (:func:`_invariants_hold`), the payments with an
    allocation and no exception (0 when they do not hold), and :func:`_sums_by_currency` of
    the payments' ``amount``, the allocations' ``applied`` and the exceptions' ``unapplied``
    by their currencies' parts (``*_offsets``, ``*_raw``). Its reference:
    :func:`check_invariants` and :func:`summarize`."""
    ok = _invariants_hold(code, n, amount, applied, unapplied)
    auto = 0
    if ok:
        allocated = np.zeros(n, np.bool_)
        excepted = np.zeros(n, np.bool_)
        for j in range(len(applied)):
            allocated[code[n + j]] = True
        for j in range(len(unapplied)):
            excepted[code[n + len(applied) + j]] = True
        for i in range(n):
            if allocated[i] and not excepted[i]:
                auto += 1
    p_codes, p_sums, p_ok = _sums_by_currency(p_offsets, p_raw, amount)
    a_codes, a_sums, a_ok = _sums_by_currency(a_offsets, a_raw, applied)
    e_codes, e_sums, e_ok = _sums_by_currency(e_offsets, e_raw, unapplied)
    return ok, auto, p_codes, p_sums, p_ok, a_codes, a_sums, a_ok, e_codes, e_sums, e_ok


def _by_reason(exceptions: pa.Table) -> dict[str, int]:
    """The exceptions counted by reason, most first, then by name."""
    if not exceptions.num_rows:
        return {}
    counts = exceptions.column("reason").value_counts()
    reasons = zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist(),
                  strict=True)  # fmt: skip
    return dict(sorted(reasons, key=lambda r: (-r[1], r[0])))


def _payment_codes(payments: pa.Table, allocations: pa.Table, exceptions: pa.Table
                   ) -> np.ndarray:  # fmt: skip
    """The payments' ids and the output rows' coded together (null: -1): codes by first
    appearance, so the payments' are 0..n-1 exactly when their ids are unique, and an output
    row's code is its payment's row. When the ids are unique and every output row names a
    payment (a result as it should be), found by the compiled table of :mod:`ids_kernel`
    (:func:`_codes_by_table`), else by their reference :func:`_payment_codes_by_arrow`."""
    m = allocations.num_rows + exceptions.num_rows
    codes = _codes_by_table(payments, allocations, exceptions) if (
        m >= PAYMENT_ROWS_TABLE_MIN) else None
    return codes if codes is not None else _payment_codes_by_arrow(payments, allocations,
                                                                   exceptions)


# output rows from which _payment_codes takes the table (on two threads): below, Arrow's hash of
# all the ids fits the caches and costs less (thread CPU: 100 payments and 110 rows 15 us
# against 22, 10k and 11k 386 us against 448; a 300k day 94 ms against 62, 1M 306 against 120)
PAYMENT_ROWS_TABLE_MIN = 1 << 16


def _codes_by_table(payments: pa.Table, allocations: pa.Table, exceptions: pa.Table
                    ) -> np.ndarray | None:  # fmt: skip
    """:func:`_payment_codes` when the payments' ids are unique and not null and every output
    row names one of them: the ids entered in a table of :mod:`ids_kernel` cut in two parts,
    each filled on a thread, then the output rows' looked up in two shares on two threads;
    None when they are not (or a null is among them)."""
    from cashmatch.engine import ids_kernel, text_kernel
    from cashmatch.engine.threads import in_parts

    n = payments.num_rows
    ids = payments.column("payment_id")
    outputs = [c for t in (allocations, exceptions) for c in t.column("payment_id").chunks]
    if ids.null_count or any(c.null_count for c in outputs):
        return None
    m = sum(len(c) for c in outputs)
    codes = np.empty(n + m, np.int64)
    codes[:n] = np.arange(n)
    if n == 0:
        return codes if m == 0 else None
    p_off, p_raw = string_parts(ids)
    part_bits = 1  # (a table in two parts, one a thread)
    bits = max(n.bit_length() + 1, part_bits + 1)  # (at most half the slots taken)
    hashes = np.empty(n, np.uint64)
    in_parts(lambda a, b: text_kernel.hash64(p_off[a : b + 1], p_raw, HASH_BASE, HASH_MIX,
                                             hashes[a:b]), n, per_thread=1, max_threads=2)
    table = np.full(1 << bits, ids_kernel.EMPTY, np.uint64)
    if not all(in_parts(lambda part, _: ids_kernel.fill_id_table(
            p_off, p_raw, hashes, table, bits, part_bits, part), 1 << part_bits, per_thread=1)):
        return None
    rows = codes[n:]
    starts = np.cumsum([0] + [len(c) for c in outputs]).tolist()
    chunks = [(at, string_parts(c)) for at, c in zip(starts, outputs, strict=False)]

    def find(a: int, b: int) -> bool:
        """The payments of output rows a .. b - 1, chunk by chunk."""
        found = True
        for at, (t_off, t_raw) in chunks:
            lo, hi = max(a, at), min(b, at + len(t_off) - 1)
            if lo < hi:
                found &= ids_kernel.find_rows(t_off[lo - at : hi - at + 1], t_raw, p_off, p_raw,
                                              table, bits, part_bits, HASH_BASE, HASH_MIX,
                                              rows[lo:hi])
        return found

    return codes if all(in_parts(find, m, per_thread=1, max_threads=2)) else None


def _payment_codes_by_arrow(payments: pa.Table, allocations: pa.Table, exceptions: pa.Table
                            ) -> np.ndarray:  # fmt: skip
    """:func:`_payment_codes` by Arrow, in one hash pass over all the ids (the reference of
    :func:`_codes_by_table`)."""
    ids = [payments.column("payment_id"), allocations.column("payment_id"),
           exceptions.column("payment_id")]  # fmt: skip
    codes = pa.chunked_array([c for col in ids for c in col.chunks], pa.string()
                             ).combine_chunks().dictionary_encode().indices  # fmt: skip
    return np.asarray(pc.fill_null(codes, -1) if codes.null_count else codes, dtype=np.int64)


def check_invariants(payments: pa.Table, allocations: pa.Table, exceptions: pa.Table
                     ) -> np.ndarray:  # fmt: skip
    """Every payment appears in the output, and applied + unapplied == amount, to the minor unit.

    The ids of payments and output rows dictionary-encoded at once, then one compiled pass
    (:func:`_invariants_hold`; a dozen numpy calls were most of a small batch's check); when
    it finds one broken, :func:`_check_by_numpy` raises :class:`InvariantViolation` (an
    engine bug, never the caller's fault) naming the first payments that break it. Returns
    each output row's payment row (allocations', then exceptions'), for :func:`summarize`.
    """
    n = payments.num_rows
    code = _payment_codes(payments, allocations, exceptions)
    if not _invariants_hold(code, n, np.asarray(payments.column("amount"), dtype=np.int64),
                            np.asarray(allocations.column("applied_amount"), dtype=np.int64),
                            np.asarray(exceptions.column("unapplied_amount"), dtype=np.int64)):
        _check_by_numpy(payments, allocations, exceptions, code)
    return code[n:]


@njit(cache=True, nogil=True)
def _invariants_hold(code: np.ndarray, n: int, amount: np.ndarray, applied: np.ndarray,
                     unapplied: np.ndarray) -> bool:  # fmt: skip
    """Whether the payments' codes are 0..n-1 (``code[:n]``: unique ids), every output row
    (``code[n:]``: allocations', then exceptions') names one of them, every payment is named,
    no applied amount is negative and each payment's applied + unapplied is its ``amount``
    (int64, wrapping as ``np.add.at``). Its reference: :func:`_check_by_numpy`."""
    for i in range(n):
        if code[i] != i:
            return False
    seen = np.zeros(n, np.bool_)
    total = np.zeros(n, np.int64)
    for j in range(len(applied) + len(unapplied)):
        row = code[n + j]
        if row < 0 or row >= n:
            return False
        seen[row] = True
        if j < len(applied):
            if applied[j] < 0:
                return False
            total[row] += applied[j]
        else:
            total[row] += unapplied[j - len(applied)]
    for i in range(n):  # noqa: SIM110 - (a loop: compiled)
        if not seen[i] or total[i] != amount[i]:
            return False
    return True


def _check_by_numpy(payments: pa.Table, allocations: pa.Table, exceptions: pa.Table,
                     code: np.ndarray) -> None:  # fmt: skip
    """:func:`check_invariants` in numpy (the reference of :func:`_invariants_hold`): raises
    :class:`InvariantViolation` naming the first payments that break them. ``code``:
    :func:`_payment_codes`."""
    pid = payments.column("payment_id")
    n = payments.num_rows
    if not np.array_equal(code[:n], np.arange(n)):
        raise InvariantViolation("payment ids are not unique in the matched input")
    seen = np.zeros(n, dtype=bool)
    total = np.zeros(n, dtype=np.int64)
    at = n
    for name, table, amount in (
        ("allocations", allocations, "applied_amount"),
        ("exceptions", exceptions, "unapplied_amount"),
    ):
        row = code[at : at + table.num_rows]
        at += table.num_rows
        if ((row < 0) | (row >= n)).any():
            raise InvariantViolation(f"{name} name payments that were not in the input")
        seen[row] = True
        np.add.at(total, row, np.asarray(table.column(amount), dtype=np.int64))
    if not seen.all():
        ids = pid.filter(pa.array(~seen))[:5].to_pylist()
        raise InvariantViolation(f"payments missing from the output: {ids}")
    off = total != np.asarray(payments.column("amount"), dtype=np.int64)
    if off.any():
        ids = pid.filter(pa.array(off))[:5].to_pylist()
        raise InvariantViolation(f"applied + unapplied != amount for payments {ids}")
    neg = np.asarray(allocations.column("applied_amount"), dtype=np.int64) < 0
    if neg.any():
        raise InvariantViolation("negative applied amount")


def empty_result(payments: pa.Table) -> MatchResult:
    alloc, exc = S.empty(S.ALLOCATIONS), S.empty(S.EXCEPTIONS)
    return MatchResult(alloc, exc, summarize(payments, alloc, exc))
