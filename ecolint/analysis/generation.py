"""Which calls generate text with a transformers model or pipeline.

`model.generate(...)` counts when the flow (`ecolint.analysis.flow`: aliases, factories,
`self` attributes, arguments at call sites, `.to()` passed through) says `model` is made
by a transformers (or peft) `from_pretrained` / `from_config` / `get_peft_model`; a call
`pipe(...)` counts when `pipe` is made by `transformers.pipeline(...)` with a generation task. A parameter named `model`
(for `.generate`) or `pipe` / `generator` (called) counts by convention in a file
that imports transformers. vLLM's `LLM.generate`, API clients and other `generate`
methods are none of these.
"""

from __future__ import annotations

from typing import Literal

import libcst as cst

from ecolint.analysis import apis
from ecolint.analysis.flow import Flow
from ecolint.analysis.names import code, imported_names, literal

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


def _imports_transformers(node: cst.CSTNode) -> bool:
    if isinstance(node, cst.ImportFrom):
        return node.module is not None and code(node.module).split(".")[0] == "transformers"
    return isinstance(node, cst.Import) and any(code(a.name).split(".")[0] == "transformers" for a in node.names)


class GenerationCalls:
    """Classifies calls in one module, knowing receivers through the module's value flow."""

    def __init__(self, flow: Flow) -> None:
        self.flow = flow
        self.module = flow.module
        self.imports_transformers = any(_imports_transformers(node) for node in flow.nodes(cst.Import, cst.ImportFrom))

    def _is_model(self, value: cst.BaseExpression) -> bool:
        if not isinstance(value, cst.Call):
            return False
        for name in imported_names(self.flow, value.func):
            if apis.is_model_from_pretrained(name) or name in apis.MODEL_WRAPPERS:
                return True
            if name.startswith("transformers.") and name.endswith(".from_config"):
                return True
        return False

    def _pipeline_task(self, value: cst.BaseExpression) -> str | None:
        """The literal task of a `transformers.pipeline(...)` call, if it is one."""
        if not isinstance(value, cst.Call) or not imported_names(self.flow, value.func) & apis.PIPELINE:
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
        """The task of the pipeline `call` calls, when its producers agree on it."""
        values, _ = self._producers(call.func)
        tasks = {self._pipeline_task(v) for v in values}
        return tasks.pop() if len(tasks) == 1 else None

    def _producers(self, receiver: cst.BaseExpression) -> tuple[list[cst.BaseExpression], list[str]]:
        """What made the receiver's object (names known only at run time left out), and, where the
        receiver is a parameter, its name (the conventional names count when nothing else is known)."""
        # A name is a leaf only where the flow could not follow it (unbound, a parameter, a loop target).
        values = [leaf for leaf in self.flow.producers(receiver) if not isinstance(leaf, cst.Name)]
        parameters = []
        if isinstance(receiver, cst.Name) and any(isinstance(getattr(r, "node", None), cst.Param) for r in self.flow.referents(receiver)):
            parameters.append(receiver.value)
        return values, parameters

    def loader_of(self, call: cst.Call, kind: Kind) -> cst.Call | None:
        """The one `from_pretrained(...)` / `pipeline(...)` call the receiver is made by, if known."""
        receiver = call.func.value if kind == "generate" and isinstance(call.func, cst.Attribute) else call.func
        values, _ = self._producers(receiver)
        check = self._is_model if kind == "generate" else self._is_generation_pipeline
        loaders = list({id(v): v for v in values if check(v)}.values())
        return loaders[0] if len(loaders) == 1 else None  # type: ignore[return-value]

    def kind(self, call: cst.Call) -> Kind | None:
        """ "generate" for a model's `.generate(...)`, "pipeline" for a generation pipeline call."""
        func = call.func
        if isinstance(func, cst.Attribute) and func.attr.value == "generate":
            values, parameters = self._producers(func.value)
            if any(self._is_model(v) for v in values):
                return "generate"
            if self.imports_transformers and not values and set(parameters) & _MODEL_PARAMETERS:
                return "generate"
            return None
        if isinstance(func, (cst.Name, cst.Attribute)):
            values, parameters = self._producers(func)
            if any(self._is_generation_pipeline(v) for v in values):
                return "pipeline"
            if self.imports_transformers and not values and set(parameters) & _PIPELINE_PARAMETERS:
                return "pipeline"
        return None
