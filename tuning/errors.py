"""Engine failures, as repo_store StrawErrors so the faces print one line and exit."""

from __future__ import annotations

from typing import Any

from repo_store.errors import StrawError


class Cancelled(StrawError):
    """The user stopped the run (Ctrl-C, SIGTERM, the TUI's cancel). Nothing was written."""

    exit_code = 130


class BootstrapFailed(StrawError):
    """The first model fails baseline cases: not promoted. `stubborn` names them, each with its
    possible contradictions (tuning.stubborn)."""

    def __init__(self, message: str, stubborn: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.stubborn = stubborn


class ModelError(StrawError):
    """A model folder is missing or unreadable, or a model cannot represent a case."""
