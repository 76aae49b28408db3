"""The generated code in server/pb must match proto/cashmatch/v1 (regenerate to fix:
``python -m cashmatch.server.codegen``)."""

from __future__ import annotations

from pathlib import Path

from cashmatch.server import codegen

CHECKOUT = Path(__file__).resolve().parents[2]  # the source tree, whether or not installed


def test_generated_code_is_current(tmp_path: Path) -> None:
    fresh = {p.name: p for p in codegen.generate(tmp_path, proto_root=CHECKOUT / "proto")}
    pb_dir = CHECKOUT / "server" / "pb"
    committed = {p.name: p for p in pb_dir.iterdir() if p.suffix in (".py", ".pyi")}
    assert sorted(fresh) == sorted(committed), "generated file set differs: run codegen"
    for name, path in fresh.items():
        assert codegen.normalized(path.read_text()) == codegen.normalized(
            committed[name].read_text()
        ), f"server/pb/{name} is stale vs proto/: run python -m cashmatch.server.codegen"


def test_contract_names() -> None:
    from cashmatch.server.pb import cash_application_pb2 as pb

    service = pb.DESCRIPTOR.services_by_name["CashApplication"]
    assert pb.DESCRIPTOR.package == "cashmatch.v1"
    assert {m.name for m in service.methods} == {
        "Match",
        "UpsertInvoices",
        "UpsertCustomers",
        "SubmitStatement",
        "SubmitRemittance",
        "ListExceptions",
        "ResolveException",
        "GetPayment",
        "GetReceivables",
        "GetAccount",
        "RecordPromise",
    }
    # amounts are exact decimal strings, never floating point
    for msg in pb.DESCRIPTOR.message_types_by_name.values():
        for f in msg.fields:
            if "amount" in f.name or f.name.endswith("_open_after"):
                assert f.type == f.TYPE_STRING, f"{msg.name}.{f.name}"
