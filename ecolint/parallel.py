"""Lint many files: cached results first, the rest in this process alone or with forked workers.

Workers are forked (they inherit the run's rules and settings, nothing is re-imported),
and only when the work pays for them: enough files, more than one core. A run that
walks a large tree forks them while it is still walking (`EarlyWorkers`), and the first
imports LibCST and the rules meanwhile. This process takes the largest files first, so
one big file does not finish last on its own, and runs the prefilter (and the skeleton)
of the few that need LibCST, then hands them to that worker: most runs import LibCST
once, not in every process.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from multiprocessing.connection import Connection, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ecolint.cache import ResultCache, content_hash
from ecolint.diagnostics import Finding, unreadable_file

# Fewer files than this per worker are linted in this process: starting workers would cost more.
MIN_FILES_PER_WORKER = 200
_CHUNK_BYTES = 256_000
_CHUNK_FILES = 64  # and at most this many files: chunks sent ahead fit in a pipe's buffer
_IN_FLIGHT = 2  # chunks sent to a worker ahead of its outcomes, so it never waits for this process
_HANDED_OVER = 8  # files this process hands to the first worker for LibCST; past that many, it imports LibCST too


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


@dataclass
class Handover:
    """A file this process prepared (`Linter.prepare`) for a worker that has LibCST to lint."""

    task: Task
    source: Any  # ecolint.sources.Source
    prepared: Any  # ecolint.engine.Prepared
    digest: str | None
    seconds_left: float  # of the file's file-timeout


LinterFor = Callable[[Any, Path], Any]
_work: tuple[LinterFor, bool] | None = None  # set before forking; the workers read it


def lint_task(task: Task, linter_for: LinterFor, digest: bool = True, parse: bool = True) -> Outcome | Handover:
    """Read and lint one file; an unreadable file is a finding, a crash an error, never raised.

    With `digest`, the outcome carries the hash of the bytes linted, for the cache. Without
    `parse`, a file the prefilter leaves a rule for is only prepared, into a `Handover`: LibCST is not imported."""
    from ecolint.sources import SourceError, read_bytes, read_source

    limit = task.settings.max_file_size
    if _size(task.path) > limit:
        return Outcome([], warning=f"{task.display}: skipped: larger than max-file-size ({limit:,} bytes)")
    try:
        data = read_bytes(task.path)
        source = read_source(task.path, task.display, data)
    except SourceError as exc:
        return Outcome([unreadable_file(task.display, str(exc))])
    hashed = content_hash(data) if digest else None
    start = time.monotonic()

    def run() -> Outcome | Handover:
        linter = linter_for(task.settings, task.path)
        prepared = linter.prepare(source)
        if prepared.codes and not parse:
            return Handover(task, source, prepared, hashed, task.settings.file_timeout - (time.monotonic() - start))
        return Outcome(linter.lint(source, prepared=prepared).findings, digest=hashed)

    return _limited(task, task.settings.file_timeout, run)


def finish(handover: Handover, linter_for: LinterFor) -> Outcome:
    """A handed-over file's outcome, linted in the time its file-timeout left."""
    task = handover.task

    def run() -> Outcome:
        linter = linter_for(task.settings, task.path)
        return Outcome(linter.lint(handover.source, prepared=handover.prepared).findings, digest=handover.digest)

    return _limited(task, max(handover.seconds_left, 0.001), run)


def _limited(task: Task, seconds: float, run: Callable[[], Any]) -> Any:
    """`run()`, stopped after `seconds`; a timeout is a warning, a crash an error, neither raised."""
    try:
        with _time_limit(seconds):
            return run()
    except _Timeout:
        return Outcome([], warning=f"{task.display}: skipped: took longer than file-timeout ({task.settings.file_timeout:g} s)")
    except Exception as exc:  # noqa: BLE001 - one bad file must not stop the run
        if os.environ.get("ECOLINT_DEBUG"):
            raise
        return Outcome([], f"{task.display}: internal error: {type(exc).__name__}: {exc}")


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


