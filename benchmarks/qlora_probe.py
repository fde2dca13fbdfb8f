"""ECO107's premise: a LoRA training step on an NF4 base against a bf16 base, J per training token and peak memory.

Run on a GPU machine from the repository root (torch, transformers, bitsandbytes, peft):

    python benchmarks/qlora_probe.py --out benchmarks/results/h200-eco107-qlora.json

For each shape (random weights built from the model's config, as `--measure --synthetic` does)
and each base (bf16; NF4 with bf16 compute, prepared with peft's `prepare_model_for_kbit_training`,
as QLoRA code does), with and without gradient checkpointing: LoRA r=16 (alpha 32, no dropout)
on the attention projections (q/k/v/o), AdamW on the adapters, batch 8 x 256 random tokens, the
labels the inputs. After two warm-up steps, `--windows` windows of steps sized to about
`--window-seconds` each, energy from NVML's counter (polled and interpolated, as `--measure`
reads it); J per 1k training tokens is the median window's. Peak memory is the most allocated
during the config's steps. Where peft is missing, a hand-written LoRA wrapper takes its place
(the JSON says which).
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SHAPES = {"qwen2-1.5b": "Qwen/Qwen2-1.5B", "mistral-7b": "mistralai/Mistral-7B-v0.1"}
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj"]


def _lora(model: Any, rank: int) -> tuple[Any, str]:
    """LoRA adapters on the attention projections: peft's, or a hand-written wrapper where peft is missing."""
    try:
        import peft

        config = peft.LoraConfig(r=rank, lora_alpha=2 * rank, lora_dropout=0.0, target_modules=TARGETS, task_type="CAUSAL_LM")
        return peft.get_peft_model(model, config), f"peft {peft.__version__}"
    except ImportError:
        pass
    import torch

    class LoRA(torch.nn.Module):
        def __init__(self, base: Any) -> None:
            super().__init__()
            self.base = base
            weight = base.weight
            out_features, in_features = base.out_features, base.in_features
            device = weight.device
            self.a = torch.nn.Parameter(torch.randn(rank, in_features, device=device, dtype=torch.bfloat16) / math.sqrt(in_features))
            self.b = torch.nn.Parameter(torch.zeros(out_features, rank, device=device, dtype=torch.bfloat16))
            self.scale = 2.0

        def forward(self, x: Any) -> Any:
            return self.base(x) + (x.to(self.a.dtype) @ self.a.t() @ self.b.t()) * self.scale

    for p in model.parameters():
        p.requires_grad_(False)
    for module in list(model.modules()):
        for child_name, child in list(module.named_children()):
            if child_name in TARGETS:
                setattr(module, child_name, LoRA(child))
    return model, "hand-written LoRA wrapper (peft missing)"


def run_config(path: Path, base: str, checkpointing: bool, args: argparse.Namespace, recorder: Any) -> dict[str, Any]:
    import torch
    import transformers

    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    kwargs: dict[str, Any] = {"dtype": torch.bfloat16, "device_map": "cuda"}
    if base == "nf4":
        kwargs["quantization_config"] = transformers.BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.bfloat16
        )
    model = transformers.AutoModelForCausalLM.from_pretrained(path, **kwargs)
    model.config.use_cache = False
    prepared = "none"
    if base == "nf4":
        try:
            import peft

            model = peft.prepare_model_for_kbit_training(model, use_gradient_checkpointing=checkpointing)
            prepared = "peft.prepare_model_for_kbit_training"
        except ImportError:
            pass
    if checkpointing and prepared == "none":
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    model, adapter = _lora(model, args.rank)
    model.train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=1e-4)
    vocab = model.config.vocab_size
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(100, vocab - 1, (args.batch, args.seq), generator=generator).to("cuda")

    def step() -> None:
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    for _ in range(2):
        step()
    torch.cuda.synchronize()
    started = time.perf_counter()
    step()
    torch.cuda.synchronize()
    step_seconds = time.perf_counter() - started
    steps = max(2, math.ceil(args.window_seconds / step_seconds))
    windows = []
    for _ in range(args.windows):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        torch.cuda.synchronize()
        t1 = time.perf_counter()
        joules = recorder.energy_between(t0, t1)
        tokens = steps * args.batch * args.seq
        windows.append({"seconds": t1 - t0, "joules": joules, "tokens": tokens, "joules_per_1k_tokens": joules / tokens * 1000})
    peak = (torch.cuda.max_memory_allocated() - before) / 2**30
    result = {
        "base": base,
        "gradient_checkpointing": checkpointing,
        "prepared_with": prepared,
        "adapter": adapter,
        "trainable_parameters": sum(p.numel() for p in trainable),
        "steps_per_window": steps,
        "step_seconds": statistics.median(w["seconds"] / steps for w in windows),
        "joules_per_1k_tokens": statistics.median(w["joules_per_1k_tokens"] for w in windows),
        "tokens_per_second": statistics.median(w["tokens"] / w["seconds"] for w in windows),
        "peak_memory_gib": peak,
        "windows": windows,
    }
    return result


