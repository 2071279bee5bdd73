"""Git hooks that `straw init` installs, so that plain git cannot slip past straw:
- pre-commit: a staged case file that fails the schema (or is a symlink) is refused, with the
  message the CLI gives; so are a case id that would be in both baseline and pending and a
  malformed models.lock; on main, any staged change under cases/baseline/ is refused (the
  baseline changes only through a gated batch merge, which straw writes itself).
- pre-merge-commit: a hand-made merge into main that changes cases/baseline/ is refused.
A hook the user had before is kept as `<name>.pre-straw` and still runs, after straw's checks
pass (chained, as pre-commit frameworks do). Hooks can be skipped with --no-verify;
`straw verify` audits the history for what got past."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

HOOKS = ("pre-commit", "pre-merge-commit")
MARKER = "# installed by straw"
USER_SUFFIX = ".pre-straw"


def _script(name: str, python: str) -> str:
    """Run the check with the Python that installed the hook; if that one is gone (the venv was
    moved or rebuilt), with a `python3` that has straw; if none has, say so and let the commit
    through: `straw gate` and `straw verify` still guard the baseline, and a hook that refuses
    every commit until someone finds out why is worse. Then the user's own hook, if any."""
    return f"""#!/bin/sh
{MARKER}
py='{python}'
if [ -x "$py" ]; then
  "$py" -m repo_store.hooks {name} "$@" || exit $?
elif python3 -c 'import repo_store.hooks' 2>/dev/null; then
  python3 -m repo_store.hooks {name} "$@" || exit $?
else
  echo "straw {name}: checks skipped: $py is gone and no python3 here has straw;" \\
       "run \`straw init\` again to reinstall the hooks" >&2
fi
user_hook="$0{USER_SUFFIX}"
if [ -x "$user_hook" ]; then exec "$user_hook" "$@"; fi
exit 0
"""


def install(git_dir: Path) -> list[Path]:
    folder = git_dir / "hooks"
    folder.mkdir(exist_ok=True)
    written = []
    for name in HOOKS:
        path = folder / name
        kept = folder / f"{name}{USER_SUFFIX}"
        if (path.exists() or path.is_symlink()) and MARKER not in _text(path):
            if kept.exists():  # never overwrite a hook kept earlier: number this one
                kept = folder / f"{name}{USER_SUFFIX}.{len(list(folder.glob(name + USER_SUFFIX + '*')))}"
            path.rename(kept)  # the user's hook, kept and chained: it runs after straw's checks
        path.write_text(_script(name, sys.executable))
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        written.append(path)
    return written


def _text(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def _staged(repo) -> list[tuple[str, str, str]]:
    """(status, new mode, path) of every staged change under cases/ and of models.lock."""
    from repo_store import gitio

    out = gitio.run(repo, "diff", "--cached", "--no-renames", "--raw", "-z", "--",
                    "cases/", "models.lock")
    parts = [p for p in out.split("\0") if p]
    staged = []
    for meta, path in zip(parts[0::2], parts[1::2], strict=False):
        fields = meta.lstrip(":").split()
        staged.append((fields[4][0], fields[1], path))
    return staged


def _blobs(repo, names: list[str]) -> dict[str, bytes | None]:
    """Staged blobs (`:path`) in two `git cat-file` runs: their sizes first, then the contents of
    those small enough to read (None for one too large: it is refused unread)."""
    import subprocess

    from repo_store import cases

    if not names:
        return {}
    checked = subprocess.run(["git", "cat-file", "--batch-check=%(objectsize)"], capture_output=True,
                             cwd=repo.working_tree_dir, input="\n".join(names).encode() + b"\n")
    sizes = [int(x) if x.isdigit() else 0 for x in checked.stdout.decode().split("\n")[:len(names)]]
    small = [n for n, size in zip(names, sizes, strict=False) if size <= cases.MAX_CASE_BYTES]
    found: dict[str, bytes | None] = dict.fromkeys(names)
    proc = subprocess.run(["git", "cat-file", "--batch"], capture_output=True,
                          cwd=repo.working_tree_dir, input="\n".join(small).encode() + b"\n")
    out, at = proc.stdout, 0
    for name in small:
        end = out.index(b"\n", at)
        header = out[at:end].split(b" ")
        if len(header) != 3 or not header[2].isdigit():
            at = end + 1
            continue
        size = int(header[2])
        found[name] = out[end + 1:end + 1 + size]
        at = end + 1 + size + 1
    return found


def _case_issues(repo, staged: list[tuple[str, str, str]]) -> list[str]:
    from repo_store import cases

    reasons: list[str] = []
    wanted = []
    for status, mode, path in staged:
        parts = path.split("/")
        if status == "D" or len(parts) != 3 or not path.endswith(".json"):
            continue
        if mode == "120000":
            reasons.append(f"{path}::$: is a symbolic link (refused, not followed)")
        else:
            wanted.append(path)
    blobs = _blobs(repo, [f":{path}" for path in wanted])
    for path in wanted:
        raw = blobs[f":{path}"]
        if raw is None:
            reasons.append(f"{path}::$: is over {cases.MAX_CASE_BYTES:,} bytes (refused, not read)")
            continue
        _, issues = cases.parse(raw, path, path.split("/")[1])
        reasons += [str(issue) for issue in issues]
    return reasons


def _lock_issues(repo) -> list[str]:
    from repo_store import jsonio, schemas

    raw = _blobs(repo, [":models.lock"])[":models.lock"]
    if raw is None:
        return ["models.lock::$: too large to be a models.lock"]
    try:
        lock = jsonio.strict_loads(raw)
    except jsonio.BadJSON as err:
        return [f"models.lock::$: {err}"]
    return [str(issue) for issue in schemas.schema_issues("models_lock", lock, "models.lock")]


def _both_splits(repo) -> list[str]:
    """Case ids the index holds in both cases/baseline and cases/pending."""
    from repo_store import gitio

    ids: dict[str, set[str]] = {"baseline": set(), "pending": set()}
    for path in gitio.run(repo, "ls-files", "-z", "--", "cases/baseline", "cases/pending").split("\0"):
        parts = path.split("/")
        if len(parts) == 3 and parts[2].endswith(".json"):
            ids[parts[1]].add(parts[2].removesuffix(".json"))
    return [f"cases/pending/{case_id}.json::$.id: case {case_id!r} is also in cases/baseline "
            f"(a case is baseline or pending, never both)"
            for case_id in sorted(ids["baseline"] & ids["pending"])]


def check_index(repo_path: str = ".") -> list[str]:
    """Reasons to refuse the commit being made; [] lets it through."""
    from repo_store import gitio

    repo = gitio.open_repo(repo_path)
    reasons: list[str] = []
    staged = _staged(repo)
    reasons += _case_issues(repo, [entry for entry in staged if entry[2] != "models.lock"])
    if any(path == "models.lock" and status != "D" for status, _, path in staged):
        reasons += _lock_issues(repo)
    if any(path.startswith("cases/") and status != "D" for status, _, path in staged):
        reasons += _both_splits(repo)
    if gitio.head_branch(repo) == "main" and os.environ.get("STRAW_GATED_MERGE") != "1":
        for _, _, path in staged:
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
