"""Engine failures, as repo_store StrawErrors so the faces print one line and exit."""

from __future__ import annotations

from repo_store.errors import StrawError


class Cancelled(StrawError):
    """The user stopped the run (Ctrl-C, SIGTERM, the TUI's cancel). Nothing was written."""

    exit_code = 130


class ModelError(StrawError):
    """A model folder is missing or unreadable, or a model cannot represent a case."""
