"""Which linter a file gets, and fixing a source with it: shared by the commands and the language server.

`ecolint check` / `fix` (`ecolint.cli`) and `ecolint server` (`ecolint.server`) resolve settings,
choose rules and fix through these, so a file is linted the same way in CI and in the editor.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ecolint.config import Settings, SettingsResolver
    from ecolint.engine import Linter
    from ecolint.fixing.fixes import FixOutcome
    from ecolint.sources import Source


def settings_resolver(config_file: Path | None = None) -> SettingsResolver:
    """Settings for each path (`config_file` if given, else the nearest `[tool.ecolint]`), checked against every rule code."""
    from ecolint.catalogue import catalogue
    from ecolint.config import SettingsResolver

    return SettingsResolver(frozenset(spec.code for spec in catalogue()), config_file)


class Linters:
    """The linter for a file: the rules its settings enable for its path, with the project's model sizes and GPU.

    Built once per distinct choice of rules and context, so a run over many files (or an editor
    session over many edits) reuses them."""

    def __init__(self, fix_edits: bool = True) -> None:
        self._built: dict[tuple[frozenset[str], tuple[tuple[str, float], ...], str | None], Linter] = {}
        self.fix_edits = fix_edits  # False where no output shows a fix's edits (`Linter.fix_edits`)
        self._last: tuple[Settings, Linter] | None = None  # settings without per-file-ignores, and their linter

    def __call__(self, settings: Settings, path: Path | None) -> Linter:
        if self._last is not None and self._last[0] is settings:  # the next file of a directory, most often
            return self._last[1]
        from ecolint.catalogue import catalogue
        from ecolint.engine import Linter
        from ecolint.rule_context import RuleContext

        enabled = settings.enabled([spec.code for spec in catalogue()], path)
        key = (enabled, settings.models, settings.target_gpu)
        if key not in self._built:
            context = RuleContext(models=dict(settings.models), target_gpu=settings.target_gpu)
            self._built[key] = Linter([spec for spec in catalogue() if spec.code in enabled], context, fix_edits=self.fix_edits)
        if not settings.per_file_ignores:
            self._last = (settings, self._built[key])
        return self._built[key]


def fix_source(linter: Linter, source: Source, unsafe: bool) -> FixOutcome:
    """`source`'s text with its applicable fixes applied, re-linted until stable (FixError if a round does not parse)."""
    from ecolint.fixing.fixes import fix_until_stable

    def plan(text: str):  # type: ignore[no-untyped-def]
        result = linter.lint(source.with_text(text), plan_fixes=True)
        return result.module, result.planned

    return fix_until_stable(source.text, plan, unsafe)
