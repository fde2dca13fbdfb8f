"""Both variants in one process: load each, warm up, then run measured windows on request.

Speaks JSON lines on stdin/stdout: `load`, `warm`, `plan`, `window`, `perplexity`, `exit`; each
but `exit` names the variant (`arm`: 0 or 1) it is for.

Both variants live in one process so that whatever makes a process run fast or slow for its
lifetime (on the H200 VM, pairs of worker processes measuring the same variant differed by -5
to +3 points, trial after trial) falls on both and cancels in their ratio. Each variant
generates on a thread of its own and only one thread runs at a time: the main thread hands a
window to a variant's thread and waits for its report.

A window is either a whole number of generation calls or, when one call lasts several window
lengths, an equal share of one call: the call then pauses at the share's last token (inside a
stopping criterion, after a CUDA synchronize), reports the window, and its thread waits for the
next window, so the other variant's window runs while this one is paused. Both variants split
their calls into the same number of shares, so paired windows cover the same token positions
(the prompt's prefill lands in the first share of both). The worker does not read energy: it
reports each window's start and end on the system's monotonic clock, and the orchestrator's
recorder says how many joules the GPU used in between.

Errors (out of memory, a model too large for the card, a missing package) come back as
`{"error": "..."}`, so the orchestrator reports them and goes on.
"""

from __future__ import annotations

import gc
import json
import os
import queue
import statistics
import sys
import threading
import time
from collections.abc import Callable
from typing import IO, Any

Job = tuple[str, Callable[[], dict[str, Any]]]


class Interrupted(Exception):
    """A paused generation was handed a job other than a window: it is abandoned, and the job runs next."""

    def __init__(self, job: Job | None) -> None:
        super().__init__(job[0] if job else "exit")
        self.job = job


class Channel:
    def __init__(self, inbox: IO[str], outbox: IO[str]) -> None:
        self.inbox, self.outbox = inbox, outbox

    def read(self) -> dict[str, Any] | None:
        line = self.inbox.readline()
        return json.loads(line) if line else None

    def write(self, reply: dict[str, Any]) -> None:
        self.outbox.write(json.dumps(reply) + "\n")
        self.outbox.flush()


