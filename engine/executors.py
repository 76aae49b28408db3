"""One ``Executor`` protocol: run a pure function over independent partitions.

``LocalExecutor`` runs them in this process (the default, and what tests use); ``RayExecutor``
runs them as Ray tasks — no address starts a local Ray with this machine's cores, an address
joins a cluster. Arrow tables go through Ray's object store by reference. This is the only
module that knows about Ray.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar, runtime_checkable

T = TypeVar("T")
R = TypeVar("R")


@runtime_checkable
class Executor(Protocol):
    """Runs ``fn(shared, item)`` for every item; results in item order."""

    workers: int

    def map(self, fn: Callable[[Any, T], R], shared: Any, items: Sequence[T]) -> list[R]: ...

    def close(self) -> None: ...


class LocalExecutor:
    workers = 1

    def map(self, fn: Callable[[Any, T], R], shared: Any, items: Sequence[T]) -> list[R]:
        return [fn(shared, item) for item in items]

    def close(self) -> None:
        pass


class RayExecutor:
    """Ray tasks over partitions; ``shared`` is put in the object store once."""

    def __init__(self, *, address: str | None = None, num_cpus: int | None = None) -> None:
        import os

        import ray

        self._ray = ray
        self._started = False
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"address": address, "include_dashboard": False,
                                      "log_to_driver": False,
                                      "logging_level": "ERROR"}
            if address is None:
                kwargs["num_cpus"] = num_cpus or os.cpu_count() or 1
            ray.init(**kwargs)
            self._started = True
        self.workers = int(ray.cluster_resources().get("CPU", 1))

    def map(self, fn: Callable[[Any, T], R], shared: Any, items: Sequence[T]) -> list[R]:
        ray = self._ray
        remote = ray.remote(fn)
        ref = ray.put(shared)
        return ray.get([remote.remote(ref, item) for item in items])

    def close(self) -> None:
        if self._started:
            self._ray.shutdown()
            self._started = False


@contextmanager
def executor_from_args(args: argparse.Namespace) -> Iterator[Executor]:
    """The executor a command line asked for (``--executor``, ``--ray-address``)."""
    kind = getattr(args, "executor", "local")
    ex: Executor = (
        RayExecutor(address=getattr(args, "ray_address", None)) if kind == "ray"
        else LocalExecutor()
    )
    try:
        yield ex
    finally:
        ex.close()
