"""The light install for CI (`pip install straw`, no torch): time and size in a fresh venv.

Builds straw's wheel once, then, --runs times, creates two fresh venvs and installs into one the
wheel (resolving the light dependencies from the configured index) and into the other click
alone, the floor of any pip install, as the reference. Prints a table of medians.

    python benchmarks/light_install.py --runs 3
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def folder_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink()) / 2**20


def install(work: Path, name: str, what: list[str]) -> tuple[float, float, int]:
    """Seconds to pip-install `what` into a fresh venv, MB it added, packages it added."""
    venv = work / name
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip"]
    before_mb = folder_mb(venv)
    before = len(subprocess.run([*pip, "list"], capture_output=True, text=True).stdout.splitlines())
    started = time.perf_counter()
    subprocess.run([*pip, "install", "--no-cache-dir", "-q", *what], check=True,
                   capture_output=True)
    seconds = time.perf_counter() - started
    after = len(subprocess.run([*pip, "list"], capture_output=True, text=True).stdout.splitlines())
    return seconds, folder_mb(venv) - before_mb, after - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="straw-light-") as tmp:
        work = Path(tmp)
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(work / "dist"),
                        str(ROOT)], check=True, capture_output=True)
        wheel = str(next((work / "dist").glob("straw-*.whl")))
        straw, click = [], []
        for run in range(args.runs):
            straw.append(install(work, f"straw-{run}", [wheel]))
            click.append(install(work, f"click-{run}", ["click"]))
    s_time, c_time = (statistics.median(r[0] for r in rows) for rows in (straw, click))
    s_mb, c_mb = (statistics.median(r[1] for r in rows) for rows in (straw, click))
    print(f"light install, median of {args.runs} fresh venvs (pip --no-cache-dir):\n")
    print("| install | seconds | MB added | packages added |")
    print("|---|---|---|---|")
    print(f"| `pip install straw` (light) | {s_time:.1f} | {s_mb:.0f} | {straw[0][2]} |")
    print(f"| `pip install click` (reference) | {c_time:.1f} | {c_mb:.1f} | {click[0][2]} |")
    print(f"\nratio: {s_time / c_time:.1f}x the time of a one-package install")


if __name__ == "__main__":
    main()
