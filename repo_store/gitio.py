"""Every git operation straw performs, as a typed function, and the one place (`_error`) where
git's failures become straw's `GitError`.

Most functions run the git command line. GitPython is used for three things only, and imported
on first use (it costs ~80 ms; `straw add` and `straw log CASE` never import it): opening a
repository (`open_repo`), its long-lived `git cat-file --batch` process for many small reads
(`rev`, `read_file`, `read_blob`), and writing loose blobs from memory (`store_blob`).

Functions take `where`: a GitPython `Repo` (commands that read a lot) or the work tree's `Path`
(the curation hot path, which never opens GitPython).

Two ways to write:
- the checked-out branch (normally main) is written with porcelain in the work tree, so the user
  sees the change as files (`commit_paths`);
- any other branch (a batch branch) is written with plumbing through a temporary index
  (`read-tree`, `update-index`, `write-tree`, `commit-tree`, `update-ref`): no checkout, no
  disturbed work tree, and `update-ref` with the old value makes the step atomic — an interrupted
  write leaves the branch as it was.

GitPython's own `index.add`/`index.move` are avoided: on 10,000 files they cost 30 s and 0.7 s per
commit, while the git CLI does the same in about 0.1 s."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING

from repo_store.errors import GitError, NotARepository, UsageError

if TYPE_CHECKING:
    from git import Repo

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
ZERO = "0" * 40


@dataclass(frozen=True)
class Blob:
    """An object already in the repository (used to move a file without re-hashing it)."""

    sha: str


# ---- the one way to run git and the one mapping of its failures --------------------------------


def _error(args: list[str] | tuple[str, ...], stderr: bytes | str) -> GitError:
    detail = stderr.decode(errors="replace") if isinstance(stderr, bytes) else stderr
    detail = " ".join(detail.split())
    return GitError(f"git {args[0] if args else ''}: {detail or 'failed'}")


def _cwd(where: Repo | Path) -> str:
    if isinstance(where, Path):
        return str(where)
    return str(where.working_tree_dir or where.git_dir)


def run_bytes(where: Repo | Path, *args: str, env: Mapping[str, str] | None = None,
              stdin: bytes | None = None, check: bool = True) -> subprocess.CompletedProcess[bytes]:
    """git `args` in the repository; raises GitError on a non-zero exit unless `check` is False."""
    proc = subprocess.run(["git", *args], cwd=_cwd(where), input=stdin, capture_output=True,
                          env={**os.environ, **env} if env else None)
    if check and proc.returncode:
        raise _error(args, proc.stderr)
    return proc


def run(where: Repo | Path, *args: str, env: Mapping[str, str] | None = None,
        stdin: str | None = None, strip: bool = True) -> str:
    """git `args`' standard output as text (trailing newlines removed when `strip`)."""
    proc = run_bytes(where, *args, env=env, stdin=None if stdin is None else stdin.encode())
    out = proc.stdout.decode("utf-8", errors="replace")
    return out.rstrip("\n") if strip else out


# ---- finding and opening a repository -----------------------------------------------------------


def find_root(path: str | os.PathLike[str] | None = None) -> tuple[Path, Path]:
    """(work tree root, git dir) of the repository around `path`, found by walking up."""
    start = Path(path or ".").resolve()
    if not start.exists():
        raise NotARepository(f"{start}: no such folder")
    for folder in (start, *start.parents):
        dot_git = folder / ".git"
        if dot_git.is_dir():
            return folder, dot_git
        if dot_git.is_file():  # a linked worktree or submodule: "gitdir: <path>"
            target = dot_git.read_text().partition("gitdir:")[2].strip()
            return folder, (folder / target).resolve()
    raise NotARepository(f"{start}: not a git repository (run `straw init` there first)")


def common_dir(git_dir: Path) -> Path:
    """The git directory shared by all linked worktrees (`git_dir` itself in a plain clone)."""
    pointer = git_dir / "commondir"
    if pointer.is_file():
        return (git_dir / pointer.read_text().strip()).resolve()
    return git_dir


