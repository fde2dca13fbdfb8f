"""What a finding hands to `--measure`: the model, the quantization as written, the dtype.

Only values known statically are recorded (flags known only at run time count as on,
since that is when the finding applies); `--measure` says why it cannot measure a
finding whose model or configuration is unknown.
"""

from __future__ import annotations

from typing import Any

from ecolint.analysis.flow import Flow

import libcst as cst

from ecolint.analysis.model_ids import ModelIds, model_argument
from ecolint.analysis.names import UNKNOWN, literal_value
from ecolint.analysis.quantization import (
    CONFIG_KEYWORD_PREFIXES,
    QUANTIZATION_FLAGS,
    Keywords,
    QuantizationRequest,
    dtype_name,
    loader_dtype,
    loader_quantization,
    request_loader,
)

_PLAIN = (bool, int, float, str)


def quantization_literals(flow: Flow, keywords: Keywords) -> dict[str, Any]:
    """The bitsandbytes keywords with known values, as plain JSON values (dtypes by name)."""
    found: dict[str, Any] = {}
    for name, keyword in keywords.items.items():
        if name not in QUANTIZATION_FLAGS and not name.startswith(CONFIG_KEYWORD_PREFIXES):
            continue
        value = dtype_name(flow, keyword.value) if name.endswith("_dtype") else literal_value(flow, keyword.value)
        if name in QUANTIZATION_FLAGS and value is UNKNOWN:
            value = True
        if isinstance(value, _PLAIN):
            found[name] = value
    return found


def loader_hint(flow: Flow, model_ids: ModelIds, loader: cst.Call | None) -> dict[str, Any]:
    """The model id and dtype of a load call, where they are known."""
    if loader is None:
        return {"model": None}
    argument = model_argument(flow, loader)
    dtype = loader_dtype(flow, loader)
    return {
        "model": model_ids.resolve(argument) if argument is not None else None,
        "dtype": dtype_name(flow, dtype.value) if dtype is not None else None,
    }


def request_hint(flow: Flow, model_ids: ModelIds, request: QuantizationRequest) -> dict[str, Any]:
    """Model, dtype and quantization of the load a quantization request configures."""
    loader = request_loader(flow, request)
    return {**loader_hint(flow, model_ids, loader), "quantization": quantization_literals(flow, request.keywords)}


def load_call_hint(flow: Flow, model_ids: ModelIds, loader: cst.Call) -> dict[str, Any]:
    """Model, dtype and quantization (if any) of a load call."""
    requests = [r for r in loader_quantization(flow, loader) if not (r.origin == "loader" and r.has_config)]
    quantization = quantization_literals(flow, requests[0].keywords) if len(requests) == 1 else {}
    return {**loader_hint(flow, model_ids, loader), "quantization": quantization}
