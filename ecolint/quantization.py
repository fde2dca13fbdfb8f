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

from ecolint import apis
from ecolint.names import UNKNOWN, assigned_then_mutated, imported_names, is_builtin, literal, resolve

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
            requests.append(QuantizationRequest(config_dict, "config", call, via_model_kwargs))
    if any(flag in keywords.items for flag in QUANTIZATION_FLAGS):
        requests.append(QuantizationRequest(keywords, "loader", call, via_model_kwargs, config is not None))
    return requests


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
    if any(apis.is_model_from_pretrained(name) for name in names):
        return _loader_requests(meta, call_keywords(meta, call), call, via_model_kwargs=False)
    if names & apis.PIPELINE:
        model_kwargs = call_keywords(meta, call).get("model_kwargs")
        if model_kwargs is not None:
            return [
                request
                for inner in dict_alternatives(meta, model_kwargs.value)
                for request in _loader_requests(meta, inner, call, via_model_kwargs=True)
            ]
    return []
