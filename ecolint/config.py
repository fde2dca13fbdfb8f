"""`[tool.ecolint]` in the nearest pyproject.toml → frozen Settings; unknown keys rejected."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any
from collections.abc import Iterable

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10
    import tomli as tomllib

DEFAULT_EXCLUDE = (
    ".bzr",
    ".direnv",
    ".eggs",
    ".ecolint_cache",
    ".git",
    ".hg",
    ".ipynb_checkpoints",
    ".mypy_cache",
    ".nox",
    ".pytest_cache",
    ".ruff_cache",
    ".svn",
    ".tox",
    ".venv",
    "__pycache__",
    "__pypackages__",
    "_build",
    "build",
    "dist",
    "node_modules",
    "site-packages",
    "venv",
)


class ConfigError(Exception):
    """A bad configuration; the message is one line naming the file and the key."""


@dataclass(frozen=True)
class Settings:
    """What a run uses: rule selection, excludes and fix policy, rooted at `root`."""

    root: Path
    config_file: Path | None = None
    select: tuple[str, ...] = ("ECO",)
    ignore: tuple[str, ...] = ()
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    exclude: tuple[str, ...] = DEFAULT_EXCLUDE
    extend_exclude: tuple[str, ...] = ()
    unsafe_fixes: bool = False
    target_gpu: str | None = None
    models: tuple[tuple[str, float], ...] = ()
    max_file_size: int = 10_000_000  # bytes; a larger file is skipped with a warning
    file_timeout: float = 60.0  # seconds one file may take before it is skipped with a warning
    _cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __getstate__(self) -> dict[str, Any]:
        """Pickled for worker processes without the pattern cache, which they rebuild as needed."""
        return {**self.__dict__, "_cache": {}}

    def enabled(self, codes: Iterable[str], path: Path | None = None) -> frozenset[str]:
        """The codes enabled for `path`: the most specific of select/ignore wins, ignore on ties."""
        ignore = (*self.ignore, *(self._per_file_ignores(path) if path is not None else ()))
        key = ("enabled", tuple(codes), ignore)  # the same for most files: computed once
        if key not in self._cache:
            self._cache[key] = self._enabled(key[1], ignore)
        return self._cache[key]

    def _enabled(self, codes: tuple[str, ...], ignore: tuple[str, ...]) -> frozenset[str]:
        enabled = set()
        for code in codes:
            selected = max((len(p) for p in self.select if _matches(code, p)), default=-1)
            ignored = max((len(p) for p in ignore if _matches(code, p)), default=-1)
            if selected >= 0 and selected > ignored:
                enabled.add(code)
        return frozenset(enabled)

    def _per_file_ignores(self, path: Path) -> list[str]:
        if not self.per_file_ignores:
            return []
        import pathspec

        relative = _relative(path, self.root)
        codes = []
        for pattern, ignored in self.per_file_ignores:
            spec = self._cache.get(pattern)
            if spec is None:
                spec = self._cache[pattern] = pathspec.GitIgnoreSpec.from_lines([pattern])
            if spec.match_file(relative) or spec.match_file(PurePosixPath(relative).name):
                codes.extend(ignored)
        return codes

    def exclude_patterns(self) -> tuple[str, ...]:
        return self.exclude + self.extend_exclude


def _matches(code: str, selector: str) -> bool:
    return selector == "ALL" or code.startswith(selector)


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def _strings(value: Any, key: str, where: Path) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: [tool.ecolint] `{key}` must be a list of strings")
    return tuple(value)


def _codes(value: Any, key: str, where: Path, known: frozenset[str]) -> tuple[str, ...]:
    codes = tuple(v.strip().upper() for v in _strings(value, key, where))
    for code in codes:
        if code != "ALL" and not any(k.startswith(code) for k in known):
            raise ConfigError(f"{where}: [tool.ecolint] `{key}` has unknown rule code or prefix {code!r}")
    return codes


def _per_file(value: Any, where: Path, known: frozenset[str]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: [tool.ecolint] `per-file-ignores` must be a table of glob = [codes]")
    return tuple((pattern, _codes(codes, f"per-file-ignores.{pattern}", where, known)) for pattern, codes in value.items())


def _bool(value: Any, key: str, where: Path) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: [tool.ecolint] `{key}` must be true or false")
    return value


def _positive(value: Any, key: str, where: Path) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ConfigError(f"{where}: [tool.ecolint] `{key}` must be a positive number")
    return value


def _target_gpu(value: Any, where: Path) -> str:
    from ecolint.analysis.hardware import gpu_memory_gib, known_gpus

    if not isinstance(value, str) or gpu_memory_gib(value) is None:
        raise ConfigError(f"{where}: [tool.ecolint] `target-gpu` must be one of: {', '.join(known_gpus())}")
    return value


def _models(value: Any, where: Path) -> tuple[tuple[str, float], ...]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: [tool.ecolint.models] must be a table of model id = billions of parameters")
    for model, size in value.items():
        if isinstance(size, bool) or not isinstance(size, (int, float)) or size <= 0:
            raise ConfigError(f"{where}: [tool.ecolint.models] `{model}` must be a positive number (billions of parameters)")
    return tuple((model, float(size)) for model, size in value.items())


def read_table(path: Path) -> dict[str, Any] | None:
    """The `[tool.ecolint]` table of a pyproject.toml, or None if it has none."""
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    table = data.get("tool", {}).get("ecolint") if isinstance(data.get("tool"), dict) else None
    if table is not None and not isinstance(table, dict):
        raise ConfigError(f"{path}: `tool.ecolint` must be a table")
    return table


def load_settings(path: Path, known_codes: frozenset[str]) -> Settings:
    """Settings from a pyproject.toml's `[tool.ecolint]` (defaults if it has none)."""
    table = read_table(path) or {}
    settings = Settings(root=path.parent, config_file=path)
    parsers = {
        "select": lambda v: {"select": _codes(v, "select", path, known_codes)},
        "ignore": lambda v: {"ignore": _codes(v, "ignore", path, known_codes)},
        "per-file-ignores": lambda v: {"per_file_ignores": _per_file(v, path, known_codes)},
        "exclude": lambda v: {"exclude": _strings(v, "exclude", path)},
        "extend-exclude": lambda v: {"extend_exclude": _strings(v, "extend-exclude", path)},
        "unsafe-fixes": lambda v: {"unsafe_fixes": _bool(v, "unsafe-fixes", path)},
        "target-gpu": lambda v: {"target_gpu": _target_gpu(v, path)},
        "models": lambda v: {"models": _models(v, path)},
        "max-file-size": lambda v: {"max_file_size": int(_positive(v, "max-file-size", path))},
        "file-timeout": lambda v: {"file_timeout": float(_positive(v, "file-timeout", path))},
    }
    changes: dict[str, Any] = {}
    for key, value in table.items():
        if key not in parsers:
            raise ConfigError(f"{path}: [tool.ecolint] unknown key `{key}` (known: {', '.join(parsers)})")
        changes.update(parsers[key](value))
    return replace(settings, **changes)


