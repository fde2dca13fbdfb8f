"""Where `--measure`'s run-to-run spread comes from: one variant, many identical runs, per worker setup.

Runs on a GPU machine (the `measure` extra installed). For each setup (worker pinned to one
core, to two, or not; torch's CPU threads left alone or set to 1) it loads the Qwen2-1.5B shape
with random weights in a fresh worker, plans windows of `--seconds`, then times `--runs`
identical windows, and prints per window: seconds, J per 1k tokens (the orchestrator's
interpolated counter reading, as `--measure` reads it) and the CPU time the hypervisor stole
meanwhile (/proc/stat), and per setup the classical and robust coefficients of variation.

    python benchmarks/measure_noise.py --runs 8 --seconds 1
"""

from __future__ import annotations

import argparse
import os

from ecolint.measure.energy import gpu_recorder
from ecolint.measure.runner import WorkerProcess, plan_windows
from ecolint.measure.stats import coefficient_of_variation, robust_coefficient_of_variation
from ecolint.measure.synthetic import config_for, ensure_checkpoint
from ecolint.measure.workloads import Variant

MODEL = "Qwen/Qwen2-1.5B"


def _steal_ticks() -> int:
    with open("/proc/stat") as stat:
        fields = stat.readline().split()
    return int(fields[8]) if len(fields) > 8 else 0


def _setups() -> list[tuple[str, tuple[int, ...], dict[str, str]]]:
    cores = sorted(os.sched_getaffinity(0))
    return [
        ("pinned 1 core", tuple(cores[-1:]), {}),
        ("pinned 2 cores", tuple(cores[-2:]), {}),
        ("unpinned", (), {}),
        ("pinned, 1 thread", tuple(cores[-2:]), {"OMP_NUM_THREADS": "1"}),
        ("unpinned, 1 thread", (), {"OMP_NUM_THREADS": "1"}),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--quantization", choices=["none", "nf4"], default="none")
    args = parser.parse_args()
    path = ensure_checkpoint(MODEL, config_for(MODEL), "cuda", 900)
    quantization = {"load_in_4bit": True, "bnb_4bit_quant_type": "nf4"} if args.quantization == "nf4" else None
    variant = Variant("probe", quantization)
    for name, cores, env in _setups():
        saved = dict(os.environ)
        os.environ.update(env)
        worker = WorkerProcess(cores)
        os.environ.clear()
        os.environ.update(saved)
        recorder = gpu_recorder(avoid_cores=cores)
        try:
            load = {"command": "load", "path": str(path), "variant": variant.as_json(), "device": "cuda", "prompt_tokens": 64}
            worker.ask({**load, "new_tokens": args.new_tokens, "weights_gib": 3})
            call = worker.ask({"command": "warm", "cold": 1, "timed": 1})["call_seconds"]
            shares, (calls,) = plan_windows([call], args.new_tokens, args.seconds)
            worker.ask({"command": "plan", "shares": shares, "calls": calls})
            rows = []
            for _ in range(args.runs):
                steal = _steal_ticks()
                reply = worker.ask({"command": "window"})
                joules = recorder.energy_between(reply["start"], reply["end"])
                rows.append((reply["end"] - reply["start"], joules / reply["tokens"] * 1000, _steal_ticks() - steal))
        finally:
            worker.close()
            recorder.stop()
        energy = [row[1] for row in rows]
        seconds = [row[0] for row in rows]
        cv, robust = coefficient_of_variation(energy), robust_coefficient_of_variation(energy)
        print(f"{name}: CV energy {cv:.1%} (robust {robust:.1%}), CV time {coefficient_of_variation(seconds):.1%}")
        print("   s:", " ".join(f"{s:.2f}" for s in seconds))
        print("   J/1k:", " ".join(f"{e:.0f}" for e in energy))
        print("   steal ticks:", " ".join(str(row[2]) for row in rows))


if __name__ == "__main__":
    main()
