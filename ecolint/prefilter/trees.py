"""Walking the standard library's `ast` fast, for the gates and the skeleton.

`ast.walk` and `ast.iter_child_nodes` make a generator per node and read every field,
`Load`/`Store` contexts included; these read each node type's child fields once and skip the
contexts, at about a third of the cost.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

_CHILD_FIELDS: dict[type, tuple[str, ...]] = {}


def children(node: ast.AST) -> list[ast.AST]:
    """The child nodes of `node`, contexts left out."""
    kind = type(node)
    fields = _CHILD_FIELDS.get(kind)
    if fields is None:
        fields = _CHILD_FIELDS[kind] = tuple(f for f in kind._fields if f != "ctx")
    found: list[ast.AST] = []
    for name in fields:
        value = getattr(node, name, None)
        if type(value) is list:
            found.extend(item for item in value if isinstance(item, ast.AST))
        elif isinstance(value, ast.AST):
            found.append(value)
    return found


def walk(root: ast.AST) -> Iterator[ast.AST]:
    """Every node under `root`, `root` first and each parent before its children."""
    stack = [root]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(children(node))
