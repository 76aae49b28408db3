"""The allocation's passes over pairs and proposal lines, compiled (numba), each in place of a
run of small numpy steps (in a 100-payment call their fixed costs; at a million payments, sorts
and ``ufunc.at`` passes over millions of rows):

* :func:`payment_evidence`: the per-payment reductions that open ``DayMatch.propose`` (the
  best full settlement and its runner-up, where numpy took a sort, and five ``ufunc.at``
  reductions);
* :func:`first_two`: each payment's first and second pairs in a few masks
  (``DayMatch.partial_outcomes``);
* :func:`contested_and_fitting` and :func:`walk_capacity`: the capacity check of
  ``DayMatch.settle``;
* :func:`order_in_runs`: the pairs ranked per payment (``allocate.pay_conf_inv_order``) when
  they come sorted by (payment, invoice), as ``Pairs.concat`` leaves them: no sort of them all;
* :func:`gather_quoted` and :func:`join_spans`: the quoted invoices of the payments whose sets
  are searched, and each set's invoices once found (``DayMatch.prefill_subsets``);
* :func:`remittance_line_choices`: each remittance line's invoice, scored among its candidates
  (``DayMatch.remittance_lines``);
* :func:`settle_counted` and :func:`settle_walked`: ``DayMatch.settle``'s check before and
  after the proposals are ranked (numpy's lexsort between them);
* :func:`sole_group`: the one group each payment's quoted invoices name (``pipeline.sole_group``,
  where two ``ufunc.at`` passes took each payment's least and greatest).

The same choices and the same float64 values as the numpy steps, which are their reference
(``tests/engine/test_allocate_kernel.py``).
"""

from __future__ import annotations

import numpy as np

from cashmatch.engine.kernel_cache import njit


@njit(cache=True, nogil=True)
def payment_evidence(
    pay: np.ndarray,
    inv: np.ndarray,
    ref: np.ndarray,
    rel: np.ndarray,
    cust_rel: np.ndarray,
    conf: np.ndarray,
    n: int,
    full: np.ndarray,
    quoted_ref_min: float,
    other: int,
    same: int,
    exact: int,
    currency: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray,
           np.ndarray, np.ndarray]:
    """Per payment (0..n-1), over its pairs:

    * ``best``, ``second``: the pair that settles an invoice in full (``full[rel]``) ranked
      first and second by confidence plus one for a reference hit (descending), then invoice,
      then pair index (-1: none) — ``best_per_payment`` of those pairs;
    * ``n_quoted``: its pairs of reference at least ``quoted_ref_min`` not of another
      customer (``cust_rel != other``), and ``quoted_ref`` the strongest of those references;
    * ``contra_ref``: the strongest of those not invoiced in another currency;
    * ``named_ref``: its strongest reference not of another customer (at least 0);
    * ``own_exact``: it has a pair of its own customer for exactly the amount;
    * ``max_ref``: its strongest reference (at least 0).
    """
    best = np.full(n, -1, np.int64)
    second = np.full(n, -1, np.int64)
    n_quoted = np.zeros(n, np.int64)
    quoted_ref = np.zeros(n)
    contra_ref = np.zeros(n)
    named_ref = np.zeros(n)
    own_exact = np.zeros(n, np.bool_)
    max_ref = np.zeros(n)
    key = np.empty(n)  # the best's rank key (valid where best >= 0)
    key2 = np.empty(n)
    for j in range(len(pay)):
        p, r, c, rl = pay[j], ref[j], cust_rel[j], rel[j]
        if r > max_ref[p]:
            max_ref[p] = r
        if c != other:
            if r > named_ref[p]:
                named_ref[p] = r
            if r >= quoted_ref_min:
                n_quoted[p] += 1
                if r > quoted_ref[p]:
                    quoted_ref[p] = r
                if rl != currency and r > contra_ref[p]:
                    contra_ref[p] = r
        if c == same and rl == exact:
            own_exact[p] = True
        if full[rl]:
            k = conf[j] + (1.0 if r > 0 else 0.0)
            b = best[p]
            # pairs come in index order: an equal key and invoice never ranks before
            if b < 0 or k > key[p] or (k == key[p] and inv[j] < inv[b]):
                second[p], key2[p] = b, key[p]
                best[p], key[p] = j, k
            elif second[p] < 0 or k > key2[p] or (k == key2[p] and inv[j] < inv[second[p]]):
                second[p], key2[p] = j, k
    return best, second, n_quoted, quoted_ref, contra_ref, named_ref, own_exact, max_ref


