from __future__ import annotations

from pathlib import Path

import pytest

from cashmatch.server.service import LedgerService
from cashmatch.server.store import SQLiteStore


@pytest.fixture
def store(tmp_path: Path):
    s = SQLiteStore(tmp_path / "ledger.db")
    yield s
    s.close()


@pytest.fixture
def service(store: SQLiteStore) -> LedgerService:
    return LedgerService(store)
