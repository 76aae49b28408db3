"""candidates_kernel.pair_rows against a plain spelling-out of its rows."""
import numpy as np
import pytest

from cashmatch.engine import candidates_kernel


def _plain_pair_rows(pair_pay: np.ndarray, pair_inv: np.ndarray, t_pay: np.ndarray,
                     k_inv: np.ndarray) -> tuple[list[int], list[int], list[int]]:
    row, tok, key = [], [], []
    for j, (p, i) in enumerate(zip(pair_pay.tolist(), pair_inv.tolist(), strict=True)):
        for t in np.flatnonzero(t_pay == p).tolist():
            for k in np.flatnonzero(k_inv == i).tolist():
                row.append(j)
                tok.append(t)
                key.append(k)
    return row, tok, key


@pytest.mark.parametrize("order", ["by_payment", "reversed", "shuffled", "runs"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pair_rows_are_every_token_with_every_key(order: str, seed: int):
    """Every token of each pair's payment with every key of its invoice, in order, whatever
    the pairs' order (the search starts from the previous pair's only when it may): payments
    with no tokens, invoices with no keys, repeated pairs, the first and last payment."""
    rng = np.random.default_rng(seed)
    n_pay, n_inv = 40, 30
    t_pay = np.sort(rng.integers(0, n_pay, 90))
    k_inv = np.sort(rng.integers(0, n_inv, 50))
    pair_pay = np.sort(np.concatenate([rng.integers(0, n_pay, 120), [0, n_pay - 1]]))
    pair_inv = rng.integers(0, n_inv, len(pair_pay))
    if order == "reversed":
        pair_pay, pair_inv = pair_pay[::-1].copy(), pair_inv[::-1].copy()
    elif order == "shuffled":
        at = rng.permutation(len(pair_pay))
        pair_pay, pair_inv = pair_pay[at], pair_inv[at]
    elif order == "runs":  # ascending runs that fall back
        pair_pay = np.concatenate([pair_pay[60:], pair_pay[:60]])
    got = candidates_kernel.pair_rows(pair_pay, pair_inv, t_pay, k_inv)
    want = _plain_pair_rows(pair_pay, pair_inv, t_pay, k_inv)
    assert [g.tolist() for g in got] == list(want)
