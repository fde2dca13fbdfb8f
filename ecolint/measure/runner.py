"""Measure workloads: both variants in one worker process, short windows alternated in pairs.

On a cloud GPU VM the host CPU runs slower in episodes of seconds, and batch-1 generation is
bound by the CPU's kernel launches, so a slow episode makes whatever runs during it look
costly. Windows of about a second, the two variants alternating (AB, then BA), put both halves
of a pair in the same episode, so their ratio cancels it. Both variants live in one process (each
generating on its own thread, see `worker`), so that what makes one process faster or slower
than another for its lifetime falls on both halves of every pair and cancels too. Pairs are added
until the interval is narrow enough or the time budget is spent (`stats.StoppingRule`).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ecolint.analysis.models import cached_config, local_config, model_size
from ecolint.measure import MeasureError
from ecolint.measure.stats import ArmSummary, Delta, Run, StoppingRule, log_ratios, paired_delta, summarize
from ecolint.measure.workloads import Variant, Workload

PERPLEXITY_TEXT = (Path(__file__).parent.parent / "data" / "perplexity.txt").read_text(encoding="utf-8")
_BYTES_PER_PARAMETER = {"load_in_8bit": 1.0, "load_in_4bit": 0.55}
SYNTHETIC = "synthetic (random weights, planted outliers)"


@dataclass(frozen=True)
class MeasureOptions:
    min_pairs: int = 10  # pairs before the interval may stop the measurement
    window_seconds: float = 1.0  # the length a measured window aims at
    precision: float = 5.0  # stop once the 95% interval's half-width is at most this many points
    max_seconds: float = 180.0  # ... or when another pair would end past this (loading included)
    prompt_tokens: int = 64
    synthetic: bool = False
    device: str = "cuda"
    timeout_s: float = 900.0
    counter_lag_s: float = 0.0  # how far the energy reading trails the GPU (measured: benchmarks/measure_validity.py)

    def rule(self) -> StoppingRule:
        return StoppingRule(min_pairs=self.min_pairs, precision=self.precision, max_seconds=self.max_seconds)


@dataclass
class Arm:
    variant: Variant
    runs: list[Run] = field(default_factory=list)
    summary: ArmSummary | None = None
    call_seconds: float = 0.0  # one generation call at the workload's length, measured alone
    calls_per_window: int = 1
    new_tokens: int = 0
    perplexity: float | None = None


@dataclass
class Measurement:
    workload: Workload
    weights: str = ""
    meter: str = ""
    flagged: Arm | None = None
    fixed: Arm | None = None
    delta: Delta | None = None
    error: str | None = None
    shares_per_call: int = 1  # windows per generation call (1: windows are whole calls)
    order_seed: int = 0  # the seed of the pairs' random order (which variant runs first)
    weights_seconds: float = 0.0  # finding the weights, or building random ones (once per model: cached)
    seconds: float = 0.0  # the measurement itself: loading both variants through the last pair
    started_at: str = ""  # UTC, ISO 8601
    prompt_tokens: int = 0


class WorkerProcess:
    """A worker subprocess and its JSON-lines conversation."""

    def __init__(self, cores: Sequence[int] = ()) -> None:
        self._stderr: IO[str] = tempfile.TemporaryFile(mode="w+")
        env = dict(os.environ)
        if cores:
            env["ECOLINT_WORKER_CORES"] = ",".join(map(str, cores))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ecolint.measure.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            env=env,
        )

    def send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(json.dumps(message) + "\n")
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            self.receive()  # says why the worker ended

    def receive(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            self._stderr.seek(0)
            last = (self._stderr.read().strip().splitlines() or ["no output"])[-1]
            raise MeasureError(f"the worker process ended: {last}")
        reply = json.loads(line)
        if "error" in reply:
            raise MeasureError(reply["error"])
        return reply

    def ask(self, message: dict[str, Any]) -> dict[str, Any]:
        self.send(message)
        return self.receive()

    def close(self) -> None:
        try:
            assert self.process.stdin is not None
            self.process.stdin.write(json.dumps({"command": "exit"}) + "\n")
            self.process.stdin.flush()
            self.process.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired, ValueError):
            self.process.kill()
        self._stderr.close()


def resolve_weights(model: str, options: MeasureOptions, search_dirs: Sequence[Path]) -> tuple[Path, str]:
    """Where the weights come from: a local path, the Hugging Face cache, or built at random."""
    local = local_config(model, search_dirs)
    if local is not None:
        return local.parent, "local path"
    cached = cached_config(model)
    if cached is not None and (any(cached.parent.glob("*.safetensors")) or any(cached.parent.glob("*.bin"))):
        return cached.parent, "Hugging Face cache"
    if not options.synthetic:
        raise MeasureError(f"`{model}` is not in the local Hugging Face cache (nothing is downloaded); use --synthetic for random weights")
    from ecolint.measure.synthetic import config_for, encoders_billions, ensure_checkpoint

    config = config_for(model, search_dirs)
    if config is None:
        raise MeasureError(f"no config known for `{model}` (not cached, not in ecolint's architecture table)")
    if options.device == "cuda":
        needed, free = _weights_gib(model, Variant("16-bit")), _free_gpu_gib()
        if free is not None and needed > free:
            raise MeasureError(f"too large for the card: random weights need about {needed:.0f} GiB in 16 bits, {free:.0f} GiB free")
    found = local_config(model, search_dirs) or cached_config(model)
    left_out = 0.0 if found is not None else encoders_billions(model)
    label = f"{SYNTHETIC}; the language model only: {left_out:g}B of encoders not built" if left_out else SYNTHETIC
    return ensure_checkpoint(model, config, options.device, options.timeout_s), label


def _free_gpu_gib() -> float | None:
    try:
        import pynvml

        from ecolint.measure.energy import nvml_handle

        return pynvml.nvmlDeviceGetMemoryInfo(nvml_handle()).free / 2**30
    except Exception:  # noqa: BLE001 - unknown: the build itself will say
        return None


def _weights_gib(model: str, variant: Variant) -> float:
    size = model_size(model)
    billions = size.billions if size else 0.0
    bytes_per = next((b for k, b in _BYTES_PER_PARAMETER.items() if (variant.quantization or {}).get(k)), 2.0)
    return billions * 1e9 * bytes_per / 2**30


def worker_cores(device: str) -> tuple[int, ...]:
    """One core for both variants' generating threads on a GPU machine with cores to spare; none pinned otherwise.

    Batch-1 generation is bound by one CPU thread's kernel launches, and on a cloud VM each
    core's speed wanders on its own for seconds at a time. Two generating threads left to the
    scheduler (or given two cores) each keep to a core of their own, so a pair compares two
    cores' speeds: on the H200 VM the A/A log ratios of such pairs had a standard deviation of
    0.28. The variants never run at once, so one core serves both: each pair meets one core's speed.
    """
    available = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if device != "cuda" or len(available) < 8:
        return ()
    return (available[-1],)


def plan_windows(call_seconds: Sequence[float], new_tokens: int, window_seconds: float) -> tuple[int, list[int]]:
    """Shares per call (the same for both variants) and calls per window (each variant's own).

    Calls of at least two window lengths are split into equal shares, so that the faster
    variant's share lasts about a window; shorter calls are grouped whole to about a window.
    """
    shortest = min(call_seconds)
    if shortest >= 2 * window_seconds and new_tokens >= 8:
        return max(2, min(int(shortest / window_seconds), new_tokens // 4)), [1 for _ in call_seconds]
    return 1, [max(1, round(window_seconds / max(s, 1e-6))) for s in call_seconds]


def run_pairs(
    take: Callable[[int], Callable[[], Run]], rule: StoppingRule, elapsed: Callable[[], float], seed: int = 0
) -> tuple[list[Run], list[Run], str]:
    """Pairs of windows until `rule` stops; `take(arm)` runs a window and returns how to read it.

    Which variant goes first is drawn at random for each pair (from `seed`). A fixed pattern
    makes neighbouring pairs dependent: alternating AB, BA, AB puts windows of one variant side
    by side across pairs, so a slow episode two windows long skews two neighbouring ratios the
    same way (simulated coverage 92-93% for a nominal 95%); AB, AB, AB skews them opposite ways
    (too wide). Drawn at random, the skews cancel on average and the coverage is nominal.

    A window's energy is read only after the next window has run, by when the counter has
    moved past its end; the simulation in the tests passes its own `take` and clock.
    """
    flagged: list[Run] = []
    fixed: list[Run] = []
    orders = random.Random(seed)
    while True:
        begun = elapsed()
        order = (0, 1) if orders.random() < 0.5 else (1, 0)
        pending = {}
        for arm in order:
            pending[arm] = take(arm)
        flagged.append(pending[0]())
        fixed.append(pending[1]())
        now = elapsed()
        reason = rule.decide(log_ratios(flagged, fixed), now, now - begun)
        if reason is not None:
            return flagged, fixed, reason


def _recorder(options: MeasureOptions, avoid: Sequence[int] = ()) -> Any:
    from ecolint.measure.energy import EstimatedRecorder, gpu_recorder

    if options.device != "cuda":
        return EstimatedRecorder().start()
    return gpu_recorder(lag_s=options.counter_lag_s, avoid_cores=avoid)


class Session:
    """One worker holding both variants: loaded, warmed, their windows planned; `compare` measures pairs."""

    def __init__(self, workload: Workload, options: MeasureOptions, path: Path, progress: Callable[[str], None]) -> None:
        self.workload, self.options, self.path, self.progress = workload, options, path, progress
        self.arms = [Arm(workload.flagged), Arm(workload.fixed)]
        self.worker: WorkerProcess | None = None
        self.recorder: Any = None
        self.shares = 1
        self.order_seed = 0  # drawn afresh for each comparison, recorded in the report
        self.started = time.perf_counter()
        self.setup_seconds = 0.0

    def _ask(self, index: int, message: dict[str, Any]) -> dict[str, Any]:
        assert self.worker is not None
        return self.worker.ask({**message, "arm": index})

    def open(self) -> Session:
        cores = worker_cores(self.options.device)
        self.recorder = _recorder(self.options, avoid=cores)
        self.worker = WorkerProcess(cores)
        self.progress("loading both variants")
        for index, arm in enumerate(self.arms):
            message = {
                "command": "load",
                "path": str(self.path),
                "variant": arm.variant.as_json(),
                "device": self.options.device,
                "prompt_tokens": self.options.prompt_tokens,
                "new_tokens": self.workload.new_tokens,
                "weights_gib": _weights_gib(self.workload.model, arm.variant),
            }
            arm.new_tokens = self._ask(index, message)["new_tokens"]
        self.progress("warming up")
        for index, arm in enumerate(self.arms):  # one at a time, with the GPU to itself
            arm.call_seconds = self._ask(index, {"command": "warm", "cold": 1, "timed": 1})["call_seconds"]
        self.shares, calls = plan_windows([a.call_seconds for a in self.arms], self.arms[0].new_tokens, self.options.window_seconds)
        for index, (arm, count) in enumerate(zip(self.arms, calls)):
            arm.calls_per_window = self._ask(index, {"command": "plan", "shares": self.shares, "calls": count})["calls"]
        self.progress("warm-up pair")
        for index in (0, 1):  # interleaved once, discarded: the first windows after a plan settle
            self._take(index)()
        self.setup_seconds = time.perf_counter() - self.started
        return self

    def _take(self, index: int) -> Callable[[], Run]:
        reply = self._ask(index, {"command": "window"})
        state = self.recorder.gpu_state()
        start, end = reply["start"], reply["end"]

        def read() -> Run:
            joules = self.recorder.energy_between(start, end)
            return Run(
                joules, end - start, reply["tokens"], reply["peak_memory_gib"], reply["cpu_seconds"],
                state["sm_clock_mhz"], state["temperature_c"], start - self.started, reply.get("core"),
            )  # fmt: skip

        return read

    def compare(self) -> Delta:
        """Pairs until the stopping rule says enough; the runs are kept in the arms."""
        trial_start = time.perf_counter()

        def elapsed() -> float:  # as if this comparison had loaded its worker itself
            return self.setup_seconds + time.perf_counter() - trial_start

        def take(index: int) -> Callable[[], Run]:
            self.progress(f"pair {len(self.arms[0].runs) + 1}")
            return self._take(index)

        self.order_seed = random.SystemRandom().randrange(2**32)
        flagged, fixed, reason = run_pairs(take, self.options.rule(), elapsed, self.order_seed)
        self.arms[0].runs, self.arms[1].runs = flagged, fixed
        for arm in self.arms:
            arm.summary = summarize(arm.runs)
        return paired_delta(flagged, fixed, reason)

    def perplexities(self) -> None:
        self.progress("quality check")
        for index, arm in enumerate(self.arms):
            arm.perplexity = self._ask(index, {"command": "perplexity", "text": PERPLEXITY_TEXT})["perplexity"]

    def close(self) -> None:
        if self.worker is not None:
            self.worker.close()
        if self.recorder is not None:
            self.recorder.stop()


def measure(workload: Workload, options: MeasureOptions, search_dirs: Sequence[Path], progress: Callable[[str], None]) -> Measurement:
    """Both variants of one workload; an error is recorded in the result, never raised."""
    from datetime import datetime, timezone

    started = time.perf_counter()
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    result = Measurement(workload, started_at=now, prompt_tokens=options.prompt_tokens)
    session: Session | None = None
    try:
        progress("weights")
        path, result.weights = resolve_weights(workload.model, options, search_dirs)
        result.weights_seconds = time.perf_counter() - started
        session = Session(workload, options, path, progress)
        result.meter = session.open().recorder.kind
        result.shares_per_call = session.shares
        result.delta = session.compare()
        result.order_seed = session.order_seed
        if not result.weights.startswith(SYNTHETIC):
            session.perplexities()
        result.flagged, result.fixed = session.arms
    except MeasureError as exc:
        result.error = str(exc)
    finally:
        if session is not None:
            session.close()
        result.seconds = time.perf_counter() - started - result.weights_seconds
    return result
