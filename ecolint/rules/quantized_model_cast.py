from __future__ import annotations

import libcst as cst

from ecolint.analysis.names import code, imported_names
from ecolint.analysis.quantization import QUANTIZATION_FLAGS, is_loader, loader_quantization
from ecolint.diagnostics import Applicability
from ecolint.fixing.edits import replace_and_remove
from ecolint.fixing.fixes import Fix
from ecolint.fixing.statements import removable_statement, removal
from ecolint.rule import FixAvailability, Rule

DTYPE_WORDS = ("float16", "bfloat16", "float32", "float64")
# transformers' `PreTrainedModel` guards (modeling_utils.py), quoted as they raise.
HALF = "`.half()` is not supported for quantized model"
FLOAT = "`.float()` is not supported for quantized model"
TO_DTYPE = "You cannot cast a bitsandbytes model in a new `dtype`"
CUDA_8BIT = "Calling `cuda()` is not supported for `8-bit` quantized models"


class QuantizedModelCast(Rule):
    """
    ## What it does
    Flags the casts and moves that transformers refuses on a bitsandbytes model:
    `.half()` and `.float()` on a 4- or 8-bit model, `.to(<dtype>)` / `.to(dtype=...)`
    (also `.to("cuda", torch.float16)`) on one, and `.cuda()` on an 8-bit one. The model
    is followed through the value flow: aliases, `self.model`, factories, `.eval()`.

    ## Why is this bad?
    Each raises `ValueError` in transformers' `PreTrainedModel` (transformers 5.x,
    `modeling_utils.py`), after the weights have been loaded and quantized — the
    slowest way for a script to fail:
    - `.half()`: "`.half()` is not supported for quantized model. Please use the model
      as it is, since the model has already been casted to the correct `dtype`."
    - `.float()`: the same for `.float()`.
    - `.to(torch.float16)`: "You cannot cast a bitsandbytes model in a new `dtype`. Make
      sure to load the model using `from_pretrained` using the desired `dtype` by
      passing the correct `dtype` argument."
    - `.cuda()` on 8-bit: "Calling `cuda()` is not supported for `8-bit` quantized models.
      Please use the model as it is, since the model has already been set to the correct
      devices."

    ## Known problems
    Not flagged: device moves (`.to("cuda")`, `.to(device)`), which work with
    bitsandbytes ≥ 0.48 for 8-bit and ≥ 0.43.2 for 4-bit; tensors and inputs
    (`inputs.to(model.device)`); unquantized models; a PEFT wrapper
    (`get_peft_model(model).half()`), whose `half()` is PyTorch's own: it raises
    nothing and casts the adapters and norms while the quantized weights stay as they
    are; and `.bfloat16()`, which transformers does not guard (PyTorch casts only the
    floating-point tensors, leaving the int8/uint8 quantized weights). Where the load is
    quantized only under a runtime flag and the cast sits under a condition
    (`if not load_8bit: model.half()`), the condition is taken to be the guard.

    ## Example
    ```python
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    model = AutoModelForCausalLM.from_pretrained("facebook/opt-1.3b", quantization_config=BitsAndBytesConfig(load_in_8bit=True))
    model.half()
    ```

    ## Use instead
    ```python
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    model = AutoModelForCausalLM.from_pretrained("facebook/opt-1.3b", quantization_config=BitsAndBytesConfig(load_in_8bit=True))
    ```

    ## Fix safety
    Safe: the call can only raise, so removing it (`model.half()` as a statement, or
    `model = model.half()`) leaves the model as it was loaded, which is what the code
    after it uses once it runs; `.to("cuda", torch.float16)` keeps its device move and
    loses the dtype. Other shapes get no fix.

    ## References
    - transformers `PreTrainedModel.to` / `.cuda` / `.half` / `.float` (modeling_utils.py)
    """

    code = "ECO108"
    name = "quantized-model-cast"
    summary = "`.half()`, `.float()`, `.to(dtype)` on a bitsandbytes model, or `.cuda()` on an 8-bit one: a `ValueError`"
    fix_availability = FixAvailability.SOMETIMES
    # A cast of a model loaded with a quantization flag in the same file.
    triggers = QUANTIZATION_FLAGS
    imports = ("transformers", "peft")  # the loaders' packages
    gate = "cast_of_quantized_model"
    # A cast is written with one of these words, and its model is followed through bindings,
    # `self` attributes and calls, which the skeleton keeps.
    context_words = ("half", "float", "cuda", "dtype", *DTYPE_WORDS)

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if not isinstance(func, cst.Attribute) or func.attr.value not in ("half", "float", "to", "cuda"):
            return
        method = func.attr.value
        if method == "to" and not self._casts(node):
            return
        for bits, certain in self._quantization(func.value):
            error = {"half": HALF, "float": FLOAT, "to": TO_DTYPE, "cuda": CUDA_8BIT if bits == 8 else None}[method]
            if error is None or not (certain or not self.flow.conditional(node)):
                continue
            shown = code(node) if len(code(node)) <= 60 else f"{code(func)}(...)"
            article = "an" if bits == 8 else "a"
            self.report(node, f"`{shown}` on {article} {bits}-bit bitsandbytes model raises ValueError: {error}", self._fix(node, method))
            return

    def _fix(self, call: cst.Call, method: str) -> Fix | None:
        """Remove the call's statement; for `.to(device, dtype)`, only the dtype."""
        dtypes = [arg for arg in call.args if self._is_dtype(arg)]
        if method == "to" and len(dtypes) < len(call.args):
            edited, comment_lost = replace_and_remove(call, dtypes[0], None, dtypes[1:])
            return Fix(
                "Remove the dtype, keep the device move", Applicability.UNSAFE if comment_lost else Applicability.SAFE, ((call, edited),)
            )
        line = removable_statement(self.flow, call)
        return Fix(f"Remove the `{method}()` call", Applicability.SAFE, (removal(line),)) if line is not None else None

    def _casts(self, call: cst.Call) -> bool:
        """Whether a `.to(...)` call changes the dtype."""
        return any(self._is_dtype(arg) for arg in call.args)

    def _is_dtype(self, arg: cst.Arg) -> bool:
        """A `dtype=` keyword, or a torch dtype written as one (`torch.float16`, not a device string
        or a variable: what the skeleton keeps for this rule is where these words are written)."""
        if arg.keyword is not None:
            return arg.keyword.value == "dtype"
        if arg.star or not isinstance(arg.value, (cst.Attribute, cst.Name)):
            return False
        return any(name.startswith("torch.") and name.rsplit(".", 1)[-1] in DTYPE_WORDS for name in imported_names(self.flow, arg.value))

    def _quantization(self, receiver: cst.BaseExpression) -> list[tuple[int, bool]]:
        """(bits, certain) for each bitsandbytes load that may have made the receiver's model."""
        found = []
        for producer in self.flow.producers(receiver):
            if not isinstance(producer, cst.Call) or not is_loader(self.flow, producer):
                continue
            for request in loader_quantization(self.flow, producer):
                if request.origin == "loader" and request.has_config:
                    continue
                for bits, name in ((8, "load_in_8bit"), (4, "load_in_4bit")):
                    flag = request.keywords.get(name)
                    if flag is None:
                        continue
                    value = self.flow.constant(flag.value)
                    if value.may_be_truthy():
                        found.append((bits, not value.runtime and all(bool(v) for v in value.known)))
        return sorted(found, key=lambda item: (not item[1], -item[0]))