class ArmThread:
    """The thread one variant generates on; `run` hands it a job and waits for the reply."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._replies: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def run(self, job: Job) -> dict[str, Any]:
        self._jobs.put(job)
        return self._replies.get()

    def stop(self) -> None:
        """End the thread, abandoning a paused call; wait for it, so the process never exits mid-generation."""
        self._jobs.put(None)
        self._thread.join(timeout=30)

    def pause(self, report: dict[str, Any]) -> None:
        """On this thread, inside a generation: send `report` and wait; go on only for a window."""
        self._replies.put(report)
        job = self._jobs.get()
        if job is None or job[0] != "window":
            raise Interrupted(job)

    def _serve(self) -> None:
        job = self._jobs.get()
        while job is not None:
            try:
                reply = job[1]()
            except Interrupted as interrupted:
                job = interrupted.job
                continue
            except Exception as exc:  # noqa: BLE001 - reported to the orchestrator, which goes on
                reply = _error(exc)
            self._replies.put(reply)
            job = self._jobs.get()


class Arm:
    """One variant in the worker: its model, prompt batch and window plan, generating on its own thread."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.thread = ArmThread()
        self.model: Any = None
        self.inputs: dict[str, Any] = {}
        self.new_tokens = 0
        self.batch = 1
        self.shares = 1  # windows per call (a call split at equal token counts)
        self.calls = 1  # calls per window, when shares == 1
        self.weights_bytes = 0  # GPU memory the loaded model holds
        self._window: dict[str, float] = {}

    def _sync(self) -> None:
        import torch

        if self.worker.device == "cuda":
            torch.cuda.synchronize()

    def load(self, message: dict[str, Any]) -> dict[str, Any]:
        import torch
        import transformers

        device = self.worker.device = message["device"]
        path = self.worker.path = message["path"]
        variant = message["variant"]
        if device == "cuda":
            free = torch.cuda.mem_get_info()[0] / 2**30
            if message["weights_gib"] > free:
                return {"error": f"too large for the card: about {message['weights_gib']:.1f} GiB of weights, {free:.1f} GiB free"}
            dtype = getattr(torch, variant["dtype"])
            before = torch.cuda.memory_allocated()
        else:
            dtype = torch.float32
        kwargs: dict[str, Any] = {"device_map": "cuda"} if device == "cuda" else {}
        if variant["quantization"]:
            if device != "cuda":
                return {"error": "bitsandbytes quantization needs a CUDA GPU"}
            kwargs["quantization_config"] = transformers.BitsAndBytesConfig(**variant["quantization"])
        started = time.perf_counter()
        self.model = model_class(path).from_pretrained(path, dtype=dtype, **kwargs).eval()
        load_seconds = time.perf_counter() - started
        if device == "cuda":
            self.weights_bytes = torch.cuda.memory_allocated() - before
        prompt_tokens = message["prompt_tokens"]
        limit = _position_limit(self.model.config) - prompt_tokens - 1
        self.new_tokens = max(1, min(limit, message["new_tokens"]))
        self.batch = variant["batch"]
        generator = torch.Generator().manual_seed(message.get("seed", 0))
        vocab = _text_config(self.model.config).vocab_size
        # Random prompt tokens, clear of the special ids at the start of the vocabulary.
        ids = torch.randint(min(100, vocab // 2), vocab - 1, (self.batch, prompt_tokens), generator=generator)
        self.inputs = {"input_ids": ids.to(device), "attention_mask": torch.ones_like(ids).to(device)}
        cores = _pin_to_cores()  # this thread, after loading, which is faster on all cores
        if cores:
            torch.set_num_threads(cores)
        return {"ok": True, "load_seconds": load_seconds, "new_tokens": self.new_tokens}

    def _generate(self, stopping: Any = None) -> Any:
        kwargs = {"stopping_criteria": stopping} if stopping is not None else {}
        return self.model.generate(
            **self.inputs, min_new_tokens=self.new_tokens, max_new_tokens=self.new_tokens, do_sample=False, pad_token_id=0, **kwargs
        )

    def warm(self, cold: int, timed: int) -> dict[str, Any]:
        """`cold` untimed calls (kernel selection, allocator growth), then `timed` timed ones; run alone."""
        import torch

        seconds = []
        with torch.inference_mode():
            for index in range(cold + timed):
                self._sync()
                started = time.perf_counter()
                self._generate()
                self._sync()
                if index >= cold:
                    seconds.append(time.perf_counter() - started)
        gc.collect()
        gc.freeze()  # what exists now stays: the collection before each window has little to walk
        return {"ok": True, "call_seconds": statistics.median(seconds) if seconds else None}

    def plan(self, shares: int, calls: int) -> dict[str, Any]:
        self.shares = max(1, min(shares, self.new_tokens))
        self.calls = max(1, calls) if self.shares == 1 else 1
        return {"ok": True, "shares": self.shares, "calls": self.calls}

    def _begin(self) -> None:
        import torch

        if self.worker.device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        self._window = {"start": time.perf_counter(), "cpu": time.process_time()}

    def _end(self, tokens: int) -> dict[str, Any]:
        import torch

        self._sync()
        end = time.perf_counter()
        peak = 0.0
        if self.worker.device == "cuda":  # the process's peak, less the other variants' weights
            others = sum(arm.weights_bytes for arm in self.worker.arms.values() if arm is not self)
            peak = (torch.cuda.max_memory_allocated() - others) / 2**30
        return {
            "start": self._window["start"],
            "end": end,
            "tokens": tokens,
            "cpu_seconds": time.process_time() - self._window["cpu"],
            "peak_memory_gib": peak,
            "core": _core(),
        }

    def window(self) -> dict[str, Any]:
        """One measured window; with shares, the call pauses at each share's end (see the module docstring)."""
        import torch

        with torch.inference_mode():
            self._sync()
            self._begin()
            if self.shares == 1:
                for _ in range(self.calls):
                    output = self._generate()
                return self._end((output.shape[1] - self.prefix_length()) * output.shape[0] * self.calls)
            bounds = [round(self.new_tokens * k / self.shares) for k in range(1, self.shares)]
            pause = _PauseAt(self, bounds)
            output = self._generate(_stopping_list(pause))
            return self._end((output.shape[1] - self.prefix_length() - pause.last) * output.shape[0])

    def prefix_length(self) -> int:
        """What precedes the new tokens in `generate`'s output: the prompt, or an encoder-decoder's start token."""
        return 1 if getattr(self.model.config, "is_encoder_decoder", False) else self.inputs["input_ids"].shape[1]

    def pause(self, tokens: int) -> None:
        """Inside generation, at a share's end: report the window, wait, and go on only for the next window."""
        self.thread.pause(self._end(tokens))
        self._begin()

    def perplexity(self, text: str) -> dict[str, Any]:
        import torch
        import transformers

        tokenizer = transformers.AutoTokenizer.from_pretrained(self.worker.path)
        ids = tokenizer(text, return_tensors="pt")["input_ids"].to(self.worker.device)
        with torch.inference_mode():
            loss = self.model(input_ids=ids, labels=ids).loss
        return {"perplexity": float(torch.exp(loss.float()))}


class Worker:
    """The variants of one measurement, each an `Arm`; commands are handed to the arm they name."""

    def __init__(self) -> None:
        self.arms: dict[int, Arm] = {}
        self.device = "cuda"
        self.path = ""

    def handle(self, message: dict[str, Any]) -> dict[str, Any]:
        command = message.get("command")
        arm = self.arms.get(int(message.get("arm", 0)))
        if command == "load":
            arm = self.arms.setdefault(int(message.get("arm", 0)), Arm(self))
        elif arm is None:
            return {"error": f"no variant loaded as arm {message.get('arm', 0)}"}
        jobs: dict[str, Callable[[], dict[str, Any]]] = {
            "load": lambda: arm.load(message),
            "warm": lambda: arm.warm(message.get("cold", 1), message.get("timed", 1)),
            "plan": lambda: arm.plan(message.get("shares", 1), message.get("calls", 1)),
            "window": arm.window,
            "perplexity": lambda: arm.perplexity(message["text"]),
        }
        if command not in jobs:
            return {"error": f"unknown command {command!r}"}
        if command == "window":  # no thread is generating now: collect here, never inside a window
            gc.collect()
            gc.disable()  # a collection inside a launch-bound window shows up as noise
        return arm.thread.run((command, jobs[command]))

    def stop(self) -> None:
        for arm in self.arms.values():
            arm.thread.stop()


class _PauseAt:
    """A stopping criterion that never stops: at the given generated-token counts it pauses the variant."""

    def __init__(self, arm: Arm, bounds: list[int]) -> None:
        self.arm = arm
        self.prompt = arm.prefix_length()
        self.bounds = sorted(set(b for b in bounds if 0 < b < arm.new_tokens))
        self.last = 0

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        generated = input_ids.shape[1] - self.prompt
        if self.bounds and generated == self.bounds[0]:
            self.bounds.pop(0)
            self.arm.pause((generated - self.last) * input_ids.shape[0])
            self.last = generated
        return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)


def _stopping_list(pause: _PauseAt) -> Any:
    import transformers

    class Pause(transformers.StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            return pause(input_ids, scores, **kwargs)

    return transformers.StoppingCriteriaList([Pause()])


def _text_config(config: Any) -> Any:
    """The language model's part of a config (a vision-language model keeps it in `text_config`)."""
    return getattr(config, "text_config", None) or config


def _position_limit(config: Any) -> int:
    text = _text_config(config)
    return int(getattr(text, "max_position_embeddings", None) or getattr(text, "n_positions", None) or 4096)


def model_class(path: str) -> Any:
    """The class that generates text for the checkpoint at `path` (the one its config.json names)."""
    from ecolint.measure.synthetic import model_class as named

    try:
        with open(os.path.join(path, "config.json"), encoding="utf-8") as handle:
            config = json.load(handle)
    except (OSError, ValueError):
        config = {}
    return named(config if isinstance(config, dict) else {})


def _error(exc: Exception) -> dict[str, Any]:
    name = type(exc).__name__
    if "OutOfMemory" in name or "out of memory" in str(exc).lower():
        return {"error": "out of memory on the GPU"}
    return {"error": f"{name}: {str(exc).splitlines()[0] if str(exc) else ''}"}


def _pin_to_cores() -> int:
    """Keep the calling thread on the cores the orchestrator chose (`ECOLINT_WORKER_CORES="15"`); how many, 0 if none."""
    cores = os.environ.get("ECOLINT_WORKER_CORES")
    if cores and hasattr(os, "sched_setaffinity"):
        try:
            chosen = {int(c) for c in cores.split(",")}
            os.sched_setaffinity(0, chosen)
            return len(chosen)
        except (OSError, ValueError):
            pass
    return 0


def _core() -> int | None:
    """The CPU core the calling thread last ran on (/proc/thread-self/stat), for the report."""
    try:
        with open("/proc/thread-self/stat", encoding="ascii") as stat:
            return int(stat.read().rsplit(")", 1)[1].split()[36])
    except (OSError, ValueError, IndexError):
        return None


def main() -> None:
    channel = Channel(sys.stdin, sys.stdout)
    worker = Worker()
    message = channel.read()
    while message is not None and message.get("command") != "exit":
        try:
            reply = worker.handle(message)
        except Exception as exc:  # noqa: BLE001 - reported to the orchestrator, which goes on
            reply = _error(exc)
        channel.write(reply)
        message = channel.read()
    worker.stop()


if __name__ == "__main__":
    main()
