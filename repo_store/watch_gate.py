"""The gate's watch rule, kept apart from gate.py: a report whose model turns more watch cases
than `[gate] max_watch_negative_flips` from right (production model) to wrong is refused, and
the refusal names them. A report without flips (no production model yet) has nothing to refuse."""

from __future__ import annotations

from typing import Any

from repo_store.wording import plural


def watch_flips_refusal(report: dict[str, Any], gate: dict[str, Any]) -> str | None:
    """One line why the report is refused, or None."""
    watch = (report.get("flips") or {}).get("watch") or {}
    negative = watch.get("negative") or []
    limit = int(gate.get("max_watch_negative_flips", 0))
    if len(negative) <= limit:
        return None
    shown = ", ".join(f"{f['id']} ({f['production']} → {f['candidate']})" for f in negative[:5])
    more = f" and {len(negative) - 5} more" if len(negative) > 5 else ""
    return (f"breaks {plural(len(negative), 'watch case')} the production model passed (max_watch_negative_"
            f"flips = {limit}): {shown}{more}; `straw flips {report['batch']} --promote` moves them "
            f"into pending")
