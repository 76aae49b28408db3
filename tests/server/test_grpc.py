"""The real server in a subprocess on an ephemeral loopback port, over a real channel."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from server_harness import (
    AUTH,
    CUSTOMERS,
    INVOICES,
    READ_AUTH,
    ServerProcess,
    statement_csv,
    write_tokens,
)

from cashmatch.server.pb import cash_application_pb2 as pb
from cashmatch.server.pb import cash_application_pb2_grpc as pb_grpc


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    d = tmp_path_factory.mktemp("srv")
    srv = ServerProcess(d / "ledger.db", write_tokens(d / "tokens"), "--max-message-mb", "2")
    srv.start()
    yield srv
    srv.kill()


@pytest.fixture(scope="module")
def stub(server: ServerProcess) -> pb_grpc.CashApplicationStub:
    stub = server.stub()
    stub.UpsertInvoices(
        iter(
            [
                pb.UpsertInvoicesRequest(invoices=INVOICES[:2]),
                pb.UpsertInvoicesRequest(invoices=INVOICES[2:]),
            ]
        ),
        metadata=AUTH,
    )
    stub.UpsertCustomers(iter([pb.UpsertCustomersRequest(customers=CUSTOMERS)]), metadata=AUTH)
    return stub


def _code(fn, *args, **kw) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as err:
        fn(*args, **kw)
    return err.value.code(), err.value.details()


def test_health_needs_no_token(server: ServerProcess) -> None:
    h = health_pb2_grpc.HealthStub(grpc.insecure_channel(server.addr))
    for name in ("", "cashmatch.v1.CashApplication"):
        resp = h.Check(health_pb2.HealthCheckRequest(service=name))
        assert resp.status == health_pb2.HealthCheckResponse.SERVING


@pytest.mark.parametrize("service", ["grpc.reflection.v1alpha", "grpc.reflection.v1"])
def test_reflection_lists_the_service(server: ServerProcess, service: str) -> None:
    ch = grpc.insecure_channel(server.addr)
    method = f"/{service}.ServerReflection/ServerReflectionInfo"
    call = ch.stream_stream(
        method,
        request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
        response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
    )
    req = reflection_pb2.ServerReflectionRequest(list_services="")
    names = {
        s.name for r in call(iter([req]), metadata=AUTH) for s in r.list_services_response.service
    }
    assert "cashmatch.v1.CashApplication" in names
    code, _ = _code(lambda: list(call(iter([req]))))
    assert code == grpc.StatusCode.UNAUTHENTICATED
    # and the file descriptor, so a client in any language needs no generated code
    stub = reflection_pb2_grpc.ServerReflectionStub(ch)
    fd = next(
        iter(
            stub.ServerReflectionInfo(
                iter(
                    [
                        reflection_pb2.ServerReflectionRequest(
                            file_containing_symbol="cashmatch.v1.CashApplication"
                        )
                    ]
                ),
                metadata=AUTH,
            )
        )
    )
    assert fd.file_descriptor_response.file_descriptor_proto


def test_auth(stub: pb_grpc.CashApplicationStub) -> None:
    req = pb.ListExceptionsRequest()
    assert _code(stub.ListExceptions, req)[0] == grpc.StatusCode.UNAUTHENTICATED
    bad = (("authorization", "Bearer nope-nope-nope"),)
    assert _code(stub.ListExceptions, req, metadata=bad)[0] == grpc.StatusCode.UNAUTHENTICATED
    basic = (("authorization", "Basic dXNlcjpwYXNz"),)
    assert _code(stub.ListExceptions, req, metadata=basic)[0] == grpc.StatusCode.UNAUTHENTICATED
    # a read-only token reads but cannot write
    stub.ListExceptions(req, metadata=READ_AUTH)
    code, msg = _code(
        stub.SubmitStatement, pb.SubmitStatementRequest(content=b"x"), metadata=READ_AUTH
    )
    assert code == grpc.StatusCode.PERMISSION_DENIED and "auditor" in msg


def test_malformed_input_is_invalid_argument_naming_the_field(
    stub: pb_grpc.CashApplicationStub,
) -> None:
    ok = pb.Payment(payment_id="M1", value_date="2026-01-01", amount="1.00", currency="EUR")
    bad = pb.Payment(payment_id="M2", value_date="2026-01-01", amount="1,00", currency="EUR")
    code, msg = _code(stub.Match, pb.MatchRequest(payments=[ok, bad]), metadata=AUTH)
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "payments[1].amount" in msg
    bad_date = pb.Payment(payment_id="M3", value_date="01/02/2026", amount="1", currency="EUR")
    code, msg = _code(stub.Match, pb.MatchRequest(payments=[bad_date]), metadata=AUTH)
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "payments[0].value_date" in msg
    code, msg = _code(
        stub.Match,
        pb.MatchRequest(payments=[ok], policy=pb.Policy(auto_apply_threshold=7)),
        metadata=AUTH,
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "auto_apply_threshold" in msg
    code, msg = _code(
        stub.SubmitStatement,
        pb.SubmitStatementRequest(
            content=statement_csv([("X1", "2026-01-01", "abc", "EUR", "", "", "")]),
            filename="bank.csv",
        ),
        metadata=AUTH,
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "bank.csv:2 [amount]" in msg
    code, msg = _code(
        stub.SubmitStatement,
        pb.SubmitStatementRequest(content=b"\x00\x01garbage", filename="bin.dat"),
        metadata=AUTH,
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "bin.dat" in msg
    code, msg = _code(
        stub.ResolveException,
        pb.ResolveExceptionRequest(payment_id="nope", reviewer="ann"),
        metadata=AUTH,
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "action" in msg
    code, _ = _code(stub.GetPayment, pb.GetPaymentRequest(payment_id="nope"), metadata=AUTH)
    assert code == grpc.StatusCode.NOT_FOUND


def test_oversized_message_is_resource_exhausted(stub: pb_grpc.CashApplicationStub) -> None:
    content = statement_csv([("Z", "2026-01-01", "1.00", "EUR", "", "", "x" * 100)]) * 30_000
    assert len(content) > 2 * 1024 * 1024
    code, _ = _code(stub.SubmitStatement, pb.SubmitStatementRequest(content=content), metadata=AUTH)
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_match_is_stateless(stub: pb_grpc.CashApplicationStub) -> None:
    req = pb.MatchRequest(
        invoices=INVOICES,
        payments=[
            pb.Payment(
                payment_id="S1",
                value_date="2026-01-03",
                amount="1200.00",
                currency="EUR",
                reference="INV-1001",
            )
        ],
    )
    resp = stub.Match(req, metadata=AUTH)
    assert resp.summary.payments == 1
    applied = sum(float(a.applied_amount) for a in resp.allocations)
    unapplied = sum(float(e.unapplied_amount) for e in resp.exceptions)
    assert applied + unapplied == 1200.0
    code, _ = _code(stub.GetPayment, pb.GetPaymentRequest(payment_id="S1"), metadata=AUTH)
    assert code == grpc.StatusCode.NOT_FOUND  # nothing stored
    resp = stub.Match(pb.MatchRequest(payments=req.payments, use_ledger=True), metadata=AUTH)
    assert resp.summary.payments == 1


def test_match_reads_and_writes_the_wire_format(server: ServerProcess,
                                                stub: pb_grpc.CashApplicationStub) -> None:
    """Match's handler passes the bytes received to the servicer and sends those it returns:
    a client reading them raw gets a MatchResponse's bytes; bytes that are no MatchRequest are
    the caller's mistake (INVALID_ARGUMENT)."""
    req = pb.MatchRequest(payments=[pb.Payment(payment_id="W1", value_date="2026-01-03",
                                               amount="1200.00", currency="EUR",
                                               reference="INV-1001")], use_ledger=True)  # fmt: skip
    raw = grpc.insecure_channel(server.addr).unary_unary(
        "/cashmatch.v1.CashApplication/Match",
        request_serializer=bytes, response_deserializer=bytes, _registered_method=True)  # fmt: skip
    sent = raw(req.SerializeToString(), metadata=AUTH)
    assert pb.MatchResponse.FromString(sent) == stub.Match(req, metadata=AUTH)
    code, _ = _code(raw, b"\xff\xff\xff", metadata=AUTH)
    assert code == grpc.StatusCode.INVALID_ARGUMENT


