"""The customer's HTML report and the engine commands' script output, on a real repository whose
production model (a tiny classifier) was tuned and merged through the gate: the page's structure
read back with an HTML parser, --format, --json with numbers, and eval's progress bar on a
terminal."""

from __future__ import annotations

import json
import os
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from cli_helpers import on_a_terminal
from prod_helpers import bad_model

from repo_store import curation, history, lockfile
from repo_store.customer_report import human_date, render_html
from repo_store.repo import CaseRepo, open_case_repo
from tuning.evaluate import evaluate


@pytest.fixture
def repo(good: Path, tmp_path: Path) -> CaseRepo:
    shutil.copytree(good, tmp_path / "repo", symlinks=True)
    return open_case_repo(tmp_path / "repo")


class Page(HTMLParser):
    """Collects what a reader sees: headings, tables (rows of cell texts), the SVG's shapes,
    scripts, external references."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.headings: list[str] = []
        self.tables: dict[str, list[list[str]]] = {}
        self.table: str | None = None
        self.cell: list[str] | None = None
        self.shapes: list[str] = []
        self.external: list[str] = []
        self.texts: list[str] = []
        self.hidden_inputs: list[str] = []
        self.turn_roles: list[str] = []
        self.styles = ""
        self.count = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.stack.append(tag)
        for key in ("src", "href"):
            if a.get(key):
                self.external.append(a[key] or "")
        if tag == "table":
            self.count += 1
            self.table = a.get("id") or f"table{self.count}"
            self.tables[self.table] = []
        elif tag == "tr" and self.table:
            self.tables[self.table].append([])
        elif tag in ("td", "th"):
            self.cell = []
        elif tag in ("polyline", "circle", "line"):
            self.shapes.append(tag)
        elif tag == "input" and "hidden" in a:
            self.hidden_inputs.append(a.get("id") or "")

    def handle_endtag(self, tag: str) -> None:
        if self.stack:
            self.stack.pop()
        if tag in ("td", "th") and self.cell is not None and self.table:
            self.tables[self.table][-1].append(" ".join("".join(self.cell).split()))
            self.cell = None
        elif tag == "table":
            self.table = None

    def handle_data(self, data: str) -> None:
        top = self.stack[-1] if self.stack else ""
        if top in ("h1", "h2", "h3"):
            self.headings.append(data.strip())
        if top == "style":
            self.styles += data
        if self.cell is not None:
            self.cell.append(data)
        self.texts.append(data)


def parse(text: str) -> Page:
    page = Page()
    page.feed(text)
    page.close()
    return page


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_report_page_structure(repo: CaseRepo, cli, tmp_path: Path) -> None:  # noqa: ANN001
    out = tmp_path / "contract.html"
    result = cli("report", "--format", "html", "-o", str(out), "--repo", str(repo.root))
    assert result.exit_code == 0, result.stderr
    assert out.stat().st_mode & 0o777 == 0o666 & ~_umask()  # a plain file, not the temp file's 0600
    page = parse(out.read_text(encoding="utf-8"))
    text = " ".join(page.texts)
    assert page.headings[0] == "Baseline contract: 10/10 cases pass"
    assert "The baseline is the contract" in text and "every case passes" in text
    assert {"Summary", "By expected label", "By tag", "Pass rate over production versions",
            "History of merges and rollbacks"} <= set(page.headings)
    labels = page.tables["table1"]
    assert labels[0] == ["label", "cases", "pass", "fail"]
    assert sorted(row[:3] for row in labels[1:]) == [["billing", "5", "5"], ["greeting", "5", "5"]]
    tags = page.tables["table2"]
    assert tags[1] == ["[bold]x[/]", "10", "10", "0"]  # markup in a tag is text, not markup
    assert page.shapes.count("polyline") == 1 and page.shapes.count("circle") == 2  # merge + now
    merged = page.tables["history"]
    assert merged[0] == ["when", "what", "baseline", "by"] and len(merged) == 2
    assert "merged: +10 cases" in merged[1][1] and merged[1][2] == "10/10"
    assert "UTC" in merged[1][0] and "T" not in merged[1][0].split(",")[0]  # a date a person reads
    cases = page.tables["cases"]
    assert len(cases) == 11 and all(row[0] == "pass" for row in cases[1:])
    assert page.external == []  # no external assets: works offline and as an attachment
    assert page.hidden_inputs == ["q"]  # the search box appears only when the script runs
    assert "@media print" in page.styles


def test_failing_cases_first_and_chat_turns(repo: CaseRepo) -> None:
    chat = curation.add_case(repo, input=[{"role": "user", "content": "<b>refund</b> my invoice"},
                                          {"role": "assistant", "content": "which one?"},
                                          {"role": "user", "content": "the card charged twice"}],
                             expected="shipping")  # a label the model never learned: it fails
    report = evaluate(repo, None, "all")
    cases = {c.id: c for c in repo.load().cases}
    page_text = render_html(lockfile.read_lock(repo), report, cases,  # type: ignore[arg-type]
                            history.baseline_log(repo))
    page = parse(page_text)
    rows = page.tables["cases"][1:]
    first_pass = next(i for i, row in enumerate(rows) if row[0] == "pass")
    assert all(row[0] == "FAIL" for row in rows[:first_pass]) and first_pass >= 1
    assert any(row[1] == chat.id for row in rows[:first_pass])
    assert page_text.count('<div class="turn">') == 3 and "&lt;b&gt;refund&lt;/b&gt;" in page_text
    assert "<b>refund" not in page_text


def test_report_format_option(repo: CaseRepo, cli) -> None:  # noqa: ANN001
    root = str(repo.root)
    md = cli("report", "--format", "markdown", "--repo", root)
    assert md.exit_code == 0 and md.stdout.startswith("# Baseline contract: 10/10")
    data = json.loads(cli("report", "--format", "json", "--repo", root).stdout)
    assert data["summary"]["baseline"] == {"passed": 10, "total": 10}
    assert cli("report", "--html", "--repo", root).stdout.startswith("<!doctype html>")
    both = cli("report", "--html", "--markdown", "--repo", root)
    assert both.exit_code == 2 and "one output format" in both.stderr


def test_report_of_a_model_that_is_not_production(repo: CaseRepo, cli, tmp_path: Path) -> None:  # noqa: ANN001
    bad = bad_model(repo)  # trained on swapped labels: it fails the baseline
    production = lockfile.read_lock(repo)["model"]  # type: ignore[index]
    out = tmp_path / "candidate.html"
    result = cli("report", "--model", bad[:14], "-o", str(out), "--repo", str(repo.root))
    assert result.exit_code == 0, result.stderr
    page = parse(out.read_text(encoding="utf-8"))
    text = " ".join(page.texts)
    passed = int(page.headings[0].split(": ")[1].split("/")[0])
    assert passed < 10 and f"Model {bad[:19]}" in text and "is not the production model" in text
    assert f"production is {production[:19]}" in text and "in production since" not in text
    rows = page.tables["cases"][1:]
    assert sum(row[0] == "FAIL" for row in rows) == 10 - passed
    assert page.tables["flip-summary"][1][2] == str(10 - passed)  # worse than production
    md = cli("report", "--model", bad, "--format", "markdown", "--repo", str(repo.root))
    assert md.exit_code == 0 and "is not the production model" in md.stdout
    same = cli("report", "--model", production[:14], "--format", "markdown", "--repo", str(repo.root))
    assert same.exit_code == 0 and "Production model" in same.stdout  # production: the usual page
    missing = cli("report", "--model", "sha256:0000", "--repo", str(repo.root))
    assert missing.exit_code != 0 and "sha256:0000" in missing.stderr


def test_human_dates() -> None:
    assert human_date("2026-12-03T08:15:00Z") == "3 December 2026, 08:15 UTC"
    assert human_date("not a date") == "not a date"


def test_compare_and_monitor_json_and_model_prefixes(repo: CaseRepo, cli) -> None:  # noqa: ANN001
    root = str(repo.root)
    good = lockfile.read_lock(repo)["model"]  # type: ignore[index]
    bad = bad_model(repo)
    result = cli("compare", good[7:15], bad[7:15], "--split", "baseline", "--json", "--repo", root)
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["model_a"] == good and data["model_b"] == bad
    assert data["shared"] == 10 and data["a_passed"] == 10 and isinstance(data["test"]["p_value"], float)
    monitor = cli("monitor", "--json", "--no-rollback", "--repo", root)
    assert monitor.exit_code == 0
    data = json.loads(monitor.stdout)
    assert data["passed"] == 10 and data["total"] == 10 and data["rate"] == 1.0
    evaluated = cli("eval", "--model", bad[7:13], "--json", "--repo", root)
    assert evaluated.exit_code in (0, 1) and json.loads(evaluated.stdout)["model"]["hash"] == bad
    # export-model finds the stored folder from a prefix (a classifier is refused by name: it
    # has no adapter to merge)
    exported = cli("export-model", good[7:15], str(repo.root.parent / "out"), "--repo", root)
    assert exported.exit_code == 1 and good[7:] in exported.stderr and "no adapter" in exported.stderr


def test_eval_shows_a_progress_bar_on_a_terminal(repo: CaseRepo) -> None:
    for n in range(40):  # uncached inputs: the model has to run
        curation.add_case(repo, input=f"please refund invoice number {n}", expected="billing")
    text = on_a_terminal(["eval", "--split", "all", "--repo", str(repo.root)])
    assert "loading" in text and "predicting" in text and "cases/s" in text and "ETA" in text
    assert "50/50" in text or "baseline 10/10" in text


def test_monitor_shows_a_progress_bar_on_a_terminal_and_q_hides_it(repo: CaseRepo) -> None:
    text = on_a_terminal(["monitor", "--repo", str(repo.root)])
    assert "predicting" in text and "cases/s" in text and "10/10" in text, text
    quiet = on_a_terminal(["monitor", "-q", "--repo", str(repo.root)])
    assert "ok" in quiet and "predicting" not in quiet and "cases/s" not in quiet, quiet


def test_chart_shows_a_small_slip() -> None:
    from repo_store.customer_report import Point, chart_svg

    points = [Point("2026-11-01T00:00:00Z", "a", 120, 120), Point("2026-11-02T00:00:00Z", "b", 119, 120),
              Point("2026-11-03T00:00:00Z", "now", 140, 140)]
    svg = chart_svg(points)
    circles = [part for part in svg.split("<circle ")[1:]]
    heights = [float(c.split('cy="')[1].split('"')[0]) for c in circles]
    assert heights[1] - heights[0] > 40  # 99.2% sits well below 100% on a 180 px chart
    assert heights[0] == heights[2]
    assert 'fill="#a4161a"' in circles[1] and "b: 119/120" in circles[1]


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (apt-get install chromium)")
def test_search_box_filters_rows_in_headless_chromium(repo: CaseRepo, cli, tmp_path: Path) -> None:  # noqa: ANN001
    import subprocess

    assert CHROMIUM is not None  # the skipif above
    page = tmp_path / "contract.html"
    assert cli("report", "-q", "-o", str(page), "--repo", str(repo.root)).exit_code == 0
    # the page as a reader's browser runs it, then someone types "refund" into the search box
    typed = tmp_path / "typed.html"
    typed.write_text(page.read_text(encoding="utf-8").replace(
        "</body>", "<script>q.value='refund';q.dispatchEvent(new Event('input'))</script></body>"),
        encoding="utf-8")
    dom = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", typed.as_uri()],
        capture_output=True, text=True, timeout=120).stdout
    parsed = parse(dom)
    assert parsed.hidden_inputs == []  # the script ran: the search box shows
    rows = dom.split('<tbody>')[-1].split("</tbody>")[0].split("<tr ")[1:]
    shown = [r for r in rows if " hidden" not in r.split(">")[0]]
    assert len(rows) == 10 and len(shown) == 1 and "refund my invoice charge" in shown[0]
    assert "1 shown" in dom
