"""`CaseRepo`: an opened case repository — its git repository, root folder and config. Operations
live in their own modules (curation, batches, gate, merge, …) and take a CaseRepo first."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from repo_store import cases, config, gitio, locking
from repo_store.errors import NotARepository, UsageError

MAIN = "main"


@dataclass
class CaseRepo:
    git: gitio.Repo
    root: Path
    config: config.Config = field(repr=False)

    @property
    def main(self) -> str:
        return MAIN

    @property
    def git_dir(self) -> Path:
        return Path(self.git.git_dir)

    @property
    def model_store(self) -> Path:
        store = Path(os.path.expanduser(self.config["model"]["store"]))
        return store if store.is_absolute() else self.root / store

    @cached_property
    def identity(self) -> str:
        return gitio.identity(self.git)

    @contextmanager
    def write_lock(self) -> Iterator[None]:
        with locking.write_lock(self.git_dir):
            yield

    def require_on_main(self) -> None:
        branch = gitio.head_branch(self.git)
        if branch != MAIN:
            raise UsageError(f"HEAD is on {branch or 'a detached commit'}: check out {MAIN} first "
                             f"(`git switch {MAIN}`)")

    def load(self) -> cases.CaseSet:
        """The cases in the work tree (main's, as the user edits them)."""
        return cases.load_worktree(self.root)

    def load_ref(self, ref: str) -> cases.CaseSet:
        return cases.load_ref(self.git, ref)

    def cases_tree(self, ref: str) -> str:
        return gitio.tree_of(self.git, ref, cases.CASES_DIR)


def open_case_repo(path: str | os.PathLike[str] | None = None) -> CaseRepo:
    repo = gitio.open_repo(path)
    root = gitio.root(repo)
    if not (root / config.CONFIG_FILE).exists():
        raise NotARepository(f"{root}: no {config.CONFIG_FILE} here (run `straw init` first)")
    return CaseRepo(repo, root, config.load(root))
