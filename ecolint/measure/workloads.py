"""Finding → a standard generation workload in two variants: as written, and as fixed.

The user's script is never run: the workload is built from what the rule resolved
(the model id, the quantization keywords as written, the batch).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ecolint.diagnostics import Finding

DEFAULT_DTYPE = "float16"  # as in the H200 evidence: from_pretrained(..., dtype=torch.float16)


@dataclass(frozen=True)
class Variant:
    """One way of loading and running the model."""

    label: str
    quantization: dict[str, Any] | None = None  # BitsAndBytesConfig keywords; None: unquantized
    dtype: str = DEFAULT_DTYPE
    batch: int = 1

    def describe(self) -> str:
        parts = []
        if self.quantization:
            parts.append(", ".join(f"{k}={v}" for k, v in self.quantization.items()))
        else:
            parts.append(self.dtype)
        parts.append(f"batch {self.batch}")
        return "; ".join(parts)

    def as_json(self) -> dict[str, Any]:
        return {"label": self.label, "quantization": self.quantization, "dtype": self.dtype, "batch": self.batch}


@dataclass(frozen=True)
class Workload:
    finding: Finding
    model: str
    flagged: Variant
    fixed: Variant


@dataclass(frozen=True)
class Unmeasurable:
    finding: Finding
    reason: str


_NOT_ENERGY = {
    "ECO105": "not an energy finding: the load raises TypeError on transformers 5.x",
    "ECO106": "not an energy finding: the config raises TypeError",
}


def workload_for(finding: Finding) -> Workload | Unmeasurable:
    """The workload that measures `finding`, or why there is none."""
    if finding.code in _NOT_ENERGY:
        return Unmeasurable(finding, _NOT_ENERGY[finding.code])
    data = dict(finding.data)
    model = data.get("model")
    if not model:
        return Unmeasurable(finding, "the model id could not be resolved statically")
    dtype = data.get("dtype") if data.get("dtype") in ("float16", "bfloat16") else DEFAULT_DTYPE
    quantization = dict(data.get("quantization") or {})
    if finding.code == "ECO101":
        written = {**quantization, "load_in_8bit": True}
        written.setdefault("llm_int8_threshold", 6.0)
        fixed = {**written, "llm_int8_threshold": 0.0}
        return Workload(finding, model, Variant("as written", written, dtype), Variant("fixed", fixed, dtype))
    if finding.code == "ECO102":
        written = {**quantization, "load_in_4bit": True}
        fixed_dtype = data.get("fixed_dtype") or "bfloat16"
        return Workload(finding, model, Variant("as written", written, dtype), Variant("fixed", None, fixed_dtype))
    if finding.code == "ECO104":
        written = {k: v for k, v in quantization.items() if k != "bnb_4bit_compute_dtype"}
        written["load_in_4bit"] = True
        fixed = {**written, "bnb_4bit_compute_dtype": data.get("fixed_compute_dtype") or "bfloat16"}
        return Workload(finding, model, Variant("as written", written, dtype), Variant("fixed", fixed, dtype))
    if finding.code == "ECO103":
        quant = quantization or None
        batch, fixed_batch = int(data.get("batch", 1)), int(data.get("fixed_batch", 8))
        return Workload(finding, model, Variant("as written", quant, dtype, batch), Variant("fixed", quant, dtype, fixed_batch))
    return Unmeasurable(finding, f"{finding.code} has no measurable workload")
