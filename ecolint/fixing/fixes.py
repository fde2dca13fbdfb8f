"""Fixes as data, applied by node identity, re-linted until stable, written atomically."""

from __future__ import annotations

import difflib
import glob
import os
import stat
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from collections.abc import Iterable, Sequence

import libcst as cst

from ecolint.diagnostics import Applicability, Edit, Location
from ecolint.fixing.imports import add_imports
from ecolint.sources import split_lines

MAX_ROUNDS = 10
# A temporary file this old beside a file being fixed was left by a killed run: no write takes this long.
STALE_TEMPORARY_SECONDS = 600
_TEMPORARY_SUFFIX = ".ecolint-tmp"


@dataclass(frozen=True)
class ImportRequest:
    """`from module import obj` (or `import module` when obj is None) that a fix needs."""

    module: str
    obj: str | None = None


@dataclass(frozen=True, eq=False)
class Fix:
    """Replace each node (by identity) with its replacement, and add the imports.

    `drops`: nodes the fix leaves dead elsewhere (a configuration it detaches from a load):
    a fix that would edit one of them waits, and is gone once the dropping fix is applied.
    """

    title: str
    applicability: Applicability
    replacements: tuple[tuple[cst.CSTNode, cst.CSTNode], ...]
    imports: tuple[ImportRequest, ...] = ()
    drops: tuple[cst.CSTNode, ...] = ()

    def applies(self, unsafe: bool) -> bool:
        if self.applicability is Applicability.SAFE:
            return True
        return unsafe and self.applicability is Applicability.UNSAFE


Span = tuple[tuple[int, int], tuple[int, int]]


@dataclass(frozen=True, eq=False)
class PlannedFix:
    """A fix with the source spans of the nodes it replaces, to keep fixes apart."""

    fix: Fix
    spans: tuple[Span, ...]
    dropped: tuple[Span, ...] = ()  # the spans of `fix.drops`


class _ReplaceByIdentity(cst.CSTTransformer):
    def __init__(self, replacements: dict[int, cst.CSTNode]) -> None:
        super().__init__()
        self.replacements = replacements

    def on_leave(self, original_node: cst.CSTNode, updated_node: cst.CSTNode) -> cst.CSTNode:  # type: ignore[override]
        if isinstance(updated_node, (cst.Module, cst.IndentedBlock)):
            updated_node = self._keep_leading_lines(original_node, updated_node)
        return self.replacements.get(id(original_node), updated_node)

    def _keep_leading_lines(self, original: cst.Module | cst.IndentedBlock, updated: cst.Module | cst.IndentedBlock):
        """A removed statement's blank lines and comments above it stay, above the next statement."""
        removed = [id(s) for s in original.body if self.replacements.get(id(s)) is cst.RemovalSentinel.REMOVE]
        if not removed or len(updated.body) != len(original.body) - len(removed):
            return updated
        kept, carried, remaining = [], [], iter(updated.body)
        for statement in original.body:
            if id(statement) in removed:
                carried.extend(statement.leading_lines)
                continue
            new = next(remaining)
            if carried:
                new = new.with_changes(leading_lines=(*carried, *new.leading_lines))
                carried = []
            kept.append(new)
        return updated.with_changes(body=kept)


def apply_fixes(module: cst.Module, fixes: Iterable[Fix]) -> cst.Module:
    """`module` with every fix applied; the fixes must not overlap."""
    fixes = list(fixes)
    replacements = {id(old): new for fix in fixes for old, new in fix.replacements}
    result = module.visit(_ReplaceByIdentity(replacements))
    imports = {request for fix in fixes for request in fix.imports}
    return add_imports(result, imports) if imports else result


def _overlaps(a: Span, b: Span) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def non_overlapping(planned: Sequence[PlannedFix]) -> list[Fix]:
    """The fixes that can be applied together this round; the rest wait for the next."""
    chosen: list[PlannedFix] = []
    seen: set[int] = set()
    dead = [(span, id(p.fix)) for p in planned for span in p.dropped]
    # Safe fixes first: where two fixes touch the same code, the one that keeps meaning wins.
    for candidate in sorted(planned, key=lambda p: p.fix.applicability is not Applicability.SAFE):
        if id(candidate.fix) in seen:
            continue
        if any(_overlaps(a, b) for other in chosen for a in other.spans for b in candidate.spans):
            continue
        if any(owner != id(candidate.fix) and _overlaps(span, b) for span, owner in dead for b in candidate.spans):
            continue  # it edits what another fix detaches
        seen.add(id(candidate.fix))
        chosen.append(candidate)
    return [p.fix for p in chosen]


