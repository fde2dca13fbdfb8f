"""Walking LibCST trees by reading each node type's fields: each node's parent, as LibCST's
`ParentNodeProvider` records it, and the nodes under one, at a tenth of the cost of LibCST's
visitor machinery. Both go in source order (a node before its children, siblings left to
right, as a visitor meets them), so `Flow.nodes` lists a module's calls as they are written.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import libcst as cst
from libcst.metadata import BaseMetadataProvider

# Fields whose order in the class is not their order in the source: decorators come first, a
# conditional expression's value before its test, positional-only parameters first, ...
_SOURCE_ORDER: dict[type[cst.CSTNode], tuple[str, ...]] = {
    cst.FunctionDef: (
        "leading_lines",
        "decorators",
        "lines_after_decorators",
        "asynchronous",
        "name",
        "type_parameters",
        "params",
        "returns",
    ),
    cst.ClassDef: ("leading_lines", "decorators", "lines_after_decorators", "name", "type_parameters", "bases", "keywords"),
    cst.Module: ("header",),
    cst.SimpleStatementLine: ("leading_lines",),
    cst.ImportFrom: ("whitespace_after_from", "relative", "module", "whitespace_before_import", "whitespace_after_import", "lpar"),
    cst.Import: ("whitespace_after_import",),
    cst.IndentedBlock: ("header",),
    cst.IfExp: ("body", "test", "orelse"),
    cst.Parameters: ("posonly_params", "posonly_ind", "params", "star_arg", "kwonly_params", "star_kwarg"),
    cst.ExceptHandler: ("leading_lines", "type", "name"),
    cst.ExceptStarHandler: ("leading_lines", "type", "name"),
    cst.MatchCase: ("leading_lines", "pattern", "guard"),
    cst.Arg: ("star", "keyword", "equal", "value"),
    cst.TypeAlias: ("whitespace_after_type", "name", "whitespace_after_name", "type_parameters"),
}
_FIELDS: dict[type, tuple[str, ...]] = {}
_NODE_TYPES: dict[type, bool] = {}
_PRUNED: dict[tuple[type, ...], dict[type, bool]] = {}


def _fields(kind: type) -> tuple[str, ...]:
    names = _FIELDS.get(kind)
    if names is None:
        names = tuple(field.name for field in dataclasses.fields(kind))
        first = tuple(name for name in _SOURCE_ORDER.get(kind, ()) if name in names)
        names = _FIELDS[kind] = first + tuple(name for name in names if name not in first)
    return names


def _is_node_type(kind: type) -> bool:
    """Whether values of this type are nodes (`isinstance` on LibCST's abstract classes is slow: asked once a type)."""
    known = _NODE_TYPES.get(kind)
    if known is None:
        known = _NODE_TYPES[kind] = issubclass(kind, cst.CSTNode)
    return known


def children(node: cst.CSTNode) -> list[cst.CSTNode]:
    """`node.children`, read from the fields."""
    found: list[cst.CSTNode] = []
    for name in _fields(type(node)):
        value = getattr(node, name)
        kind = type(value)
        if kind is tuple or kind is list:
            found.extend(item for item in value if _is_node_type(type(item)))
        elif _is_node_type(kind):
            found.append(value)
    return found


def walk(root: cst.CSTNode, prune: tuple[type[cst.CSTNode], ...] = ()) -> Iterator[cst.CSTNode]:
    """`root` and the nodes under it in source order; a node of a `prune` kind is met, its subtree is not
    (as a visitor's `visit_` returning False)."""
    pruned = _PRUNED.setdefault(prune, {})  # node type → whether it is of a `prune` kind
    stack = [root]
    while stack:
        node = stack.pop()
        yield node
        kind = type(node)
        stop = pruned.get(kind)
        if stop is None:
            stop = pruned[kind] = issubclass(kind, prune)
        if not stop:
            stack.extend(reversed(children(node)))


class ParentProvider(BaseMetadataProvider[cst.CSTNode]):
    """The parent of every node but the module."""

    def _gen_impl(self, module: cst.Module) -> None:
        stack: list[tuple[cst.CSTNode, cst.CSTNode]] = [(child, module) for child in reversed(children(module))]
        computed = self._computed  # what `set_metadata` writes to, without a call per node
        while stack:
            node, parent = stack.pop()
            computed[node] = parent
            stack.extend((child, node) for child in reversed(children(node)))
