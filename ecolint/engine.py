"""Lint one source: prefilter → parse once → the rules left, on the nodes they visit → suppressions."""

from __future__ import annotations

import dataclasses
import functools
import re
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ecolint.catalogue import RuleSpec
from ecolint.diagnostics import SYNTAX_ERROR, Edit, Finding, FixSummary, Location
from ecolint.prefilter.stages import Prefilter
from ecolint.sources import Source

if TYPE_CHECKING:
    from pathlib import Path

    import libcst as cst
    from libcst.metadata import CodeRange

    from ecolint.analysis.flow import Flow
    from ecolint.fixing.fixes import PlannedFix
    from ecolint.rule import Report, Rule
    from ecolint.rule_context import RuleContext
    from ecolint.prefilter.gates import ModuleFacts
    from ecolint.prefilter.skeleton import Skeleton

_NOQA = re.compile(r"#\s*noqa(?::\s*(?P<codes>[A-Z]+[0-9]+(?:[\s,]+[A-Z]+[0-9]+)*))?", re.IGNORECASE)
_SOURCE_LINES_SHOWN = 4
# Below this size a whole parse costs LibCST under 0.1 s; above, checking parses `ecolint.prefilter.skeleton`'s text.
SKELETON_MIN_CHARS = 8_000
CHECKED_DOCUMENTS = 32  # how many documents' last parsed text a linter keeps


@dataclass
class LintResult:
    """Findings of one source, the parsed module, and the fixes planned for them."""

    findings: list[Finding] = field(default_factory=list)
    module: cst.Module | None = None
    planned: list[PlannedFix] = field(default_factory=list)


def suppressed_codes(text: str) -> dict[int, frozenset[str] | None]:
    """Row → codes its `# noqa: CODE, ...` suppresses (None: a bare `# noqa`, all)."""
    rows: dict[int, frozenset[str] | None] = {}
    if "noqa" not in text.lower():
        return rows
    for row, line in enumerate(text.splitlines(), start=1):
        match = _NOQA.search(line)
        if match:
            codes = match.group("codes")
            rows[row] = frozenset(c.upper() for c in re.split(r"[\s,]+", codes) if c) if codes else None
    return rows


def _is_suppressed_at(code: str, row: int, noqa: dict[int, frozenset[str] | None]) -> bool:
    if row not in noqa:
        return False
    codes = noqa[row]
    return codes is None or code in codes


