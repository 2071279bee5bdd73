"""The production model's baseline as a page a customer can read (`straw report --html`): the
shared contract of the seed — every case, what was expected, what the model says, pass or fail.
Everything user-written is escaped; `dir="auto"` lets Hebrew and Arabic read right to left."""

from __future__ import annotations

from html import escape
from typing import Any

from repo_store.cases import Case

STYLE = """
body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:70rem;color:#1b1b1b}
h1{font-size:1.5rem}table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid #ddd;padding:.35rem .5rem;text-align:start;vertical-align:top}
th{background:#f4f4f4}.pass{color:#126b2f}.fail{color:#a4161a;font-weight:600}
.meta{color:#555}code{font-size:.85em}
"""


def _text(case: Case | None, fallback: str) -> str:
    return case.text if case else fallback


def render_html(lock: dict[str, Any], report: dict[str, Any], cases: dict[str, Case]) -> str:
    s = report["summary"]["baseline"]
    rows = sorted(report["cases"], key=lambda r: (r["pass"], r["id"]))
    body = []
    for r in rows:
        status = '<span class="pass">pass</span>' if r["pass"] else '<span class="fail">FAIL</span>'
        body.append(
            f"<tr><td>{status}</td><td><code>{escape(r['id'])}</code></td>"
            f'<td dir="auto">{escape(_text(cases.get(r["id"]), ""))}</td>'
            f'<td dir="auto">{escape(str(r["expected"]))}</td>'
            f'<td dir="auto">{escape(str(r["predicted"]))}</td></tr>')
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Baseline contract: {s['passed']}/{s['total']} cases pass</title><style>{STYLE}</style></head>
<body><h1>Baseline contract: {s['passed']}/{s['total']} cases pass</h1>
<p class="meta">Production model <code>{escape(lock['model'])}</code> ({escape(lock['backend'])},
base {escape(lock['base'])}), promoted {escape(lock['promoted'])} ({escape(lock['reason'])}{
    ', batch ' + escape(lock['batch']) if lock.get('batch') else ''}).
Checked {escape(report['created'])} on cases tree <code>{escape(report['cases_tree'][:12])}</code>.</p>
<table><thead><tr><th>status</th><th>case</th><th>input</th><th>expected</th><th>model says</th></tr>
</thead><tbody>
{chr(10).join(body)}
</tbody></table></body></html>
"""


def _md(value: object) -> str:
    return " ".join(str(value).split()).replace("|", "\\|")


def render_markdown(lock: dict[str, Any], report: dict[str, Any], cases: dict[str, Case]) -> str:
    s = report["summary"]["baseline"]
    lines = [f"# Baseline contract: {s['passed']}/{s['total']} cases pass", "",
             f"Production model `{lock['model']}` ({lock['backend']}), promoted {lock['promoted']}.",
             "", "| status | case | input | expected | model says |", "|---|---|---|---|---|"]
    for r in sorted(report["cases"], key=lambda r: (r["pass"], r["id"])):
        lines.append(f"| {'pass' if r['pass'] else '**FAIL**'} | `{r['id']}` | "
                     f"{_md(_text(cases.get(r['id']), ''))} | {_md(r['expected'])} | "
                     f"{_md(r['predicted'])} |")
    return "\n".join(lines) + "\n"
