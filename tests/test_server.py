"""`ecolint server` driven over stdio by a real LSP client (pygls'), as an editor drives it.

Each test starts the server as `python -m ecolint server`, opens documents, edits them, asks for
code actions and hovers, applies the edits it gets back, and waits (never sleeps) for the
diagnostics to follow, with timeouts generous enough for a loaded two-core CI machine.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pygls.lsp.client import LanguageClient
from pygls.uris import from_fs_path

TIMEOUT = 90.0  # seconds: the first lint imports LibCST and the rules

INT8 = """\
from transformers import AutoModelForCausalLM, BitsAndBytesConfig

config = BitsAndBytesConfig(load_in_8bit=True)
model = AutoModelForCausalLM.from_pretrained("facebook/opt-1.3b", quantization_config=config)
"""

THRESHOLD_INT = """\
from transformers import BitsAndBytesConfig

config = BitsAndBytesConfig(load_in_8bit=True, llm_int8_threshold=0)
"""

CLEAN = """\
from transformers import BitsAndBytesConfig

config = BitsAndBytesConfig(load_in_8bit=True, llm_int8_threshold=0.0)
"""


def lines_of(text: str) -> list[str]:
    """The lines an editor shows: ended by \\n, \\r\\n or \\r only (not by a form feed or U+2028, as `str.splitlines` does)."""
    return re.findall(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$", text)


def apply_edits(text: str, edits: list[types.TextEdit]) -> str:
    """`text` with LSP edits applied, positions in UTF-16 code units, as an editor applies them."""

    def offset(position: types.Position) -> int:
        lines = lines_of(text) or [""]
        if position.line >= len(lines):
            return len(text)
        start = sum(len(line) for line in lines[: position.line])
        units = 0
        for index, char in enumerate(lines[position.line]):
            if units >= position.character:
                return start + index
            units += 2 if ord(char) > 0xFFFF else 1
        return start + len(lines[position.line])

    for edit in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
        text = text[: offset(edit.range.start)] + edit.new_text + text[offset(edit.range.end) :]
    return text


class Editor(LanguageClient):
    """What an editor does with `ecolint server`: documents it holds, the diagnostics it was sent."""

    def __init__(self, root: Path) -> None:
        super().__init__("ecolint-tests", "1")
        self.root = root
        self.texts: dict[str, str] = {}
        self.versions: dict[str, int] = {}
        self.diagnostics: dict[str, list[types.Diagnostic]] = {}
        self.published: dict[str, int] = {}  # uri → how many times diagnostics came
        self.messages: list[str] = []
        self.registrations: list[types.Registration] = []
        self.returncode: int | None = None
        self.stderr = ""
        self._news = asyncio.Event()
        self._exited = asyncio.Event()

        @self.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def on_diagnostics(params: types.PublishDiagnosticsParams) -> None:
            self.diagnostics[params.uri] = list(params.diagnostics)
            self.published[params.uri] = self.published.get(params.uri, 0) + 1
            self._news.set()

        @self.feature(types.WINDOW_LOG_MESSAGE)
        def on_log(params: types.LogMessageParams) -> None:
            self.messages.append(params.message)

        @self.feature(types.CLIENT_REGISTER_CAPABILITY)
        def on_register(params: types.RegistrationParams) -> None:
            self.registrations.extend(params.registrations)
            self._news.set()

    async def server_exit(self, server: asyncio.subprocess.Process) -> None:
        self.returncode = server.returncode
        self.stderr = (await server.stderr.read()).decode() if server.stderr else ""
        self._exited.set()

    def uri(self, name: str) -> str:
        return from_fs_path(str(self.root / name))  # type: ignore[return-value]

    async def until(self, predicate: Callable[[], bool], what: str) -> None:
        """Wait for the server's notifications until `predicate` holds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + TIMEOUT
        while not predicate():
            self._news.clear()
            try:
                await asyncio.wait_for(self._news.wait(), max(deadline - loop.time(), 0.01))
            except asyncio.TimeoutError:
                raise AssertionError(f"timed out waiting for {what}; diagnostics: {self.diagnostics}") from None

    async def codes_become(self, uri: str, codes: list[str]) -> list[types.Diagnostic]:
        def arrived() -> bool:
            return uri in self.diagnostics and sorted(str(d.code) for d in self.diagnostics[uri]) == sorted(codes)

        await self.until(arrived, f"{codes} in {uri}")
        return self.diagnostics[uri]

    def open(self, name: str, text: str) -> str:
        uri = self.uri(name)
        self.texts[uri], self.versions[uri] = text, 1
        self.text_document_did_open(types.DidOpenTextDocumentParams(types.TextDocumentItem(uri, "python", 1, text)))
        return uri

    def edit(self, uri: str, edits: list[types.TextEdit]) -> None:
        """Change the document as a user typing would: incremental changes, the version counting up."""
        self.texts[uri] = apply_edits(self.texts[uri], edits)
        self.versions[uri] += 1
        changes = [types.TextDocumentContentChangePartial(range=e.range, text=e.new_text) for e in edits]
        self.text_document_did_change(
            types.DidChangeTextDocumentParams(types.VersionedTextDocumentIdentifier(self.versions[uri], uri), changes)
        )

    def apply(self, edit: types.WorkspaceEdit) -> None:
        """Apply a workspace edit the server returned, as the editor would (refusing one for another version)."""
        if edit.document_changes is not None:
            for change in edit.document_changes:
                assert isinstance(change, types.TextDocumentEdit)
                uri = change.text_document.uri
                assert change.text_document.version in (None, self.versions[uri]), "an edit for another version"
                self.edit(uri, list(change.edits))
        for uri, edits in (edit.changes or {}).items():
            self.edit(uri, list(edits))

    async def actions(self, uri: str, line: int, character: int, only: list[str] | None = None) -> list[types.CodeAction]:
        at = types.Position(line, character)
        context = types.CodeActionContext(diagnostics=self.diagnostics.get(uri, []), only=only)  # type: ignore[arg-type]
        params = types.CodeActionParams(types.TextDocumentIdentifier(uri), types.Range(at, at), context)
        return list(await asyncio.wait_for(self.text_document_code_action_async(params), TIMEOUT) or [])

    async def close(self) -> None:
        """Shut down and exit as an editor does, and wait for the process to end."""
        await asyncio.wait_for(self.shutdown_async(None), TIMEOUT)
        self.exit(None)
        await asyncio.wait_for(self._exited.wait(), TIMEOUT)
        await self.stop()


