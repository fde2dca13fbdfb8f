"""The bitsandbytes keywords that reach a model load, in every form people write them.

A `QuantizationRequest` is one set of keywords that configures a load: the
arguments of `BitsAndBytesConfig(...)`, a `quantization_config` dict, or
`load_in_8bit=`-style keywords given to `from_pretrained` / `pipeline(model_kwargs=)`
themselves. Dicts unpacked with `**` and values bound to names are followed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Union

import libcst as cst

from ecolint.analysis import apis
from ecolint.analysis.names import UNKNOWN, assigned_then_mutated, imported_names, is_builtin, literal, resolve

QUANTIZATION_FLAGS = ("load_in_8bit", "load_in_4bit")
CONFIG_KEYWORD_PREFIXES = ("bnb_4bit_", "llm_int8_")

KeywordNode = Union[cst.Arg, cst.DictElement]


@dataclass(frozen=True)
class Keyword:
    """`name=value` in a call or `"name": value` in a dict literal."""

    name: str
    node: KeywordNode
    value: cst.BaseExpression
    container: cst.Call | cst.Dict


@dataclass
class Keywords:
    """The keywords a call receives. `complete` is False when some could not be known."""

    items: dict[str, Keyword] = field(default_factory=dict)
    complete: bool = True

    def get(self, name: str) -> Keyword | None:
        return self.items.get(name)

    def merge(self, other: Keywords | None) -> None:
        if other is None:
            self.complete = False
            return
        self.items.update(other.items)
        self.complete = self.complete and other.complete


def call_keywords(meta: Any, call: cst.Call, positional_known: bool = True) -> Keywords:
    """Keywords of a call, with `**mapping` followed into dict literals and `dict(...)`."""
    found = Keywords()
    for arg in call.args:
        if arg.keyword is not None:
            found.items[arg.keyword.value] = Keyword(arg.keyword.value, arg, arg.value, call)
        elif arg.star == "**":
            found.merge(dict_keywords(meta, arg.value))
        elif arg.star == "*" or not positional_known:
            found.complete = False
    return found


def dict_keywords(meta: Any, expr: cst.BaseExpression) -> Keywords | None:
    """The string-keyed entries of a dict the expression resolves to; None if unknown."""
    value = resolve(meta, expr)
    if isinstance(value, cst.Dict):
        found = Keywords()
        for element in value.elements:
            if isinstance(element, cst.StarredDictElement):
                found.merge(dict_keywords(meta, element.value))
                continue
            key = literal(element.key)
            if isinstance(key, str):
                found.items[key] = Keyword(key, element, element.value, value)
            else:
                found.complete = False
        return found
    if isinstance(value, cst.Call) and is_builtin(meta, value.func, "dict"):
        found = Keywords()
        for arg in value.args:
            if arg.keyword is not None:
                found.items[arg.keyword.value] = Keyword(arg.keyword.value, arg, arg.value, value)
            else:
                found.merge(dict_keywords(meta, arg.value))
        return found
    return None


Origin = Literal["config", "loader"]


@dataclass(frozen=True)
class QuantizationRequest:
    """One set of bitsandbytes keywords configuring a load.

    origin "config": `BitsAndBytesConfig(...)` or a `quantization_config` dict.
    origin "loader": keywords given to `from_pretrained` or through
    `pipeline(model_kwargs=...)` directly; `has_config` says whether the same
    call also passes `quantization_config`.
    """

    keywords: Keywords
    origin: Origin
    call: cst.Call
    via_model_kwargs: bool = False
    has_config: bool = False
    config_keyword: Keyword | None = None  # the `quantization_config` keyword it arrived through


def enabled_flag(meta: Any, keywords: Keywords, name: str) -> Keyword | None:
    """The `name` keyword (`load_in_8bit`, `load_in_4bit`) when it is on, or may be at run time."""
    flag = keywords.get(name)
    if flag is None:
        return None
    value = literal(resolve(meta, flag.value))
    return flag if value is UNKNOWN or value else None


def dict_alternatives(meta: Any, expr: cst.BaseExpression) -> list[Keywords]:
    """The dicts an expression may be: both branches of `a if cond else b` count."""
    value = resolve(meta, expr)
    if isinstance(value, cst.IfExp):
        condition = literal(resolve(meta, value.test))
        if condition is not UNKNOWN:
            return dict_alternatives(meta, value.body if condition else value.orelse)
        return dict_alternatives(meta, value.body) + dict_alternatives(meta, value.orelse)
    found = dict_keywords(meta, value)
    return [found] if found is not None else []


def _loader_requests(meta: Any, keywords: Keywords, call: cst.Call, via_model_kwargs: bool) -> list[QuantizationRequest]:
    requests = []
    config = keywords.get("quantization_config")
    if config is not None:
        for config_dict in dict_alternatives(meta, config.value):
            requests.append(QuantizationRequest(config_dict, "config", call, via_model_kwargs, config_keyword=config))
    if any(flag in keywords.items for flag in QUANTIZATION_FLAGS):
        requests.append(QuantizationRequest(keywords, "loader", call, via_model_kwargs, config is not None))
    return requests


def loader_kind(meta: Any, call: cst.Call) -> Literal["from_pretrained", "pipeline"] | None:
    """Whether `call` loads a model: a transformers/peft model's `from_pretrained`, or `pipeline`."""
    names = imported_names(meta, call.func)
    if any(apis.is_model_from_pretrained(name) for name in names):
        return "from_pretrained"
    if names & apis.PIPELINE:
        return "pipeline"
    return None


