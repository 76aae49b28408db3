"""A real cashmatch server in a subprocess on an ephemeral loopback port, and sample data."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc

from cashmatch.server.pb import cash_application_pb2 as pb
from cashmatch.server.pb import cash_application_pb2_grpc as pb_grpc

TOKEN = "test-token-write-0001"
READ_TOKEN = "test-token-read-0001"
CRM_TOKEN = "test-token-crm-0001"


def write_tokens(path: Path) -> Path:
    path.write_text(
        f"# test tokens\n{TOKEN} tester write\n{READ_TOKEN} auditor read\n"
        f"{CRM_TOKEN} crm receivables\n"
    )
    return path


class ServerProcess:
    def __init__(self, db: Path, token_file: Path, *extra: str) -> None:
        self.db, self.token_file, self.extra = db, token_file, extra
        self.proc: subprocess.Popen | None = None
        self.port = 0

    def start(self, timeout: float = 60.0) -> ServerProcess:
        env = {k: v for k, v in os.environ.items() if k != "CASHMATCH_TOKEN"}
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cashmatch.server",
                "--addr",
                "127.0.0.1:0",
                "--db",
                str(self.db),
                "--token-file",
                str(self.token_file),
                *self.extra,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        deadline = time.monotonic() + timeout
        buf = b""
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.5)
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 4096)
                if not chunk:
                    break
                buf += chunk
                m = re.search(rb"serving on [^:]+:(\d+)", buf)
                if m:
                    self.port = int(m.group(1))
                    return self
            if self.proc.poll() is not None:
                break
        err = self.proc.stderr.read().decode() if self.proc.poll() is not None else ""
        self.kill()
        raise RuntimeError(f"server did not start: {buf!r} {err}")

    def wait_stderr(self, pattern: bytes, timeout: float = 60.0) -> bytes:
        """Read the server's log until ``pattern`` appears (start it with ``-v``)."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        buf = b""
        while time.monotonic() < deadline and pattern not in buf:
            ready, _, _ = select.select([self.proc.stderr], [], [], 0.2)
            if ready:
                chunk = os.read(self.proc.stderr.fileno(), 65536)
                if not chunk:
                    break
                buf += chunk
        if pattern not in buf:
            raise AssertionError(f"server never logged {pattern!r}: {buf[-2000:]!r}")
        return buf

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stub(self, max_mb: int = 64) -> pb_grpc.CashApplicationStub:
        limit = max_mb * 1024 * 1024
        options = [
            ("grpc.max_receive_message_length", limit),
            ("grpc.max_send_message_length", limit),
        ]
        return pb_grpc.CashApplicationStub(grpc.insecure_channel(self.addr, options=options))

    def terminate(self, timeout: float = 60.0) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout)
        self._close()
        return rc

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(30)
        self._close()

    def _close(self) -> None:
        if self.proc:
            for pipe in (self.proc.stdout, self.proc.stderr):
                if pipe:
                    pipe.close()


AUTH = (("authorization", f"Bearer {TOKEN}"),)
READ_AUTH = (("authorization", f"Bearer {READ_TOKEN}"),)
CRM_AUTH = (("authorization", f"Bearer {CRM_TOKEN}"),)

INVOICES = [
    pb.Invoice(
        invoice_id="INV-1001",
        customer_id="C-ACME",
        customer_name="Acme GmbH",
        amount="1200.00",
        currency="EUR",
        due_date="2026-02-01",
    ),
    pb.Invoice(
        invoice_id="INV-1002",
        customer_id="C-ACME",
        customer_name="Acme GmbH",
        amount="300.00",
        currency="EUR",
    ),
    pb.Invoice(
        invoice_id="INV-2001",
        customer_id="C-BETA",
        customer_name="Beta Ltd",
        amount="99.99",
        currency="GBP",
    ),
    pb.Invoice(
        invoice_id="INV-3001",
        customer_id="C-JP",
        customer_name="Nihon KK",
        amount="180318",
        currency="JPY",
    ),
]
CUSTOMERS = [
    pb.Customer(customer_id="C-ACME", name="Acme GmbH", accounts=["DE89370400440532013000"]),
    pb.Customer(customer_id="C-BETA", name="Beta Ltd", aliases=["BETA LIMITED"]),
]


def statement_csv(rows: list[tuple[str, ...]]) -> bytes:
    head = "payment_id,value_date,amount,currency,payer_name,payer_account,reference\n"
    return (head + "".join(",".join(r) + "\n" for r in rows)).encode()


def big_statement(n: int, *, prefix: str = "P", seed: int = 0) -> bytes:
    lines = ["payment_id,value_date,amount,currency,payer_name,payer_account,reference"]
    for i in range(n):
        lines.append(
            f"{prefix}{seed:03d}-{i:06d},2026-01-{1 + i % 28:02d},"
            f"{10 + (i * 37) % 5000}.{i % 100:02d},EUR,Payer {i % 997},DE{i % 997:020d},"
            f"INV-{i:06d}"
        )
    return ("\n".join(lines) + "\n").encode()
