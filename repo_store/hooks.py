"""Git hooks that `straw init` installs, so that plain git cannot slip past straw:
- pre-commit: a staged case file that fails the schema is refused, with the message the CLI
  gives; on main, any staged change under cases/baseline/ is refused (the baseline changes only
  through a gated batch merge, which straw writes itself).
- pre-merge-commit: a hand-made merge into main that changes cases/baseline/ is refused.
Hooks can be skipped with --no-verify; `straw verify` audits the history for what got past."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

HOOKS = ("pre-commit", "pre-merge-commit")
MARKER = "# installed by straw"


def _script(name: str, python: str) -> str:
    """Run the check with the Python that installed the hook; if that one is gone (the venv was
    moved or rebuilt), with a `python3` that has straw; if none has, say so and let the commit
    through: `straw gate` and `straw verify` still guard the baseline, and a hook that refuses
    every commit until someone finds out why is worse."""
    return f"""#!/bin/sh
{MARKER}
py='{python}'
if [ -x "$py" ]; then exec "$py" -m repo_store.hooks {name} "$@"; fi
if python3 -c 'import repo_store.hooks' 2>/dev/null; then exec python3 -m repo_store.hooks {name} "$@"; fi
echo "straw {name}: checks skipped: $py is gone and no python3 here has straw;" \\
     "run \`straw init\` again to reinstall the hooks" >&2
exit 0
"""


def install(git_dir: Path) -> list[Path]:
    folder = git_dir / "hooks"
    folder.mkdir(exist_ok=True)
    written = []
    for name in HOOKS:
        path = folder / name
        if path.exists() and MARKER not in path.read_text(errors="replace"):
            path.rename(path.with_suffix(".pre-straw"))  # keep the user's own hook, never lose it
        path.write_text(_script(name, sys.executable))
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        written.append(path)
    return written


def _staged(repo, *filters: str) -> list[tuple[str, str]]:
    from repo_store import gitio

    out = gitio.run(repo, "diff", "--cached", "--no-renames", "--name-status", "-z", *filters,
                    "--", "cases/")
    parts = [p for p in out.split("\0") if p]
    return list(zip(parts[0::2], parts[1::2], strict=False))


def check_index(repo_path: str = ".") -> list[str]:
    """Reasons to refuse the commit being made; [] lets it through."""
    from repo_store import cases, gitio

    repo = gitio.open_repo(repo_path)
    reasons: list[str] = []
    staged = _staged(repo)
    for status, path in staged:
        parts = path.split("/")
        if status == "D" or len(parts) != 3 or not path.endswith(".json"):
            continue
        raw = gitio.run(repo, "cat-file", "blob", f":{path}", strip=False).encode()
        _, issues = cases.parse(raw, path, parts[1])
        reasons += [str(issue) for issue in issues]
    if gitio.head_branch(repo) == "main" and os.environ.get("STRAW_GATED_MERGE") != "1":
        for _, path in staged:
            if path.startswith("cases/baseline/"):
                reasons.append(f"{path}: the baseline on main changes only through a gated batch "
                               f"merge (`straw batch create`, `straw tune`, `straw merge`)")
                break
    return reasons


def main(argv: list[str]) -> int:
    hook = argv[0] if argv else "pre-commit"
    reasons = check_index()
    if reasons:
        more = len(reasons) - 1
        print(f"straw {hook}: {reasons[0]}" + (f" ({more} other errors)" if more else ""),
              file=sys.stderr)
        for reason in reasons[1:6]:
            print(f"  {reason}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
