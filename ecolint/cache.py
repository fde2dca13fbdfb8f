"""Findings of unchanged files, kept between runs in `.ecolint_cache/`.

An entry is keyed by the file's content (SHA-256 of its bytes) under a run key made of
the ecolint version, the sizes and times of ecolint's own files, the catalogue and the
settings, so any change to those (an edited rule too) starts an empty table. Like git's
index, a file whose size and modification time match its entry, and whose time is not
within a second of when the entry was written, is trusted without being read; any other
file is read and hashed. The table is JSON (a cache checked into a cloned repository must
not be able to run code) and is replaced atomically, so two runs sharing it never see half
a file; the later writer wins.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ecolint import __version__
from ecolint.diagnostics import Applicability, Edit, Finding, FixSummary, Location

CACHE_DIRECTORY = ".ecolint_cache"
_RACY_NS = 1_000_000_000


def run_key(*parts: object) -> str:
    """A name for one configuration of a run: version, ecolint's own files, rules and settings."""
    return hashlib.sha256(repr((__version__, _installed_files(), *parts)).encode()).hexdigest()[:24]


def _installed_files() -> list[tuple[str, int, int]]:
    """Name, size and time of every file of the ecolint package: an edited rule is a new key."""
    package = Path(__file__).parent
    found = []
    for path in sorted(package.rglob("*")):
        if path.suffix in (".py", ".json"):
            info = path.stat()
            found.append((str(path.relative_to(package)), info.st_size, info.st_mtime_ns))
    return found


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class _Entry:
    size: int
    mtime_ns: int
    digest: str
    written_ns: int
    findings: list[dict[str, Any]]


class ResultCache:
    """One run key's table: resolved path → entry."""

    def __init__(self, directory: Path, key: str) -> None:
        self.directory = directory
        self.file = directory / f"{key}.json"
        self._entries: dict[str, _Entry] = {}
        self._dirty = False
        try:
            rows = json.loads(self.file.read_text(encoding="utf-8"))
            self._entries = {path: _Entry(*row) for path, row in rows.items()}
        except (OSError, ValueError, TypeError, AttributeError):
            self._entries = {}  # none yet, or unreadable: start afresh

    def lookup(self, path: Path, display: str) -> list[Finding] | None:
        """The cached findings of `path` (shown as `display`), or None if it changed or is unknown."""
        entry = self._entries.get(str(path))
        if entry is None:
            return None
        try:
            info = path.stat()
        except OSError:
            return None
        trusted = info.st_size == entry.size and info.st_mtime_ns == entry.mtime_ns and info.st_mtime_ns < entry.written_ns - _RACY_NS
        if not trusted:
            try:
                data = path.read_bytes()
            except OSError:
                return None
            if content_hash(data) != entry.digest:
                return None
            self._store(path, info, entry.digest, entry.findings)
        try:
            return [_decode(row, display) for row in entry.findings]
        except (KeyError, TypeError, ValueError):
            return None  # a damaged entry: lint the file again

    def store(self, path: Path, digest: str, findings: list[Finding]) -> None:
        """Record `findings` for `path` as it was when its content hashed to `digest`."""
        try:
            info = path.stat()
        except OSError:
            return
        self._store(path, info, digest, [_encode(f) for f in findings])

    def _store(self, path: Path, info: os.stat_result, digest: str, rows: list[dict[str, Any]]) -> None:
        self._entries[str(path)] = _Entry(info.st_size, info.st_mtime_ns, digest, time.time_ns(), rows)
        self._dirty = True

    def save(self) -> None:
        """Write the table atomically; a cache that cannot be written is skipped silently."""
        if not self._dirty:
            return
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            ignore = self.directory / ".gitignore"
            if not ignore.exists():
                ignore.write_text("# Created by ecolint\n*\n", encoding="utf-8")
            rows = {path: (e.size, e.mtime_ns, e.digest, e.written_ns, e.findings) for path, e in self._entries.items()}
            handle, temporary = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".json")
        except OSError:
            return
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                json.dump(rows, stream, separators=(",", ":"))
            os.replace(temporary, self.file)
        except (OSError, TypeError, ValueError):
            Path(temporary).unlink(missing_ok=True)


def clean(directory: Path) -> bool:
    """Remove a cache directory; False if there was none."""
    import shutil

    if not directory.is_dir():
        return False
    shutil.rmtree(directory, ignore_errors=True)
    return True


def _location(location: Location) -> list[int]:
    return [location.row, location.column]


def _encode(finding: Finding) -> dict[str, Any]:
    fix = None
    if finding.fix is not None:
        edits = [[e.content, _location(e.location), _location(e.end_location)] for e in finding.fix.edits]
        fix = [finding.fix.message, finding.fix.applicability.value, edits]
    return {
        "code": finding.code,
        "name": finding.name,
        "message": finding.message,
        "location": _location(finding.location),
        "end_location": _location(finding.end_location),
        "fix": fix,
        "cell": finding.cell,
        "source_lines": list(finding.source_lines),
        "data": dict(finding.data),
    }


def _decode(row: dict[str, Any], display: str) -> Finding:
    fix = None
    if row["fix"] is not None:
        message, applicability, edits = row["fix"]
        fix = FixSummary(
            message, Applicability(applicability), tuple(Edit(content, Location(*start), Location(*end)) for content, start, end in edits)
        )
    return Finding(
        code=row["code"],
        name=row["name"],
        message=row["message"],
        path=display,
        location=Location(*row["location"]),
        end_location=Location(*row["end_location"]),
        fix=fix,
        cell=row["cell"],
        source_lines=tuple(row["source_lines"]),
        data=row["data"],
    )
