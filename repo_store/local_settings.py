"""Settings that make straw run programs, read only from where a `git pull` cannot write: the
user's git config (`git config straw.alertCommand …`, repository-local or --global) and the
user's own file `$XDG_CONFIG_HOME/straw/config.toml` (top-level keys). The committed straw.toml
is shared with everyone who can push; a command in it would run on whoever pulls next, so one
found there is ignored with a warning naming the setting to use instead."""

from __future__ import annotations

import os
import subprocess
import tomllib
from pathlib import Path
from typing import Any

# setting → git config key
KEYS = {
    "alert_command": "straw.alertCommand",
    "deploy_command": "straw.deployCommand",
    "monitor_endpoint": "straw.monitorEndpoint",
}


def user_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "straw" / "config.toml"


def get(root: Path, name: str) -> str | None:
    """The setting `name` (see KEYS) from git config, else the user file; None when unset."""
    proc = subprocess.run(["git", "config", "--get", KEYS[name]], cwd=root, capture_output=True)
    value = proc.stdout.decode("utf-8", errors="replace").strip() if proc.returncode == 0 else ""
    if value:
        return value
    path = user_file()
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        from repo_store.errors import UsageError

        raise UsageError(f"{path}: unreadable ({err})") from None
    found = data.get(name)
    return found.strip() if isinstance(found, str) and found.strip() else None


def committed_command_warnings(config: dict[str, dict[str, Any]]) -> list[str]:
    """One warning per program-running setting found in the committed straw.toml."""
    if (config.get("monitor") or {}).get("alert_command"):
        return ["straw.toml [monitor] alert_command is ignored: a command that runs comes only from "
                "local settings (`git config straw.alertCommand '…'`)"]
    return []
