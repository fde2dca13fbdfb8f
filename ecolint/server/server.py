"""The language server: open documents in, diagnostics out; code actions and hovers from the latest lint.

Linting runs on one background thread, so the event loop keeps reading the client's messages
while a large file is linted. Each document counts the changes it has seen (its generation): a
change that comes within `DEBOUNCE_SECONDS` of the one before (typing) waits that long for the
next before its lint starts, a change after a pause lints at once, a lint that finds its
document changed meanwhile is skipped, and a result whose document changed since it started
is never published. Open and save lint at once. Requests (code actions, hover) use the
result for the document as it is now, linting it first if there is none.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import queue
import threading
from pathlib import Path
from typing import Any, Callable

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method
from pygls.uris import to_fs_path, uri_scheme
from pygls.workspace import TextDocument, Workspace

from ecolint import __version__
from ecolint.linters import Linters
from ecolint.server import features
from ecolint.server.documents import PYTHON_SUFFIXES, Cell, Snapshot
from ecolint.sources import split_lines

logger = logging.getLogger(__name__)

DEBOUNCE_SECONDS = 0.1
CONFIG_WATCH_ID = "ecolint-pyproject"


class _Worker:
    """One daemon thread running jobs in order: exit never waits for a lint in progress."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[concurrent.futures.Future[Any], Callable[..., Any], tuple[Any, ...]]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def submit(self, job: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        """Run `job(*args)` on the thread; the result, for the event loop to await (call from the loop)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="ecolint-lint", daemon=True)
            self._thread.start()
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self._jobs.put((future, job, args))
        return asyncio.wrap_future(future)

    def _run(self) -> None:
        while True:
            future, job, args = self._jobs.get()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(job(*args))
            except BaseException as exc:  # noqa: BLE001 - handed to the awaiting request
                future.set_exception(exc)


class _Document(TextDocument):
    """pygls' document with its lines ended where the protocol ends them.

    pygls splits with `str.splitlines`, which also ends a line at a form feed or U+2028, so it
    would apply the client's incremental edits after one to the wrong line."""

    @property
    def lines(self) -> tuple[str, ...]:  # type: ignore[override]
        return tuple(split_lines(self.source))


class _Workspace(Workspace):
    def _create_text_document(
        self, doc_uri: str, source: str | None = None, version: int | None = None, language_id: str | None = None
    ) -> TextDocument:
        return _Document(
            doc_uri, source=source, version=version, language_id=language_id, sync_kind=self._sync_kind, position_codec=self.position_codec
        )


class _Protocol(LanguageServerProtocol):
    @lsp_method(types.INITIALIZE)
    def lsp_initialize(self, params: types.InitializeParams):  # type: ignore[no-untyped-def]
        result = yield from super().lsp_initialize(params)
        plain = self.workspace
        self._workspace = _Workspace(
            plain.root_uri, types.TextDocumentSyncKind.Incremental, list(plain.folders.values()), plain.position_encoding
        )
        return result


