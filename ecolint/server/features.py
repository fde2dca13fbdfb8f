"""What the server tells the editor, from one lint of a snapshot: diagnostics, code actions and hovers.

A document is linted exactly as `ecolint check --force-exclude FILE` lints the file: settings from
the nearest `[tool.ecolint]` above its path, its per-file ignores, excludes and `max-file-size`,
the same engine and `# noqa`; only the text comes from the editor rather than the disk.
"""

from __future__ import annotations

import io
import logging
import os
import re
import tokenize
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from lsprotocol import types

from ecolint.diagnostics import SYNTAX_ERROR, UNREADABLE_FILE, Applicability, Finding, Location, unreadable_file
from ecolint.output import fix_applies
from ecolint.server.documents import Snapshot
from ecolint.sources import split_lines

if TYPE_CHECKING:
    from pygls.workspace import PositionCodec

    from ecolint.engine import Linter
    from ecolint.linters import Linters

logger = logging.getLogger(__name__)

SOURCE = "ecolint"
FIX_ALL = f"{types.CodeActionKind.SourceFixAll.value}.ecolint"
NOTEBOOK_FIX_ALL = f"notebook.{FIX_ALL}"
_NOQA_CODES = re.compile(r"#\s*noqa:\s*(?P<codes>[A-Z]+[0-9]+(?:[\s,]+[A-Z]+[0-9]+)*)", re.IGNORECASE)
_CODE = re.compile(r"[A-Z]+[0-9]+", re.IGNORECASE)


@dataclass
class Linted:
    """One lint of a snapshot: its findings (engine locations), or why there are none."""

    snapshot: Snapshot
    findings: list[Finding] = field(default_factory=list)
    linter: Linter | None = None
    unsafe_fixes: bool = False  # the project's `unsafe-fixes`: fix-all applies unsafe fixes too
    problem: str | None = None  # could not lint: a configuration or internal error, one line
    skipped: str | None = None  # not linted, on purpose: excluded, or too large
    edited: Linted | None = None  # the same lint with each fix's text edits, once a code action asked


def lint(snapshot: Snapshot, linters: Linters, root: Path) -> Linted:
    """Lint a snapshot with its project's settings (`root`: where to look for them without a path); never raises."""
    from ecolint.config import ConfigError
    from ecolint.discovery import is_excluded
    from ecolint.linters import settings_resolver

    try:
        settings = settings_resolver().for_path(snapshot.path or root)
        if snapshot.path is not None and is_excluded(snapshot.path, settings):
            return Linted(snapshot, skipped=f"{snapshot.display_name}: excluded by the configuration")
        try:
            size = len(snapshot.text.encode("utf-8"))
        except UnicodeEncodeError as exc:  # a lone surrogate: text no file can hold
            return Linted(snapshot, [unreadable_file(snapshot.display_name, f"not valid Unicode text: {exc.reason}")])
        if size > settings.max_file_size:
            return Linted(snapshot, skipped=f"{snapshot.display_name}: larger than max-file-size ({settings.max_file_size:,} bytes)")
        linter = linters(settings, snapshot.path)
        return Linted(snapshot, linter.lint(snapshot.source()).findings, linter, settings.unsafe_fixes)
    except ConfigError as exc:
        return Linted(snapshot, problem=str(exc))
    except Exception as exc:  # noqa: BLE001 - the editor's text is anything; the server must outlive it
        if os.environ.get("ECOLINT_DEBUG"):
            logger.exception("linting %s", snapshot.display_name)
        return Linted(
            snapshot, problem=f"internal error: {type(exc).__name__}: {exc} (please report this; ECOLINT_DEBUG=1 logs a traceback)"
        )


def with_fix_edits(linted: Linted, linters: Linters, root: Path) -> Linted:
    """`linted`, or where its linter left the fixes' text edits out (diagnostics do not need them),
    the same snapshot linted again with them, once: what a quick fix applies."""
    if linted.linter is None or linted.linter.fix_edits or not any(f.fix is not None for f in linted.findings):
        return linted
    if linted.edited is None:
        linted.edited = lint(linted.snapshot, linters, root)
    return linted.edited


# Diagnostics


def diagnostics(linted: Linted, codec: PositionCodec) -> dict[str, list[types.Diagnostic]]:
    """Per editor document of the snapshot, its diagnostics (an empty list clears a document's old ones)."""
    published: dict[str, list[types.Diagnostic]] = {uri: [] for uri in linted.snapshot.uris()}
    if linted.problem is not None:
        first = next(iter(published), linted.snapshot.uri)
        whole_line = types.Range(types.Position(0, 0), types.Position(1, 0))
        message = f"ecolint could not lint this file: {linted.problem}"
        published[first] = [types.Diagnostic(whole_line, message, types.DiagnosticSeverity.Error, source=SOURCE)]
        return published
    for finding in linted.findings:
        uri, diagnostic = _diagnostic(linted.snapshot, finding, codec)
        published.setdefault(uri, []).append(diagnostic)
    return published


