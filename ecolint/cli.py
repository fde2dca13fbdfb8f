"""The `ecolint` command: parse arguments, call the engine, choose the exit code.

Exit codes: 0 nothing found, 1 findings (or fixes pending), 2 usage, configuration
or internal error. Errors are one line on stderr, never a traceback.
"""

from __future__ import annotations

import difflib
import functools
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from collections.abc import Iterator

import click

from ecolint import __version__
from ecolint.output import FORMATS, FORMATS_WITH_EDITS

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


class UserError(Exception):
    """An error to report in one line and exit 2."""


def _error(message: str) -> None:
    click.echo(f"ecolint: error: {message}", err=True)


def _guarded(command: Callable[..., int]) -> Callable[..., None]:
    """Run a command; turn known errors and unexpected ones into one line and exit 2."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        from ecolint.baseline import BaselineError
        from ecolint.config import ConfigError
        from ecolint.discovery import DiscoveryError

        try:
            code = command(*args, **kwargs)
        except (UserError, ConfigError, DiscoveryError, BaselineError) as exc:
            _error(str(exc))
            code = EXIT_ERROR
        except KeyboardInterrupt:
            code = 130
        except Exception as exc:  # noqa: BLE001 - the last line of defence against tracebacks
            if os.environ.get("ECOLINT_DEBUG"):
                raise
            _error(f"internal error: {type(exc).__name__}: {exc} (set ECOLINT_DEBUG=1 for a traceback)")
            code = EXIT_ERROR
        sys.exit(code)

    return wrapper


def _codes_option(value: str | None) -> list[str]:
    return [] if not value else value.split(",")


def _selection_options(command: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.argument("paths", nargs=-1, type=click.Path(path_type=str)),
        click.option("--config", "config_file", type=click.Path(path_type=Path), help="Use this pyproject.toml, not the nearest one."),
        click.option("--select", help="Comma-separated codes or prefixes to enable (overrides config)."),
        click.option("--ignore", help="Comma-separated codes or prefixes to disable (overrides config)."),
        click.option("--stdin-filename", help="The name to report, and to match config against, for `-`."),
        click.option("--force-exclude", is_flag=True, help="Apply excludes to files named on the command line too."),
        click.option("--unsafe-fixes/--no-unsafe-fixes", default=None, help="Also apply (or mark) unsafe fixes."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@dataclass
class Run:
    """What a `check` or `fix` run works over: the resolver and the linters it needs."""

    resolver: Any
    paths: list[str]
    stdin_filename: str | None
    force_exclude: bool
    linter_for: Any  # ecolint.linters.Linters: (settings, path) → the file's linter

    @classmethod
    def create(
        cls,
        paths: tuple[str, ...],
        config_file: Path | None,
        select: str | None,
        ignore: str | None,
        stdin_filename: str | None,
        force_exclude: bool,
        unsafe_fixes: bool | None,
    ) -> Run:
        from ecolint.linters import Linters, settings_resolver

        if config_file is not None and not config_file.is_file():
            raise UserError(f"{config_file}: config file not found")
        resolver = settings_resolver(config_file)
        if select is not None:
            resolver.overrides["select"] = resolver.validate_codes(_codes_option(select), "--select")
        if ignore is not None:
            resolver.overrides["ignore"] = resolver.validate_codes(_codes_option(ignore), "--ignore")
        if unsafe_fixes is not None:
            resolver.overrides["unsafe_fixes"] = unsafe_fixes
        return cls(resolver, list(paths) or ["."], stdin_filename, force_exclude, Linters())

    def stdin_input(self) -> tuple[Any, Any, Any] | None:
        """(settings, source or None, finding if unreadable) for `-`, if it was given."""
        from ecolint.diagnostics import unreadable_file
        from ecolint.sources import SourceError, decode

        if "-" not in self.paths:
            return None
        named = Path(self.stdin_filename) if self.stdin_filename else None
        settings = self.resolver.for_path(named or Path.cwd())
        display = self.stdin_filename or "-"
        try:
            return settings, decode(sys.stdin.buffer.read(), display), None
        except SourceError as exc:
            return settings, None, unreadable_file(display, str(exc))

    def tasks(self, found: Callable[[int], None] | None = None) -> list[Any]:
        """The files to lint, with their settings, in a stable order (`found`: told the count as it grows)."""
        from ecolint.discovery import discover
        from ecolint.parallel import Task

        file_paths = [p for p in self.paths if p != "-"]
        discovered = discover([Path(p) for p in file_paths], self.resolver.for_path, self.force_exclude)
        directories: dict[Path, tuple[str, Any]] = {}  # directory → how it is displayed, its files' settings
        tasks = []
        for path in discovered:
            if found is not None:
                found(len(tasks))
            parent = path.parent
            if parent not in directories:
                directories[parent] = (_display(parent), self.resolver.for_file(path))
            shown, settings = directories[parent]
            tasks.append(Task(path, path.name if shown == "." else os.path.join(shown, path.name), settings))
        if file_paths and not tasks:
            click.echo(f"ecolint: warning: no Python files found under {', '.join(file_paths)}", err=True)
        return tasks

    def inputs(self) -> Iterator[tuple[Any, Any, Any]]:
        """Yield (settings, source or None, finding for an unreadable file or None) per file."""
        from ecolint.diagnostics import unreadable_file
        from ecolint.sources import SourceError, read_source

        stdin = self.stdin_input()
        if stdin is not None:
            yield stdin
        for task in self.tasks():
            try:
                yield task.settings, read_source(task.path, task.display), None
            except SourceError as exc:
                yield task.settings, None, unreadable_file(task.display, str(exc))

    def lint(self, jobs: int | None, use_cache: bool, cache_dir: Path | None) -> Linted:
        """Lint every input, reporting skipped files and internal errors on stderr as they are met."""
        from ecolint.parallel import EarlyWorkers, lint_all

        _batch_gc()
        linted = Linted()
        stdin = self.stdin_input()
        if stdin is not None:
            settings, source, problem = stdin
            linted.unsafe = settings.unsafe_fixes
            linted.findings.extend([problem] if problem is not None else self.linter_for(settings, None).lint(source).findings)
            linted.files.append(problem.path if problem is not None else source.display_name)
            if source is not None:
                linted.texts[source.display_name] = source.text
        # Without a cache to answer for most files, a large tree's workers start while it is walked.
        early = EarlyWorkers(jobs, self.linter_for, use_cache, enabled=not use_cache or not self.cache_directory(cache_dir).is_dir())
        with early:
            tasks = self.tasks(early.found)
            cache = self.cache(tasks, cache_dir) if use_cache else None
            outcomes = lint_all(tasks, self.linter_for, cache, jobs, early.pool)
        for task, outcome in zip(tasks, outcomes):
            linted.unsafe = linted.unsafe or task.settings.unsafe_fixes
            linted.findings.extend(outcome.findings)
            linted.files.append(task.display)
            if outcome.warning is not None:
                click.echo(f"ecolint: warning: {outcome.warning}", err=True)
            if outcome.error is not None:
                _error(outcome.error)
                linted.errors += 1
        return linted

    def cache_directory(self, directory: Path | None) -> Path:
        """`directory`, or the project's `.ecolint_cache`."""
        from ecolint.cache import CACHE_DIRECTORY

        return directory or self.resolver.for_path(Path.cwd()).root / CACHE_DIRECTORY

    def cache(self, tasks: list[Any], directory: Path | None) -> Any:
        """The result cache for these tasks' settings, in `directory` or the project's `.ecolint_cache`."""
        from ecolint.cache import ResultCache, run_key
        from ecolint.catalogue import catalogue

        settings = sorted({repr(task.settings) for task in tasks})
        return ResultCache(self.cache_directory(directory), run_key(catalogue(), settings))


