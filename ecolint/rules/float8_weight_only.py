from __future__ import annotations

import libcst as cst

from ecolint.analysis import apis
from ecolint.analysis.names import imported_names
from ecolint.diagnostics import Applicability
from ecolint.fixing.fixes import Fix
from ecolint.fixing.statements import removable_statement, removal
from ecolint.rule import FixAvailability, Rule

COST = (
    "+157–231% energy per token over bf16 on H200 at batch 1 and 8 (torchao 0.18, eager), +158–701% over FP16 on RTX 5090 (pytorch/ao#4094)"
)
ADVICE = "Load in bf16 without the float8 weight-only config"


class Float8WeightOnly(Rule):
    """
    ## What it does
    Flags torchao's float8 weight-only quantization: `Float8WeightOnlyConfig(...)` (given
    to `TorchAoConfig(...)` for `from_pretrained`, or to `quantize_(model, ...)`), the
    older `float8_weight_only()`, and `TorchAoConfig("float8_weight_only")`.

    ## Why is this bad?
    torchao maps float8 weight-only to a reference implementation that dequantizes the
    weights and runs a bf16 matmul (pytorch/ao#3288): it stores half the bytes of bf16
    but does more work per token. The float8 RFC measured 0.46× bf16 speed on H100
    (pytorch/ao#574), and +158% to +701% energy over FP16 was reported on an RTX 5090
    (pytorch/ao#4094). Measured on an H200 in ecolint's harness
    (`benchmarks/results/h200-eco111-float8.json` and `-2.json`: Qwen2-1.5B shape,
    torchao 0.18.0, 48 new tokens after a 64-token prompt, two runs): float8 weight-only
    costs +219% to +231% energy per token over bf16 at batch 1 (9,822-10,600 against
    3,074-3,207 J per 1k tokens) and +157% to +183% at batch 8, at 42-58% fewer tokens
    per second. `Float8DynamicActivationFloat8WeightConfig` is no way out uncompiled:
    +277% to +475%.

    ## Known problems
    Measured eager only: with `torch.compile` the float8 paths may do better, and a
    compiled run was not measured yet (`benchmarks/results/README.md` says why). The
    rule does not read which torchao version a project pins; a release that maps the
    config to a fast kernel would make it wrong.

    ## Example
    ```python
    from torchao.quantization import Float8WeightOnlyConfig, quantize_

    quantize_(model, Float8WeightOnlyConfig())
    ```

    ## Use instead
    ```python
    import torch

    model = model.to(torch.bfloat16)
    ```

    ## Fix safety
    Unsafe: the model then keeps its 16-bit weights, twice the memory of float8. The fix
    removes a `quantize_(model, Float8WeightOnlyConfig())` statement; for a load through
    `TorchAoConfig` it advises loading in bf16 without the config.

    ## References
    - `benchmarks/results/h200-eco111-float8.json`, `h200-eco111-float8-2.json` (the H200
      measurement; `benchmarks/float8_probe.py`)
    - pytorch/ao#3288, pytorch/ao#574, pytorch/ao#4094
    """

    code = "ECO111"
    name = "float8-weight-only"
    summary = "torchao float8 weight-only quantization, a dequantize-then-bf16 path that costs energy"
    fix_availability = FixAvailability.SOMETIMES
    triggers = ("Float8WeightOnlyConfig", "float8_weight_only")
    imports = ("torchao", "transformers")
    context_words = ()
    follows_calls = False

    def visit_Call(self, node: cst.Call) -> None:
        names = imported_names(self.flow, node.func)
        if names & apis.FLOAT8_WEIGHT_ONLY:
            self._report(node)
        elif names & apis.TORCHAO_CONFIG and node.args and node.args[0].keyword is None:
            if self.flow.constant(node.args[0].value).known == ("float8_weight_only",):
                self._report(node)

    def _report(self, config: cst.Call) -> None:
        message = f"torchao float8 weight-only dequantizes to bf16 for every matmul: {COST}"
        self.report(config, message, self._fix(config))

    def _fix(self, config: cst.Call) -> Fix:
        """Remove `quantize_(model, <config>)` where it is a statement of its own; advice otherwise."""
        arg = self.flow.parent(config)
        call = self.flow.parent(arg) if isinstance(arg, cst.Arg) else None
        if isinstance(call, cst.Call) and imported_names(self.flow, call.func) & apis.TORCHAO_QUANTIZE:
            line = removable_statement(self.flow, call)
            if line is not None:
                return Fix("Remove the float8 weight-only `quantize_` call (keep bf16 weights)", Applicability.UNSAFE, (removal(line),))
        return Fix(ADVICE, Applicability.DISPLAY_ONLY, ())
