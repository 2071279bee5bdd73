"""Every git operation straw performs, as a typed function. This is the one module that imports
GitPython; its exceptions become `GitError`/`NotARepository` here and nowhere else.

Two ways to write:
- the checked-out branch (normally main) is written with porcelain in the work tree, so the user
  sees the change as files;
- any other branch (a batch branch) is written with plumbing through a temporary index
  (`read-tree`, `update-index`, `write-tree`, `commit-tree`, `update-ref`): no checkout, no
  disturbed work tree, and `update-ref` with the old value makes the step atomic — an interrupted
  write leaves the branch as it was.

GitPython's own `index.add`/`index.move` are avoided: on 10,000 files they cost 30 s and 0.7 s per
commit, while the git CLI through `repo.git` does the same in about 0.1 s."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import git
from git.exc import GitCommandError, InvalidGitRepositoryError, NoSuchPathError

from repo_store.errors import GitError, NotARepository, UsageError

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
Repo = git.Repo


@dataclass(frozen=True)
class Blob:
    """An object already in the repository (used to move a file without re-hashing it)."""

    sha: str


def _fail(err: GitCommandError) -> GitError:
    detail = (err.stderr or err.stdout or str(err)).strip().replace("\n", " ")
    detail = detail.removeprefix("stderr: ").strip("' ")
    return GitError(f"git {err.command[1] if len(err.command) > 1 else ''}: {detail}")


def open_repo(path: str | os.PathLike[str] | None = None) -> git.Repo:
    start = Path(path or ".").resolve()
    if not start.exists():
        raise NotARepository(f"{start}: no such folder")
    try:
        return git.Repo(start, search_parent_directories=True)
    except (InvalidGitRepositoryError, NoSuchPathError):
        raise NotARepository(
            f"{start}: not a git repository (run `straw init` there first)"
        ) from None


def init_repo(path: Path) -> git.Repo:
    path.mkdir(parents=True, exist_ok=True)
    try:
        return git.Repo(path)
    except InvalidGitRepositoryError:
        return git.Repo.init(path, initial_branch="main")


def run(repo: git.Repo, *args: str, env: Mapping[str, str] | None = None,
        stdin: str | None = None, strip: bool = True) -> str:
    try:
        return repo.git.execute(
            ["git", *args], env=dict(env) if env else None, istream=None,
            strip_newline_in_stdout=strip,
        ) if stdin is None else _run_stdin(repo, list(args), stdin, env)
    except GitCommandError as err:
        raise _fail(err) from None


def _run_stdin(repo: git.Repo, args: list[str], stdin: str,
               env: Mapping[str, str] | None) -> str:
    import subprocess

    proc = subprocess.run(
        ["git", *args], cwd=repo.working_tree_dir or repo.git_dir, input=stdin.encode(),
        capture_output=True, env={**os.environ, **(env or {})},
    )
    if proc.returncode:
        raise GitError(f"git {args[0]}: {proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout.decode().rstrip("\n")


def root(repo: git.Repo) -> Path:
    if repo.working_tree_dir is None:
        raise UsageError(f"{repo.git_dir}: a bare repository has no cases to curate")
    return Path(repo.working_tree_dir)


def rev(repo: git.Repo, spec: str) -> str | None:
    """The object id `spec` names, or None when it names nothing. Asked of GitPython's long-lived
    `git cat-file --batch-check` process: a gate check makes a dozen of these."""
    if not spec or "\n" in spec:
        return None
    try:
        return repo.git.get_object_header(spec)[0].decode("ascii")
    except ValueError:
        return None


def head_branch(repo: git.Repo) -> str | None:
    try:
        return repo.git.symbolic_ref("--quiet", "--short", "HEAD")
    except GitCommandError:
        return None


def has_commits(repo: git.Repo) -> bool:
    return rev(repo, "HEAD") is not None


def tree_of(repo: git.Repo, ref: str, path: str) -> str:
    """Tree id of `path` at `ref`; the empty tree's id when the path does not exist there."""
    return rev(repo, f"{ref}^{{commit}}:{path}") or EMPTY_TREE


def branches(repo: git.Repo, pattern: str) -> list[str]:
    out = repo.git.for_each_ref("--format=%(refname:short)", f"refs/heads/{pattern}")
    return [line for line in out.splitlines() if line]


def tags(repo: git.Repo, pattern: str) -> list[str]:
    out = repo.git.for_each_ref("--format=%(refname:short)", f"refs/tags/{pattern}")
    return [line for line in out.splitlines() if line]


def ls_tree(repo: git.Repo, ref: str, path: str) -> dict[str, str]:
    """{file path: blob id} for every file under `path` at `ref`."""
    try:
        out = repo.git.ls_tree("-r", "-z", "--full-tree", ref, "--", path)
    except GitCommandError as err:
        raise _fail(err) from None
    files: dict[str, str] = {}
    for entry in out.split("\0"):
        if not entry:
            continue
        meta, name = entry.split("\t", 1)
        files[name] = meta.split()[2]
    return files


