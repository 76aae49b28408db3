"""Fixtures for the reviewers' page: a seeded ledger, the app live on a loopback port."""

from __future__ import annotations

import pytest
from web_harness import READ_TOKEN, TOKEN, Client, LiveApp
from web_seed import seed_small

from cashmatch.server.service import LedgerService
from cashmatch.server.store import SQLiteStore


@pytest.fixture
def service(tmp_path):
    store = SQLiteStore(tmp_path / "ledger.db")
    svc = LedgerService(store)
    seed_small(svc)
    yield svc
    store.close()


@pytest.fixture
def live(service):
    from cashmatch.server.auth import Principal, TokenTable

    table = TokenTable(
        [
            (TOKEN, Principal("tester", frozenset({"read", "write"}))),
            (READ_TOKEN, Principal("auditor", frozenset({"read"}))),
        ]
    )
    app = LiveApp(service, table).start()
    yield app
    app.stop()


@pytest.fixture
def client(live):
    return Client(live.port)
