"""The bitsandbytes keywords that reach a model load, in every form people write them.

A `QuantizationRequest` is one set of keywords that configures a load: the
arguments of `BitsAndBytesConfig(...)`, a `quantization_config` dict, or
`load_in_8bit=`-style keywords given to `from_pretrained` / `pipeline(model_kwargs=)`
themselves. Dicts unpacked with `**` and values bound to names are followed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import libcst as cst

from ecolint.analysis import apis
from ecolint.analysis.flow import Flow, Keyword, Keywords
from ecolint.analysis.names import assigned_then_mutated, imported_names, literal

QUANTIZATION_FLAGS = ("load_in_8bit", "load_in_4bit")
CONFIG_KEYWORD_PREFIXES = ("bnb_4bit_", "llm_int8_")


def call_keywords(flow: Flow, call: cst.Call, positional_known: bool = True) -> Keywords:
    """Keywords of a call, with `**mapping` followed through the flow's dicts."""
    found = Keywords()
    for arg in call.args:
        if arg.keyword is not None:
            found.items[arg.keyword.value] = Keyword(arg.keyword.value, arg, arg.value, call)
        elif arg.star == "**":
            found.merge(flow.dict_keywords(arg.value))
        elif arg.star == "*" or not positional_known:
            found.complete = False
    return found


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


def enabled_flag(flow: Flow, keywords: Keywords, name: str) -> Keyword | None:
    """The `name` keyword (`load_in_8bit`, `load_in_4bit`) when it is on, or may be at run time."""
    flag = keywords.get(name)
    if flag is None:
        return None
    return flag if flow.constant(flag.value).may_be_truthy() else None


def _loader_requests(flow: Flow, keywords: Keywords, call: cst.Call, via_model_kwargs: bool) -> list[QuantizationRequest]:
    requests = []
    config = keywords.get("quantization_config")
    if config is not None:
        for config_dict in flow.dict_alternatives(config.value):
            requests.append(QuantizationRequest(config_dict, "config", call, via_model_kwargs, config_keyword=config))
    if any(flag in keywords.items for flag in QUANTIZATION_FLAGS):
        requests.append(QuantizationRequest(keywords, "loader", call, via_model_kwargs, config is not None))
    return requests


def loader_kind(flow: Flow, call: cst.Call) -> Literal["from_pretrained", "pipeline"] | None:
    """Whether `call` loads a model: a transformers/peft model's `from_pretrained`, or `pipeline`."""
    names = imported_names(flow, call.func)
    if any(apis.is_model_from_pretrained(name) for name in names):
        return "from_pretrained"
    if names & apis.PIPELINE:
        return "pipeline"
    return None


def quantization_requests(flow: Flow, call: cst.Call) -> list[QuantizationRequest]:
    """The quantization keyword sets that `call` configures, if it is a known loader."""
    names = imported_names(flow, call.func)
    if not names:
        return []
    if names & apis.BITS_AND_BYTES_CONFIG:
        positional = not any(arg.keyword is None and not arg.star for arg in call.args)
        keywords = call_keywords(flow, call, positional_known=positional)
        if assigned_then_mutated(flow, call):
            keywords.complete = False  # `cfg.llm_int8_threshold = ...` may follow
        return [QuantizationRequest(keywords, "config", call)]
    kind = loader_kind(flow, call)
    if kind == "from_pretrained":
        return _loader_requests(flow, call_keywords(flow, call), call, via_model_kwargs=False)
    if kind == "pipeline":
        model_kwargs = call_keywords(flow, call).get("model_kwargs")
        if model_kwargs is not None:
            return [
                request
                for inner in flow.dict_alternatives(model_kwargs.value)
                for request in _loader_requests(flow, inner, call, via_model_kwargs=True)
            ]
    return []


