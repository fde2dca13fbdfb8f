"""4-bit loads of models small enough that memory is not the constraint (ECO102 and ECO107 ask).

A load counts when its `load_in_4bit` may be a literal `True` and every model id that can
reach it is known and small: with `target-gpu` set, its 16-bit weights (plus, for
training, LoRA state) take under half the card; without it, at most 5 B parameters.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import libcst as cst

from ecolint.analysis import apis, model_ids
from ecolint.analysis.flow import Flow
from ecolint.analysis.hardware import gpu_memory_gib
from ecolint.analysis.model_ids import model_argument
from ecolint.analysis.models import ModelSize, model_size
from ecolint.analysis.names import imported_names
from ecolint.analysis.quantization import QuantizationRequest, is_loader, loader_quantization
from ecolint.rule_context import RuleContext

SMALL_WITHOUT_GPU_B = 5.0
# The words of what ECO102 and ECO107 read beyond the load: model ids, the QLoRA calls, the dtype's spelling.
CONTEXT_WORDS = (*model_ids.CONTEXT_WORDS, *sorted(name.rsplit(".", 1)[-1] for name in apis.KBIT_TRAINING), "torch_dtype")
# LoRA training state over the 16-bit weights: adapters, their gradients and Adam moments
# (about 1% of the parameters, 16 bytes each) and the base's gradient buffers for activations.
TRAINING_OVERHEAD = 1.1


@dataclass(frozen=True)
class SmallLoad:
    """A 4-bit load of a small model: the loader, the request that asks for 4 bits, and why it is small."""

    loader: cst.Call
    request: QuantizationRequest
    model_id: str
    size: ModelSize
    reason: str

    @property
    def where(self) -> cst.CSTNode:
        """Where a finding about it is reported: the `quantization_config` keyword, else the flag."""
        config = self.request.config_keyword
        return config.node if config is not None else self.request.keywords.items["load_in_4bit"].node


def small_kbit_loads(flow: Flow, call: cst.Call, context: RuleContext, training: bool = False) -> Iterator[SmallLoad]:
    """The 4-bit requests of the load `call` whose model is known and small."""
    if not is_loader(flow, call):
        return
    for request in loader_quantization(flow, call):
        if request.origin == "loader" and request.has_config:
            continue
        flag = request.keywords.get("load_in_4bit")
        if flag is None or not flow.constant(flag.value).can_be(True):
            continue
        argument = model_argument(flow, call)
        candidates = flow.model_ids.candidates(argument) if argument is not None else []
        known = [text for text in candidates if text]
        if not known or len(known) != len(candidates):
            continue  # a model id that cannot be known may be a large model
        sizes = [model_size(text, context.models, _search_dirs(context)) for text in known]
        reasons = [why_small(size, context.target_gpu, training) if size is not None else None for size in sizes]
        if all(reasons):
            yield SmallLoad(call, request, known[0], sizes[0], reasons[0])  # type: ignore[arg-type]


def why_small(size: ModelSize, target_gpu: str | None, training: bool = False) -> str | None:
    """Why memory is not the constraint for a model of this size, or None when it may be."""
    if target_gpu:
        memory = gpu_memory_gib(target_gpu) or 0
        weights = size.billions * 2e9 / 2**30 * (TRAINING_OVERHEAD if training else 1.0)
        what = "bf16 weights and LoRA state" if training else "FP16 weights"
        return f"its {what} ({weights:.1f} GiB) fill under half the {target_gpu}'s {memory:g} GiB" if weights < memory / 2 else None
    return f"at ≤ {SMALL_WITHOUT_GPU_B:g}B memory is rarely the constraint" if size.billions <= SMALL_WITHOUT_GPU_B else None


def trains_kbit(flow: Flow) -> bool:
    """Whether the module sets a model up for k-bit / LoRA training (QLoRA)."""
    return flow.memo("trains_kbit", lambda: any(imported_names(flow, call.func) & apis.KBIT_TRAINING for call in flow.calls()))


def _search_dirs(context: RuleContext) -> list[Path]:
    dirs = [Path.cwd()]
    if context.path is not None:
        dirs.insert(0, context.path.parent)
    return dirs
