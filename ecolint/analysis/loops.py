"""Loops and the names that flow through them: per-item work versus dependent steps.

All judgements are syntactic and local to one loop body; where they cannot tell,
callers stay silent.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Union

import libcst as cst

from ecolint.analysis.names import literal
from ecolint.analysis.parents import ParentProvider, children, walk

Comprehension = Union[cst.ListComp, cst.SetComp, cst.GeneratorExp, cst.DictComp]
Loop = Union[cst.For, cst.While, Comprehension]
_COMPREHENSIONS = (cst.ListComp, cst.SetComp, cst.GeneratorExp, cst.DictComp)
_BOUNDARIES = (cst.FunctionDef, cst.Lambda, cst.ClassDef, cst.Module)
_BATCH_WORDS = ("batch", "chunk")
# Methods that put their arguments into the receiver: lists, sets, dicts, and prompt builders.
_BUILDER_METHODS = frozenset(
    {"append", "extend", "insert", "add", "update", "setdefault", "append_message", "add_message", "add_messages", "add_text", "add_image"}
)


def names_read(node: cst.CSTNode) -> set[str]:
    """Names an expression or statement reads (not attribute or keyword names, nor in a lambda)."""
    found: set[str] = set()
    stack = [node]
    while stack:
        current = stack.pop()
        kind = type(current)
        if kind is cst.Name:
            found.add(current.value)  # type: ignore[attr-defined]
        elif kind is cst.Attribute or kind is cst.Arg:
            stack.append(current.value)  # type: ignore[attr-defined]
        elif kind is not cst.Lambda:
            stack.extend(children(current))
    return found


def target_names(target: cst.BaseExpression) -> set[str]:
    if isinstance(target, cst.Name):
        return {target.value}
    if isinstance(target, (cst.Tuple, cst.List)):
        return set().union(*(target_names(e.value) for e in target.elements)) if target.elements else set()
    if isinstance(target, cst.StarredElement):
        return target_names(target.value)
    return set()


def enclosing_loop(meta: Any, node: cst.CSTNode) -> Loop | None:
    """The innermost loop whose body runs `node` once per iteration, within the same function."""
    child, parent = node, meta.get_metadata(ParentProvider, node, None)
    while parent is not None and not isinstance(parent, _BOUNDARIES):
        if isinstance(parent, (cst.For, cst.While)) and child is parent.body:
            return parent
        if isinstance(parent, _COMPREHENSIONS) and child is not parent.for_in:
            return parent
        if isinstance(parent, cst.CompFor) and child is not parent.iter:
            grand = meta.get_metadata(ParentProvider, parent, None)
            while isinstance(grand, cst.CompFor):
                grand = meta.get_metadata(ParentProvider, grand, None)
            if isinstance(grand, _COMPREHENSIONS):
                return grand
        child, parent = parent, meta.get_metadata(ParentProvider, parent, None)
    return None


def loop_targets(loop: Loop) -> set[str]:
    if isinstance(loop, cst.For):
        return target_names(loop.target)
    if isinstance(loop, cst.While):
        return set()
    names: set[str] = set()
    comp: cst.CompFor | None = loop.for_in
    while comp is not None:
        names |= target_names(comp.target)
        comp = comp.inner_for_in
    return names


def loop_iterables(loop: Loop) -> list[cst.BaseExpression]:
    if isinstance(loop, cst.For):
        return [loop.iter]
    if isinstance(loop, cst.While):
        return []
    found, comp = [], loop.for_in
    while comp is not None:
        found.append(comp.iter)
        comp = comp.inner_for_in
    return found


def _assignments(body: cst.CSTNode) -> Iterator[tuple[set[str], cst.CSTNode]]:
    """(targets, value) of the assignments in a loop body, in source order, not in nested functions.
    (Node types are compared, not `isinstance`d: these are concrete classes, and LibCST's are slow to test.)"""
    for node in walk(body, (cst.FunctionDef, cst.Lambda)):
        kind = type(node)
        if kind is cst.Assign:
            yield set().union(*(target_names(t.target) for t in node.targets)), node.value  # type: ignore[attr-defined]
        elif (kind is cst.AnnAssign or kind is cst.AugAssign or kind is cst.NamedExpr) and node.value is not None:  # type: ignore[attr-defined]
            yield target_names(node.target), node.value  # type: ignore[attr-defined]
        elif kind is cst.With:
            yield from ((target_names(item.asname.name), item.item) for item in node.items if item.asname is not None)  # type: ignore[attr-defined]
        elif kind is cst.For:
            yield target_names(node.target), node.iter  # type: ignore[attr-defined]
        elif kind is cst.Call and type(node.func) is cst.Attribute and node.func.attr.value in _BUILDER_METHODS:  # type: ignore[attr-defined]
            # `xs.append(v)`, `conv.append_message(role, v)` and the like make the receiver carry v.
            if type(node.func.value) is cst.Name:  # type: ignore[attr-defined]
                yield {node.func.value.value}, node  # type: ignore[attr-defined]


def flow_forward(body: cst.CSTNode, sources: set[str], seeds: Iterable[cst.CSTNode] = ()) -> set[str]:
    """Names in `body` whose values derive from `sources`, or from an expression in `seeds`."""
    seed_ids = {id(seed) for seed in seeds}
    assignments = [
        (targets, names_read(value), bool(seed_ids) and any(id(n) in seed_ids for n in walk(value)))
        for targets, value in _assignments(body)
    ]
    derived = set(sources)
    changed = True
    while changed:
        changed = False
        for targets, read, from_seed in assignments:
            if (from_seed or read & derived) and not targets <= derived:
                derived |= targets
                changed = True
    return derived


def flow_backward(body: cst.CSTNode, sinks: set[str]) -> set[str]:
    """Names in `body` whose values feed `sinks`."""
    assignments = [(targets, names_read(value)) for targets, value in _assignments(body)]
    feeding = set(sinks)
    changed = True
    while changed:
        changed = False
        for targets, read in assignments:
            if targets & feeding and not read <= feeding:
                feeding |= read
                changed = True
    return feeding


def runs_at_most_once(loop: Loop) -> bool:
    """`for x in [one]`, `for _ in range(1)`: not a loop worth batching."""
    for iterable in loop_iterables(loop):
        if isinstance(iterable, (cst.List, cst.Tuple, cst.Set)) and len(iterable.elements) <= 1:
            return True
        if isinstance(iterable, cst.Call) and isinstance(iterable.func, cst.Name) and iterable.func.value == "range":
            bounds = [literal(a.value) for a in iterable.args]
            if len(bounds) == 1 and isinstance(bounds[0], int) and bounds[0] <= 1:
                return True
            if len(bounds) == 2 and all(isinstance(b, int) for b in bounds) and bounds[1] - bounds[0] <= 1:
                return True
    return False


def iterates_batches(loop: Loop, by_name: bool = True) -> bool:
    """The loop walks batches, not single items: `range(0, n, bs)`, or (by_name) `for batch in ...`."""
    module = cst.Module(body=())
    for iterable in loop_iterables(loop):
        is_range = isinstance(iterable, cst.Call) and isinstance(iterable.func, cst.Name) and iterable.func.value == "range"
        if is_range and len(iterable.args) == 3:  # type: ignore[union-attr]
            return True
        if by_name and any(word in module.code_for_node(iterable).lower() for word in _BATCH_WORDS):
            return True
    return by_name and any(word in name.lower() for name in loop_targets(loop) for word in _BATCH_WORDS)


def body_of(loop: Loop) -> cst.CSTNode:
    if isinstance(loop, (cst.For, cst.While)):
        return loop.body
    return loop.elt if not isinstance(loop, cst.DictComp) else cst.Tuple([cst.Element(loop.key), cst.Element(loop.value)])