def fixes(actions: list[types.CodeAction]) -> list[types.CodeAction]:
    """The quick fixes among code actions (not the suppressions, not fix-all)."""
    return [a for a in actions if a.kind == types.CodeActionKind.QuickFix and "noqa" not in a.title]


def capabilities(
    resolve: bool = False, document_changes: bool = False, notebooks: bool = False, watch: bool = False
) -> types.ClientCapabilities:
    code_action = types.CodeActionClientCapabilities(
        code_action_literal_support=types.ClientCodeActionLiteralOptions(
            types.ClientCodeActionKindOptions(value_set=[types.CodeActionKind.QuickFix, types.CodeActionKind.SourceFixAll])
        ),
        data_support=resolve,
        resolve_support=types.ClientCodeActionResolveOptions(properties=["edit"]) if resolve else None,
    )
    return types.ClientCapabilities(
        workspace=types.WorkspaceClientCapabilities(
            workspace_edit=types.WorkspaceEditClientCapabilities(document_changes=document_changes),
            did_change_watched_files=types.DidChangeWatchedFilesClientCapabilities(dynamic_registration=True) if watch else None,
        ),
        text_document=types.TextDocumentClientCapabilities(
            code_action=code_action, hover=types.HoverClientCapabilities(content_format=[types.MarkupKind.Markdown])
        ),
        notebook_document=types.NotebookDocumentClientCapabilities(types.NotebookDocumentSyncClientCapabilities()) if notebooks else None,
    )


