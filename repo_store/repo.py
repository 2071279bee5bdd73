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
from repo_store.config import Config
from repo_store.errors import NotARepository, UsageError

if TYPE_CHECKING:
    from repo_store.gitio import Repo

MAIN = "main"


class CaseRepo:
    def __init__(self, root: Path, git_dir: Path, settings: Config | None = None) -> None:
        self.root = root
        self.git_dir = git_dir
        if settings is not None:
            self.__dict__["settings"] = settings  # what the cached property would read

    @cached_property
    def settings(self) -> Config:
        """The work tree's straw.toml, read when first needed: a broken one then stops only the
        commands that read it, and listing or adding cases goes on (`straw validate` names it)."""
        return config.load(self.root)

    @property
    def config(self) -> Config:
        return self.settings

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
        """The model store: by default inside the git directory (shared by linked worktrees),
        where nothing pulled or committed can write; models are hashed again on first use."""
        setting = self.verdict_config["model"]["store"]
        if not setting:
            return gitio.common_dir(self.git_dir) / "straw" / "models"
        store = Path(os.path.expanduser(setting))
        return store if store.is_absolute() else self.root / store

    @cached_property
    def verdict_config(self) -> Config:
        """main's committed settings: the only ones a verdict (tune, gate, merge, batch bounds)
        is computed with. Work-tree edits count once committed on main."""
        if gitio.rev(self.root, f"refs/heads/{MAIN}") is None:
            return self.config
        return config.committed(self.git, f"refs/heads/{MAIN}")

    def require_committed_config(self) -> None:
        """Refuse to run with a straw.toml edited but not committed on main: the run would use
        main's settings, not the ones the user sees."""
        path = self.root / config.CONFIG_FILE
        raw = gitio.read_file(self.git, f"refs/heads/{MAIN}", config.CONFIG_FILE) \
            if gitio.rev(self.root, f"refs/heads/{MAIN}") else None
        try:
            here = path.read_bytes() if path.is_file() else None
        except OSError:
            here = None
        if raw is not None and here != raw:
            raise UsageError(f"{config.CONFIG_FILE} has changes not committed on {MAIN}: commit it "
                             f"first (verdicts use {MAIN}'s committed settings)")

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
    return CaseRepo(root, git_dir)
