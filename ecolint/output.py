"""Reporting findings: text (rich) for people, concise, json (ruff's shape), github, sarif.

The one module that imports rich, and only when the text format is used.
"""

from __future__ import annotations

import json
import os
from typing import IO
from collections.abc import Iterable, Sequence

from ecolint import __version__
from ecolint.diagnostics import SYNTAX_ERROR, UNREADABLE_FILE, Applicability, Finding

FORMATS = ("text", "concise", "json", "github", "sarif")
HOMEPAGE = "https://github.com/ecolint/ecolint"


def fix_applies(finding: Finding, unsafe: bool) -> bool:
    if finding.fix is None:
        return False
    applicability = finding.fix.applicability
    return applicability is Applicability.SAFE or (unsafe and applicability is Applicability.UNSAFE)


def _position(finding: Finding) -> str:
    """`path:row:col`, or `path:cell N:row:col` in a notebook."""
    cell = f"cell {finding.cell}:" if finding.cell is not None else ""
    return f"{finding.path}:{cell}{finding.location.row}:{finding.location.column}"


def _marker(finding: Finding, unsafe: bool) -> str:
    return "[*] " if fix_applies(finding, unsafe) else ""


def _rule_url(code: str) -> str | None:
    from ecolint.catalogue import spec_by_code

    spec = spec_by_code(code)
    return spec.url() if spec else None


def write_findings(findings: Sequence[Finding], fmt: str, stream: IO[str], unsafe: bool) -> None:
    writer = {"text": _text, "concise": _concise, "json": _json, "github": _github, "sarif": _sarif}[fmt]
    writer(findings, stream, unsafe)


def _concise(findings: Sequence[Finding], stream: IO[str], unsafe: bool) -> None:
    for f in findings:
        stream.write(f"{_position(f)}: {f.code} {_marker(f, unsafe)}{f.message}\n")


def _text(findings: Sequence[Finding], stream: IO[str], unsafe: bool) -> None:
    from rich.console import Console
    from rich.text import Text

    console = Console(file=stream, highlight=False, soft_wrap=True, emoji=False)
    for f in findings:
        header = Text()
        header.append(f.path, style="bold")
        header.append(_position(f)[len(f.path) :] + ": ", style="cyan")
        header.append(f.code, style="bold red")
        header.append(f" {_marker(f, unsafe)}", style="cyan")
        header.append(f.message)
        console.print(header)
        gutter = len(str(f.location.row + max(len(f.source_lines) - 1, 0)))
        console.print(Text(" " * gutter + " |", style="blue"))
        for offset, line in enumerate(f.source_lines):
            row = f.location.row + offset
            console.print(Text.assemble((f"{row:>{gutter}} | ", "blue"), line.expandtabs(4)))
            start = f.location.column - 1 if offset == 0 else len(line) - len(line.lstrip())
            end = f.end_location.column - 1 if row == f.end_location.row else len(line)
            width = max(end - start, 1)
            console.print(Text.assemble((" " * gutter + " | ", "blue"), " " * start, ("^" * width + f" {f.code}", "bold red")))
        console.print(Text(" " * gutter + " |", style="blue"))
        if f.fix is not None:
            safety = "" if f.fix.applicability is Applicability.SAFE else f" ({f.fix.applicability.value})"
            console.print(Text.assemble((" " * gutter + " = ", "blue"), ("help: ", "bold cyan"), f.fix.message + safety))
        console.print()


def _location(location: object) -> dict[str, int]:
    return {"column": location.column, "row": location.row}  # type: ignore[attr-defined]


def _filename(path: str) -> str:
    return path if path == "-" else os.path.abspath(path)


def _json(findings: Sequence[Finding], stream: IO[str], unsafe: bool) -> None:
    records = []
    for f in findings:
        fix = None
        if f.fix is not None:
            fix = {
                "applicability": f.fix.applicability.value,
                "edits": [
                    {"content": e.content, "end_location": _location(e.end_location), "location": _location(e.location)}
                    for e in f.fix.edits
                ],
                "message": f.fix.message,
            }
        records.append(
            {
                "cell": f.cell,
                "code": f.code,
                "end_location": _location(f.end_location),
                "filename": _filename(f.path),
                "fix": fix,
                "location": _location(f.location),
                "message": f.message,
                "noqa_row": f.noqa_row,
                "url": _rule_url(f.code),
            }
        )
    json.dump(records, stream, indent=2, ensure_ascii=False)
    stream.write("\n")


