"""Structural gates on the standard library's `ast`: could this rule flag anything here?

A rule names its gate (`Rule.gate`); the prefilter runs it on files that passed the word
stages, before LibCST. `ast` parses about ten times faster than LibCST and needs no
metadata, so a gate can ask structural questions cheaply. A gate over-approximates its
rule: it may answer True for a module the rule will not flag, never False for one it
would (tests compare findings with and without the prefilter on fixtures and real trees).
"""

from __future__ import annotations

import ast

# Callees whose result may be a model or a generation pipeline (`Model.from_pretrained`, ...).
_LOADERS = frozenset({"from_pretrained", "from_config", "pipeline"})
# Parameter names that ECO103 takes, by convention, for a model or a pipeline.
_CONVENTIONAL_HOLDERS = frozenset({"model", "pipe", "generator"})
_LOOPS = (ast.For, ast.AsyncFor, ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)  # not `while`: never flagged
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


def _last_name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _target_names(target: ast.AST) -> set[str]:
    """`x` → x, `self.x` → x, `a, (b, *c)` → a, b, c."""
    if isinstance(target, (ast.Tuple, ast.List)):
        return set().union(*(_target_names(e) for e in target.elts))
    if isinstance(target, ast.Starred):
        return _target_names(target.value)
    name = _last_name(target)
    return {name} if name is not None else set()


def generation_in_loop(tree: ast.Module) -> bool:
    """ECO103: a loop calls `.generate` or a holder of a loaded model or pipeline, or a function that does.

    Holders are the targets of assignments whose value calls a loader (by its name or an
    import alias of it) and the conventional parameter names; over-approximates
    `ecolint.generation.GenerationCalls.kind` and the rule's helper-function case.
    """
    loaders = set(_LOADERS)
    assignments: list[ast.Assign | ast.AnnAssign] = []
    functions: list[ast.FunctionDef | ast.AsyncFunctionDef] = []
    calls_in_loops: list[ast.Call] = []
    stack: list[tuple[ast.AST, bool]] = [(tree, False)]
    while stack:
        node, in_loop = stack.pop()
        if isinstance(node, ast.Call) and in_loop:
            calls_in_loops.append(node)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            loaders.update(a.asname for a in node.names if a.asname and a.name.rsplit(".", 1)[-1] in _LOADERS)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            assignments.append(node)
        elif isinstance(node, _FUNCTIONS):
            functions.append(node)
        in_loop = in_loop or isinstance(node, _LOOPS)
        stack.extend((child, in_loop) for child in ast.iter_child_nodes(node))
    if not calls_in_loops:
        return False

    def calls_loader(value: ast.AST | None) -> bool:
        return value is not None and any(isinstance(n, ast.Call) and _last_name(n.func) in loaders for n in ast.walk(value))

    holders = set(_CONVENTIONAL_HOLDERS)
    for assignment in assignments:
        if calls_loader(assignment.value):
            targets = assignment.targets if isinstance(assignment, ast.Assign) else [assignment.target]
            for target in targets:
                holders |= _target_names(target)

    def generates(call: ast.Call) -> bool:
        func = call.func
        if isinstance(func, ast.Attribute) and func.attr == "generate" and _last_name(func.value) in holders:
            return True
        return _last_name(func) in holders

    generating_functions = {f.name for f in functions if any(isinstance(n, ast.Call) and generates(n) for n in ast.walk(f))}
    return any(generates(call) or _last_name(call.func) in generating_functions for call in calls_in_loops)
