from __future__ import annotations

import libcst as cst

from ecolint.analysis import apis, small_loads
from ecolint.analysis.measurable import request_hint
from ecolint.analysis.names import imported_names
from ecolint.analysis.small_loads import SmallLoad, small_kbit_loads, trains_kbit
from ecolint.fixing.sixteen_bit import load_in_16_bits
from ecolint.fixing.statements import removable_statement, removal
from ecolint.rule import FixAvailability, Rule

COST = (
    "+83–89% energy per training token over a bf16 base on H200 for a 1.5B shape, +48–52% for 7B (LoRA r=16, batch 8 × 256), "
    "and more peak memory without gradient checkpointing"
)


class KbitTrainingOnSmallModel(Rule):
    """
    ## What it does
    Flags a 4-bit bitsandbytes base prepared for (QLoRA) training — in a module that
    calls `prepare_model_for_kbit_training`, `get_peft_model` or a transformers / TRL
    trainer — when the model is small enough that its 16-bit weights fit: at most 5B
    parameters, or with `target-gpu` set, bf16 weights plus LoRA training state under
    half the card.

    The model id and its size are found as ECO102 finds them (literals, constants,
    parameters and their call sites, argparse and dataclass defaults; the project's
    table, a `config.json`, ecolint's table of checkpoints, the name). An unknown model
    is not flagged.

    ## Why is this bad?
    QLoRA stores the base model in NF4 to save memory, and pays for it in every forward
    and backward pass: each linear layer dequantizes its weights again, and gradients
    flow through the dequantization. When the bf16 weights fit the card anyway, LoRA on
    a bf16 base trains the same adapters with less work. Measured on an H200 in
    ecolint's harness (`benchmarks/results/h200-eco107-qlora.txt`: Qwen2-1.5B shape,
    peft LoRA r=16 on the attention projections, a forward, backward and optimizer step
    on batches of 8 × 256 tokens): the NF4 base costs +89% energy per training token
    (43.0 vs 22.8 J per 1k) without gradient checkpointing and +83% (65.9 vs 36.0) with
    it. Peak memory at that batch: 13.8 GiB for NF4 vs 11.8 GiB for bf16 without
    checkpointing (activations dominate, and the dequantized copies add to them), 5.4 vs
    6.6 GiB with it. On the Mistral-7B shape (`h200-eco107-qlora-mistral-7b.json`, a
    size flagged only with `target-gpu` set) the NF4 base costs +52% (86.0 vs 56.5 J per
    1k) and +48% (126.3 vs 85.5) with checkpointing, and saves 1.9 GiB (25.1 vs 27.0)
    without checkpointing, 8.1 GiB (6.8 vs 14.9) with it.

    Memory model for `target-gpu`: 2 bytes per parameter for the bf16 weights, times
    1.1 for the LoRA adapters, their gradients and Adam moments; activations depend on
    the batch and are left out, hence the margin of half the card.

    ## Known problems
    Memory may still be the constraint for reasons the code does not show (long
    sequences, large batches without gradient checkpointing, several models on one
    card): silence the finding with `# noqa: ECO107` there, or set `target-gpu`.

    ## Example
    ```python
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    config = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4")
    model = AutoModelForCausalLM.from_pretrained("Qwen/Qwen2-1.5B", quantization_config=config)
    model = prepare_model_for_kbit_training(model)
    model = get_peft_model(model, LoraConfig(r=16, target_modules=["q_proj", "v_proj"]))
    ```

    ## Use instead
    ```python
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained("Qwen/Qwen2-1.5B", dtype=torch.bfloat16)
    model = get_peft_model(model, LoraConfig(r=16, target_modules=["q_proj", "v_proj"]))
    ```

    ## Fix safety
    Unsafe: the base then needs about four times the memory for its weights. The fix
    drops the 4-bit configuration from the load (and its config statement where nothing
    else uses it), adds `dtype=torch.bfloat16` unless the load passes a dtype, and
    removes a `prepare_model_for_kbit_training(...)` statement applied to that model.

    ## Options
    - `target-gpu`: judge "fits" against this card.
    - `[tool.ecolint.models]`: sizes, in billions of parameters, of private models.

    ## References
    - `benchmarks/results/h200-eco107-qlora.txt`, `h200-eco107-qlora-mistral-7b.txt` (the H200
      measurements; `benchmarks/qlora_probe.py`)
    - Dettmers et al., QLoRA: Efficient Finetuning of Quantized LLMs (2023)
    """

    code = "ECO107"
    name = "kbit-training-on-small-model"
    summary = "QLoRA: a 4-bit base prepared for training when the model fits in 16 bits"
    fix_availability = FixAvailability.SOMETIMES
    triggers = ("load_in_4bit",)
    gate = "keyword_or_key"
    context_words = small_loads.CONTEXT_WORDS

    def visit_Call(self, node: cst.Call) -> None:
        if not trains_kbit(self.flow):
            return
        for load in small_kbit_loads(self.flow, node, self.context, training=True):
            request = load.request
            message = (
                f"QLoRA on `{load.model_id}`, {load.size.billions:g}B parameters (from {load.size.source}): {load.reason}; "
                f"the NF4 base costs {COST}"
            )
            hint = {**request_hint(self.flow, self.model_ids, request), "model": load.model_id, "fixed_dtype": "bfloat16", "training": True}
            self.report(load.where, message, load_in_16_bits(self.flow, node, request, self._preparations(load)), hint)

    def _preparations(self, load: SmallLoad) -> tuple[tuple[cst.CSTNode, cst.RemovalSentinel], ...]:
        """`prepare_model_for_kbit_training(model)` statements applied to this load's model, to remove."""
        found = []
        for call in self.flow.calls():
            if not imported_names(self.flow, call.func) & apis.KBIT_PREPARATION or not call.args:
                continue
            if not any(producer is load.loader for producer in self.flow.producers(call.args[0].value)):
                continue
            line = removable_statement(self.flow, call)
            if line is not None:
                found.append(removal(line))
        return tuple(found)
