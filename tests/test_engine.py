"""The engine calls the rules' `visit_` methods itself, on the nodes off the flow's parent table:
the same findings as LibCST's batched visitor, for rules that only visit."""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest

import ecolint.engine
from ecolint.catalogue import catalogue
from ecolint.engine import Linter
from ecolint.sources import read_source

FIXTURES = Path(__file__).parent / "fixtures"


def test_rules_only_visit():
    """A `leave_` method or an `on_visit` override would not be called: no rule may have one."""
    base = cst.BatchableCSTVisitor
    for spec in catalogue():
        rule = spec.load()
        overridden = [n for n in dir(rule) if n.startswith(("leave_", "on_")) and getattr(rule, n) is not getattr(base, n, None)]
        assert overridden == [], spec.code


def _batched(rules, wrapper, flow):
    wrapper.visit_batched(rules)


@pytest.mark.parametrize("path", sorted(FIXTURES.rglob("*.py")) + sorted(FIXTURES.rglob("*.ipynb")), ids=lambda p: p.name)
def test_dispatch_finds_what_the_batched_visitor_finds(path, monkeypatch):
    linter = Linter(catalogue())
    source = read_source(path, path.name)
    dispatched = linter.lint(source).findings
    monkeypatch.setattr(ecolint.engine, "_visit", _batched)
    assert dispatched == linter.lint(source).findings
