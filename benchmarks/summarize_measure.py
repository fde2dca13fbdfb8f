"""Summarise `--measure` reports (benchmarks/results/h200-*.json) beside the H200 evidence.

    python benchmarks/summarize_measure.py benchmarks/results/h200-*.json

The evidence column is J per 1k tokens for the same comparison in shared/evidence/h200-2026-11.md
(as written → fixed, batch 1 unless stated); the direction is what must be reproduced.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

# (shape, code) -> (evidence flagged J/1k, evidence fixed J/1k, what the rows compare)
EVIDENCE = {
    ("qwen2-1.5b", "ECO101"): (13447, 6449, "int8 threshold 6.0 → 0.0"),
    ("qwen2-1.5b", "ECO102"): (3841, 3334, "nf4 (fp16 compute) → fp16"),
    ("qwen2-1.5b", "ECO103"): (3334, 423, "fp16 batch 1 → 8"),
    ("qwen2-1.5b", "ECO104"): (4731, 3841, "nf4 compute default → fp16"),
    ("mistral-7b", "ECO101"): (16085, 8168, "int8 threshold 6.0 → 0.0"),
    ("mistral-7b", "ECO102"): (5964, 4947, "nf4 (fp16 compute) → fp16"),
    ("mistral-7b", "ECO103"): (4947, 713, "fp16 batch 1 → 8"),
    ("mistral-7b", "ECO104"): (None, None, "nf4 compute default → fp16 (not in the evidence at 7B)"),
}


def _seconds(finding: dict) -> str:
    """The measurement's seconds, and the one-time weight build where a report (schema 2+) separates it."""
    built = finding.get("weights_seconds", 0.0)
    return f"{finding['seconds']:.0f}" + (f" (+{built:.0f} weights)" if built >= 1 else "")


def rows(paths: list[Path]) -> list[str]:
    lines = [
        "| shape | finding | compares | evidence J/1k | measured J/1k (median) | Δ [95% CI] | verdict"
        " | CV flagged / fixed | shortest run | s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for path in paths:
        shape = "qwen2-1.5b" if "qwen" in path.name else "mistral-7b"
        for f in json.loads(path.read_text())["findings"]:
            if f["status"] != "measured":
                lines.append(f"| {shape} | {f['code']} | | | | | {f['status']}: {f.get('error')} | | | |")
                continue
            a, b = f["flagged"], f["fixed"]
            ev_a, ev_b, compares = EVIDENCE[(shape, f["code"])]
            evidence = f"{ev_a:,} → {ev_b:,} ({(ev_b / ev_a - 1) * 100:+.0f}%)" if ev_a else "—"
            low, high = f["delta"]["ci95"]
            shortest = min(r["seconds"] for r in a["runs"] + b["runs"])
            lines.append(
                f"| {shape} | {f['code']} | {compares} | {evidence} | "
                f"{a['median']['joules_per_1k_tokens']:,.0f} → {b['median']['joules_per_1k_tokens']:,.0f} | "
                f"{f['delta']['percent']:+.1f}% [{low:+.1f}, {high:+.1f}] | {f['delta']['verdict']} | "
                f"{a['cv']:.1%} / {b['cv']:.1%} | {shortest:.1f} s | {_seconds(f)} |"
            )
    return lines


if __name__ == "__main__":
    print("\n".join(rows([Path(p) for p in sys.argv[1:]])))
