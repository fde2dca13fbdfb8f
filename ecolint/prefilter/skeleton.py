"""A module without the functions its rules cannot read, so LibCST parses less.

LibCST's cost grows with the nodes it builds, blank lines included, and is high: a
350 KB test module takes 0.7 s to parse and 6 s to resolve scopes, qualified names,
parents and positions. A rule that declares `context_words` reads beyond the function
holding what it flags only through name bindings, imports, those words and the names its
gate finds in the module (`gates.CONTEXT_NAMES`: ECO103's model and pipeline holders), and
into the functions it calls only as far as the flow follows calls. So, when checking (never
when fixing), a module-level function or a method of a module-level class is left out,
decorators included, when the code of its body holds none of: the rules' words, `global`,
an import alias of a rule word, a module-level name it may change in place (`NAME[...]`,
`NAME.x = `, `NAME.update(`, `setattr`, `del`). Where the text left still names it (or its
class would be left empty), its header stays with `pass` for a body. Kept lines are kept
whole, and `Skeleton.rows` maps each back to its row in the source."""

from __future__ import annotations

import ast
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from ecolint.prefilter.gates import ModuleFacts
from ecolint.prefilter.stages import code_view
from ecolint.prefilter.trees import children

_LINES = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")
_WORD = re.compile(r"\w+")
# How many calls away from a function a rule reads the skeleton keeps: the flow's bound
# (`ecolint.analysis.flow.MAX_DEPTH`, a test checks they agree) plus the call itself.
FOLLOWED_CALLS = 5
_SELF_NAME = re.compile(r"\bself\s*\.\s*(\w+)")
_SCOPE_WORDS = frozenset({"global"})  # rebinds a module-level name (`nonlocal`, `import` bind locals)
_UNSETTERS = frozenset({"setattr", "delattr", "del"})  # with a module-level name: may change it
_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


@dataclass(eq=False)
class _Function:
    name: str
    start: int  # 1-based line of its first decorator, or of `def`
    first: int  # 1-based line of the first statement of the body
    last: int
    indent: str  # of the body
    words: Counter[str]  # in the code of the whole definition (`ecolint.prefilter.stages.code_view`)
    header_words: Counter[str]  # in the code of its decorators and `def` line(s)
    body: str  # the code of its body
    body_words: set[str]
    only_child: bool  # the first statement of a class body that holds nothing but functions
    owner: str | None  # the class it is a method of
    self_names: frozenset[str]  # the attributes of `self` its body names (`self.load(...)`)
    self_assigned: frozenset[str]  # the attributes of `self` it assigns (`self.model = ...`)
    returns_value: bool  # `return <value>` (or `yield`) in its own body: a caller may read it
    takes_arguments: bool  # parameters beyond `self`: a caller's arguments may reach them


def _functions(facts: ModuleFacts, lines: list[str]) -> list[_Function]:
    """Module-level functions and methods whose body starts on a line of its own."""
    found = []
    containers: list[tuple[list[ast.stmt], str | None]] = [(facts.tree.body, None)]
    containers += [(node.body, node.name) for node in facts.tree.body if isinstance(node, ast.ClassDef)]
    for body, owner in containers:
        in_class = owner is not None
        all_functions = in_class and all(isinstance(s, _DEFINITIONS) for s in body)
        for position, function in enumerate(body):
            if not isinstance(function, _DEFINITIONS):
                continue
            first, last = function.body[0].lineno, function.end_lineno or function.body[-1].lineno
            indent = lines[first - 1][: function.body[0].col_offset]
            if first <= function.lineno or indent.strip():
                continue  # `def f(): return x`: the body shares the header's line
            start = min([function.lineno, *(d.lineno for d in function.decorator_list)])
            header = Counter(_words("".join(lines[start - 1 : first - 1])))
            code = code_view("".join(lines[first - 1 : last]))
            body_words = Counter(_WORD.findall(code))
            only_child = all_functions and position == 0
            found.append(
                _Function(
                    function.name,
                    start,
                    first,
                    last,
                    indent,
                    header + body_words,
                    header,
                    code,
                    set(body_words),
                    only_child,
                    owner,
                    frozenset(_SELF_NAME.findall(code)),
                    *_calls_facts(function, in_class, facts.own(function)),
                )  # fmt: skip
            )
    return found


