"""What a rule may know beyond the tree, kept apart from `ecolint.rule` so building it imports no LibCST."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class RuleContext:
    """The file being linted and the project's settings that rules read."""

    path: Path | None = None
    models: Mapping[str, float] = field(default_factory=dict)  # model id → billions of parameters
    target_gpu: str | None = None
