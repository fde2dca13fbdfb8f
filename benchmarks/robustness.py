"""`ecolint check` over large trees it did not write: no crash, no traceback, no hang.

    python benchmarks/robustness.py [--tree DIR ...]

By default: the CPython standard library with its test suite (deliberately broken and odd
files included), the transformers 5.23.0 sdist (fetched as benchmarks/speed.py does), and
every notebook shipped inside the installed packages. For each tree it prints the files,
the wall time, the exit code, the findings by code, and how many unparsable files were
reported (each must be reported once). Fails if any run prints a traceback or an internal
error, exits 2, or reports one file's syntax error twice.
"""

from __future__ import annotations

import argparse
import collections
import json
import shutil
import site
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from speed import TREES, fetch_tree  # noqa: E402


def standard_library(into: Path) -> Path:
    """A copy of the standard library and its tests (the original may sit in a git-ignored folder)."""
    source = Path(sysconfig.get_paths()["stdlib"])
    return Path(shutil.copytree(source, into / "stdlib", symlinks=True, ignore=shutil.ignore_patterns("site-packages", "__pycache__")))


def installed_notebooks(into: Path) -> Path:
    """A folder of copies of the notebooks inside the installed packages."""
    folder = into / "notebooks"
    folder.mkdir()
    for root in {*site.getsitepackages(), sysconfig.get_paths()["purelib"]}:
        for index, notebook in enumerate(sorted(Path(root).rglob("*.ipynb"))):
            shutil.copy(notebook, folder / f"{index:04d}-{notebook.name}")
    return folder


def run(tree: Path, timeout: float) -> bool:
    files = sum(1 for p in tree.rglob("*") if p.suffix in (".py", ".pyi", ".ipynb"))
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "ecolint", "check", "--no-cache", "--output-format", "json", "--exit-zero", "."],
        cwd=tree,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    elapsed = time.perf_counter() - start
    findings = json.loads(done.stdout or "[]")
    codes = collections.Counter(f["code"] for f in findings)
    syntax = collections.Counter(f["filename"] for f in findings if f["code"] == "ECO900")
    clean = done.returncode == 0 and "Traceback" not in done.stderr and "internal error" not in done.stderr
    once = all(count == 1 for count in syntax.values())
    print(f"{tree}: {files} files, {elapsed:.1f} s, exit {done.returncode}, findings {dict(sorted(codes.items()))}")
    print(f"  unparsable files reported: {len(syntax)} (each once: {once}); stderr lines: {len(done.stderr.splitlines())}")
    for line in done.stderr.splitlines()[:5]:
        print(f"  stderr: {line}")
    return clean and once


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, action="append", help="a tree to check (default: the three above)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds one tree may take")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        trees = args.tree or [
            standard_library(Path(scratch)),
            fetch_tree(TREES),
            installed_notebooks(Path(scratch)),
        ]
        results = [run(tree.resolve(), args.timeout) for tree in trees]
    print("all clean" if all(results) else "FAILED")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
