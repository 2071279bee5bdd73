"""The house's own checks: a command module that fails to import is a bug (exit 3 naming the
import error), never "No such command"; fast commands keep away from GitPython."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_a_command_module_that_fails_to_import_is_exit_3_naming_the_error(tmp_path: Path) -> None:
    # a real module whose import fails, the way a half-installed dependency does
    (tmp_path / "broken_straw_command.py").write_text("import no_such_dependency_xyz\n")
    code = ("import straw.cli as cli; "
            "cli.COMMANDS['broken'] = 'broken_straw_command:command'; cli.main(['broken'])")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 3, proc.stderr
    assert "No such command" not in proc.stderr
    assert "no_such_dependency_xyz" in proc.stderr and "'broken'" in proc.stderr
    assert proc.stderr.count("\n") == 1  # one line


def test_an_unknown_command_is_still_a_usage_error(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "straw", "no-such-command"], capture_output=True,
                          text=True, cwd=tmp_path)
    assert proc.returncode == 2
    assert "No such command" in proc.stderr
