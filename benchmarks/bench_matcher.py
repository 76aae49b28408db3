"""Benchmarks of the matcher, end to end and by stage, on generated days. They report; they
never assert a timing. Run: ``pytest benchmarks --benchmark-enable`` (add
``-k match`` for one group). The subset search per solve is in ``bench_subset.py``."""

from __future__ import annotations

import numpy as np
import pytest

from cashmatch.engine.evaluate import evaluate
from cashmatch.engine.matcher import match
from cashmatch.fixtures.generator import Day, generate_day


def _match(day: Day):  # noqa: ANN202
    return match(
        invoices=day.invoices,
        payments=day.payments,
        remittances=day.remittances,
        customers=day.customers,
    )


@pytest.mark.parametrize("size", ["1k", "10k"])
def test_match_end_to_end(benchmark, request, size: str) -> None:
    day = request.getfixturevalue(f"day_{size}")
    result = benchmark.pedantic(
        _match, args=(day,), rounds=3 if size == "1k" else 1, iterations=1, warmup_rounds=0
    )
    benchmark.extra_info["payments"] = day.payments.num_rows
    benchmark.extra_info["invoices"] = day.invoices.num_rows
    benchmark.extra_info["timings"] = {k: round(v, 4) for k, v in result.timings.items()}
    score = evaluate(truth=day.truth, allocations=result.allocations, exceptions=result.exceptions)
    benchmark.extra_info["auto_pct"] = score.overall.auto_pct
    benchmark.extra_info["wrong_auto_pct"] = score.overall.wrong_auto_pct


def test_normalise_invoice_keys(benchmark, day_10k: Day) -> None:
    from cashmatch.engine.normalize import invoice_keys

    keys = benchmark(invoice_keys, day_10k.invoices.column("invoice_id"))
    benchmark.extra_info["keys"] = keys.num_rows


def test_normalise_reference_tokens(benchmark, day_10k: Day) -> None:
    from cashmatch.engine.normalize import reference_tokens

    tokens = benchmark(reference_tokens, day_10k.payments.column("reference"))
    benchmark.extra_info["tokens"] = tokens.num_rows


def test_identify_payers(benchmark, day_10k: Day) -> None:
    from cashmatch.engine.identify import build_index, identify

    def run():  # noqa: ANN202
        index = build_index(invoices=day_10k.invoices, customers=day_10k.customers)
        return identify(payments=day_10k.payments, index=index, name_cutoff=88.0)

    ident = benchmark(run)
    benchmark.extra_info["identified_pct"] = float(100 * np.mean(ident.customer >= 0))


def test_generate_day_10k(benchmark) -> None:
    day = benchmark.pedantic(generate_day, kwargs={"payments": 10_000, "seed": 2}, rounds=3)
    benchmark.extra_info["invoices"] = day.invoices.num_rows


def test_evaluate_10k(benchmark, day_10k: Day) -> None:
    result = _match(day_10k)
    score = benchmark(
        evaluate, truth=day_10k.truth, allocations=result.allocations, exceptions=result.exceptions
    )
    benchmark.extra_info["payments"] = score.overall.payments
