from __future__ import annotations

from pathlib import Path

import pytest

from cashmatch.engine.errors import InvalidInput
from cashmatch.server.auth import READ, RECEIVABLES, WRITE, TokenTable, bearer


def test_token_file_scopes_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "tokens"
    f.write_text(
        "# comment\n\nwrite-token-1\nread-token-12 audit read\nboth-token-1 ops read,write\n"
        "crm-token-123 crm receivables\n"
    )
    monkeypatch.setenv("CASHMATCH_TOKEN", "env-token-123")
    table = TokenTable.load(token_file=f)
    assert len(table) == 5
    assert table.lookup("write-token-1").scopes == {RECEIVABLES, READ, WRITE}
    reader = table.lookup("read-token-12")
    assert reader.name == "audit" and reader.scopes == {RECEIVABLES, READ}
    assert reader.allows("/cashmatch.v1.CashApplication/ListExceptions")
    assert not reader.allows("/cashmatch.v1.CashApplication/ResolveException")
    assert reader.allows("/cashmatch.v1.CashApplication/GetReceivables")
    assert reader.allows("/cashmatch.v1.CashApplication/GetAccount")
    assert not reader.allows("/cashmatch.v1.CashApplication/SubmitStatement")
    crm = table.lookup("crm-token-123")
    assert crm.scopes == {RECEIVABLES}
    assert crm.allows("/cashmatch.v1.CashApplication/GetReceivables")
    assert crm.allows("/cashmatch.v1.CashApplication/GetAccount")
    assert crm.allows("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo")
    for method in ("Match", "ListExceptions", "GetPayment", "RecordPromise", "SubmitStatement"):
        assert not crm.allows(f"/cashmatch.v1.CashApplication/{method}")
    assert table.lookup("env-token-123").name == "env"
    assert table.lookup("nope") is None


@pytest.mark.parametrize(
    "text, pattern",
    [
        ("tok-123456 name admin\n", "scopes"),
        ("short\n", "too short"),
        ("tok-123456 a read extra\n", "expected"),
    ],
)
def test_bad_token_files_name_the_line(
    tmp_path: Path, text: str, pattern: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CASHMATCH_TOKEN", raising=False)
    f = tmp_path / "tokens"
    f.write_text("# first\n" + text)
    with pytest.raises(InvalidInput, match=rf"tokens:2: .*{pattern}"):
        TokenTable.load(token_file=f)
    with pytest.raises(InvalidInput, match="cannot read"):
        TokenTable.load(token_file=tmp_path / "missing")


def test_bearer_header() -> None:
    assert bearer([("authorization", "Bearer abc")]) == "abc"
    assert bearer([("Authorization", "bearer  abc ")]) == "abc"
    assert bearer([("authorization", "Basic abc")]) is None
    assert bearer([("x", "y")]) is None
    assert bearer(None) is None
