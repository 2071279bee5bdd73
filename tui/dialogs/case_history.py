"""One case's history on main (`straw log CASE`), read in a worker and shown as a text view:
the Cases screen opens it for the selected case, the History screen for one picked from a list."""

from __future__ import annotations

from textual.screen import Screen

from repo_store import curation, history
from repo_store.errors import NoSuchCase
from tui.dialogs.text_view import TextView


def open_case_history(screen: Screen, case_id: str) -> None:
    app = screen.app

    def read() -> None:
        with app.library() as repo:  # type: ignore[attr-defined]
            events = history.case_log(repo, case_id)
            if not events:
                try:
                    curation.get_case(repo, case_id)
                except NoSuchCase:
                    app.call_from_thread(app.notify, f"no such case: {case_id}", title="case log",
                                         severity="error")
                    return
        lines = [f"{e.date[:19]} {e.commit[:8]} {e.where:<8} {e.author}: {e.subject}" for e in events]
        body = "\n".join(lines) or "no commits on main touch this case yet"
        app.call_from_thread(app.push_screen, TextView(f"History of case {case_id}", body))

    screen.run_worker(read, thread=True, exclusive=True, exit_on_error=False, group="case-history",
                      name=f"case history {case_id}")
