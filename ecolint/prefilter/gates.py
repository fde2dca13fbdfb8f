"""Structural gates on the standard library's `ast`: could this rule flag anything here?

A rule names its gate (`Rule.gate`); the prefilter runs it, with the rule's triggers, on
files that passed the word stages, before LibCST. `ast` parses about ten times faster than LibCST and needs no
metadata, so a gate can ask structural questions cheaply. A gate over-approximates its
rule: it may answer True for a module the rule will not flag, never False for one it
would (tests compare findings with and without the prefilter on fixtures and real trees).
"""

from __future__ import annotations

import ast
import functools
import re
from typing import NamedTuple

from ecolint.prefilter.trees import children, walk

# Callees whose result may be a model (`Model.from_pretrained(...)`, or one wrapped by peft's
# `get_peft_model`) or a pipeline, and the parameter names ECO103 takes by convention for one
# (`model.generate`, `pipe(...)`).
_MODEL_LOADERS = frozenset({"from_pretrained", "from_config", "get_peft_model"})
_PIPELINE_LOADERS = frozenset({"pipeline"})
_MODEL_PARAMETERS = frozenset({"model"})
_PIPELINE_PARAMETERS = frozenset({"pipe", "generator"})
_QUANTIZATION_KEYWORDS = frozenset({"load_in_8bit", "load_in_4bit", "quantization_config"})
_CASTS = frozenset({"half", "float", "cuda", "to"})
_DTYPES = frozenset({"float16", "bfloat16", "float32", "float64"})  # ECO108's `.to(torch.float16)`
_PASS_THROUGH = frozenset({"to", "cuda", "eval", "half", "bfloat16", "float", "requires_grad_", "train"})  # as the flow's
_LOOPS = (ast.For, ast.AsyncFor, ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)  # not `while`: never flagged
# Calls that may run a callback once per item (`ds.map(f)`, `df.apply(f)`): loops to ECO103 (`analysis.loops`).
_MAPPERS = frozenset({"map", "apply", "progress_apply"})
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)


def _targets(assignment: ast.Assign | ast.AnnAssign | ast.NamedExpr) -> list[ast.expr]:
    return assignment.targets if isinstance(assignment, ast.Assign) else [assignment.target]


def _passed_parameters(function: ast.FunctionDef | ast.AsyncFunctionDef, method: bool) -> list[str]:
    """The parameters a call's arguments may fill: a method's `self` (or `cls`) is the receiver, never an argument."""
    arguments = function.args
    named = [a.arg for a in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs)]
    static = any(_last_name(d) == "staticmethod" for d in function.decorator_list)
    return named[1:] if method and not static and (arguments.posonlyargs or arguments.args) else named


def _last_name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


_Mentions = tuple[set[str], set[str], set[str]]  # names, attribute names, called names


class _Edges(NamedTuple):
    assignments: list[tuple[_Mentions, list[ast.expr]]]
    returns: list[tuple[str, list[_Mentions]]]  # per function
    parameters: dict[str, list[str]]  # per function name
    passing: list[tuple[str | None, _Mentions]]  # per call of a module function