def table(results: dict[str, Any]) -> str:
    """The results as a text table, J per 1k training tokens against the bf16 base of the same setting."""
    lines = [f"{results['when']}, {results['gpu']['name']}, " + ", ".join(f"{k} {v}" for k, v in results["libraries"].items() if v)]
    lines.append("shape       base  checkpointing  J/1k train tok  vs bf16   tok/s   step s  peak GiB  adapter")
    for shape, found in results["shapes"].items():
        rows = found.get("configs", [])
        bf16 = {r["gradient_checkpointing"]: r["joules_per_1k_tokens"] for r in rows if r.get("base") == "bf16" and "error" not in r}
        for r in rows:
            if "error" in r:
                lines.append(f"{shape:11s} {r['base']:5s} {str(r['gradient_checkpointing']):13s}  error: {r['error']}")
                continue
            base = bf16.get(r["gradient_checkpointing"])
            versus = f"{(r['joules_per_1k_tokens'] / base - 1) * 100:+.0f}%" if base else ""
            lines.append(
                f"{shape:11s} {r['base']:5s} {str(r['gradient_checkpointing']):13s}  {r['joules_per_1k_tokens']:14.1f}  {versus:>7s}  "
                f"{r['tokens_per_second']:6.0f}  {r['step_seconds']:7.3f}  {r['peak_memory_gib']:8.2f}  {r['adapter']}"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", nargs="*", default=["qwen2-1.5b"], choices=sorted(SHAPES))
    parser.add_argument("--rank", type=int, default=16)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seq", type=int, default=256)
    parser.add_argument("--windows", type=int, default=3)
    parser.add_argument("--window-seconds", type=float, default=2.0)
    parser.add_argument("--budget", type=float, default=120.0, help="seconds; a shape not started within it is skipped")
    parser.add_argument("--out", default="benchmarks/results/h200-eco107-qlora.json")
    parser.add_argument("--table", metavar="JSON", help="print the table of an earlier run's results and exit")
    args = parser.parse_args()
    if args.table:
        print(table(json.loads(Path(args.table).read_text(encoding="utf-8"))), end="")
        return

    import torch

    from ecolint.measure.energy import gpu_facts, gpu_recorder
    from ecolint.measure.report import library_versions, machine
    from ecolint.measure.synthetic import config_for, ensure_checkpoint

    deadline = time.perf_counter() + args.budget
    recorder = gpu_recorder()
    results: dict[str, Any] = {
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "gpu": gpu_facts(),
        "machine": machine(),
        "libraries": library_versions(),
        "energy_reading": recorder.kind,
        "settings": vars(args),
        "shapes": {},
    }
    for shape in args.shapes:
        if time.perf_counter() > deadline:
            results["shapes"][shape] = {"skipped": "out of time"}
            continue
        model_id = SHAPES[shape]
        path = ensure_checkpoint(model_id, config_for(model_id), "cuda", 900)
        rows = []
        for base in ("bf16", "nf4"):
            for checkpointing in (False, True):
                try:
                    row = run_config(path, base, checkpointing, args, recorder)
                except Exception as exc:  # noqa: BLE001 - recorded, the next config runs
                    row = {"base": base, "gradient_checkpointing": checkpointing, "error": f"{type(exc).__name__}: {exc}"[:300]}
                gc.collect()  # the config's model and optimizer went out of scope: free their memory
                torch.cuda.empty_cache()
                rows.append(row)
                print(shape, json.dumps({k: v for k, v in row.items() if k != "windows"}), flush=True)
                results["shapes"][shape] = {"model": model_id, "configs": rows}
                Path(args.out).write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    recorder.stop()
    Path(args.out).write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    print(table(results), end="")


if __name__ == "__main__":
    main()