def open_repo(path: str | os.PathLike[str] | None = None) -> Repo:
    import git
    from git.exc import InvalidGitRepositoryError, NoSuchPathError

    start = Path(path or ".").resolve()
    if not start.exists():
        raise NotARepository(f"{start}: no such folder")
    try:
        return git.Repo(start, search_parent_directories=True)
    except (InvalidGitRepositoryError, NoSuchPathError):
        raise NotARepository(
            f"{start}: not a git repository (run `straw init` there first)"
        ) from None


def init_repo(path: Path) -> Repo:
    import git
    from git.exc import InvalidGitRepositoryError

    path.mkdir(parents=True, exist_ok=True)
    try:
        return git.Repo(path)
    except InvalidGitRepositoryError:
        return git.Repo.init(path, initial_branch="main")


def root(repo: Repo) -> Path:
    if repo.working_tree_dir is None:
        raise UsageError(f"{repo.git_dir}: a bare repository has no cases to curate")
    return Path(repo.working_tree_dir)


# ---- reading ------------------------------------------------------------------------------------


def rev(where: Repo | Path, spec: str) -> str | None:
    """The object id `spec` names, or None when it names nothing. With a Repo it is asked of
    GitPython's long-lived `git cat-file --batch-check` process (a gate check makes a dozen of
    these); with a Path, of `git rev-parse` (no GitPython import)."""
    if not spec or "\n" in spec:
        return None
    if isinstance(where, Path):
        proc = run_bytes(where, "rev-parse", "--verify", "--quiet", "--end-of-options", spec,
                         check=False)
        return (proc.stdout.decode().strip() or None) if proc.returncode == 0 else None
    try:
        sha: bytes | str = where.git.get_object_header(spec)[0]  # bytes, whatever its stub says
    except ValueError:
        return None
    return sha.decode("ascii") if isinstance(sha, bytes) else sha


def head_branch(where: Repo | Path) -> str | None:
    """The checked-out branch, read from HEAD (None when detached). A Path is the git dir."""
    git_dir = where if isinstance(where, Path) else Path(where.git_dir)
    head = (git_dir / "HEAD").read_text().strip()
    return head.removeprefix("ref: refs/heads/") if head.startswith("ref: refs/heads/") else None


def head_commit(where: Repo | Path) -> str | None:
    return rev(where, "HEAD")


def has_commits(where: Repo | Path) -> bool:
    return rev(where, "HEAD") is not None


def identity(where: Repo | Path) -> str:
    """`Name <email>` as git would record the author."""
    try:
        ident = run(where, "var", "GIT_AUTHOR_IDENT")
    except GitError:
        raise UsageError("git identity unknown: set `git config user.name` and `user.email`") from None
    return ident.rsplit(" ", 2)[0]


def is_ancestor(where: Repo | Path, older: str, newer: str) -> bool:
    return run_bytes(where, "merge-base", "--is-ancestor", older, newer, check=False).returncode == 0


def tree_of(repo: Repo, ref: str, path: str) -> str:
    """Tree id of `path` at `ref`; the empty tree's id when the path does not exist there."""
    return rev(repo, f"{ref}^{{commit}}:{path}") or EMPTY_TREE


def _refs(where: Repo | Path, pattern: str) -> list[str]:
    out = run(where, "for-each-ref", "--format=%(refname:short)", pattern)
    return [line for line in out.splitlines() if line]


def branches(where: Repo | Path, pattern: str) -> list[str]:
    return _refs(where, f"refs/heads/{pattern}")


def tags(where: Repo | Path, pattern: str) -> list[str]:
    return _refs(where, f"refs/tags/{pattern}")


def ls_tree(where: Repo | Path, ref: str, path: str) -> dict[str, str]:
    """{file path: blob id} for every file under `path` at `ref`."""
    out = run(where, "ls-tree", "-r", "-z", "--full-tree", ref, "--", path)
    files: dict[str, str] = {}
    for entry in out.split("\0"):
        if not entry:
            continue
        meta, name = entry.split("\t", 1)
        files[name] = meta.split()[2]
    return files


def ls_tree_modes(where: Repo | Path, ref: str, path: str) -> dict[str, tuple[str, str]]:
    """{file path: (mode, blob id)} under `path` at `ref`: what a reader must know before it
    reads a blob (a symlink is mode 120000). Sizes: object_sizes, for the blobs it will read."""
    out = run(where, "ls-tree", "-r", "-z", "--full-tree", ref, "--", path)
    files: dict[str, tuple[str, str]] = {}
    for entry in out.split("\0"):
        if entry:
            meta, name = entry.split("\t", 1)
            mode, _, sha = meta.split()
            files[name] = (mode, sha)
    return files