def run_editor(root: Path, scenario: Callable[[Editor], Awaitable[None]], client: types.ClientCapabilities | None = None) -> Editor:
    """Start `ecolint server` in `root`, initialise it, run `scenario`, shut it down; the editor, for more checks."""

    async def main() -> Editor:
        editor = Editor(root)
        await editor.start_io(sys.executable, "-m", "ecolint", "server", cwd=str(root))
        params = types.InitializeParams(capabilities=client or capabilities(), root_uri=from_fs_path(str(root)), process_id=None)
        result = await asyncio.wait_for(editor.initialize_async(params), TIMEOUT)
        editor.server_capabilities = result.capabilities  # type: ignore[attr-defined]
        editor.initialized(types.InitializedParams())
        try:
            await scenario(editor)
        finally:
            await editor.close()
        return editor

    editor = asyncio.run(main())
    assert editor.returncode == 0, editor.stderr
    assert "Traceback" not in editor.stderr, editor.stderr
    return editor


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / "pyproject.toml").write_text("[tool.ecolint]\n", encoding="utf-8")
    yield tmp_path


def check_json(root: Path, name: str, text: str) -> list[dict[str, Any]]:
    """`ecolint check`'s findings for `text` as the file `name` in `root` (read from stdin)."""
    command = [sys.executable, "-m", "ecolint", "check", "--no-cache", "--output-format", "json", "--stdin-filename", name, "-"]
    result = subprocess.run(command, input=text, capture_output=True, text=True, cwd=root, timeout=TIMEOUT)
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_open_gives_the_findings_of_check_as_diagnostics(project: Path) -> None:
    async def scenario(editor: Editor) -> None:
        uri = editor.open("load.py", INT8)
        diagnostics = await editor.codes_become(uri, [f["code"] for f in check_json(project, "load.py", INT8)])
        (diagnostic,) = diagnostics
        expected = check_json(project, "load.py", INT8)[0]
        assert diagnostic.code == "ECO101" and diagnostic.source == "ecolint"
        assert diagnostic.severity == types.DiagnosticSeverity.Warning
        assert diagnostic.message == expected["message"] and "energy" in diagnostic.message
        assert diagnostic.code_description is not None and diagnostic.code_description.href == expected["url"]
        start, end = diagnostic.range.start, diagnostic.range.end
        assert (start.line + 1, start.character + 1) == (expected["location"]["row"], expected["location"]["column"])
        assert (end.line + 1, end.character + 1) == (expected["end_location"]["row"], expected["end_location"]["column"])

    run_editor(project, scenario)


def test_diagnostics_follow_edits(project: Path) -> None:
    async def scenario(editor: Editor) -> None:
        uri = editor.open("load.py", INT8)
        (before,) = await editor.codes_become(uri, ["ECO101"])
        # Two lines typed above the load: the finding moves down with it.
        editor.edit(uri, [types.TextEdit(types.Range(types.Position(1, 0), types.Position(1, 0)), "import os\n\n")])
        await editor.until(lambda: [d.range.start.line for d in editor.diagnostics[uri]] == [before.range.start.line + 2], "moved finding")
        # The threshold typed in, one keystroke at a time: the finding goes once the text is fixed,
        # and the server did not lint at every keystroke.
        line = before.range.start.line + 2
        published = editor.published[uri]
        typed = ", llm_int8_threshold=0.0"
        for offset, char in enumerate(typed):
            at = types.Position(line, before.range.end.character + offset)
            editor.edit(uri, [types.TextEdit(types.Range(at, at), char)])
        await editor.until(lambda: editor.diagnostics[uri] == [] and editor.published[uri] > published, "the finding gone")
        assert editor.published[uri] - published < len(typed) / 2, "debounced: not one lint per keystroke"
        assert editor.texts[uri] == "from transformers import AutoModelForCausalLM, BitsAndBytesConfig\nimport os\n\n" + INT8.split(
            "\n", 1
        )[1].replace("load_in_8bit=True)", "load_in_8bit=True, llm_int8_threshold=0.0)")
        # A new finding typed in appears.
        end = types.Position(len(editor.texts[uri].splitlines()), 0)
        editor.edit(uri, [types.TextEdit(types.Range(end, end), "strict = BitsAndBytesConfig(load_in_8bit=True, llm_int8_threshold=0)\n")])
        await editor.codes_become(uri, ["ECO106"])

    run_editor(project, scenario)


