"""One variant in its own process: load it, warm up, then time generations on request.

Speaks JSON lines on stdin/stdout: `load`, `calibrate`, `run`, `perplexity`, `exit`. Errors (out of
memory, a model too large for the card, a missing package) come back as
`{"error": "..."}`, so the orchestrator reports them and goes on.
"""

from __future__ import annotations

import gc
import json
import math
import os
import sys
import time
from typing import Any


class Worker:
    def __init__(self) -> None:
        self.model: Any = None
        self.inputs: dict[str, Any] = {}
        self.new_tokens = 0
        self.meter: Any = None
        self.device = "cuda"
        self.path = ""

    def _generate(self, new_tokens: int) -> Any:
        return self.model.generate(**self.inputs, min_new_tokens=new_tokens, max_new_tokens=new_tokens, do_sample=False, pad_token_id=0)

    def _sync(self) -> None:
        import torch

        if self.device == "cuda":
            torch.cuda.synchronize()

    def load(self, message: dict[str, Any]) -> dict[str, Any]:
        import torch
        import transformers

        from ecolint.measure.energy import EstimatedMeter, gpu_meter

        self.device, self.path = message["device"], message["path"]
        variant = message["variant"]
        if self.device == "cuda":
            free = torch.cuda.mem_get_info()[0] / 2**30
            if message["weights_gib"] > free:
                return {"error": f"too large for the card: about {message['weights_gib']:.1f} GiB of weights, {free:.1f} GiB free"}
            dtype = getattr(torch, variant["dtype"])
            uuid = getattr(torch.cuda.get_device_properties(0), "uuid", None)
            self.meter = gpu_meter(f"GPU-{uuid}" if uuid else None)
        else:
            dtype = torch.float32
            self.meter = EstimatedMeter()
        kwargs: dict[str, Any] = {"device_map": "cuda"} if self.device == "cuda" else {}
        if variant["quantization"]:
            if self.device != "cuda":
                return {"error": "bitsandbytes quantization needs a CUDA GPU"}
            kwargs["quantization_config"] = transformers.BitsAndBytesConfig(**variant["quantization"])
        started = time.perf_counter()
        self.model = transformers.AutoModelForCausalLM.from_pretrained(self.path, dtype=dtype, **kwargs).eval()
        load_seconds = time.perf_counter() - started
        generator = torch.Generator().manual_seed(message.get("seed", 0))
        vocab = self.model.config.vocab_size
        # Random prompt tokens, clear of the special ids at the start of the vocabulary.
        ids = torch.randint(min(100, vocab // 2), vocab - 1, (variant["batch"], message["prompt_tokens"]), generator=generator)
        self.inputs = {"input_ids": ids.to(self.device), "attention_mask": torch.ones_like(ids).to(self.device)}
        return {"ok": True, "meter": self.meter.kind, "load_seconds": load_seconds}

    def calibrate(self, min_seconds: float) -> dict[str, Any]:
        """Warm up and size the runs to last `min_seconds` (run alone: the GPU is not shared)."""
        limit = getattr(self.model.config, "max_position_embeddings", 4096) - self.inputs["input_ids"].shape[1] - 1
        # Runs under sustained load came out up to a third faster than these sizing runs (H200): aim above.
        target = min_seconds * 1.6
        self.new_tokens = min(limit, 16)
        self._timed_generation()  # cold: kernel selection, allocator growth; never timed
        self.new_tokens = min(limit, 32)
        # Grow the run until it lasts `min_seconds`, checking at full length: a process's
        # first runs are slower, so a short probe alone would mislead.
        for _ in range(4):
            seconds = self._timed_generation()
            if seconds >= min_seconds * 1.3 or self.new_tokens >= limit:
                break
            self.new_tokens = max(16, min(limit, math.ceil(self.new_tokens * target / seconds)))
        # No run at the final length here: the orchestrator's warm-up pair is that run.
        return {"ok": True, "new_tokens": self.new_tokens}

    def _timed_generation(self) -> float:
        import torch

        with torch.inference_mode():
            self._sync()
            started = time.perf_counter()
            self._generate(self.new_tokens)
            self._sync()
        return time.perf_counter() - started

    def run(self, min_seconds: float = 0.0) -> dict[str, Any]:
        """One timed generation; if it was shorter than `min_seconds`, later runs are made longer."""
        import torch

        if self.device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        gc.collect()
        gc.disable()  # a collection inside a launch-bound run shows up as noise
        try:
            with torch.inference_mode():
                self._sync()
                self.meter.start()
                started = time.perf_counter()
                output = self._generate(self.new_tokens)
                self._sync()
                seconds = time.perf_counter() - started
                joules = self.meter.stop()
        finally:
            gc.enable()
        tokens = (output.shape[1] - self.inputs["input_ids"].shape[1]) * output.shape[0]
        peak = torch.cuda.max_memory_allocated() / 2**30 if self.device == "cuda" else 0.0
        if seconds < min_seconds:
            limit = getattr(self.model.config, "max_position_embeddings", 4096) - self.inputs["input_ids"].shape[1] - 1
            self.new_tokens = min(limit, math.ceil(self.new_tokens * min_seconds * 1.15 / seconds))
            self._timed_generation()  # the first run at a new length grows the cache: discarded
        return {"joules": joules, "seconds": seconds, "tokens": int(tokens), "peak_memory_gib": peak}

    def perplexity(self, text: str) -> dict[str, Any]:
        import torch
        import transformers

        tokenizer = transformers.AutoTokenizer.from_pretrained(self.path)
        ids = tokenizer(text, return_tensors="pt")["input_ids"].to(self.device)
        with torch.inference_mode():
            loss = self.model(input_ids=ids, labels=ids).loss
        return {"perplexity": float(torch.exp(loss.float()))}


def _handle(worker: Worker, message: dict[str, Any]) -> dict[str, Any]:
    command = message.get("command")
    try:
        if command == "load":
            return worker.load(message)
        if command == "calibrate":
            return worker.calibrate(message["min_seconds"])
        if command == "run":
            return worker.run(message.get("min_seconds", 0.0))
        if command == "perplexity":
            return worker.perplexity(message["text"])
        return {"error": f"unknown command {command!r}"}
    except Exception as exc:  # noqa: BLE001 - reported to the orchestrator, which goes on
        name = type(exc).__name__
        if "OutOfMemory" in name or "out of memory" in str(exc).lower():
            return {"error": "out of memory on the GPU"}
        return {"error": f"{name}: {str(exc).splitlines()[0] if str(exc) else ''}"}


def _pin_to_cores() -> None:
    """Keep this worker on cores of its own (`ECOLINT_WORKER_CORES="4,5"`), if the orchestrator chose some."""
    cores = os.environ.get("ECOLINT_WORKER_CORES")
    if cores and hasattr(os, "sched_setaffinity"):
        try:
            os.sched_setaffinity(0, {int(c) for c in cores.split(",")})
        except (OSError, ValueError):
            pass


def main() -> None:
    _pin_to_cores()
    worker = Worker()
    for line in sys.stdin:
        message = json.loads(line)
        if message.get("command") == "exit":
            break
        sys.stdout.write(json.dumps(_handle(worker, message)) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