def object_sizes(where: Repo | Path, shas: list[str]) -> dict[str, int]:
    """Sizes of objects by id, in one `git cat-file --batch-check` (a 200 MB blob is refused
    from its size, never read); -1 for an id that names nothing."""
    if not shas:
        return {}
    out = run_bytes(where, "cat-file", "--batch-check=%(objectsize)",
                    stdin="\n".join(shas).encode() + b"\n").stdout.decode()
    lines = out.split("\n")
    return {sha: int(line) if line.isdigit() else -1 for sha, line in zip(shas, lines, strict=False)}


def read_blob(repo: Repo, sha: str) -> bytes:
    # GitPython keeps one `git cat-file --batch` process alive for these reads.
    data: bytes = repo.git.get_object_data(sha)[3]
    return data


def read_objects(where: Repo | Path, names: list[str]) -> dict[str, bytes | None]:
    """Many objects (ids or `rev:path` names) in one `git cat-file --batch` run, None for a name
    that names nothing: 10,000 case files in ~0.1 s, where asking the long-lived process one
    object at a time costs ~0.7 s in round trips."""
    if not names:
        return {}
    out = run_bytes(where, "cat-file", "--batch", stdin="\n".join(names).encode() + b"\n").stdout
    found: dict[str, bytes | None] = {}
    at = 0
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


def read_blobs(where: Repo | Path, shas: list[str]) -> dict[str, bytes]:
    """Blobs by id, all of which must exist (see read_objects)."""
    found = read_objects(where, shas)
    blobs: dict[str, bytes] = {}
    for sha, data in found.items():
        if data is None:
            raise GitError(f"git cat-file: object {sha} is missing")
        blobs[sha] = data
    return blobs


def read_file(repo: Repo, ref: str, path: str) -> bytes | None:
    """The file at `ref:path`, or None when it does not exist there: one request to the
    long-lived `git cat-file --batch` process, no subprocess per file."""
    try:
        data: bytes = repo.git.get_object_data(f"{ref}:{path}")[3]
        return data
    except ValueError:  # "<ref>:<path> missing"
        return None


@dataclass(frozen=True)
class FileChange:
    status: str  # A, D or M
    path: str
    old: str | None  # blob ids: read them with read_blob, no path lookup in a 10,000-entry tree
    new: str | None


def diff_files(where: Repo | Path, a: str, b: str, path: str = ".") -> list[FileChange]:
    """Files under `path` that differ between commits a and b, with their blob ids on each side."""
    out = run(where, "diff-tree", "-r", "-z", "--no-renames", a, b, "--", path)
    parts = [p for p in out.split("\0") if p]
    changes = []
    for meta, name in zip(parts[0::2], parts[1::2], strict=False):
        _, _, old, new, status = meta.lstrip(":").split()
        changes.append(FileChange(status[0], name, None if set(old) == {"0"} else old,
                                  None if set(new) == {"0"} else new))
    return changes


def dirty_paths(where: Repo | Path, path: str = ".") -> list[str]:
    out = run(where, "status", "--porcelain", "-z", "--untracked-files=all", "--", path)
    return [entry[3:] for entry in out.split("\0") if len(entry) > 3]


# ---- writing the checked-out branch (porcelain, in the work tree) -----------------------------


def commit_paths(root: Path, paths: list[str], message: str, sign: bool = False) -> None:
    """Commit exactly `paths` (added, changed or removed in the work tree) on the current branch.
    Hooks are skipped: straw validated these files itself; the hooks stop writes that bypass it."""
    run(root, "add", "-A", "--", *paths)
    staged = {p for p in run(root, "diff", "--cached", "--name-only", "--no-renames", "-z").split("\0") if p}
    signed = ["-S"] if sign else []
    if staged <= set(paths):  # nothing else staged: a plain commit, ~2x faster on a 10,000-file index
        run(root, "commit", "--no-verify", "-q", *signed, "-m", message)
    else:  # the user staged other work: commit only ours (a pathspec commit) and leave theirs staged
        run(root, "commit", "--no-verify", "-q", *signed, "-m", message, "--", *paths)


