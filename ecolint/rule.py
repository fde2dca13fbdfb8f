"""The base of every rule: declared data plus `visit_*` methods that read and report.

A rule is one file in `ecolint/rules/` holding one `Rule` subclass; it is found
there by `ecolint.rules.all_rules()` with nothing else to register. Its docstring
is its documentation (What it does / Why is this bad? / Example / Use instead /
Fix safety ...), rendered by `ecolint rule` and into the `rules/` pages.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import libcst as cst

from ecolint import names
from ecolint.fixes import Fix
from ecolint.model_ids import ModelIds


class FixAvailability(str, enum.Enum):
    NONE = "none"
    SOMETIMES = "sometimes"
    ALWAYS = "always"


@dataclass(frozen=True)
class RuleContext:
    """What a rule may know beyond the tree: the file and the project's settings."""

    path: Path | None = None
    models: Mapping[str, float] = field(default_factory=dict)  # model id → billions of parameters
    target_gpu: str | None = None


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
    # A file whose text contains none of `triggers`, or misses one of `requires`, cannot be
    # flagged by the rule; when that holds for every enabled rule, the file is not parsed.
    triggers: ClassVar[tuple[str, ...]]
    requires: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def could_match(cls, text: str) -> bool:
        return any(t in text for t in cls.triggers) and all(r in text for r in cls.requires)

    METADATA_DEPENDENCIES = names.METADATA

    def __init__(self, module: cst.Module, context: RuleContext | None = None) -> None:
        super().__init__()
        self.module = module
        self.context = context or RuleContext()
        self.reports: list[Report] = []

    @functools.cached_property
    def model_ids(self) -> ModelIds:
        """Resolves the model ids of load calls in this module."""
        return ModelIds(self, self.module)

    def report(self, node: cst.CSTNode, message: str, fix: Fix | None = None, data: Mapping[str, Any] | None = None) -> None:
        self.reports.append(Report(type(self), node, message, fix, dict(data or {})))

    @classmethod
    def documentation(cls) -> str:
        import inspect

        return inspect.cleandoc(cls.__doc__ or "")

    @classmethod
    def url(cls) -> str:
        return f"https://github.com/ecolint/ecolint/blob/main/rules/{cls.code}.md"
