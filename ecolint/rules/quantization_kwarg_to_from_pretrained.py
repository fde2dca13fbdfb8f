from __future__ import annotations

import libcst as cst

from ecolint.analysis import apis
from ecolint.diagnostics import Applicability
from ecolint.fixing.edits import has_comment, keyword_like, replace_and_remove
from ecolint.fixing.fixes import Fix, ImportRequest
from ecolint.analysis.names import UNKNOWN, literal_value, reference_to
from ecolint.analysis.quantization import CONFIG_KEYWORD_PREFIXES, QUANTIZATION_FLAGS, Keyword, QuantizationRequest, quantization_requests
from ecolint.rule import FixAvailability, Rule


class QuantizationKwargToFromPretrained(Rule):
    """
    ## What it does
    Flags `load_in_8bit=` / `load_in_4bit=` passed straight to a transformers
    `from_pretrained`, directly, through an unpacked dict, or through
    `pipeline(model_kwargs=...)`.

    ## Why is this bad?
    transformers 5.0 removed these keywords from `from_pretrained`: on 5.x the
    load fails with `TypeError: ...__init__() got an unexpected keyword argument
    'load_in_8bit'` (verified on transformers 5.17). Code written this way for 4.x
    crashes after an upgrade. `quantization_config=BitsAndBytesConfig(...)` works
    on both.

    Look-alike APIs that still take these keywords, such as ipex-llm's or
    Unsloth's `from_pretrained`, are not flagged.

    ## Example
    ```python
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained("facebook/opt-350m", load_in_4bit=True, bnb_4bit_quant_type="nf4")
    ```

    ## Use instead
    ```python
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    model = AutoModelForCausalLM.from_pretrained(
        "facebook/opt-350m",
        quantization_config=BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4"),
    )
    ```

    ## Fix safety
    Safe: the flags and their `bnb_4bit_*` / `llm_int8_*` siblings move into
    `quantization_config=BitsAndBytesConfig(...)`, which is what transformers 4.x
    built from them, and the import is added (an existing alias such as
    `tf.BitsAndBytesConfig` is reused). A flag known only at run time becomes
    `BitsAndBytesConfig(...) if flag else None`, so the model still loads
    unquantized when it is false. The fix is not offered when the call also
    passes `quantization_config=` or `**kwargs`, or when the keywords come from
    a dict defined elsewhere; it is marked unsafe if it would drop a comment.
    """

    code = "ECO105"
    name = "quantization-kwarg-to-from-pretrained"
    summary = "`load_in_8bit` / `load_in_4bit` passed to `from_pretrained`, a `TypeError` since transformers 5.0"
    fix_availability = FixAvailability.SOMETIMES
    triggers = QUANTIZATION_FLAGS
    gate = "keyword_or_key"
    context_words = ()

    def visit_Call(self, node: cst.Call) -> None:
        for request in quantization_requests(self.flow, node):
            if request.origin != "loader":
                continue
            flags = [kw for kw in request.keywords.items.values() if kw.name in QUANTIZATION_FLAGS]
            fix = self._fix(request, flags)
            where = "passed to `from_pretrained`"
            if request.via_model_kwargs:
                where = "in `pipeline(model_kwargs=...)` reaches `from_pretrained`"
            for flag in flags:
                message = (
                    f"`{flag.name}` {where}: removed in transformers 5.0, a `TypeError` there; "
                    "use `quantization_config=BitsAndBytesConfig(...)`"
                )
                self.report(flag.node, message, fix)

    def _owner(self, request: QuantizationRequest) -> cst.Call | cst.Dict | None:
        """The call or inline dict literal that holds the keywords, if the fix may edit it."""
        if request.has_config:
            return None
        if not request.via_model_kwargs:
            if any(arg.star == "**" for arg in request.call.args):
                return None
            return request.call
        model_kwargs = next((a for a in request.call.args if a.keyword is not None and a.keyword.value == "model_kwargs"), None)
        owner = model_kwargs.value if model_kwargs is not None else None
        if isinstance(owner, cst.Dict) and not any(isinstance(e, cst.StarredDictElement) for e in owner.elements):
            return owner
        return None

    def _fix(self, request: QuantizationRequest, flags: list[Keyword]) -> Fix | None:
        owner = self._owner(request)
        if owner is None or not request.keywords.complete or any(flag.container is not owner for flag in flags):
            return None
        moved = [
            kw
            for kw in request.keywords.items.values()
            if kw.container is owner and (kw.name in QUANTIZATION_FLAGS or kw.name.startswith(CONFIG_KEYWORD_PREFIXES))
        ]
        values = {flag.name: literal_value(self, flag.value) for flag in flags}
        if all(value is not UNKNOWN and not value for value in values.values()):
            # Every flag is off: transformers 4.x built no config, so drop them all.
            edited, comment_lost = replace_and_remove(owner, flags[0].node, None, [kw.node for kw in moved if kw is not flags[0]])
            return Fix("Remove the quantization keywords", _safety(comment_lost), ((owner, edited),))
        reference = reference_to(self, request.call, *apis.CONFIG_IMPORT)
        if reference is None:
            return None
        config_class, imports = reference
        config_keywords = [kw for kw in moved if not (kw.name in values and values[kw.name] is not UNKNOWN and not values[kw.name])]
        config_args = [
            cst.Arg(keyword=cst.Name(kw.name), value=kw.value, equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace("")))
            for kw in config_keywords
        ]
        config: cst.BaseExpression = cst.Call(func=config_class, args=_comma_separated(config_args))
        runtime_flags = [flag.value for flag in flags if values[flag.name] is UNKNOWN]
        if runtime_flags:
            test = runtime_flags[0]
            for other in runtime_flags[1:]:
                test = cst.BooleanOperation(test, cst.Or(), other)
            config = cst.IfExp(test=test, body=config, orelse=cst.Name("None"))
        new = keyword_like(flags[0].node, "quantization_config", config)
        edited, comment_lost = replace_and_remove(owner, flags[0].node, new, [kw.node for kw in moved if kw is not flags[0]])
        comment_lost = comment_lost or any(has_comment(kw.value) for kw in config_keywords)
        return Fix(
            "Move into `quantization_config=BitsAndBytesConfig(...)`",
            _safety(comment_lost),
            ((owner, edited),),
            tuple(ImportRequest(module, obj) for module, obj in imports),
        )


def _comma_separated(args: list[cst.Arg]) -> tuple[cst.Arg, ...]:
    return tuple(arg.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))) for arg in args[:-1]) + tuple(args[-1:])


def _safety(comment_lost: bool) -> Applicability:
    return Applicability.UNSAFE if comment_lost else Applicability.SAFE