def _escape(value: str, property_value: bool = False) -> str:
    value = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if property_value:
        value = value.replace(":", "%3A").replace(",", "%2C")
    return value


def _github(findings: Sequence[Finding], stream: IO[str], unsafe: bool) -> None:
    for f in findings:
        properties = ",".join(
            [
                f"title={_escape(f'ecolint ({f.code})', True)}",
                f"file={_escape(f.path, True)}",
                f"line={f.location.row}",
                f"col={f.location.column}",
                f"endLine={f.end_location.row}",
                f"endColumn={f.end_location.column}",
            ]
        )
        text = f"{_position(f)}: {f.code} {f.message}"
        stream.write(f"::error {properties}::{_escape(text)}\n")


def _sarif_rules() -> list[dict[str, object]]:
    from ecolint.rules import all_rules

    rules: list[dict[str, object]] = [
        {
            "id": rule.code,
            "name": rule.name,
            "shortDescription": {"text": rule.summary},
            "fullDescription": {"text": rule.documentation()},
            "help": {"text": rule.documentation(), "markdown": rule.documentation()},
            "helpUri": rule.url(),
            "defaultConfiguration": {"level": "warning"},
        }
        for rule in all_rules()
    ]
    for code, name in (SYNTAX_ERROR, UNREADABLE_FILE):
        rules.append(
            {"id": code, "name": name, "shortDescription": {"text": name.replace("-", " ")}, "defaultConfiguration": {"level": "error"}}
        )
    return rules


def _uri(path: str) -> str:
    if path == "-":
        return "stdin"
    absolute = os.path.abspath(path)
    try:
        return os.path.relpath(absolute).replace(os.sep, "/")
    except ValueError:
        return absolute.replace(os.sep, "/")


def _region(start: object, end: object) -> dict[str, int]:
    return {
        "startLine": start.row,  # type: ignore[attr-defined]
        "startColumn": start.column,  # type: ignore[attr-defined]
        "endLine": end.row,  # type: ignore[attr-defined]
        "endColumn": end.column,  # type: ignore[attr-defined]
    }


def sarif_log(findings: Iterable[Finding]) -> dict[str, object]:
    rules = _sarif_rules()
    index = {rule["id"]: i for i, rule in enumerate(rules)}
    results = []
    for f in findings:
        artifact = {"uri": _uri(f.path)}
        result: dict[str, object] = {
            "ruleId": f.code,
            "ruleIndex": index[f.code],
            "level": "error" if f.code in (SYNTAX_ERROR[0], UNREADABLE_FILE[0]) else "warning",
            "message": {"text": f.message},
            "locations": [{"physicalLocation": {"artifactLocation": artifact, "region": _region(f.location, f.end_location)}}],
        }
        if f.cell is not None:  # rows and columns count within this code cell of the notebook
            result["properties"] = {"cell": f.cell}
        if f.fix is not None and f.fix.edits:
            result["fixes"] = [
                {
                    "description": {"text": f"{f.fix.message} ({f.fix.applicability.value})"},
                    "artifactChanges": [
                        {
                            "artifactLocation": artifact,
                            "replacements": [
                                {"deletedRegion": _region(e.location, e.end_location), "insertedContent": {"text": e.content}}
                                for e in f.fix.edits
                            ],
                        }
                    ],
                }
            ]
        results.append(result)
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "ecolint", "version": __version__, "informationUri": HOMEPAGE, "rules": rules}},
                "results": results,
            }
        ],
    }


def _sarif(findings: Sequence[Finding], stream: IO[str], unsafe: bool) -> None:
    json.dump(sarif_log(findings), stream, indent=2, ensure_ascii=False)
    stream.write("\n")
