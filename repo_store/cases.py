"""Case files: reading them (from the work tree or from any git ref), checking them against the
case schema, and writing them atomically. A bad file becomes an `Issue`; the other cases load."""

from __future__ import annotations

import functools
import gc
import json
import marshal
import os
import stat
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from repo_store import jsonio, schemas
from repo_store.errors import Issue, ValidationFailed
from repo_store.ids import is_safe_id, unsafe_id_reason

if TYPE_CHECKING:
    from repo_store.gitio import Repo

CASES_DIR = "cases"
SPLITS = ("baseline", "pending")
FIELD_ORDER = ("id", "input", "expected", "match", "tags", "source", "created", "author",
               "notes", "meta")


@dataclass
class Case:
    data: dict[str, Any]
    split: str  # "baseline" or "pending"

    @property
    def id(self) -> str:
        return self.data["id"]

    @property
    def input(self) -> str | list[dict[str, str]]:
        return self.data["input"]

    @property
    def expected(self) -> Any:
        return self.data["expected"]

    @property
    def match(self) -> str:
        return self.data["match"]

    @property
    def tags(self) -> list[str]:
        return self.data.get("tags", [])

    @property
    def created(self) -> str:
        return self.data.get("created", "")

    @property
    def path(self) -> str:
        return case_path(self.split, self.id)

    @property
    def text(self) -> str:
        """The input as one string (chat messages joined by role), for search and display."""
        value = self.input
        if isinstance(value, str):
            return value
        return "\n".join(f"{m['role']}: {m['content']}" for m in value)


@dataclass
class CaseSet:
    cases: list[Case] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)

    def by_id(self) -> dict[str, Case]:
        return {c.id: c for c in self.cases}

    def split(self, name: str) -> list[Case]:
        return [c for c in self.cases if c.split == name]


def case_path(split: str, case_id: str) -> str:
    return f"{CASES_DIR}/{split}/{case_id}.json"


