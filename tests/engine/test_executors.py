"""The Ray executor gives byte-identical outputs to the in-process one (a real local Ray)."""

import pytest

from cashmatch.engine import interchange as io
from cashmatch.engine.executors import Executor, LocalExecutor, RayExecutor
from cashmatch.engine.matcher import match

from .daybuilder import payments
from .test_matcher import CUSTOMERS, INVOICES

PAYMENTS = payments([
    ("P1", 100000, "ACME INDUSTRIES", "INV-2026-004512"),
    ("P2", 80000, "GLOBEX", "4600 4601"),
    ("P3", 99900, "NOBODY", "90012346"),
    ("P4", 7000, "ACME INDUSTRIES INC", ""),
    ("P5", 5, "NOBODY", ""),
    ("P6", 20000, "GLBX", "INV 4602"),
])


@pytest.fixture(scope="module")
def ray_executor():
    ex = RayExecutor(num_cpus=2)
    yield ex
    ex.close()


def _files(result, tmp_path, name):
    io.write_allocations(result.allocations, tmp_path / f"{name}-a.csv")
    io.write_exceptions(result.exceptions, tmp_path / f"{name}-e.csv")
    return (tmp_path / f"{name}-a.csv").read_bytes(), (tmp_path / f"{name}-e.csv").read_bytes()


def test_ray_and_local_outputs_are_byte_identical(ray_executor, tmp_path):
    assert isinstance(ray_executor, Executor)
    local = match(invoices=INVOICES, payments=PAYMENTS, customers=CUSTOMERS,
                  executor=LocalExecutor(), partitions=3)
    remote = match(invoices=INVOICES, payments=PAYMENTS, customers=CUSTOMERS,
                   executor=ray_executor, partitions=3)
    assert _files(local, tmp_path, "local") == _files(remote, tmp_path, "ray")
    assert local.summary.auto_applied >= 4
