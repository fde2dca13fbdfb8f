"""Which calls generate text with a transformers model or pipeline.

`model.generate(...)` counts when `model` is bound to a transformers (or peft)
`from_pretrained` / `from_config`; a call `pipe(...)` counts when `pipe` is bound
to `transformers.pipeline(...)` with a generation task. A parameter named `model`
(for `.generate`) or `pipe` / `generator` (called) counts by convention in a file
that imports transformers. vLLM's `LLM.generate`, API clients and other `generate`
methods are none of these.
"""

from __future__ import annotations

from typing import Any, Literal

import libcst as cst
from libcst.metadata import Assignment, ScopeProvider

from ecolint.analysis import apis
from ecolint.analysis.names import assigned_value, code, find_all, imported_names, literal

Kind = Literal["generate", "pipeline"]

GENERATION_TASKS = frozenset(
    {
        "text-generation",
        "text2text-generation",
        "summarization",
        "translation",
        "image-to-text",
        "image-text-to-text",
        "automatic-speech-recognition",
    }
)
_MODEL_PARAMETERS = frozenset({"model"})
_PIPELINE_PARAMETERS = frozenset({"pipe", "generator"})
_PASS_THROUGH_METHODS = frozenset({"to", "cuda", "eval", "half", "bfloat16", "float", "requires_grad_"})


def _unwrap(value: cst.BaseExpression) -> cst.BaseExpression:
    """`Model.from_pretrained(...).to("cuda").eval()` → `Model.from_pretrained(...)`."""
    while isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) and value.func.attr.value in _PASS_THROUGH_METHODS:
        value = value.func.value
    return value


def _imports_transformers(node: cst.CSTNode) -> bool:
    if isinstance(node, cst.ImportFrom):
        return node.module is not None and code(node.module).split(".")[0] == "transformers"
    return isinstance(node, cst.Import) and any(code(a.name).split(".")[0] == "transformers" for a in node.names)


class GenerationCalls:
    """Classifies calls in one module."""

    def __init__(self, meta: Any, module: cst.Module) -> None:
        self.meta = meta
        self.module = module
        self.imports_transformers = any(_imports_transformers(node) for node in find_all(module, (cst.Import, cst.ImportFrom)))
        self._attributes: dict[str, list[cst.BaseExpression]] | None = None

    def _is_model(self, value: cst.BaseExpression) -> bool:
        if isinstance(value, cst.IfExp):
            return self._is_model(value.body) or self._is_model(value.orelse)
        value = _unwrap(value)
        if not isinstance(value, cst.Call):
            return False
        for name in imported_names(self.meta, value.func):
            if apis.is_model_from_pretrained(name):
                return True
            if name.startswith("transformers.") and name.endswith(".from_config"):
                return True
        return False

    def _pipeline_task(self, value: cst.BaseExpression) -> str | None:
        """The literal task of a `transformers.pipeline(...)` call, if it is one."""
        if not isinstance(value, cst.Call) or not imported_names(self.meta, value.func) & apis.PIPELINE:
            return None
        task = next((a.value for a in value.args if a.keyword is not None and a.keyword.value == "task"), None)
        if task is None:
            task = next((a.value for a in value.args if a.keyword is None and not a.star), None)
        text = literal(task) if task is not None else None
        return text if isinstance(text, str) else None

    def _is_generation_pipeline(self, value: cst.BaseExpression) -> bool:
        task = self._pipeline_task(value)
        return task is not None and (task in GENERATION_TASKS or task.startswith("translation"))

    def pipeline_task(self, call: cst.Call) -> str | None:
        """The task of the pipeline `call` calls, when its one binding says it."""
        values, _ = self._bindings(call.func)
        tasks = {self._pipeline_task(v) for v in values}
        return tasks.pop() if len(tasks) == 1 else None

    def _bindings(self, receiver: cst.BaseExpression) -> tuple[list[cst.BaseExpression], list[str]]:
        """The values bound to a receiver, and the names of parameters it may be."""
        if isinstance(receiver, cst.Attribute) and isinstance(receiver.value, cst.Name) and receiver.value.value == "self":
            return self._self_attributes().get(receiver.attr.value, []), []
        if not isinstance(receiver, cst.Name):
            return [], []
        scope = self.meta.get_metadata(ScopeProvider, receiver, None)
        if scope is None:
            return [], []
        values, parameters = [], []
        referents = {id(r): r for access in scope.accesses[receiver] for r in access.referents}
        for referent in referents.values():
            if not isinstance(referent, Assignment):
                continue
            if isinstance(referent.node, cst.Param):
                parameters.append(referent.name)
            else:
                value = assigned_value(self.meta, referent)
                if value is not None:
                    values.append(value)
        return values, parameters

    def _self_attributes(self) -> dict[str, list[cst.BaseExpression]]:
        if self._attributes is None:
            self._attributes = {}
            for assign in find_all(self.module, cst.Assign):
                target = assign.targets[0].target if len(assign.targets) == 1 else None
                if isinstance(target, cst.Attribute) and isinstance(target.value, cst.Name) and target.value.value == "self":
                    self._attributes.setdefault(target.attr.value, []).append(assign.value)
        return self._attributes

    def loader_of(self, call: cst.Call, kind: Kind) -> cst.Call | None:
        """The one `from_pretrained(...)` / `pipeline(...)` call the receiver is bound to, if known."""
        receiver = call.func.value if kind == "generate" and isinstance(call.func, cst.Attribute) else call.func
        values, _ = self._bindings(receiver)
        check = self._is_model if kind == "generate" else self._is_generation_pipeline
        loaders = [_unwrap(v) for v in values if check(v) and isinstance(_unwrap(v), cst.Call)]
        return loaders[0] if len(loaders) == 1 else None  # type: ignore[return-value]

    def kind(self, call: cst.Call) -> Kind | None:
        """ "generate" for a model's `.generate(...)`, "pipeline" for a generation pipeline call."""
        func = call.func
        if isinstance(func, cst.Attribute) and func.attr.value == "generate":
            values, parameters = self._bindings(func.value)
            if any(self._is_model(v) for v in values):
                return "generate"
            if self.imports_transformers and not values and set(parameters) & _MODEL_PARAMETERS:
                return "generate"
            return None
        if isinstance(func, (cst.Name, cst.Attribute)):
            values, parameters = self._bindings(func)
            if any(self._is_generation_pipeline(v) for v in values):
                return "pipeline"
            if self.imports_transformers and not values and set(parameters) & _PIPELINE_PARAMETERS:
                return "pipeline"
        return None
