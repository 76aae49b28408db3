"""A small labelled history written as interchange files, and a runner for ``cashmatch ar``."""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import pytest

from cashmatch.commands import ar
from cashmatch.fixtures.history import History, generate_history, write_history


def load_reference():  # noqa: ANN201
    """The slow reference of ``tests/engine`` (loaded by path: test folders are not one package)."""
    path = Path(__file__).resolve().parents[1] / "engine" / "receivables_reference.py"
    spec = importlib.util.spec_from_file_location("receivables_reference", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_ar(argv: list[str]) -> int:
    """``cashmatch ar ARGV`` through the command module (the same parser the CLI builds)."""
    parser = argparse.ArgumentParser(prog="cashmatch")
    ar.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["ar", *argv])
    return args.func(args)


def ar_args(files: dict[str, Path], out: Path, as_of: str, *extra: str) -> list[str]:
    args = []
    for name in ("invoices", "payments", "allocations", "adjustments", "promises", "customers"):
        if name in files:
            args += [f"--{name}", str(files[name])]
    return [*args, "--as-of", as_of, "--out", str(out), *extra]


@pytest.fixture(scope="session")
def small_history(tmp_path_factory: pytest.TempPathFactory) -> tuple[History, dict[str, Path]]:
    h = generate_history(n_customers=60, n_invoices=2400, seed=11)
    files = write_history(h, tmp_path_factory.mktemp("history"))
    return h, files
