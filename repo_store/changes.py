"""What to watch to notice that a case repository changed under a running program (another
terminal merged, rolled back, added a case): its refs, HEAD, models.lock and the case files.
Git writes a ref through `<ref>.lock` and a rename; only the final names count."""

from __future__ import annotations

from pathlib import Path

from repo_store.cases import CASES_DIR
from repo_store.repo import CaseRepo

LOCK_FILE = "models.lock"


def common_git_dir(repo: CaseRepo) -> Path:
    """Where refs live: a linked worktree's git dir names the shared one in `commondir`."""
    pointer = repo.git_dir / "commondir"
    if pointer.is_file():
        return (repo.git_dir / pointer.read_text(encoding="utf-8").strip()).resolve()
    return repo.git_dir


def watch_roots(repo: CaseRepo) -> list[Path]:
    """Folders to watch recursively (the work tree holds the git dir in a plain clone)."""
    roots = [repo.root.resolve()]
    for extra in (repo.git_dir.resolve(), common_git_dir(repo)):
        if not any(extra.is_relative_to(r) for r in roots):
            roots.append(extra)
    return roots


def is_repo_change(repo: CaseRepo, path: str | Path) -> bool:
    """True when a changed path is part of the repository's state as straw shows it."""
    changed = Path(path)
    if changed.name.endswith(".lock") and changed.name != LOCK_FILE:
        return False  # a ref being written: its rename to the final name follows
    root, git_dir, common = repo.root.resolve(), repo.git_dir.resolve(), common_git_dir(repo)
    if changed == root / LOCK_FILE or changed == git_dir / "HEAD" or changed == common / "packed-refs":
        return True
    if changed.is_relative_to(common / "refs"):
        return True
    return changed.is_relative_to(root / CASES_DIR) and changed.suffix == ".json"