def test_reviewer_flow_end_to_end(stub: pb_grpc.CashApplicationStub) -> None:
    content = statement_csv(
        [
            (
                "E2E-1",
                "2026-01-10",
                "1450.00",
                "EUR",
                "A C M E HOLDING MUENCHEN",
                "NL91ABNA0417164300",
                "PAYMENT JANUARY",
            ),
            ("E2E-2", "2026-01-11", "99.99", "GBP", "BETA LIMITED", "", "INV-2001"),
        ]
    )
    req = pb.SubmitStatementRequest(content=content, filename="day1.csv", idempotency_key="d1")
    first = stub.SubmitStatement(req, metadata=AUTH)
    assert not first.duplicate and len(first.payments) == 2
    again = stub.SubmitStatement(req, metadata=AUTH)
    assert again.duplicate and again.statement_id == first.statement_id
    assert list(again.payments) == list(first.payments)
    req.summary_only = True
    brief = stub.SubmitStatement(req, metadata=AUTH)
    assert brief.duplicate and brief.summary == first.summary and not brief.payments

    queue = stub.ListExceptions(
        pb.ListExceptionsRequest(page_size=100, currency="EUR"), metadata=AUTH
    )
    item = next(e for e in queue.exceptions if e.payment_id == "E2E-1")
    assert item.unapplied_amount == "1450.00" and item.payer_name == "A C M E HOLDING MUENCHEN"

    decision = pb.ResolveExceptionRequest(
        payment_id="E2E-1",
        action=pb.ResolveExceptionRequest.APPLY,
        allocations=[
            pb.AllocationInput(invoice_id="INV-1001", applied_amount="1200.00"),
            pb.AllocationInput(invoice_id="INV-1002", applied_amount="250.00"),
        ],
        reviewer="ann",
        note="two invoices in one",
        remember=True,
    )
    resp = stub.ResolveException(decision, metadata=AUTH)
    assert resp.payment.status == "APPLIED" and resp.payment.unapplied_amount == "0.00"
    assert {a.invoice_id: a.applied_amount for a in resp.payment.allocations} == {
        "INV-1001": "1200.00",
        "INV-1002": "250.00",
    }

    detail = stub.GetPayment(pb.GetPaymentRequest(payment_id="E2E-1"), metadata=AUTH)
    assert detail.exception.status == "resolved" and detail.exception.resolved_by == "ann"
    actions = [(a.action, a.actor) for a in detail.audit]
    assert ("RESOLVE_APPLY", "ann") in actions and actions[0][0] == "RECEIVED"
    assert json.loads(detail.audit[-1].detail_json)["note"] == "two invoices in one"

    # the second reviewer: FAILED_PRECONDITION saying who and when
    with pytest.raises(grpc.RpcError) as err:
        stub.ResolveException(decision, metadata=AUTH)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "ann" in err.value.details()
    trailers = dict(err.value.trailing_metadata())
    assert (
        trailers["resolved-by"] == "ann" and trailers["resolved-at"] == detail.exception.resolved_at
    )
    queue = stub.ListExceptions(pb.ListExceptionsRequest(page_size=100), metadata=AUTH)
    assert "E2E-1" not in {e.payment_id for e in queue.exceptions}

    # the engine remembers: the next payment from that payer is identified and applied
    nxt = stub.SubmitStatement(
        pb.SubmitStatementRequest(
            content=statement_csv(
                [
                    (
                        "E2E-3",
                        "2026-02-10",
                        "50.00",
                        "EUR",
                        "A C M E HOLDING MUENCHEN",
                        "NL91ABNA0417164300",
                        "PAYMENT FEBRUARY",
                    )
                ]
            ),
            filename="day2.csv",
        ),
        metadata=AUTH,
    )
    assert [p.status for p in nxt.payments] == ["APPLIED"]
    assert [(a.invoice_id, a.applied_amount) for a in nxt.allocations] == [("INV-1002", "50.00")]