class EcolintServer(LanguageServer):
    """ecolint over the Language Server Protocol: what `ecolint check` and `fix` do, for the text in the editor."""

    def __init__(self) -> None:
        # Any notebook type, its Python cells. Said as `notebook: "*"`: lsprotocol's own clients cannot read a filter without it.
        python_cells = types.NotebookDocumentFilterWithNotebook(notebook="*", cells=[types.NotebookCellLanguage(language="python")])
        super().__init__(
            "ecolint",
            __version__,
            text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
            notebook_document_sync=types.NotebookDocumentSyncOptions(notebook_selector=[python_cells], save=True),
            protocol_cls=_Protocol,
        )
        self.linters = Linters(fix_edits=False)  # diagnostics: a fix's edits are computed when a code action asks
        self.edit_linters = Linters()
        self.client = features.Client()
        self.generations: dict[str, int] = {}  # open text document or notebook → changes seen
        self.results: dict[str, features.Linted] = {}  # the latest lint published for each
        self.published: dict[str, set[str]] = {}  # editor documents that hold diagnostics, per open document
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._last_change: dict[str, float] = {}  # when each document last changed, on the event loop's clock
        self._linting: dict[str, tuple[int, asyncio.Future[features.Linted | None]]] = {}  # the lint on its way, by generation
        self._worker = _Worker()

    @property
    def root(self) -> Path:
        """Where settings are looked for when a document has no path (an unsaved, untitled one)."""
        return Path(self.workspace.root_path or os.getcwd())

    # Documents

    def opened(self, key: str) -> None:
        self.generations[key] = 0
        self.lint_after(key, 0)

    def changed(self, key: str, delay: float = DEBOUNCE_SECONDS) -> None:
        if key in self.generations:
            self.generations[key] += 1
            now = asyncio.get_running_loop().time()
            typing = now - self._last_change.get(key, float("-inf")) < delay
            self._last_change[key] = now
            self.lint_after(key, delay if typing else 0)

    def closed(self, key: str) -> None:
        self.generations.pop(key, None)
        self._last_change.pop(key, None)
        self.results.pop(key, None)
        self._cancel(key)
        for uri in self.published.pop(key, set()):
            self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))

    def key_of(self, uri: str) -> str | None:
        """The open document a request's uri belongs to: itself, or the notebook holding that cell."""
        notebook = self.workspace.get_notebook_document(cell_uri=uri)
        key = notebook.uri if notebook is not None else uri
        return key if key in self.generations else None

    def snapshot(self, key: str) -> Snapshot:
        generation = self.generations[key]
        path = Path(to_fs_path(key)) if uri_scheme(key) == "file" else None
        notebook = self.workspace.get_notebook_document(notebook_uri=key)
        if notebook is None:
            document = self.workspace.get_text_document(key)
            return Snapshot(key, document.version, generation, path, document.source)
        cells = []
        for number, cell in enumerate(notebook.cells, start=1):
            document = self.workspace.get_text_document(cell.document)
            code = cell.kind == types.NotebookCellKind.Code and document.language_id in (None, "python")
            cells.append(Cell(cell.document, document.version, number, code, document.source))
        return Snapshot.of_notebook(key, notebook.version, generation, path, tuple(cells))

    # Linting

    def lint_after(self, key: str, delay: float) -> None:
        self._cancel(key)
        self._timers[key] = asyncio.get_running_loop().call_later(delay, self._lint, key)

    def _cancel(self, key: str) -> None:
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()

    def stop(self) -> None:
        """No more lints: the client is shutting down."""
        for key in list(self._timers):
            self._cancel(key)
        self.generations.clear()

    def _lint(self, key: str) -> None:
        self._timers.pop(key, None)
        if key in self.generations and not self._is_current(self.results.get(key)):
            self._lint_of(key)

    def _lint_of(self, key: str) -> asyncio.Future[features.Linted | None]:
        """The lint of the document as it is now: the one on its way, or a new one; published when done."""
        generation = self.generations[key]
        pending = self._linting.get(key)
        if pending is not None and pending[0] == generation:
            return pending[1]
        future = self._worker.submit(self._lint_if_current, self.snapshot(key))
        self._linting[key] = (generation, future)
        future.add_done_callback(lambda done: self._lint_done(key, done))
        return future

    def _lint_if_current(self, snapshot: Snapshot) -> features.Linted | None:
        """On the worker: lint, unless the document changed since (a newer lint is on its way)."""
        if self.generations.get(snapshot.uri) != snapshot.generation:
            return None
        return features.lint(snapshot, self.linters, self.root)

    def _lint_done(self, key: str, future: asyncio.Future[features.Linted | None]) -> None:
        if self._linting.get(key, (None, None))[1] is future:
            del self._linting[key]
        if future.cancelled():
            return
        if future.exception() is not None:
            logger.error("lint failed: %s", future.exception())
        elif future.result() is not None:
            self.publish(future.result())

    def _is_current(self, linted: features.Linted | None) -> bool:
        return linted is not None and self.generations.get(linted.snapshot.uri) == linted.snapshot.generation

    def publish(self, linted: features.Linted) -> None:
        """Send a lint's diagnostics, if its document has not changed since; clear those of cells no longer there."""
        if not self._is_current(linted):
            return
        key = linted.snapshot.uri
        before = self.results.get(key)
        self.results[key] = linted
        if linted.skipped is not None and (before is None or before.skipped != linted.skipped):
            self.window_log_message(types.LogMessageParams(types.MessageType.Info, f"ecolint: skipped {linted.skipped}"))
        if linted.problem is not None and (before is None or before.problem != linted.problem):
            message = f"ecolint: {linted.snapshot.display_name}: {linted.problem}"
            self.window_log_message(types.LogMessageParams(types.MessageType.Error, message))
        published = features.diagnostics(linted, self.workspace.position_codec)
        for uri in self.published.get(key, set()) - set(published):
            published[uri] = []
        for uri, diagnostics in published.items():
            version = linted.snapshot.version if uri == key else None
            self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics, version=version))
        self.published[key] = {uri for uri, diagnostics in published.items() if diagnostics}

    async def current(self, uri: str) -> features.Linted | None:
        """The lint of the document holding `uri` as it is now (None: not open, or changed while linted)."""
        key = self.key_of(uri)
        if key is None:
            return None
        linted = self.results.get(key)
        if self._is_current(linted):
            return linted
        linted = await asyncio.shield(self._lint_of(key))  # a request cancelled by the client leaves the lint to finish
        return linted if self._is_current(linted) else None

    async def on_worker(self, job: Callable[..., Any], *args: Any) -> Any:
        return await self._worker.submit(job, *args)


def _is_python(document: types.TextDocumentItem) -> bool:
    return document.language_id == "python" or document.uri.endswith(PYTHON_SUFFIXES)


