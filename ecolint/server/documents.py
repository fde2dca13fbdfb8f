"""An open document as the engine lints it, and its positions both ways.

A text document is linted as its text. A notebook is linted as `ecolint check` lints an
`.ipynb` file: its code cells joined into one module by `ecolint.notebooks.Notebook`, so that
names from one cell are seen in the next, magics masked and `# noqa` read per line; each row
of that module is mapped back to its cell (`Notebook.cell_of`), the cell's own text document
in the editor. Rows and columns are the engine's (1-based, counted in code points); the
editor's are 0-based lines and characters in the negotiated position encoding (UTF-16 unless
the client chose otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from lsprotocol import types

from ecolint.diagnostics import Edit, Location
from ecolint.fixing.fixes import text_edits
from ecolint.sources import Source, split_lines

if TYPE_CHECKING:
    from pygls.workspace import PositionCodec

    from ecolint.notebooks import Notebook

PYTHON_SUFFIXES = (".py", ".pyi")


@dataclass(frozen=True)
class Cell:
    """One cell of a notebook, as the editor holds it."""

    uri: str
    version: int | None
    number: int  # 1-based among all the notebook's cells, as `Notebook.joined` numbers them
    code: bool  # a Python code cell (linted), or markdown or another language (not)
    text: str


@dataclass(frozen=True)
class Snapshot:
    """One version of an open text document or notebook, as the engine lints it.

    `generation` counts the changes the server has seen to this document: a result computed
    from an older generation is stale and never published."""

    uri: str  # the text document's, or the notebook's
    version: int | None
    generation: int
    path: Path | None  # where the document lives on disk, for settings, excludes and per-file ignores
    text: str  # the module linted: the document's text, or the notebook's code cells joined
    cells: tuple[Cell, ...] = ()  # a notebook's cells; empty for a text document
    notebook: Notebook | None = None
    _rows: list[tuple[int, int]] = field(default_factory=list, compare=False, repr=False)  # joined row → (cell, row in it)

    @classmethod
    def of_notebook(cls, uri: str, version: int | None, generation: int, path: Path | None, cells: tuple[Cell, ...]) -> Snapshot:
        from ecolint.notebooks import Notebook

        data = {"cells": [{"cell_type": "code" if cell.code else "markdown", "source": cell.text} for cell in cells]}
        notebook = Notebook(data, indent=None, trailing_newline=True)
        text = notebook.joined()
        return cls(uri, version, generation, path, text, cells, notebook, notebook.cell_of(text))

    @property
    def display_name(self) -> str:
        return str(self.path) if self.path is not None else self.uri

    def source(self) -> Source:
        """What the engine lints: the text (for a notebook, its joined cells, located here rather than by the engine)."""
        return Source(self.path, self.display_name, self.text)

    def uris(self) -> list[str]:
        """The editor documents this snapshot covers: itself, or the notebook's code cells."""
        return [cell.uri for cell in self.cells if cell.code] if self.notebook is not None else [self.uri]

    # Engine → editor

    def place(self, location: Location) -> tuple[str, int, int]:
        """(document uri, 0-based line, 0-based column in code points) of an engine location."""
        if self.notebook is None:
            return self.uri, location.row - 1, location.column - 1
        number, row = self._rows[min(max(location.row, 1), len(self._rows)) - 1]
        return self._cell(number).uri, max(row, 1) - 1, location.column - 1

    def range(self, start: Location, end: Location, codec: PositionCodec) -> tuple[str, types.Range]:
        """The editor document and range of an engine span; a span crossing cells ends where its cell does."""
        uri, line, column = self.place(start)
        end_uri, end_line, end_column = self.place(end)
        lines = self.lines(uri)
        if end_uri != uri or (end_line, end_column) < (line, column):
            end_line, end_column = max(len(lines) - 1, line), len(lines[-1]) if lines else 0
        return uri, codec.range_to_client_units(lines, types.Range(types.Position(line, column), types.Position(end_line, end_column)))

    def lines(self, uri: str) -> list[str]:
        """The lines of one editor document, each with its line break (none for a document not in this snapshot)."""
        if self.notebook is None:
            return split_lines(self.text)
        cell = self._cell_by_uri(uri)
        return split_lines(cell.text) if cell is not None else []

    # Editor → engine

    def location(self, uri: str, position: types.Position, codec: PositionCodec) -> Location | None:
        """The engine location of an editor position (None: not in a linted part of this document)."""
        lines = self.lines(uri)
        server = codec.position_from_client_units(lines, position) if lines else types.Position(0, 0)
        if self.notebook is None:
            return Location(server.line + 1, server.character + 1)
        cell = self._cell_by_uri(uri)
        try:
            joined = self._rows.index((cell.number if cell is not None else -1, server.line + 1))
        except ValueError:
            return None
        return Location(joined + 1, server.character + 1)

    def edits(self, fixed: str, codec: PositionCodec) -> dict[str, list[types.TextEdit]]:
        """Per editor document, the edits that turn this snapshot's text into `fixed` (another text of the same module)."""
        if self.notebook is None:
            return _edits(self.text, fixed, self.lines(self.uri), codec, self.uri)
        before, after = self._cell_texts(self.text), self._cell_texts(fixed)
        changes = {}
        for cell in self.cells:
            if cell.code and before.get(cell.number, "") != after.get(cell.number, ""):
                changes.update(_edits(before.get(cell.number, ""), after.get(cell.number, ""), split_lines(cell.text), codec, cell.uri))
        return changes

    def apply(self, edits: tuple[Edit, ...]) -> str:
        """This snapshot's text with an engine fix's edits (non-overlapping, in engine locations) applied."""
        starts = [0]
        for line in split_lines(self.text):
            starts.append(starts[-1] + len(line))

        def offset(location: Location) -> int:
            row = min(max(location.row, 1), len(starts))
            return min(starts[row - 1] + location.column - 1, len(self.text))

        text = self.text
        for edit in sorted(edits, key=lambda e: (e.location, e.end_location), reverse=True):
            text = text[: offset(edit.location)] + edit.content + text[offset(edit.end_location) :]
        return text

    def _cell(self, number: int) -> Cell:
        return next((cell for cell in self.cells if cell.number == number), self.cells[0])

    def _cell_by_uri(self, uri: str) -> Cell | None:
        return next((cell for cell in self.cells if cell.uri == uri), None)

    def _cell_texts(self, joined: str) -> dict[int, str]:
        """Cell number → its text (magics still masked) in a joined module, split as `Notebook.render` splits it."""
        assert self.notebook is not None
        first = next((cell.number for cell in self.cells if cell.code), 1)
        body = joined[:-1] if joined.endswith("\n") else joined
        lines: dict[int, list[str]] = {}
        for line, (number, row) in zip(body.split("\n"), self.notebook.cell_of(body)):
            if row:  # row 0 is the marker line opening a cell
                lines.setdefault(number or first, []).append(line)
        return {number: "\n".join(cell_lines) for number, cell_lines in lines.items()}


def _edits(before: str, after: str, lines: list[str], codec: PositionCodec, uri: str) -> dict[str, list[types.TextEdit]]:
    def position(location: Location) -> types.Position:
        return codec.position_to_client_units(lines, types.Position(location.row - 1, location.column - 1))

    edits = [types.TextEdit(types.Range(position(e.location), position(e.end_location)), e.content) for e in text_edits(before, after)]
    return {uri: edits} if edits else {}