class Linter:
    """Runs a fixed set of rules over sources; a rule class is imported when first needed."""

    def __init__(
        self, rules: Sequence[RuleSpec | type[Rule]], context: RuleContext | None = None, prefilter: bool = True, fix_edits: bool = True
    ) -> None:
        self.specs = tuple(rule if isinstance(rule, RuleSpec) else RuleSpec.of(rule) for rule in rules)
        self._classes = {rule.code: rule for rule in rules if not isinstance(rule, RuleSpec)}
        self.prefilter = Prefilter(self.specs) if prefilter else None
        self.context = context
        self.fix_edits = fix_edits  # False: findings carry each fix's title and safety, not its text edits
        # Per document (path, display name), the text it last parsed (skeleton or source), the rules
        # it ran and their located reports: an edit that leaves that text as it was (outside every
        # function a rule reads) is not parsed again.
        self._checked: OrderedDict[tuple[Path | None, str], tuple[tuple[str, tuple[str, ...]], list[_Located]]] = OrderedDict()

    def lint(self, source: Source, plan_fixes: bool = False) -> LintResult:
        """Findings of `source`; with plan_fixes, also the node-level fixes to apply."""
        return self._with_broken_cells(source, self._lint(source, plan_fixes))

    def lint_unparsed(self, source: Source) -> LintResult | None:
        """`lint(source)` where the prefilter leaves no rule to run, without importing LibCST; None where it leaves one."""
        if self.specs if self.prefilter is None else self.prefilter.candidates(source.text)[0]:
            return None
        return self._with_broken_cells(source, LintResult())

    def _with_broken_cells(self, source: Source, result: LintResult) -> LintResult:
        """In a notebook, a syntax error for each cell left out because it does not parse."""
        if source.notebook is not None and source.notebook.broken:
            broken = [
                _syntax_error(source, f"{e.message} (this cell is left out, the others are linted)", e.row, e.column)
                for e in source.notebook.broken
            ]
            result.findings = sorted(result.findings + _in_cells(broken, source), key=lambda f: (f.cell or 0, f.location, f.code))
        return result

    def _lint(self, source: Source, plan_fixes: bool) -> LintResult:
        candidates, facts = (self.specs, None) if self.prefilter is None else self.prefilter.candidates(source.text)
        if not candidates:
            return LintResult()
        parsed = None if plan_fixes else _skeleton(source.text, candidates, facts)
        document, codes = (source.path, source.display_name), tuple(spec.code for spec in candidates)
        last = self._checked.get(document)
        if not plan_fixes and last is not None and last[0] == (parsed.text if parsed is not None else source.text, codes):
            self._checked.move_to_end(document)  # the same text to parse as last time: the same reports, wherever its rows now lie
            return self._result(source, parsed, last[1])
        import libcst as cst

        try:
            module = _parse_skeleton(parsed) if parsed is not None else None
            if module is None:
                parsed = None
                module = cst.parse_module(source.text)
        except cst.ParserSyntaxError as exc:
            return LintResult(_in_cells([_syntax_error(source, exc.message, exc.raw_line, exc.raw_column + 1)], source))
        except RecursionError:
            return LintResult([_syntax_error(source, "too deeply nested to parse", 1, 1)])
        wrapper = cst.MetadataWrapper(module, unsafe_skip_copy=True)
        from libcst.metadata import PositionProvider

        from ecolint.analysis.flow import Flow
        from ecolint.rule_context import RuleContext

        # Positions with the flow's providers, in one resolve: LibCST walks the whole tree once more
        # for a provider like LibCST's positions resolved on its own, with nothing to visit.
        wrapper.resolve_many((*Flow.METADATA_DEPENDENCIES, PositionProvider))
        base = self.context or RuleContext()
        context = RuleContext(source.path, base.models, base.target_gpu)
        flow = Flow(wrapper)
        visitors = [self._rule(spec)(module, context, flow) for spec in candidates]
        _visit(visitors, wrapper, flow)
        text = parsed.text if parsed is not None else source.text
        located = self._locate(text, wrapper, [report for visitor in visitors for report in visitor.reports], plan_fixes)
        if not plan_fixes:
            self._checked[document] = ((text, codes), [item for item, _ in located])
            self._checked.move_to_end(document)
            while len(self._checked) > CHECKED_DOCUMENTS:
                self._checked.popitem(last=False)
        result = self._result(source, parsed, [item for item, _ in located], [planned for _, planned in located])
        result.module = module
        return result

    def _rule(self, spec: RuleSpec) -> type[Rule]:
        if spec.code not in self._classes:
            self._classes[spec.code] = spec.load()
        return self._classes[spec.code]

    def _locate(
        self, text: str, wrapper: cst.MetadataWrapper, reports: Iterable[Report], plan_fixes: bool
    ) -> list[tuple[_Located, PlannedFix | None]]:
        """Each report where `text` (the skeleton or the source LibCST parsed) has it, one per rule and
        place, with its fix's summary and, with plan_fixes, the fix to apply."""
        from libcst.metadata import PositionProvider

        from ecolint.fixing.fixes import FixEdits, PlannedFix

        positions = wrapper.resolve(PositionProvider)
        fix_edits = FixEdits(wrapper, text)
        located: list[tuple[_Located, PlannedFix | None]] = []
        seen: set[tuple[str, Location]] = set()
        for report in reports:
            where = positions[report.node]
            start, end = Location(where.start.line, where.start.column + 1), Location(where.end.line, where.end.column + 1)
            if (report.rule.code, start) in seen:
                continue
            seen.add((report.rule.code, start))
            summary = planned = None
            if report.fix is not None:
                edits = fix_edits.edits(report.fix) if self.fix_edits else ()
                summary = FixSummary(report.fix.title, report.fix.applicability, edits)
                if plan_fixes:
                    spans = tuple(_span(positions[old]) for old, _ in report.fix.replacements)
                    dropped = tuple(_span(positions[node]) for node in report.fix.drops if node in positions)
                    planned = PlannedFix(report.fix, spans, dropped)
            located.append((_Located(report.rule.code, report.rule.name, report.message, start, end, summary, report.data), planned))
        return located

    def _result(
        self, source: Source, parsed: Skeleton | None, located: list[_Located], planned: Sequence[PlannedFix | None] = ()
    ) -> LintResult:
        """The findings of `source` from its located reports: placed on its rows, `# noqa` applied, in cells for a notebook."""
        lines = source.text.splitlines()
        noqa = suppressed_codes(source.text)
        result = LintResult()
        for index, item in enumerate(located):
            start, end = _original(item.start, parsed), _original(item.end, parsed)
            if _is_suppressed_at(item.code, start.row, noqa):
                continue
            fix = item.fix
            if fix is not None and parsed is not None:
                edits = tuple(Edit(e.content, _original(e.location, parsed), _original(e.end_location, parsed)) for e in fix.edits)
                fix = FixSummary(fix.message, fix.applicability, edits)
            result.findings.append(
                Finding(
                    code=item.code,
                    name=item.name,
                    message=item.message,
                    path=source.display_name,
                    location=start,
                    end_location=end,
                    fix=fix,
                    source_lines=tuple(lines[start.row - 1 : min(end.row, start.row + _SOURCE_LINES_SHOWN - 1)]),
                    data=item.data,
                )
            )
            if index < len(planned) and planned[index] is not None:
                result.planned.append(planned[index])  # type: ignore[arg-type]
        result.findings.sort(key=lambda f: (f.location, f.code))
        result.findings = _in_cells(result.findings, source)
        return result