def create_server() -> EcolintServer:
    """A server with every feature registered; `start_io()` runs it on stdin and stdout."""
    server = EcolintServer()

    @server.feature(types.INITIALIZE)
    def initialize(ls: EcolintServer, params: types.InitializeParams) -> None:
        ls.client = features.Client.of(params.capabilities)

    @server.feature(types.INITIALIZED)
    async def initialized(ls: EcolintServer, params: types.InitializedParams) -> None:
        """Ask to hear of changed `pyproject.toml` files, to lint the open documents again with their new settings."""
        watched = ls.client_capabilities.workspace and ls.client_capabilities.workspace.did_change_watched_files
        if watched and watched.dynamic_registration:
            options = types.DidChangeWatchedFilesRegistrationOptions(watchers=[types.FileSystemWatcher(glob_pattern="**/pyproject.toml")])
            registration = types.Registration(CONFIG_WATCH_ID, types.WORKSPACE_DID_CHANGE_WATCHED_FILES, options)
            try:
                await ls.client_register_capability_async(types.RegistrationParams([registration]))
            except Exception as exc:  # noqa: BLE001 - without it, settings apply at each document's next change
                logger.warning("the client did not take the pyproject.toml watch: %s", exc)

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def configuration_changed(ls: EcolintServer, params: types.DidChangeWatchedFilesParams) -> None:
        for key in list(ls.generations):
            ls.changed(key, 0)

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: EcolintServer, params: types.DidOpenTextDocumentParams) -> None:
        if _is_python(params.text_document):
            ls.opened(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: EcolintServer, params: types.DidChangeTextDocumentParams) -> None:
        ls.changed(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE, types.SaveOptions(include_text=False))
    def did_save(ls: EcolintServer, params: types.DidSaveTextDocumentParams) -> None:
        ls.changed(params.text_document.uri, 0)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: EcolintServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.closed(params.text_document.uri)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_OPEN)
    def notebook_did_open(ls: EcolintServer, params: types.DidOpenNotebookDocumentParams) -> None:
        ls.opened(params.notebook_document.uri)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_CHANGE)
    def notebook_did_change(ls: EcolintServer, params: types.DidChangeNotebookDocumentParams) -> None:
        ls.changed(params.notebook_document.uri)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_SAVE)
    def notebook_did_save(ls: EcolintServer, params: types.DidSaveNotebookDocumentParams) -> None:
        ls.changed(params.notebook_document.uri, 0)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_CLOSE)
    def notebook_did_close(ls: EcolintServer, params: types.DidCloseNotebookDocumentParams) -> None:
        ls.closed(params.notebook_document.uri)

    code_action_kinds = [types.CodeActionKind.QuickFix, features.FIX_ALL, features.NOTEBOOK_FIX_ALL]

    @server.feature(types.TEXT_DOCUMENT_CODE_ACTION, types.CodeActionOptions(code_action_kinds=code_action_kinds, resolve_provider=True))
    async def code_action(ls: EcolintServer, params: types.CodeActionParams) -> list[types.CodeAction] | None:
        uri = params.text_document.uri
        linted = await ls.current(uri)
        if linted is None or not linted.findings:
            return None
        only = [getattr(kind, "value", kind) for kind in params.context.only] if params.context.only else None
        codec = ls.workspace.position_codec
        linted = await ls.on_worker(features.with_fix_edits, linted, ls.edit_linters, ls.root)
        return await ls.on_worker(features.code_actions, linted, uri, params.range, only, codec, ls.client)  # type: ignore[no-any-return]

    @server.feature(types.CODE_ACTION_RESOLVE)
    async def code_action_resolve(ls: EcolintServer, action: types.CodeAction) -> types.CodeAction:
        uri = features.fix_all_document(action)
        linted = await ls.current(uri) if uri is not None else None
        if linted is None or action.edit is not None:
            return action
        return await ls.on_worker(features.resolve_fix_all, action, linted, ls.workspace.position_codec, ls.client)  # type: ignore[no-any-return]

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    async def hover(ls: EcolintServer, params: types.HoverParams) -> types.Hover | None:
        linted = await ls.current(params.text_document.uri)
        if linted is None or linted.problem is not None:
            return None
        return features.hover(linted, params.text_document.uri, params.position, ls.workspace.position_codec, ls.client)

    @server.feature(types.SHUTDOWN)
    def shutdown(ls: EcolintServer, params: None) -> None:
        ls.stop()

    return server


def serve() -> None:
    """Run the server on stdin and stdout until the client says exit.

    Python's cycle collector is tuned as for a batch run (`ecolint.cli`): each lint allocates
    hundreds of thousands of short-lived LibCST and `ast` nodes, and at the default threshold the
    collections, full ones walking every object the server holds, were a tenth of a lint."""
    import gc

    gc.freeze()
    gc.set_threshold(200_000, 50, 1000)
    debug = bool(os.environ.get("ECOLINT_DEBUG"))
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, format="ecolint server: %(name)s: %(message)s")
    if not debug:  # pygls warns of what editors do every day, such as cancelling a request already answered
        logging.getLogger("pygls").setLevel(logging.ERROR)
    create_server().start_io()