def _loader_call_keywords(flow: Flow, call: cst.Call) -> tuple[Keywords, bool] | None:
    """The keywords a loader's model receives, and whether they come through `model_kwargs`."""
    kind = loader_kind(flow, call)
    if kind == "from_pretrained":
        return call_keywords(flow, call), False
    if kind == "pipeline":
        model_kwargs = call_keywords(flow, call).get("model_kwargs")
        alternatives = flow.dict_alternatives(model_kwargs.value) if model_kwargs is not None else []
        return (alternatives[0], True) if len(alternatives) == 1 else None
    return None


def is_loader(flow: Flow, call: cst.Call) -> bool:
    return loader_kind(flow, call) is not None


def loader_quantization(flow: Flow, call: cst.Call) -> list[QuantizationRequest]:
    """Every quantization keyword set that reaches the model `call` loads.

    Unlike `quantization_requests`, a `BitsAndBytesConfig(...)` passed as
    `quantization_config` (inline or through a name) is included, with
    `config_keyword` set to that keyword.
    """
    found = _loader_call_keywords(flow, call)
    if found is None:
        return []
    keywords, via_model_kwargs = found
    requests = _loader_requests(flow, keywords, call, via_model_kwargs)
    config = keywords.get("quantization_config")
    if config is not None:
        for value in flow.values(config.value):
            if isinstance(value, cst.Call) and imported_names(flow, value.func) & apis.BITS_AND_BYTES_CONFIG:
                for request in quantization_requests(flow, value):
                    requests.append(QuantizationRequest(request.keywords, "config", call, via_model_kwargs, config_keyword=config))
    return requests


def loader_keywords(flow: Flow, call: cst.Call) -> Keywords | None:
    """The keywords of the loader call itself (for `dtype=` and the like)."""
    return call_keywords(flow, call) if is_loader(flow, call) else None


def request_loader(flow: Flow, request: QuantizationRequest) -> cst.Call | None:
    """The load call a request configures: the call itself for keywords and config dicts given
    to it, the loader receiving it for a `BitsAndBytesConfig(...)`."""
    if request.origin == "loader" or request.config_keyword is not None:
        return request.call
    return loader_of_config(flow, request.call)


def loader_of_config(flow: Flow, config: cst.Call) -> cst.Call | None:
    """The one loader call that receives this config as `quantization_config`, if any."""
    loaders = _config_loaders(flow).get(config, [])
    return loaders[0] if len(loaders) == 1 else None


def _config_loaders(flow: Flow) -> dict[cst.Call, list[cst.Call]]:
    """Every `BitsAndBytesConfig(...)` call that reaches a load's `quantization_config`, and those loads."""

    def compute() -> dict[cst.Call, list[cst.Call]]:
        found: dict[cst.Call, list[cst.Call]] = {}
        for call in flow.calls():
            if not isinstance(call.func, (cst.Name, cst.Attribute)) or loader_kind(flow, call) is None:
                continue
            config = call_keywords(flow, call).get("quantization_config")
            if config is None:
                continue
            for value in flow.values(config.value):
                if isinstance(value, cst.Call) and call not in found.setdefault(value, []):
                    found[value].append(call)
        return found

    return flow.memo("config_loaders", compute)


_DTYPES = {"float16": "float16", "half": "float16", "bfloat16": "bfloat16", "float32": "float32", "float": "float32"}


def dtype_name(flow: Flow, expr: cst.BaseExpression) -> str | None:
    """ "float16", "bfloat16" or "float32" for `torch.float16`, `"bfloat16"` and the like."""
    found = set()
    for value in flow.values(expr):
        text = literal(value)
        if isinstance(text, str):
            found.add(_DTYPES.get(text))
            continue
        names = {name.rpartition(".") for name in imported_names(flow, value)}
        found.add(next((_DTYPES[attr] for module, _, attr in names if module == "torch" and attr in _DTYPES), None))
    return found.pop() if len(found) == 1 else None


def loader_dtype(flow: Flow, loader: cst.Call | None) -> Keyword | None:
    """The `dtype=` / `torch_dtype=` keyword of a loader call, if it has one."""
    keywords = loader_keywords(flow, loader) if loader is not None else None
    if keywords is None:
        return None
    return keywords.get("dtype") or keywords.get("torch_dtype")
