"""One error hierarchy for the whole product.

Every error knows the gRPC status code it maps to (as a name, so this module does not import
grpc). Row-level problems in input files are *data* (:class:`RowProblem`), collected and
reported; they never abort a file.
"""

from __future__ import annotations

from dataclasses import dataclass


class CashmatchError(Exception):
    """Base of every error cashmatch raises on purpose."""

    grpc_code: str = "INTERNAL"


class InvalidInput(CashmatchError):
    """The caller's input is malformed (a file, a field, a policy value)."""

    grpc_code = "INVALID_ARGUMENT"


class PolicyError(InvalidInput):
    """A policy file or message holds a value outside its allowed range."""


class NotFound(CashmatchError):
    grpc_code = "NOT_FOUND"


class AlreadyExists(CashmatchError):
    grpc_code = "ALREADY_EXISTS"


class FailedPrecondition(CashmatchError):
    """The object is not in a state that allows the operation (e.g. exception already resolved)."""

    grpc_code = "FAILED_PRECONDITION"


class Unauthenticated(CashmatchError):
    grpc_code = "UNAUTHENTICATED"


class PermissionDenied(CashmatchError):
    grpc_code = "PERMISSION_DENIED"


class ResourceExhausted(CashmatchError):
    grpc_code = "RESOURCE_EXHAUSTED"


class InvariantViolation(CashmatchError):
    """The engine produced a result that breaks cash conservation: a bug, never the caller's."""

    grpc_code = "INTERNAL"


@dataclass(frozen=True, slots=True)
class RowProblem:
    """One row of an input that could not be read; the other rows go on."""

    source: str
    line: int | None
    column: str | None
    reason: str

    def __str__(self) -> str:
        where = self.source
        if self.line is not None:
            where += f":{self.line}"
        if self.column:
            where += f" [{self.column}]"
        return f"{where}: {self.reason}"