def verify_commit(where: Repo | Path, commit: str, allowed_signers: bytes) -> str | None:
    """None when `commit` carries a good signature by a key in `allowed_signers` (the ssh
    allowed-signers format), else why not. GPG signatures are checked by gpg's own keyring."""
    fd, name = tempfile.mkstemp(prefix="straw-allowed-signers-")
    try:
        os.write(fd, allowed_signers)
        os.close(fd)
        proc = run_bytes(where, "-c", f"gpg.ssh.allowedSignersFile={name}", "verify-commit", commit,
                         check=False)
    finally:
        os.unlink(name)
    if proc.returncode == 0:
        return None
    detail = " ".join(proc.stderr.decode(errors="replace").split())
    return detail or "no signature"


def unstage(root: Path, paths: list[str]) -> None:
    if paths:
        run(root, "reset", "-q", "--", *paths)


# ---- writing any branch (plumbing, no work tree) ----------------------------------------------


def store_blob(repo: Repo, data: bytes) -> str:
    from gitdb.base import IStream

    hexsha = repo.odb.store(IStream("blob", len(data), BytesIO(data))).hexsha
    return hexsha.decode("ascii") if isinstance(hexsha, bytes) else str(hexsha)


@contextmanager
def _temp_index(repo: Repo) -> Iterator[dict[str, str]]:
    """The environment of a git run that uses a fresh, private index file."""
    fd, name = tempfile.mkstemp(prefix="straw-index-", dir=repo.git_dir)
    os.close(fd)
    os.unlink(name)  # git refuses an empty file as an index; it creates it
    try:
        yield {"GIT_INDEX_FILE": name}
    finally:
        if os.path.exists(name):
            os.unlink(name)


def write_tree(repo: Repo, base: str | None, changes: Mapping[str, bytes | Blob | None]) -> str:
    """The tree id of commit `base` (None: empty) with `changes` applied: bytes = new content,
    Blob = an existing object, None = delete."""
    lines = []
    for path, value in changes.items():
        if value is None:
            lines.append(f"0 {ZERO}\t{path}")
        else:
            sha = value.sha if isinstance(value, Blob) else store_blob(repo, value)
            lines.append(f"100644 {sha}\t{path}")
    with _temp_index(repo) as env:
        if base:
            run(repo, "read-tree", base, env=env)
        if lines:
            run(repo, "update-index", "--index-info", env=env, stdin="\n".join(lines) + "\n")
        return run(repo, "write-tree", env=env)


def commit_tree(repo: Repo | Path, tree: str, parents: list[str], message: str,
                sign: bool = False) -> str:
    """A commit object; `sign`: signed with the user's configured key (user.signingkey)."""
    args = ["commit-tree", *(["-S"] if sign else []), tree]
    for parent in parents:
        args += ["-p", parent]
    return run(repo, *args, "-F", "-", stdin=message)


def update_ref(where: Repo | Path, branch: str, new: str, old: str | None) -> None:
    """Point `branch` at `new` only if it still points at `old` (None: must not exist yet)."""
    proc = run_bytes(where, "update-ref", "-m", "straw", f"refs/heads/{branch}", new, old or ZERO,
                     check=False)
    if proc.returncode:
        raise GitError(f"branch {branch} moved while straw was writing it; try again "
                       f"({' '.join(proc.stderr.decode(errors='replace').split())})")


def advance_branch(repo: Repo, branch: str, new: str, old: str | None) -> None:
    """Point `branch` at `new` only if it still points at `old`. When the branch is checked out,
    the index and files follow with a two-tree `read-tree -m -u`, which keeps local edits."""
    update_ref(repo, branch, new, old)
    if head_branch(repo) == branch and old:
        run(repo, "read-tree", "-m", "-u", old, new)
    gc_auto(repo)


STRAW_GC_AUTO = 1000  # loose objects before straw's writes pack them; git's own default is 6,700


