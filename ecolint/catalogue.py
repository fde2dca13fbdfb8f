"""The rule catalogue as data: what selection, the prefilter and output need, no rule imported.

Importing the rules costs LibCST and every helper module (about 0.45 s), and most files
of a tree cannot match any rule. `data/catalogue.json` records each rule's declared
fields; `python -m ecolint.docs` regenerates it from the rule classes and a test fails
when it is stale. A rule class is imported only when a file passes its prefilter.
"""

from __future__ import annotations

import functools
import importlib
import json
from dataclasses import asdict, dataclass
from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ecolint.rule import Rule


@dataclass(frozen=True)
class RuleSpec:
    """One rule's declared fields, and where its class lives."""

    code: str
    name: str
    summary: str
    module: str
    class_name: str
    triggers: tuple[str, ...]
    requires: tuple[str, ...] = ()
    identifier_strings: bool = True
    imports: tuple[str, ...] = ()
    gate: str | None = None
    context_words: tuple[str, ...] | None = None
    follows_calls: bool = True

    @classmethod
    def of(cls, rule: type[Rule]) -> RuleSpec:
        return cls(
            rule.code,
            rule.name,
            rule.summary,
            rule.__module__,
            rule.__qualname__,
            tuple(rule.triggers),
            tuple(rule.requires),
            rule.identifier_strings,
            tuple(rule.imports),
            rule.gate,
            None if rule.context_words is None else tuple(rule.context_words),
            rule.follows_calls,
        )

    def load(self) -> type[Rule]:
        return getattr(importlib.import_module(self.module), self.class_name)  # type: ignore[no-any-return]

    def url(self) -> str:
        return f"https://github.com/ecolint/ecolint/blob/main/rules/{self.code}.md"


def catalogue_json(rules: tuple[type[Rule], ...]) -> str:
    """The catalogue file's content for these rule classes."""
    rows = [asdict(RuleSpec.of(rule)) for rule in rules]
    return json.dumps(rows, indent=2, ensure_ascii=False) + "\n"


@functools.cache
def catalogue() -> tuple[RuleSpec, ...]:
    """Every rule's spec, ordered by code, read without importing a rule."""
    text = resources.files("ecolint").joinpath("data/catalogue.json").read_text(encoding="utf-8")
    specs = []
    for row in json.loads(text):
        for key in ("triggers", "requires", "imports", "context_words"):
            row[key] = None if row[key] is None else tuple(row[key])
        specs.append(RuleSpec(**row))
    return tuple(specs)


def spec_by_code(code: str) -> RuleSpec | None:
    return next((spec for spec in catalogue() if spec.code == code.upper()), None)
