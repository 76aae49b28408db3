"""``python -m cashmatch.server [serve] ...``: the same as ``cashmatch serve ...``."""

from __future__ import annotations

import argparse
import sys

from cashmatch.commands import serve


def main(argv: list[str] | None = None) -> int:
    from cashmatch.engine.errors import CashmatchError

    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["serve"]:
        argv = argv[1:]
    parser = argparse.ArgumentParser(prog="python -m cashmatch.server")
    sub = parser.add_subparsers(dest="command")
    serve.register(sub)
    args = parser.parse_args(["serve", *argv])
    try:
        return int(args.func(args) or 0)
    except CashmatchError as exc:
        print(f"cashmatch serve: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