def _batch_gc() -> None:
    """Tune Python's cycle collector for a run over many files (as mypy does): LibCST and `ast`
    allocate millions of short-lived nodes, and the default threshold (a collection every 700
    allocations) made the collector a tenth of a run's time. What is loaded by now stays out
    of every collection, and off the pages forked workers would otherwise copy."""
    import gc

    gc.freeze()
    gc.set_threshold(200_000, 50, 1000)


@dataclass
class Linted:
    """What a check found: findings, the files it linted, internal errors, whether unsafe fixes are on."""

    findings: list[Any] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # display names
    texts: dict[str, str] = field(default_factory=dict)  # display name → text, for sources not on disk (stdin)
    errors: int = 0
    unsafe: bool = False


def _display(path: Path) -> str:
    try:
        relative = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if relative.startswith("..") else relative


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ecolint")
def main() -> None:
    """Find the quantization and batching choices that waste GPU energy."""


@main.command()
@_selection_options
@click.option(
    "--output-format",
    type=click.Choice(FORMATS),
    default="text",
    envvar="ECOLINT_OUTPUT_FORMAT",
    show_default=True,
)
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when there are findings.")
@click.option("--measure", is_flag=True, help="On a GPU: run each finding's flagged and fixed variant and report the energy delta.")
@click.option("--synthetic", is_flag=True, help="With --measure: random weights built from the model's config, not cached weights.")
@click.option("--measure-report", type=click.Path(path_type=Path), help="With --measure: also write the results as JSON to this file.")
@click.option("--pairs", type=click.IntRange(2, 400), default=10, show_default=True, help="With --measure: least A/B pairs of windows.")
@click.option("--min-seconds", type=click.FloatRange(0.01), default=1.0, show_default=True, help="With --measure: length a window aims at.")
@click.option(
    "--precision",
    type=click.FloatRange(0.1),
    default=5.0,
    show_default=True,
    help="With --measure: stop at a 95% interval of ± this many points.",
)
@click.option("--max-seconds", type=click.FloatRange(10), default=180.0, show_default=True, help="With --measure: time budget per finding.")
@click.option("--measure-device", type=click.Choice(["cuda", "cpu"]), default="cuda", hidden=True)
@click.option("--no-cache", is_flag=True, help="Neither read nor write the result cache.")
@click.option("--cache-dir", type=click.Path(path_type=Path), help="Where the result cache lives [default: .ecolint_cache in the project].")
@click.option("--jobs", type=click.IntRange(1, 256), help="Worker processes [default: by core count and the number of files].")
@click.option("--statistics", is_flag=True, help="Print the number of findings per rule instead of the findings.")
@click.option("--baseline", "baseline_file", type=click.Path(path_type=Path), help="Report only findings this baseline does not record.")
@click.option("--write-baseline", type=click.Path(path_type=Path), help="Record every finding in this baseline file and exit 0.")
@_guarded
def check(
    output_format: str,
    exit_zero: bool,
    statistics: bool,
    baseline_file: Path | None,
    write_baseline: Path | None,
    no_cache: bool,
    cache_dir: Path | None,
    jobs: int | None,
    measure: bool,
    synthetic: bool,
    measure_report: Path | None,
    pairs: int,
    min_seconds: float,
    precision: float,
    max_seconds: float,
    measure_device: str,
    **options: Any,
) -> int:
    """Lint PATHS (files, directories, or - for stdin). Default: the current directory."""
    from ecolint import baseline
    from ecolint.output import fix_applies, write_findings, write_statistics

    if baseline_file is not None and write_baseline is not None:
        raise UserError("--baseline and --write-baseline cannot be combined: --write-baseline records every finding")
    known = baseline.Baseline.read(baseline_file) if baseline_file is not None else None
    run = Run.create(**options)
    # Only these formats and the cache carry a fix's text edits: without them, they are not computed.
    run.linter_for.fix_edits = not no_cache or output_format in FORMATS_WITH_EDITS
    linted = run.lint(jobs, not no_cache, cache_dir)
    findings, unsafe = linted.findings, linted.unsafe
    if write_baseline is not None:
        if linted.errors:
            return EXIT_ERROR
        count = baseline.write(write_baseline, findings, linted.texts)
        click.echo(f"ecolint: recorded {count} finding{'s' * (count != 1)} in the baseline {write_baseline}", err=True)
        return EXIT_CLEAN
    comparison = None
    if known is not None:
        comparison = baseline.compare(known, findings, linted.files, run.paths, linted.texts)
        findings = comparison.new
    if statistics:
        write_statistics(findings, output_format, sys.stdout, unsafe)
    else:
        write_findings(findings, output_format, sys.stdout, unsafe, comparison)
    if output_format == "text" and not statistics:
        _summary(findings, sum(fix_applies(f, unsafe) for f in findings), sum(fix_applies(f, True) for f in findings))
    if comparison is not None:
        click.echo(f"ecolint: {comparison.note()}", err=True)
    if linted.errors:
        return EXIT_ERROR
    if measure:
        from ecolint.measure import MeasureError
        from ecolint.measure.runner import MeasureOptions

        settings = MeasureOptions(
            min_pairs=pairs,
            window_seconds=min_seconds,
            precision=precision,
            max_seconds=max_seconds,
            synthetic=synthetic,
            device=measure_device,
        )
        try:
            _measure(findings, settings, measure_report, output_format == "markdown")
        except MeasureError as exc:
            _error(f"--measure: {exc}")
            return EXIT_ERROR
    return EXIT_FINDINGS if findings and not exit_zero else EXIT_CLEAN


