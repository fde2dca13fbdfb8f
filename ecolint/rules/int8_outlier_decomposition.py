from __future__ import annotations

import libcst as cst

from ecolint.analysis import model_ids

from ecolint.diagnostics import Applicability
from ecolint.fixing.edits import insert_after, keyword_like
from ecolint.fixing.fixes import Fix
from ecolint.analysis.measurable import request_hint
from ecolint.analysis.names import literal_value
from ecolint.analysis.quantization import QuantizationRequest, enabled_flag, quantization_requests
from ecolint.rule import FixAvailability, Rule

COST = "+225–357% energy per token vs FP16 on H200, +17–147% on RTX 4090D/A800"


class Int8OutlierDecomposition(Rule):
    """
    ## What it does
    Flags an 8-bit bitsandbytes load whose `llm_int8_threshold` is absent or
    non-zero, in every form it is written: `BitsAndBytesConfig(load_in_8bit=...)`
    (transformers' or diffusers'), `load_in_8bit=True` given to `from_pretrained`,
    and dicts or `dict(...)` carrying `load_in_8bit` that are unpacked with `**`,
    passed as `quantization_config=`, or as `pipeline(model_kwargs=...)`.

    ## Why is this bad?
    With a non-zero threshold (the default is 6.0), LLM.int8() splits every
    linear layer's input into outlier features, computed in FP16, and the rest,
    computed in INT8, then merges the results: conversions at every layer, on
    every token. Measured on an H200 (transformers 5.17, bitsandbytes 0.50.2),
    default INT8 costs +225% to +357% energy per generated token over FP16
    (Qwen2-1.5B and Mistral-7B shapes, batch 1 and 8); `llm_int8_threshold=0.0`
    recovers about half of that. On RTX 4090D and A800 the seed measurements
    show +17% to +147% over FP16 and a 34–42% saving from the threshold alone.

    FP16 (or BF16) is the better choice wherever the model fits in memory: it is the
    most efficient, and it keeps the quality that 8-bit trades away. On the H200 even
    pure INT8 still costs +47% to +110% over FP16. Use 8-bit only when memory forces
    it; `llm_int8_threshold=0.0` then saves energy at a cost in quality (below).

    A runtime value such as `load_in_8bit=args.int8` is flagged, since the
    threshold is missing whenever it is true; a literal `False` is not.

    ## Known problems
    A threshold set later by mutating the config object or dict is recognised
    only when done in the same scope (`cfg.llm_int8_threshold = 0.0`); keywords
    that arrive through an unresolvable `**kwargs` make the rule stay silent.

    ## Example
    ```python
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    config = BitsAndBytesConfig(load_in_8bit=True)
    model = AutoModelForCausalLM.from_pretrained("mistralai/Mistral-7B-v0.1", quantization_config=config)
    ```

    ## Use instead
    ```python
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    config = BitsAndBytesConfig(load_in_8bit=True, llm_int8_threshold=0.0)
    model = AutoModelForCausalLM.from_pretrained("mistralai/Mistral-7B-v0.1", quantization_config=config)
    ```

    ## Fix safety
    Unsafe, and a trade rather than a free saving. The decomposition is what makes
    8-bit inference accurate: the LLM.int8() paper shows that quantizing the outlier
    features too degrades quality, and sharply from about 6.7B parameters on, where
    such features appear in every layer. The author of the energy measurements behind
    this rule later noted (transformers PR #44407) that `llm_int8_threshold=0.0` can
    raise perplexity by about 25%. So check quality on your task before taking this
    fix, and prefer loading in 16 bits where memory allows: that saves more energy
    and costs no quality. `ecolint check --measure` with real weights reports both
    variants' perplexity beside the energy delta.

    ## References
    - Dettmers et al., LLM.int8(): 8-bit Matrix Multiplication for Transformers at Scale (2022)
    - huggingface/transformers#44407 (energy guidance, and the perplexity cost of threshold 0.0)
    - bitsandbytes-foundation/bitsandbytes#1867 (RTX 4090D and A800 measurements)
    - `benchmarks/results/README.md` (H200: `--measure` of threshold 6.0 against 0.0)
    """

    code = "ECO101"
    name = "int8-outlier-decomposition"
    summary = "8-bit bitsandbytes load that keeps LLM.int8() outlier decomposition on"
    fix_availability = FixAvailability.ALWAYS
    triggers = ("load_in_8bit",)
    gate = "keyword_or_key"
    context_words = model_ids.CONTEXT_WORDS

    def visit_Call(self, node: cst.Call) -> None:
        for request in quantization_requests(self.flow, node):
            if request.origin == "loader" and request.has_config:
                continue  # the quantization_config decides; the bare flag is ECO105's
            self._check(request)

    def _check(self, request: QuantizationRequest) -> None:
        keywords = request.keywords
        flag = enabled_flag(self.flow, keywords, "load_in_8bit")
        if flag is None:
            return
        threshold = keywords.get("llm_int8_threshold")
        if threshold is None:
            if not keywords.complete:
                return  # an unknown `**mapping` may carry the threshold
            fix = None
            if flag.editable:
                new = keyword_like(flag.node, "llm_int8_threshold", cst.Float("0.0"))
                fix = Fix(
                    "Add `llm_int8_threshold=0.0`",
                    Applicability.UNSAFE,
                    ((flag.container, insert_after(flag.container, flag.node, new)),),
                )
            message = f"8-bit load without `llm_int8_threshold=0.0` runs LLM.int8() outlier decomposition: {COST}"
            self.report(flag.node, message, fix, request_hint(self.flow, self.model_ids, request))
            return
        value = literal_value(self, threshold.value)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value == 0:
            return
        fix = Fix("Set `llm_int8_threshold=0.0`", Applicability.UNSAFE, ((threshold.value, cst.Float("0.0")),))
        message = f"`llm_int8_threshold={value}` keeps LLM.int8() outlier decomposition on: {COST}"
        self.report(threshold.node, message, fix, request_hint(self.flow, self.model_ids, request))
