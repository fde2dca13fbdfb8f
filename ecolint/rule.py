"""The base of every rule: declared data plus `visit_*` methods that read and report.

A rule is one file in `ecolint/rules/` holding one `Rule` subclass; it is found
there by `ecolint.rules.all_rules()`; `python -m ecolint.docs` records its declared
fields in the catalogue (`ecolint.catalogue`). Its docstring
is its documentation (What it does / Why is this bad? / Example / Use instead /
Fix safety ...), rendered by `ecolint rule` and into the `rules/` pages.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import libcst as cst

from ecolint.analysis import names
from ecolint.analysis.flow import Flow
from ecolint.analysis.model_ids import ModelIds
from ecolint.fixing.fixes import Fix
from ecolint.rule_context import RuleContext


class FixAvailability(str, enum.Enum):
    NONE = "none"
    SOMETIMES = "sometimes"
    ALWAYS = "always"


@dataclass(frozen=True, eq=False)
class Report:
    """What a rule said about one node, before the engine locates and filters it."""

    rule: type[Rule]
    node: cst.CSTNode
    message: str
    fix: Fix | None
    data: Mapping[str, Any] = field(default_factory=dict)


class Rule(cst.BatchableCSTVisitor):
    """Subclass, declare the class fields, and call `self.report` from `visit_*` methods."""

    code: ClassVar[str]
    name: ClassVar[str]  # kebab-case, names the flagged pattern
    summary: ClassVar[str]  # one line for the catalogue
    fix_availability: ClassVar[FixAvailability] = FixAvailability.NONE
    # What the prefilter (`ecolint.prefilter.stages`) may rely on: the rule flags only code that holds
    # one of `triggers` and all of `requires` as words outside strings and comments (a word
    # with a leading dot, `.generate`, as an attribute name; one ending in `(`, `pipe(`, called
    # or renamed by an import), or in a string that is an
    # identifier (a dict key, `"load_in_8bit"`) unless `identifier_strings` is False; imports
    # one of `imports` (if any), and passes `gate`, the name of a function in `ecolint.prefilter.gates`.
    # Recorded in the catalogue (`python -m ecolint.docs`), so a file that no rule can flag
    # is skipped without importing any rule.
    triggers: ClassVar[tuple[str, ...]]
    requires: ClassVar[tuple[str, ...]] = ()
    identifier_strings: ClassVar[bool] = True
    imports: ClassVar[tuple[str, ...]] = ()
    gate: ClassVar[str | None] = None
    # Beyond the functions holding its `triggers`, the rule reads the module only through name
    # bindings, imports, these words (a `requires` word read elsewhere is one) and the names its
    # gate gives where `gates.CONTEXT_NAMES` has it (so `ecolint.prefilter.skeleton` may drop
    # other bodies); None: it reads the whole module.
    context_words: ClassVar[tuple[str, ...] | None] = None
    # Whether it reads values through the module's calls (parameters from call sites, factories'
    # returns), so the skeleton keeps both sides of every call a kept function makes or receives.
    follows_calls: ClassVar[bool] = True

    METADATA_DEPENDENCIES = names.METADATA

    def __init__(self, module: cst.Module, context: RuleContext | None, flow: Flow) -> None:
        super().__init__()
        self.module = module
        self.context = context or RuleContext()
        self.flow = flow  # the module's value flow, shared by every rule of the run
        self.reports: list[Report] = []

    @property
    def model_ids(self) -> ModelIds:
        """Resolves the model ids of load calls in this module."""
        return self.flow.model_ids

    def report(self, node: cst.CSTNode, message: str, fix: Fix | None = None, data: Mapping[str, Any] | None = None) -> None:
        """Report `node`, unless it sits in a branch the flow knows is never taken."""
        if self.flow.unreachable(node):
            return
        self.reports.append(Report(type(self), node, message, fix, dict(data or {})))

    @classmethod
    def documentation(cls) -> str:
        import inspect

        return inspect.cleandoc(cls.__doc__ or "")

    @classmethod
    def url(cls) -> str:
        return f"https://github.com/ecolint/ecolint/blob/main/rules/{cls.code}.md"