@dataclass(frozen=True)
class _Located:
    """One report where the parsed text has it, with its fix's summary there: all a lint of that text
    gives, whatever the rest of the source (`Linter` keeps these for each document's last text)."""

    code: str
    name: str
    message: str
    start: Location
    end: Location
    fix: FixSummary | None
    data: Mapping[str, Any]


def _visit(rules: Sequence[Rule], wrapper: cst.MetadataWrapper, flow: Flow) -> None:
    """Call each rule's `visit_<Kind>` on the module and on each node of that kind, in source order,
    as LibCST's batched visitor would: the nodes come off the flow's parent table, so the tree is
    not walked again (rules have no `leave_` methods; `tests/test_engine.py` holds them to that)."""
    from contextlib import ExitStack

    import libcst as cst

    handlers: dict[str, list[Any]] = {}
    for rule in rules:
        for kind in _visited_kinds(type(rule)):
            handlers.setdefault(kind, []).append(getattr(rule, f"visit_{kind}"))
    with ExitStack() as stack:
        for rule in rules:
            stack.enter_context(rule.resolve(wrapper))
        for handle in handlers.pop("Module", ()):
            handle(wrapper.module)
        kinds = tuple(getattr(cst, kind) for kind in handlers)
        for node in flow.nodes(*kinds) if kinds else ():
            for handle in handlers[type(node).__name__]:
                handle(node)


@functools.cache
def _visited_kinds(rule: type[Rule]) -> tuple[str, ...]:
    """The node kinds whose `visit_` method the rule defines (the base class's are empty stubs)."""
    import libcst as cst

    return tuple(
        name[len("visit_") :]
        for name in dir(rule)
        if name.startswith("visit_")
        and isinstance(getattr(cst, name[len("visit_") :], None), type)
        and getattr(rule, name) is not getattr(cst.BatchableCSTVisitor, name, None)
    )


def _span(where: CodeRange) -> tuple[tuple[int, int], tuple[int, int]]:
    return (where.start.line, where.start.column), (where.end.line, where.end.column)


def _skeleton(text: str, specs: Sequence[RuleSpec], facts: ModuleFacts | None) -> Skeleton | None:
    """`ecolint.prefilter.skeleton`'s text to parse for checking, where every rule allows it and it pays."""
    if len(text) < SKELETON_MIN_CHARS or any(spec.context_words is None for spec in specs):
        return None
    from ecolint.prefilter.gates import CONTEXT_NAMES, ModuleFacts
    from ecolint.prefilter.skeleton import skeleton
    from ecolint.prefilter.stages import bare, parse_or_none

    if facts is None:
        tree = parse_or_none(text)
        if tree is None:
            return None
        facts = ModuleFacts(tree)
    words = {bare(word) for spec in specs for word in (*spec.triggers, *(spec.context_words or ()))}
    for gate in {spec.gate for spec in specs if spec.gate in CONTEXT_NAMES}:
        words |= CONTEXT_NAMES[gate](facts)
    return skeleton(text, facts, words, follow_calls=any(spec.follows_calls for spec in specs))


def _parse_skeleton(parsed: Skeleton) -> cst.Module | None:
    """LibCST's module of a skeleton; None where LibCST's grammar rejects what `ast` accepted."""
    import libcst as cst

    try:
        return cst.parse_module(parsed.text)
    except cst.ParserSyntaxError:
        return None  # the whole parse reports the error where it is


def _original(location: Location, parsed: Skeleton | None) -> Location:
    """Where a location in the parsed text lies in the source."""
    return location if parsed is None else Location(parsed.original(location.row), location.column)


def _in_cells(findings: list[Finding], source: Source) -> list[Finding]:
    """In a notebook, findings located by cell and row within the cell, as ruff reports them."""
    if source.notebook is None or not findings:
        return findings
    rows = source.notebook.cell_of(source.text)

    def place(location: Location) -> tuple[int, Location]:
        cell, row = rows[min(location.row, len(rows)) - 1]
        return cell, Location(max(row, 1), location.column)

    placed = []
    for finding in findings:
        cell, start = place(finding.location)
        _, end = place(finding.end_location)
        fix = finding.fix
        if fix is not None:
            edits = tuple(Edit(e.content, place(e.location)[1], place(e.end_location)[1]) for e in fix.edits)
            fix = FixSummary(fix.message, fix.applicability, edits)
        placed.append(dataclasses.replace(finding, location=start, end_location=end, cell=cell, fix=fix))
    return placed


def _syntax_error(source: Source, message: str, row: int, column: int) -> Finding:
    lines = source.text.splitlines()
    code, name = SYNTAX_ERROR
    location = Location(max(row, 1), max(column, 1))
    return Finding(
        code=code,
        name=name,
        message=f"SyntaxError: {message}",
        path=source.display_name,
        location=location,
        end_location=location,
        source_lines=tuple(lines[location.row - 1 : location.row]),
    )