def _serve(connection: Connection, others: list[Connection], warm_up: bool) -> None:
    """A worker: lint each chunk of tasks and handovers received, send back their outcomes; stop at the end of the pipe."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the run in the parent, which ends its workers
    for other in others:
        other.close()
    if warm_up:
        _warm_up()
    assert _work is not None
    linter_for, digest = _work
    while True:
        try:
            chunk = connection.recv()
        except EOFError:
            return
        outcomes = [finish(item, linter_for) if isinstance(item, Handover) else lint_task(item, linter_for, digest) for item in chunk]
        try:
            connection.send(outcomes)
        except OSError:  # the parent is gone
            return


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


class WorkerShutdown(Exception):
    """A worker process ended before sending back what it was given."""


class WorkerPool:
    """This process and `workers - 1` forked ones, linting one run's files together.

    This process takes the largest files first, the workers the smallest. The first worker imports
    LibCST and the rules as it starts (`warm_up`), or at its first file that needs them; this process
    does not: a file it finds needs them, it prepares and hands over to that worker (up to `_HANDED_OVER`)."""

    def __init__(self, workers: int, linter_for: LinterFor, digest: bool, warm_up: bool = False) -> None:
        global _work
        _work = (linter_for, digest)
        context = multiprocessing.get_context("fork")
        self._connections: list[Connection] = []
        self._processes: list[multiprocessing.process.BaseProcess] = []
        for index in range(workers - 1):
            ours, theirs = context.Pipe()
            others = [*self._connections, ours]  # the child's copies of this process's ends, closed there
            process = context.Process(target=_serve, args=(theirs, others, warm_up and index == 0), daemon=True)
            process.start()
            theirs.close()
            self._connections.append(ours)
            self._processes.append(process)

    def lint(self, tasks: list[Task]) -> Iterator[tuple[Task, Outcome]]:
        """Each task with its outcome, as they come."""
        assert _work is not None
        linter_for, digest = _work
        chunks = _chunks(tasks)
        ours, theirs = 0, len(chunks)  # this process takes chunks[ours], the workers chunks[theirs - 1]
        sent: dict[Connection, deque[list[Task]]] = {connection: deque() for connection in self._connections}  # outcomes due
        handovers: list[Handover] = []
        handed_over = 0
        first = self._connections[0]
        while True:
            for connection, queue in sent.items():
                while len(queue) < _IN_FLIGHT and (ours < theirs or (connection is first and handovers)):
                    chunk: list[Any]
                    if connection is first and handovers:
                        chunk, handovers = handovers, []
                        queue.append([handover.task for handover in chunk])
                    else:
                        theirs -= 1
                        chunk = chunks[theirs]
                        queue.append(chunk)
                    connection.send(chunk)
            if ours < theirs:
                for task in chunks[ours]:
                    outcome = lint_task(task, linter_for, digest, parse=handed_over >= _HANDED_OVER)
                    if isinstance(outcome, Handover):
                        handovers.append(outcome)
                        handed_over += 1
                    else:
                        yield task, outcome
                ours += 1
                timeout: float | None = 0
            elif handovers or any(sent.values()):
                timeout = None
            else:
                return
            for connection in wait([c for c, queue in sent.items() if queue], timeout):
                assert isinstance(connection, Connection)
                try:
                    outcomes = connection.recv()
                except EOFError:
                    raise WorkerShutdown("a worker process ended unexpectedly") from None
                yield from zip(sent[connection].popleft(), outcomes)

    def close(self) -> None:
        """End the workers where they are: waiting for work, or still importing LibCST, or (a run interrupted) linting."""
        global _work
        for process in self._processes:
            process.terminate()
        for process, connection in zip(self._processes, self._connections):
            process.join()
            connection.close()
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
            outcome = lint_task(task, linter_for, cache is not None)
            assert outcome is not None  # a parse was allowed
            outcomes[id(task)] = outcome
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
    """Largest files first, alone or with others up to `_CHUNK_BYTES` and `_CHUNK_FILES`, so the slowest starts at once."""
    sizes = {id(task): _size(task.path) for task in tasks}
    chunks: list[list[Task]] = []
    filled = _CHUNK_BYTES
    for task in sorted(tasks, key=lambda t: sizes[id(t)], reverse=True):
        if filled + sizes[id(task)] > _CHUNK_BYTES or len(chunks[-1]) == _CHUNK_FILES:
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
