"""Measure workloads: both variants in their own worker processes, runs interleaved in pairs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ecolint.measure import MeasureError
from ecolint.measure.stats import ArmSummary, Delta, Run, paired_delta, summarize
from ecolint.measure.workloads import Variant, Workload
from ecolint.analysis.models import cached_config, local_config, model_size

PERPLEXITY_TEXT = (Path(__file__).parent.parent / "data" / "perplexity.txt").read_text(encoding="utf-8")
_BYTES_PER_PARAMETER = {"load_in_8bit": 1.0, "load_in_4bit": 0.55}


@dataclass(frozen=True)
class MeasureOptions:
    pairs: int = 5
    min_seconds: float = 5.0
    prompt_tokens: int = 64
    synthetic: bool = False
    device: str = "cuda"
    timeout_s: float = 900.0


@dataclass
class Arm:
    variant: Variant
    runs: list[Run] = field(default_factory=list)
    summary: ArmSummary | None = None
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
    weights_seconds: float = 0.0  # finding the weights, or building random ones (once per model: cached)
    seconds: float = 0.0  # the measurement itself: loading both variants through the last pair


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
        self.process.stdin.write(json.dumps(message) + "\n")
        self.process.stdin.flush()

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
            self.send({"command": "exit"})
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
    from ecolint.measure.synthetic import config_for, ensure_checkpoint

    config = config_for(model, search_dirs)
    if config is None:
        raise MeasureError(f"no config known for `{model}` (not cached, not in ecolint's architecture table)")
    return ensure_checkpoint(model, config, options.device, options.timeout_s), "synthetic (random weights, planted outliers)"


def _weights_gib(model: str, variant: Variant) -> float:
    size = model_size(model)
    billions = size.billions if size else 0.0
    bytes_per = next((b for k, b in _BYTES_PER_PARAMETER.items() if (variant.quantization or {}).get(k)), 2.0)
    return billions * 1e9 * bytes_per / 2**30


def _worker_cores(options: MeasureOptions) -> list[tuple[int, ...]]:
    """Two cores for each worker on a GPU machine with cores to spare; none pinned otherwise."""
    available = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if options.device != "cuda" or len(available) < 8:
        return [(), ()]
    return [tuple(available[-4:-2]), tuple(available[-2:])]


def measure(workload: Workload, options: MeasureOptions, search_dirs: Sequence[Path], progress: Callable[[str], None]) -> Measurement:
    """Both variants of one workload; an error is recorded in the result, never raised."""
    import time

    started = time.perf_counter()
    result = Measurement(workload)
    workers: list[WorkerProcess] = []
    try:
        progress("weights")
        path, result.weights = resolve_weights(workload.model, options, search_dirs)
        result.weights_seconds = time.perf_counter() - started
        arms = [Arm(workload.flagged), Arm(workload.fixed)]
        workers = [WorkerProcess(cores) for cores in _worker_cores(options)]
        progress("loading both variants")
        for worker, arm in zip(workers, arms):
            worker.send(
                {
                    "command": "load",
                    "path": str(path),
                    "variant": arm.variant.as_json(),
                    "device": options.device,
                    "prompt_tokens": options.prompt_tokens,
                    "weights_gib": _weights_gib(workload.model, arm.variant),
                }
            )
        for worker in workers:  # loaded in parallel ...
            result.meter = worker.receive()["meter"]
        progress("warming up and sizing the runs")
        for worker, arm in zip(workers, arms):  # ... but sized one at a time, with the GPU to itself
            arm.new_tokens = worker.ask({"command": "calibrate", "min_seconds": options.min_seconds})["new_tokens"]
        progress("warm-up pair")
        for worker in workers:  # interleaved once, discarded: clocks and caches settle; a short one lengthens the next
            worker.ask({"command": "run", "min_seconds": options.min_seconds})
        attempts = 0
        while len(arms[0].runs) < options.pairs:
            attempts += 1
            progress(f"pair {len(arms[0].runs) + 1}/{options.pairs}")
            order = (0, 1) if attempts % 2 else (1, 0)
            pair: dict[int, Run] = {}
            for index in order:
                reply = workers[index].ask({"command": "run", "min_seconds": options.min_seconds})
                pair[index] = Run(reply["joules"], reply["seconds"], reply["tokens"], reply["peak_memory_gib"])
            # A pair with a short run is discarded (its worker lengthens its runs), twice at most:
            # after that short runs are kept, and the report says so.
            if all(run.seconds >= options.min_seconds for run in pair.values()) or attempts - len(arms[0].runs) > 2:
                for index, run in pair.items():
                    arms[index].runs.append(run)
        if result.weights != "synthetic (random weights, planted outliers)":
            progress("quality check")
            for worker, arm in zip(workers, arms):
                arm.perplexity = worker.ask({"command": "perplexity", "text": PERPLEXITY_TEXT})["perplexity"]
        for arm in arms:
            arm.summary = summarize(arm.runs)
        result.flagged, result.fixed = arms
        result.delta = paired_delta(arms[0].runs, arms[1].runs)
    except MeasureError as exc:
        result.error = str(exc)
    finally:
        for worker in workers:
            worker.close()
        result.seconds = time.perf_counter() - started - result.weights_seconds
    return result
