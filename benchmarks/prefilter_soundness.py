"""Do the prefilter and the skeleton parse ever change a finding? Checked on the files you give it.

    python benchmarks/prefilter_soundness.py DIR [DIR ...]

Lints every `.py` file under the directories twice: as `ecolint check` does, with the
prefilter and the skeleton parse forced on every file (not only those over
`SKELETON_MIN_CHARS`), and with no prefilter and a whole parse. Prints each file whose
findings differ, then the count; exits 1 if any does.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import ecolint.engine  # noqa: E402
from ecolint.catalogue import catalogue  # noqa: E402
from ecolint.engine import Linter  # noqa: E402
from ecolint.sources import Source  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directories", nargs="+", type=Path)
    args = parser.parse_args()
    ecolint.engine.SKELETON_MIN_CHARS = 0
    filtered, unfiltered = Linter(catalogue()), Linter(catalogue(), prefilter=False)
    files = sorted(p for directory in args.directories for p in directory.rglob("*.py"))
    differ = 0
    for path in files:
        source = Source(path, str(path), path.read_text(encoding="utf-8", errors="replace"))
        fast = [(f.code, f.location) for f in filtered.lint(source).findings]
        whole = [(f.code, f.location) for f in unfiltered.lint(source).findings]
        if fast != whole:
            differ += 1
            print(f"{path}: with the prefilter {fast}, without {whole}")
    print(f"{len(files)} files, {differ} with different findings")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
