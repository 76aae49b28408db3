"""Regenerate the Python code of the gRPC contract (``proto/cashmatch/v1/*.proto``).

``python -m cashmatch.server.codegen`` writes ``server/pb/`` (kept in the repository);
``tests/server/test_proto_sync.py`` regenerates into a temporary folder and fails when the
committed code is stale. The generated modules import each other as ``cashmatch.v1``;
:func:`generate` rewrites that to ``cashmatch.server.pb`` so they live inside our package.
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "proto"
PB_DIR = Path(__file__).resolve().parent / "pb"
_IMPORT = re.compile(r"^from cashmatch\.v1 import ", re.MULTILINE)
# lines that carry the generator's version, not the contract
_VERSION_LINES = re.compile(
    r"^(# Protobuf Python Version:.*|GRPC_GENERATED_VERSION = .*|\s+\d+,\s*$)\n", re.MULTILINE
)


def proto_files(proto_root: Path = PROTO_ROOT) -> list[Path]:
    return sorted((proto_root / "cashmatch" / "v1").glob("*.proto"))


def generate(dest: Path, *, proto_root: Path = PROTO_ROOT) -> list[Path]:
    """Run protoc (grpcio-tools) on every .proto under ``proto_root`` (a source checkout's
    ``proto/``) into ``dest``; return the files written."""
    from grpc_tools import protoc

    with tempfile.TemporaryDirectory() as tmp:
        args = [
            "grpc_tools.protoc",
            f"-I{proto_root}",
            f"--python_out={tmp}",
            f"--pyi_out={tmp}",
            f"--grpc_python_out={tmp}",
            *[str(p) for p in proto_files(proto_root)],
        ]
        if protoc.main(args) != 0:
            raise RuntimeError("protoc failed: " + " ".join(args))
        dest.mkdir(parents=True, exist_ok=True)
        written = []
        for src in sorted((Path(tmp) / "cashmatch" / "v1").iterdir()):
            text = _IMPORT.sub("from cashmatch.server.pb import ", src.read_text())
            out = dest / src.name
            out.write_text(text)
            written.append(out)
        init = dest / "__init__.py"
        init.write_text('"""Generated from proto/cashmatch/v1 by cashmatch.server.codegen."""\n')
        written.append(init)
        return written


def normalized(text: str) -> str:
    """Generated text without the generator's version stamps."""
    return _VERSION_LINES.sub("", text)


if __name__ == "__main__":
    for path in generate(PB_DIR):
        print(path.relative_to(ROOT), file=sys.stderr)