def _measure(findings: list[Any], settings: Any, report: Path | None, markdown: bool) -> None:
    """Run `--measure`: its table on stdout, or, under markdown output, on stderr with a markdown table on stdout."""
    from ecolint.measure.command import run as run_measure

    if markdown:
        sys.stdout.write(measured_markdown(findings, settings, sys.stderr, report))
    else:
        run_measure(findings, settings, sys.stdout, report)


def measured_markdown(findings: list[Any], settings: Any, table: Any, report: Path | None = None) -> str:
    """Run `--measure` with its table on `table`; returns the results as markdown (the JSON report also at `report`)."""
    import json
    import tempfile

    from ecolint.measure.command import run as run_measure
    from ecolint.output import markdown_measurements

    with tempfile.TemporaryDirectory() as scratch:
        path = report or Path(scratch) / "measure.json"
        run_measure(findings, settings, table, path)
        return markdown_measurements(json.loads(path.read_text(encoding="utf-8")))


def _summary(findings: list[Any], fixable: int, fixable_unsafe: int) -> None:
    if not findings:
        click.echo("All checks passed!")
        return
    files = len({f.path for f in findings})
    click.echo(f"Found {len(findings)} finding{'s' * (len(findings) != 1)} in {files} file{'s' * (files != 1)}.")
    if fixable:
        click.echo(f"[*] {fixable} fixable with `ecolint fix --apply`.")
    if fixable_unsafe > fixable:
        click.echo(f"({fixable_unsafe - fixable} more fixable with `ecolint fix --apply --unsafe-fixes`.)")


