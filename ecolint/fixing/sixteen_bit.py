"""The fix that loads a model in 16 bits instead of 4: drop the 4-bit configuration, add a dtype."""

from __future__ import annotations

import libcst as cst

from ecolint.analysis.flow import Flow
from ecolint.analysis.names import code, module_reference
from ecolint.analysis.quantization import CONFIG_KEYWORD_PREFIXES, QUANTIZATION_FLAGS, QuantizationRequest, dtype_name, loader_dtype
from ecolint.diagnostics import Applicability
from ecolint.fixing.edits import insert_after, keyword_like, replace_and_remove
from ecolint.fixing.fixes import Fix, ImportRequest
from ecolint.fixing.statements import removable_statement, removal


def sixteen_bit_dtype(flow: Flow, request: QuantizationRequest) -> str:
    """The 16-bit dtype to load in instead: float16 where the 4-bit config computed in it."""
    compute = request.keywords.get("bnb_4bit_compute_dtype")
    return "float16" if compute is not None and dtype_name(flow, compute.value) == "float16" else "bfloat16"


def load_in_16_bits(flow: Flow, loader: cst.Call, request: QuantizationRequest, extra: tuple = ()) -> Fix | None:
    """Drop the 4-bit configuration from `loader` and, unless it passes one, add a 16-bit dtype.

    `extra` replacements (e.g. removing `prepare_model_for_kbit_training`) join the same fix.
    The configuration objects that reached the load are the fix's `drops`: no other fix edits them.
    """
    if request.config_keyword is not None:
        removed = [request.config_keyword]
    else:
        removed = [
            kw for kw in request.keywords.items.values() if kw.name in QUANTIZATION_FLAGS or kw.name.startswith(CONFIG_KEYWORD_PREFIXES)
        ]
    owner = removed[0].container
    if any(kw.container is not owner or not kw.editable for kw in removed):
        return None
    dtype_argument = _dtype_argument(flow, loader, request)
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
    config = request.config_keyword
    drops = tuple(v for v in flow.values(config.value) if isinstance(v, cst.Call)) if config is not None else ()
    unused = _statement_left_unused(flow, config.value) if config is not None else None
    extra = (*extra, removal(unused)) if unused is not None else extra
    return Fix(title, Applicability.UNSAFE, ((loader, new_loader), *extra), imports, drops)


def _statement_left_unused(flow: Flow, value: cst.BaseExpression) -> cst.SimpleStatementLine | None:
    """`config = BitsAndBytesConfig(...)`, when `value` is its name's one use: dead once the load drops it."""
    if not isinstance(value, cst.Name):
        return None
    bindings = flow.referents(value)
    if len(bindings) != 1 or len(getattr(bindings[0], "references", ())) != 1:
        return None
    target = flow.parent(bindings[0].node)
    assign = flow.parent(target) if isinstance(target, cst.AssignTarget) else None
    if not isinstance(assign, cst.Assign) or not isinstance(assign.value, cst.Call):
        return None
    return removable_statement(flow, assign.value)


def _dtype_argument(flow: Flow, loader: cst.Call, request: QuantizationRequest):
    """The `dtype=torch.bfloat16` argument to add (None: the load has a dtype; False: cannot)."""
    if loader_dtype(flow, loader) is not None:
        return None
    torch = module_reference(flow, loader, "torch")
    if torch is None:
        return False
    name, imports = torch
    spelling = "torch_dtype" if "torch_dtype" in flow.module.code else "dtype"
    anchor = next((a for a in loader.args if a.keyword is not None), None)
    template = anchor if anchor is not None else cst.Arg(keyword=cst.Name("x"), value=cst.Name("x"))
    argument = keyword_like(template, spelling, cst.Attribute(name, cst.Name(sixteen_bit_dtype(flow, request))))
    return argument, tuple(ImportRequest(module, obj) for module, obj in imports)
