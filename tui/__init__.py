"""straw's terminal UI (Textual). It calls the public functions of `repo_store` (and `tuning` for
tune/eval, in thread workers) and nothing lower: no git, no torch, no file formats here."""

from tui.app import StrawApp, make_app

__all__ = ["StrawApp", "make_app"]
