"""A module with the function bodies its rules cannot read blanked, so LibCST parses less.

LibCST's cost is linear in the text and high: a 350 KB test module takes 0.7 s to parse
and 6 s to resolve scopes, qualified names, parents and positions. A rule that declares
`context_words` reads beyond the function holding what it flags only through name
bindings, imports and those words. So, when checking (never when fixing), the body of a
module-level function or of a method of a module-level class is replaced by `pass` when
it holds none of: the rules' words, `import` / `global` / `nonlocal`, a name bound at
module level (it could mutate it), an import alias of a rule word; and nothing outside
it names the function. Its lines stay, blank, so every position is unchanged.
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

_LINES = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")
_WORD = re.compile(r"\w+")
_SCOPE_WORDS = frozenset({"import", "global", "nonlocal"})
_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


@dataclass
class _Body:
    name: str
    first: int  # 1-based line of the first statement of the body
    last: int
    indent: str
    words: Counter[str]


def _bodies(tree: ast.Module, lines: list[str]) -> list[_Body]:
    """Bodies of module-level functions and methods that start on a line of their own."""
    functions = [node for node in tree.body if isinstance(node, _DEFINITIONS)]
    for klass in (node for node in tree.body if isinstance(node, ast.ClassDef)):
        functions.extend(node for node in klass.body if isinstance(node, _DEFINITIONS))
    bodies = []
    for function in functions:
        first, last = function.body[0].lineno, function.end_lineno or function.body[-1].lineno
        indent = lines[first - 1][: function.body[0].col_offset]
        if first <= function.lineno or indent.strip():
            continue  # `def f(): return x`: the body shares the header's line
        words = Counter(_WORD.findall("".join(lines[first - 1 : last])))
        bodies.append(_Body(function.name, first, last, indent, words))
    return bodies


def _module_bindings(tree: ast.Module) -> set[str]:
    """Names a module-level statement assigns (not defs, classes or imports; in a comprehension, only `:=`)."""
    names: set[str] = set()
    stack: list[tuple[ast.AST, bool]] = [(node, False) for node in tree.body]
    while stack:
        node, in_comprehension = stack.pop()
        if isinstance(node, (*_DEFINITIONS, ast.ClassDef, ast.Lambda)):
            continue
        if isinstance(node, ast.NamedExpr) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)) and not in_comprehension:
            names.add(node.id)
        in_comprehension = in_comprehension or isinstance(node, _COMPREHENSIONS)
        stack.extend((child, in_comprehension) for child in ast.iter_child_nodes(node))
    return names


def _aliases_of(tree: ast.Module, words: Iterable[str]) -> set[str]:
    wanted = set(words)
    return {
        alias.asname
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
        if alias.asname and alias.name.rsplit(".", 1)[-1] in wanted
    }


def skeleton(text: str, tree: ast.Module, rule_words: Iterable[str]) -> str | None:
    """`text` with the bodies no rule can read replaced by `pass`; None when none can be dropped."""
    lines = _LINES.findall(text)
    bodies = _bodies(tree, lines)
    if not bodies:
        return None
    interesting = set(rule_words) | _SCOPE_WORDS | _module_bindings(tree)
    interesting |= _aliases_of(tree, interesting)
    total = Counter(_WORD.findall(text))
    headers = Counter(body.name for body in bodies)
    dropped = [body for body in bodies if not interesting.intersection(body.words)]
    changed = True
    while changed:  # keep what the kept text names, until nothing more is kept
        remaining = total - sum((body.words for body in dropped), Counter())
        kept = [body for body in dropped if remaining[body.name] > headers[body.name]]
        dropped = [body for body in dropped if body not in kept]
        changed = bool(kept)
    if not dropped:
        return None
    for body in dropped:
        for row in range(body.first, body.last + 1):
            line = lines[row - 1]
            ending = line[len(line.rstrip("\r\n")) :]
            lines[row - 1] = f"{body.indent}pass{ending}" if row == body.first else ending
    return "".join(lines)