class ModuleFacts:
    """What the gates ask of a module, gathered in one walk of its `ast` (the walk is most of their cost)."""

    def __init__(self, tree: ast.Module) -> None:
        self.keywords: set[str] = set()  # of call arguments, `f(load_in_8bit=True)`
        self.keys: set[object] = set()  # constant dict keys, `{"load_in_8bit": True}`
        self.model_loaders, self.pipeline_loaders = set(_MODEL_LOADERS), set(_PIPELINE_LOADERS)
        self.assignments: list[ast.Assign | ast.AnnAssign | ast.NamedExpr] = []
        self.classes: list[ast.ClassDef] = []
        self.functions: list[ast.FunctionDef | ast.AsyncFunctionDef] = []
        self.loops: list[ast.AST] = []
        self.parameters: set[str] = set()
        self.imports_transformers = False
        self.tree = tree
        self.config_names = {"BitsAndBytesConfig"}  # and its import aliases
        self.keyword_callees: set[str] = set()  # the last names of the calls given keywords (or `**`)
        self.unpacking_callees: set[str] = set()  # ... given a `**mapping`
        self.stored_keys: set[object] = set()  # `d["load_in_8bit"] = ...`, `d.setdefault("load_in_8bit", ...)`
        self.calls: list[ast.Call] = []
        # Each scope's own nodes (`own`), filled in the same walk: a node goes to the list of the
        # body it lies in, none for a function's or class's header, a lambda, or a nested def.
        self._own: dict[int, list[ast.AST]] = {id(tree): []}
        stack: list[tuple[ast.AST, list[ast.AST] | None]] = [(child, self._own[id(tree)]) for child in reversed(children(tree))]
        while stack:
            node, bucket = stack.pop()
            kind = type(node)
            if kind in _SCOPES:
                stack.extend(reversed(self._scope_children(node, bucket)))
            else:
                if bucket is not None:
                    bucket.append(node)
                stack.extend((child, bucket) for child in reversed(children(node)))
            if kind is ast.keyword:
                self.keywords.add(node.arg)  # type: ignore[attr-defined]
            elif kind is ast.Dict:
                self.keys.update(k.value for k in node.keys if type(k) is ast.Constant)  # type: ignore[attr-defined]
            elif kind is ast.Subscript and type(node.slice) is ast.Constant and type(node.ctx) is ast.Store:  # type: ignore[attr-defined]
                self.stored_keys.add(node.slice.value)  # type: ignore[attr-defined]  # `kwargs["load_in_8bit"] = True`
            elif kind is ast.Call:
                self.calls.append(node)  # type: ignore[arg-type]
                func = node.func  # type: ignore[attr-defined]
                if _last_name(func) in _MAPPERS:
                    self.loops.append(node)
                if type(func) is ast.Attribute and func.attr == "setdefault":
                    self.stored_keys.update(a.value for a in node.args[:1] if type(a) is ast.Constant)  # type: ignore[attr-defined]
                if node.keywords:  # type: ignore[attr-defined]
                    self.keyword_callees.add(_last_name(func))  # type: ignore[arg-type]
                if any(k.arg is None for k in node.keywords):  # type: ignore[attr-defined]
                    self.unpacking_callees.add(_last_name(func))  # type: ignore[arg-type]
            elif kind is ast.arg:
                self.parameters.add(node.arg)  # type: ignore[attr-defined]
            elif kind is ast.Assign or kind is ast.AnnAssign or kind is ast.NamedExpr:
                self.assignments.append(node)  # type: ignore[arg-type]
            elif kind in _LOOPS:
                self.loops.append(node)
            elif kind in _FUNCTIONS:
                self.functions.append(node)  # type: ignore[arg-type]
            elif kind is ast.ClassDef:
                self.classes.append(node)  # type: ignore[arg-type]
            elif kind is ast.Import or kind is ast.ImportFrom:
                self._add_import(node)  # type: ignore[arg-type]

    def _add_import(self, node: ast.Import | ast.ImportFrom) -> None:
        modules = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
        self.imports_transformers = self.imports_transformers or any(m.split(".")[0] == "transformers" for m in modules)
        for alias in node.names:
            imported = alias.name.rsplit(".", 1)[-1]
            if alias.asname and imported in _MODEL_LOADERS:
                self.model_loaders.add(alias.asname)
            if alias.asname and imported in _PIPELINE_LOADERS:
                self.pipeline_loaders.add(alias.asname)
            if alias.asname and imported == "BitsAndBytesConfig":
                self.config_names.add(alias.asname)

    def _scope_children(self, node: ast.AST, bucket: list[ast.AST] | None) -> list[tuple[ast.AST, list[ast.AST] | None]]:
        """A def's, class's or lambda's children, with the own-node list each goes to: a function's body
        to its own, a class body's statements but its defs to the enclosing one, the rest to none."""
        found: list[tuple[ast.AST, list[ast.AST] | None]] = []
        if type(node) in _FUNCTIONS:
            self._own[id(node)] = []
        for name, value in ast.iter_fields(node):
            items = value if type(value) is list else [value]
            for item in items:
                if not isinstance(item, ast.AST) or name == "ctx":
                    continue
                if name == "body" and type(node) in _FUNCTIONS:
                    found.append((item, self._own[id(node)]))
                elif name == "body" and type(node) is ast.ClassDef and type(item) not in _FUNCTIONS:
                    found.append((item, bucket))
                else:
                    found.append((item, None))
        return found

    def own(self, owner: ast.Module | ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.AST]:
        """The nodes of a module's or a function's body, not those of the functions, lambdas and
        classes defined in it (a class body's other statements are its own), each found once:
        gathered for the module and every function of it in the one walk of `__init__`."""
        return self._own[id(owner)]

    @functools.cached_property
    def called_names(self) -> set[str | None]:
        """The last names of every callee (`load` of `x.load(...)`)."""
        return {_last_name(call.func) for call in self.calls}

    @functools.cached_property
    def edges(self) -> _Edges:
        """What `_propagate` follows, the same for every kind of holder: each assignment's mentions and
        targets (a parameter's default among them), each function's returned mentions (its own
        `return`s, as the flow reads them), the parameters each callee's name reaches (a class's
        name its `__init__`'s), and each call of a module function or class with the mentions of
        its arguments."""
        assignments = [(_mentions(a.value), _targets(a)) for a in self.assignments if a.value is not None]
        returns = [
            (f.name, [_mentions(n.value) for n in self.own(f) if type(n) is ast.Return and n.value is not None]) for f in self.functions
        ]
        methods = {id(s): klass for klass in self.classes for s in klass.body if type(s) in _FUNCTIONS}
        parameters: dict[str, list[str]] = {}
        for function in self.functions:
            arguments = function.args
            named = _passed_parameters(function, id(function) in methods)
            parameters.setdefault(function.name, []).extend(named)
            if function.name == "__init__" and id(function) in methods:
                parameters.setdefault(methods[id(function)].name, []).extend(named)  # `Class(...)` calls it
            positional = (*arguments.posonlyargs, *arguments.args)
            defaults = zip(positional[len(positional) - len(arguments.defaults) :], arguments.defaults)
            for argument, default in (*defaults, *zip(arguments.kwonlyargs, arguments.kw_defaults)):
                if default is not None:
                    assignments.append((_mentions(default), [ast.Name(argument.arg)]))
        passing = [
            (_last_name(n.func), _mentions_all([*n.args, *(k.value for k in n.keywords)]))
            for n in self.calls
            if _last_name(n.func) in parameters and (n.args or n.keywords)
        ]
        return _Edges(assignments, returns, parameters, passing)

    def dicts_reach_loads(self) -> bool:
        """Whether a dict built step by step can reach a load: `**` into a loader or a config, or
        `quantization_config=` / `model_kwargs=` given."""
        receivers = self.model_loaders | self.pipeline_loaders | self.config_names
        return bool(self.unpacking_callees & receivers) or not {"quantization_config", "model_kwargs"}.isdisjoint(self.keywords)

    def calls_in_loops(self) -> list[ast.Call]:
        """Every call inside a loop (a nested loop's calls once)."""
        calls: list[ast.Call] = []
        inner: set[int] = set()
        for loop in self.loops:  # outer loops first: the walk meets a parent before its children
            if id(loop) in inner:
                continue
            for node in walk(loop):
                if type(node) is ast.Call:
                    calls.append(node)  # type: ignore[arg-type]
                elif node is not loop and type(node) in _LOOPS:
                    inner.add(id(node))
        return calls


