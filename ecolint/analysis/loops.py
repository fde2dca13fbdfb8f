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
# A callback run once per item (`ds.map(lambda ex: ...)`, `df.apply(process)`) counts as a loop over its parameters.
Callback = Union[cst.Lambda, cst.FunctionDef]
Loop = Union[cst.For, cst.While, Comprehension, Callback]
# Calls that run the function they are given once per item (not with `batched=True`).
_PER_ITEM_MAPPERS = frozenset({"map", "apply", "progress_apply"})
_COMPREHENSIONS = (cst.ListComp, cst.SetComp, cst.GeneratorExp, cst.DictComp)
_BOUNDARIES = (cst.FunctionDef, cst.Lambda, cst.ClassDef, cst.Module)
_BATCH_WORDS = ("batch", "chunk")
# Calls that take the first n items: `df.head(1)`, `ds.take(1)`, `islice(xs, 1)`; and wrappers that keep the count.
_TAKE_METHODS = frozenset({"head", "tail", "sample", "take", "islice", "nlargest", "nsmallest"})
_WRAPPERS = frozenset({"enumerate", "tqdm", "list", "tuple", "iter", "sorted", "reversed", "trange"})
_ROW_METHODS = frozenset({"itertuples", "iterrows", "items", "keys", "values", "tolist", "to_list"})
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


def enclosing_loop(meta: Any, node: cst.CSTNode, passed_to: Any = None) -> Loop | None:
    """The innermost loop whose body runs `node` once per iteration, within the same function; or
    the callback it is in, where that callback runs once per item (`passed_to(function)`: the calls
    a module function is handed to, for `ds.map(process)`)."""
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
    if isinstance(parent, cst.Lambda) and child is parent.body:
        argument = meta.get_metadata(ParentProvider, parent, None)
        call = meta.get_metadata(ParentProvider, argument, None) if isinstance(argument, cst.Arg) else None
        return parent if isinstance(call, cst.Call) and maps_per_item(call, argument) else None
    if isinstance(parent, cst.FunctionDef) and child is parent.body and passed_to is not None:
        uses = passed_to(parent)
        return parent if uses and all(maps_per_item(call, argument) for call, argument in uses) else None
    return None


def maps_per_item(call: cst.Call, argument: cst.Arg) -> bool:
    """Whether `call` runs the function given as `argument` once per item: `map(f, xs)`,
    `ds.map(f)` (not `batched=True`), `df.apply(f)`, `series.progress_apply(f)`."""
    func = call.func
    name = func.value if isinstance(func, cst.Name) else func.attr.value if isinstance(func, cst.Attribute) else ""
    if name not in _PER_ITEM_MAPPERS:
        return False
    positional = [a for a in call.args if a.keyword is None and not a.star]
    named = argument.keyword is not None and argument.keyword.value in ("function", "func")
    if not (named or (positional and positional[0] is argument)):
        return False
    batched = next((a.value for a in call.args if a.keyword is not None and a.keyword.value == "batched"), None)
    return batched is None or literal(batched) is False


def loop_targets(loop: Loop) -> set[str]:
    if isinstance(loop, cst.For):
        return target_names(loop.target)
    if isinstance(loop, cst.While):
        return set()
    if isinstance(loop, (cst.Lambda, cst.FunctionDef)):
        return {p.name.value for p in loop.params.params if p.name.value not in ("self", "cls")}
    names: set[str] = set()
    comp: cst.CompFor | None = loop.for_in
    while comp is not None:
        names |= target_names(comp.target)
        comp = comp.inner_for_in
    return names


def loop_iterables(loop: Loop) -> list[cst.BaseExpression]:
    if isinstance(loop, cst.For):
        return [loop.iter]
    if isinstance(loop, (cst.While, cst.Lambda, cst.FunctionDef)):
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
    """`for x in [one]`, `for _ in range(1)`, `for row in df.head(1)`, `xs[:1]`: not a loop worth batching."""
    return any(_at_most_one(iterable) for iterable in loop_iterables(loop))


def _at_most_one(iterable: cst.BaseExpression) -> bool:
    """Whether iterating `iterable` yields at most one item, as written."""
    if isinstance(iterable, (cst.List, cst.Tuple, cst.Set)):
        return len(iterable.elements) <= 1 and not any(isinstance(e, cst.StarredElement) for e in iterable.elements)
    if isinstance(iterable, cst.Subscript):  # `xs[:1]`, `xs[0:1]`, `df.iloc[:1]`
        bounds = iterable.slice[0].slice if len(iterable.slice) == 1 else None
        if isinstance(bounds, cst.Slice) and bounds.step is None and bounds.upper is not None:
            lower, upper = literal(bounds.lower) if bounds.lower is not None else 0, literal(bounds.upper)
            return isinstance(lower, int) and isinstance(upper, int) and 0 <= lower and upper - lower <= 1
        return False
    if not isinstance(iterable, cst.Call):
        return False
    positional = [literal(a.value) for a in iterable.args if a.keyword is None and not a.star]
    func = iterable.func
    name = func.value if isinstance(func, cst.Name) else func.attr.value if isinstance(func, cst.Attribute) else ""
    if name == "range":
        if len(iterable.args) == 1 and isinstance(positional[0], int):
            return positional[0] <= 1
        return len(iterable.args) == 2 and all(isinstance(b, int) for b in positional) and positional[1] - positional[0] <= 1
    if name in _WRAPPERS and iterable.args and iterable.args[0].keyword is None:
        return _at_most_one(iterable.args[0].value)
    if name in _ROW_METHODS and isinstance(func, cst.Attribute):  # `df.head(1).itertuples()`
        return _at_most_one(func.value)
    counts = positional[1:] if name == "islice" else positional[:1]
    counts += [literal(a.value) for a in iterable.args if a.keyword is not None and a.keyword.value == "n"]
    return name in _TAKE_METHODS and len(counts) == 1 and isinstance(counts[0], int) and counts[0] <= 1


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
    if isinstance(loop, (cst.For, cst.While, cst.Lambda, cst.FunctionDef)):
        return loop.body
    return loop.elt if not isinstance(loop, cst.DictComp) else cst.Tuple([cst.Element(loop.key), cst.Element(loop.value)])