@njit(cache=True, nogil=True)
def first_two(owner: np.ndarray, masks: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per mask (a row of ``masks``) and owner (0..n-1; ``owner`` in runs), the first and
    second positions in that mask of the owner's (-1: none): ``first[m, o]``,
    ``second[m, o]``."""
    m = masks.shape[0]
    first = np.full((m, n), -1, np.int64)
    second = np.full((m, n), -1, np.int64)
    for j in range(len(owner)):
        o = owner[j]
        for k in range(m):
            if masks[k, j]:
                if first[k, o] < 0:
                    first[k, o] = j
                elif second[k, o] < 0:
                    second[k, o] = j
    return first, second


@njit(cache=True, nogil=True)
def contested_and_fitting(start: np.ndarray, inv: np.ndarray, need: np.ndarray,
                          eligible: np.ndarray, amount: np.ndarray
                          ) -> tuple[np.ndarray, np.ndarray]:
    """Per proposal (lines ``start[j]:start[j + 1]`` of ``inv``, each taking ``need``):
    ``walk``, eligible and one of its invoices is on two or more lines of eligible proposals
    (its own included); ``fits``, each line's need within the invoice's open ``amount``."""
    n = len(start) - 1
    touches = np.zeros(len(amount), np.int64)
    for j in range(n):
        if eligible[j]:
            for line in range(start[j], start[j + 1]):
                touches[inv[line]] += 1
    walk = np.zeros(n, np.bool_)
    fits = np.ones(n, np.bool_)
    for j in range(n):
        for line in range(start[j], start[j + 1]):
            i = inv[line]
            if eligible[j] and touches[i] >= 2:
                walk[j] = True
            if amount[i] < need[line]:
                fits[j] = False
    return walk, fits


@njit(cache=True, nogil=True)
def walk_capacity(start: np.ndarray, inv: np.ndarray, need: np.ndarray, amount: np.ndarray,
                  order: np.ndarray, ok: np.ndarray) -> None:
    """The proposals ``order`` (rank order), each accepted (``ok[j]``) when every line's need
    fits what its invoice has left of ``amount`` after those accepted before it (``ok``
    written in place)."""
    left = amount.copy()
    for j in order:
        fits = True
        for line in range(start[j], start[j + 1]):
            if left[inv[line]] < need[line]:
                fits = False
        ok[j] = fits
        if fits:
            for line in range(start[j], start[j + 1]):
                left[inv[line]] -= need[line]


RUN_INSERTION_MAX = 32  # a payment's run of pairs sorted by insertion up to this long


@njit(cache=True, nogil=True)
def order_in_runs(pay: np.ndarray, inv: np.ndarray, conf: np.ndarray) -> tuple[np.ndarray, bool]:
    """``np.lexsort((inv, -conf, pay))`` of pairs sorted by (``pay``, ``inv``), each pair once:
    each payment's run put in descending confidence, stably (ties stay in invoice order), by
    insertion when short, by a merge sort when long. ``False`` (and no order) when the pairs
    are not so sorted or a confidence is NaN."""
    n = len(pay)
    order = np.arange(n)
    for j in range(n):
        if np.isnan(conf[j]) or (j > 0 and (pay[j] < pay[j - 1] or (
                pay[j] == pay[j - 1] and inv[j] <= inv[j - 1]))):
            return order, False
    lo = 0
    while lo < n:
        hi = lo + 1
        while hi < n and pay[hi] == pay[lo]:
            hi += 1
        if hi - lo <= RUN_INSERTION_MAX:
            for a in range(lo + 1, hi):
                v = order[a]
                c = conf[v]
                b = a - 1
                while b >= lo and conf[order[b]] < c:
                    order[b + 1] = order[b]
                    b -= 1
                order[b + 1] = v
        else:
            order[lo:hi] = lo + np.argsort(-conf[lo:hi], kind="mergesort")
        lo = hi
    return order, True


@njit(cache=True, nogil=True)
def components(left: np.ndarray, right: np.ndarray, n_left: int, n_right: int) -> np.ndarray:
    """The connected components of the bipartite graph with edges ``(left[e], right[e])``
    (nodes ``0..n_left-1`` and ``0..n_right-1``): a label per left node, the same for two
    exactly when they are connected (labels are the smallest left node of each component)."""
    parent = np.arange(n_left + n_right)
    for e in range(len(left)):
        a, b = left[e], n_left + right[e]
        while parent[a] != a:  # (halving the paths as it goes)
            parent[a] = parent[parent[a]]
            a = parent[a]
        while parent[b] != b:
            parent[b] = parent[parent[b]]
            b = parent[b]
        if a != b:
            if a < b:
                parent[b] = a
            else:
                parent[a] = b
    label = np.empty(n_left, np.int64)
    for i in range(n_left):
        a = i
        while parent[a] != a:
            a = parent[a]
        label[i] = a
    return label


@njit(cache=True, nogil=True)
def max_assignment(gain: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``scipy.optimize.linear_sum_assignment(gain, maximize=True)`` of a finite matrix: the
    same shortest augmenting path algorithm (Crouse 2016, as scipy's ``rectangular_lsap.cpp``
    implements it) step for step and float operation for float operation, so that ties fall
    the same way. Rows ascending, each with its column."""
    nr, nc = gain.shape
    if nr == 0 or nc == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    transpose = nc < nr  # (a tall matrix is solved transposed)
    cost = -gain.T.copy() if transpose else -gain.copy()  # (maximize: the costs negated)
    if transpose:
        nr, nc = nc, nr
    u = np.zeros(nr)
    v = np.zeros(nc)
    shortest = np.empty(nc)
    path = np.full(nc, -1, np.int64)
    col4row = np.full(nr, -1, np.int64)
    row4col = np.full(nc, -1, np.int64)
    in_rows = np.zeros(nr, np.bool_)
    in_cols = np.zeros(nc, np.bool_)
    remaining = np.empty(nc, np.int64)
    for cur in range(nr):
        # the shortest augmenting path from row ``cur``
        n_left = nc
        for it in range(nc):
            remaining[it] = nc - it - 1
        in_rows[:] = False
        in_cols[:] = False
        shortest[:] = np.inf
        min_val = 0.0
        i = cur
        sink = -1
        while sink == -1:
            index = -1
            lowest = np.inf
            in_rows[i] = True
            for it in range(n_left):
                j = remaining[it]
                r = min_val + cost[i, j] - u[i] - v[j]
                if r < shortest[j]:
                    path[j] = i
                    shortest[j] = r
                # among equal lowest costs, one that is a new sink
                if shortest[j] < lowest or (shortest[j] == lowest and row4col[j] == -1):
                    lowest = shortest[j]
                    index = it
            min_val = lowest
            j = remaining[index]
            if row4col[j] == -1:
                sink = j
            else:
                i = row4col[j]
            in_cols[j] = True
            n_left -= 1
            remaining[index] = remaining[n_left]
        # the dual variables
        u[cur] += min_val
        for i in range(nr):
            if in_rows[i] and i != cur:
                u[i] += min_val - shortest[col4row[i]]
        for j in range(nc):
            if in_cols[j]:
                v[j] -= min_val - shortest[j]
        # the previous solution augmented
        j = sink
        while True:
            i = path[j]
            row4col[j] = i
            col4row[i], j = j, col4row[i]
            if i == cur:
                break
    if transpose:  # (its rows, the original columns, by the original row assigned each)
        cols = np.argsort(col4row)
        return col4row[cols], cols
    return np.arange(nr), col4row


# --- the small call (small15)
@njit(cache=True, nogil=True)
def gather_quoted(
    ps: np.ndarray, quoted_starts: np.ndarray, quoted_rows: np.ndarray, amount: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The quoted rows of each payment of ``ps``, one payment's after another
    (``quoted_rows[quoted_starts[p]:quoted_starts[p + 1]]``), where each payment's begin
    (``len(ps) + 1`` offsets) and their ``amount`` total per payment
    (``DayMatch.prefill_subsets``)."""
    n = len(ps)
    at = np.zeros(n + 1, np.int64)
    for i in range(n):
        p = ps[i]
        at[i + 1] = at[i] + quoted_starts[p + 1] - quoted_starts[p]
    rows = np.empty(at[n], quoted_rows.dtype)
    total = np.zeros(n, np.int64)
    for i in range(n):
        lo = quoted_starts[ps[i]]
        s = 0
        for k in range(at[i + 1] - at[i]):
            r = quoted_rows[lo + k]
            rows[at[i] + k] = r
            s += amount[r]
        total[i] = s
    return rows, at, total


@njit(cache=True, nogil=True)
def join_spans(
    a: np.ndarray, a_lo: np.ndarray, a_n: np.ndarray,
    b: np.ndarray, b_lo: np.ndarray, b_n: np.ndarray,
) -> np.ndarray:
    """Per i, the rows ``a[a_lo[i]:a_lo[i] + a_n[i]]`` then ``b[b_lo[i]:b_lo[i] + b_n[i]]``,
    one i's after another (each set's quoted invoices, then those its search added:
    ``DayMatch.prefill_subsets``)."""
    n = len(a_lo)
    total = 0
    for i in range(n):
        total += a_n[i] + b_n[i]
    out = np.empty(total, np.int64)
    k = 0
    for i in range(n):
        for j in range(a_lo[i], a_lo[i] + a_n[i]):
            out[k] = a[j]
            k += 1
        for j in range(b_lo[i], b_lo[i] + b_n[i]):
            out[k] = b[j]
            k += 1
    return out


@njit(cache=True, nogil=True)
def _mark_named(key: np.ndarray, pay: np.ndarray, inv: np.ndarray, n_inv: int,
                out: np.ndarray) -> None:
    """``out[r] = True`` for each row ``r`` of ``key`` (ascending) that a (pay, inv) names."""
    n = len(key)
    if n == 0:
        return
    for j in range(len(pay)):
        k = pay[j] * n_inv + inv[j]
        at = min(np.searchsorted(key, k), n - 1)
        if key[at] == k:
            out[at] = True


@njit(cache=True, nogil=True)
def remittance_line_choices(
    pay: np.ndarray, inv: np.ndarray, ref: np.ndarray,
    hits_pay: np.ndarray, hits_inv: np.ndarray, fz_pay: np.ndarray, fz_inv: np.ndarray,
    anyone_pay: np.ndarray, anyone_inv: np.ndarray,
    line_group: np.ndarray, line_total: np.ndarray, line_currency: np.ndarray,
    book_group: np.ndarray, book_amount: np.ndarray, book_currency: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``DayMatch.remittance_lines``' choice of each line's invoice from its candidate rows
    ``(pay, inv, ref)`` (a line's in ``pay``, sorted by (line, invoice), each pair once: as
    ``Pairs.concat`` leaves them; ``hits``, ``fz``, ``anyone``: the (line, invoice) pairs of
    the parts it was concatenated from): each row's score, each line's chosen invoice (-1:
    none, or a rival within 0.02), the best score (0.0: no row), whether the choice is
    doubtful, and where each line's rows begin (``len(line_group) + 1`` offsets). The best and
    runner-up of a line are ``best_per_payment``'s: highest score first, ties in invoice
    order (scores are not NaN). Reference: the numpy steps in
    ``tests/engine/test_small_call_kernels.py``."""
    n, n_lines = len(pay), len(line_group)
    n_inv = len(book_amount)
    key = np.empty(n, np.int64)
    for j in range(n):
        key[j] = pay[j] * n_inv + inv[j]
    anyone = np.zeros(n, np.bool_)
    _mark_named(key, anyone_pay, anyone_inv, n_inv, anyone)
    named = np.zeros(n, np.bool_)  # (by the references' or the fuzzy search)
    _mark_named(key, hits_pay, hits_inv, n_inv, named)
    _mark_named(key, fz_pay, fz_inv, n_inv, named)
    score = np.empty(n, np.float64)
    same = np.empty(n, np.bool_)
    settles = np.empty(n, np.bool_)
    for j in range(n):
        line, i = pay[j], inv[j]
        g = line_group[line]
        same[j] = book_group[i] == g if g >= 0 else not (anyone[j] and not named[j])
        settles[j] = line_total[line] == book_amount[i]
        s = ref[j] * (1.0 if same[j] else 0.5)
        s = s * (1.0 if settles[j] else 0.9)
        score[j] = s * (1.0 if book_currency[i] == line_currency[line] else 0.0)
    line_inv = np.full(n_lines, -1, inv.dtype)
    best_s = np.zeros(n_lines, np.float64)
    doubtful = np.zeros(n_lines, np.bool_)
    starts = np.zeros(n_lines + 1, np.int64)
    lo = 0
    for line in range(n_lines):
        hi = lo
        while hi < n and pay[hi] == line:
            hi += 1
        starts[line + 1] = hi
        if hi > lo:
            best, second = lo, -1
            rival = False
            for j in range(lo, hi):
                rival |= settles[j] and same[j] and ref[j] >= 0.7
                if j == lo:
                    continue
                if score[j] > score[best]:
                    best, second = j, best
                elif second < 0 or score[j] > score[second]:
                    second = j
            b = score[best]
            best_s[line] = b
            if b > 0 and not (second >= 0 and score[second] >= b - 0.02):
                line_inv[line] = inv[best]
            doubtful[line] = (not settles[best] and rival) or not same[best]
        lo = hi
    return score, line_inv, best_s, doubtful, starts


@njit(cache=True, nogil=True)
def settle_counted(
    start: np.ndarray, inv: np.ndarray, need: np.ndarray, amount: np.ndarray,
    conf: np.ndarray, rule: np.ndarray, rule_ok: np.ndarray, threshold: float, n_ranked: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The first half of ``DayMatch.settle``'s capacity check of proposals (lines
    ``start[j]:start[j + 1]`` of ``inv``, each taking ``need`` of the invoice's open
    ``amount``; eligible at ``conf`` of at least ``threshold`` by a rule with ``rule_ok``):
    the proposals whose rank counts (the contested, the rejected and the first ``n_ranked``,
    ascending), and per proposal ``walk`` (contested), ``ok`` (eligible and fits) and
    ``eligible``. :func:`settle_walked` ends it once they are ranked. Reference: the numpy
    steps in ``tests/engine/test_small_call_kernels.py``."""
    n = len(start) - 1
    eligible = np.empty(n, np.bool_)
    for j in range(n):
        eligible[j] = conf[j] >= threshold and rule_ok[rule[j]]
    walk, ok = contested_and_fitting(start, inv, need, eligible, amount)
    counted = np.empty(n, np.int64)
    m = 0
    for j in range(n):
        ok[j] = ok[j] and eligible[j]
        if walk[j] or not ok[j] or j < n_ranked:
            counted[m] = j
            m += 1
    return counted[:m], walk, ok, eligible


@njit(cache=True, nogil=True)
def settle_walked(
    start: np.ndarray, inv: np.ndarray, need: np.ndarray, amount: np.ndarray,
    order: np.ndarray, walk: np.ndarray, ok: np.ndarray, eligible: np.ndarray, n_ranked: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The second half of :func:`settle_counted`'s check, the counted proposals ranked
    (``order``): the contested walked in rank order (``ok`` written in place), then the
    accepted (the first ``n_ranked`` in rank order, then the others in theirs), the rejected
    in rank order and which of them were not eligible."""
    n = len(start) - 1
    n_walk = 0
    for j in order:
        n_walk += walk[j]
    if n_walk:  # each in rank order, against what those before it left
        contested = np.empty(n_walk, np.int64)
        k = 0
        for j in order:
            if walk[j]:
                contested[k] = j
                k += 1
        walk_capacity(start, inv, need, amount, contested, ok)
    accepted = np.empty(n, np.int64)
    rejected = np.empty(len(order), np.int64)
    n_acc = n_rej = 0
    for j in order:
        if ok[j]:
            if j < n_ranked:
                accepted[n_acc] = j
                n_acc += 1
        else:
            rejected[n_rej] = j
            n_rej += 1
    for j in range(n_ranked, n):
        if ok[j]:
            accepted[n_acc] = j
            n_acc += 1
    below = np.empty(n_rej, np.bool_)
    for k in range(n_rej):
        below[k] = not eligible[rejected[k]]
    return accepted[:n_acc], rejected[:n_rej], below


# --- the small call (call16)
@njit(cache=True, nogil=True)
def sole_group(pay: np.ndarray, group: np.ndarray, n: int) -> np.ndarray:
    """Per payment (0..n-1), the one group all its (pay, group) entries name; -1 for none, for
    several, or where that one is negative: each payment's least and greatest group in one pass
    (in place of an ``np.minimum.at`` and an ``np.maximum.at``)."""
    gmin = np.full(n, np.iinfo(np.int64).max)
    gmax = np.full(n, -1)
    for i in range(len(pay)):
        p, g = pay[i], np.int64(group[i])
        if g < gmin[p]:
            gmin[p] = g
        if g > gmax[p]:
            gmax[p] = g
    for p in range(n):
        if gmin[p] != gmax[p]:
            gmax[p] = -1
    return gmax
