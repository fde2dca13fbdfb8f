"""Jupyter notebooks as one module: code cells joined, magics masked, locations mapped back.

Names defined in one cell are visible in the next, as when the notebook runs. Each code
cell is preceded by a marker comment so that, after fixes, the text can be split back
into its cells; magics (`%`, `%%`, `!`) become placeholders that parse, and are restored
when the notebook is written; a cell that does not parse on its own is reported and left
out the same way. Only changed cells are rewritten; outputs, metadata, cell
ids, key order, indentation and the trailing newline stay as they were.
"""

from __future__ import annotations

import ast
import copy
import json
import re
from dataclasses import dataclass, field
from typing import Any

_MARKER = "# ecolint-cell {}"
_MARKER_RE = re.compile(r"^# ecolint-cell (\d+)$")
_PLACEHOLDER_RE = re.compile(r"ecolint-magic-(\d+)$")
_LINE_MAGIC = re.compile(r"^\s*(?:[%!]|\w+\s*=\s*[%!])")
_HELP = re.compile(r"^\s*[\w.]+\?\??\s*$")  # `model?`, `pipeline??`: IPython's help


@dataclass(frozen=True)
class CellError:
    """A code cell that does not parse on its own: where (in the joined text) and why."""

    cell: int
    row: int  # of the joined text, 1-based
    column: int
    message: str


def _syntax_error(text: str) -> tuple[int, int, str] | None:
    """(row, column, message) of the first syntax error in a cell's text, if any."""
    try:
        ast.parse(text)
    except SyntaxError as exc:
        return max(exc.lineno or 1, 1), max(exc.offset or 1, 1), exc.msg
    except (ValueError, RecursionError, MemoryError) as exc:
        return 1, 1, str(exc)
    return None


class NotebookError(Exception):
    """A notebook that cannot be read or written back; one line for users."""


def _cell_text(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


@dataclass
class Notebook:
    """A parsed notebook and how to write it back byte for byte where nothing changed."""

    data: dict[str, Any]
    indent: int | None
    trailing_newline: bool
    magics: dict[int, str] = field(default_factory=dict)  # placeholder number → original line
    broken: list[CellError] = field(default_factory=list)  # cells left out of the joined text

    def joined(self) -> str:
        """The code cells as one module, each after a marker line naming its 1-based cell number.

        Magic lines (with their backslash continuations) become placeholders. A cell that
        does not parse on its own is left out the same way, so the others are still linted
        as the module they make, and recorded in `broken`.
        """
        parts: list[str] = []
        self.broken = []
        for number, cell in enumerate(self.data.get("cells", []), start=1):
            if cell.get("cell_type") != "code":
                continue
            parts.append(_MARKER.format(number))
            marker_row = len(parts)
            lines = _cell_text(cell).split("\n")
            masked = self._masked(lines, cell_magic=bool(lines) and lines[0].lstrip().startswith("%%"))
            error = _syntax_error("\n".join(masked))
            if error is not None:
                row, column, message = error
                self.broken.append(CellError(number, marker_row + row, column, message))
                masked = self._masked(lines, cell_magic=True)
            parts.extend(masked)
        return "\n".join(parts) + "\n"

    def _masked(self, lines: list[str], cell_magic: bool) -> list[str]:
        """The cell's lines with magics replaced by placeholders: `pass` for a line magic, so a
        block it sits in stays one; a comment for a line of a `%%` cell or a continuation line."""
        found = []
        continuation = False
        for line in lines:
            if not (cell_magic or continuation or _LINE_MAGIC.search(line) or _HELP.search(line)):
                found.append(line)
                continue
            key = len(self.magics)
            self.magics[key] = line
            indent = line[: len(line) - len(line.lstrip())]
            comment = cell_magic or continuation
            found.append(f"{indent}# ecolint-magic-{key}" if comment else f"{indent}pass  # ecolint-magic-{key}")
            continuation = not cell_magic and line.rstrip().endswith("\\")
        return found

    def cell_of(self, text: str) -> list[tuple[int, int]]:
        """For each row of the joined text (0-based), its (cell number, row within the cell)."""
        where, cell, row = [], 0, 0
        for line in text.split("\n"):
            match = _MARKER_RE.match(line)
            if match:
                cell, row = int(match.group(1)), 0
                where.append((cell, 0))
            else:
                row += 1
                where.append((cell, row))
        return where

    def render(self, text: str) -> str:
        """The notebook's JSON with its code cells replaced by the (fixed) joined text."""
        cells: dict[int, list[str]] = {}
        current: list[str] | None = None
        for line in (text[:-1] if text.endswith("\n") else text).split("\n"):
            match = _MARKER_RE.match(line)
            if match:
                current = cells.setdefault(int(match.group(1)), [])
                continue
            if current is None:
                current = cells.setdefault(_first_code_cell(self.data), [])
            placeholder = _PLACEHOLDER_RE.search(line)
            current.append(self.magics[int(placeholder.group(1))] if placeholder else line)
        data = copy.deepcopy(self.data)
        for number, cell in enumerate(data.get("cells", []), start=1):
            if cell.get("cell_type") != "code" or number not in cells:
                continue
            new = "\n".join(cells[number])
            if new != _cell_text(cell):
                lines = new.split("\n")
                source = [line + "\n" for line in lines[:-1]] + ([lines[-1]] if lines[-1] else [])
                cell["source"] = source if isinstance(cell.get("source"), list) else new
        rendered = json.dumps(data, indent=self.indent, ensure_ascii=False)
        return rendered + ("\n" if self.trailing_newline else "")


def _first_code_cell(data: dict[str, Any]) -> int:
    return next((n for n, c in enumerate(data.get("cells", []), start=1) if c.get("cell_type") == "code"), 1)


def parse(text: str) -> Notebook:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise NotebookError(f"not a notebook: invalid JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise NotebookError("not a notebook: no `cells` list")
    indent_match = re.search(r"^\{\n( +)\"", text)
    indent = len(indent_match.group(1)) if indent_match else None
    return Notebook(data, indent, text.endswith("\n"))
