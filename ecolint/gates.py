"""Structural gates on the standard library's `ast`: could this rule flag anything here?

A rule names its gate (`Rule.gate`); the prefilter runs it, with the rule's triggers, on
files that passed the word stages, before LibCST. `ast` parses about ten times faster than LibCST and needs no
metadata, so a gate can ask structural questions cheaply. A gate over-approximates its
rule: it may answer True for a module the rule will not flag, never False for one it
would (tests compare findings with and without the prefilter on fixtures and real trees).
"""

from __future__ import annotations

import ast

# Callees whose result may be a model (`Model.from_pretrained(...)`) or a pipeline, and the
# parameter names ECO103 takes by convention for one (`model.generate`, `pipe(...)`).
_MODEL_LOADERS = frozenset({"from_pretrained", "from_config"})
_PIPELINE_LOADERS = frozenset({"pipeline"})
_MODEL_PARAMETERS = frozenset({"model"})
_PIPELINE_PARAMETERS = frozenset({"pipe", "generator"})
_LOOPS = (ast.For, ast.AsyncFor, ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)  # not `while`: never flagged
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


def _last_name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def keyword_or_key(tree: ast.Module, words: tuple[str, ...]) -> bool:
    """The quantization rules: a word is a call's keyword (`load_in_8bit=True`) or a dict's string key.

    `ecolint.quantization` reads keywords only from call arguments and dict entries; a
    parameter or an attribute of that name (`def __init__(self, load_in_8bit=False)`) is not one.
    """
    wanted = set(words)
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg in wanted:
            return True
        if isinstance(node, ast.Dict) and any(isinstance(k, ast.Constant) and k.value in wanted for k in node.keys):
            return True
    return False


def generation_in_loop(tree: ast.Module, words: tuple[str, ...]) -> bool:
    """ECO103: a loop calls `.generate` on a model holder or calls a pipeline holder, or a function that does.

    Holders are the names and `self` attributes assigned from a loader call (by its name
    or an import alias of it), and, in a module that imports transformers, parameters with
    the conventional names; over-approximates `ecolint.generation.GenerationCalls.kind`
    and the rule's helper-function case.
    """
    model_loaders, pipeline_loaders = set(_MODEL_LOADERS), set(_PIPELINE_LOADERS)
    assignments: list[ast.Assign | ast.AnnAssign] = []
    functions: list[ast.FunctionDef | ast.AsyncFunctionDef] = []
    calls_in_loops: list[ast.Call] = []
    parameters: set[str] = set()
    imports_transformers = False
    stack: list[tuple[ast.AST, bool]] = [(tree, False)]
    while stack:
        node, in_loop = stack.pop()
        if isinstance(node, ast.Call) and in_loop:
            calls_in_loops.append(node)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            imports_transformers = imports_transformers or any(m.split(".")[0] == "transformers" for m in modules)
            for alias in node.names:
                imported = alias.name.rsplit(".", 1)[-1]
                if alias.asname and imported in _MODEL_LOADERS:
                    model_loaders.add(alias.asname)
                if alias.asname and imported in _PIPELINE_LOADERS:
                    pipeline_loaders.add(alias.asname)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            assignments.append(node)
        elif isinstance(node, _FUNCTIONS):
            functions.append(node)
        elif isinstance(node, ast.arg):
            parameters.add(node.arg)
        in_loop = in_loop or isinstance(node, _LOOPS)
        stack.extend((child, in_loop) for child in ast.iter_child_nodes(node))
    if not calls_in_loops:
        return False

    def calls(value: ast.AST | None, loaders: set[str]) -> bool:
        return value is not None and any(isinstance(n, ast.Call) and _last_name(n.func) in loaders for n in ast.walk(value))

    conventional = parameters if imports_transformers else set()
    models, pipelines = _Holders(conventional & _MODEL_PARAMETERS), _Holders(conventional & _PIPELINE_PARAMETERS)
    for assignment in assignments:
        targets = assignment.targets if isinstance(assignment, ast.Assign) else [assignment.target]
        for holders, loaders in ((models, model_loaders), (pipelines, pipeline_loaders)):
            if calls(assignment.value, loaders):
                for target in targets:
                    holders.add(target)

    def generates(call: ast.Call) -> bool:
        func = call.func
        if isinstance(func, ast.Attribute) and func.attr == "generate" and models.holds(func.value):
            return True
        return pipelines.holds(func)

    generating_functions = {f.name for f in functions if any(isinstance(n, ast.Call) and generates(n) for n in ast.walk(f))}
    return any(generates(call) or _last_name(call.func) in generating_functions for call in calls_in_loops)


class _Holders:
    """Names and attribute names that may hold a model (or a pipeline)."""

    def __init__(self, names: set[str]) -> None:
        self.names = set(names)
        self.attributes: set[str] = set()

    def add(self, target: ast.AST) -> None:
        if isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self.add(element)
        elif isinstance(target, ast.Starred):
            self.add(target.value)
        elif isinstance(target, ast.Name):
            self.names.add(target.id)
        elif isinstance(target, ast.Attribute):
            self.attributes.add(target.attr)

    def holds(self, node: ast.AST) -> bool:
        if isinstance(node, ast.Name):
            return node.id in self.names
        return isinstance(node, ast.Attribute) and node.attr in self.attributes