def parses(code: str) -> bool:
    """Whether `code` is valid Python (compiled to an AST only: nothing runs)."""
    try:
        compile(code, "<fixed>", "exec", flags=0x400, dont_inherit=True)  # ast.PyCF_ONLY_AST
        cst.parse_module(code)
    except (SyntaxError, ValueError, cst.ParserSyntaxError):
        return False
    return True


class FixError(Exception):
    """A fix could not be applied or written; the message is one line for users."""


@dataclass(frozen=True)
class FixOutcome:
    text: str
    applied: int
    rounds: int


def fix_until_stable(text: str, plan: Callable[[str], tuple[cst.Module, list[PlannedFix]]], unsafe: bool) -> FixOutcome:
    """Apply the applicable fixes and re-lint, until nothing changes (bounded rounds).

    `plan(text)` lints the text and returns its module and planned fixes. A round
    whose result does not parse is refused: FixError, and nothing is written.
    """
    applied = 0
    for rounds in range(1, MAX_ROUNDS + 1):
        module, planned = plan(text)
        fixes = non_overlapping([p for p in planned if p.fix.applies(unsafe)])
        if not fixes:
            return FixOutcome(text, applied, rounds - 1)
        new_text = apply_fixes(module, fixes).code
        if not parses(new_text):
            raise FixError("a fix produced code that does not parse; nothing was written (please report this)")
        if new_text == text:
            return FixOutcome(text, applied, rounds)
        applied += len(fixes)
        text = new_text
    return FixOutcome(text, applied, MAX_ROUNDS)


def _location(row: int, text: str) -> Location:
    """The location reached after `text`, starting at the beginning of 1-based `row`."""
    lines = split_lines(text) or [""]
    if lines[-1] != lines[-1].rstrip("\r\n"):  # ends with a line break: at the start of the next row
        return Location(row + len(lines), 1)
    return Location(row + len(lines) - 1, len(lines[-1]) + 1)


def text_edits(before: str, after: str) -> tuple[Edit, ...]:
    """Minimal edits turning `before` into `after`, as ruff reports them."""
    old = split_lines(before)
    new = split_lines(after)
    # The common head and tail first: a fix touches a few lines of a possibly long file.
    head = 0
    while head < min(len(old), len(new)) and old[head] == new[head]:
        head += 1
    tail = 0
    while tail < min(len(old), len(new)) - head and old[-1 - tail] == new[-1 - tail]:
        tail += 1
    edits = []
    matcher = difflib.SequenceMatcher(None, old[head : len(old) - tail], new[head : len(new) - tail], autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        i1, i2, j1, j2 = i1 + head, i2 + head, j1 + head, j2 + head
        if tag == "equal":
            continue
        old_chunk, new_chunk = "".join(old[i1:i2]), "".join(new[j1:j2])
        prefix = len(os.path.commonprefix([old_chunk, new_chunk]))
        suffix = len(os.path.commonprefix([old_chunk[prefix:][::-1], new_chunk[prefix:][::-1]]))
        start = _location(i1 + 1, old_chunk[:prefix])
        end = _location(i1 + 1, old_chunk[: len(old_chunk) - suffix])
        edits.append(Edit(new_chunk[prefix : len(new_chunk) - suffix], start, end))
    return tuple(edits)


def _remove_stale_temporaries(target: Path) -> None:
    """Remove the temporary files a run killed between writing and renaming left beside `target`."""
    cutoff = time.time() - STALE_TEMPORARY_SECONDS
    for leftover in target.parent.glob(f".{glob.escape(target.name)}.*{_TEMPORARY_SUFFIX}"):
        try:
            info = leftover.lstat()
            if stat.S_ISREG(info.st_mode) and info.st_mtime < cutoff:
                leftover.unlink()
        except OSError:
            pass


def write_atomically(path: Path, data: bytes) -> None:
    """Replace the file's bytes all at once, keeping its permissions; never half-written."""
    target = path.resolve()
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except OSError as exc:
        raise FixError(f"cannot write: {exc.strerror or exc}") from None
    if not mode & stat.S_IWUSR:
        raise FixError("cannot write: the file is read-only")
    _remove_stale_temporaries(target)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=_TEMPORARY_SUFFIX)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
        tmp = None
    except OSError as exc:
        raise FixError(f"cannot write: {exc.strerror or exc}") from None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


