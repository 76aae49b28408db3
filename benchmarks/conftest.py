"""pytest-benchmark suites: ``pytest benchmarks --benchmark-enable`` (not part of ``pytest``).

The suites live in ``bench_*.py``; this file makes pytest collect them and shares the
generated days (seeded, so every run measures the same inputs).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cashmatch.fixtures.generator import Day, generate_day


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Module | None:
    if file_path.suffix == ".py" and file_path.name.startswith("bench_"):
        return pytest.Module.from_parent(parent, path=file_path)
    return None


@pytest.fixture(scope="session")
def day_1k() -> Day:
    return generate_day(payments=1_000, seed=1)


@pytest.fixture(scope="session")
def day_10k() -> Day:
    return generate_day(payments=10_000, seed=1)