def test_quick_fix_applied_removes_the_finding(project: Path) -> None:
    async def scenario(editor: Editor) -> None:
        uri = editor.open("strict.py", THRESHOLD_INT)
        (diagnostic,) = await editor.codes_become(uri, ["ECO106"])
        actions = await editor.actions(uri, diagnostic.range.start.line, diagnostic.range.start.character + 1)
        titles = [action.title for action in actions]
        (fix,) = fixes(actions)
        assert fix.title == "ecolint (ECO106): Use `0.0`" and fix.is_preferred, titles
        assert fix.diagnostics and fix.diagnostics[0].code == "ECO106"
        assert fix.edit is not None
        editor.apply(fix.edit)
        await editor.codes_become(uri, [])
        assert editor.texts[uri] == CLEAN

    run_editor(project, scenario, capabilities(document_changes=True))


def test_unsafe_quick_fix_says_so_and_noqa_suppresses(project: Path) -> None:
    async def scenario(editor: Editor) -> None:
        uri = editor.open("load.py", INT8)
        (diagnostic,) = await editor.codes_become(uri, ["ECO101"])
        actions = await editor.actions(uri, diagnostic.range.end.line, diagnostic.range.end.character)
        titles = [action.title for action in actions]
        assert "ecolint (ECO101): Add `llm_int8_threshold=0.0` (unsafe)" in titles, titles
        assert not any(a.kind == "source.fixAll.ecolint" for a in actions), "an unsafe fix is not among the safe fixes"
        noqa = next(a for a in actions if "noqa" in a.title)
        assert noqa.title == "ecolint (ECO101): Suppress with `# noqa: ECO101`" and noqa.edit is not None
        editor.apply(noqa.edit)
        await editor.codes_become(uri, [])
        assert "config = BitsAndBytesConfig(load_in_8bit=True)  # noqa: ECO101\n" in editor.texts[uri]

    run_editor(project, scenario)


def test_fix_all_applies_every_safe_fix_resolved_when_chosen(project: Path) -> None:
    text = THRESHOLD_INT + "other = BitsAndBytesConfig(load_in_8bit=True, llm_int8_threshold=0)\n"

    async def scenario(editor: Editor) -> None:
        uri = editor.open("strict.py", text)
        await editor.codes_become(uri, ["ECO106", "ECO106"])
        (action,) = await editor.actions(uri, 0, 0, only=[types.CodeActionKind.SourceFixAll])
        assert action.kind == "source.fixAll.ecolint" and action.title == "ecolint: Fix all safe fixes"
        assert action.edit is None, "the edit is computed when the action is chosen"
        resolved = await asyncio.wait_for(editor.code_action_resolve_async(action), TIMEOUT)
        assert resolved.edit is not None
        editor.apply(resolved.edit)
        await editor.codes_become(uri, [])
        assert editor.texts[uri].count("llm_int8_threshold=0.0") == 2

    run_editor(project, scenario, capabilities(resolve=True))


def test_hover_shows_the_rule_its_cost_and_its_page(project: Path) -> None:
    async def scenario(editor: Editor) -> None:
        uri = editor.open("load.py", INT8 + "cfg = BitsAndBytesConfig(load_in_8bit=True)  # noqa: ECO101\n")
        (diagnostic,) = await editor.codes_become(uri, ["ECO101"])
        inside = types.Position(diagnostic.range.start.line, diagnostic.range.start.character + 3)
        hover = await asyncio.wait_for(
            editor.text_document_hover_async(types.HoverParams(types.TextDocumentIdentifier(uri), inside)), TIMEOUT
        )
        assert hover is not None and isinstance(hover.contents, types.MarkupContent)
        assert hover.contents.kind == types.MarkupKind.Markdown
        text = hover.contents.value
        assert "**ECO101** `int8-outlier-decomposition`" in text
        assert diagnostic.message in text and "*Fix (unsafe):* Add `llm_int8_threshold=0.0`" in text
        assert "(https://github.com/ecolint/ecolint/blob/main/rules/ECO101.md)" in text
        assert hover.range == diagnostic.range
        # On the code in a suppression comment: what that rule is.
        noqa_line = INT8.count("\n")
        column = (editor.texts[uri].splitlines()[noqa_line]).index("ECO101") + 2
        on_code = types.HoverParams(types.TextDocumentIdentifier(uri), types.Position(noqa_line, column))
        hover = await asyncio.wait_for(editor.text_document_hover_async(on_code), TIMEOUT)
        assert hover is not None and "**ECO101** `int8-outlier-decomposition`" in hover.contents.value  # type: ignore[union-attr]
        elsewhere = types.HoverParams(types.TextDocumentIdentifier(uri), types.Position(0, 0))
        assert await asyncio.wait_for(editor.text_document_hover_async(elsewhere), TIMEOUT) is None

    run_editor(project, scenario)