def keyword_or_key(facts: ModuleFacts, words: tuple[str, ...]) -> bool:
    """The quantization rules: a word is a call's keyword (`load_in_8bit=True`) or a dict's string key
    (in a literal, `d["load_in_8bit"] = ...` or `d.setdefault("load_in_8bit", ...)`).

    `ecolint.analysis.flow` reads keys only from call arguments, dict entries and those
    item assignments; a parameter or an attribute of that name (`def __init__(self,
    load_in_8bit=False)`) is not one.
    """
    if any(word in facts.keywords or word in facts.keys for word in words):
        return True
    return facts.dicts_reach_loads() and any(word in facts.stored_keys for word in words)


def bitsandbytes_config(facts: ModuleFacts, words: tuple[str, ...]) -> bool:
    """ECO109: the rule's words given to a bitsandbytes configuration: a `BitsAndBytesConfig(...)`
    call (or an import alias) with keywords or a `**mapping`, or a `quantization_config` keyword
    or key, and the words keywords or keys somewhere (`keyword_or_key`)."""
    return _configured(facts) and keyword_or_key(facts, words)


def bitsandbytes_config_options(facts: ModuleFacts, words: tuple[str, ...]) -> bool:
    """ECO110: a bitsandbytes configuration (as `bitsandbytes_config` finds one) and one of its
    options (the rule's words) a keyword or key somewhere."""
    return _configured(facts) and keyword_or_key(facts, words)


