"""Paths → files to lint: directories walked respecting .gitignore and excludes."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from collections.abc import Iterator

from ecolint.config import Settings

PYTHON_SUFFIXES = (".py", ".pyi", ".ipynb")


class DiscoveryError(Exception):
    """A path that cannot be linted; the message is one line for users."""


@dataclass(frozen=True)
class _IgnoreFile:
    base: Path
    spec: object  # pathspec.GitIgnoreSpec

    def matches(self, path: Path, is_dir: bool) -> bool:
        try:
            relative = path.relative_to(self.base).as_posix()
        except ValueError:
            return False
        return self.spec.match_file(relative + "/" if is_dir else relative)  # type: ignore[attr-defined]


def _gitignore(directory: Path) -> _IgnoreFile | None:
    import pathspec

    candidate = directory / ".gitignore"
    try:
        lines = candidate.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    return _IgnoreFile(directory, pathspec.GitIgnoreSpec.from_lines(lines))


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


def _excluder(settings: Settings) -> Callable[[Path, bool], bool]:
    import pathspec

    spec = pathspec.GitIgnoreSpec.from_lines(settings.exclude_patterns())
    root = settings.root.resolve()

    def excluded(path: Path, is_dir: bool) -> bool:
        suffix = "/" if is_dir else ""
        if spec.match_file(path.name + suffix):
            return True
        try:
            relative = path.resolve().relative_to(root).as_posix()
        except ValueError:
            return False
        return spec.match_file(relative + suffix)

    return excluded


def is_excluded(path: Path, settings: Settings) -> bool:
    return _excluder(settings)(path, path.is_dir())


def discover(paths: list[Path], settings_for: Callable[[Path], Settings], force_exclude: bool = False) -> Iterator[Path]:
    """Yield the Python files under `paths`, each once, in a stable order.

    A file named explicitly is linted even when excluded, unless `force_exclude`
    (as pre-commit passes every staged file). Symlinks are not followed.
    """
    seen: set[Path] = set()
    for path in paths:
        if not path.exists() and not path.is_symlink():
            raise DiscoveryError(f"{path}: no such file or directory")
        if path.is_file():
            if force_exclude and is_excluded(path, settings_for(path)):
                continue
            key = path.resolve()
            if key not in seen:
                seen.add(key)
                yield path
            continue
        if not path.is_dir():
            continue
        yield from _walk(path, settings_for, seen)


def _walk(top: Path, settings_for: Callable[[Path], Settings], seen: set[Path]) -> Iterator[Path]:
    excluded = _excluder(settings_for(top))
    inherited = _enclosing_gitignores(top.resolve())
    ignores: dict[Path, list[_IgnoreFile]] = {}
    for dirpath, dirnames, filenames in os.walk(top, followlinks=False):
        directory = Path(dirpath)
        resolved = directory.resolve()
        own = _gitignore(resolved)
        active = ignores.get(resolved.parent, inherited) if directory != top else inherited
        active = active + [own] if own else active
        ignores[resolved] = active

        def skip(name: str, is_dir: bool, directory: Path = directory, resolved: Path = resolved, active: list = active) -> bool:
            return excluded(directory / name, is_dir) or any(i.matches(resolved / name, is_dir) for i in active)

        dirnames[:] = sorted(d for d in dirnames if not (directory / d).is_symlink() and not skip(d, True))
        for name in sorted(filenames):
            file = directory / name
            if not name.endswith(PYTHON_SUFFIXES) or file.is_symlink() or skip(name, False):
                continue
            if resolved / name not in seen:
                seen.add(resolved / name)
                yield file
