"""Ids like git: a unique prefix names a case, a batch or a model in every command, and `latest`
names the newest batch. An exact id always wins; an ambiguous prefix is refused with its
candidates (exit 2); a prefix that matches nothing is passed through unchanged, so the command's
own "no such …" message names what was typed."""

from __future__ import annotations

import os
from collections.abc import Iterable

from repo_store.cases import CASES_DIR, SPLITS
from repo_store.errors import UsageError
from repo_store.repo import MAIN, CaseRepo

LATEST = "latest"
SHOWN = 8  # candidates listed in an ambiguity error
MODEL_PREFIX = "sha256:"


def _pick(kind: str, text: str, candidates: Iterable[str]) -> str:
    known = sorted(set(candidates))
    if text in known:
        return text
    matches = [c for c in known if c.startswith(text)] if text else []
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        shown = ", ".join(matches[:SHOWN]) + (f" and {len(matches) - SHOWN} more"
                                             if len(matches) > SHOWN else "")
        raise UsageError(f"{kind} {text!r} is ambiguous: {len(matches)} match ({shown}); "
                         f"give more characters")
    return text


# cases ---------------------------------------------------------------------------------------

def case_candidates(repo: CaseRepo) -> list[str]:
    """Ids of the case files in the work tree (file names only: no parsing, no git)."""
    found: list[str] = []
    for split in SPLITS:
        try:
            names = os.listdir(repo.root / CASES_DIR / split)
        except FileNotFoundError:
            continue
        found += [n[:-5] for n in names if n.endswith(".json") and not n.startswith(".")]
    return found


def case_id(repo: CaseRepo, text: str) -> str:
    return _pick("case id", text, case_candidates(repo))


def case_ids(repo: CaseRepo, texts: Iterable[str]) -> list[str]:
    known = case_candidates(repo)
    return [_pick("case id", t, known) for t in texts]


# batches -------------------------------------------------------------------------------------

def _bare_batch(text: str) -> str:
    from repo_store.batch_branches import BRANCH_PREFIX

    return text.removeprefix("refs/heads/").removeprefix(BRANCH_PREFIX)


def batch_candidates(repo: CaseRepo, rejected: bool = True) -> list[str]:
    """Open batches (branches), merged ones (manifests on main) and, unless told otherwise,
    rejected ones (archive tags), so that a prefix reaches the command's own message."""
    from repo_store import gitio
    from repo_store.batch_branches import BRANCH_PREFIX, REJECTED_PREFIX

    found = [b.removeprefix(BRANCH_PREFIX) for b in gitio.branches(repo.git, f"{BRANCH_PREFIX}*")]
    if gitio.rev(repo.git, f"refs/heads/{MAIN}"):
        found += [path.removeprefix("batches/").removesuffix(".json")
                  for path in gitio.ls_tree(repo.git, MAIN, "batches")]
    if rejected:
        found += [t.removeprefix(REJECTED_PREFIX) for t in gitio.tags(repo.git, f"{REJECTED_PREFIX}*")]
    return sorted(set(found))


def latest_batch(repo: CaseRepo) -> str:
    """The batch created last (open or merged; rejected ones are closed). Manifests record whole
    seconds: on a tie an open batch wins over a merged one; open ones tied are refused."""
    from repo_store import gitio, jsonio
    from repo_store.batch_branches import branch_name, manifest_path

    ids = batch_candidates(repo, rejected=False)
    if not ids:
        raise UsageError("no batches yet: `latest` names nothing (create one with `straw batch create`)")
    merged = {p.removeprefix("batches/").removesuffix(".json")
              for p in gitio.ls_tree(repo.git, MAIN, "batches")}
    names = {i: f"{MAIN if i in merged else branch_name(i)}:{manifest_path(i)}" for i in ids}
    raw = gitio.read_objects(repo.git, list(names.values()))
    created: dict[str, str] = {}
    for batch, name in names.items():
        blob = raw.get(name)
        try:
            data = jsonio.loads(blob) if blob else None
        except ValueError:
            data = None
        created[batch] = str(data.get("created", "")) if isinstance(data, dict) else ""
    newest = max(created.values())
    tied = sorted(i for i in ids if created[i] == newest)
    if len(tied) > 1 and any(i not in merged for i in tied):
        tied = [i for i in tied if i not in merged]  # a merged batch is finished work
    if len(tied) > 1:  # manifests record seconds: which came last is not known
        raise UsageError(f"`latest` is ambiguous: batches {', '.join(tied)} were created in the same "
                         f"second ({newest}); name one")
    return tied[0]


def batch_id(repo: CaseRepo, text: str) -> str:
    """`ID`, `batch/ID`, a unique prefix of either, or `latest` → the batch id."""
    if text == LATEST:
        return latest_batch(repo)
    bare = _bare_batch(text)
    if not bare or "/" in bare:
        return text  # not a batch name at all: the command's own check says so
    return _pick("batch id", bare, batch_candidates(repo))


# models --------------------------------------------------------------------------------------

def model_candidates(repo: CaseRepo, production_only: bool = False) -> list[str]:
    """Models ever in production on main (models.lock's history) and, unless `production_only`,
    the models in the local model store."""
    from repo_store.lockfile import lock_history

    found = {v.lock["model"] for v in lock_history(repo)}
    if not production_only:
        try:
            found |= {MODEL_PREFIX + n for n in os.listdir(repo.model_store)
                      if len(n) == 64 and all(ch in "0123456789abcdef" for ch in n)}
        except (FileNotFoundError, NotADirectoryError):
            pass
    return sorted(found)


def model_hash(repo: CaseRepo, text: str, production_only: bool = False) -> str:
    """`sha256:<hex>`, a unique prefix of it, or of its hex → the full model hash."""
    want = text if text.startswith(MODEL_PREFIX) else MODEL_PREFIX + text
    picked = _pick("model", want, model_candidates(repo, production_only))
    return picked if picked != want else text