@main.command()
@_selection_options
@click.option("--apply", is_flag=True, help="Write the fixes. Without it, print them as a unified diff.")
@_guarded
def fix(apply: bool, **options: Any) -> int:
    """Fix PATHS: print the fixes as a diff, or write them with --apply."""
    from ecolint.fixing.fixes import FixError, write_atomically
    from ecolint.linters import fix_source
    from ecolint.output import fix_applies

    run = Run.create(**options)
    fixed = files_changed = remaining = withheld = errors = 0
    for settings, source, problem in run.inputs():
        if problem is not None:
            click.echo(f"{problem.path}: {problem.message}", err=True)
            remaining += 1
            continue
        linter = run.linter_for(settings, source.path)
        try:
            outcome = fix_source(linter, source, settings.unsafe_fixes)
            if outcome.text != source.text:
                files_changed += 1
                fixed += outcome.applied
                if source.path is None and apply:
                    sys.stdout.write(outcome.text)
                elif apply:
                    write_atomically(source.path, source.encode(outcome.text))
                else:
                    _print_diff(source.display_name, source.text, outcome.text)
            elif source.path is None and apply:
                sys.stdout.write(source.text)
        except FixError as exc:
            _error(f"{source.display_name}: {exc}")
            errors += 1
            continue
        left = linter.lint(source.with_text(outcome.text)).findings
        remaining += len(left)
        withheld += sum(1 for f in left if fix_applies(f, True) and not fix_applies(f, settings.unsafe_fixes))
    verb = "Fixed" if apply else "Would fix"
    click.echo(f"{verb} {fixed} finding{'s' * (fixed != 1)} in {files_changed} file{'s' * (files_changed != 1)}.", err=True)
    if remaining:
        click.echo(f"{remaining} finding{'s' * (remaining != 1)} remain{'s' * (remaining == 1)}.", err=True)
    if withheld:
        click.echo(f"{withheld} unsafe fix{'es' * (withheld != 1)} withheld: apply with `ecolint fix --apply --unsafe-fixes`.", err=True)
    if errors:
        return EXIT_ERROR
    if apply:
        return EXIT_FINDINGS if remaining else EXIT_CLEAN
    return EXIT_FINDINGS if files_changed or remaining else EXIT_CLEAN