def test_tls(tmp_path: Path) -> None:
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    srv = ServerProcess(
        tmp_path / "t.db",
        write_tokens(tmp_path / "tok"),
        "--tls-cert",
        str(cert),
        "--tls-key",
        str(key),
    ).start()
    try:
        creds = grpc.ssl_channel_credentials(root_certificates=cert.read_bytes())
        ch = grpc.secure_channel(srv.addr, creds)
        resp = pb_grpc.CashApplicationStub(ch).ListExceptions(
            pb.ListExceptionsRequest(), metadata=AUTH
        )
        assert resp.total == 0
        plain = pb_grpc.CashApplicationStub(grpc.insecure_channel(srv.addr))
        code, _ = _code(plain.ListExceptions, pb.ListExceptionsRequest(), metadata=AUTH, timeout=5)
        assert code == grpc.StatusCode.UNAVAILABLE
    finally:
        srv.kill()


def test_sigterm_finishes_in_flight_and_refuses_new(tmp_path: Path) -> None:
    from server_harness import big_statement

    srv = ServerProcess(tmp_path / "g.db", write_tokens(tmp_path / "tok"), "-v").start()
    stub = srv.stub()
    stub.UpsertInvoices(iter([pb.UpsertInvoicesRequest(invoices=INVOICES)]), metadata=AUTH)
    future = stub.SubmitStatement.future(
        pb.SubmitStatementRequest(content=big_statement(20_000), filename="big.csv"),
        metadata=AUTH,
    )
    srv.wait_stderr(b"submit_statement 'big.csv'")  # the server is working on it
    srv.proc.send_signal(15)
    srv.wait_stderr(b"stopping: new calls are refused")
    code, _ = _code(stub.ListExceptions, pb.ListExceptionsRequest(), metadata=AUTH, timeout=5)
    # refused: grpc answers CANCELLED on a connection being drained, UNAVAILABLE on a new one
    assert code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED)
    resp = future.result(timeout=120)
    assert len(resp.payments) == 20_000
    rc = srv.proc.wait(60)
    srv._close()
    assert rc == 0
    code, _ = _code(stub.ListExceptions, pb.ListExceptionsRequest(), metadata=AUTH, timeout=5)
    assert code == grpc.StatusCode.UNAVAILABLE
    # and what was acknowledged is on disk
    srv2 = ServerProcess(tmp_path / "g.db", write_tokens(tmp_path / "tok")).start()
    try:
        again = srv2.stub().SubmitStatement(
            pb.SubmitStatementRequest(content=big_statement(20_000)), metadata=AUTH
        )
        assert again.duplicate and again.statement_id == resp.statement_id
    finally:
        srv2.kill()


