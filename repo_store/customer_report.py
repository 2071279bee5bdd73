"""The production model's baseline as a page a customer reads (`straw report`): what the contract
is, a summary per label and per tag, the pass rate over production versions (an inline SVG), the
history of merges and rollbacks, the flips against the previous production model when the report
has them, then every case, failing first, with a search box.

One self-contained file: no external assets, so it works offline and as an e-mail attachment; the
few lines of script only add the search box (the page reads the same without them). Everything
user-written is escaped; `dir="auto"` lets Hebrew and Arabic read right to left."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from typing import TYPE_CHECKING, Any

from repo_store.cases import Case
from repo_store.flips import FLIP_SPLITS, flip_rows

if TYPE_CHECKING:
    from repo_store.history import LogEntry

CONTRACT = ("The baseline is the contract: each case below is an input and the answer it must get. "
            "A new model reaches production only after it passes every baseline case, and a monitor "
            "re-checks the production model and rolls it back when its pass rate slips.")

STYLE = """
:root{color-scheme:light}
body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem;color:#1b1b1b}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}
.contract{font-size:1.05rem;max-width:50rem}.meta{color:#555}code{font-size:.85em}td code{white-space:nowrap}
table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid #e2e2e2;padding:.35rem .5rem;text-align:start;vertical-align:top}
th{background:#f4f4f4}.num{text-align:end;font-variant-numeric:tabular-nums}
.pass{color:#126b2f}.fail{color:#a4161a;font-weight:600}tr.failing{background:#fff3f3}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(20rem,1fr));gap:1.5rem}
.turn{margin:.1rem 0}.role{font-size:.75rem;text-transform:uppercase;color:#555;margin-inline-end:.4rem}
#q{font:inherit;padding:.35rem .5rem;width:20rem;max-width:100%;margin:.5rem 0}
svg text{font:11px system-ui,sans-serif;fill:#444}
@media print{
 body{margin:0;max-width:none;font-size:10.5pt}#q,.search-note{display:none}
 tr{break-inside:avoid}h2{break-after:avoid}tr.failing{background:none}
 th{background:none;border-bottom:2px solid #000}
}
"""

SCRIPT = """
const q=document.getElementById('q'),shown=document.getElementById('shown');
q.hidden=false;
q.addEventListener('input',()=>{const t=q.value.trim().toLowerCase();let n=0;
for(const r of document.querySelectorAll('#cases tbody tr')){
const m=!t||r.textContent.toLowerCase().includes(t);r.hidden=!m;n+=m}
shown.textContent=n+' shown';});
"""


def human_date(iso: str) -> str:
    """"2026-12-03T08:15:00Z" → "3 December 2026, 08:15 UTC" (as written when not a date)."""
    try:
        when = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return iso
    zone = "UTC" if when.utcoffset() is not None and not when.utcoffset() else when.strftime("%z")
    return f"{when.day} {when:%B %Y, %H:%M} {zone}".rstrip()


def _score(text: str | None) -> tuple[int, int] | None:
    passed, sep, total = (text or "").partition("/")
    return (int(passed), int(total)) if sep and passed.isdigit() and total.isdigit() else None


def baseline_after(e: LogEntry) -> tuple[int, int] | None:
    """The baseline score a change left in production: for a merge, the old baseline plus the
    batch's new cases (both validated by the merged report); None when nothing was measured."""
    score = _score(e.baseline)
    new = _score(e.new) if e.kind == "merge" else None
    if score and new:
        score = (score[0] + new[0], score[1] + new[1])
    return score if score and score[1] else None


MEASURED = ("ok", "alert", "rollback")  # monitor runs that judged the model (not unreachable, mismatch)


def _instant(iso: str) -> datetime | None:
    try:
        when = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@dataclass(frozen=True)
class VersionScore:
    """A production version's baseline score and where it comes from: "recorded" by its commit,
    measured by the "monitor" (at `measured`), or "unknown" (no score: drawn as a gap, never 0 %)."""

    passed: int | None
    total: int | None
    source: str = "recorded"
    measured: str | None = None

    @property
    def rate(self) -> float | None:
        if self.passed is None or self.total is None:
            return None
        return self.passed / self.total if self.total else 1.0  # an empty contract holds

    def words(self) -> str:
        """"133/140", "133/140 measured by the monitor on 3 December 2026, 09:00 UTC" or
        "score unknown"."""
        if self.rate is None:
            return "score unknown"
        text = f"{self.passed}/{self.total}"
        if self.source == "monitor":
            text += f" measured by the monitor on {human_date(self.measured or '')}"
        return text


def version_score(recorded: tuple[int, int] | None, model: str | None, since: str,
                  runs: list[dict[str, Any]], until: str | None = None) -> VersionScore:
    """The one rule for a production version's score (the TUI's Monitor screen and this page):
    the score its commit recorded; else the latest score `straw monitor` recorded for `model`
    while the version was production (from `since`, its promotion: an earlier run judged an
    older baseline; to `until`, the next version's, when there is one); else unknown. A rollback
    forced without running its model records no score (lockfile.rollback_to). `runs`:
    monitor_log.read_entries, oldest first: data pulled with main, so a run whose counts do not
    make sense (0 ≤ passed ≤ total, total > 0, integers) is not believed."""
    if recorded and recorded[1]:
        return VersionScore(*recorded)
    start, end = _instant(since), _instant(until) if until else None
    if start is None:  # no promotion time: no period to match a run to
        return VersionScore(None, None, "unknown")
    for run in reversed(runs):
        passed, total, when = run.get("passed"), run.get("total"), _instant(str(run.get("time", "")))
        if (model and run.get("model") == model and run.get("action") in MEASURED
                and _count(passed) and _count(total) and 0 <= passed <= total and total > 0
                and when is not None and when >= start and (end is None or when < end)):
            return VersionScore(passed, total, "monitor", str(run["time"]))
    return VersionScore(None, None, "unknown")


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def event_score(e: LogEntry, runs: list[dict[str, Any]], until: str | None = None
                ) -> VersionScore | None:
    """version_score of a merge, bootstrap or rollback (`until`: the next one's date); None for
    an entry that names no model and records no score (a bootstrap before any model, a direct
    commit)."""
    recorded = baseline_after(e)
    if e.model is None and recorded is None:
        return None
    return version_score(recorded, e.model, e.date, runs, until)


def version_ends(events: list[LogEntry]) -> dict[int, str | None]:
    """For each of `events` (newest first), by position: when the production version it made
    ended — the date of the next newer merge, bootstrap or rollback — or None for the current."""
    ends: dict[int, str | None] = {}
    newer: str | None = None
    for i, e in enumerate(events):
        ends[i] = newer
        if e.kind in VERSION_KINDS:
            newer = e.date
    return ends


VERSION_KINDS = ("merge", "bootstrap", "rollback")


@dataclass(frozen=True)
class Point:
    """One production version on the chart: when it was promoted and its baseline score
    (passed and total None when unknown)."""

    date: str
    label: str
    passed: int | None
    total: int | None
    source: str = "recorded"
    measured: str | None = None

    @property
    def score(self) -> VersionScore:
        return VersionScore(self.passed, self.total, self.source, self.measured)

    @property
    def rate(self) -> float | None:
        return self.score.rate


def rate_points(events: list[LogEntry], report: dict[str, Any], label: str = "now",
                runs: list[dict[str, Any]] | None = None) -> list[Point]:
    """Oldest first: every merge, bootstrap or rollback with a model or a score (event_score),
    then the score measured for this page (`label`: "now", or the candidate model's short hash)."""
    points = []
    ends = version_ends(events)
    for i in reversed(range(len(events))):
        e = events[i]
        score = event_score(e, runs or [], ends[i]) if e.kind in VERSION_KINDS else None
        if score:
            points.append(Point(e.date, e.batch or e.kind, score.passed, score.total, score.source,
                                score.measured))
    s = report["summary"]["baseline"]
    points.append(Point(report["created"], label, s["passed"], s["total"]))
    return points


def _rate_words(score: VersionScore) -> str:
    rate = score.rate
    if rate is None:
        return "score unknown"
    return f"{rate:.1%}" + (" measured by the monitor" if score.source == "monitor" else "")


def chart_svg(points: list[Point], width: int = 640, height: int = 180) -> str:
    """Pass rate per production version as an inline SVG line chart. The y-axis starts just
    below the lowest rate, so 99% against 100% is visible. A score the monitor measured is a
    hollow dot; an unknown one breaks the line and is a dashed "?" column, never a 0 %."""
    left, right, top, bottom = 48, 12, 12, 34
    low = min((r for p in points if (r := p.rate) is not None), default=1.0)
    floor = max(0.0, low - max((1 - low) * 1.5, 0.005))  # the lowest point sits 40% down
    digits = 0 if 1 - floor >= 0.1 else 1 if 1 - floor >= 0.01 else 2
    span_x, span_y = width - left - right, height - top - bottom

    def x(i: int) -> float:
        return left + (span_x * i / (len(points) - 1) if len(points) > 1 else span_x / 2)

    def y(rate: float) -> float:
        return top + span_y * (1 - (rate - floor) / (1 - floor))

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" role="img" aria-labelledby="chart-title">',
             '<title id="chart-title">Baseline pass rate per production version: '
             + escape(", ".join(f"{p.label} {_rate_words(p.score)}" for p in points)) + "</title>"]
    for rate in (floor, (floor + 1) / 2, 1.0):
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y(rate):.1f}" y2="{y(rate):.1f}" '
                     f'stroke="#ddd"/><text x="{left - 6}" y="{y(rate) + 4:.1f}" '
                     f'text-anchor="end">{rate:.{digits}%}</text>')
    segments: list[list[str]] = [[]]
    for i, p in enumerate(points):
        if (value := p.rate) is None:
            segments.append([])
        else:
            segments[-1].append(f"{x(i):.1f},{y(value):.1f}")
    parts += [f'<polyline points="{" ".join(s)}" fill="none" stroke="#1f5fa8" stroke-width="2"/>'
              for s in segments if s]
    for i, p in enumerate(points):
        tip = f"<title>{escape(p.label)}: {escape(p.score.words())} ({escape(human_date(p.date))})</title>"
        if (value := p.rate) is None:
            parts.append(f'<g class="unknown"><line x1="{x(i):.1f}" x2="{x(i):.1f}" y1="{top}" '
                         f'y2="{top + span_y}" stroke="#888" stroke-dasharray="3 3"/>'
                         f'<text x="{x(i):.1f}" y="{top + span_y / 2:.1f}" text-anchor="middle">?</text>'
                         f"{tip}</g>")
        else:
            colour = "#126b2f" if p.passed == p.total else "#a4161a"
            fill = "#fff" if p.source == "monitor" else colour
            parts.append(f'<circle cx="{x(i):.1f}" cy="{y(value):.1f}" r="4" fill="{fill}" '
                         f'stroke="{colour}" stroke-width="2">{tip}</circle>')
        if len(points) <= 12 or i in (0, len(points) - 1):
            # the outer labels hang inwards, so that none is cut at the chart's edge
            anchor = "end" if i == len(points) - 1 and i else "start" if i == 0 and len(points) > 1 \
                else "middle"
            parts.append(f'<text x="{x(i):.1f}" y="{height - 16}" text-anchor="{anchor}">'
                         f"{escape(p.label[:16])}</text>"
                         f'<text x="{x(i):.1f}" y="{height - 4}" text-anchor="{anchor}">'
                         f"{escape(p.date[:10])}</text>")
    parts.append("</svg>")
    return "".join(parts)


def contract_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows the page lists: every eval report also carries watch rows, which are not the
    contract (they show only among the flips)."""
    return [r for r in report["cases"] if r.get("split") != "watch"]


def _input_html(case: Case | None) -> str:
    if case is None:
        return ""
    if isinstance(case.input, list):  # a chat: one line per turn, the role named
        return "".join(f'<div class="turn"><span class="role">{escape(str(t.get("role", "")))}</span>'
                       f'<span dir="auto">{escape(str(t.get("content", "")))}</span></div>'
                       for t in case.input)
    return f'<span dir="auto">{escape(case.text)}</span>'


def _label(value: Any) -> str:
    return value if isinstance(value, str) else " | ".join(map(str, value)) if isinstance(value, list) \
        else str(value)


def summaries(report: dict[str, Any], cases: dict[str, Case]) -> tuple[list[tuple[str, int, int]],
                                                                        list[tuple[str, int, int]]]:
    """(per expected label, per tag): rows of (name, cases, passing), most cases first."""
    by_label: Counter[str] = Counter()
    label_ok: Counter[str] = Counter()
    by_tag: Counter[str] = Counter()
    tag_ok: Counter[str] = Counter()
    for r in contract_rows(report):
        label = _label(r["expected"])
        by_label[label] += 1
        label_ok[label] += bool(r["pass"])
        case = cases.get(r["id"])
        for tag in case.tags if case else []:
            by_tag[tag] += 1
            tag_ok[tag] += bool(r["pass"])

    def rows(total: Counter[str], ok: Counter[str]) -> list[tuple[str, int, int]]:
        return [(name, n, ok[name]) for name, n in sorted(total.items(), key=lambda kv: (-kv[1], kv[0]))]

    return rows(by_label, label_ok), rows(by_tag, tag_ok)


def _summary_table(title: str, rows: list[tuple[str, int, int]]) -> str:
    if not rows:
        return f"<section><h3>{title}</h3><p class=\"meta\">none</p></section>"
    body = "".join(
        f'<tr><td dir="auto">{escape(name)}</td><td class="num">{n}</td><td class="num">{ok}</td>'
        f'<td class="num {"pass" if ok == n else "fail"}">{n - ok}</td></tr>' for name, n, ok in rows)
    return (f"<section><h3>{title}</h3><table><thead><tr><th>{title.split()[-1]}</th>"
            f'<th class="num">cases</th><th class="num">pass</th><th class="num">fail</th></tr>'
            f"</thead><tbody>{body}</tbody></table></section>")


def _event_text(e: LogEntry) -> str:
    model = (e.model or "").removeprefix("sha256:")[:12]
    if e.kind == "merge":
        return f"Batch <code>{escape(e.batch or '')}</code> merged: +{escape(e.cases)} cases, model " \
               f"<code>{escape(model)}</code> promoted"
    if e.kind == "rollback":
        return f"Rolled back to model <code>{escape(model)}</code>"
    if e.kind == "bootstrap":
        return f"Baseline started with {escape(e.cases)} cases"
    return f"Changed directly: {escape(e.subject)}"


def _score_text(e: LogEntry, runs: list[dict[str, Any]], until: str | None) -> str:
    score = event_score(e, runs, until)
    return score.words() if score else "–"


def _history(events: list[LogEntry], runs: list[dict[str, Any]]) -> str:
    if not events:
        return '<p class="meta">No merges or rollbacks yet.</p>'
    ends = version_ends(events)
    rows = "".join(
        f"<tr><td>{escape(human_date(e.date))}</td><td>{_event_text(e)}</td>"
        f'<td class="num">{escape(_score_text(e, runs, ends[i]))}</td>'
        f'<td dir="auto">{escape(e.approver or "")}</td></tr>'
        for i, e in enumerate(events))
    return ('<table id="history"><thead><tr><th>when</th><th>what</th><th class="num">baseline</th>'
            f"<th>by</th></tr></thead><tbody>{rows}</tbody></table>")


def _flips(report: dict[str, Any]) -> str:
    """The flips against the production model, when the report has them: per split the paired
    cases, negative and positive flips, NFR and McNemar's p (or why it tells nothing), then each
    flip with both answers, the ones that got worse first."""
    found = report.get("flips")
    if not isinstance(found, dict):
        return ""
    per_split = "".join(
        f'<tr><td>{split}</td><td class="num">{e["cases"]}</td>'
        f'<td class="num {"fail" if e["negative"] else "pass"}">{len(e["negative"])}</td>'
        f'<td class="num">{len(e["positive"])}</td><td class="num">{e["nfr"]:.1%}</td>'
        f'<td class="num">{e["mcnemar_p"]:.3g}</td><td>{escape(e.get("note") or "")}</td></tr>'
        for split in FLIP_SPLITS if isinstance(e := found.get(split), dict))
    rows = "".join(
        f'<tr class="{"failing" if r["kind"] == "negative" else "passing"}">'
        f'<td>{"worse" if r["kind"] == "negative" else "better"}</td><td>{r["split"]}</td>'
        f'<td><code>{escape(r["id"])}</code></td><td dir="auto">{escape(_label(r["expected"]))}</td>'
        f'<td dir="auto">{escape(str(r["production"]))}</td>'
        f'<td dir="auto">{escape(str(r["candidate"]))}</td></tr>' for r in flip_rows(report))
    listed = (f'<table id="flips"><thead><tr><th>change</th><th>split</th><th>case</th>'
              f"<th>expected</th><th>previous model said</th><th>this model says</th></tr></thead>"
              f"<tbody>{rows}</tbody></table>") if rows else '<p class="meta">No case changed.</p>'
    return (f'<h2 id="flips-head">Changes against model {escape(str(found["production"])[:19])}</h2>'
            '<p class="meta">Cases the previous model answered right and this one answers wrong '
            "(negative flips), and the reverse. Watch cases are questions like the contract that "
            "no model is trained on.</p>"
            '<table id="flip-summary"><thead><tr><th>split</th><th class="num">cases</th>'
            '<th class="num">worse</th><th class="num">better</th><th class="num">negative flip '
            'rate</th><th class="num">McNemar p</th><th>note</th></tr></thead>'
            f"<tbody>{per_split}</tbody></table>{listed}")


def candidate_line(lock: dict[str, Any], model: dict[str, Any]) -> str:
    """Plain text: the model a page shows when it is not production (`straw report --model`)."""
    made = f", trained for batch {model['batch']}" if model.get("batch") else ""
    return (f"Model {model['hash'][:19]} ({model.get('backend', '?')}, base "
            f"{model.get('base', '?')}{made}) is not the production model; production is "
            f"{lock['model'][:19]}.")


def _meta_html(lock: dict[str, Any], report: dict[str, Any], model: dict[str, Any] | None) -> str:
    checked = (f"Checked {escape(human_date(report['created']))} on cases "
               f"<code>{escape(report['cases_tree'][:12])}</code>.")
    if model is not None:
        line = escape(candidate_line(lock, model))
        return f'<p class="meta candidate"><strong>{line}</strong> {checked}</p>'
    batch = f", batch {escape(lock['batch'])}" if lock.get("batch") else ""
    return (f"<p class=\"meta\">Production model <code>{escape(lock['model'][:19])}</code> "
            f"({escape(lock['backend'])}, base {escape(lock['base'])}), in production since "
            f"{escape(human_date(lock['promoted']))} ({escape(lock['reason'])}{batch}). {checked}</p>")


def render_html(lock: dict[str, Any], report: dict[str, Any], cases: dict[str, Case],
                events: list[LogEntry] | None = None, model: dict[str, Any] | None = None,
                runs: list[dict[str, Any]] | None = None) -> str:
    """The page. `events`: main's baseline history (history.baseline_log), newest first.
    `model`: the stored model's record when the page shows a model that is not production
    (its flips, when the report has them, are against production). `runs`: the monitor's
    (monitor_log.read_entries), which score the versions whose commit records none."""
    events, runs = events or [], runs or []
    s = report["summary"]["baseline"]
    failing = s["total"] - s["passed"]
    rows = sorted(contract_rows(report), key=lambda r: (r["pass"], r["id"]))
    body = []
    for r in rows:
        status = '<span class="pass">pass</span>' if r["pass"] else '<span class="fail">FAIL</span>'
        body.append(
            f'<tr class="{"passing" if r["pass"] else "failing"}"><td>{status}</td>'
            f"<td><code>{escape(r['id'])}</code></td>"
            f"<td>{_input_html(cases.get(r['id']))}</td>"
            f'<td dir="auto">{escape(_label(r["expected"]))}</td>'
            f'<td dir="auto">{escape(str(r["predicted"]))}</td></tr>')
    labels, tags = summaries(report, cases)
    verdict = "every case passes" if not failing else f"{failing} case{'s' if failing != 1 else ''} fail"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>Baseline contract: {s['passed']}/{s['total']} cases pass</title><style>{STYLE}</style></head>
<body>
<header><h1>Baseline contract: {s['passed']}/{s['total']} cases pass</h1>
<p class="contract">{CONTRACT} Today {verdict}.</p>
{_meta_html(lock, report, model)}</header>
<main>
<h2 id="summary">Summary</h2>
<div class="grid">{_summary_table("By expected label", labels)}{_summary_table("By tag", tags)}</div>
<h2 id="rate">Pass rate over production versions</h2>
<figure>{chart_svg(rate_points(events, report, model["hash"][:12] if model else "now", runs))}</figure>
<h2 id="changes">History of merges and rollbacks</h2>
{_history(events, runs)}
{_flips(report)}
<h2 id="all-cases">Cases ({s['total']}; failing first)</h2>
<input id="q" type="search" placeholder="Search cases…" aria-label="Search cases" hidden>
<span class="search-note meta" id="shown" aria-live="polite"></span>
<table id="cases"><thead><tr><th>status</th><th>case</th><th>input</th><th>expected</th>
<th>model says</th></tr></thead><tbody>
{chr(10).join(body)}
</tbody></table>
</main>
<script>{SCRIPT}</script>
</body></html>
"""


def _md(value: object) -> str:
    return escape(" ".join(str(value).split()), quote=False).replace("|", "\\|")


def _md_input(case: Case | None) -> str:
    if case is None:
        return ""
    if isinstance(case.input, list):
        return " ".join(f"**{_md(t.get('role', ''))}:** {_md(t.get('content', ''))}" for t in case.input)
    return _md(case.text)


def render_markdown(lock: dict[str, Any], report: dict[str, Any], cases: dict[str, Case],
                    events: list[LogEntry] | None = None, model: dict[str, Any] | None = None,
                    runs: list[dict[str, Any]] | None = None) -> str:
    s = report["summary"]["baseline"]
    labels, tags = summaries(report, cases)
    who = (f"**{_md(candidate_line(lock, model))}**" if model is not None else
           f"Production model `{lock['model']}` ({lock['backend']}), in production since "
           f"{human_date(lock['promoted'])}.")
    lines = [f"# Baseline contract: {s['passed']}/{s['total']} cases pass", "", CONTRACT, "",
             who, "", "| label | cases | pass |", "|---|---|---|"]
    lines += [f"| {_md(name)} | {n} | {ok} |" for name, n, ok in labels]
    if tags:
        lines += ["", "| tag | cases | pass |", "|---|---|---|"]
        lines += [f"| {_md(name)} | {n} | {ok} |" for name, n, ok in tags]
    if events:
        lines += ["", "| when | what | baseline |", "|---|---|---|"]
        ends = version_ends(events)
        lines += [f"| {human_date(e.date)} | {e.kind} {e.batch or ''} | "
                  f"{_score_text(e, runs or [], ends[i])} |" for i, e in enumerate(events)]
    lines += ["", "| status | case | input | expected | model says |", "|---|---|---|---|---|"]
    for r in sorted(contract_rows(report), key=lambda r: (r["pass"], r["id"])):
        lines.append(f"| {'pass' if r['pass'] else '**FAIL**'} | `{r['id']}` | "
                     f"{_md_input(cases.get(r['id']))} | {_md(_label(r['expected']))} | "
                     f"{_md(r['predicted'])} |")
    return "\n".join(lines) + "\n"