def ls_tree_modes(repo: git.Repo, ref: str, path: str) -> dict[str, tuple[str, str]]:
    """{file path: (mode, blob id)} under `path` at `ref`: what a reader must know before it
    reads a blob (a symlink is mode 120000). Sizes: object_sizes, for the blobs it will read."""
    try:
        out = repo.git.ls_tree("-r", "-z", "--full-tree", ref, "--", path)
    except GitCommandError as err:
        raise _fail(err) from None
    files: dict[str, tuple[str, str]] = {}
    for entry in out.split("\0"):
        if entry:
            meta, name = entry.split("\t", 1)
            mode, _, sha = meta.split()
            files[name] = (mode, sha)
    return files


def object_sizes(repo: git.Repo, shas: list[str]) -> dict[str, int]:
    """Sizes of objects by id, in one `git cat-file --batch-check` (a 200 MB blob is refused
    from its size, never read); -1 for an id that names nothing."""
    if not shas:
        return {}
    import subprocess

    proc = subprocess.run(["git", "cat-file", "--batch-check=%(objectsize)"], cwd=repo.git_dir,
                          input="\n".join(shas).encode() + b"\n", capture_output=True)
    lines = proc.stdout.decode().split("\n")
    return {sha: int(line) if line.isdigit() else -1 for sha, line in zip(shas, lines, strict=False)}


def read_blob(repo: git.Repo, sha: str) -> bytes:
    # GitPython keeps one `git cat-file --batch` process alive for these reads.
    return repo.git.get_object_data(sha)[3]


def read_objects(repo: git.Repo, names: list[str]) -> dict[str, bytes | None]:
    """Many objects (ids or `rev:path` names) in one `git cat-file --batch` run, None for a name
    that names nothing: 10,000 case files in ~0.1 s, where asking the long-lived process one
    object at a time costs ~0.7 s in round trips."""
    if not names:
        return {}
    import subprocess

    proc = subprocess.run(
        ["git", "cat-file", "--batch"], cwd=repo.git_dir, input="\n".join(names).encode() + b"\n",
        capture_output=True,
    )
    if proc.returncode:
        raise GitError(f"git cat-file: {proc.stderr.decode(errors='replace').strip()}")
    out, found, at = proc.stdout, {}, 0
    for name in names:
        end = out.index(b"\n", at)
        header = out[at:end].split(b" ")
        if len(header) != 3 or not header[2].isdigit():  # "<name> missing" / "ambiguous"
            found[name], at = None, end + 1
            continue
        size = int(header[2])
        found[name] = out[end + 1:end + 1 + size]
        at = end + 2 + size
    return found


def read_blobs(repo: git.Repo, shas: list[str]) -> dict[str, bytes]:
    """Blobs by id, all of which must exist (see read_objects)."""
    found = read_objects(repo, shas)
    missing = [sha for sha, data in found.items() if data is None]
    if missing:
        raise GitError(f"git cat-file: object {missing[0]} is missing")
    return found  # type: ignore[return-value]


def read_file(repo: git.Repo, ref: str, path: str) -> bytes | None:
    """The file at `ref:path`, or None when it does not exist there: one request to the
    long-lived `git cat-file --batch` process, no subprocess per file."""
    try:
        return repo.git.get_object_data(f"{ref}:{path}")[3]
    except ValueError:  # "<ref>:<path> missing"
        return None


def store_blob(repo: git.Repo, data: bytes) -> str:
    from gitdb.base import IStream

    hexsha = repo.odb.store(IStream("blob", len(data), BytesIO(data))).hexsha
    return hexsha.decode("ascii") if isinstance(hexsha, bytes) else hexsha


@dataclass(frozen=True)
class FileChange:
    status: str  # A, D or M
    path: str
    old: str | None  # blob ids: read them with read_blob, no path lookup in a 10,000-entry tree
    new: str | None


def diff_files(repo: git.Repo, a: str, b: str, path: str) -> list[FileChange]:
    """Files under `path` that differ between commits a and b, with their blob ids on each side."""
    out = repo.git.execute(["git", "diff-tree", "-r", "-z", "--no-renames", a, b, "--", path])
    parts = [p for p in out.split("\0") if p]
    changes = []
    for meta, name in zip(parts[0::2], parts[1::2], strict=False):
        _, _, old, new, status = meta.lstrip(":").split()
        changes.append(FileChange(status[0], name, None if set(old) == {"0"} else old,
                                  None if set(new) == {"0"} else new))
    return changes


