"""Qualified-name matching and value resolution over LibCST metadata, never by text.

Every function takes `meta`, the running rule (any LibCST MetadataDependent), and
reads the providers in `METADATA`. Where a value cannot be known statically they
answer "unknown" (`UNKNOWN`, or the expression unchanged) so rules can stay silent.
"""

from __future__ import annotations

import ast
from typing import Any, TypeVar

import libcst as cst
from libcst.metadata import (
    Assignment,
    QualifiedName,
    QualifiedNameSource,
    ScopeProvider,
)

from ecolint.analysis.parents import ParentProvider, walk

# Qualified names are asked of the scope for the few nodes that need them: LibCST's
# QualifiedNameProvider computes them for every node, a third of all metadata time.
METADATA = (ScopeProvider, ParentProvider)

UNKNOWN: Any = type("Unknown", (), {"__repr__": lambda self: "UNKNOWN"})()

# Methods that change a dict or config object in place: a binding that sees them no longer
# has the value it was assigned (`ecolint.prefilter.skeleton` keeps the functions that may call them).
MUTATING_METHODS = frozenset({"update", "setdefault", "pop", "popitem", "clear", "__setitem__"})
_MAX_HOPS = 5
Found = TypeVar("Found", bound=cst.CSTNode)


def find_all(node: cst.CSTNode, kind: type[Found] | tuple[type[Found], ...]) -> list[Found]:
    """The nodes of a kind under `node`, itself included, in source order
    (`libcst.matchers.findall` does this too, but importing it costs 0.2 s per process)."""
    return [n for n in walk(node) if isinstance(n, kind)]  # type: ignore[misc]


def code(node: cst.CSTNode) -> str:
    """The source text of a node."""
    return cst.Module(body=()).code_for_node(node)


def single_statement(statement: cst.BaseStatement) -> cst.BaseSmallStatement | None:
    """The statement a line holds, if it holds exactly one (`x = 1`, not `x = 1; y = 2` or a block)."""
    if isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1:
        return statement.body[0]
    return None


def imported_names(meta: Any, node: cst.CSTNode) -> set[str]:
    """The imported qualified names `node` may refer to; empty if any binding is local.

    A local definition that shadows an import is not the API, so a local binding
    anywhere in the answer makes the whole answer empty.
    """
    qualified = qualified_names(meta, node)
    if any(q.source is QualifiedNameSource.LOCAL for q in qualified):
        return set()
    return {q.name for q in qualified if q.source is QualifiedNameSource.IMPORT}


def qualified_names(meta: Any, node: cst.CSTNode) -> frozenset[QualifiedName]:
    """What `QualifiedNameProvider` would record for `node`; the scope is asked once per node and
    flow (`meta`'s, where it has one): the rules ask again and again of the same few callees."""
    flow = getattr(meta, "flow", meta)
    known: dict[cst.CSTNode, frozenset[QualifiedName]] = flow.memo("qualified_names", dict) if hasattr(flow, "memo") else {}
    found = known.get(node)
    if found is None:
        scope = meta.get_metadata(ScopeProvider, node, None)
        found = known[node] = frozenset(scope.get_qualified_names_for(node)) if scope is not None else frozenset()
    return found


def is_builtin(meta: Any, node: cst.CSTNode, name: str) -> bool:
    qualified = qualified_names(meta, node)
    return any(q.source is QualifiedNameSource.BUILTIN and q.name == f"builtins.{name}" for q in qualified)


def assigned_value(meta: Any, assignment: Assignment) -> cst.BaseExpression | None:
    """The right-hand side of `name = value` / `name: T = value`; None for other bindings."""
    target = assignment.node
    if not isinstance(target, cst.Name):
        return None
    parent = meta.get_metadata(ParentProvider, target, None)
    if isinstance(parent, cst.AssignTarget):
        statement = meta.get_metadata(ParentProvider, parent, None)
        if isinstance(statement, cst.Assign) and len(statement.targets) == 1:
            return statement.value
    if isinstance(parent, cst.AnnAssign) and parent.target is target:
        return parent.value
    return None


def _is_mutated(meta: Any, assignment: Assignment) -> bool:
    """Whether any use of the binding changes the object in place."""
    for access in assignment.references:
        node = access.node
        parent = meta.get_metadata(ParentProvider, node, None)
        grandparent = meta.get_metadata(ParentProvider, parent, None) if parent is not None else None
        if isinstance(parent, (cst.Attribute, cst.Subscript)) and parent.value is node:
            if isinstance(grandparent, (cst.AssignTarget, cst.AugAssign, cst.Del)):
                return True
            if isinstance(grandparent, cst.Call) and isinstance(parent, cst.Attribute):
                if parent.attr.value in MUTATING_METHODS:
                    return True
        if isinstance(parent, cst.AugAssign) and parent.target is node:
            return True
        if isinstance(parent, cst.Arg) and isinstance(grandparent, cst.Call):
            if is_builtin(meta, grandparent.func, "setattr") or is_builtin(meta, grandparent.func, "delattr"):
                return True
    return False


