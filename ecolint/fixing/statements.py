"""Removing a statement a fix makes pointless (`model.half()`, `model = prepare(model)`)."""

from __future__ import annotations

import libcst as cst

from ecolint.analysis.flow import Flow


def removable_statement(flow: Flow, value: cst.BaseExpression) -> cst.SimpleStatementLine | None:
    """The line whose whole statement is `value` or `name = value`, where its block keeps another statement."""
    line = flow.statement_of(value)
    if line is None or len(line.body) != 1:
        return None
    statement = line.body[0]
    whole = (isinstance(statement, cst.Expr) and statement.value is value) or (
        isinstance(statement, cst.Assign) and len(statement.targets) == 1 and statement.value is value
    )
    block = flow.parent(line)
    return line if whole and len(getattr(block, "body", ())) > 1 else None


def removal(line: cst.SimpleStatementLine) -> tuple[cst.CSTNode, cst.RemovalSentinel]:
    """A fix's replacement that removes `line` (its blank lines and comments stay, see `ecolint.fixing.fixes`)."""
    return line, cst.RemovalSentinel.REMOVE
