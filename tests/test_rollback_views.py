"""A version whose models.lock commit records no score (a rollback that did not run its model:
`straw rollback --force` of a model not in the store, the TUI's `b`) on the Monitor screen and
the customer page: the monitor's latest score for that model when it measured one since, said
to be the monitor's; otherwise unknown, drawn as a gap, never as 0 %. One rule for both
(customer_report.version_score)."""

from __future__ import annotations

import re
import time
import uuid
from html.parser import HTMLParser

from report_helpers import MODEL, merge_by_rule, rule_report
from textual.widgets import DataTable, Static
from tui_helpers import plain, settle

from repo_store import batches, history, lockfile, monitor_log, reports
from repo_store.customer_report import render_html, render_markdown
from repo_store.ids import now_iso
from repo_store.repo import CaseRepo
from tui import make_app
from tui.widgets.charts import PassRateChart
from tuning.backends.base import Prediction
from tuning.report import build_report

OTHER_MODEL = "sha256:" + "cd" * 32
FAILING = 7


def rolled_back(repo: CaseRepo) -> None:
    """MODEL merged, OTHER_MODEL merged, then production rolled back to MODEL by hand: the
    rollback commit carries no score."""
    for model in (MODEL, OTHER_MODEL):
        batch = batches.create_batch(repo)
        reports.write_report(repo, batch.id, rule_report(repo, batch.id, model=model))
        merge_by_rule(repo, batch.id, model=model)
    lockfile.rollback_to(repo, lockfile.earlier_version(repo, MODEL).lock, "testing")
    assert "baseline" not in (lockfile.read_lock(repo) or {})


def monitor_ran(repo: CaseRepo, action: str = "alert") -> int:
    """One run of `straw monitor` on production recorded as tuning.monitor records it, with
    FAILING baseline cases failing; the baseline's size."""
    total = len(repo.load().split("baseline"))
    monitor_log.record(repo, {
        "run": uuid.uuid4().hex[:16], "time": now_iso(), "model": MODEL, "passed": total - FAILING,
        "total": total, "rate": round((total - FAILING) / total, 6), "threshold": 1.0,
        "failing": [], "action": action, "rolled_back_to": None, "source": "in-process",
        "served": None, "reason": None, "notes": []})
    return total


async def monitor_screen(pilot):  # noqa: ANN001, ANN201
    await settle(pilot)
    await pilot.press("5")
    await settle(pilot)
    return pilot.app.screen


def baseline_cells(screen) -> list[str]:  # noqa: ANN001
    table = screen.query_one("#versions-table", DataTable)
    return [str(getattr(c, "plain", c)) for c in table.get_column("baseline")]


async def test_the_monitor_screen_shows_the_monitors_score_for_a_rollback(demo_repo) -> None:
    rolled_back(demo_repo)
    total = monitor_ran(demo_repo)
    async with make_app(demo_repo.root).run_test(size=(120, 40)) as pilot:
        screen = await monitor_screen(pilot)
        cells = baseline_cells(screen)
        assert cells[0] == f"{total - FAILING}/{total}*"  # newest first: the rollback
        assert all(re.fullmatch(r"\d+/\d+", c) for c in cells[1:])  # recorded at their merges
        assert "measured by the monitor" in plain(screen.query_one("#versions-note", Static))
        chart = screen.query_one(PassRateChart)
        assert chart.y_limits[0] > 50  # the rollback is at its real rate, not at 0 %
        assert chart.y_labels[0] == f"{(total - FAILING) / total * 100:.2f}".rstrip("0").rstrip(".")
        assert "*" in chart.plt.build()  # the version's hash is marked as the monitor's figure


async def test_the_monitor_screen_shows_an_unmeasured_rollback_as_unknown(demo_repo) -> None:
    rolled_back(demo_repo)
    monitor_ran(demo_repo, action="unreachable")  # judged nothing: no score to show
    async with make_app(demo_repo.root).run_test(size=(120, 40)) as pilot:
        screen = await monitor_screen(pilot)
        assert baseline_cells(screen)[0] == "unknown"
        assert "unknown" in plain(screen.query_one("#versions-note", Static))
        chart = screen.query_one(PassRateChart)
        assert chart.y_limits[0] > 50  # a gap, not a 0
        assert "?" in chart.plt.build()