def test_broken_document_gives_a_diagnostic_and_the_server_goes_on(project: Path) -> None:
    async def scenario(editor: Editor) -> None:
        uri = editor.open("broken.py", "from transformers import BitsAndBytesConfig\nconfig = BitsAndBytesConfig(load_in_8bit=True\n")
        (diagnostic,) = await editor.codes_become(uri, ["ECO900"])
        assert diagnostic.severity == types.DiagnosticSeverity.Error and diagnostic.message.startswith("SyntaxError")
        assert await editor.actions(uri, diagnostic.range.start.line, diagnostic.range.start.character) == []
        assert diagnostic.range.end.character == diagnostic.range.start.character + 1, "a point is widened to be seen"
        other = editor.open("load.py", INT8)
        await editor.codes_become(other, ["ECO101"])
        editor.edit(
            uri,
            [types.TextEdit(types.Range(types.Position(1, 0), types.Position(2, 0)), "config = BitsAndBytesConfig(load_in_8bit=True)\n")],
        )
        await editor.codes_become(uri, ["ECO101"])
        # Text no file can hold (a lone surrogate, which JSON can carry): unreadable, as check says of undecodable bytes.
        unpaired = editor.open("unpaired.py", INT8.replace("facebook/opt-1.3b", "facebook/opt-\ud800"))
        (unreadable,) = await editor.codes_become(unpaired, ["ECO901"])
        assert unreadable.severity == types.DiagnosticSeverity.Error and "not valid Unicode text" in unreadable.message
        # Requests about a document never opened: nothing, and no error.
        never = types.TextDocumentIdentifier(editor.uri("never.py"))
        assert await editor.actions(never.uri, 0, 0) == []
        assert await asyncio.wait_for(editor.text_document_hover_async(types.HoverParams(never, types.Position(3, 3))), TIMEOUT) is None

    run_editor(project, scenario)


def test_settings_come_from_the_documents_project(tmp_path: Path) -> None:
    quiet = tmp_path / "quiet"
    quiet.mkdir()
    (quiet / "pyproject.toml").write_text('[tool.ecolint]\nignore = ["ECO101"]\nextend-exclude = ["vendored"]\n', encoding="utf-8")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "pyproject.toml").write_text("[tool.ecolint]\nslect = ['ECO']\n", encoding="utf-8")

    async def scenario(editor: Editor) -> None:
        loud = editor.open("load.py", INT8)
        ignored = editor.open("quiet/load.py", INT8 + THRESHOLD_INT.split("\n", 2)[2])
        excluded = editor.open("quiet/vendored/load.py", INT8)
        misconfigured = editor.open("broken/load.py", INT8)
        await editor.codes_become(loud, ["ECO101"])
        await editor.codes_become(ignored, ["ECO106"])
        await editor.until(lambda: bool(editor.diagnostics.get(misconfigured)), "the configuration error")
        (problem,) = editor.diagnostics[misconfigured]
        assert problem.code is None and problem.severity == types.DiagnosticSeverity.Error
        assert "unknown key `slect`" in problem.message and str(broken / "pyproject.toml") in problem.message
        await editor.until(lambda: excluded in editor.published, "the excluded document's (empty) diagnostics")
        assert editor.diagnostics[excluded] == []
        # The configuration mended: the document is linted with it once it changes.
        (broken / "pyproject.toml").write_text("[tool.ecolint]\n", encoding="utf-8")
        editor.edit(misconfigured, [types.TextEdit(types.Range(types.Position(0, 0), types.Position(0, 0)), "# mended\n")])
        await editor.codes_become(misconfigured, ["ECO101"])

    run_editor(tmp_path, scenario)


def test_an_unsaved_document_takes_the_workspace_settings(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.ecolint]\nignore = ["ECO101"]\n', encoding="utf-8")

    async def scenario(editor: Editor) -> None:
        uri = "untitled:Untitled-1"
        text = INT8 + THRESHOLD_INT.split("\n", 2)[2]
        editor.texts[uri], editor.versions[uri] = text, 1
        editor.text_document_did_open(types.DidOpenTextDocumentParams(types.TextDocumentItem(uri, "python", 1, text)))
        await editor.codes_become(uri, ["ECO106"])

    run_editor(tmp_path, scenario)


