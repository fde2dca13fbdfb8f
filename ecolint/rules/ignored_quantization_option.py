from __future__ import annotations

import libcst as cst

from ecolint.analysis.flow import Keywords
from ecolint.analysis.quantization import quantization_requests
from ecolint.diagnostics import Applicability
from ecolint.fixing.edits import replace_and_remove
from ecolint.fixing.fixes import Fix
from ecolint.rule import FixAvailability, Rule

# What each mode reads (transformers integrations/bitsandbytes.py and quantizers/quantizer_bnb_*bit.py):
# 8-bit builds `Linear8bitLt(has_fp16_weights=, threshold=)`, 4-bit builds `Linear4bit(compute_dtype,
# compress_statistics=, quant_type=, quant_storage=)`; both quantizers read the skip list and CPU offload.
EIGHT_BIT_ONLY = frozenset({"llm_int8_threshold", "llm_int8_has_fp16_weight"})
FOUR_BIT_ONLY = frozenset({"bnb_4bit_compute_dtype", "bnb_4bit_quant_type", "bnb_4bit_use_double_quant", "bnb_4bit_quant_storage"})
BOTH_MODES = frozenset({"llm_int8_skip_modules", "llm_int8_enable_fp32_cpu_offload"})


class IgnoredQuantizationOption(Rule):
    """
    ## What it does
    Flags a bitsandbytes option that the configuration's mode never reads:
    `llm_int8_threshold` or `llm_int8_has_fp16_weight` on a 4-bit load, any
    `bnb_4bit_*` option on an 8-bit load, and a `BitsAndBytesConfig` with options but
    neither `load_in_8bit` nor `load_in_4bit` on. The mode must be known (a literal
    flag); a runtime flag is not flagged.

    ## Why is this bad?
    The option does nothing, while the code says it does: a reader (or its author)
    believes the 4-bit model computes with an outlier threshold, or the 8-bit one in
    `bnb_4bit_compute_dtype`. In transformers' source, the 8-bit path builds
    `bnb.nn.Linear8bitLt(has_fp16_weights=llm_int8_has_fp16_weight, threshold=llm_int8_threshold)`
    and the 4-bit path `bnb.nn.Linear4bit(bnb_4bit_compute_dtype, compress_statistics=bnb_4bit_use_double_quant,
    quant_type=bnb_4bit_quant_type, quant_storage=bnb_4bit_quant_storage)`
    (`integrations/bitsandbytes.py`); `llm_int8_skip_modules` and
    `llm_int8_enable_fp32_cpu_offload` are read by both quantizers. With neither flag
    on, `BitsAndBytesConfig.quantization_method()` is `None`: the configuration
    selects no mode, so what its options were meant to set up is not what runs.

    ## Example
    ```python
    import torch
    from transformers import BitsAndBytesConfig

    config = BitsAndBytesConfig(load_in_8bit=True, bnb_4bit_compute_dtype=torch.float16)
    ```

    ## Use instead
    ```python
    from transformers import BitsAndBytesConfig

    config = BitsAndBytesConfig(load_in_8bit=True)
    ```

    ## Fix safety
    Safe: the removed keyword is never read, so nothing changes (downgraded to unsafe
    where a comment would be lost). A configuration with neither mode on gets no fix:
    the author must choose the mode.

    ## References
    - transformers `integrations/bitsandbytes.py`, `utils/quantization_config.py`
    """

    code = "ECO110"
    name = "ignored-quantization-option"
    summary = "a bitsandbytes option the configuration's mode never reads"
    fix_availability = FixAvailability.SOMETIMES
    # An option given as a keyword or key (`gate` also asks for a configuration: a
    # `BitsAndBytesConfig(...)` call or a `quantization_config`), whose mode the flags say.
    triggers = tuple(sorted(EIGHT_BIT_ONLY | FOUR_BIT_ONLY | BOTH_MODES))
    imports = ("transformers", "diffusers", "peft")  # the config's and the loaders' packages
    gate = "bitsandbytes_config_options"
    context_words = ("BitsAndBytesConfig", "quantization_config", "load_in_8bit", "load_in_4bit")

    def visit_Call(self, node: cst.Call) -> None:
        for request in quantization_requests(self.flow, node):
            if request.origin != "config":
                continue
            keywords = request.keywords
            eight, four = (self._mode(keywords, name) for name in ("load_in_8bit", "load_in_4bit"))
            if eight is None or four is None or (eight and four):
                continue  # a flag known only at run time, a `**mapping` that may carry one, or both on (ECO109)
            options = [kw for name, kw in keywords.items.items() if name in EIGHT_BIT_ONLY | FOUR_BIT_ONLY | BOTH_MODES]
            if not eight and not four:
                if options and isinstance(request.call, cst.Call) and request.config_keyword is None:
                    names = ", ".join(f"`{kw.name}`" for kw in options)
                    self.report(
                        node,
                        f"`BitsAndBytesConfig` with neither `load_in_8bit` nor `load_in_4bit` on selects no mode: "
                        f"{names} configure nothing",
                    )
                continue
            ignored = FOUR_BIT_ONLY if eight else EIGHT_BIT_ONLY
            mode = "an 8-bit" if eight else "a 4-bit"
            for keyword in options:
                if keyword.name in ignored:
                    self.report(keyword.node, f"`{keyword.name}` is never read on {mode} load: it does nothing", self._fix(keyword))

    def _mode(self, keywords: Keywords, name: str) -> bool | None:
        """Whether the flag is on (False when absent); None when it cannot be known."""
        flag = keywords.get(name)
        if flag is None:
            return False if keywords.complete else None
        value = self.flow.constant(flag.value)
        if value.runtime or len(value.known) != 1:
            return None
        return bool(value.known[0])

    def _fix(self, keyword) -> Fix | None:
        if not keyword.editable:
            return None
        edited, comment_lost = replace_and_remove(keyword.container, keyword.node, None, [])
        return Fix(f"Remove `{keyword.name}`", Applicability.UNSAFE if comment_lost else Applicability.SAFE, ((keyword.container, edited),))