class Page(HTMLParser):
    """The history table's rows and the chart's marks."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.in_history = False
        self.cell: list[str] | None = None
        self.dots: list[dict[str, str | None]] = []
        self.unknown = 0
        self.title = ""
        self.in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table":
            self.in_history = a.get("id") == "history"
        elif tag == "tr" and self.in_history:
            self.rows.append([])
        elif tag == "td" and self.in_history:
            self.cell = []
        elif tag == "circle":
            self.dots.append(a)
        elif tag == "g" and a.get("class") == "unknown":
            self.unknown += 1
        elif tag == "title" and a.get("id") == "chart-title":
            self.in_title = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self.cell is not None:
            self.rows[-1].append("".join(self.cell).strip())
            self.cell = None
        elif tag == "table":
            self.in_history = False
        elif tag == "title":
            self.in_title = False

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)
        if self.in_title:
            self.title += data


def page(repo: CaseRepo, runs: list[dict] | None) -> Page:
    """The customer page for production, from an eval of main's baseline by the memorising rule."""
    cases = repo.load().split("baseline")
    report = build_report(kind="eval", batch=None, model={"hash": MODEL, "base": "rule", "backend": "rule"},
                          cases=cases, splits=["baseline"] * len(cases),
                          preds=[Prediction(str(c.expected)) for c in cases],
                          gate=repo.verdict_config["gate"], cases_tree=repo.cases_tree("main"),
                          main_baseline_tree="", max_length=64, started=time.monotonic())
    lock = lockfile.read_lock(repo)
    assert lock is not None
    parsed = Page()
    parsed.feed(render_html(lock, report, {c.id: c for c in cases}, history.baseline_log(repo), runs=runs))
    parsed.rows = [r for r in parsed.rows if r]  # the header row has no td
    return parsed


def test_the_customer_page_shows_the_monitors_score_for_a_rollback(demo_repo) -> None:
    rolled_back(demo_repo)
    total = monitor_ran(demo_repo)
    shown = page(demo_repo, monitor_log.read_entries(demo_repo))
    rollback = shown.rows[0]  # newest first
    assert rollback[1].startswith("Rolled back to model ")
    assert rollback[2].startswith(f"{total - FAILING}/{total} measured by the monitor on ")
    # two merges, the rollback and "now" are on the chart (the demo's bootstrap had no model);
    # the monitor's dot is hollow
    assert len(shown.dots) == 4 and shown.unknown == 0
    assert shown.dots[2]["fill"] == "#fff" and shown.dots[2]["stroke"] == "#a4161a"
    assert f"rollback {(total - FAILING) / total:.1%} measured by the monitor" in shown.title
    markdown = render_markdown(lockfile.read_lock(demo_repo) or {}, {"summary": {"baseline": {
        "passed": 1, "total": 1}}, "cases": []}, {}, history.baseline_log(demo_repo),
        runs=monitor_log.read_entries(demo_repo))
    assert f"| rollback  | {total - FAILING}/{total} measured by the monitor" in markdown


def test_the_customer_page_says_an_unmeasured_rollbacks_score_is_unknown(demo_repo) -> None:
    rolled_back(demo_repo)
    shown = page(demo_repo, monitor_log.read_entries(demo_repo))
    assert shown.rows[0][2] == "score unknown"
    assert len(shown.dots) == 3 and shown.unknown == 1  # a dashed "?" column, no dot at 0 %
    assert "rollback score unknown" in shown.title


def test_a_version_takes_only_the_monitors_runs_of_its_own_period_and_believable_counts() -> None:
    from repo_store.customer_report import version_score

    def run(time: str, passed: object, total: object = 10, model: str = MODEL) -> dict:
        return {"time": time, "model": model, "passed": passed, "total": total, "action": "alert"}

    runs = [run("2026-01-01T00:00:00Z", 9),  # before the version: an older baseline
            run("2026-01-02T01:00:00Z", 5),  # while it was production
            run("2026-01-02T02:00:00Z", 6, model=OTHER_MODEL),
            run("2026-01-03T01:00:00Z", 8)]  # after the next version replaced it: another period
    score = version_score(None, MODEL, "2026-01-02T00:00:00Z", runs, until="2026-01-03T00:00:00Z")
    assert (score.passed, score.total, score.source) == (5, 10, "monitor")
    current = version_score(None, MODEL, "2026-01-02T00:00:00Z", runs)
    assert current.passed == 8  # no later version: its latest run counts
    for bad in (run("2026-01-02T03:00:00Z", True, 1), run("2026-01-02T03:00:00Z", 11),
                run("2026-01-02T03:00:00Z", -1), run("2026-01-02T03:00:00Z", 3, 0)):
        pulled = version_score(None, MODEL, "2026-01-02T00:00:00Z", [bad])  # data from git pull
        assert pulled.source == "unknown" and pulled.rate is None, bad
    assert version_score(None, MODEL, "not a date", runs).source == "unknown"
    assert version_score((7, 10), MODEL, "2026-01-02T00:00:00Z", runs).passed == 7  # recorded wins