def test_positions_count_utf16_and_only_protocol_line_breaks(project: Path) -> None:
    text = 'note = "\U0001f40d \u2028 \x0c"  # a snake, a line separator and a form feed, inside one line\n' + THRESHOLD_INT

    async def scenario(editor: Editor) -> None:
        uri = editor.open("odd.py", text.replace("config =", "cfg = '\U0001f40d'; config ="))
        (diagnostic,) = await editor.codes_become(uri, ["ECO106"])
        line = lines_of(editor.texts[uri])[diagnostic.range.start.line]
        assert diagnostic.range.start.line == 3 and line.startswith("cfg = ")
        # An edit after the odd line lands on the line the editor means.
        editor.edit(uri, [types.TextEdit(types.Range(types.Position(2, 0), types.Position(2, 0)), "\n")])
        await editor.until(lambda: [d.range.start.line for d in editor.diagnostics[uri]] == [4], "the finding one line down")
        (fix,) = fixes(await editor.actions(uri, 4, diagnostic.range.start.character))
        assert fix.edit is not None
        editor.apply(fix.edit)
        await editor.codes_become(uri, [])
        assert "cfg = '\U0001f40d'; config = BitsAndBytesConfig(load_in_8bit=True, llm_int8_threshold=0.0)\n" in editor.texts[uri]

    run_editor(project, scenario)


def _notebook(editor: Editor, name: str, cells: list[tuple[types.NotebookCellKind, str]]) -> tuple[str, list[str]]:
    notebook = editor.uri(name)
    uris = [f"{notebook}#cell{index}" for index in range(len(cells))]
    for uri, (_, text) in zip(uris, cells):
        editor.texts[uri], editor.versions[uri] = text, 1
    editor.notebook_document_did_open(
        types.DidOpenNotebookDocumentParams(
            types.NotebookDocument(notebook, "jupyter-notebook", 1, [types.NotebookCell(kind, uri) for uri, (kind, _) in zip(uris, cells)]),
            [
                types.TextDocumentItem(uri, "python" if kind == types.NotebookCellKind.Code else "markdown", 1, text)
                for uri, (kind, text) in zip(uris, cells)
            ],
        )
    )
    return notebook, uris


def test_notebook_cells_are_one_module_located_per_cell(project: Path) -> None:
    code, markdown = types.NotebookCellKind.Code, types.NotebookCellKind.Markup
    cells = [
        (code, "%pip install transformers\nfrom transformers import BitsAndBytesConfig"),
        (markdown, "Load it in 8 bits: `load_in_8bit=True`."),
        (code, "import torch\n\nconfig = BitsAndBytesConfig(load_in_8bit=True, llm_int8_threshold=0)"),
    ]
    nb_text = {"cells": [{"cell_type": "code" if k == code else "markdown", "source": t, "metadata": {}} for k, t in cells]}

    async def scenario(editor: Editor) -> None:
        notebook, (first, prose, third) = _notebook(editor, "eval.ipynb", cells)
        (diagnostic,) = await editor.codes_become(third, ["ECO106"])
        assert editor.diagnostics.get(first) == [] and prose not in editor.diagnostics
        # Where `ecolint check` puts it: cell 3, its row within the cell.
        (project / "eval.ipynb").write_text(json.dumps({**nb_text, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}), encoding="utf-8")
        check = subprocess.run([sys.executable, "-m", "ecolint", "check", "--no-cache", "--output-format", "json", "eval.ipynb"],
                               capture_output=True, text=True, cwd=project, timeout=TIMEOUT)  # fmt: skip
        (expected,) = json.loads(check.stdout)
        assert expected["cell"] == 3
        assert (diagnostic.range.start.line + 1, diagnostic.range.start.character + 1) == (
            expected["location"]["row"],
            expected["location"]["column"],
        )
        # A cell edited: the notebook changes, the diagnostics follow.
        end = types.Position(2, len("config = BitsAndBytesConfig(load_in_8bit=True, llm_int8_threshold=0"))
        editor.texts[third] = apply_edits(editor.texts[third], [types.TextEdit(types.Range(end, end), ".0")])
        editor.versions[third] += 1
        change = types.NotebookDocumentCellContentChanges(
            types.VersionedTextDocumentIdentifier(editor.versions[third], third),
            [types.TextDocumentContentChangePartial(types.Range(end, end), ".0")],
        )
        editor.notebook_document_did_change(
            types.DidChangeNotebookDocumentParams(
                types.VersionedNotebookDocumentIdentifier(2, notebook),
                types.NotebookDocumentChangeEvent(cells=types.NotebookDocumentCellChanges(text_content=[change])),
            )
        )
        await editor.codes_become(third, [])

    run_editor(project, scenario, capabilities(notebooks=True))


