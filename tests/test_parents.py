"""`ParentProvider` gives LibCST's parent table, its code nodes in the order LibCST visits them."""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, ParentNodeProvider

from ecolint.analysis.parents import ParentProvider

FIXTURES = Path(__file__).parent / "fixtures"
CODE = (cst.BaseExpression, cst.BaseSmallStatement, cst.BaseStatement, cst.Arg, cst.Param, cst.Decorator)


class _VisitOrder(cst.CSTVisitor):
    def __init__(self) -> None:
        self.nodes: list[cst.CSTNode] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        self.nodes.append(node)
        return True


def _sources() -> list[Path]:
    import transformers

    installed = Path(transformers.__file__).parent
    real = [p for folder in ("pipelines", "generation") for p in sorted((installed / folder).glob("*.py")) if p.stat().st_size < 60_000]
    return sorted(FIXTURES.rglob("*.py")) + real


@pytest.mark.parametrize("path", _sources(), ids=lambda p: p.name)
def test_the_table_is_libcsts_and_lists_code_in_visit_order(path):
    module = cst.parse_module(path.read_text(encoding="utf-8"))
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    expected, table = wrapper.resolve(ParentNodeProvider), wrapper.resolve(ParentProvider)
    assert len(table) == len(expected) and all(table[node] is parent for node, parent in expected.items())
    visitor = _VisitOrder()
    module.visit(visitor)
    assert [n for n in table if isinstance(n, CODE)] == [n for n in visitor.nodes if isinstance(n, CODE)]


def test_decorators_and_conditional_values_come_in_source_order():
    module = cst.parse_module(
        "@first()\ndef f(a=second(), /, b=third()):\n    return fourth() if fifth() else sixth()\ntype X[T: seventh()] = eighth()\n"
    )
    table = MetadataWrapper(module, unsafe_skip_copy=True).resolve(ParentProvider)
    names = [n.func.value for n in table if isinstance(n, cst.Call)]
    assert names == ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth"]
