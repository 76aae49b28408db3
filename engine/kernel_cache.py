"""The compiled passes a large match takes, loaded from numba's cache ahead of their first call.

Each compiled pass (``@njit(cache=True)``) is loaded from numba's on-disk cache at its first
call: at a million payments ~0.3-0.45 s in all, spread over the ledger's and the match's
stages, each on the critical path where it falls. :func:`load_in_background` loads them on a
thread of their own as a large match starts, beside the reading of its files (Arrow's parsing,
which leaves the interpreter free); a pass called before its turn comes is loaded by its caller
as before (numba's compiler lock: never twice).

What is loaded is what the cache holds for the code as it is, on this machine: every signature
a pass was called with before (by the kernels' own callers, the same argument types), the
public passes of the modules a match calls into. Nothing here decides anything: a pass is the
same loaded early or late.
"""

from __future__ import annotations

import importlib
import threading

from numba.core.registry import CPUDispatcher

#: the modules of compiled passes a match calls into, in about the order it first calls them
MATCH_KERNEL_MODULES = (
    "ledger_kernel",
    "text_kernel",
    "candidates_kernel",
    "scoring_kernel",
    "allocate_kernel",
    "subset_kernel",
    "review_kernel",
    "output_kernel",
)


def cached_signatures(kernel: CPUDispatcher) -> list[tuple]:
    """The argument types ``kernel`` has compiled code for in numba's cache, for its code as it
    is and this machine (the cache's index, read as numba reads it; stale entries left out)."""
    cache = kernel._cache
    index_file = getattr(cache, "_cache_file", None)
    if index_file is None:  # (no cache: cache=False)
        return []
    codegen = kernel.targetctx.codegen()
    return [
        key[0]
        for key in index_file._load_index()
        if key[1:] == cache._index_key(key[0], codegen)[1:]
    ]


def public_kernels(module_name: str) -> list[CPUDispatcher]:
    """The compiled passes ``cashmatch.engine.<module_name>`` defines whose name has no leading
    underscore (the inner ones come compiled into their callers' code)."""
    module = importlib.import_module(f"cashmatch.engine.{module_name}")
    return [
        obj
        for name, obj in vars(module).items()
        if isinstance(obj, CPUDispatcher)
        and obj.py_func.__module__ == module.__name__
        and not name.startswith("_")
    ]


def load_cached_kernels(modules: tuple[str, ...] = MATCH_KERNEL_MODULES) -> int:
    """Load every cached signature of the public passes of ``modules`` not loaded yet; returns
    how many were loaded. (An entry whose data file went missing is compiled, as its first call
    would have compiled it.)"""
    loaded = 0
    for module_name in modules:
        for kernel in public_kernels(module_name):
            for sig in cached_signatures(kernel):
                if tuple(sig) not in kernel.overloads:
                    kernel.compile(sig)
                    loaded += 1
    return loaded


def load_in_background(modules: tuple[str, ...] = MATCH_KERNEL_MODULES) -> threading.Thread:
    """:func:`load_cached_kernels` on a daemon thread (nobody waits for it), started."""
    thread = threading.Thread(
        target=load_cached_kernels, args=(modules,), name="load-kernels", daemon=True
    )
    thread.start()
    return thread
