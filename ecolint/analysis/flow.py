"""Which values can reach an expression in one module: the layer every rule asks.

One `Flow` per parsed module, built by the engine and shared by the rules. It follows
values, bounded to the module (a notebook: all its cells) and `MAX_DEPTH` call levels:

- names through every binding the scope analysis gives them (`x = v`, `a, b = f()`, `:=`);
- `a if c else b` and `a or b` to both sides (one side where `c` is a literal);
- a function parameter to its default and to the arguments of every call of that
  function in the module (`self.m(...)` for a method, `Class(...)` for `__init__`);
  a function that escapes (passed as a callback, decorated by a framework) also gets
  a runtime value;
- a call of a module function (or `self.m()`) to what it returns: factories;
- `self.x` to every `self.x = ...` in the methods of the same class;
- dicts through `d[k] = v`, `d.update(...)`, `d.setdefault(...)`, `d |= {...}`, `**`
  unpacking, `dict(...)`, `.copy()` and helpers that return them; a key set under a
  condition is still set, unless the condition is known false (`if load_4bit:` where
  `load_4bit` is only ever its default False: `unreachable()`, which also silences any
  report in such a branch). A dict that escapes into a call the flow cannot see through
  is incomplete.

`values()` answers with leaves: the expressions the flow could not follow further. A
literal leaf is a known value; any other leaf (`args.int8`, a call's result, a loop
target) is a value known only at run time. `Keywords.complete` False means some keys
could not be known, and rules that need the absence of a key then stay silent.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Union

import libcst as cst
from libcst.metadata import Assignment, MetadataWrapper, QualifiedNameSource, ScopeProvider

from ecolint.analysis import names
from ecolint.analysis.names import UNKNOWN, find_all, is_builtin, literal, qualified_names
from ecolint.analysis.parents import ParentProvider, walk

if TYPE_CHECKING:
    from ecolint.analysis.model_ids import ModelIds

MAX_DEPTH = 4
_FUNCTIONS = (cst.FunctionDef,)
# Methods that return their receiver (models, pipelines, tensors): `from_pretrained(...).to("cuda").eval()`.
PASS_THROUGH_METHODS = frozenset({"to", "cuda", "eval", "half", "bfloat16", "float", "requires_grad_", "train"})
# Calls that read a dict without changing it or keeping it.
_READERS = frozenset(f"builtins.{name}" for name in ("print", "len", "repr", "str", "isinstance", "sorted", "list", "bool", "any", "all"))
_LOGGING_METHODS = frozenset({"debug", "info", "warning", "warn", "error", "log", "dumps", "dump", "pprint"})
# Packages whose calls read the dicts they are given (a loader, a config, `json.dumps`).
_LIBRARIES = ("transformers.", "peft.", "diffusers.", "trl.", "accelerate.", "torch.", "json.", "logging.", "pprint.")
_READ_METHODS = frozenset({"get", "items", "keys", "values", "copy", "__contains__"})
# Decorators that keep a function's callers the module's own.
_PLAIN_DECORATORS = frozenset(
    {"staticmethod", "classmethod", "property", "cache", "lru_cache", "cached_property", "no_grad", "inference_mode"}
)

KeywordNode = Union[cst.Arg, cst.DictElement, cst.Subscript, cst.Call]


@dataclass(frozen=True)
class Keyword:
    """One key that reaches a call or dict: `name=value`, `"name": value`, `d["name"] = value`,
    `d.update(name=value)` or `d.setdefault("name", value)`.

    `node` is where it is written and `container` the call, dict or statement holding it;
    `editable` says whether a fix may add or remove items beside it.
    """

    name: str
    node: KeywordNode
    value: cst.BaseExpression
    container: cst.CSTNode

    @property
    def editable(self) -> bool:
        return isinstance(self.container, (cst.Call, cst.Dict)) and isinstance(self.node, (cst.Arg, cst.DictElement))


@dataclass
class Keywords:
    """The keys that reach a call or dict. `complete` is False when some could not be known."""

    items: dict[str, Keyword] = field(default_factory=dict)
    complete: bool = True

    def get(self, name: str) -> Keyword | None:
        return self.items.get(name)

    def merge(self, other: Keywords | None) -> None:
        if other is None:
            self.complete = False
            return
        for name, keyword in other.items.items():
            self.items.setdefault(name, keyword)
        self.complete = self.complete and other.complete

    @classmethod
    def union(cls, alternatives: list[Keywords]) -> Keywords:
        """Every key any alternative may carry; complete only if all are and there is one."""
        merged = cls(complete=bool(alternatives))
        for alternative in alternatives:
            merged.merge(alternative)
        return merged


@dataclass(frozen=True)
class Constant:
    """What a value can be: the literals it may hold, and whether it may be something known only at run time."""

    known: tuple[Any, ...]
    runtime: bool

    def may_be_truthy(self) -> bool:
        return self.runtime or any(bool(value) for value in self.known)

    def can_be(self, value: Any) -> bool:
        return any(known is value or (type(known) is type(value) and known == value) for known in self.known)


@dataclass(frozen=True)
class _CallSites:
    calls: tuple[tuple[cst.Call, int], ...]  # each call, and how many leading parameters it fills implicitly (self)
    escapes: bool  # also called from where the module cannot see


class Flow(cst.MetadataDependent):
    """Values, dicts and receivers of one module; its tables are built on first use."""

    METADATA_DEPENDENCIES = names.METADATA

    def __init__(self, wrapper: MetadataWrapper) -> None:
        super().__init__()
        self.wrapper = wrapper
        self.module = wrapper.module
        self.metadata = wrapper.resolve_many(self.METADATA_DEPENDENCIES)
        self._sites: dict[cst.FunctionDef, _CallSites] = {}
        self._attributes: dict[cst.ClassDef, dict[str, list[tuple[cst.BaseExpression, int | None]]]] = {}
        self._memo: dict[str, Any] = {}

    @functools.cached_property
    def model_ids(self) -> ModelIds:
        """The model ids load calls name (`ecolint.analysis.model_ids`)."""
        from ecolint.analysis.model_ids import ModelIds

        return ModelIds(self)

    def memo(self, key: str, compute: Callable[[], Any]) -> Any:
        """A module-wide table computed once per flow (by whichever rule asks first)."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def calls(self) -> list[cst.Call]:
        """Every call in the module (shared by the rules' module-wide tables)."""
        return self.memo("calls", lambda: self.nodes(cst.Call))

    def nodes(self, *kinds: type[cst.CSTNode]) -> list[Any]:
        """The module's nodes of these kinds, read off the parent table (it holds every node but
        the module): no walk of the tree, and each node's type tested against a set (`isinstance`
        on LibCST's abstract classes is slow)."""
        table = self.metadata[ParentProvider]
        present = self.memo("node_types", lambda: {type(n) for n in table})
        wanted = {kind for kind in present if issubclass(kind, kinds)}
        return [n for n in table if type(n) in wanted]

    @classmethod
    def from_source(cls, text: str) -> Flow:
        """A flow over `text`, for tests and tools."""
        return cls(MetadataWrapper(cst.parse_module(text), unsafe_skip_copy=True))

    # ---- names and bindings -------------------------------------------------------------

    def referents(self, name: cst.Name) -> list[Any]:
        """The bindings an access of `name` may see (assignments, parameters, imports, ...)."""
        scope = self.get_metadata(ScopeProvider, name, None)
        if scope is None:
            return []
        found = {id(r): r for access in scope.accesses[name] for r in access.referents}
        if not found and name.value in scope:  # a binding, not an access: `x` in `x = 1`
            found = {id(a): a for a in scope[name.value]}
        return list(found.values())

    def reaching(self, name: cst.Name) -> list[Any]:
        """The bindings that can reach this access of `name`: in straight-line code of one scope,
        not one made by the access's own statement (`model = load(model)`) or by a later one."""
        referents = self.referents(name)
        scope = self.get_metadata(ScopeProvider, name, None)
        statement = self.statement(name)
        if len(referents) < 2 or statement is None or self._in_loop(name):
            return referents
        reaching = []
        for referent in referents:
            node = getattr(referent, "node", None)
            binding = self.statement(node) if isinstance(referent, Assignment) and node is not None else None
            if binding is not None and referent.scope is scope and not self._in_loop(node):
                if binding is statement or self.order(binding) > self.order(statement):
                    continue
            reaching.append(referent)
        return reaching or referents

    def statement(self, node: cst.CSTNode) -> cst.BaseStatement | None:
        """The statement (simple line or compound) that holds `node`."""
        while node is not None and not isinstance(node, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
            node = self.parent(node)
        return node

    def _in_loop(self, node: cst.CSTNode) -> bool:
        parent = self.parent(node)
        while parent is not None and not isinstance(parent, (cst.FunctionDef, cst.Lambda, cst.ClassDef, cst.Module)):
            if isinstance(parent, (cst.For, cst.While, cst.CompFor)):
                return True
            parent = self.parent(parent)
        return False

    def parent(self, node: cst.CSTNode) -> cst.CSTNode | None:
        return self.get_metadata(ParentProvider, node, None)

    def statement_of(self, node: cst.CSTNode) -> cst.SimpleStatementLine | None:
        """The simple statement line holding `node`, if it sits in one."""
        statement = self.statement(self.parent(node))
        return statement if isinstance(statement, cst.SimpleStatementLine) else None

    def order(self, statement: cst.BaseStatement) -> int:
        """A statement's place in the module, for "which comes first" (-1: not a statement)."""
        return self.memo("order", lambda: _statement_order(self.module)).get(id(statement), -1)

    def conditional(self, node: cst.CSTNode) -> bool:
        """Whether `node` runs only under a condition within its function: an `if`, a conditional
        expression, the right side of `and`/`or`, a `try`, a `match`, a `while`."""
        child, parent = node, self.parent(node)
        while parent is not None and not isinstance(parent, (cst.FunctionDef, cst.Lambda, cst.Module)):
            if isinstance(parent, (cst.If, cst.Else, cst.Try, cst.ExceptHandler, cst.Match, cst.While)) and child is not getattr(
                parent, "test", None
            ):
                return True
            if isinstance(parent, cst.IfExp) and child is not parent.test:
                return True
            if isinstance(parent, cst.BooleanOperation) and child is parent.right:
                return True
            child, parent = parent, self.parent(parent)
        return False

    def unreachable(self, node: cst.CSTNode) -> bool:
        """Whether `node` sits in a branch of an `if` that the flow knows is never taken: `if load_4bit:`
        where every value `load_4bit` can have is falsy (a default of False that no call overrides)."""
        child, parent = node, self.parent(node)
        while parent is not None and not isinstance(parent, cst.Module):
            if isinstance(parent, cst.If) and child is not parent.test:
                truth = self._truth(parent.test)
                if truth is not None and truth is not (child is parent.body):
                    return True
            child, parent = parent, self.parent(parent)
        return False

    def _truth(self, test: cst.BaseExpression) -> bool | None:
        """The truth of a condition where every value it can have agrees; None where it may go either way."""
        if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
            inner = self._truth(test.expression)
            return None if inner is None else not inner
        constant = self.constant(test)
        truths = {bool(value) for value in constant.known}
        return truths.pop() if not constant.runtime and len(truths) == 1 else None

    def function_of(self, node: cst.CSTNode) -> cst.FunctionDef | None:
        """The function whose body holds `node`."""
        parent = self.parent(node)
        while parent is not None and not isinstance(parent, cst.FunctionDef):
            parent = self.parent(parent)
        return parent

    def class_of(self, function: cst.FunctionDef) -> cst.ClassDef | None:
        """The class `function` is a method of."""
        parent = self.parent(function)
        while parent is not None and not isinstance(parent, (cst.ClassDef, cst.FunctionDef, cst.Module)):
            parent = self.parent(parent)
        return parent if isinstance(parent, cst.ClassDef) else None

    def callee(self, call: cst.Call) -> cst.FunctionDef | cst.ClassDef | None:
        """The module's own function (or method through `self.m`, or class) a call calls."""
        func = call.func
        if isinstance(func, cst.Name):
            definitions = [a.node for a in self.referents(func) if isinstance(a, Assignment)]
            if len(definitions) == 1 and isinstance(definitions[0], (cst.FunctionDef, cst.ClassDef)):
                return definitions[0]
            return None
        if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and func.value.value == "self":
            function = self.function_of(call)
            klass = self.class_of(function) if function is not None else None
            if klass is not None:
                return self._methods(klass).get(func.attr.value)
        return None

    # ---- values --------------------------------------------------------------------------

    def values(self, expr: cst.BaseExpression) -> tuple[cst.BaseExpression, ...]:
        """The leaves `expr` may evaluate to (see the module docstring)."""
        return tuple(self._values(expr, 0, frozenset()))

    def _values(self, expr: cst.BaseExpression, depth: int, seen: frozenset[int]) -> Iterator[cst.BaseExpression]:
        if id(expr) in seen or depth > MAX_DEPTH:
            yield expr
            return
        seen = seen | {id(expr)}
        if isinstance(expr, cst.Name) and expr.value not in ("True", "False", "None"):
            referents = self.reaching(expr)
            if not referents:
                yield expr
            for referent in referents:
                found = list(self._binding_values(referent, expr, depth, seen))
                yield from found or [expr]
        elif (branches := self._branches(expr)) is not None:
            for branch in branches:
                yield from self._values(branch, depth, seen)
        elif isinstance(expr, cst.Attribute) and self._is_self(expr.value):
            assigned = self._self_attribute(expr)
            if not assigned:
                yield expr
            for value, index in assigned:
                yield from self._element(value, index, depth + 1, seen)
        elif isinstance(expr, cst.Call) and isinstance(callee := self.callee(expr), cst.FunctionDef):
            returned = self._returns(callee)
            if not returned:
                yield expr
            for value in returned:
                yield from self._values(value, depth + 1, seen)
        else:
            yield expr

    def _branches(self, expr: cst.BaseExpression) -> tuple[cst.BaseExpression, ...] | None:
        """What a conditional may evaluate to: both sides of `a if c else b` (one where `c` is a
        literal) and of `a or b`; None for any other expression."""
        if isinstance(expr, cst.IfExp):
            test = self.constant(expr.test)
            if not test.runtime and len(test.known) == 1:
                return (expr.body if test.known[0] else expr.orelse,)
            return expr.body, expr.orelse
        if isinstance(expr, cst.BooleanOperation) and isinstance(expr.operator, cst.Or):
            return expr.left, expr.right
        return None

    def _element(self, value: cst.BaseExpression, index: int | None, depth: int, seen: frozenset[int]) -> Iterator[cst.BaseExpression]:
        """Leaves of `value`, or of its `index`-th element where it is unpacked (`a, b = value`)."""
        if index is None:
            yield from self._values(value, depth, seen)
            return
        for leaf in self._values(value, depth, seen):
            if isinstance(leaf, (cst.Tuple, cst.List)) and len(leaf.elements) > index:
                element = leaf.elements[index]
                if not isinstance(element, cst.StarredElement):
                    yield from self._values(element.value, depth, seen)
                    continue
            # An element of something the flow cannot see into: `result[index]`, a runtime value.
            yield cst.Subscript(leaf, [cst.SubscriptElement(cst.Index(cst.Integer(str(index))))])

    def _binding_values(self, referent: Any, at: cst.Name, depth: int, seen: frozenset[int]) -> Iterator[cst.BaseExpression]:
        if not isinstance(referent, Assignment):
            return
        node = referent.node
        if isinstance(node, cst.Param):
            yield from self._parameter_values(node, depth, seen)
            return
        target = self._assigned(node)
        if target is not None:
            value, index = target
            yield from self._element(value, index, depth, seen)

    def _assigned(self, target: cst.CSTNode) -> tuple[cst.BaseExpression, int | None] | None:
        """The value a name or `self.x` target is bound to, and its index where unpacked."""
        parent = self.parent(target)
        index = None
        if isinstance(parent, cst.Element):
            sequence = self.parent(parent)
            if isinstance(sequence, (cst.Tuple, cst.List)):
                index = next((i for i, e in enumerate(sequence.elements) if e is parent), None)
                if any(isinstance(e, cst.StarredElement) for e in sequence.elements):
                    return None
                target, parent = sequence, self.parent(sequence)
        if isinstance(parent, cst.AssignTarget):
            statement = self.parent(parent)
            if isinstance(statement, cst.Assign):
                return statement.value, index
        if isinstance(parent, cst.AnnAssign) and parent.target is target and parent.value is not None:
            return parent.value, index
        if isinstance(parent, cst.NamedExpr) and parent.target is target:
            return parent.value, index
        return None

    def constant(self, expr: cst.BaseExpression) -> Constant:
        """The literal values `expr` may have, and whether it may hold a runtime value."""
        known, runtime = [], False
        for leaf in self.values(expr):
            value = literal(leaf)
            if value is UNKNOWN:
                runtime = True
            elif not any(k is value or (type(k) is type(value) and k == value) for k in known):
                known.append(value)
        return Constant(tuple(known), runtime)

    # ---- functions, parameters, returns ----------------------------------------------------

    def _parameter_values(self, param: cst.Param, depth: int, seen: frozenset[int]) -> Iterator[cst.BaseExpression]:
        function = self._function_of_param(param)
        if function is None:
            yield param.name
            return
        sites = self.call_sites(function)
        star = param.star in ("*", "**") or self._is_star_param(function, param)
        if star or sites.escapes or (not sites.calls and param.default is None):
            yield param.name  # a runtime value
        if star:
            return
        default_used = not sites.calls
        for call, implicit in sites.calls:
            argument = self._argument(call, function, param, implicit)
            if argument is UNKNOWN:
                yield param.name
            elif argument is None:
                default_used = True
            else:
                yield from self._values(argument, depth + 1, seen)
        if default_used and param.default is not None:
            yield from self._values(param.default, depth + 1, seen)

    def _is_star_param(self, function: cst.FunctionDef, param: cst.Param) -> bool:
        return param is function.params.star_arg or param is function.params.star_kwarg

    def _function_of_param(self, param: cst.Param) -> cst.FunctionDef | None:
        parent = self.parent(param)
        while parent is not None and not isinstance(parent, (cst.FunctionDef, cst.Lambda)):
            parent = self.parent(parent)
        return parent if isinstance(parent, cst.FunctionDef) else None

    def call_sites(self, function: cst.FunctionDef) -> _CallSites:
        """The calls of `function` in the module, and whether it may be called from elsewhere."""
        if function not in self._sites:
            self._sites[function] = self._find_call_sites(function)
        return self._sites[function]

    def _find_call_sites(self, function: cst.FunctionDef) -> _CallSites:
        escapes = any(not self._plain_decorator(d.decorator) for d in function.decorators)
        klass = self.class_of(function)
        calls: list[tuple[cst.Call, int]] = []
        if klass is None:
            references = self._references(function.name)
            for node in references:
                call = self.parent(node)
                if isinstance(call, cst.Call) and call.func is node:
                    calls.append((call, 0))
                else:
                    escapes = True
            return _CallSites(tuple(calls), escapes)
        is_static = any(names.code(d.decorator) == "staticmethod" for d in function.decorators)
        implicit = 0 if is_static else 1
        if function.name.value == "__init__":
            for node in self._references(klass.name):
                call = self.parent(node)
                if isinstance(call, cst.Call) and call.func is node:
                    calls.append((call, implicit))
                elif not isinstance(call, cst.ClassDef):
                    escapes = True
            return _CallSites(tuple(calls), escapes)
        for call in self._self_uses(klass).get(function.name.value, ()):
            if call is None:
                escapes = True  # `self.method` passed on, not called
            else:
                calls.append((call, 0))
        return _CallSites(tuple(calls), escapes)

    def _self_uses(self, klass: cst.ClassDef) -> dict[str, list[cst.Call | None]]:
        """`self.<name>` in the class: the call it makes, or None where it is not called (one walk per class)."""

        def compute() -> dict[str, list[cst.Call | None]]:
            found: dict[str, list[cst.Call | None]] = {}
            for attribute in find_all(klass, cst.Attribute):
                if self._is_self(attribute.value):
                    call = self.parent(attribute)
                    found.setdefault(attribute.attr.value, []).append(
                        call if isinstance(call, cst.Call) and call.func is attribute else None
                    )
            return found

        return self.memo(f"self_uses:{id(klass)}", compute)

    def passed_to(self, function: cst.FunctionDef) -> list[tuple[cst.Call, cst.Arg]]:
        """The calls the module hands `function` to as an argument (`ds.map(process)`), with that argument."""
        found = []
        for node in self._references(function.name):
            argument = self.parent(node)
            call = self.parent(argument) if isinstance(argument, cst.Arg) else None
            if isinstance(call, cst.Call) and argument.value is node:  # type: ignore[union-attr]
                found.append((call, argument))
        return found

    def _plain_decorator(self, decorator: cst.BaseExpression) -> bool:
        target = decorator.func if isinstance(decorator, cst.Call) else decorator
        last = target.attr.value if isinstance(target, cst.Attribute) else target.value if isinstance(target, cst.Name) else ""
        return last in _PLAIN_DECORATORS

    def _references(self, name: cst.Name) -> list[cst.CSTNode]:
        """The accesses of the definition bound by `name` (a def or class name)."""
        scope = self.get_metadata(ScopeProvider, name, None)
        if scope is None:
            return []
        found: list[cst.CSTNode] = []
        for assignment in scope.assignments[name.value]:
            if isinstance(assignment, Assignment) and getattr(assignment.node, "name", None) is name:
                found.extend(access.node for access in assignment.references)
        return found

    def _argument(self, call: cst.Call, function: cst.FunctionDef, param: cst.Param, implicit: int) -> Any:
        """The argument `call` passes for `param`; None: the default; UNKNOWN: cannot tell."""
        for arg in call.args:
            if arg.keyword is not None and arg.keyword.value == param.name.value:
                return arg.value
        positional = [*function.params.posonly_params, *function.params.params]
        given = [arg for arg in call.args if arg.keyword is None]
        if param in positional:
            index = positional.index(param) - implicit
            if index < 0:
                return UNKNOWN  # `self` itself
            if any(arg.star for arg in given[: index + 1]):
                return UNKNOWN
            if index < len(given):
                return given[index].value
        if any(arg.star == "**" for arg in call.args):
            return UNKNOWN
        return None

    def star_kwarg_keywords(self, param: cst.Param) -> Keywords | None:
        """The keys the callers of the function give its `**kwargs` parameter."""
        function = self._function_of_param(param)
        if function is None or param is not function.params.star_kwarg:
            return None
        sites = self.call_sites(function)
        if sites.escapes or not sites.calls:
            return None
        named = {p.name.value for p in (*function.params.posonly_params, *function.params.params, *function.params.kwonly_params)}
        alternatives = []
        for call, _ in sites.calls:
            found = Keywords()
            for arg in call.args:
                if arg.keyword is not None and arg.keyword.value not in named:
                    found.items[arg.keyword.value] = Keyword(arg.keyword.value, arg, arg.value, call)
                elif arg.star == "**":
                    found.merge(self.dict_keywords(arg.value))
            alternatives.append(found)
        return Keywords.union(alternatives)

    def _returns(self, function: cst.FunctionDef) -> list[cst.BaseExpression]:
        found = []
        for node in _own_nodes(function.body, cst.Return):
            found.append(node.value if node.value is not None else cst.Name("None"))
        return found

    # ---- classes and `self` ----------------------------------------------------------------

    def _is_self(self, expr: cst.BaseExpression) -> bool:
        return isinstance(expr, cst.Name) and expr.value == "self"

    def _methods(self, klass: cst.ClassDef) -> dict[str, cst.FunctionDef]:
        return {s.name.value: s for s in klass.body.body if isinstance(s, cst.FunctionDef)}

    def _self_attribute(self, attribute: cst.Attribute) -> list[tuple[cst.BaseExpression, int | None]]:
        function = self.function_of(attribute)
        klass = self.class_of(function) if function is not None else None
        if klass is None:
            return []
        return self._class_attributes(klass).get(attribute.attr.value, [])

    def _class_attributes(self, klass: cst.ClassDef) -> dict[str, list[tuple[cst.BaseExpression, int | None]]]:
        """`self.x = v` (and `self.x, self.y = f()`) in the methods of `klass`: x → [(v, index)]."""
        if klass in self._attributes:
            return self._attributes[klass]
        found: dict[str, list[tuple[cst.BaseExpression, int | None]]] = {}
        self._attributes[klass] = found
        for attribute in find_all(klass, cst.Attribute):
            if not self._is_self(attribute.value):
                continue
            assigned = self._assigned(attribute)
            if assigned is not None:
                found.setdefault(attribute.attr.value, []).append(assigned)
        return found

    # ---- receivers ---------------------------------------------------------------------------

    def producers(self, expr: cst.BaseExpression) -> tuple[cst.BaseExpression, ...]:
        """What made the object `expr` holds: its leaves, through `.to(...)`, `.eval()` and the like."""
        found = []
        for leaf in self.values(expr):
            while isinstance(leaf, cst.Call) and isinstance(leaf.func, cst.Attribute) and leaf.func.attr.value in PASS_THROUGH_METHODS:
                inner = self.values(leaf.func.value)
                if len(inner) != 1:
                    found.extend(inner)
                    leaf = None
                    break
                leaf = inner[0]
            if leaf is not None:
                found.append(leaf)
        return tuple(found)

    # ---- dicts -------------------------------------------------------------------------------

    def dict_alternatives(self, expr: cst.BaseExpression) -> list[Keywords]:
        """The dicts `expr` may be, each with the keys known to reach it; [] when none is known."""
        return list(self._dicts(expr, 0, frozenset()))

    def dict_keywords(self, expr: cst.BaseExpression) -> Keywords | None:
        """Every key the dict `expr` may carry, over all its alternatives; None if none is known."""
        alternatives = self.dict_alternatives(expr)
        return Keywords.union(alternatives) if alternatives else None

    def _dicts(self, expr: cst.BaseExpression, depth: int, seen: frozenset[int]) -> Iterator[Keywords]:
        if id(expr) in seen or depth > MAX_DEPTH:
            return
        seen = seen | {id(expr)}
        if isinstance(expr, cst.Name):
            for referent in self.referents(expr):
                yield from self._binding_dicts(referent, depth, seen)
        elif isinstance(expr, cst.Dict):
            found = Keywords()
            for element in expr.elements:
                if isinstance(element, cst.StarredDictElement):
                    found.merge(self._union(self._dicts(element.value, depth, seen)))
                    continue
                key = self._key(element.key)
                if isinstance(key, str):
                    found.items[key] = Keyword(key, element, element.value, expr)
                else:
                    found.complete = False
            nested = self._nested_changes(expr, depth, seen)
            if nested is not None:
                found.items.update(nested.items)
                found.complete = found.complete and nested.complete
            yield found
        elif isinstance(expr, cst.Call) and is_builtin(self, expr.func, "dict"):
            found = Keywords()
            for arg in expr.args:
                if arg.keyword is not None:
                    found.items[arg.keyword.value] = Keyword(arg.keyword.value, arg, arg.value, expr)
                else:
                    found.merge(self._union(self._dicts(arg.value, depth, seen)))
            yield found
        elif isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute) and expr.func.attr.value == "copy" and not expr.args:
            yield from self._dicts(expr.func.value, depth, seen)
        elif (branches := self._branches(expr)) is not None:
            for branch in branches:
                yield from self._dicts(branch, depth, seen)
        elif isinstance(expr, cst.Attribute) and self._is_self(expr.value):
            for value, index in self._self_attribute(expr):
                if index is None:
                    yield from self._dicts(value, depth + 1, seen)
        elif isinstance(expr, cst.Call) and isinstance(callee := self.callee(expr), cst.FunctionDef):
            for value in self._returns(callee):
                yield from self._dicts(value, depth + 1, seen)

    def _union(self, alternatives: Iterator[Keywords]) -> Keywords | None:
        found = list(alternatives)
        return Keywords.union(found) if found else None

    def _key(self, expr: cst.BaseExpression) -> Any:
        constant = self.constant(expr)
        return constant.known[0] if not constant.runtime and len(constant.known) == 1 else UNKNOWN

    def _binding_dicts(self, referent: Any, depth: int, seen: frozenset[int]) -> Iterator[Keywords]:
        if not isinstance(referent, Assignment):
            return
        node = referent.node
        if isinstance(node, cst.Param):
            if node.star == "**":
                found = self.star_kwarg_keywords(node)
                yield found if found is not None else Keywords(complete=False)
                return
            for value in self._parameter_values(node, depth, seen):
                if value is not node.name:
                    yield from self._dicts(value, depth + 1, seen)
            return
        assigned = self._assigned(node)
        changes = self._changes(referent, depth, seen)
        if assigned is None or assigned[1] is not None:
            if changes.items:
                yield Keywords(changes.items, complete=False)
            return
        bases = list(self._dicts(assigned[0], depth, seen))
        if not bases and changes.items:
            bases = [Keywords(complete=False)]  # a dict from elsewhere, with keys set here
        for base in bases:
            merged = Keywords(dict(base.items), base.complete)
            for name, keyword in changes.items.items():
                merged.items[name] = keyword
            merged.complete = merged.complete and changes.complete
            yield merged

    def _changes(self, assignment: Assignment, depth: int, seen: frozenset[int]) -> Keywords:
        """The keys the uses of a dict binding set, and whether any use may set others or escape."""
        return self._changes_through([access.node for access in assignment.references], depth, seen)

    def _nested_changes(self, literal: cst.Dict, depth: int, seen: frozenset[int]) -> Keywords | None:
        """The keys set through the binding of an enclosing dict: `kwargs["model_kwargs"]["load_in_4bit"] = True`
        sets a key of the literal that is `kwargs = {..., "model_kwargs": {...}}`'s entry. None: not such an entry."""
        element = self.parent(literal)
        outer = self.parent(element) if isinstance(element, cst.DictElement) and element.value is literal else None
        statement = self.parent(outer) if isinstance(outer, cst.Dict) else None
        if not (isinstance(statement, cst.Assign) and statement.value is outer and len(statement.targets) == 1):
            return None
        target, key = statement.targets[0].target, self._key(element.key)  # type: ignore[union-attr]
        scope = self.get_metadata(ScopeProvider, target, None) if isinstance(target, cst.Name) else None
        if scope is None or not isinstance(key, str):
            return None
        binding = next((a for a in scope.assignments[target.value] if getattr(a, "node", None) is target), None)
        if binding is None:
            return None
        entries = [self.parent(access.node) for access in binding.references]
        return self._changes_through([e for e in entries if isinstance(e, cst.Subscript) and self._subscript_key(e) == key], depth, seen)

    def _subscript_key(self, subscript: cst.Subscript) -> Any:
        index = subscript.slice[0].slice if len(subscript.slice) == 1 else None
        return self._key(index.value) if isinstance(index, cst.Index) else UNKNOWN

    def _changes_through(self, uses: list[cst.CSTNode], depth: int, seen: frozenset[int]) -> Keywords:
        """The keys these uses of one dict set (`use[k] = v`, `use.update(...)`, ...), and whether any may set others or escape."""
        found = Keywords()
        for node in uses:
            if self.unreachable(node):
                continue
            parent = self.parent(node)
            grand = self.parent(parent) if parent is not None else None
            if isinstance(parent, cst.Subscript) and parent.value is node:
                if isinstance(grand, cst.AssignTarget):
                    statement = self.parent(grand)
                    key = self._subscript_key(parent)
                    if isinstance(key, str) and isinstance(statement, cst.Assign):
                        found.items[key] = Keyword(key, parent, statement.value, statement)
                    else:
                        found.complete = False
                elif isinstance(grand, (cst.Del, cst.AugAssign)):
                    found.complete = False
            elif isinstance(parent, cst.Attribute) and parent.value is node and isinstance(grand, cst.Call) and grand.func is parent:
                method = parent.attr.value
                if method == "update":
                    for arg in grand.args:
                        if arg.keyword is not None:
                            found.items[arg.keyword.value] = Keyword(arg.keyword.value, arg, arg.value, grand)
                        else:
                            found.merge(self._union(self._dicts(arg.value, depth + 1, seen)))
                elif method == "setdefault" and len(grand.args) == 2:
                    key = self._key(grand.args[0].value)
                    if isinstance(key, str):
                        found.items.setdefault(key, Keyword(key, grand, grand.args[1].value, grand))
                    else:
                        found.complete = False
                elif method not in _READ_METHODS:
                    found.complete = False
            elif isinstance(parent, cst.AugAssign) and parent.target is node:
                found.merge(self._union(self._dicts(parent.value, depth + 1, seen)))
            elif isinstance(parent, cst.Arg) and parent.star != "**" and isinstance(grand, cst.Call) and not self._reads_only(grand):
                found.complete = False  # handed to code that may set keys
        return found

    def _reads_only(self, call: cst.Call) -> bool:
        """Whether a call given a dict only reads it: builtins that read, logging, and the libraries' own APIs."""
        if isinstance(call.func, cst.Attribute) and call.func.attr.value in _LOGGING_METHODS:
            return True
        qualified = qualified_names(self, call.func)
        if any(q.source is QualifiedNameSource.BUILTIN and q.name in _READERS for q in qualified):
            return True
        return not any(q.source is QualifiedNameSource.LOCAL for q in qualified) and any(
            q.source is QualifiedNameSource.IMPORT and q.name.startswith(_LIBRARIES) for q in qualified
        )


def _statement_order(module: cst.Module) -> dict[int, int]:
    """Every statement's index in source order, without walking into expressions."""
    statements = (n for n in walk(module, (cst.SimpleStatementLine, cst.BaseExpression)) if isinstance(n, _STATEMENTS))
    return {id(statement): index for index, statement in enumerate(statements)}


_STATEMENTS = (cst.SimpleStatementLine, cst.BaseCompoundStatement)
_NESTED = (cst.FunctionDef, cst.ClassDef, cst.Lambda)


def _own_nodes(body: cst.CSTNode, kind: type[cst.CSTNode]) -> list[Any]:
    """Nodes of a kind in a function body, not in functions or classes nested in it."""
    return [n for n in walk(body, _NESTED) if isinstance(n, kind) and not isinstance(n, _NESTED)]
