"""Golden files for the parser fixtures: ``<fixture>.golden.json`` beside each sample file.

Set ``CASHMATCH_UPDATE_GOLDEN=1`` to rewrite them after a deliberate change; review the diff.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pyarrow as pa

from cashmatch.parsers import ParseResult

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures" / "parsers"
UPDATE = os.environ.get("CASHMATCH_UPDATE_GOLDEN") == "1"

#: fixture folder -> the format sniffing must find
FOLDER_FORMAT = {
    "mt940": "mt940",
    "camt": "camt",
    "ofx": "ofx",
    "bai2": "bai2",
    "bank_csv": "bank-csv",
    "x12_820": "x12-820",
}


def sample_files() -> list[Path]:
    return sorted(
        p
        for p in FIXTURES.glob("*/*")
        if p.is_file() and not p.name.endswith(".golden.json") and not p.name.startswith(".")
    )


def _rows(table: pa.Table) -> list[dict]:
    out = []
    for row in table.to_pylist():
        out.append({k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in row.items()})
    return out


def to_golden(result: ParseResult) -> dict:
    return {
        "format": result.format,
        "payments": _rows(result.payments),
        "remittances": _rows(result.remittances),
        "statements": _rows(result.statements),
        "problems": [str(p) for p in result.problems],
    }


def golden_path(sample: Path) -> Path:
    return sample.with_name(sample.name + ".golden.json")


def check(sample: Path, result: ParseResult) -> None:
    got = to_golden(result)
    path = golden_path(sample)
    if UPDATE or not path.exists():
        path.write_text(
            json.dumps(got, indent=1, ensure_ascii=False, sort_keys=False) + "\n", encoding="utf-8"
        )
        if not UPDATE:
            raise AssertionError(f"{path} did not exist; written now, review it and re-run")
    want = json.loads(path.read_text(encoding="utf-8"))
    assert got == want