def test_notebook_fix_applies_to_its_cell(project: Path) -> None:
    code = types.NotebookCellKind.Code
    cells = [
        (code, "from transformers import BitsAndBytesConfig\n"),
        (code, "config = BitsAndBytesConfig(load_in_8bit=True, llm_int8_threshold=0)\n"),
    ]

    async def scenario(editor: Editor) -> None:
        notebook, (first, second) = _notebook(editor, "fix.ipynb", cells)
        (diagnostic,) = await editor.codes_become(second, ["ECO106"])
        (fix,) = fixes(await editor.actions(second, 0, diagnostic.range.start.character))
        assert fix.edit is not None and fix.edit.document_changes is not None
        (change,) = fix.edit.document_changes
        assert isinstance(change, types.TextDocumentEdit) and change.text_document.uri == second
        assert apply_edits(cells[1][1], list(change.edits)) == "config = BitsAndBytesConfig(load_in_8bit=True, llm_int8_threshold=0.0)\n"
        (fix_all,) = await editor.actions(second, 0, 0, only=["notebook.source.fixAll"])
        assert fix_all.kind == "notebook.source.fixAll.ecolint" and fix_all.edit is not None
        # Closed: its cells' diagnostics are cleared.
        editor.notebook_document_did_close(types.DidCloseNotebookDocumentParams(types.NotebookDocumentIdentifier(notebook), []))
        await editor.codes_become(second, [])

    run_editor(project, scenario, capabilities(document_changes=True, notebooks=True))


def test_server_command_without_the_extra_says_what_to_install(tmp_path: Path) -> None:
    blocker = tmp_path / "block"
    blocker.mkdir()
    (blocker / "pygls").mkdir()
    (blocker / "pygls" / "__init__.py").write_text("raise ImportError('no pygls here', name='pygls')\n", encoding="utf-8")
    code = f"import sys; sys.path.insert(0, {str(blocker)!r}); from ecolint.cli import main; sys.argv = ['ecolint', 'server']; main()"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 2
    assert result.stderr == 'ecolint: error: `ecolint server` needs the server extra (missing pygls): pip install "ecolint[server]"\n'


def test_plain_commands_never_import_pygls(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text(INT8, encoding="utf-8")
    code = (
        "import sys\nfrom ecolint.cli import main\n"
        f"sys.argv = ['ecolint', 'check', '--no-cache', {str(tmp_path / 'm.py')!r}]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    modules = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=TIMEOUT).stdout.splitlines()[-1].split()
    assert "libcst" in modules and not {"pygls", "lsprotocol"} & set(modules)


def test_an_edited_configuration_applies_to_open_documents(project: Path) -> None:
    async def scenario(editor: Editor) -> None:
        uri = editor.open("load.py", INT8)
        await editor.codes_become(uri, ["ECO101"])
        await editor.until(lambda: bool(editor.registrations), "the pyproject.toml watch")
        (registration,) = editor.registrations
        assert registration.method == types.WORKSPACE_DID_CHANGE_WATCHED_FILES
        assert [w["globPattern"] for w in registration.register_options["watchers"]] == ["**/pyproject.toml"]  # type: ignore[index]
        (project / "pyproject.toml").write_text('[tool.ecolint]\nignore = ["ECO101"]\n', encoding="utf-8")
        event = types.FileEvent(from_fs_path(str(project / "pyproject.toml")), types.FileChangeType.Changed)  # type: ignore[arg-type]
        editor.workspace_did_change_watched_files(types.DidChangeWatchedFilesParams([event]))
        await editor.codes_become(uri, [])

    run_editor(project, scenario, capabilities(watch=True))
