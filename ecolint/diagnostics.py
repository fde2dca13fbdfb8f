"""What a lint run produces: findings with locations and serialisable fix summaries."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class Applicability(str, enum.Enum):
    """How safely a fix may be applied, with ruff's meanings."""

    SAFE = "safe"  # meaning kept: applied by `ecolint fix --apply`
    UNSAFE = "unsafe"  # numerics, memory or outputs may change: needs --unsafe-fixes
    DISPLAY_ONLY = "display-only"  # advice, never applied


@dataclass(frozen=True, order=True)
class Location:
    """A 1-based row and 1-based column."""

    row: int
    column: int


@dataclass(frozen=True)
class Edit:
    """Replace the text between two locations (end exclusive) with `content`."""

    content: str
    location: Location
    end_location: Location


@dataclass(frozen=True)
class FixSummary:
    """A fix as reported: its title, applicability and the text edits it makes."""

    message: str
    applicability: Applicability
    edits: tuple[Edit, ...] = ()


@dataclass(frozen=True)
class Finding:
    """One reported problem in one file."""

    code: str
    name: str
    message: str
    path: str
    location: Location
    end_location: Location
    fix: FixSummary | None = None
    cell: int | None = None
    source_lines: tuple[str, ...] = field(default=(), compare=False)
    # What the rule resolved (model id, quantization as written, batch), for `--measure`.
    data: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @property
    def noqa_row(self) -> int:
        return self.location.row


SYNTAX_ERROR = ("ECO900", "syntax-error")
UNREADABLE_FILE = ("ECO901", "unreadable-file")


def unreadable_file(display: str, message: str) -> Finding:
    """The finding for a file that could not be read or decoded."""
    code, name = UNREADABLE_FILE
    return Finding(code, name, message, display, Location(1, 1), Location(1, 1))
