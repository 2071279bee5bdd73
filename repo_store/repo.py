"""`CaseRepo`: an opened case repository — its root folder, git repository and config.
Operations live in their own modules (curation, batches, gate, merge, …) and take a CaseRepo
first. GitPython is opened on first use only: curation commands mostly do without it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from repo_store import cases, config, gitio, locking
from repo_store.errors import NotARepository, UsageError

if TYPE_CHECKING:
    from repo_store.gitio import Repo

MAIN = "main"


class CaseRepo:
    def __init__(self, root: Path, git_dir: Path, settings: config.Config) -> None:
        self.root = root
        self.git_dir = git_dir
        self.config = settings

    def __repr__(self) -> str:
        return f"CaseRepo({str(self.root)!r})"

    @cached_property
    def git(self) -> Repo:
        return gitio.open_repo(self.root)

    @property
    def main(self) -> str:
        return MAIN

    @property
    def head_branch(self) -> str | None:
        return gitio.head_branch(self.git_dir)

    @property
    def model_store(self) -> Path:
        store = Path(os.path.expanduser(self.config["model"]["store"]))
        return store if store.is_absolute() else self.root / store

    @cached_property
    def identity(self) -> str:
        return gitio.identity(self.root)

    @contextmanager
    def write_lock(self) -> Iterator[None]:
        with locking.write_lock(self.git_dir):
            yield

    def require_on_main(self) -> None:
        branch = self.head_branch
        if branch != MAIN:
            raise UsageError(f"HEAD is on {branch or 'a detached commit'}: check out {MAIN} first "
                             f"(`git switch {MAIN}`)")

    def load(self) -> cases.CaseSet:
        """The cases in the work tree (main's, as the user edits them)."""
        return cases.load_worktree(self.root)

    def load_ref(self, ref: str) -> cases.CaseSet:
        """The cases committed at `ref`, through the repository's cache of checked blobs."""
        return cases.load_ref(self.git, ref, cache_root=self.root)

    def cases_tree(self, ref: str) -> str:
        return gitio.tree_of(self.git, ref, cases.CASES_DIR)


def open_case_repo(path: str | os.PathLike[str] | None = None) -> CaseRepo:
    root, git_dir = gitio.find_root(path)
    if not (root / config.CONFIG_FILE).exists():
        raise NotARepository(f"{root}: no {config.CONFIG_FILE} here (run `straw init` first)")
    return CaseRepo(root, git_dir, config.load(root))
