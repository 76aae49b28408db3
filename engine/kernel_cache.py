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

The cache's writes are made safe for processes that compile at the same time
(:func:`lock_cache_writes`, done as this module is imported: every kernel module takes its
``njit`` from here). numba picks a new entry's data file name from the index it read, so two
processes that compile the same changed function together can both pick ``.1.nbc``: one
signature's code is then loaded for the other's — wrong answers, not an error (numba issues
#4807, #10128). Two workers started together on a fresh install, or a test run beside a
benchmark, are enough.
"""

from __future__ import annotations

import fcntl
import functools
import importlib
import os
import threading

from numba import njit
from numba.core import caching
from numba.core.registry import CPUDispatcher

__all__ = ["njit", "load_cached_kernels", "load_in_background", "lock_cache_writes"]

#: the lock file, one per cache directory, held while an entry is written
LOCK_NAME = "cashmatch-cache.lock"


def lock_cache_writes() -> None:
    """Make each write of an entry to numba's cache (read the index, pick the data file's
    name, write both) one step for every process: under an exclusive ``flock`` of the cache
    directory's lock file. Reads take no lock (data files are written whole and renamed
    into place). Idempotent."""
    save = caching.IndexDataCacheFile.save
    if getattr(save, "locked", False):
        return

    @functools.wraps(save)
    def locked_save(self: caching.IndexDataCacheFile, key: object, data: object) -> None:
        with open(os.path.join(self._cache_path, LOCK_NAME), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # (let go as the file closes)
            save(self, key, data)

    locked_save.locked = True
    caching.IndexDataCacheFile.save = locked_save


lock_cache_writes()

#: the modules of compiled passes a match calls into, in about the order it first calls them
MATCH_KERNEL_MODULES = (
    "ledger_kernel",
    "text_kernel",
    "ids_kernel",
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