def bound_value(meta: Any, name: cst.Name) -> cst.BaseExpression | None:
    """Follow a name one binding back: the value of its single simple assignment.

    None when the name has no binding, several, a non-assignment binding
    (parameter, import, loop target) or one whose object is mutated later.
    """
    scope = meta.get_metadata(ScopeProvider, name, None)
    if scope is None:
        return None
    referents: set[Any] = set()
    for access in scope.accesses[name]:
        referents.update(access.referents)
    if len(referents) != 1:
        return None
    (assignment,) = referents
    if not isinstance(assignment, Assignment):
        return None
    value = assigned_value(meta, assignment)
    if value is None or _is_mutated(meta, assignment):
        return None
    return value


def resolve(meta: Any, expr: cst.BaseExpression) -> cst.BaseExpression:
    """Follow names through simple bindings; the expression itself when unknown."""
    for _ in range(_MAX_HOPS):
        if not isinstance(expr, cst.Name) or expr.value in ("True", "False", "None"):
            return expr
        value = bound_value(meta, expr)
        if value is None:
            return expr
        expr = value
    return expr


def literal(expr: cst.BaseExpression) -> Any:
    """The Python value of a literal expression, or UNKNOWN. Never evaluates code."""
    if isinstance(expr, cst.Name):
        return {"True": True, "False": False, "None": None}.get(expr.value, UNKNOWN)
    if isinstance(expr, (cst.Integer, cst.Float, cst.SimpleString, cst.ConcatenatedString)):
        try:
            return ast.literal_eval(code(expr))
        except (ValueError, SyntaxError):
            return UNKNOWN
    if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, (cst.Minus, cst.Plus)):
        operand = literal(expr.expression)
        if isinstance(operand, (int, float)) and not isinstance(operand, bool):
            return -operand if isinstance(expr.operator, cst.Minus) else operand
    return UNKNOWN


def literal_value(meta: Any, expr: cst.BaseExpression) -> Any:
    """The literal value an expression resolves to, or UNKNOWN."""
    return literal(resolve(meta, expr))


def reference_to(meta: Any, at: cst.CSTNode, module: str, obj: str) -> tuple[cst.BaseExpression, tuple[tuple[str, str | None], ...]] | None:
    """An expression naming `module.obj` at `at`, and the import it needs, if any.

    Reuses what the file already imports (`from module import obj as Q` → `Q`,
    `import module as m` → `m.obj`); otherwise asks for `from module import obj`,
    or `import module` when the bare name is taken. None when both names are taken.
    The import is `(module, obj)` for a from-import, `(module, None)` for a plain one.
    """
    scope = meta.get_metadata(ScopeProvider, at, None)
    if scope is None:
        return None
    module_scope = scope.globals
    wanted = f"{module}.{obj}"

    def visible(name: str) -> bool:
        """Bound at module level, and `at` sees that same binding."""
        return name in module_scope and set(scope[name]) == set(module_scope[name])

    aliases = {}
    for assignment in module_scope.assignments:
        name = assignment.name
        if "." not in name and len(module_scope[name]) == 1 and visible(name):
            qualified = {q.name for q in module_scope.get_qualified_names_for(name)}
            if len(qualified) == 1:
                aliases.setdefault(qualified.pop(), name)
    if wanted in aliases:
        return cst.Name(aliases[wanted]), ()
    if module in aliases:
        return cst.Attribute(cst.Name(aliases[module]), cst.Name(obj)), ()
    if obj not in scope:
        return cst.Name(obj), ((module, obj),)
    if module not in scope and "." not in module:
        return cst.Attribute(cst.Name(module), cst.Name(obj)), ((module, None),)
    return None


def assigned_then_mutated(meta: Any, value: cst.BaseExpression) -> bool:
    """Whether `value` is bound by `name = value` and the object is changed in place later.

    `cfg = BitsAndBytesConfig(...)` followed by `cfg.llm_int8_threshold = 0.0`.
    """
    statement = meta.get_metadata(ParentProvider, value, None)
    if not isinstance(statement, cst.Assign) or len(statement.targets) != 1:
        return False
    target = statement.targets[0].target
    scope = meta.get_metadata(ScopeProvider, target, None)
    if not isinstance(target, cst.Name) or scope is None:
        return False
    return any(isinstance(a, Assignment) and a.node is target and _is_mutated(meta, a) for a in scope.assignments[target.value])


def module_reference(meta: Any, at: cst.CSTNode, module: str) -> tuple[cst.BaseExpression, tuple[tuple[str, str | None], ...]] | None:
    """An expression naming module `module` at `at` (`import torch as th` → `th`), and any import it needs."""
    scope = meta.get_metadata(ScopeProvider, at, None)
    if scope is None:
        return None
    module_scope = scope.globals
    for assignment in module_scope.assignments:
        name = assignment.name
        if "." in name or len(module_scope[name]) != 1 or set(scope[name]) != set(module_scope[name]):
            continue
        if {q.name for q in module_scope.get_qualified_names_for(name)} == {module}:
            return cst.Name(name), ()
    if module not in scope:
        return cst.Name(module), ((module, None),)
    return None