def _configured(facts: ModuleFacts) -> bool:
    return bool(facts.keyword_callees & facts.config_names) or "quantization_config" in facts.keywords | facts.keys


def generation_in_loop(facts: ModuleFacts, words: tuple[str, ...]) -> bool:
    """ECO103: a loop calls `.generate` on a model holder or calls a pipeline holder, or a function that does.

    Holders over-approximate what `ecolint.analysis.flow` may find made by a loader: names
    and attributes assigned (`=`, `:=`, a parameter's default) from a loader call (by its name
    or an import alias), from a holder, or from a call of a function that makes or returns one
    (a factory); the parameters of a function (or of a class's `__init__`) some call passes a
    holder to; and, in a module that imports transformers, parameters with the conventional names.
    """
    calls_in_loops = facts.calls_in_loops()
    if not calls_in_loops:
        return False
    models, pipelines = _loaded_holders(facts)
    called = {_last_name(call.func) for call in calls_in_loops}
    called |= {_last_name(a) for loop in facts.loops if type(loop) is ast.Call for a in (*loop.args, *(k.value for k in loop.keywords))}
    helpers = [f for f in facts.functions if f.name in called]

    def generates(call: ast.Call) -> bool:
        func = call.func
        if isinstance(func, ast.Attribute) and func.attr == "generate" and models.holds(func.value):
            return True
        return pipelines.holds(func)

    def found() -> bool:
        return any(generates(call) for call in calls_in_loops) or any(
            isinstance(n, ast.Call) and generates(n) for f in helpers for n in walk(f)
        )

    if found():  # the holders assigned a loader's result: most files stop here
        return True
    _propagate(facts, models)
    _propagate(facts, pipelines)
    return found()


def generation_holders(facts: ModuleFacts) -> set[str]:
    """ECO103's reach beyond its words: every name and attribute name that may hold a model or a
    pipeline, and every factory of one, as `generation_in_loop` grows them (the skeleton keeps
    each function naming one)."""
    found: set[str] = set()
    for holders in _loaded_holders(facts):
        _propagate(facts, holders)
        found |= holders.names | holders.attributes | holders.factories
    return found


def _loaded_holders(facts: ModuleFacts) -> tuple[_Holders, _Holders]:
    """The model and pipeline holders before `_propagate`: conventional parameters, and what is assigned a loader's result."""
    conventional = facts.parameters if facts.imports_transformers else set()
    models = _Holders(conventional & _MODEL_PARAMETERS, facts.model_loaders)
    pipelines = _Holders(conventional & _PIPELINE_PARAMETERS, facts.pipeline_loaders)
    for holders in (models, pipelines):
        for assignment in facts.assignments:
            if assignment.value is not None and _mentions(assignment.value)[2] & holders.loaders:
                for target in _targets(assignment):
                    holders.add(target)
    return models, pipelines


# A parameter of a conventional name, as code writes one: `(model`, `, pipe=None`, `lambda generator:`.
_CONVENTIONAL_PARAMETER = re.compile(
    rf"(?:[(,*]|\blambda)[\s\\]*(?:{'|'.join(sorted(_MODEL_PARAMETERS | _PIPELINE_PARAMETERS))})[\s\\]*[:=,)]"
)
_LOADER_WORD = re.compile(rf"\b(?:{'|'.join(sorted(_MODEL_LOADERS | _PIPELINE_LOADERS))})\b")


def may_hold_a_generator(code: str) -> bool:
    """ECO103's gate on the code view (strings and comments blanked), before any parse: without a
    loader's name (also in the import that renames one) and without a parameter of a conventional
    name, `generation_in_loop` finds no holder, whatever the module does."""
    return _LOADER_WORD.search(code) is not None or _CONVENTIONAL_PARAMETER.search(code) is not None


