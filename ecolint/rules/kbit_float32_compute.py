from __future__ import annotations

import libcst as cst

from ecolint.analysis import model_ids

from ecolint.diagnostics import Applicability
from ecolint.fixing.edits import insert_after, keyword_like
from ecolint.fixing.fixes import Fix, ImportRequest
from ecolint.analysis.measurable import request_hint
from ecolint.analysis.names import code, module_reference
from ecolint.analysis.quantization import QuantizationRequest, dtype_name, enabled_flag, loader_dtype, quantization_requests, request_loader
from ecolint.rule import FixAvailability, Rule

COST = (
    "on H200 +31–46% energy per token at batch 1 and +36–94% at batch 8 with float16 activations, "
    "+64–91% at batch 8 with bfloat16 (none detectable at batch 1)"
)


class KbitFloat32Compute(Rule):
    """
    ## What it does
    Flags a 4-bit bitsandbytes load (`load_in_4bit=True`, NF4 or FP4) that does not
    set `bnb_4bit_compute_dtype`.

    ## Why is this bad?
    4-bit weights are dequantized to the compute dtype for every matrix multiply.
    Left unset, transformers passes `torch.float32` down to bitsandbytes, so the
    whole model computes in float32 with either activation dtype: bitsandbytes
    switches to the input's dtype only when no compute dtype was given, and its own
    warning about a slow compute dtype never fires because one was. What it costs
    depends on the activation dtype and the batch. Measured on an H200 (Qwen2-1.5B
    shape, NF4, weights saved in bf16 or fp16), energy per generated token over the
    matching 16-bit compute dtype:

    | activations (`dtype=`) | batch 1 | batch 8 |
    |---|---|---|
    | float16 | +31% to +46% | +36% to +94% |
    | bfloat16 | nothing detectable (−9% to +7%) | +64% to +91% |

    A runtime value such as `load_in_4bit=args.four_bit` is flagged, since the
    compute dtype is missing whenever it is true. An explicit
    `bnb_4bit_compute_dtype=torch.float32` is a deliberate choice and is not flagged.

    ## Example
    ```python
    from transformers import BitsAndBytesConfig

    config = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4")
    ```

    ## Use instead
    ```python
    import torch
    from transformers import BitsAndBytesConfig

    config = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.bfloat16)
    ```

    ## Fix safety
    Unsafe: computing in 16 bits changes the numerics (slightly: the weights are
    4-bit already). The fix uses the `dtype=` / `torch_dtype=` the load already
    passes when it is float16 or bfloat16, and `torch.bfloat16` otherwise, adding
    `import torch` where needed.

    ## References
    - `benchmarks/results/README.md`, "ECO104 by activation dtype and batch" (H200, 2026-12)
    """

    code = "ECO104"
    name = "kbit-float32-compute"
    summary = "4-bit load without `bnb_4bit_compute_dtype`, which computes in float32"
    fix_availability = FixAvailability.ALWAYS
    triggers = ("load_in_4bit",)
    gate = "keyword_or_key"
    context_words = model_ids.CONTEXT_WORDS

    def visit_Call(self, node: cst.Call) -> None:
        for request in quantization_requests(self.flow, node):
            if request.origin == "loader" and request.has_config:
                continue
            self._check(request)

    def _check(self, request: QuantizationRequest) -> None:
        keywords = request.keywords
        flag = enabled_flag(self.flow, keywords, "load_in_4bit")
        if flag is None or "bnb_4bit_compute_dtype" in keywords.items or not keywords.complete:
            return
        dtype = self._dtype(request)
        if dtype is None:
            return
        value, imports = dtype
        fix = None
        if flag.editable:
            new = keyword_like(flag.node, "bnb_4bit_compute_dtype", value)
            fix = Fix(
                f"Add `bnb_4bit_compute_dtype={code(value)}`",
                Applicability.UNSAFE,
                ((flag.container, insert_after(flag.container, flag.node, new)),),
                imports,
            )
        hint = {**request_hint(self.flow, self.model_ids, request), "fixed_compute_dtype": dtype_name(self.flow, value) or "bfloat16"}
        self.report(flag.node, f"4-bit load without `bnb_4bit_compute_dtype` computes in float32: {COST}", fix, hint)

    def _dtype(self, request: QuantizationRequest) -> tuple[cst.BaseExpression, tuple[ImportRequest, ...]] | None:
        """The load's own 16-bit dtype expression, else `torch.bfloat16` (with its import)."""
        existing = loader_dtype(self.flow, request_loader(self.flow, request))
        if existing is not None and dtype_name(self.flow, existing.value) in ("float16", "bfloat16"):
            return existing.value, ()
        torch = module_reference(self, request.call, "torch")
        if torch is None:
            return cst.SimpleString('"bfloat16"'), ()
        name, imports = torch
        return cst.Attribute(name, cst.Name("bfloat16")), tuple(ImportRequest(module, obj) for module, obj in imports)