def _print_diff(name: str, before: str, after: str) -> None:
    diff = difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True), f"a/{name}", f"b/{name}")
    for line in diff:
        sys.stdout.write(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")


@main.command()
@click.option("--cache-dir", type=click.Path(path_type=Path), help="The cache to remove [default: .ecolint_cache in the project].")
@_guarded
def clean(cache_dir: Path | None) -> int:
    """Remove the result cache."""
    from ecolint.cache import CACHE_DIRECTORY
    from ecolint.cache import clean as remove
    from ecolint.config import SettingsResolver

    directory = cache_dir or SettingsResolver(frozenset()).for_path(Path.cwd()).root / CACHE_DIRECTORY
    click.echo(f"Removed {directory}" if remove(directory) else f"No cache at {directory}", err=True)
    return EXIT_CLEAN


@main.command()
@click.argument("code", required=False)
@_guarded
def rule(code: str | None) -> int:
    """Show a rule's documentation; without CODE, list the catalogue."""
    from ecolint.docs import rule_page
    from ecolint.rules import all_rules, rule_by_code

    if code is None:
        for item in all_rules():
            click.echo(f"{item.code}  {item.name:<40} {item.summary}  [fix: {item.fix_availability.value}]")
        return EXIT_CLEAN
    found = rule_by_code(code)
    if found is None:
        raise UserError(f"unknown rule code {code!r}; `ecolint rule` lists them")
    click.echo(rule_page(found), nl=False)
    return EXIT_CLEAN


@main.command()
@click.option("--stdio", is_flag=True, hidden=True, help="Accepted, as clients that add it expect: stdio is the transport.")
@_guarded
def server(stdio: bool) -> int:
    """Run the language server on stdin and stdout, for editors (needs the `server` extra)."""
    try:
        from ecolint.server.server import serve
    except ImportError as exc:
        if exc.name not in ("pygls", "lsprotocol", "cattrs"):
            raise
        raise UserError(f'`ecolint server` needs the server extra (missing {exc.name}): pip install "ecolint[server]"') from None
    serve()
    return EXIT_CLEAN
