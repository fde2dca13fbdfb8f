"""Paths → files to lint: directories walked respecting .gitignore and excludes."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from collections.abc import Iterator

from ecolint.config import Settings

PYTHON_SUFFIXES = (".py", ".pyi", ".ipynb")
_NAMED_GROUP = re.compile(r"\(\?P<\w+>")


class DiscoveryError(Exception):
    """A path that cannot be linted; the message is one line for users."""


def _matcher(lines: list[str]) -> Callable[[str], bool]:
    """A gitignore-pattern test for a relative path (`dir/` for a directory).

    Patterns without `!` are folded into one regular expression; with negations, pathspec
    decides (the last matching pattern wins). Plain names are a set lookup on the last part.
    """
    import pathspec

    spec = pathspec.GitIgnoreSpec.from_lines(lines)
    patterns = [p for p in spec.patterns if p.include is not None]
    if any(not p.include for p in patterns):
        return spec.match_file  # type: ignore[no-any-return]
    plain = {line.strip() for line in lines if re.fullmatch(r"[\w.-]+", line.strip())}
    others = [p.regex.pattern for p, line in zip(spec.patterns, lines) if p.include and line.strip() not in plain]
    unnamed = [_NAMED_GROUP.sub("(?:", regex) for regex in others]  # one name may not repeat
    combined = re.compile("|".join(f"(?:{regex})" for regex in unnamed)) if unnamed else None

    def matches(relative: str) -> bool:
        # A plain name matches at any depth, and everything under a directory it matches.
        return any(part in plain for part in relative.split("/")) or (combined is not None and combined.match(relative) is not None)

    return matches


@dataclass(frozen=True)
class _IgnoreFile:
    base: str  # the resolved directory holding the .gitignore
    matches: Callable[[str], bool]

    def ignores(self, directory: str, name: str, is_dir: bool) -> bool:
        """`name` in the resolved `directory` (at or below `base`)."""
        relative = name if directory == self.base else f"{directory[len(self.base) + 1 :]}/{name}"
        return self.matches(relative + "/" if is_dir else relative)


def _gitignore(directory: Path) -> _IgnoreFile | None:
    try:
        lines = (directory / ".gitignore").read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    return _IgnoreFile(str(directory), _matcher(lines))


def _enclosing_gitignores(directory: Path) -> list[_IgnoreFile]:
    """The .gitignore files above `directory`, up to the root of its git repository."""
    found = []
    for parent in directory.parents:
        ignore = _gitignore(parent)
        if ignore is not None:
            found.append(ignore)
        if (parent / ".git").exists():
            break
    else:
        return []  # not inside a repository: only the walked tree's own files count
    return found


class _Excluder:
    """`exclude` + `extend-exclude` of one Settings: by name anywhere, or by path from its root."""

    def __init__(self, settings: Settings) -> None:
        self.matches = _matcher(list(settings.exclude_patterns()))
        self.root = str(settings.root.resolve())

    def relative(self, resolved: str) -> str | None:
        if resolved == self.root:
            return ""
        return resolved[len(self.root) + 1 :] if resolved.startswith(self.root + os.sep) else None

    def excluded(self, name: str, relative_directory: str | None, is_dir: bool) -> bool:
        suffix = "/" if is_dir else ""
        if self.matches(name + suffix):
            return True
        if relative_directory is None:
            return False
        return self.matches(f"{relative_directory}/{name}{suffix}" if relative_directory else name + suffix)


def is_excluded(path: Path, settings: Settings) -> bool:
    excluder = _Excluder(settings)
    resolved = path.resolve()
    return excluder.excluded(resolved.name, excluder.relative(str(resolved.parent)), path.is_dir())


def discover(paths: list[Path], settings_for: Callable[[Path], Settings], force_exclude: bool = False) -> Iterator[Path]:
    """Yield the Python files under `paths`, each once, in a stable order.

    A file named explicitly is linted even when excluded, unless `force_exclude`
    (as pre-commit passes every staged file). Symlinks are not followed.
    """
    seen: set[str] = set()  # resolved paths, as strings: cheaper to hash than Paths
    for path in paths:
        if not path.exists() and not path.is_symlink():
            raise DiscoveryError(f"{path}: no such file or directory")
        if path.is_file():
            if force_exclude and is_excluded(path, settings_for(path)):
                continue
            key = str(path.resolve())
            if key not in seen:
                seen.add(key)
                yield path
            continue
        if not path.is_dir():
            continue
        yield from _walk(path, settings_for, seen)


def _walk(top: Path, settings_for: Callable[[Path], Settings], seen: set[str]) -> Iterator[Path]:
    """Files of `top`, then of its subdirectories, each sorted; symlinks are not followed."""
    excluder = _Excluder(settings_for(top))
    resolved_top = top.resolve()
    stack: list[tuple[Path, str, list[_IgnoreFile]]] = [(top, str(resolved_top), _enclosing_gitignores(resolved_top))]
    while stack:
        directory, resolved, inherited = stack.pop()
        own = _gitignore(Path(resolved))
        active = inherited + [own] if own else inherited
        relative = excluder.relative(resolved)
        try:
            with os.scandir(directory) as scan:
                entries = sorted(scan, key=lambda e: e.name)
        except OSError:
            continue

        def skip(name: str, is_dir: bool, relative: str | None = relative, resolved: str = resolved, active: list = active) -> bool:
            return excluder.excluded(name, relative, is_dir) or any(i.ignores(resolved, name, is_dir) for i in active)

        subdirectories = []
        for entry in entries:
            if entry.is_symlink():
                continue
            if entry.is_dir(follow_symlinks=False):
                if not skip(entry.name, True):
                    subdirectories.append((Path(entry.path), f"{resolved}/{entry.name}", active))
            elif entry.name.endswith(PYTHON_SUFFIXES) and not skip(entry.name, False):
                key = f"{resolved}/{entry.name}"
                if key not in seen:
                    seen.add(key)
                    yield Path(entry.path)
        stack.extend(reversed(subdirectories))