def _calls_facts(function: ast.FunctionDef | ast.AsyncFunctionDef, method: bool, own: list[ast.AST]) -> tuple[frozenset[str], bool, bool]:
    """What the flow may read across a call of `function` (`own`: its body's own nodes): the `self`
    attributes it assigns, whether it returns a value, whether it takes arguments."""
    assigned: set[str] = set()
    returns = False
    for node in own:
        kind = type(node)
        if (kind is ast.Return or kind is ast.Yield or kind is ast.YieldFrom) and node.value is not None:  # type: ignore[attr-defined]
            returns = True
        elif kind is ast.Attribute and type(node.ctx) is ast.Store and type(node.value) is ast.Name and node.value.id == "self":  # type: ignore[attr-defined]
            assigned.add(node.attr)  # type: ignore[attr-defined]
    arguments = function.args
    count = len(arguments.posonlyargs) + len(arguments.args) + len(arguments.kwonlyargs) - (1 if method else 0)
    return frozenset(assigned), returns, count > 0 or arguments.vararg is not None or arguments.kwarg is not None


def _words(text: str) -> list[str]:
    """The words of `text`'s code: comments and strings do not count, identifier-like strings do."""
    return _WORD.findall(code_view(text))


def _module_level(tree: ast.Module) -> tuple[set[str], dict[str, str]]:
    """Names module-level statements assign (not defs, classes or imports; in a comprehension,
    only `:=`), and their import aliases (`from x import Trainer as T`: T → Trainer)."""
    names: set[str] = set()
    aliases: dict[str, str] = {}
    stack: list[tuple[ast.AST, bool]] = [(node, False) for node in tree.body]
    while stack:
        node, in_comprehension = stack.pop()
        if isinstance(node, (*_DEFINITIONS, ast.ClassDef, ast.Lambda)):
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            aliases.update((a.asname, a.name.rsplit(".", 1)[-1]) for a in node.names if a.asname)
        elif isinstance(node, ast.NamedExpr) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)) and not in_comprehension:
            names.add(node.id)
        in_comprehension = in_comprehension or isinstance(node, _COMPREHENSIONS)
        stack.extend((child, in_comprehension) for child in children(node))
    return names, aliases


@dataclass(frozen=True)
class Skeleton:
    """The text to parse, and for each of its rows the row of the original text it stands for."""

    text: str
    rows: tuple[int, ...]

    def original(self, row: int) -> int:
        return self.rows[row - 1] if 0 < row <= len(self.rows) else row


def skeleton(text: str, facts: ModuleFacts, rule_words: Iterable[str], follow_calls: bool = True) -> Skeleton | None:
    """`text` without the functions no rule can read, or with them stubbed; None when none can go.
    With `follow_calls`, a function one that is kept calls, or that calls it, is kept too."""
    lines = _LINES.findall(text)
    functions = _functions(facts, lines)
    bindings, aliases = _module_level(facts.tree)
    readable = set(rule_words) | _SCOPE_WORDS
    readable |= {alias for alias, name in aliases.items() if name in readable}
    mutated = _mutation_of(bindings) if bindings else None
    dropped = [f for f in functions if not _readable(f, readable, bindings, mutated)]
    if follow_calls:
        dropped = _connected(dropped, functions, text)
    if not dropped:
        return None
    left = Counter(_words(text))
    for function in dropped:
        left.subtract(function.words)
    stubs: set[int] = set()
    more = [f for f in dropped if f.only_child or left[f.name] > 0]
    while more:  # a stub's header comes back, and may name another function
        stubs.update(id(f) for f in more)
        for function in more:
            left.update(function.header_words)
        more = [f for f in dropped if id(f) not in stubs and left[f.name] > 0]
    kept: list[str | None] = list(lines)  # None: the row is left out
    after_marker = 0  # the row after the last left-out stretch
    for function in sorted(dropped, key=lambda f: f.start):
        stub = id(function) in stubs
        first = function.first if stub else function.start
        last = function.last
        while last < len(lines) and not lines[last].strip():
            last += 1  # and the blank lines after it: they lie between statements
        line = lines[first - 1]
        ending = line[len(line.rstrip("\r\n")) :]
        kept[first - 1 : last] = [None] * (last - first + 1)
        if stub:
            kept[first - 1] = f"{function.indent}pass{ending}"
        else:
            # One empty comment stands for a stretch left out, so an edit next to it maps to
            # the same side of it in the original.
            if first != after_marker:
                kept[first - 1] = f"#{ending}"
            after_marker = last + 1
    rows = tuple(row for row, line in enumerate(kept, start=1) if line is not None)
    return Skeleton("".join(line for line in kept if line is not None), rows)


