"""Is `--measure` to be trusted on a shared cloud GPU? A/A trials, the evidence rows, the counter's lag.

Run on a GPU machine from the repository root (the `measure` extra installed):

    python benchmarks/measure_validity.py lag --out lag.json
    python benchmarks/measure_validity.py aa --trials 20 --out aa.json
    python benchmarks/measure_validity.py rows --out-dir reports/ [--only qwen2-1.5b]
    python benchmarks/measure_validity.py summarize --aa aa-1.json aa-2.json --reports reports/*.json --out benchmarks/results/validity.json

`lag`: a square wave of GPU load (0.5 s of matrix products, 0.5 s idle, six times) against the
energy counter, polled as `--measure` polls it: the counter's tick, and how far its reading
trails the load (a pure delay and a first-order smoothing are fitted).

`aa`: the orchestration's A/A, both arms the same variant (two copies of the model, loaded as
a finding loads its two variants), each trial through the same stopping rule and estimator as
a finding (`Session.compare`: random-order pairs of windows until the 95% interval is within ±5
points or the time budget is spent). Each trial starts a worker of its own, as a finding does;
`--per-session N` lets N trials share one loaded worker instead (the setup time is then counted
in each trial's budget as if it had loaded it itself). A false positive is a trial whose
interval excludes zero.

`rows`: the eight evidence rows, ECO101-ECO104 on `examples/measure/` for the Qwen2-1.5B and
Mistral-7B shapes, one `ecolint check --measure --synthetic` per finding, each with its report.

`summarize`: `validity.json`: `{"aa": {"trials", "false_positives", "median_half_width", ...},
"rows": [{"model", "code", "delta_percent", "ci95", "seconds", ...}], ...}` and the raw reports.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ecolint.diagnostics import Finding, Location  # noqa: E402
from ecolint.measure.workloads import Variant, Workload  # noqa: E402

MODEL = "Qwen/Qwen2-1.5B"
ROWS = [  # (shape, file, code): the evidence's direction is "saves" for all eight
    ("qwen2-1.5b", "examples/measure/qwen2_1_5b.py", code) for code in ("ECO101", "ECO102", "ECO103", "ECO104")
] + [("mistral-7b", "examples/measure/mistral_7b.py", code) for code in ("ECO101", "ECO102", "ECO103", "ECO104")]
EVIDENCE_DIRECTION = "saves"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def lag(args: argparse.Namespace) -> None:
    import torch

    from ecolint.measure.energy import CounterRecorder, gpu_facts, nvml_handle

    recorder = CounterRecorder(nvml_handle()).start()
    a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    for _ in range(3):
        a @ a
    torch.cuda.synchronize()
    time.sleep(1.0)
    schedule = []
    for _ in range(args.cycles):
        on = time.perf_counter()
        while time.perf_counter() - on < args.busy:
            for _ in range(4):
                a @ a
            torch.cuda.synchronize()
        off = time.perf_counter()
        schedule.append((on, off))
        time.sleep(args.idle)
    time.sleep(0.5)
    recorder.stop()
    times, values = list(recorder.trace.times), list(recorder.trace.values)
    gaps = [b - a for a, b in zip(times, times[1:])]

    def busy_integral(t0: float, t1: float, tau: float) -> float:
        """Seconds of load in [t0, t1], the load seen through a first-order filter of time constant tau."""
        total = 0.0
        for on, off in schedule:
            if tau <= 0:
                total += max(0.0, min(t1, off) - max(t0, on))
                continue

            # integral over [t0, t1] of the filtered unit step on at `on`, off at `off`
            def step(start: float, a: float = t0, b: float = t1) -> float:
                lo, hi = max(a, start), b
                if hi <= lo:
                    return 0.0
                return (hi - lo) - tau * (math.exp(-(lo - start) / tau) - math.exp(-(hi - start) / tau))

            total += step(on) - step(off)
        return total

    fits = []
    for tau in (0.0, 0.02, 0.05, 0.1, 0.2, 0.4):
        for lag_ms in range(0, 402, 4):
            shift = lag_ms / 1000
            rows = [(t - times[0], busy_integral(times[0] - shift, t - shift, tau), v - values[0]) for t, v in zip(times, values)]
            # least squares: energy = idle_w * t + extra_w * busy
            sxx = sum(r[0] ** 2 for r in rows)
            syy = sum(r[1] ** 2 for r in rows)
            sxy = sum(r[0] * r[1] for r in rows)
            sxe = sum(r[0] * r[2] for r in rows)
            sye = sum(r[1] * r[2] for r in rows)
            det = sxx * syy - sxy**2
            idle_w = (sxe * syy - sye * sxy) / det
            extra_w = (sye * sxx - sxe * sxy) / det
            residual = math.sqrt(statistics.fmean((r[2] - idle_w * r[0] - extra_w * r[1]) ** 2 for r in rows))
            fits.append({"tau_s": tau, "lag_s": shift, "idle_w": idle_w, "extra_w": extra_w, "rms_residual_j": residual})
    best = min(fits, key=lambda f: f["rms_residual_j"])
    best_pure = min((f for f in fits if f["tau_s"] == 0), key=lambda f: f["rms_residual_j"])
    result = {
        "when": _now(),
        "gpu": gpu_facts(),
        "ticks": len(times),
        "tick_seconds": {"median": statistics.median(gaps), "min": min(gaps), "max": max(gaps)} if gaps else None,
        "best_fit": best,
        "best_pure_delay": best_pure,
        "schedule": schedule,
        "trace": list(zip(times, values)),
    }
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"lag: tick {result['tick_seconds']}, best fit {best}, pure delay {best_pure}")


def aa(args: argparse.Namespace) -> None:
    from ecolint.measure import MeasureError
    from ecolint.measure.energy import gpu_facts
    from ecolint.measure.report import finding_report, library_versions, machine
    from ecolint.measure.runner import SYNTHETIC, Measurement, MeasureOptions, Session
    from ecolint.measure.synthetic import config_for, ensure_checkpoint

    device = args.device
    options = MeasureOptions(
        min_pairs=args.pairs, window_seconds=args.min_seconds, precision=args.precision, max_seconds=args.max_seconds,
        synthetic=True, device=device, counter_lag_s=args.lag,
    )  # fmt: skip
    variant = Variant("A", None, args.dtype, args.batch)
    finding = Finding("A/A", "a-a", "both arms the same variant", __file__, Location(1, 1), Location(1, 1))
    workload = Workload(finding, args.model, variant, Variant("A again", None, args.dtype, args.batch), args.new_tokens, "--new-tokens")
    started = time.perf_counter()
    path = args.path or ensure_checkpoint(args.model, config_for(args.model), device, 900)
    weights_seconds = time.perf_counter() - started
    trials: list[dict] = []
    deadline = started + args.budget
    sessions = 0
    when = _now()
    gpu = gpu_facts() if device == "cuda" else None

    def write() -> None:  # after every trial: a run stopped at its limit keeps what it measured
        data = {
            "when": when,
            "gpu": gpu,
            "machine": machine(),
            "libraries": library_versions(),
            "settings": {**vars(args), "func": None},
            "weights_seconds": weights_seconds,
            "summary": _aa_summary(trials),
            "trials": trials,
        }
        Path(args.out).write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")

    while len(trials) < args.trials and time.perf_counter() < deadline:
        sessions += 1
        session = Session(workload, options, Path(path), lambda step: None)
        try:
            session.open()
            for _ in range(min(args.per_session, args.trials - len(trials))):
                if time.perf_counter() + args.trial_estimate > deadline:
                    break
                begun = time.perf_counter()
                result = Measurement(workload, weights=SYNTHETIC, meter=session.recorder.kind, started_at=_now(),
                                     prompt_tokens=options.prompt_tokens)  # fmt: skip
                result.delta = session.compare()
                result.flagged, result.fixed = session.arms
                result.shares_per_call, result.order_seed = session.shares, session.order_seed
                result.seconds = session.setup_seconds + time.perf_counter() - begun
                record = finding_report(result)
                record["session"] = sessions
                record["setup_seconds"] = session.setup_seconds
                trials.append(record)
                d = result.delta
                print(f"A/A trial {len(trials)}: {d.percent:+.2f}% [{d.ci95_low:+.2f}, {d.ci95_high:+.2f}] "
                      f"±{d.half_width:.2f}, {d.pairs} pairs ({d.stopped}), {result.seconds:.0f} s", flush=True)  # fmt: skip
                write()
        except MeasureError as exc:
            print(f"A/A session failed: {exc}", flush=True)
            break
        finally:
            session.close()
    write()
    print(f"A/A: {_aa_summary(trials)}")


def _aa_summary(trials: list[dict]) -> dict:
    if not trials:
        return {"trials": 0, "false_positives": 0, "median_half_width": None}
    deltas = [t["delta"] for t in trials]
    return {
        "trials": len(trials),
        "false_positives": sum(1 for d in deltas if d["verdict"] != "no detectable difference"),
        "median_half_width": statistics.median(d["half_width"] for d in deltas),
        "max_half_width": max(d["half_width"] for d in deltas),
        "median_percent": statistics.median(d["percent"] for d in deltas),
        "median_pairs": statistics.median(d["pairs"] for d in deltas),
        "median_seconds": statistics.median(t["seconds"] for t in trials),
        "stopped": {reason: sum(1 for d in deltas if d["stopped"] == reason) for reason in sorted({d["stopped"] for d in deltas})},
        "sessions": len({t["session"] for t in trials}),
    }


def rows(args: argparse.Namespace) -> None:
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    deadline = time.perf_counter() + args.budget
    for shape, file, code in ROWS:
        if args.only and shape not in args.only:
            continue
        if args.codes and code not in args.codes:
            continue
        report = out / f"h200-{shape}-{code.lower()}.json"
        left = deadline - time.perf_counter()
        if left < args.row_estimate:
            print(f"{shape} {code}: not run, {left:.0f} s left", flush=True)
            continue
        command = [
            sys.executable, "-m", "ecolint", "check", file, "--no-cache", "--select", code, "--measure", "--synthetic",
            "--measure-report", str(report), *args.extra,
        ]  # fmt: skip
        print("$", " ".join(command[1:]), flush=True)
        begun = time.perf_counter()
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=max(30, left - 5))
            print(done.stdout, done.stderr[-2000:] if done.returncode not in (0, 1) else "", flush=True)
        except subprocess.TimeoutExpired:
            print(f"{shape} {code}: stopped at the budget", flush=True)
        print(f"{shape} {code}: {time.perf_counter() - begun:.0f} s", flush=True)


def summarize(args: argparse.Namespace) -> None:
    aa_runs = [json.loads(Path(name).read_text(encoding="utf-8")) for name in args.aa or []]
    aa_trials = [{**trial, "run": Path(name).name} for name, run in zip(args.aa or [], aa_runs) for trial in run["trials"]]
    found = []
    reports = {}
    for name in args.reports:
        data = json.loads(Path(name).read_text(encoding="utf-8"))
        reports[Path(name).name] = data
        shape = "qwen2-1.5b" if "qwen" in Path(name).name.lower() else "mistral-7b"
        for f in data["findings"]:
            if f["status"] != "measured":
                found.append({"model": f.get("model"), "shape": shape, "code": f["code"], "status": f["status"], "error": f.get("error")})
                continue
            d = f["delta"]
            found.append(
                {
                    "model": f["model"],
                    "shape": shape,
                    "code": f["code"],
                    "delta_percent": d["percent"],
                    "ci95": d["ci95"],
                    "half_width": d["half_width"],
                    "verdict": d["verdict"],
                    "direction_as_evidence": d["verdict"] == EVIDENCE_DIRECTION,
                    "pairs": d["pairs"],
                    "stopped": d["stopped"],
                    "seconds": f["seconds"],
                    "weights_seconds": f["weights_seconds"],
                    "workload": f["workload"],
                    "flagged": f["flagged"]["variant"],
                    "fixed": f["fixed"]["variant"],
                    "started_at": f.get("started_at"),
                    "report": Path(name).name,
                }
            )
    order = {(shape, code): i for i, (shape, _, code) in enumerate(ROWS)}
    found.sort(key=lambda r: order.get((r["shape"], r["code"]), 99))
    measured = [r for r in found if "delta_percent" in r]
    aa_summary = {**_aa_summary(aa_trials), "runs": len(aa_runs)} if aa_runs else None
    if aa_summary:
        aa_summary["sessions"] = len({(t["run"], t["session"]) for t in aa_trials})
    done = {
        "aa_20_trials_at_most_1_false_positive": bool(aa_summary and aa_summary["trials"] >= 20 and aa_summary["false_positives"] <= 1),
        "rows_measured": f"{len(measured)} of {len(ROWS)}",
        "rows_within_5_points": all(r["half_width"] <= 5 for r in measured),
        "rows_with_evidence_direction": all(r["direction_as_evidence"] for r in measured),
        "rows_within_180_s": all(r["seconds"] <= 180 for r in measured),
    }
    data = {
        "aa": aa_summary,
        "rows": found,
        "criteria": done,
        "aa_runs": [
            {
                "file": Path(name).name,
                **{k: run[k] for k in ("when", "gpu", "machine", "libraries", "settings", "weights_seconds", "summary")},
            }
            for name, run in zip(args.aa or [], aa_runs)
        ],
        "aa_trials": aa_trials,
        "reports": reports,
    }
    Path(args.out).write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    print(json.dumps({"aa": aa_summary, "criteria": done}, indent=1))
    for r in found:
        if "delta_percent" in r:
            lo, hi = r["ci95"]
            print(f"{r['shape']} {r['code']}: {r['delta_percent']:+.1f}% [{lo:+.1f}, {hi:+.1f}] ±{r['half_width']:.1f}, "
                  f"{r['pairs']} pairs ({r['stopped']}), {r['seconds']:.0f} s (+{r['weights_seconds']:.0f} weights)")  # fmt: skip
        else:
            print(f"{r['shape']} {r['code']}: {r['status']}: {r['error']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(required=True)
    p = sub.add_parser("lag")
    p.add_argument("--cycles", type=int, default=6)
    p.add_argument("--busy", type=float, default=0.5)
    p.add_argument("--idle", type=float, default=0.5)
    p.add_argument("--out", default="lag.json")
    p.set_defaults(func=lag)
    p = sub.add_parser("aa")
    p.add_argument("--trials", type=int, default=20)
    p.add_argument("--per-session", type=int, default=1, help="trials sharing one loaded worker")
    p.add_argument("--model", default=MODEL)
    p.add_argument("--path", help="a checkpoint directory (else random weights built from the model's config)")
    p.add_argument("--dtype", default="float16")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--new-tokens", type=int, default=32)
    p.add_argument("--pairs", type=int, default=10)
    p.add_argument("--min-seconds", type=float, default=0.6)
    p.add_argument("--precision", type=float, default=5.0)
    p.add_argument("--max-seconds", type=float, default=180.0)
    p.add_argument("--lag", type=float, default=0.0)
    p.add_argument("--device", default="cuda")
    p.add_argument("--budget", type=float, default=400.0, help="seconds for all trials")
    p.add_argument("--trial-estimate", type=float, default=20.0, help="seconds a trial is expected to take")
    p.add_argument("--out", default="aa.json")
    p.set_defaults(func=aa)
    p = sub.add_parser("rows")
    p.add_argument("--out-dir", default="reports")
    p.add_argument("--only", nargs="*", help="shapes: qwen2-1.5b, mistral-7b")
    p.add_argument("--codes", nargs="*")
    p.add_argument("--budget", type=float, default=560.0)
    p.add_argument("--row-estimate", type=float, default=60.0, help="the least seconds left to start a row")
    p.add_argument("extra", nargs="*", help="more `ecolint check` options, after --")
    p.set_defaults(func=rows)
    p = sub.add_parser("summarize")
    p.add_argument("--aa", nargs="*", help="A/A results of `aa`, one file per run")
    p.add_argument("--reports", nargs="*", default=[])
    p.add_argument("--out", default="benchmarks/results/validity.json")
    p.set_defaults(func=summarize)
    args = parser.parse_args()
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    args.func(args)


if __name__ == "__main__":
    main()