def _diagnostic(snapshot: Snapshot, finding: Finding, codec: PositionCodec) -> tuple[str, types.Diagnostic]:
    from ecolint.catalogue import spec_by_code

    end = finding.end_location
    if end == finding.location:  # a syntax error's point: one character wide, or editors show nothing
        end = Location(end.row, end.column + 1)
    uri, span = snapshot.range(finding.location, end, codec)
    spec = spec_by_code(finding.code)
    broken = finding.code in (SYNTAX_ERROR[0], UNREADABLE_FILE[0])
    return uri, types.Diagnostic(
        range=span,
        message=finding.message,
        severity=types.DiagnosticSeverity.Error if broken else types.DiagnosticSeverity.Warning,
        code=finding.code,
        code_description=types.CodeDescription(href=spec.url()) if spec is not None else None,
        source=SOURCE,
    )


# Code actions


@dataclass(frozen=True)
class Client:
    """What the client can take, from its capabilities."""

    document_changes: bool = False  # versioned edits, refused by the client if the document moved on
    resolve_edits: bool = False  # code actions whose edit is computed only when chosen
    markdown: bool = True

    @classmethod
    def of(cls, capabilities: types.ClientCapabilities) -> Client:
        workspace_edit = capabilities.workspace.workspace_edit if capabilities.workspace else None
        text = capabilities.text_document
        action = text.code_action if text else None
        resolve = action.resolve_support if action else None
        hover = text.hover if text else None
        return cls(
            document_changes=bool(workspace_edit and workspace_edit.document_changes),
            resolve_edits=bool(action and action.data_support and resolve and "edit" in resolve.properties),
            markdown=hover is None or not hover.content_format or types.MarkupKind.Markdown in hover.content_format,
        )


def wanted(kind: str, only: list[str] | None) -> bool:
    """Whether the client asked for actions of `kind` (`only` lists kinds and their parents, as `source.fixAll`)."""
    return only is None or any(kind == asked or kind.startswith(f"{asked}.") for asked in only)


def code_actions(
    linted: Linted, uri: str, span: types.Range, only: list[str] | None, codec: PositionCodec, client: Client
) -> list[types.CodeAction]:
    """The quick fixes and suppressions for the findings in `span` of `uri`, and fix-all for the whole document."""
    snapshot = linted.snapshot
    actions: list[types.CodeAction] = []
    if wanted(types.CodeActionKind.QuickFix.value, only):
        for finding in linted.findings:
            where, diagnostic = _diagnostic(snapshot, finding, codec)
            if where != uri or not _overlaps(diagnostic.range, span):
                continue
            fix = finding.fix
            if fix is not None and fix.applicability is not Applicability.DISPLAY_ONLY and fix.edits:
                unsafe = " (unsafe)" if fix.applicability is Applicability.UNSAFE else ""
                actions.append(
                    types.CodeAction(
                        title=f"ecolint ({finding.code}): {fix.message}{unsafe}",
                        kind=types.CodeActionKind.QuickFix,
                        diagnostics=[diagnostic],
                        is_preferred=fix.applicability is Applicability.SAFE,
                        edit=workspace_edit(snapshot, snapshot.edits(snapshot.apply(fix.edits), codec), client),
                    )
                )
            suppressed = with_noqa(snapshot.text, finding)
            if suppressed is not None:
                actions.append(
                    types.CodeAction(
                        title=f"ecolint ({finding.code}): Suppress with `# noqa: {finding.code}`",
                        kind=types.CodeActionKind.QuickFix,
                        diagnostics=[diagnostic],
                        edit=workspace_edit(snapshot, snapshot.edits(suppressed, codec), client),
                    )
                )
    kinds = (FIX_ALL, NOTEBOOK_FIX_ALL) if snapshot.notebook is not None else (FIX_ALL,)
    kind = next((kind for kind in kinds if wanted(kind, only)), None)
    if kind is not None and any(fix_applies(f, linted.unsafe_fixes) for f in linted.findings):
        title = "ecolint: Fix all safe fixes" + (" and unsafe ones (`unsafe-fixes` is on)" if linted.unsafe_fixes else "")
        action = types.CodeAction(title=title, kind=kind, data={"uri": snapshot.uri})
        if not client.resolve_edits:
            resolve_fix_all(action, linted, codec, client)
        actions.append(action)
    return actions


def fix_all_document(action: types.CodeAction) -> str | None:
    """The document a fix-all action is for, from the data the client sends back to resolve it."""
    data = action.data
    return data["uri"] if isinstance(data, dict) and isinstance(data.get("uri"), str) else None


def resolve_fix_all(action: types.CodeAction, linted: Linted, codec: PositionCodec, client: Client) -> types.CodeAction:
    """Fill in a fix-all action's edit: every applicable fix (unsafe ones too under `unsafe-fixes`) until stable,
    as `ecolint fix --apply` makes them, on `linted`'s snapshot; none where a fix would not parse."""
    from ecolint.fixing.fixes import FixError
    from ecolint.linters import fix_source

    assert linted.linter is not None
    try:
        fixed = fix_source(linted.linter, linted.snapshot.source(), linted.unsafe_fixes).text
    except FixError as exc:
        logger.warning("%s: fix all: %s", linted.snapshot.display_name, exc)
        fixed = linted.snapshot.text
    action.edit = workspace_edit(linted.snapshot, linted.snapshot.edits(fixed, codec), client)
    return action


