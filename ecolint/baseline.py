"""A baseline: today's findings recorded, so that a check reports only the ones not in it.

`ecolint check --write-baseline FILE` records every finding as its rule, its file (relative
to the baseline's folder) and a fingerprint; `ecolint check --baseline FILE` hides the
findings it records and reports the rest. A fingerprint hashes the flagged code (comments
and whitespace outside strings dropped) and the dotted name of the innermost function or
class around it, never the line number: lines inserted above a finding, or the code
reformatted, keep it known; the same code in another function is new. Each recorded
finding hides one finding with its key, so a second copy of a known one in the same
function is new too (the later copy is reported).

The file is JSON, `{"ecolint-baseline": 1, "written-by": ..., "findings": [...]}`. The
format number changes only when fingerprints would change; a file of an older ecolint
with the same number is read as is, and a newer or broken one is a one-line error.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ecolint import __version__
from ecolint.diagnostics import Finding

FORMAT = 1
_FORMAT_KEY = "ecolint-baseline"
_STRING = r"""[rRbBuUfF]{0,2}(?:'''(?:\\.|(?!''').)*'''|\"\"\"(?:\\.|(?!\"\"\").)*\"\"\"|'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*")"""
_NOISE = re.compile(rf"({_STRING})|#[^\r\n]*|\s+", re.DOTALL)


class BaselineError(Exception):
    """A baseline file that cannot be read or written; the message is one line for users."""


Key = tuple[str, str, str]  # code, file relative to the baseline's folder, fingerprint
_KEY_FIELDS = ("code", "file", "fingerprint")


@dataclass(frozen=True)
class Baseline:
    """The findings a baseline file records, as keys with their counts."""

    path: Path
    counts: Counter[Key]

    @classmethod
    def read(cls, path: Path) -> Baseline:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise BaselineError(f"{path}: no such baseline file (record one with `--write-baseline {path}`)") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise BaselineError(f"{path}: cannot read the baseline: {getattr(exc, 'strerror', None) or exc}") from None
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise BaselineError(f"{path}: not an ecolint baseline: invalid JSON ({exc})") from None
        if not isinstance(data, dict) or _FORMAT_KEY not in data:
            raise BaselineError(f"{path}: not an ecolint baseline (no `{_FORMAT_KEY}` format number)")
        if data[_FORMAT_KEY] != FORMAT:
            raise BaselineError(
                f"{path}: baseline format {data[_FORMAT_KEY]!r} is not the one this ecolint ({__version__}) reads ({FORMAT}); "
                f"record it again with `--write-baseline {path}`"
            )
        entries = data.get("findings")
        if not isinstance(entries, list):
            raise BaselineError(f"{path}: malformed baseline: `findings` is not a list")
        counts: Counter[Key] = Counter()
        for number, entry in enumerate(entries, start=1):
            code, file, fingerprint = (entry.get(name) if isinstance(entry, dict) else None for name in _KEY_FIELDS)
            missing = next((name for name, value in zip(_KEY_FIELDS, (code, file, fingerprint)) if not isinstance(value, str)), None)
            if missing:
                raise BaselineError(f"{path}: malformed baseline: finding {number} has no `{missing}` string")
            counts[(code, file, fingerprint)] += 1
        return cls(path, counts)


@dataclass(frozen=True)
class Comparison:
    """What a check against a baseline found: the new findings, and how many it hid or missed."""

    new: list[Finding]
    known: int  # findings hidden because the baseline records them
    gone: int  # recorded findings in the files checked that no longer occur
    baseline: Path

    def note(self) -> str:
        known = f"{self.known} known finding{'s' * (self.known != 1)} hidden"
        gone = f"{self.gone} recorded finding{'s' * (self.gone != 1)} gone"
        advice = f" (`--write-baseline {self.baseline}` drops {'them' if self.gone != 1 else 'it'})" if self.gone else ""
        return f"baseline {self.baseline}: {known}, {gone}{advice}"


def write(path: Path, findings: Sequence[Finding], texts: Mapping[str, str] | None = None) -> int:
    """Record `findings` in a baseline at `path`, atomically; returns how many."""
    from ecolint.fixing.fixes import FixError, write_atomically

    fingerprints = Fingerprints(path.absolute().parent, texts)
    entries = sorted(
        ({**dict(zip(_KEY_FIELDS, fingerprints.key(f))), "line": f.location.row, "message": f.message} for f in findings),
        key=lambda e: (e["file"], e["line"], e["code"], e["fingerprint"]),
    )
    data = {_FORMAT_KEY: FORMAT, "written-by": f"ecolint {__version__}", "findings": entries}
    try:
        path.touch(exist_ok=True)  # write_atomically replaces a file that exists
        write_atomically(path, (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
    except OSError as exc:
        raise BaselineError(f"{path}: cannot write the baseline: {exc.strerror or exc}") from None
    except FixError as exc:
        raise BaselineError(f"{path}: {exc}") from None
    return len(entries)


def compare(
    baseline: Baseline, findings: Sequence[Finding], checked: Iterable[str], roots: Iterable[str], texts: Mapping[str, str] | None = None
) -> Comparison:
    """Split `findings` into new and known; `checked`: every file linted (display paths), `roots`: the paths given.

    A recorded finding counts as gone only where this run looked: in a file it linted, or in
    a file that no longer exists under one of `roots` (a subset of files checked, as in a
    pull request, leaves the others' records alone).
    """
    fingerprints = Fingerprints(baseline.path.absolute().parent, texts)
    left = Counter(baseline.counts)
    new = []
    for finding in findings:
        key = fingerprints.key(finding)
        if left[key] > 0:
            left[key] -= 1
        else:
            new.append(finding)
    linted = {fingerprints.relative(display) for display in checked}
    directories = [os.path.abspath(root) for root in roots if root != "-" and os.path.isdir(root)]
    gone = 0
    for (_, file, _), count in left.items():
        if count and (file in linted or (file != "-" and _deleted_under(fingerprints.root / file, directories))):
            gone += count
    return Comparison(new, len(findings) - len(new), gone, baseline.path)


def _deleted_under(path: Path, directories: list[str]) -> bool:
    if path.exists():
        return False
    absolute = os.path.abspath(path)
    return any(absolute.startswith(directory.rstrip(os.sep) + os.sep) for directory in directories)


class Fingerprints:
    """Fingerprints of findings, each file read and parsed once (`texts`: sources not on disk, such as stdin)."""

    def __init__(self, root: Path, texts: Mapping[str, str] | None = None) -> None:
        self.root = root
        self._texts = dict(texts or {})
        self._files: dict[str, _File] = {}

    def relative(self, display: str) -> str:
        """A file's key: its path relative to the baseline's folder, with `/`."""
        if display == "-":
            return display
        try:
            return os.path.relpath(os.path.abspath(display), self.root).replace(os.sep, "/")
        except ValueError:  # another drive
            return os.path.abspath(display).replace(os.sep, "/")

    def key(self, finding: Finding) -> Key:
        """What a baseline records of `finding`: its code, file and fingerprint."""
        if finding.path not in self._files:
            self._files[finding.path] = _File.load(finding.path, self._texts.get(finding.path))
        return finding.code, self.relative(finding.path), self._files[finding.path].fingerprint(finding)


@dataclass(frozen=True)
class _File:
    """One file's rows (a notebook's code cells joined) and the definitions around them."""

    lines: list[str]  # with their line breaks
    rows: dict[tuple[int, int], int]  # a notebook's (cell, row in the cell) → row of the joined text
    definitions: list[tuple[int, int, str]]  # (first row, last row, dotted name), outermost first

    @classmethod
    def load(cls, display: str, text: str | None) -> _File:
        from ecolint.sources import SourceError, read_source, split_lines

        rows: dict[tuple[int, int], int] = {}
        if text is None:
            try:
                source = read_source(Path(display), display)
            except SourceError:
                return cls([], rows, [])  # an unreadable file: its finding is the file itself
            text = source.text
            if source.notebook is not None:
                for number, (cell, row) in enumerate(source.notebook.cell_of(text), start=1):
                    rows[(cell, row)] = number
        return cls(split_lines(text), rows, _definitions(text))

    def fingerprint(self, finding: Finding) -> str:
        start, end = finding.location, finding.end_location
        first, last = (
            (self.rows.get((finding.cell, start.row), 0), self.rows.get((finding.cell, end.row), 0))
            if finding.cell is not None
            else (start.row, end.row)
        )
        flagged = _flagged(self.lines, first, start.column, last, end.column)
        enclosing = next((name for low, high, name in reversed(self.definitions) if low <= first <= high), "")
        digest = hashlib.sha256(f"{enclosing}\n{_normalized(flagged)}".encode()).hexdigest()
        return digest[:20]


def _flagged(lines: list[str], first: int, start_column: int, last: int, end_column: int) -> str:
    """The text from (first, start_column) to (last, end_column), 1-based and end exclusive; a point: its whole row."""
    if not 1 <= first <= len(lines):
        return ""
    if (last, end_column) <= (first, start_column) or last > len(lines):
        return lines[first - 1]
    if first == last:
        return lines[first - 1][start_column - 1 : end_column - 1]
    return "".join([lines[first - 1][start_column - 1 :], *lines[first : last - 1], lines[last - 1][: end_column - 1]])


def _normalized(code: str) -> str:
    """`code` without comments and without whitespace outside string literals."""
    return _NOISE.sub(lambda match: match.group(1) or "", code)


def _definitions(text: str) -> list[tuple[int, int, str]]:
    """Every function and class with its rows and dotted name, outer before inner; none if `text` does not parse."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError):
        return []
    found: list[tuple[int, int, str]] = []
    pending: list[tuple[ast.AST, str]] = [(tree, "")]
    for node, prefix in pending:  # breadth first: a definition comes after those around it
        for child in ast.iter_child_nodes(node):
            name = prefix
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}.{child.name}" if prefix else child.name
                first = min([child.lineno, *(d.lineno for d in child.decorator_list)])
                found.append((first, child.end_lineno or child.lineno, name))
            pending.append((child, name))
    return found
