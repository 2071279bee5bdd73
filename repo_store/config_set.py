"""`straw config set SECTION.KEY VALUE`: one settings change as one commit on main, written with
tomlkit (comments and layout kept), validated before it is written, and signed off with an
`Approved-by:` trailer that `straw verify` reads: lowering a gate threshold without one is a
violation."""

from __future__ import annotations

import tomllib
from typing import Any

import tomlkit

from repo_store import config, gitio
from repo_store.cases import atomic_write
from repo_store.errors import UsageError
from repo_store.repo import MAIN, CaseRepo

AUDITED = ("gate", "model", "train")  # sections whose changes verify lists
# Kept in the schema so older straw.toml files still load, never read from a commit: a command
# that runs comes from local settings only (repo_store.local_settings)
IGNORED = {("monitor", "alert_command"):
           "monitor.alert_command is never read from straw.toml (whoever can push would run code "
           "on whoever pulls next); set it on this machine: git config straw.alertCommand '…'"}


def parse_value(raw: str) -> Any:
    """A TOML value (`0.9`, `true`, `"x"`, `[1, 2]`); anything else is taken as a string."""
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def split_key(key: str) -> tuple[str, str]:
    section, dot, name = key.partition(".")
    if not dot or not section or not name or "." in name:
        raise UsageError(f"{key!r}: name a setting as SECTION.KEY, e.g. gate.baseline_threshold")
    if (section, name) in IGNORED:
        raise UsageError(IGNORED[section, name])
    if section not in config.DEFAULTS or name not in config.DEFAULTS[section]:
        known = ", ".join(f"{s}.{k}" for s in config.DEFAULTS for k in config.DEFAULTS[s]
                          if (s, k) not in IGNORED)
        raise UsageError(f"unknown setting {key!r} (known: {known})")
    return section, name


def set_value(repo: CaseRepo, key: str, raw: str) -> tuple[Any, Any, str]:
    """Change one setting on main. Returns (old value, new value, commit id)."""
    section, name = split_key(key)
    value = parse_value(raw)
    with repo.write_lock():
        repo.require_on_main()
        if gitio.dirty_paths(repo.root, config.CONFIG_FILE):
            raise UsageError(f"{config.CONFIG_FILE} has uncommitted changes: commit or discard them "
                             f"first")
        path = repo.root / config.CONFIG_FILE
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        document = tomlkit.parse(text)
        old = config.parse(text)[section][name]
        table = document.get(section)
        if table is None:
            table = tomlkit.table()
            document[section] = table
        table[name] = value
        new_text = tomlkit.dumps(document)
        config.parse(new_text, config.CONFIG_FILE)  # refuses a wrong type or value, naming the key
        if old == value:
            raise UsageError(f"{key} is {old!r} already")
        atomic_write(path, new_text.encode("utf-8"))
        message = (f"Set {key} = {tomlkit.item(value).as_string()} (was {old!r})\n\n"
                   f"Straw-Config: {key}\nApproved-by: {repo.identity}\n")
        sign = bool(repo.verdict_config["gate"].get("require_signed")) or \
            (key == "gate.require_signed" and value is True)
        gitio.commit_paths(repo.root, [config.CONFIG_FILE], message, sign=sign)
        commit = gitio.rev(repo.root, f"refs/heads/{MAIN}")
        assert commit
        return old, value, commit
