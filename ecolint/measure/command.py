"""`--measure` from the command line: preflight, progress display, table and JSON report."""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from ecolint.diagnostics import Finding
from ecolint.measure import MeasureError
from ecolint.measure.runner import Measurement, MeasureOptions, measure
from ecolint.measure.workloads import Unmeasurable, Workload, workload_for


def preflight(workloads: Sequence[Workload], options: MeasureOptions) -> dict[str, Any]:
    """Check the extra, the GPU and NVML before anything starts; returns the GPU's facts."""
    needed = ["torch", "transformers"]
    if options.device == "cuda":
        needed.append("pynvml")
        if any(w.flagged.quantization or w.fixed.quantization for w in workloads):
            needed.append("bitsandbytes")
    missing = [name for name in needed if importlib.util.find_spec(name) is None]
    if missing:
        names = ", ".join(missing)
        raise MeasureError(f'the measure extra is not installed (missing {names}): pip install "ecolint[measure]"')
    if options.device != "cuda":
        return {"name": "CPU (no GPU: energy estimated from time, for tests only)", "driver": None, "power_limit_w": None}
    from ecolint.measure.energy import gpu_facts, nvml_handle

    try:
        import pynvml

        nvml_handle()
        if pynvml.nvmlDeviceGetCount() < 1:
            raise MeasureError("no NVIDIA GPU found")
    except pynvml.NVMLError as exc:
        raise MeasureError(f"no NVIDIA GPU usable through NVML: {exc}") from None
    return gpu_facts()


def run(findings: Sequence[Finding], options: MeasureOptions, stream: IO[str], report_path: Path | None) -> int:
    """Measure every measurable finding; returns the number that failed to measure."""
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from ecolint.measure.report import report, write_json, write_table

    planned = [workload_for(f) for f in findings]
    workloads = [p for p in planned if isinstance(p, Workload)]
    skipped = [p for p in planned if isinstance(p, Unmeasurable)]
    gpu = preflight(workloads, options)
    results: list[Measurement] = []
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        for workload in workloads:
            label = f"{workload.finding.code} {workload.model}"
            task = progress.add_task(label)
            search_dirs = [Path(workload.finding.path).resolve().parent, Path.cwd()]

            def show(step: str, task: Any = task, label: str = label) -> None:
                progress.update(task, description=f"{label}: {step}")

            results.append(measure(workload, options, search_dirs, show))
            progress.remove_task(task)
    write_table(results, skipped, stream)
    if report_path is not None:
        write_json(report_path, report(results, skipped, options, gpu))
    return sum(1 for r in results if r.error)
