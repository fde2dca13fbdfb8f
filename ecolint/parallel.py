"""Lint many files: cached results first, the rest here or spread over worker processes.

Workers are forked (they inherit the task list and the run's settings, nothing is
re-imported), and only when the work pays for them: enough files, more than one core.
Large files go first so one big file does not finish last on its own.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ecolint.cache import ResultCache, content_hash
from ecolint.diagnostics import Finding, unreadable_file

# Fewer files than this are linted in this process: starting workers would cost more.
MIN_FILES_PER_WORKER = 200
_CHUNK_BYTES = 256_000


@dataclass(frozen=True)
class Task:
    """One file to lint, with the settings that apply to it."""

    path: Path
    display: str
    settings: Any


@dataclass
class Outcome:
    """What linting one file gave: findings, or an internal error's one-line description."""

    findings: list[Finding]
    error: str | None = None
    digest: str | None = None  # of the bytes linted, for the cache
    warning: str | None = None  # the file was skipped, and why


LinterFor = Callable[[Any, Path], Any]
_work: tuple[Sequence[Task], LinterFor, bool] | None = None  # set before forking; the workers read it


def lint_task(task: Task, linter_for: LinterFor, digest: bool = True) -> Outcome:
    """Read and lint one file; an unreadable file is a finding, a crash an error, never raised.

    With `digest`, the outcome carries the hash of the bytes linted, for the cache."""
    from ecolint.sources import SourceError, read_bytes, read_source

    limit = task.settings.max_file_size
    if _size(task.path) > limit:
        return Outcome([], warning=f"{task.display}: skipped: larger than max-file-size ({limit:,} bytes)")
    try:
        data = read_bytes(task.path)
        source = read_source(task.path, task.display, data)
    except SourceError as exc:
        return Outcome([unreadable_file(task.display, str(exc))])
    try:
        with _time_limit(task.settings.file_timeout):
            findings = linter_for(task.settings, task.path).lint(source).findings
    except _Timeout:
        return Outcome([], warning=f"{task.display}: skipped: took longer than file-timeout ({task.settings.file_timeout:g} s)")
    except Exception as exc:  # noqa: BLE001 - one bad file must not stop the run
        if os.environ.get("ECOLINT_DEBUG"):
            raise
        return Outcome([], f"{task.display}: internal error: {type(exc).__name__}: {exc}")
    return Outcome(findings, digest=content_hash(data) if digest else None)


class _Timeout(BaseException):  # not caught by `except Exception` on its way out
    pass


@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Raise `_Timeout` in this block after `seconds` (a real-time timer; main thread on Unix only)."""
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable:
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise _Timeout

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _lint_chunk(indices: list[int]) -> list[tuple[int, Outcome]]:
    assert _work is not None
    tasks, linter_for, digest = _work
    return [(index, lint_task(tasks[index], linter_for, digest)) for index in indices]


def workers_for(count: int, jobs: int | None) -> int:
    """How many processes to use for `count` files (`jobs`: the user's choice, if any)."""
    if jobs is not None:
        return max(1, jobs)
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cores, count // MIN_FILES_PER_WORKER))


def lint_all(tasks: Sequence[Task], linter_for: LinterFor, cache: ResultCache | None, jobs: int | None = None) -> list[Outcome]:
    """Outcomes of `tasks`, in their order; cached where the cache knows the file unchanged."""
    global _work
    outcomes: list[Outcome | None] = [None] * len(tasks)
    pending = []
    for index, task in enumerate(tasks):
        cached = cache.lookup(task.path, task.display) if cache is not None else None
        if cached is not None:
            outcomes[index] = Outcome(cached)
        else:
            pending.append(index)
    workers = workers_for(len(pending), jobs)
    if workers <= 1:
        for index in pending:
            outcomes[index] = lint_task(tasks[index], linter_for, cache is not None)
    else:
        chunks = _chunks(pending, tasks)
        _work = (tasks, linter_for, cache is not None)
        try:
            with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
                for results in pool.map(_lint_chunk, chunks):
                    for index, outcome in results:
                        outcomes[index] = outcome
        finally:
            _work = None
    if cache is not None:
        for index in pending:
            outcome = outcomes[index]
            assert outcome is not None
            if outcome.digest is not None:
                cache.store(tasks[index].path, outcome.digest, outcome.findings)
        cache.save()
    return [outcome for outcome in outcomes if outcome is not None]


def _chunks(pending: list[int], tasks: Sequence[Task]) -> list[list[int]]:
    """Largest files first, alone or with others up to `_CHUNK_BYTES`, so the slowest starts at once."""
    sizes = {index: _size(tasks[index].path) for index in pending}
    chunks: list[list[int]] = []
    filled = _CHUNK_BYTES
    for index in sorted(pending, key=sizes.__getitem__, reverse=True):
        if filled + sizes[index] > _CHUNK_BYTES:
            chunks.append([])
            filled = 0
        chunks[-1].append(index)
        filled += sizes[index]
    return chunks


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