@dataclass
class _TempIndex:
    repo: git.Repo
    env: dict[str, str]

    def git(self, *args: str, stdin: str | None = None) -> str:
        return _run_stdin(self.repo, list(args), stdin or "", self.env) if stdin is not None \
            else self.repo.git.execute(["git", *args], env=self.env)


@contextmanager
def _temp_index(repo: git.Repo) -> Iterator[_TempIndex]:
    fd, name = tempfile.mkstemp(prefix="straw-index-", dir=repo.git_dir)
    os.close(fd)
    os.unlink(name)  # git refuses an empty file as an index; it creates it
    try:
        yield _TempIndex(repo, {"GIT_INDEX_FILE": name})
    finally:
        if os.path.exists(name):
            os.unlink(name)


def write_tree(repo: git.Repo, base: str | None,
               changes: Mapping[str, bytes | Blob | None]) -> str:
    """The tree id of commit `base` (None: empty) with `changes` applied: bytes = new content,
    Blob = an existing object, None = delete."""
    lines = []
    for path, value in changes.items():
        if value is None:
            lines.append(f"0 {'0' * 40}\t{path}")
        else:
            sha = value.sha if isinstance(value, Blob) else store_blob(repo, value)
            lines.append(f"100644 {sha}\t{path}")
    with _temp_index(repo) as index:
        if base:
            index.git("read-tree", base)
        if lines:
            index.git("update-index", "--index-info", stdin="\n".join(lines) + "\n")
        return index.git("write-tree")


def commit_tree(repo: git.Repo, tree: str, parents: list[str], message: str) -> str:
    args = ["commit-tree", tree]
    for parent in parents:
        args += ["-p", parent]
    return _run_stdin(repo, [*args, "-F", "-"], message, None)


def advance_branch(repo: git.Repo, branch: str, new: str, old: str | None) -> None:
    """Point `branch` at `new` only if it still points at `old` (None: must not exist yet). When the
    branch is checked out, the work tree follows with `reset --keep`, which keeps local edits."""
    ref = f"refs/heads/{branch}"
    try:
        repo.git.update_ref("-m", "straw", ref, new, old or "0" * 40)
    except GitCommandError as err:
        raise GitError(f"branch {branch} moved while straw was writing it; try again "
                       f"({err.stderr.strip()})") from None
    if head_branch(repo) == branch and old:
        try:
            # two-tree merge: index and files go from old to new; local edits elsewhere survive
            repo.git.read_tree("-m", "-u", old, new)
        except GitCommandError as err:
            raise _fail(err) from None
    gc_auto(repo)


STRAW_GC_AUTO = 1000  # loose objects before straw's writes pack them; git's own default is 6,700


def gc_auto(repo: git.Repo) -> None:
    """`git gc --auto`, as porcelain commands run it after they write: plumbing never does. Git
    checks a sample of the object store and returns at once unless packing is due, which it then
    does in the background (gc.autoDetach). straw packs sooner than git's default unless the
    repository sets gc.auto: its merges write ~14 objects each, some of them 1 MB reports, and a
    main with 500 merges and 7,000 loose objects made `git log` over it 5x slower than packed."""
    try:
        configured = repo.git.config("--get", "gc.auto")
    except GitCommandError:  # not set
        configured = None
    try:
        if configured is None:
            repo.git.execute(["git", "-c", f"gc.auto={STRAW_GC_AUTO}", "gc", "--auto", "--quiet"])
        else:
            repo.git.gc("--auto", "--quiet")
    except GitCommandError:
        pass  # housekeeping only: a failed gc leaves the repository as it was


def commit_to_branch(repo: git.Repo, branch: str, changes: Mapping[str, bytes | Blob | None],
                     message: str, start: str | None = None) -> str:
    """Commit `changes` on `branch` without touching the work tree (creating the branch at
    `start` if it does not exist). Returns the new commit id."""
    old = rev(repo, f"refs/heads/{branch}")
    parent = old or (rev(repo, start) if start else None)
    tree = write_tree(repo, parent, changes)
    commit = commit_tree(repo, tree, [parent] if parent else [], message)
    advance_branch(repo, branch, commit, old)
    return commit


def merge_tree(repo: git.Repo, ours: str, theirs: str) -> tuple[str | None, list[str]]:
    """(tree id of the merge, []) or (None, [conflicting paths]) without touching any work tree
    (`git merge-tree --write-tree`, git ≥ 2.38)."""
    try:
        out = repo.git.merge_tree("--write-tree", "--name-only", "--no-messages", ours, theirs)
        return out.splitlines()[0], []
    except GitCommandError as err:
        lines = (err.stdout or "").strip().strip("'").splitlines()
        lines = [ln.removeprefix("stdout: '") for ln in lines]
        if lines and len(lines[0]) == 40:
            return None, [ln for ln in lines[1:] if ln]
        raise _fail(err) from None