def find_config(start: Path) -> Path | None:
    """The nearest pyproject.toml with a `[tool.ecolint]` table, from `start` upward."""
    directory = start.resolve()
    if not directory.is_dir():
        directory = directory.parent
    for candidate in (directory, *directory.parents):
        pyproject = candidate / "pyproject.toml"
        if pyproject.is_file() and read_table(pyproject) is not None:
            return pyproject
    return None


@dataclass
class SettingsResolver:
    """Settings for each path: `--config` if given, else the nearest config, with CLI overrides."""

    known_codes: frozenset[str]
    config_file: Path | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    _by_config: dict[Path | None, Settings] = field(default_factory=dict)
    _config_of_directory: dict[Path, Path | None] = field(default_factory=dict)  # as discovered
    _config_of_resolved: dict[Path, Path | None] = field(default_factory=dict)

    def for_path(self, path: Path) -> Settings:
        return self._settings(self.config_file or find_config(path))

    def for_file(self, path: Path) -> Settings:
        """`for_path` of a file known to exist, with the config lookup cached per directory."""
        if self.config_file is not None:
            return self._settings(self.config_file)
        directory = path.parent
        if directory not in self._config_of_directory:
            self._config_of_directory[directory] = self._nearest(directory.resolve())
        return self._settings(self._config_of_directory[directory])

    def _nearest(self, directory: Path) -> Path | None:
        """`find_config` of a resolved directory, each directory read once per run."""
        if directory not in self._config_of_resolved:
            pyproject = directory / "pyproject.toml"
            if pyproject.is_file() and read_table(pyproject) is not None:
                self._config_of_resolved[directory] = pyproject
            else:
                self._config_of_resolved[directory] = None if directory.parent == directory else self._nearest(directory.parent)
        return self._config_of_resolved[directory]

    def _settings(self, config: Path | None) -> Settings:
        if config not in self._by_config:
            if config is None:
                settings = Settings(root=Path.cwd())
            else:
                settings = load_settings(config, self.known_codes)
            self._by_config[config] = replace(settings, **self.overrides)
        return self._by_config[config]

    def validate_codes(self, codes: Iterable[str], option: str) -> tuple[str, ...]:
        """CLI `--select`/`--ignore` values, checked like config values."""
        result = tuple(c.strip().upper() for c in codes if c.strip())
        for code in result:
            if code != "ALL" and not any(k.startswith(code) for k in self.known_codes):
                raise ConfigError(f"{option}: unknown rule code or prefix {code!r}")
        return result
