from __future__ import annotations

from pathlib import Path

import libcst as cst

from ecolint.diagnostics import Applicability
from ecolint.fixing.edits import insert_after, keyword_like, replace_and_remove
from ecolint.fixing.fixes import Fix, ImportRequest
from ecolint.analysis.hardware import gpu_memory_gib
from ecolint.analysis.measurable import request_hint
from ecolint.analysis.model_ids import model_argument
from ecolint.analysis.models import ModelSize, is_prequantized, model_size
from ecolint.analysis import apis
from ecolint.analysis import model_ids
from ecolint.analysis.names import code, find_all, imported_names, literal_value, module_reference
from ecolint.analysis.quantization import (
    CONFIG_KEYWORD_PREFIXES,
    QUANTIZATION_FLAGS,
    QuantizationRequest,
    dtype_name,
    is_loader,
    loader_dtype,
    loader_quantization,
)
from ecolint.rule import FixAvailability, Rule

COST = "+15–21% energy per token over FP16 at batch 1 on H200 (+43–57% at batch 8; +11–29% on RTX 5090/4090D)"
SMALL_WITHOUT_GPU_B = 5.0


class KbitOnSmallModel(Rule):
    """
    ## What it does
    Flags a 4-bit bitsandbytes load (NF4 or the default FP4) of a model whose size
    is known and small enough that memory is not the constraint.

    The model id is followed from the `from_pretrained` / `pipeline` call: a literal,
    a module constant, a function parameter's default, an argparse `default=` read
    back as `args.<dest>`, or a dataclass field's default. Its size comes from
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
    `get_peft_model`, a transformers or TRL `Trainer`) are not flagged: the measurements
    are of inference, and QLoRA chooses 4-bit for training memory.

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
    # Model ids, QLoRA training calls anywhere in the module, and the dtype keyword's spelling.
    context_words = (*model_ids.CONTEXT_WORDS, *sorted(name.rsplit(".", 1)[-1] for name in apis.KBIT_TRAINING), "torch_dtype")

    def visit_Module(self, node: cst.Module) -> None:
        self._trains: bool | None = None

    def _trains_kbit(self) -> bool:
        """Whether this module sets a model up for k-bit / LoRA training (computed once)."""
        if self._trains is None:
            self._trains = any(imported_names(self, call.func) & apis.KBIT_TRAINING for call in find_all(self.module, cst.Call))
        return self._trains

    def visit_Call(self, node: cst.Call) -> None:
        if not is_loader(self.flow, node) or self._trains_kbit():
            return
        for request in loader_quantization(self.flow, node):
            if request.origin == "loader" and request.has_config:
                continue
            flag = request.keywords.get("load_in_4bit")
            if flag is None or literal_value(self, flag.value) is not True:
                continue
            argument = model_argument(self, node)
            model_id = self.model_ids.resolve(argument) if argument is not None else None
            if not model_id:
                continue
            size = model_size(model_id, self.context.models, self._search_dirs())
            reason = self._why_small(size) if size is not None else None
            if size is None or reason is None:
                continue
            where = request.config_keyword.node if request.config_keyword is not None else flag.node
            message = f"4-bit load of `{model_id}`, {size.billions:g}B parameters (from {size.source}): {reason}, and NF4 costs {COST}"
            hint = {**request_hint(self.flow, self.model_ids, request), "model": model_id, "fixed_dtype": self._precision(request)}
            if is_prequantized(model_id):
                self.report(where, message + "; load the original checkpoint in BF16 instead of this pre-quantized one", data=hint)
            else:
                self.report(where, message, self._fix(node, request), hint)

    def _search_dirs(self) -> list[Path]:
        dirs = [Path.cwd()]
        if self.context.path is not None:
            dirs.insert(0, self.context.path.parent)
        return dirs

    def _why_small(self, size: ModelSize) -> str | None:
        gpu = self.context.target_gpu
        if gpu:
            memory = gpu_memory_gib(gpu) or 0
            weights = size.billions * 2e9 / 2**30
            return f"its FP16 weights ({weights:.1f} GiB) fill under half the {gpu}'s {memory:g} GiB" if weights < memory / 2 else None
        return f"at ≤ {SMALL_WITHOUT_GPU_B:g}B memory is rarely the constraint" if size.billions <= SMALL_WITHOUT_GPU_B else None

    def _fix(self, loader: cst.Call, request: QuantizationRequest) -> Fix | None:
        """Drop the 4-bit configuration from the load and load in 16 bits instead."""
        if request.config_keyword is not None:
            removed = [request.config_keyword]
        else:
            removed = [
                kw for kw in request.keywords.items.values() if kw.name in QUANTIZATION_FLAGS or kw.name.startswith(CONFIG_KEYWORD_PREFIXES)
            ]
        owner = removed[0].container
        if any(kw.container is not owner or not kw.editable for kw in removed):
            return None
        dtype_argument = self._dtype_argument(loader, request)
        if dtype_argument is False:
            return None
        new_arg, imports = dtype_argument if dtype_argument else (None, ())
        if owner is loader:
            anchor, rest = removed[0].node, [kw.node for kw in removed[1:]]
            new_loader, _ = replace_and_remove(loader, anchor, new_arg, rest)
        else:
            model_kwargs = next((a for a in loader.args if a.value is owner), None)
            if model_kwargs is None:
                return None
            new_dict, _ = replace_and_remove(owner, removed[0].node, None, [kw.node for kw in removed[1:]])
            new_loader = loader.with_changes(args=[a.with_changes(value=new_dict) if a is model_kwargs else a for a in loader.args])
            if new_arg is not None:
                new_loader = insert_after(new_loader, new_loader.args[-1], new_arg)
        title = "Load in 16 bits instead of 4-bit" + (f" (`{code(new_arg.value)}`)" if new_arg else "")
        return Fix(title, Applicability.UNSAFE, ((loader, new_loader),), imports)

    def _precision(self, request: QuantizationRequest) -> str:
        """The 16-bit dtype to load in instead: float16 where the 4-bit config computed in it."""
        compute = request.keywords.get("bnb_4bit_compute_dtype")
        return "float16" if compute is not None and dtype_name(self.flow, compute.value) == "float16" else "bfloat16"

    def _dtype_argument(self, loader: cst.Call, request: QuantizationRequest):
        """The `dtype=torch.bfloat16` argument to add (None: the load has a dtype; False: cannot)."""
        if loader_dtype(self.flow, loader) is not None:
            return None
        torch = module_reference(self, loader, "torch")
        if torch is None:
            return False
        name, imports = torch
        precision = self._precision(request)
        spelling = "torch_dtype" if "torch_dtype" in self.module.code else "dtype"
        anchor = next((a for a in loader.args if a.keyword is not None), None)
        template = anchor if anchor is not None else cst.Arg(keyword=cst.Name("x"), value=cst.Name("x"))
        argument = keyword_like(template, spelling, cst.Attribute(name, cst.Name(precision)))
        return argument, tuple(ImportRequest(module, obj) for module, obj in imports)