def gc_auto(where: Repo | Path) -> None:
    """`git gc --auto`, as porcelain commands run it after they write: plumbing never does. Git
    checks a sample of the object store and returns at once unless packing is due, which it then
    does in the background (gc.autoDetach). straw packs sooner than git's default unless the
    repository sets gc.auto: its merges write ~14 objects each, some of them 1 MB reports, and a
    main with 500 merges and 7,000 loose objects made `git log` over it 5x slower than packed."""
    configured = run_bytes(where, "config", "--get", "gc.auto", check=False).returncode == 0
    args = ("gc", "--auto", "--quiet") if configured else \
        ("-c", f"gc.auto={STRAW_GC_AUTO}", "gc", "--auto", "--quiet")
    run_bytes(where, *args, check=False)  # housekeeping only: a failed gc changes nothing


def commit_to_branch(repo: Repo, branch: str, changes: Mapping[str, bytes | Blob | None],
                     message: str, start: str | None = None) -> str:
    """Commit `changes` on `branch` without touching the work tree (creating the branch at
    `start` if it does not exist). Returns the new commit id."""
    old = rev(repo, f"refs/heads/{branch}")
    parent = old or (rev(repo, start) if start else None)
    tree = write_tree(repo, parent, changes)
    commit = commit_tree(repo, tree, [parent] if parent else [], message)
    advance_branch(repo, branch, commit, old)
    return commit


def merge_tree(where: Repo | Path, ours: str, theirs: str) -> tuple[str | None, list[str]]:
    """(tree id of the merge, []) or (None, [conflicting paths]) without touching any work tree
    (`git merge-tree --write-tree`, git ≥ 2.38)."""
    proc = run_bytes(where, "merge-tree", "--write-tree", "--name-only", "--no-messages", ours,
                     theirs, check=False)
    lines = proc.stdout.decode(errors="replace").splitlines()
    if proc.returncode == 0 and lines:
        return lines[0], []
    if proc.returncode == 1 and lines and len(lines[0]) == 40:
        return None, [ln for ln in lines[1:] if ln]
    raise _error(["merge-tree"], proc.stderr)


def fast_import(root: Path, ref: str, parent: str | None, files: Mapping[str, bytes],
                message: str) -> str:
    """Commit `files` ({path: content}, mode 100644) on top of `parent` as `ref`, with one
    `git fast-import`: 50,000 new case files in seconds, where one loose object per file through
    gitdb took minutes. Paths travel in the stream, never in argv (no ARG_MAX). Nothing outside
    `ref` changes: the caller moves the branch. Returns the commit."""

    def ident(kind: str) -> bytes:
        proc = run_bytes(root, "var", f"GIT_{kind}_IDENT", check=False)
        if proc.returncode:
            raise UsageError("git identity unknown: set `git config user.name` and `user.email`")
        return proc.stdout.strip()

    body = message.encode("utf-8")
    parts = [b"feature done\n"]
    for mark, content in enumerate(files.values(), 1):
        parts.append(b"blob\nmark :%d\ndata %d\n%s\n" % (mark, len(content), content))
    parts.append(b"commit %s\nauthor %s\ncommitter %s\ndata %d\n%s\n"
                 % (ref.encode(), ident("AUTHOR"), ident("COMMITTER"), len(body), body))
    if parent:
        parts.append(b"from %s\n" % parent.encode())
    for mark, path in enumerate(files, 1):
        quoted = path.encode("utf-8").replace(b"\\", b"\\\\").replace(b'"', b'\\"')
        parts.append(b'M 100644 :%d "%s"\n' % (mark, quoted))
    parts.append(b"\ndone\n")
    started = time.time() - 1
    proc = run_bytes(root, "fast-import", "--quiet", "--force", stdin=b"".join(parts), check=False)
    if proc.returncode:
        # a failed fast-import leaves its partial pack and a crash report: on a full disk they
        # are what fills it, so they go (only ones made since this run started)
        git_dir = Path(run(root, "rev-parse", "--absolute-git-dir"))
        for leftover in [*git_dir.glob("objects/pack/tmp_pack_*"), *git_dir.glob("fast_import_crash_*")]:
            try:
                if leftover.stat().st_mtime >= started:
                    leftover.unlink()
            except OSError:
                pass
        detail = [line.removeprefix("fatal: ") for line in
                  proc.stderr.decode(errors="replace").strip().splitlines()]
        raise GitError(f"git fast-import: {detail[0] if detail else 'failed'}; nothing was written")
    return rev(root, ref) or ""