class FixEdits:
    """The text edits each fix of one module makes, as `text_edits` of the whole fixed module would
    report them, without applying every fix to the whole module: a fix that replaces nodes or
    removes statement lines is diffed on the lines those span, the imports it adds once per set of
    imports. Fixes that insert statements, or whose pieces meet on a line, are applied whole."""

    def __init__(self, wrapper: cst.MetadataWrapper, text: str) -> None:
        from libcst.metadata import PositionProvider

        from ecolint.analysis.parents import ParentProvider

        self.module = wrapper.module
        self.text = text
        self.positions = wrapper.resolve(PositionProvider)
        self.parents = wrapper.resolve(ParentProvider)
        self.starts = [0]
        for line in split_lines(text):
            self.starts.append(self.starts[-1] + len(line))
        self._imports: dict[frozenset[ImportRequest], tuple[Edit, ...]] = {}

    def edits(self, fix: Fix) -> tuple[Edit, ...]:
        local = self._local(fix)
        return local if local is not None else text_edits(self.text, apply_fixes(self.module, [fix]).code)

    def _local(self, fix: Fix) -> tuple[Edit, ...] | None:
        if not all(self._removes_lines(old, new) or _replaces_a_node(new) for old, new in fix.replacements):
            return None
        pieces = sorted(
            ((self.positions[old], old, new) for old, new in fix.replacements), key=lambda p: (p[0].start.line, p[0].start.column)
        )
        edits: list[Edit] = []
        last_row = 0
        for where, old, new in pieces:
            if where.start.line <= last_row + 1:
                return None  # pieces on one line, or next to each other: the whole diff may join them
            first, after_last = self.starts[where.start.line - 1], self.starts[min(where.end.line, len(self.starts) - 1)]
            before = self.text[first:after_last]
            if isinstance(new, cst.RemovalSentinel):
                if self._repeated_next_to(where.start.line, where.end.line):
                    return None  # the whole diff may report an identical neighbour as the one removed
                after = ""  # the statement's lines go; the blank lines and comments above it are not among them
            else:
                start, end = self._offset(where.start.line, where.start.column), self._offset(where.end.line, where.end.column)
                if self.text[start:end] != self.module.code_for_node(old):
                    return None
                after = self.text[first:start] + self.module.code_for_node(new) + self.text[end:after_last]
            edits.extend(_shifted(edit, where.start.line - 1) for edit in text_edits(before, after))
            last_row = where.end.line
        if fix.imports:
            added = self._import_edits(frozenset(fix.imports))
            if any(edit.end_location.row + 1 >= pieces[0][0].start.line for edit in added):
                return None
            edits[:0] = added
        return tuple(edits)

    def _removes_lines(self, old: cst.CSTNode, new: object) -> bool:
        """Whether the replacement removes a statement line (its whole lines, indentation to newline)
        that its block keeps a statement after: the blank lines and comments above it then stay,
        above that one (`_ReplaceByIdentity`); the last statement's would go with it."""
        if new is not cst.RemovalSentinel.REMOVE or not isinstance(old, cst.SimpleStatementLine):
            return False
        body = getattr(self.parents.get(old), "body", ())
        return isinstance(body, (tuple, list)) and any(s is old for s in body[:-1])

    def _line(self, row: int) -> str | None:
        return self.text[self.starts[row - 1] : self.starts[row]] if 0 < row < len(self.starts) else None

    def _repeated_next_to(self, first: int, last: int) -> bool:
        """Whether the line after rows first..last repeats the first, or the line before repeats the last."""
        return self._line(last + 1) == self._line(first) or self._line(first - 1) == self._line(last)

    def _offset(self, line: int, column: int) -> int:
        return self.starts[line - 1] + column

    def _import_edits(self, imports: frozenset[ImportRequest]) -> tuple[Edit, ...]:
        if imports not in self._imports:
            self._imports[imports] = text_edits(self.text, add_imports(self.module, imports).code)
        return self._imports[imports]


def _replaces_a_node(new: object) -> bool:
    return isinstance(new, cst.CSTNode) and not isinstance(new, cst.BaseStatement)


def _shifted(edit: Edit, rows: int) -> Edit:
    return Edit(
        edit.content,
        Location(edit.location.row + rows, edit.location.column),
        Location(edit.end_location.row + rows, edit.end_location.column),
    )