def _connected(dropped: list[_Function], functions: list[_Function], text: str) -> list[_Function]:
    """Those of `dropped` that still go once calls are followed as the flow follows them: a
    module-level function called by name, a method through `self.name` in its own class, a
    class's `__init__` through the class's name, a `self` attribute through the methods that
    assign it. What the code kept calls stays where it returns a value (a factory's result
    reaches its caller); a function that calls a kept one stays where that one takes arguments
    (they reach its parameters); a method that assigns a `self` attribute a kept method reads
    stays. As many calls away as the flow goes."""
    left = Counter(_words(text))
    for function in dropped:
        left.subtract(function.words)
    kept = [f for f in functions if all(f is not d for d in dropped)]
    for _ in range(FOLLOWED_CALLS):
        takes = {f.name for f in kept if f.owner is None and f.takes_arguments}
        takes |= {f.owner for f in kept if f.owner and f.name == "__init__" and f.takes_arguments}
        methods_taking = {(f.owner, f.name) for f in kept if f.owner and f.takes_arguments}
        self_read = {(f.owner, name) for f in kept if f.owner for name in f.self_names}

        def connected(f: _Function, takes=takes, methods_taking=methods_taking, self_read=self_read) -> bool:
            if f.returns_value and (left[f.name] > 0 if f.owner is None else (f.owner, f.name) in self_read):
                return True  # kept code calls it and may read what it returns
            if not f.body_words.isdisjoint(takes) or any((f.owner, name) in methods_taking for name in f.self_names):
                return True  # it calls a kept function, whose parameters its arguments reach
            return f.owner is not None and any((f.owner, name) in self_read for name in f.self_assigned)

        more = [f for f in dropped if connected(f)]
        if not more:
            break
        for function in more:
            left.update(function.words)
        kept += more
        dropped = [f for f in dropped if all(f is not m for m in more)]
    return dropped


def _mutation_of(names: set[str]) -> re.Pattern[str]:
    """A use that may change one of `names` in place, as `ecolint.analysis.names` sees one: an item or
    attribute assigned (`NAME[...]`, `NAME.x = `, `NAME.x += `), a mutating method called."""
    from ecolint.analysis.names import MUTATING_METHODS

    name = "|".join(map(re.escape, sorted(names)))
    methods = "|".join(sorted(MUTATING_METHODS))
    return re.compile(rf"\b(?:{name})\s*(?:\[|\.\s*\w+\s*[-+*/%&|^@<>]{{0,2}}=(?!=)|\.\s*(?:{methods})\s*\()")


def _readable(function: _Function, readable: set[str], bindings: set[str], mutated: re.Pattern[str] | None) -> bool:
    """Whether a rule may read the body: it holds a rule's word, or may change a module-level object."""
    if not readable.isdisjoint(function.body_words):
        return True
    if mutated is None or bindings.isdisjoint(function.body_words):
        return False
    return not _UNSETTERS.isdisjoint(function.body_words) or mutated.search(function.body) is not None
