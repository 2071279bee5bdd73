"""`straw init`: make a folder a case repository (git init when needed, straw.toml, .gitignore,
hooks), and with `demo=True` seed it with the bundled demo cases."""

from __future__ import annotations

import shutil
from pathlib import Path

from repo_store import config, gitio, hooks
from repo_store.repo import CaseRepo, open_case_repo

GITIGNORE = ".straw/\n"


def demo_cases_dir() -> Path:
    here = Path(__file__).resolve().parent
    for candidate in (here / "_demo_cases", here.parent / "cases"):
        if (candidate / "baseline").is_dir():
            return candidate
    raise FileNotFoundError("straw's bundled demo cases are missing from the installation")


def init_case_repo(path: Path, demo: bool = False) -> tuple[CaseRepo, list[str]]:
    """Returns the repository and what was done, one line each."""
    done: list[str] = []
    repo = gitio.init_repo(path)
    root = gitio.root(repo)
    hooks.install(Path(repo.git_dir))
    done.append("installed git hooks (pre-commit, pre-merge-commit)")
    paths: list[str] = []
    if not (root / config.CONFIG_FILE).exists():
        (root / config.CONFIG_FILE).write_text(config.TEMPLATE, encoding="utf-8")
        paths.append(config.CONFIG_FILE)
        done.append(f"wrote {config.CONFIG_FILE}")
    ignore = root / ".gitignore"
    text = ignore.read_text() if ignore.exists() else ""
    if ".straw/" not in text.splitlines():
        ignore.write_text(text + ("" if not text or text.endswith("\n") else "\n") + GITIGNORE)
        paths.append(".gitignore")
    for split in ("pending",):  # cases/baseline/ appears with the first merge or bootstrap
        keep = root / "cases" / split / ".gitkeep"
        if not keep.exists():
            keep.parent.mkdir(parents=True, exist_ok=True)
            keep.touch()
            paths.append(str(keep.relative_to(root)))
    if paths:
        gitio.commit_paths(root, paths, "straw init: case repository")
    case_repo = open_case_repo(root)
    if demo:
        done += _seed_demo(case_repo)
    return case_repo, done


def _seed_demo(repo: CaseRepo) -> list[str]:
    source = demo_cases_dir()
    if any((repo.root / "cases" / "baseline").glob("*.json")):
        return ["demo cases not copied: cases/baseline/ already has cases"]
    done = []
    for split in ("baseline", "pending"):
        files = sorted((source / split).glob("*.json"))
        (repo.root / "cases" / split).mkdir(parents=True, exist_ok=True)
        for f in files:
            shutil.copyfile(f, repo.root / "cases" / split / f.name)
        paths = [f"cases/{split}/{f.name}" for f in files]
        if split == "baseline":
            message = (f"Bootstrap the demo baseline ({len(files)} cases)\n\n"
                       f"Straw-Bootstrap: demo\nStraw-Baseline-Cases: {len(files)}")
        else:
            message = f"Add {len(files)} demo pending cases"
        if paths:
            gitio.commit_paths(repo.root, paths, message)
        done.append(f"seeded {len(files)} {split} cases")
    return done