# Gates that a text check on the code view may answer False for first, so the module is not parsed.
TEXT_CHECKS = {"generation_in_loop": may_hold_a_generator}
# Gates whose rule reads, beyond its words, names only the module itself tells: the names each
# gives for a module count as the rule's `context_words` there (`ecolint.prefilter.skeleton`).
CONTEXT_NAMES = {"generation_in_loop": generation_holders}


def cast_of_quantized_model(facts: ModuleFacts, words: tuple[str, ...]) -> bool:
    """ECO108: a `.half()` / `.float()` / `.cuda()` / `.to(<dtype>)` call on a holder of a model whose
    load may quantize (a quantization keyword or a `**mapping`).

    Holders are scoped, as the flow's bindings are: a name assigned in a function holds in that
    function (a module-level one everywhere), a `self` attribute in every method; they grow
    through assignments, factories (functions returning one) and call arguments (the callee's
    parameters), to a fixpoint.
    """
    if not any(_last_name(call.func) in _MODEL_LOADERS and _may_quantize(call) for call in facts.calls):
        return False  # every holder starts at such a load
    interesting = (ast.Assign, ast.AnnAssign, ast.Return, ast.Call)
    scopes = [(None, [n for n in facts.own(facts.tree) if isinstance(n, interesting)])]
    scopes += [(f, [n for n in facts.own(f) if isinstance(n, interesting)]) for f in facts.functions]
    if not any(
        isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in _CASTS for _, nodes in scopes for n in nodes
    ):
        return False
    by_name: dict[str, list[int]] = {}
    for index, (function, _) in enumerate(scopes):
        if function is not None:
            by_name.setdefault(function.name, []).append(index)
    local: list[set[str]] = [set() for _ in scopes]
    attributes: set[str] = set()
    factories: set[str] = set()

    def holds(node: ast.AST, index: int) -> bool:
        """Whether `node` may evaluate to the model itself, as `ecolint.analysis.flow`'s producers do."""
        while isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _PASS_THROUGH:
            node = node.func.value
        if isinstance(node, ast.IfExp):
            return holds(node.body, index) or holds(node.orelse, index)
        if isinstance(node, (ast.BoolOp, ast.Tuple, ast.List)):
            return any(holds(value, index) for value in (node.values if isinstance(node, ast.BoolOp) else node.elts))
        if isinstance(node, ast.Name):
            return node.id in local[index] or node.id in local[0]
        if isinstance(node, ast.Attribute):
            return node.attr in attributes
        if isinstance(node, ast.Call):
            last = _last_name(node.func)
            return last in factories or (last in _MODEL_LOADERS and _may_quantize(node))
        return False

    changed = True
    while changed:
        changed = False
        for index, (function, nodes) in enumerate(scopes):
            for node in nodes:
                if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None and holds(node.value, index):
                    for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                        for part in walk(target):
                            if isinstance(part, ast.Name) and part.id not in local[index]:
                                local[index].add(part.id)
                                changed = True
                            elif isinstance(part, ast.Attribute) and part.attr not in attributes:
                                attributes.add(part.attr)
                                changed = True
                elif isinstance(node, ast.Return) and function is not None and node.value is not None:
                    if function.name not in factories and holds(node.value, index):
                        factories.add(function.name)
                        changed = True
                elif isinstance(node, ast.Call) and _last_name(node.func) in by_name:
                    if any(holds(arg, index) for arg in (*node.args, *(k.value for k in node.keywords))):
                        for callee in by_name[_last_name(node.func)]:  # type: ignore[index]
                            arguments = scopes[callee][0].args  # type: ignore[union-attr]
                            new = {a.arg for a in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs)} - local[callee]
                            if new:
                                local[callee] |= new
                                changed = True

    def casts(call: ast.Call) -> bool:
        if call.func.attr != "to":  # type: ignore[attr-defined]
            return True
        return any(k.arg == "dtype" for k in call.keywords) or any(_last_name(a) in _DTYPES for a in call.args)

    for index, (_, nodes) in enumerate(scopes):
        for node in nodes:
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _CASTS and casts(node):
                if holds(node.func.value, index):
                    return True
    return False


