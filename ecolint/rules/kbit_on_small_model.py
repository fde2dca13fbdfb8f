from __future__ import annotations

import libcst as cst

from ecolint.analysis import small_loads
from ecolint.analysis.measurable import request_hint
from ecolint.analysis.models import is_prequantized
from ecolint.analysis.small_loads import small_kbit_loads, trains_kbit
from ecolint.fixing.sixteen_bit import load_in_16_bits, sixteen_bit_dtype
from ecolint.rule import FixAvailability, Rule

COST = "+15–21% energy per token over FP16 at batch 1 on H200 (+43–57% at batch 8; +11–29% on RTX 5090/4090D)"


class KbitOnSmallModel(Rule):
    """
    ## What it does
    Flags a 4-bit bitsandbytes load (NF4 or the default FP4) of a model whose size
    is known and small enough that memory is not the constraint.

    The model id is followed from the `from_pretrained` / `pipeline` call: a literal,
    a module constant, a function parameter's default and the arguments of every call
    of that function in the module, an argparse `default=` read back as `args.<dest>`,
    or a dataclass field's default. Its size comes from
    `[tool.ecolint.models]`, a `config.json` at a local path or in the Hugging Face
    cache, ecolint's table of popular checkpoints, or the name (`1.5B`, `350m`,
    `8x7B`). A model whose size cannot be known is not flagged.

    ## Why is this bad?
    4-bit weights save memory but are dequantized at every linear layer on every
    token. When the FP16 weights fit the GPU anyway, that work buys nothing:
    on an H200, NF4 costs +15% (1.5B) to +21% (7B) energy per generated token
    over FP16 at batch 1, and +43% to +57% at batch 8; on RTX 5090 and 4090D the
    seed measurements show +11% to +29% for models of 3.8B parameters and less.
    The seeds put the crossover near 5B parameters on 24 GB cards.

    Small means: with `target-gpu` set, the FP16 weights take under half the
    card's memory; without it, at most 5B parameters.

    ## Known problems
    Files that set a model up for k-bit (QLoRA) training (`prepare_model_for_kbit_training`,
    `get_peft_model`, a transformers or TRL `Trainer`) are ECO107's: its measurement is of
    training. A model id that can reach the load from several places is flagged only when
    every one of them is known and small.

    Memory may still be the constraint for reasons the code does not show (several
    models on one card, long contexts, training with large batches); silence the
    finding with `# noqa: ECO102` there, or set `target-gpu`.

    ## Example
    ```python
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    config = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4")
    model = AutoModelForCausalLM.from_pretrained("Qwen/Qwen2-1.5B", quantization_config=config)
    ```

    ## Use instead
    ```python
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained("Qwen/Qwen2-1.5B", dtype=torch.bfloat16)
    ```

    ## Fix safety
    Unsafe: the model then needs about four times the memory for its weights. The
    fix drops the 4-bit configuration from the load and, unless the load already
    passes a dtype, adds `dtype=torch.bfloat16` (`torch.float16` where the 4-bit
    config computed in float16; `torch_dtype=` where the file uses that spelling).

    ## Options
    - `target-gpu` (e.g. `"H200"`, `"RTX 4090"`, `"T4"`): judge "small" against this card.
    - `[tool.ecolint.models]`: sizes, in billions of parameters, of private models.

    ## References
    - shared evidence: `h200-2026-11.md`; seed measurements on RTX 5090 and RTX 4090D
    """

    code = "ECO102"
    name = "kbit-on-small-model"
    summary = "4-bit load of a model small enough that memory is not the constraint"
    fix_availability = FixAvailability.SOMETIMES
    triggers = ("load_in_4bit",)
    gate = "keyword_or_key"
    context_words = small_loads.CONTEXT_WORDS

    def visit_Call(self, node: cst.Call) -> None:
        if trains_kbit(self.flow):
            return  # ECO107's: QLoRA on a small model
        for load in small_kbit_loads(self.flow, node, self.context):
            request, model_id, size = load.request, load.model_id, load.size
            message = f"4-bit load of `{model_id}`, {size.billions:g}B parameters (from {size.source}): {load.reason}, and NF4 costs {COST}"
            hint = {
                **request_hint(self.flow, self.model_ids, request),
                "model": model_id,
                "fixed_dtype": sixteen_bit_dtype(self.flow, request),
            }
            if is_prequantized(model_id):
                self.report(load.where, message + "; load the original checkpoint in BF16 instead of this pre-quantized one", data=hint)
            else:
                self.report(load.where, message, load_in_16_bits(self.flow, node, request), hint)
