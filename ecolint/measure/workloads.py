"""Finding → a generation workload in two variants: as written, and as fixed.

The user's script is never run: the workload is built from what the rule resolved (the model
id, the quantization keywords as written, the dtype, the batch and the fix's batch size) and the
number of new tokens the code asks for (`max_new_tokens` at the finding's own call, else the one
value every call in the file passes; else 64, and the report says it is a default). The prompt is
`prompt_tokens` random tokens: its length is not something the code states.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ecolint.diagnostics import Finding

DEFAULT_DTYPE = "float16"  # as in the H200 evidence: from_pretrained(..., dtype=torch.float16)
DEFAULT_NEW_TOKENS = 64


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
    new_tokens: int = DEFAULT_NEW_TOKENS  # generated per sequence and call
    new_tokens_from: str = "default"  # where `new_tokens` came from: "line N" of the file, or "default"

    def describe(self) -> str:
        source = "default: not in the code" if self.new_tokens_from == "default" else self.new_tokens_from
        return f"{self.new_tokens} new tokens ({source})"


@dataclass(frozen=True)
class Unmeasurable:
    finding: Finding
    reason: str


_NOT_ENERGY = {
    "ECO105": "not an energy finding: the load raises TypeError on transformers 5.x",
    "ECO106": "not an energy finding: the config raises TypeError",
}


def _literal_new_tokens(call: ast.Call) -> int | None:
    for keyword in call.keywords:
        if keyword.arg == "max_new_tokens" and isinstance(keyword.value, ast.Constant):
            value = keyword.value.value
            if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                return value
    return None


def new_tokens_in_code(finding: Finding) -> tuple[int, str] | None:
    """`max_new_tokens` as the code writes it: at the finding's call, else the one value the file's calls agree on."""
    known = finding.data.get("max_new_tokens")
    if isinstance(known, int) and not isinstance(known, bool) and known > 0:
        return known, f"line {finding.location.row}"
    path = Path(finding.path)
    if path.suffix != ".py" or not path.is_file():
        return None
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return None
    found: dict[int, int] = {}  # value -> first line
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            value = _literal_new_tokens(node)
            if value is None:
                continue
            if (node.lineno, node.col_offset + 1) == (finding.location.row, finding.location.column):
                return value, f"line {node.lineno}"
            found[value] = min(found.get(value, node.lineno), node.lineno)
    if len(found) == 1:
        ((value, line),) = found.items()
        return value, f"line {line}"
    return None


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
    stated = new_tokens_in_code(finding)
    new_tokens, source = stated if stated else (DEFAULT_NEW_TOKENS, "default")

    def workload(flagged: Variant, fixed: Variant) -> Workload:
        return Workload(finding, model, flagged, fixed, new_tokens, source)

    if finding.code == "ECO101":
        written = {**quantization, "load_in_8bit": True}
        written.setdefault("llm_int8_threshold", 6.0)
        fixed = {**written, "llm_int8_threshold": 0.0}
        return workload(Variant("as written", written, dtype), Variant("fixed", fixed, dtype))
    if finding.code == "ECO102":
        written = {**quantization, "load_in_4bit": True}
        fixed_dtype = data.get("fixed_dtype") or "bfloat16"
        return workload(Variant("as written", written, dtype), Variant("fixed", None, fixed_dtype))
    if finding.code == "ECO104":
        written = {k: v for k, v in quantization.items() if k != "bnb_4bit_compute_dtype"}
        written["load_in_4bit"] = True
        fixed = {**written, "bnb_4bit_compute_dtype": data.get("fixed_compute_dtype") or "bfloat16"}
        return workload(Variant("as written", written, dtype), Variant("fixed", fixed, dtype))
    if finding.code == "ECO103":
        quant = quantization or None
        batch, fixed_batch = int(data.get("batch", 1)), int(data.get("fixed_batch", 8))
        return workload(Variant("as written", quant, dtype, batch), Variant("fixed", quant, dtype, fixed_batch))
    return Unmeasurable(finding, f"{finding.code} has no measurable workload")