def quantization_requests(meta: Any, call: cst.Call) -> list[QuantizationRequest]:
    """The quantization keyword sets that `call` configures, if it is a known loader."""
    names = imported_names(meta, call.func)
    if not names:
        return []
    if names & apis.BITS_AND_BYTES_CONFIG:
        positional = not any(arg.keyword is None and not arg.star for arg in call.args)
        keywords = call_keywords(meta, call, positional_known=positional)
        if assigned_then_mutated(meta, call):
            keywords.complete = False  # `cfg.llm_int8_threshold = ...` may follow
        return [QuantizationRequest(keywords, "config", call)]
    kind = loader_kind(meta, call)
    if kind == "from_pretrained":
        return _loader_requests(meta, call_keywords(meta, call), call, via_model_kwargs=False)
    if kind == "pipeline":
        model_kwargs = call_keywords(meta, call).get("model_kwargs")
        if model_kwargs is not None:
            return [
                request
                for inner in dict_alternatives(meta, model_kwargs.value)
                for request in _loader_requests(meta, inner, call, via_model_kwargs=True)
            ]
    return []


def _loader_call_keywords(meta: Any, call: cst.Call) -> tuple[Keywords, bool] | None:
    """The keywords a loader's model receives, and whether they come through `model_kwargs`."""
    kind = loader_kind(meta, call)
    if kind == "from_pretrained":
        return call_keywords(meta, call), False
    if kind == "pipeline":
        model_kwargs = call_keywords(meta, call).get("model_kwargs")
        alternatives = dict_alternatives(meta, model_kwargs.value) if model_kwargs is not None else []
        return (alternatives[0], True) if len(alternatives) == 1 else None
    return None


def is_loader(meta: Any, call: cst.Call) -> bool:
    return loader_kind(meta, call) is not None


def loader_quantization(meta: Any, call: cst.Call) -> list[QuantizationRequest]:
    """Every quantization keyword set that reaches the model `call` loads.

    Unlike `quantization_requests`, a `BitsAndBytesConfig(...)` passed as
    `quantization_config` (inline or through a name) is included, with
    `config_keyword` set to that keyword.
    """
    found = _loader_call_keywords(meta, call)
    if found is None:
        return []
    keywords, via_model_kwargs = found
    requests = _loader_requests(meta, keywords, call, via_model_kwargs)
    config = keywords.get("quantization_config")
    if config is not None:
        value = resolve(meta, config.value)
        if isinstance(value, cst.Call) and imported_names(meta, value.func) & apis.BITS_AND_BYTES_CONFIG:
            for request in quantization_requests(meta, value):
                requests.append(QuantizationRequest(request.keywords, "config", call, via_model_kwargs, config_keyword=config))
    return requests


def loader_keywords(meta: Any, call: cst.Call) -> Keywords | None:
    """The keywords of the loader call itself (for `dtype=` and the like)."""
    return call_keywords(meta, call) if is_loader(meta, call) else None


def request_loader(meta: Any, request: QuantizationRequest) -> cst.Call | None:
    """The load call a request configures: the call itself for keywords and config dicts given
    to it, the loader receiving it for a `BitsAndBytesConfig(...)`."""
    if request.origin == "loader" or request.config_keyword is not None:
        return request.call
    return loader_of_config(meta, request.call)


def loader_of_config(meta: Any, config: cst.Call) -> cst.Call | None:
    """The one loader call that receives this config as `quantization_config`, if any."""
    from libcst.metadata import ParentNodeProvider, ScopeProvider

    def receiving_call(node: cst.CSTNode) -> cst.Call | None:
        arg = meta.get_metadata(ParentNodeProvider, node, None)
        if isinstance(arg, cst.Arg) and arg.keyword is not None and arg.keyword.value == "quantization_config":
            call = meta.get_metadata(ParentNodeProvider, arg, None)
            if isinstance(call, cst.Call) and is_loader(meta, call):
                return call
        return None

    direct = receiving_call(config)
    if direct is not None:
        return direct
    statement = meta.get_metadata(ParentNodeProvider, config, None)
    if not isinstance(statement, cst.Assign) or len(statement.targets) != 1 or not isinstance(statement.targets[0].target, cst.Name):
        return None
    target = statement.targets[0].target
    scope = meta.get_metadata(ScopeProvider, target, None)
    if scope is None:
        return None
    loaders = {
        id(call): call
        for assignment in scope.assignments[target.value]
        if getattr(assignment, "node", None) is target
        for access in assignment.references
        if (call := receiving_call(access.node)) is not None
    }
    return next(iter(loaders.values())) if len(loaders) == 1 else None


_DTYPES = {"float16": "float16", "half": "float16", "bfloat16": "bfloat16", "float32": "float32", "float": "float32"}


def dtype_name(meta: Any, expr: cst.BaseExpression) -> str | None:
    """ "float16", "bfloat16" or "float32" for `torch.float16`, `"bfloat16"` and the like."""
    value = resolve(meta, expr)
    text = literal(value)
    if isinstance(text, str):
        return _DTYPES.get(text)
    for name in imported_names(meta, value):
        module, _, attr = name.rpartition(".")
        if module == "torch" and attr in _DTYPES:
            return _DTYPES[attr]
    return None


def loader_dtype(meta: Any, loader: cst.Call | None) -> Keyword | None:
    """The `dtype=` / `torch_dtype=` keyword of a loader call, if it has one."""
    keywords = loader_keywords(meta, loader) if loader is not None else None
    if keywords is None:
        return None
    return keywords.get("dtype") or keywords.get("torch_dtype")
