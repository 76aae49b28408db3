"""The ``cashmatch`` command line: a thin dispatcher over :mod:`cashmatch.commands`."""

from __future__ import annotations

import argparse
import atexit
import contextlib
import gc
import importlib
import os
import sys
import threading
from collections.abc import Sequence
from typing import NoReturn

from cashmatch import __version__

# subcommand modules under cashmatch.commands, in the order `--help` lists them
COMMANDS = (
    "match", "demo", "score", "generate", "parse", "ar", "serve", "submit", "exceptions",
    "resolve",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cashmatch", description="Cash application and bank reconciliation."
    )
    parser.add_argument("--version", action="version", version=f"cashmatch {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"cashmatch.commands.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from cashmatch.engine.errors import CashmatchError

    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CashmatchError as exc:
        print(f"cashmatch {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def script() -> None:
    """The ``cashmatch`` program: :func:`main`, then :func:`exit_now`."""
    exit_now(main())


def exit_now(code: int) -> NoReturn:
    """End the program as the interpreter would, less its teardown: the atexit handlers run
    and the output is flushed, and then the process ends (``os._exit``) without the
    interpreter freeing every object one by one (the engine's modules, numba's loaded
    kernels, the caches: CPU only for the process to end). While a thread that is no daemon
    still runs, the usual exit, which waits for it (with every object frozen out of the
    cyclic collector first: its last collections would otherwise walk them all)."""
    gc.freeze()
    if any(t.is_alive() and not t.daemon for t in threading.enumerate()
           if t is not threading.main_thread()):
        sys.exit(code)
    atexit._run_exitfuncs()  # (logging flushed, weakref finalizers, numba's shutdown)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # (a closed pipe: nothing more to say)
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    script()
