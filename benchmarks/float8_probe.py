"""ECO111's premise: torchao's float8 configs against bf16 in greedy generation, J per 1k tokens.

Run on a GPU machine from the repository root (torch, transformers, torchao):

    python benchmarks/float8_probe.py --out benchmarks/results/h200-eco111-float8.json

The Qwen2-1.5B shape with random weights (built from its config, as `--measure --synthetic`
does), loaded in bf16, then `quantize_(model, Float8WeightOnlyConfig())` or
`quantize_(model, Float8DynamicActivationFloat8WeightConfig())` on every linear layer but the
output head (tied to the embeddings in this shape). Greedy generation of `--new-tokens` after a
64-token random prompt at batch 1 and 8, eager; then, if the budget allows, each variant again
with `torch.compile` on the forward and a static cache. All variants stay loaded and are
measured in rounds (each variant and batch once per round), so drift touches all alike. Energy
from NVML's counter, polled and interpolated as `--measure` reads it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

MODEL = "Qwen/Qwen2-1.5B"
VARIANTS = ("bf16", "float8-weight-only", "float8-dynamic-activation")


def load(path: Path, variant: str) -> Any:
    import torch
    import transformers

    model = transformers.AutoModelForCausalLM.from_pretrained(path, dtype=torch.bfloat16, device_map="cuda").eval()
    if variant == "bf16":
        return model
    from torchao.quantization import Float8DynamicActivationFloat8WeightConfig, Float8WeightOnlyConfig, quantize_

    config = Float8WeightOnlyConfig() if variant == "float8-weight-only" else Float8DynamicActivationFloat8WeightConfig()
    quantize_(model, config, filter_fn=lambda module, name: isinstance(module, torch.nn.Linear) and "lm_head" not in name)
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--new-tokens", type=int, default=48)
    parser.add_argument("--batches", type=int, nargs="*", default=[1, 8])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--budget", type=float, default=150.0, help="seconds; compiled runs only if enough is left")
    parser.add_argument("--compile-estimate", type=float, default=150.0, help="seconds the compiled pass is expected to take")
    parser.add_argument("--out", default="benchmarks/results/h200-eco111-float8.json")
    args = parser.parse_args()

    import torch

    from ecolint.measure.energy import gpu_facts, gpu_recorder
    from ecolint.measure.report import library_versions, machine
    from ecolint.measure.synthetic import config_for, ensure_checkpoint

    deadline = time.perf_counter() + args.budget
    recorder = gpu_recorder()
    path = ensure_checkpoint(MODEL, config_for(MODEL), "cuda", 900)
    results: dict[str, Any] = {
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "gpu": gpu_facts(),
        "machine": machine(),
        "libraries": library_versions(),
        "energy_reading": recorder.kind,
        "model": MODEL,
        "settings": vars(args),
        "rows": [],
    }
    models: dict[str, Any] = {}
    for variant in VARIANTS:
        try:
            models[variant] = load(path, variant)
        except Exception as exc:  # noqa: BLE001 - recorded, the other variants run
            results["rows"].append({"variant": variant, "error": f"{type(exc).__name__}: {exc}"[:300]})
    vocab = next(iter(models.values())).config.vocab_size if models else 0
    generator = torch.Generator().manual_seed(0)
    prompts = {b: torch.randint(100, vocab - 1, (b, 64), generator=generator).to("cuda") for b in args.batches}

    def generate(model: Any, batch: int, **extra: Any) -> tuple[float, float, int]:
        ids = prompts[batch]
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        with torch.inference_mode():
            out = model.generate(
                input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=args.new_tokens,
                min_new_tokens=args.new_tokens, do_sample=False, pad_token_id=0, **extra,
            )  # fmt: skip
        torch.cuda.synchronize()
        t1 = time.perf_counter()
        return t1 - t0, recorder.energy_between(t0, t1), (out.shape[1] - ids.shape[1]) * out.shape[0]

    def measure_pass(compiled: bool, extra: dict[str, Any]) -> None:
        runs: dict[tuple[str, int], list[tuple[float, float, int]]] = {}
        for variant, model in models.items():  # warm-up (and, compiled, the compilation)
            for batch in args.batches:
                try:
                    for _ in range(2 if compiled else 1):
                        generate(model, batch, **extra)
                    runs[(variant, batch)] = []
                except Exception as exc:  # noqa: BLE001
                    error = f"{type(exc).__name__}: {exc}"[:300]
                    results["rows"].append({"variant": variant, "batch": batch, "compiled": compiled, "error": error})
        for _ in range(args.rounds):
            for (variant, batch), found in runs.items():
                found.append(generate(models[variant], batch, **extra))
        for (variant, batch), found in runs.items():
            per_1k = [j / tokens * 1000 for _, j, tokens in found]
            results["rows"].append(
                {
                    "variant": variant,
                    "batch": batch,
                    "compiled": compiled,
                    "joules_per_1k_tokens": statistics.median(per_1k),
                    "rounds": per_1k,
                    "tokens_per_second": statistics.median(tokens / s for s, _, tokens in found),
                    "watts": statistics.median(j / s for s, j, _ in found),
                }
            )
            print(json.dumps(results["rows"][-1]), flush=True)
        Path(args.out).write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")

    measure_pass(False, {})
    if time.perf_counter() + args.compile_estimate < deadline:
        for model in models.values():
            model.forward = torch.compile(model.forward)
        measure_pass(True, {"cache_implementation": "static"})
    else:
        results["compiled"] = "not run: the budget did not allow it"
    bf16 = {(r["batch"], r["compiled"]): r["joules_per_1k_tokens"] for r in results["rows"] if r.get("variant") == "bf16" and "batch" in r}
    for row in results["rows"]:
        base = bf16.get((row.get("batch"), row.get("compiled")))
        if base and "joules_per_1k_tokens" in row:
            row["vs_bf16_percent"] = (row["joules_per_1k_tokens"] / base - 1) * 100
    recorder.stop()
    Path(args.out).write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