def serialize(data: dict[str, Any]) -> bytes:
    ordered = {k: data[k] for k in FIELD_ORDER if k in data}
    ordered.update({k: v for k, v in data.items() if k not in ordered})
    return (json.dumps(ordered, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _name_issues(data: dict[str, Any], path: str) -> list[Issue]:
    """What the schema cannot say: the file name must be the id, a regex rule must compile."""
    stem = path.rsplit("/", 1)[-1].removesuffix(".json")  # not Path(): 10,000 of them add up
    if data["id"] != stem:
        return [Issue(path, "$.id", f"id {data['id']!r} differs from the file name {stem!r}")]
    if data["match"] == "regex":
        from repo_store.matching import pattern_issue

        reason = pattern_issue(data["expected"])
        if reason:
            return [Issue(path, "$.expected", reason)]
    return []


def case_issues(data: Any, path: str) -> list[Issue]:
    """Schema faults, plus a file name that does not match the id."""
    issues = schemas.schema_issues("case", data, path)
    if not issues and isinstance(data, dict):
        issues = _name_issues(data, path)
    return issues


CHECKS_VERSION = b"2"  # bump when _name_issues checks more: caches of checked files start over


@functools.cache
def schema_tag() -> str:
    """A digest of the case schema: caches of checked cases are kept per schema version."""
    import hashlib

    schema = schemas.schema_dir() / "case.schema.json"
    return hashlib.blake2b(schema.read_bytes() + CHECKS_VERSION, digest_size=8).hexdigest()


class ValidCache:
    """Digests of case-file contents already found valid against the current case schema, kept in
    the git directory (see cache_dir). Content-addressed, so an edited file is simply a new digest:
    nothing can go stale, and a lost update only costs a re-validation. Loading 10,000 cases then
    pays for reading and parsing only, not for the schema (SPEC §1 still holds: every file is
    checked, once per content)."""

    DIGEST = 16

    def __init__(self, root: Path) -> None:
        self.tag = tag = schema_tag()
        self.path = cache_dir(root) / f"valid-cases-{tag}.bin"
        try:
            blob = self.path.read_bytes()
        except OSError:
            blob = b""
        size = self.DIGEST
        self.known = {blob[i:i + size] for i in range(0, len(blob) - len(blob) % size, size)}
        self.added: list[bytes] = []

    @classmethod
    def key(cls, raw: bytes) -> bytes:
        import hashlib

        return hashlib.blake2b(raw, digest_size=cls.DIGEST).digest()

    def save(self) -> None:
        if not self.added:
            return
        try:
            atomic_write(self.path, b"".join(self.known))
        except OSError:  # a read-only checkout still loads, only slower
            pass
        self.added = []


def cache_dir(root: Path) -> Path:
    """Where straw keeps its caches: inside the git directory (`.git/straw/cache/`), which no
    commit can write. A cache in the work tree could arrive by `git pull` (git overwrites ignored
    files on checkout) and vouch for files it never saw, or feed `marshal` bytes from anyone."""
    dot = root / ".git"
    if dot.is_dir():
        return dot / "straw" / "cache"
    if dot.is_file():  # a linked worktree or a submodule: "gitdir: <path>"
        text = dot.read_text("utf-8", errors="replace").strip()
        if text.startswith("gitdir:"):
            git_dir = Path(text.removeprefix("gitdir:").strip())
            return (git_dir if git_dir.is_absolute() else root / git_dir) / "straw" / "cache"
    return root / ".straw" / "cache"  # not a git work tree: nothing can check a cache in


MARSHAL_TAG = f"py{sys.version_info[0]}{sys.version_info[1]}"  # marshal's format is per Python version


def load_marshal(path: Path) -> dict[str, Any]:
    """A cache file written with `marshal` ({} when missing, unreadable or from another format)."""
    collecting = gc.isenabled()
    gc.disable()  # 10,000 new containers would trigger the cycle collector over and over: 2x slower
    try:
        loaded = marshal.loads(path.read_bytes())
    except (OSError, ValueError, EOFError, TypeError):
        loaded = {}
    finally:
        if collecting:
            gc.enable()
    return loaded if isinstance(loaded, dict) else {}


class ParsedCache:
    """Valid case files already parsed, keyed by each file's (mtime_ns, size, inode), in
    cache_dir() (git's index does the same for the work tree): loading 10,000 unchanged
    cases stats the files instead of reading, parsing and hashing them. A file whose stamp
    differs is read and checked again. A file modified within RACY_S of being cached could keep
    its stamp through a second edit, so it is not cached until it is older. Kept with `marshal`
    (case data is plain JSON values; several times faster to load than pickle or JSON), one file
    per Python version and case schema."""

    RACY_S = 2.0

    def __init__(self, root: Path, schema_tag: str) -> None:
        self.path = cache_dir(root) / f"parsed-cases-{schema_tag}-{MARSHAL_TAG}.marshal"
        self.old: dict[str, tuple[tuple[int, int, int], dict[str, Any]]] = load_marshal(self.path)
        self.new: dict[str, tuple[tuple[int, int, int], dict[str, Any]]] = {}
        self.racy_before = time.time_ns() - int(self.RACY_S * 1e9)

    def get(self, rel: str, stamp: tuple[int, int, int]) -> dict[str, Any] | None:
        hit = self.old.get(rel)
        if hit is None or hit[0] != stamp:
            return None
        self.new[rel] = hit
        return hit[1]

    def put(self, rel: str, stamp: tuple[int, int, int], data: dict[str, Any]) -> None:
        if stamp[0] < self.racy_before:
            self.new[rel] = (stamp, data)

    def save(self) -> None:
        if self.new.keys() == self.old.keys() and all(self.new[k] is self.old[k] for k in self.new):
            return
        try:  # a cache: no fsync, a lost write only costs a slower load
            atomic_write(self.path, marshal.dumps(self.new), durable=False)
        except (OSError, ValueError):
            pass


MAX_CASE_BYTES = 8 * 1024 * 1024  # far above any case the schema admits in practice


class UnsafeFile(Exception):
    """A case file refused before reading it; `str()` is the reason."""


def read_case_file(path: Path | str, limit: int = MAX_CASE_BYTES) -> bytes:
    """A case file's bytes, refusing what is not a plain file: a symlink is never followed (it
    could point at /dev/zero, at a secret, or at another case), and a file over MAX_CASE_BYTES
    is refused from its size, before a byte of it is read. Raises UnsafeFile or OSError."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError as err:
        if os.path.islink(path):
            raise UnsafeFile("is a symbolic link (refused, not followed)") from None
        raise err
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UnsafeFile("is not a regular file (refused, not read)")
        if st.st_size > limit:
            raise UnsafeFile(f"is {st.st_size:,} bytes (at most {limit:,}; refused, not read)")
        raw = fh.read(limit + 1)
    if len(raw) > limit:  # grew since the stat
        raise UnsafeFile(f"is over {limit:,} bytes (refused)")
    return raw


def read_issue(path: Path | str, rel: str, limit: int = MAX_CASE_BYTES,
               ) -> tuple[bytes | None, list[Issue]]:
    """read_case_file as (bytes, []) or (None, [the reason as an Issue])."""
    try:
        return read_case_file(path, limit), []
    except UnsafeFile as err:
        return None, [Issue(rel, "$", str(err))]
    except OSError as err:
        return None, [Issue(rel, "$", f"cannot be read: {err.strerror or err}")]


def parse(raw: bytes, path: str, split: str,
          cache: ValidCache | None = None) -> tuple[Case | None, list[Issue]]:
    if len(raw) > MAX_CASE_BYTES:
        return None, [Issue(path, "$", f"is {len(raw):,} bytes (at most {MAX_CASE_BYTES:,})")]
    try:
        data = jsonio.strict_loads(raw)
    except jsonio.BadJSON as err:
        return None, [Issue(path, "$", str(err))]
    key = cache.key(raw) if cache is not None else None
    if key is not None and key in cache.known:  # type: ignore[union-attr]
        issues = _name_issues(data, path)
    else:
        issues = schemas.schema_issues("case", data, path)
        if not issues:
            issues = _name_issues(data, path)
            if key is not None:
                cache.known.add(key)  # type: ignore[union-attr]
                cache.added.append(key)  # type: ignore[union-attr]
    return (None, issues) if issues else (Case(data, split), [])


def load_worktree(root: Path, splits: tuple[str, ...] = SPLITS) -> CaseSet:
    result = CaseSet()
    valid = ValidCache(root)
    parsed = ParsedCache(root, valid.tag)
    for split in splits:
        folder = root / CASES_DIR / split
        if not folder.is_dir():
            continue
        for entry in sorted(os.scandir(folder), key=lambda e: e.name):
            if not entry.name.endswith(".json") or entry.is_dir(follow_symlinks=False):
                continue
            rel = f"{CASES_DIR}/{split}/{entry.name}"
            st = entry.stat(follow_symlinks=False)
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
            data = parsed.get(rel, stamp) if stat.S_ISREG(st.st_mode) else None
            if data is not None:
                result.cases.append(Case(data, split))
                continue
            raw, issues = read_issue(entry.path, rel)
            if raw is None:
                result.issues += issues
                continue
            case, issues = parse(raw, rel, split, valid)
            result.issues += issues
            if case:
                result.cases.append(case)
                parsed.put(rel, stamp, case.data)
    valid.save()
    parsed.save()
    return result


class BlobCache:
    """Valid case files of committed trees, parsed, keyed by git blob id, in cache_dir().
    A blob id names its content, so an entry can never go stale: reading main's 10,000 cases for
    `straw batch create` then costs a tree listing, not 10,000 reads, parses and schema checks.
    Entries of blobs not seen lately are dropped once they outnumber the live ones."""

    def __init__(self, root: Path) -> None:
        self.path = cache_dir(root) / f"blob-cases-{schema_tag()}-{MARSHAL_TAG}.marshal"
        self.old: dict[str, dict[str, Any]] = load_marshal(self.path)
        self.seen: dict[str, dict[str, Any]] = {}
        self.added = 0

    def get(self, sha: str) -> dict[str, Any] | None:
        data = self.old.get(sha)
        if data is not None:
            self.seen[sha] = data
        return data

    def put(self, sha: str, data: dict[str, Any]) -> None:
        self.seen[sha] = data
        self.added += 1

    def save(self) -> None:
        kept = {**self.old, **self.seen}
        if len(kept) > 2 * len(self.seen) + 1000:
            kept = self.seen
        elif not self.added:
            return
        try:  # a cache: no fsync, a lost write only costs a slower load
            atomic_write(self.path, marshal.dumps(kept), durable=False)
        except (OSError, ValueError):
            pass


def load_ref(repo: Repo, ref: str, splits: tuple[str, ...] = SPLITS,
             cache_root: Path | None = None) -> CaseSet:
    """The cases as committed at `ref` (a branch, tag or commit), without checking it out. With
    `cache_root`, blobs checked before come from its BlobCache and the rest are read in one go."""
    result = CaseSet()
    from repo_store import gitio  # GitPython only when reading a ref

    files = gitio.ls_tree_modes(repo, ref, CASES_DIR)
    wanted = []
    for path in sorted(files):
        parts = path.split("/")
        if len(parts) == 3 and parts[1] in splits and parts[2].endswith(".json"):
            mode, sha = files[path]
            if mode == "120000":
                result.issues.append(Issue(path, "$", "is a symbolic link (refused, not followed)"))
            elif mode.startswith("100"):
                wanted.append((path, parts[1], sha))
    cache = BlobCache(cache_root) if cache_root is not None else None
    known = {sha: cache.get(sha) for _, _, sha in wanted} if cache else {}
    unknown = list(dict.fromkeys(sha for _, _, sha in wanted if known.get(sha) is None))
    sizes = gitio.object_sizes(repo, unknown)
    raw = gitio.read_blobs(repo, [sha for sha in unknown if sizes.get(sha, 0) <= MAX_CASE_BYTES])
    for path, split, sha in wanted:
        data = known.get(sha)
        if data is not None:  # valid content; the name is checked per path (a copy may be misnamed)
            issues = _name_issues(data, path)
            case = None if issues else Case(data, split)
        elif sha not in raw:
            case, issues = None, [Issue(path, "$", f"is {sizes[sha]:,} bytes (at most "
                                                   f"{MAX_CASE_BYTES:,}; refused, not read)")]
        else:
            case, issues = parse(raw[sha], path, split)
            if case and cache:
                cache.put(sha, case.data)
        result.issues += issues
        if case:
            result.cases.append(case)
    if cache:
        cache.save()
    return result


def check_new(data: dict[str, Any], split: str) -> bytes:
    """Validate a case about to be written; return its bytes. Raises ValidationFailed."""
    case_id = data.get("id")
    path = case_path(split, case_id if isinstance(case_id, str) and is_safe_id(case_id) else "?")
    if isinstance(case_id, str) and not is_safe_id(case_id):
        raise ValidationFailed([Issue(path, "$.id", unsafe_id_reason(case_id))])
    issues = case_issues(data, path)
    if issues:
        raise ValidationFailed(issues)
    try:
        return serialize(data)
    except UnicodeEncodeError:  # a lone surrogate (bytes that were not UTF-8, smuggled as str)
        raise ValidationFailed([Issue(path, "$", "holds text that is not valid UTF-8")]) from None


def atomic_write(path: Path, content: bytes, durable: bool = True) -> None:
    """Temp file in the same folder, fsync (unless `durable` is off: caches), rename: a reader
    sees the old file or the new one. A Ctrl-C (or SIGTERM) that arrives meanwhile is raised
    once the write is done, so none can strand a temp file between its creation and cleanup."""
    from repo_store.locking import deferred_interrupt

    with deferred_interrupt() as interrupted:
        _write_and_rename(path, content, durable)
    if interrupted:
        raise KeyboardInterrupt


@functools.cache
def _umask() -> int:
    """The process umask (read once: setting it back and forth is not thread-safe later)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _write_and_rename(path: Path, content: bytes, durable: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:  # an existing file keeps its mode; a new one gets what open() would give (0644 usually)
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        mode = 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)  # mkstemp makes 0600: an exported file others cannot read
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
