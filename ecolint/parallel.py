"""Lint many files: cached results first, the rest here alone or with forked workers.

Workers are forked (they inherit the run's rules and settings, nothing is re-imported),
and only when the work pays for them: enough files, more than one core. A run that
walks a large tree forks the first worker while it is still walking (`EarlyWorkers`);
it imports LibCST and the rules meanwhile, then forks the others, which inherit them:
LibCST is imported once, and the walk has a core to itself. The workers take the largest
files first, so one big file does not finish last on its own; this process takes the
smallest, those the prefilter rules out (it never imports LibCST), and hands the rest on.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import signal
import threading
import traceback
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
_CHUNK_FILES = 64  # and at most this many files: a chunk's message stays small
_IN_FLIGHT = 2  # chunks sent to a worker ahead of its outcomes, so it never waits for the next


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


def lint_task(task: Task, linter_for: LinterFor, digest: bool = True, parse: bool = True) -> Outcome | None:
    """Read and lint one file; an unreadable file is a finding, a crash an error, never raised.

    With `digest`, the outcome carries the hash of the bytes linted, for the cache. Without
    `parse`, None where the prefilter leaves a rule to run (LibCST is not imported)."""
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
            linter = linter_for(task.settings, task.path)
            result = linter.lint(source) if parse else linter.lint_unparsed(source)
            if result is None:
                return None
    except _Timeout:
        return Outcome([], warning=f"{task.display}: skipped: took longer than file-timeout ({task.settings.file_timeout:g} s)")
    except Exception as exc:  # noqa: BLE001 - one bad file must not stop the run
        if os.environ.get("ECOLINT_DEBUG"):
            raise
        return Outcome([], f"{task.display}: internal error: {type(exc).__name__}: {exc}")
    return Outcome(result.findings, digest=content_hash(data) if digest else None)


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


def _first_worker(pipes: list[tuple[Connection, Connection]], warm_up: bool) -> None:
    """The first worker: imports LibCST and the rules (`warm_up`), forks the other workers, which
    inherit them, tells the parent it is ready, then serves its own pipe."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the run in the parent, which ends its workers
    for ours, _ in pipes:
        ours.close()
    if warm_up:
        _warm_up()
        gc.freeze()  # what the import made stays out of collections, and off the pages the others would copy
    others = []
    for index, (_, theirs) in enumerate(pipes[1:], start=1):
        pid = os.fork()
        if pid == 0:
            status = 1
            try:
                for other in (pipes[0][1], *(other for _, other in pipes[index + 1 :])):
                    other.close()
                _serve(theirs)
                status = 0
            except BaseException:
                traceback.print_exc()
            finally:
                os._exit(status)  # never back into the first worker's loop
        theirs.close()
        others.append(pid)

    def stop(signum: int, frame: Any) -> None:  # the parent's terminate(): the others too, reaped here
        for pid in others:
            os.kill(pid, signal.SIGTERM)
        for pid in others:
            os.waitpid(pid, 0)
        os._exit(1)

    signal.signal(signal.SIGTERM, stop)
    connection = pipes[0][1]
    connection.send(True)  # ready
    _serve(connection)
    for pid in others:
        os.waitpid(pid, 0)


def _serve(connection: Connection) -> None:
    """A worker: lint each chunk received, send back its outcomes; stop at the end of the pipe."""
    assert _work is not None
    linter_for, digest = _work
    while True:
        try:
            chunk = connection.recv()
        except EOFError:
            return
        outcomes = [lint_task(task, linter_for, digest) for task in chunk]
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
    """Forked worker processes for one run's linting, this process handing out chunks and linting some."""

    def __init__(self, workers: int, linter_for: LinterFor, digest: bool, warm_up: bool = False) -> None:
        global _work
        _work = (linter_for, digest)
        context = multiprocessing.get_context("fork")
        pipes = [context.Pipe() for _ in range(workers)]
        self._first = context.Process(target=_first_worker, args=(pipes, warm_up), daemon=True)
        self._first.start()
        for _, theirs in pipes:
            theirs.close()
        self._connections = [ours for ours, _ in pipes]
        self._ready = False  # the first worker has imported LibCST and forked the others
        self._done = False  # every chunk given out came back: the workers wait for more

    def lint(self, tasks: list[Task]) -> Iterator[tuple[Task, Outcome]]:
        """Each task with its outcome, as they come: the workers take the largest chunks first, this
        process the smallest, the files the prefilter rules out; the rest go to the workers next."""
        assert _work is not None
        linter_for, digest = _work
        chunks = deque(_chunks(tasks))
        due: dict[Connection, deque[list[Task]]] = {connection: deque() for connection in self._connections}
        first = self._connections[0]
        while True:
            if self._ready:
                for connection, queue in due.items():
                    while len(queue) < _IN_FLIGHT and chunks:
                        queue.append(chunks.popleft())
                        connection.send(queue[-1])
            if chunks:
                left = []
                for task in chunks.pop():
                    outcome = lint_task(task, linter_for, digest, parse=False)
                    if outcome is None:
                        left.append(task)
                    else:
                        yield task, outcome
                if left:
                    chunks.appendleft(left)
                timeout: float | None = 0
            elif any(due.values()) or not self._ready:
                timeout = None
            else:
                self._done = True
                return
            for ready in wait([c for c, queue in due.items() if queue] if self._ready else [first], timeout):
                assert isinstance(ready, Connection)
                if not self._ready:
                    self._ready = self._receive(first)
                else:
                    yield from zip(due[ready].popleft(), self._receive(ready))

    @staticmethod
    def _receive(connection: Connection) -> Any:
        try:
            return connection.recv()
        except (EOFError, OSError):
            raise WorkerShutdown("a worker process ended unexpectedly") from None

    def close(self) -> None:
        """End the workers: idle ones at the end of their pipes (the first waits for the others, so their
        resource use counts as this run's); one still importing LibCST, or a run interrupted, where they are."""
        global _work
        if not self._done:
            self._first.terminate()
        for connection in self._connections:
            connection.close()
        self._first.join()
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
