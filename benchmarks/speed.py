"""`ecolint check` against `ruff check` on the transformers 5.23.0 source tree, side by side.

    python benchmarks/speed.py [--pairs 3] [--tree DIR] [--ruff PATH]

Fetches the sdist with `pip download` (once, into $TMPDIR/ecolint-benchmarks), then alternates
ruff and ecolint runs, pair by pair, in three ecolint modes: `--no-cache`, a warm cache,
and `--no-cache --jobs 1`. Prints each median, its ratio to ruff's median, the peak RSS of
the largest process, and whether every mode reported the same findings.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

VERSION = "5.23.0"
# Outside any repository: a tree in a git-ignored folder would be skipped by both tools.
TREES = Path(tempfile.gettempdir()) / "ecolint-benchmarks"


def fetch_tree(trees: Path) -> Path:
    tree = trees / f"transformers-{VERSION}"
    if tree.is_dir():
        return tree
    trees.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", f"transformers=={VERSION}", "-d", str(trees)],
        check=True,
    )
    with tarfile.open(trees / f"transformers-{VERSION}.tar.gz") as archive:
        archive.extractall(trees, filter="data")
    return tree


def timed(command: list[str], cwd: Path) -> tuple[float, int, bytes]:
    """Wall seconds, peak RSS in MB of the largest process of the run, and stdout."""
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, stdout=out, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode not in (0, 1):
            raise SystemExit(f"{' '.join(command)} exited {process.returncode}")
        out.seek(0)
        return elapsed, usage.ru_maxrss // 1024, out.read()


def _check_output(stdout: bytes, command: list[str]) -> None:
    """A run counts only if it printed its findings (exit 1 is also what `python -m` gives when ecolint is missing)."""
    try:
        json.loads(stdout)
    except ValueError:
        raise SystemExit(f"{' '.join(command)} printed no JSON findings: {stdout[:200]!r}") from None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--tree", type=Path, help="an unpacked transformers sdist (default: fetch it)")
    parser.add_argument("--ruff", default=shutil.which("ruff") or "ruff")
    args = parser.parse_args()
    tree = (args.tree or fetch_tree(TREES)).resolve()
    files = sum(1 for _ in tree.rglob("*.py"))
    ecolint = [sys.executable, "-m", "ecolint", "check", "--output-format", "json"]
    with tempfile.TemporaryDirectory() as cache:
        modes = {
            "no cache": [*ecolint, "--no-cache", "."],
            "warm cache": [*ecolint, "--cache-dir", cache, "."],
            "no cache, one process": [*ecolint, "--no-cache", "--jobs", "1", "."],
        }
        subprocess.run(modes["warm cache"], cwd=tree, stdout=subprocess.DEVNULL, check=False)  # fill it
        ruff_times: list[float] = []
        results: dict[str, list[tuple[float, int, bytes]]] = {mode: [] for mode in modes}
        for _ in range(args.pairs):
            for mode, command in modes.items():
                ruff_times.append(timed([args.ruff, "check", "--no-cache", "--isolated", "--quiet", "."], tree)[0])
                results[mode].append(timed(command, tree))
                _check_output(results[mode][-1][2], command)
    ruff = statistics.median(ruff_times)
    print(f"tree: transformers {VERSION} sdist, {files} .py files; {os.cpu_count()} cores; {args.pairs} pairs per mode")
    print(f"ruff check --no-cache --isolated: median {ruff:.2f} s over {len(ruff_times)} runs")
    outputs = set()
    for mode, runs in results.items():
        median = statistics.median(t for t, _, _ in runs)
        peak = max(m for _, m, _ in runs)
        outputs.update(out for _, _, out in runs)
        print(f"ecolint check, {mode}: median {median:.2f} s, ratio to ruff {median / ruff:.2f}, peak RSS {peak} MB")
    print(f"findings identical in every mode and run: {len(outputs) == 1}")
    return 0 if len(outputs) == 1 else 1


if __name__ == "__main__":
    sys.exit(main())