def _overlaps(a: types.Range, b: types.Range) -> bool:
    """Whether two ranges share a position, their ends included (a cursor at either end of a span is on it)."""

    def key(position: types.Position) -> tuple[int, int]:
        return position.line, position.character

    return key(a.start) <= key(b.end) and key(b.start) <= key(a.end)


def workspace_edit(snapshot: Snapshot, changes: dict[str, list[types.TextEdit]], client: Client) -> types.WorkspaceEdit:
    """The edits as the client takes them: versioned per document where it can, so a stale edit is refused."""
    if not client.document_changes:
        return types.WorkspaceEdit(changes=changes)
    versions = {cell.uri: cell.version for cell in snapshot.cells} or {snapshot.uri: snapshot.version}
    return types.WorkspaceEdit(
        document_changes=[
            types.TextDocumentEdit(types.OptionalVersionedTextDocumentIdentifier(uri, versions.get(uri)), list(edits))
            for uri, edits in changes.items()
        ]
    )


def with_noqa(text: str, finding: Finding) -> str | None:
    """`text` with `# noqa: CODE` on the finding's line (added to a `# noqa:` already there); None where a comment cannot go."""
    if finding.code in (SYNTAX_ERROR[0], UNREADABLE_FILE[0]):
        return None
    lines = split_lines(text)
    row = finding.noqa_row
    if not 1 <= row <= len(lines) or _ends_in_string(text, row):
        return None
    line = lines[row - 1]
    body = line.rstrip("\r\n")
    if body.rstrip().endswith("\\"):
        return None
    existing = _NOQA_CODES.search(body)
    if existing is not None:
        body = f"{body[: existing.end('codes')]}, {finding.code}{body[existing.end('codes') :]}"
    else:
        body = f"{body.rstrip()}  # noqa: {finding.code}"
    lines[row - 1] = body + line[len(line.rstrip("\r\n")) :]
    return "".join(lines)


def _ends_in_string(text: str, row: int) -> bool:
    """Whether 1-based `row` ends inside a string that goes on to the next line (a comment there would be its text)."""
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.start[0] > row:
                return False
            if token.type in (tokenize.STRING, getattr(tokenize, "FSTRING_MIDDLE", -1)) and token.start[0] <= row < token.end[0]:
                return True
    except (tokenize.TokenError, SyntaxError):
        return True
    return False


# Hover


def hover(linted: Linted, uri: str, position: types.Position, codec: PositionCodec, client: Client) -> types.Hover | None:
    """What a flagged span costs and why (or what a code in a `# noqa:` comment means), with a link to the rule's page."""
    from ecolint.catalogue import spec_by_code

    snapshot = linted.snapshot
    location = snapshot.location(uri, position, codec)
    if location is None:
        return None
    parts = []
    for finding in linted.findings:
        if finding.location <= location <= finding.end_location:
            _, span = snapshot.range(finding.location, finding.end_location, codec)
            parts.append((_finding_text(finding), span))
    if not parts:
        code = _noqa_code_at(snapshot.text, location)
        spec = spec_by_code(code) if code is not None else None
        if spec is None:
            return None
        parts.append((f"**{spec.code}** `{spec.name}`: {spec.summary}.\n\n[{spec.code} documentation]({spec.url()})", None))
    kind = types.MarkupKind.Markdown if client.markdown else types.MarkupKind.PlainText
    return types.Hover(types.MarkupContent(kind, "\n\n---\n\n".join(text for text, _ in parts)), parts[0][1])


def _finding_text(finding: Finding) -> str:
    from ecolint.catalogue import spec_by_code

    spec = spec_by_code(finding.code)
    lines = [f"**{finding.code}** `{finding.name}`" + (f": {spec.summary}." if spec is not None else ""), finding.message]
    if finding.fix is not None:
        label = {Applicability.SAFE: "Fix", Applicability.UNSAFE: "Fix (unsafe)", Applicability.DISPLAY_ONLY: "Advice"}
        lines.append(f"*{label[finding.fix.applicability]}:* {finding.fix.message}")
    if spec is not None:
        lines.append(f"[{finding.code} documentation]({spec.url()})")
    return "\n\n".join(lines)


def _noqa_code_at(text: str, location: Location) -> str | None:
    lines = split_lines(text)
    if not 1 <= location.row <= len(lines):
        return None
    line = lines[location.row - 1]
    for comment in _NOQA_CODES.finditer(line):
        start = comment.start("codes")
        for code in _CODE.finditer(comment.group("codes")):
            if start + code.start() < location.column <= start + code.end() + 1:
                return code.group().upper()
    return None
