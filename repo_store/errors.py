"""The project's own exceptions. Every failure a user can cause is one of these, with a one-line
message that names the file, field or branch; the faces print it and choose the exit code."""

from __future__ import annotations

from dataclasses import dataclass


class StrawError(Exception):
    """A failure the user can act on. `exit_code` follows the CLI contract: 1 = the data is wrong
    (validation, gate refused), 2 = the request is wrong (usage, no such batch, no repository)."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(StrawError):
    exit_code = 2


class NotARepository(UsageError):
    pass


class NoSuchBatch(UsageError):
    pass


class NoSuchCase(UsageError):
    pass


class GitError(StrawError):
    pass


@dataclass(frozen=True)
class Issue:
    """One fault in one file: `cases/pending/x.json::$.expected: 'x' is not of type 'array'`."""

    path: str
    pointer: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}::{self.pointer}: {self.message}"


class ValidationFailed(StrawError):
    """Data failed its schema or a cross-case check. Leads with the first issue, counts the rest."""

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = issues
        first = str(issues[0]) if issues else "validation failed"
        more = len(issues) - 1
        suffix = f" ({more} other error{'s' if more != 1 else ''})" if more else ""
        super().__init__(first + suffix)
