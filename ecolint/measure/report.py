"""The `--measure` table (rich) and JSON report (`--measure-report FILE`, schema in the README)."""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any

from ecolint import __version__
from ecolint.measure.runner import Arm, Measurement, MeasureOptions
from ecolint.measure.stats import ESTIMATOR
from ecolint.measure.workloads import Unmeasurable

SCHEMA_VERSION = 3  # 2: `seconds` no longer counts `weights_seconds`; 3: windows, stopping rule, diagnostics


def _where(finding: Any) -> str:
    return f"{finding.code} {finding.path}:{finding.location.row}"


def write_table(results: Sequence[Measurement], skipped: Sequence[Unmeasurable], stream: IO[str]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(file=stream, highlight=False, soft_wrap=False, width=None if stream.isatty() else 200)
    table = Table(title="ecolint --measure: flagged (as written) vs fixed", show_lines=True)
    for column in ("finding", "model", "workload", "J/1k tok", "tok/s", "W", "peak GiB", "pairs", "Δ energy [95% CI]", "verdict"):
        table.add_column(column, overflow="fold")
    for result in results:
        workload = result.workload
        if result.error or result.flagged is None or result.fixed is None or result.delta is None:
            table.add_row(_where(workload.finding), workload.model, workload.describe(), "", "", "", "", "", "", "error (below)")
            continue
        a, b = result.flagged.summary, result.fixed.summary
        assert a is not None and b is not None
        delta = result.delta
        table.add_row(
            _where(workload.finding),
            workload.model,
            f"{workload.describe()}, prompt {result.prompt_tokens}\n{workload.flagged.describe()}\n→ {workload.fixed.describe()}",
            f"{a.joules_per_1k_tokens:,.0f}\n→ {b.joules_per_1k_tokens:,.0f}",
            f"{a.tokens_per_second:,.1f}\n→ {b.tokens_per_second:,.1f}",
            f"{a.mean_watts:,.0f}\n→ {b.mean_watts:,.0f}",
            f"{a.peak_memory_gib:.2f}\n→ {b.peak_memory_gib:.2f}",
            f"{delta.pairs}\n({delta.stopped})",
            f"{delta.percent:+.1f}% [{delta.ci95_low:+.1f}, {delta.ci95_high:+.1f}]\n±{delta.half_width:.1f} points",
            delta.verdict,
        )
    console.print(table)
    for result in results:
        if result.error:
            console.print(f"error: {_where(result.workload.finding)}: {result.error}")
    for item in skipped:
        console.print(f"not measured: {_where(item.finding)}: {item.reason}")
    meters = {r.meter for r in results if r.meter}
    if meters - {"nvml-energy-counter"}:
        console.print(f"energy read with: {', '.join(sorted(meters))} (not the NVML energy counter)")


def _arm(arm: Arm | None) -> dict[str, Any] | None:
    if arm is None:
        return None
    return {
        "variant": arm.variant.as_json(),
        "new_tokens_per_call": arm.new_tokens,
        "call_seconds": arm.call_seconds,
        "calls_per_window": arm.calls_per_window,
        "median": asdict(arm.summary) if arm.summary else None,
        "cv": arm.summary.cv if arm.summary else None,
        "robust_cv": arm.summary.robust_cv if arm.summary else None,
        "perplexity": arm.perplexity,
        "shortest_window_seconds": min((run.seconds for run in arm.runs), default=None),
        "windows": [{**asdict(run), "joules_per_1k_tokens": run.joules_per_1k_tokens} for run in arm.runs],
    }


def library_versions() -> dict[str, str | None]:
    from importlib.metadata import PackageNotFoundError, version

    found: dict[str, str | None] = {"python": platform.python_version()}
    for name in ("torch", "transformers", "accelerate", "bitsandbytes", "nvidia-ml-py", "libcst", "peft", "torchao"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found


def machine() -> dict[str, Any]:
    """The host the measurement ran on: its processor and the cores this process may use."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            cpu = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), cpu)
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"hostname": platform.node(), "cpu": cpu, "cores": cores, "platform": platform.platform()}


def finding_report(result: Measurement) -> dict[str, Any]:
    finding = result.workload.finding
    delta = result.delta
    return {
        "code": finding.code,
        "file": finding.path,
        "line": finding.location.row,
        "model": result.workload.model,
        "weights": result.weights,
        "energy_reading": result.meter,
        "status": "error" if result.error else "measured",
        "error": result.error,
        "started_at": result.started_at,
        "weights_seconds": round(result.weights_seconds, 1),
        "seconds": round(result.seconds, 1),
        "workload": {
            "new_tokens": result.workload.new_tokens,
            "new_tokens_from": result.workload.new_tokens_from,
            "prompt_tokens": result.prompt_tokens,
            "shares_per_call": result.shares_per_call,
        },
        "order_seed": result.order_seed,
        "flagged": _arm(result.flagged),
        "fixed": _arm(result.fixed),
        "delta": None
        if delta is None
        else {
            "percent": delta.percent,
            "ci95": [delta.ci95_low, delta.ci95_high],
            "half_width": delta.half_width,
            "verdict": delta.verdict,
            "pairs": delta.pairs,
            "stopped": delta.stopped,
            "estimator": ESTIMATOR,
        },
    }


def report(results: Sequence[Measurement], skipped: Sequence[Unmeasurable], options: MeasureOptions, gpu: dict[str, Any]) -> dict[str, Any]:
    findings = [finding_report(result) for result in results]
    for item in skipped:
        finding = item.finding
        findings.append(
            {"code": finding.code, "file": finding.path, "line": finding.location.row, "status": "not measured", "error": item.reason}
        )
    return {
        "schema_version": SCHEMA_VERSION,
        "ecolint": __version__,
        "gpu": gpu,
        "machine": machine(),
        "libraries": library_versions(),
        "settings": asdict(options),
        "findings": findings,
    }


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
