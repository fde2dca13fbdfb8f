from __future__ import annotations

import libcst as cst

from ecolint.diagnostics import Applicability
from ecolint.fixing.fixes import Fix
from ecolint.analysis.names import literal, literal_value
from ecolint.analysis.quantization import quantization_requests
from ecolint.rule import FixAvailability, Rule


def _as_float_literal(node: cst.BaseExpression) -> cst.BaseExpression | None:
    """`0` → `0.0`, `-1` → `-1.0`; None when the node is not an integer literal."""
    if isinstance(node, cst.Integer):
        return cst.Float(f"{literal(node)}.0", lpar=node.lpar, rpar=node.rpar)
    if isinstance(node, cst.UnaryOperation) and isinstance(node.expression, cst.Integer):
        return node.with_changes(expression=_as_float_literal(node.expression))
    return None


class Int8ThresholdInt(Rule):
    """
    ## What it does
    Flags `llm_int8_threshold` given as an integer (`llm_int8_threshold=0`) to a
    bitsandbytes quantization config.

    ## Why is this bad?
    `BitsAndBytesConfig` checks the type of its threshold and raises
    `TypeError: llm_int8_threshold must be a float` for an int, so the script
    crashes before the model loads. The same happens to a dict passed as
    `quantization_config=` or unpacked into `BitsAndBytesConfig(**...)`, and to the
    keyword given to `from_pretrained` itself with `load_in_8bit=True`: the transformers
    4.x releases that accept those keywords build a `BitsAndBytesConfig` from them
    (`BitsAndBytesConfig.from_dict(config_dict=...)` in `from_pretrained`); the earliest
    ones (4.27-4.30) set the threshold after the check instead, and 5.x refuses the
    keywords altogether (ECO105).

    ## Example
    ```python
    from transformers import BitsAndBytesConfig

    config = BitsAndBytesConfig(load_in_8bit=True, llm_int8_threshold=0)
    ```

    ## Use instead
    ```python
    from transformers import BitsAndBytesConfig

    config = BitsAndBytesConfig(load_in_8bit=True, llm_int8_threshold=0.0)
    ```

    ## Fix safety
    Safe: the float has the same value, and the call that raised now succeeds.
    No fix is offered when the integer comes from a constant defined elsewhere.

    ## References
    - transformers, `BitsAndBytesConfig.post_init`
    """

    code = "ECO106"
    name = "int8-threshold-int"
    summary = "`llm_int8_threshold` given as an int, which raises `TypeError`"
    fix_availability = FixAvailability.SOMETIMES
    triggers = ("llm_int8_threshold",)
    gate = "keyword_or_key"
    context_words = ()

    def visit_Call(self, node: cst.Call) -> None:
        for request in quantization_requests(self.flow, node):
            threshold = request.keywords.get("llm_int8_threshold")
            if threshold is None:
                continue
            value = literal_value(self, threshold.value)
            if isinstance(value, bool) or not isinstance(value, int):
                continue
            message = f"`llm_int8_threshold={value}` is an int: `BitsAndBytesConfig` raises `TypeError: llm_int8_threshold must be a float`"
            if request.origin == "loader":
                message += " (transformers 4.x builds it from `from_pretrained`'s keywords; 5.x refuses them, ECO105)"
            replacement = _as_float_literal(threshold.value)
            fix = None
            if replacement is not None:
                fix = Fix(f"Use `{value}.0`", Applicability.SAFE, ((threshold.value, replacement),))
            self.report(threshold.value, message, fix)
