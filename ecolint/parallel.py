"""Lint many files: cached results first, the rest here or spread over worker processes.

Workers are forked (they inherit the run's rules and settings, nothing is re-imported),
and only when the work pays for them: enough files, more than one core. A run that
walks a large tree forks them while it is still walking (`EarlyWorkers`), so they
import LibCST and the rules meanwhile. Large files go first so one big file does
not finish last on its own.
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

# Fewer files than this per worker are linted in this process: starting workers would cost more.
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
_work: tuple[LinterFor, bool] | None = None  # set before forking; the workers read it


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


def _lint_chunk(chunk: list[Task]) -> list[Outcome]:
    assert _work is not None
    linter_for, digest = _work
    return [lint_task(task, linter_for, digest) for task in chunk]


def _warm_up() -> None:
    """Import what linting a flaggable file needs, before the first one arrives."""
    import libcst.metadata  # noqa: F401

    import ecolint.engine
    import ecolint.fixing.fixes
    import ecolint.prefilter.skeleton  # noqa: F401
    from ecolint.catalogue import catalogue

    for spec in catalogue():
        spec.load()


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def workers_for(count: int, jobs: int | None) -> int:
    """How many processes to use for `count` files (`jobs`: the user's choice, if any)."""
    if jobs is not None:
        return max(1, jobs)
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    return max(1, min(_cores(), count // MIN_FILES_PER_WORKER))


class WorkerPool:
    """Forked worker processes for one run's linting."""

    def __init__(self, workers: int, linter_for: LinterFor, digest: bool, warm_up: bool = False) -> None:
        global _work
        _work = (linter_for, digest)
        self._executor = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))
        if warm_up:
            for _ in range(workers):
                self._executor.submit(_warm_up)

    def lint(self, tasks: list[Task]) -> Iterator[tuple[Task, Outcome]]:
        chunks = _chunks(tasks)
        for chunk, outcomes in zip(chunks, self._executor.map(_lint_chunk, chunks)):
            yield from zip(chunk, outcomes)

    def close(self) -> None:
        global _work
        self._executor.shutdown(wait=True, cancel_futures=True)
        _work = None


class EarlyWorkers:
    """A run's worker pool, started while its tree is walked, as soon as the walk has found enough
    files to occupy every worker (`--jobs`, else one per core); as a context manager, closes it."""

    def __init__(self, jobs: int | None, linter_for: LinterFor, digest: bool, enabled: bool = True) -> None:
        forks = "fork" in multiprocessing.get_all_start_methods()
        self.workers = (jobs or _cores()) if enabled and forks else 1
        self.linter_for, self.digest = linter_for, digest
        self.pool: WorkerPool | None = None

    def found(self, count: int) -> None:
        if self.workers > 1 and count == self.workers * MIN_FILES_PER_WORKER:
            self.pool = WorkerPool(self.workers, self.linter_for, self.digest, warm_up=True)

    def __enter__(self) -> EarlyWorkers:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.close()


def lint_all(
    tasks: Sequence[Task], linter_for: LinterFor, cache: ResultCache | None, jobs: int | None = None, pool: WorkerPool | None = None
) -> list[Outcome]:
    """Outcomes of `tasks`, in their order; cached where the cache knows the file unchanged.

    `pool`: workers already started for this run (`EarlyWorkers`), used if the work left pays for them."""
    outcomes: dict[int, Outcome] = {}
    pending: list[Task] = []
    for task in tasks:
        cached = cache.lookup(task.path, task.display) if cache is not None else None
        if cached is not None:
            outcomes[id(task)] = Outcome(cached)
        else:
            pending.append(task)
    workers = workers_for(len(pending), jobs)
    if workers <= 1:
        for task in pending:
            outcomes[id(task)] = lint_task(task, linter_for, cache is not None)
    elif pool is not None:
        outcomes.update((id(task), outcome) for task, outcome in pool.lint(pending))
    else:
        pool = WorkerPool(workers, linter_for, cache is not None)
        try:
            outcomes.update((id(task), outcome) for task, outcome in pool.lint(pending))
        finally:
            pool.close()
    if cache is not None:
        for task in pending:
            digest = outcomes[id(task)].digest
            if digest is not None:
                cache.store(task.path, digest, outcomes[id(task)].findings)
        cache.save()
    return [outcomes[id(task)] for task in tasks]


def _chunks(tasks: list[Task]) -> list[list[Task]]:
    """Largest files first, alone or with others up to `_CHUNK_BYTES`, so the slowest starts at once."""
    sizes = {id(task): _size(task.path) for task in tasks}
    chunks: list[list[Task]] = []
    filled = _CHUNK_BYTES
    for task in sorted(tasks, key=lambda t: sizes[id(t)], reverse=True):
        if filled + sizes[id(task)] > _CHUNK_BYTES:
            chunks.append([])
            filled = 0
        chunks[-1].append(task)
        filled += sizes[id(task)]
    return chunks


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
