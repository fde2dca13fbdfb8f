"""Add the imports a fix needs, placed as LibCST's `AddImportsVisitor` places them.

Written out because that visitor lives in LibCST's codemod package, whose import (it pulls in
`libcst.matchers`) costs about 0.5 s: more than linting a large file, for every run that
reports a fix adding an import. What counts, as there: the module's leading import block
(after a docstring), one import per line. A name it imports plainly is not imported again;
a missing `from M import x` joins the block's first `from M import ...` line, first among its
names; the rest become new lines after the block (`import M` first), and the statement after
them is kept a blank line away.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

import libcst as cst

from ecolint.analysis.names import code, single_statement


class Request(Protocol):
    module: str
    obj: str | None  # None: `import module`


def _only_import(statement: cst.BaseStatement) -> cst.Import | cst.ImportFrom | None:
    """The import a statement line consists of, if it is a line holding just one."""
    node = single_statement(statement)
    return node if isinstance(node, (cst.Import, cst.ImportFrom)) else None


def _opens_with_docstring(body: list[cst.BaseStatement]) -> bool:
    node = single_statement(body[0]) if body else None
    if isinstance(node, cst.Expr):
        return isinstance(node.value, cst.SimpleString)
    return isinstance(node, cst.Assign) and [code(t.target) for t in node.targets] == ["__strict__"]


def _imported_plainly(block: list[cst.Import | cst.ImportFrom]) -> tuple[set[str], dict[str, set[str]]]:
    """Modules the block imports (`import m`) and names it imports from each (`from m import x`; `*`)."""
    modules: set[str] = set()
    names: dict[str, set[str]] = {}
    for node in block:
        if isinstance(node, cst.Import):
            modules.update(code(alias.name) for alias in node.names if alias.asname is None)
        elif node.module is not None and not node.relative:
            found = names.setdefault(code(node.module), set())
            if isinstance(node.names, cst.ImportStar):
                found.add("*")
            else:
                found.update(code(alias.name) for alias in node.names if alias.asname is None)
    return modules, names


def add_imports(module: cst.Module, requests: Iterable[Request]) -> cst.Module:
    """`module` with each requested import present."""
    body = list(module.body)
    start = 1 if _opens_with_docstring(body) else 0
    end = start
    while end < len(body) and _only_import(body[end]) is not None:
        end += 1
    block = [node for node in map(_only_import, body[start:end]) if node is not None]
    modules, names = _imported_plainly(block)
    requests = list(requests)
    new_modules = sorted({r.module for r in requests if r.obj is None} - modules)
    new_names: dict[str, set[str]] = {}
    for request in sorted((r for r in requests if r.obj is not None), key=lambda r: (r.module, r.obj)):
        present = names.get(request.module, set())
        if request.obj not in present and "*" not in present:
            new_names.setdefault(request.module, set()).add(request.obj)  # type: ignore[arg-type]
    for index in range(start, end):
        node = _only_import(body[index])
        if isinstance(node, cst.ImportFrom) and node.module is not None and not node.relative:
            if isinstance(node.names, cst.ImportStar):
                continue
            added = new_names.pop(code(node.module), None)
            if added:
                joined = [*(cst.ImportAlias(name=cst.Name(name)) for name in sorted(added)), *node.names]
                body[index] = body[index].with_changes(body=[node.with_changes(names=joined)])  # type: ignore[attr-defined]
    lines = [f"import {name}" for name in new_modules] + [f"from {m} import {', '.join(sorted(n))}" for m, n in new_names.items()]
    if not lines:
        return module.with_changes(body=body)
    after = body[end:]
    if after:
        leading = after[0].leading_lines
        if not leading or leading[0].comment is not None:
            after[0] = after[0].with_changes(leading_lines=(cst.EmptyLine(), *leading))
    added_lines = [cst.parse_statement(line, config=module.config_for_parsing) for line in lines]
    return module.with_changes(body=[*body[:end], *added_lines, *after])
