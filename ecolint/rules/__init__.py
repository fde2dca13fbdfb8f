"""The rule catalogue: every `Rule` subclass defined in a module of this package."""

from __future__ import annotations

import functools
import importlib
import pkgutil
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ecolint.rule import Rule


@functools.cache
def all_rules() -> tuple[type[Rule], ...]:
    """All rules, ordered by code. A new rule is a new module here; nothing else to register."""
    from ecolint.rule import Rule

    found = []
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, Rule) and value.__module__ == module.__name__:
                found.append(value)
    return tuple(sorted(found, key=lambda rule: rule.code))


def rule_by_code(code: str) -> type[Rule] | None:
    return next((rule for rule in all_rules() if rule.code == code.upper()), None)