def _propagate(facts: ModuleFacts, holders: _Holders) -> None:
    """Grow `holders` to a fixpoint over the module's assignments, factories and call arguments."""
    if not (holders.names or holders.attributes or holders.loaders & facts.called_names):
        return  # nothing holds one and nothing makes one
    assignments, returns, parameters, passing = facts.edges
    changed = True
    while changed:
        changed = False
        for mentioned, targets in assignments:
            if holders.makes(mentioned):
                for target in targets:
                    changed |= holders.add(target)
        for name, values in returns:
            if name not in holders.factories and any(holders.makes(m) for m in values):
                holders.factories.add(name)
                changed = True
        for callee, mentioned in passing:
            if holders.makes(mentioned):
                for parameter in parameters[callee]:
                    changed |= holders.add(ast.Name(parameter))


def _mentions_all(nodes: list[ast.AST]) -> _Mentions:
    names: set[str] = set()
    attributes: set[str] = set()
    called: set[str] = set()
    for node in nodes:
        more = _mentions(node)
        names |= more[0]
        attributes |= more[1]
        called |= more[2]
    return names, attributes, called


def _mentions(node: ast.AST) -> _Mentions:
    """Where an expression's value may come from, as the flow follows values: the names and attribute
    names it may be and the callees whose result it may be, through both sides of `a if c else b`
    and of `and`/`or`, the items of a tuple or list (unpacked), `:=`, `*x`, and the receiver of a
    method that returns it (`model.to("cuda")`). A call's arguments are not its value: they reach
    it only through a module function's parameters and return (`ModuleFacts.edges`)."""
    names: set[str] = set()
    attributes: set[str] = set()
    called: set[str] = set()
    stack = [node]
    while stack:
        n = stack.pop()
        kind = type(n)
        if kind is ast.Name:
            names.add(n.id)  # type: ignore[attr-defined]
        elif kind is ast.Attribute:
            attributes.add(n.attr)  # type: ignore[attr-defined]
        elif kind is ast.Call:
            func = n.func  # type: ignore[attr-defined]
            last = _last_name(func)
            if last:
                called.add(last)
            if type(func) is ast.Attribute and func.attr in _PASS_THROUGH:
                stack.append(func.value)
        elif kind is ast.IfExp:
            stack += (n.body, n.orelse)  # type: ignore[attr-defined]
        elif kind is ast.BoolOp:
            stack += n.values  # type: ignore[attr-defined]
        elif kind is ast.Tuple or kind is ast.List:
            stack += n.elts  # type: ignore[attr-defined]
        elif kind is ast.NamedExpr or kind is ast.Starred:
            stack.append(n.value)  # type: ignore[attr-defined]
    return names, attributes, called


def _may_quantize(call: ast.Call) -> bool:
    """A load whose keywords may ask for bitsandbytes: a flag, a `quantization_config`, or a `**mapping`."""
    return any(k.arg is None or k.arg in _QUANTIZATION_KEYWORDS for k in call.keywords)


class _Holders:
    """Names and attribute names that may hold a model (or a pipeline), and the callees that make one:
    its loaders (by name or import alias) and the module's functions that return one (factories)."""

    def __init__(self, names: set[str], loaders: set[str]) -> None:
        self.names = set(names)
        self.attributes: set[str] = set()
        self.loaders = loaders
        self.factories: set[str] = set()

    def add(self, target: ast.AST) -> bool:
        """Add a target's names; whether any was new."""
        if isinstance(target, (ast.Tuple, ast.List)):
            return any([self.add(element) for element in target.elts])
        if isinstance(target, ast.Starred):
            return self.add(target.value)
        if isinstance(target, ast.Name) and target.id not in self.names:
            self.names.add(target.id)
            return True
        if isinstance(target, ast.Attribute) and target.attr not in self.attributes:
            self.attributes.add(target.attr)
            return True
        return False

    def makes(self, mentioned: _Mentions) -> bool:
        names, attributes, called = mentioned
        return bool(called & self.loaders or called & self.factories or names & self.names or attributes & self.attributes)

    def holds(self, node: ast.AST) -> bool:
        """Whether `node` may evaluate to a model (or a pipeline)."""
        return self.makes(_mentions(node))