def test_one_server_per_database(server: ServerProcess) -> None:
    second = subprocess.run(
        [
            sys.executable,
            "-m",
            "cashmatch.server",
            "--addr",
            "127.0.0.1:0",
            "--db",
            str(server.db),
            "--token-file",
            str(server.token_file),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert second.returncode == 2
    assert "another cashmatch server is using this database" in second.stderr


@pytest.mark.parametrize("problem", ["missing", "not_pem"])
def test_unreadable_tls_files_are_a_clear_error(tmp_path: Path, problem: str) -> None:
    """A TLS file that is missing or is not PEM: exit 2 and one line naming the flag and the
    file, not a traceback."""
    cert = tmp_path / "cert.pem"
    if problem == "not_pem":
        cert.write_text("just some text\n")
    key = tmp_path / "key.pem"
    key.write_text("-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n")
    cmd = [sys.executable, "-m", "cashmatch.server", "--addr", "127.0.0.1:0", "--db",
           str(tmp_path / "t.db"), "--token-file", str(write_tokens(tmp_path / "tokens")),
           "--tls-cert", str(cert), "--tls-key", str(key)]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert f"--tls-cert {cert}" in out.stderr
    assert ("cannot read it" if problem == "missing" else "not a PEM file") in out.stderr
    assert "Traceback" not in out.stderr


def test_workers_that_cannot_start_stop_the_server(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "cashmatch.server", "--addr", "127.0.0.1:0", "--db",
           str(tmp_path / "w.db"), "--token-file", str(write_tokens(tmp_path / "tokens")),
           "--workers", "2", "--tls-cert", str(tmp_path / "tokens")]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert "TLS needs both --tls-cert and --tls-key" in out.stderr
    assert "did not start" in out.stderr


@pytest.mark.parametrize("workers", [1, 2])
def test_match_on_the_ledger_sees_each_upsert(tmp_path: Path, workers: int) -> None:
    """With several worker processes, every one of them sees each upsert (whichever did it):
    each Match goes out on 6 connections of their own, which the kernel deals out to them."""
    srv = ServerProcess(
        tmp_path / "ledger.db", write_tokens(tmp_path / "tokens"), "--workers", str(workers)
    ).start()
    try:
        stub = srv.stub()
        own = [("grpc.use_local_subchannel_pool", 1)]  # a TCP connection per channel
        channels = [grpc.insecure_channel(srv.addr, options=own) for _ in range(6)]

        def upsert(invoice_id: str, amount: str) -> None:
            inv = pb.Invoice(invoice_id=invoice_id, customer_id="C9", amount=amount, currency="EUR")
            stub.UpsertInvoices(iter([pb.UpsertInvoicesRequest(invoices=[inv])]), metadata=AUTH)

        def applied_to(reference: str, amount: str) -> list[tuple[str, str]]:
            pay = pb.Payment(payment_id=f"M-{reference}", value_date="2026-01-03",
                             amount=amount, currency="EUR", reference=reference)  # fmt: skip
            answers = {
                tuple(
                    (a.invoice_id, a.invoice_open_after)
                    for a in pb_grpc.CashApplicationStub(ch)
                    .Match(pb.MatchRequest(payments=[pay], use_ledger=True), metadata=AUTH)
                    .allocations
                )
                for ch in channels
            }
            assert len(answers) == 1, answers
            return list(answers.pop())

        upsert("INV-7001", "100.00")
        assert applied_to("INV-7001", "100.00") == [("INV-7001", "0.00")]
        upsert("INV-7002", "250.00")  # a new invoice, after the ledger was prepared and cached
        assert applied_to("INV-7002", "250.00") == [("INV-7002", "0.00")]
        upsert("INV-7002", "300.00")  # a new open amount for the same invoice
        assert applied_to("INV-7002", "250.00") == [("INV-7002", "50.00")]
        for ch in channels:
            ch.close()
    finally:
        assert srv.terminate() == 0
