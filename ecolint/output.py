"""Reporting findings: text (rich) for people, concise, json (ruff's shape), github, sarif, markdown.

The one module that imports rich, and only when the text format is used.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any
from collections.abc import Iterable, Mapping, Sequence
from urllib.parse import quote

from ecolint import __version__
from ecolint.diagnostics import SYNTAX_ERROR, UNREADABLE_FILE, Applicability, Finding

if TYPE_CHECKING:
    from ecolint.baseline import Comparison

FORMATS = ("text", "concise", "json", "github", "sarif", "markdown")
FORMATS_WITH_EDITS = ("json", "sarif")  # the others show a fix's title and safety only
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


def write_findings(findings: Sequence[Finding], fmt: str, stream: IO[str], unsafe: bool, comparison: Comparison | None = None) -> None:
    """Write `findings` in format `fmt`; `comparison`: the baseline check they passed, told in markdown."""
    if fmt == "markdown":
        stream.write(markdown(findings, unsafe, comparison, Links.from_environment(os.environ)))
        return
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


def workflow_escape(value: str, property_value: bool = False) -> str:
    """`value` for a GitHub workflow command (`::error file=...::message`): one line, its separators escaped."""
    value = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if property_value:
        value = value.replace(":", "%3A").replace(",", "%2C")
    return value


def _github(findings: Sequence[Finding], stream: IO[str], unsafe: bool) -> None:
    for f in findings:
        properties = ",".join(
            [
                f"title={workflow_escape(f'ecolint ({f.code})', True)}",
                f"file={workflow_escape(f.path, True)}",
                f"line={f.location.row}",
                f"col={f.location.column}",
                f"endLine={f.end_location.row}",
                f"endColumn={f.end_location.column}",
            ]
        )
        text = f"{_position(f)}: {f.code} {f.message}"
        stream.write(f"::error {properties}::{workflow_escape(text)}\n")


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


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'s' * (count != 1)}"


def write_statistics(findings: Sequence[Finding], fmt: str, stream: IO[str], unsafe: bool) -> None:
    """Counts per rule, most frequent first: ruff's `--statistics` lines, or JSON / a markdown table."""
    counts = Counter(f.code for f in findings)
    fixable = Counter(f.code for f in findings if fix_applies(f, unsafe))
    names = {f.code: f.name for f in findings}
    codes = sorted(counts, key=lambda code: (-counts[code], code))
    if fmt == "json":
        rows = [{"code": c, "name": names[c], "count": counts[c], "fixable": fixable[c] > 0, "fixable_count": fixable[c]} for c in codes]
        json.dump(rows, stream, indent=2)
        stream.write("\n")
    elif fmt == "markdown":
        stream.write("| count | rule | name | fixable |\n|---:|---|---|---:|\n")
        stream.writelines(f"| {counts[c]} | {c} | `{names[c]}` | {fixable[c]} |\n" for c in codes)
    elif codes:
        count_width = max(len(str(counts[c])) for c in codes)
        code_width = max(len(c) for c in codes)
        marker = {c: ("[*] " if fixable[c] else "[ ] ") if fixable else "" for c in codes}
        stream.writelines(f"{counts[c]:>{count_width}}\t{c:<{code_width}}\t{marker[c]}{names[c]}\n" for c in codes)


@dataclass(frozen=True)
class Links:
    """Where a file's lines are shown on the forge: `{base}{path}#L{row}`, paths relative to `root`."""

    base: str  # e.g. https://github.com/owner/repo/blob/<commit>/
    root: str  # the checkout's folder

    @classmethod
    def github(cls, server: str, repository: str, commit: str, root: str) -> Links:
        return cls(f"{server.rstrip('/')}/{repository}/blob/{commit}/", root)

    @classmethod
    def from_environment(cls, env: Mapping[str, str]) -> Links | None:
        """From GitHub Actions' or GitLab CI's variables; None elsewhere."""
        if env.get("GITHUB_REPOSITORY") and env.get("GITHUB_SHA"):
            server = env.get("GITHUB_SERVER_URL") or "https://github.com"
            return cls.github(server, env["GITHUB_REPOSITORY"], env["GITHUB_SHA"], env.get("GITHUB_WORKSPACE") or os.getcwd())
        if env.get("CI_PROJECT_URL") and env.get("CI_COMMIT_SHA"):
            return cls(f"{env['CI_PROJECT_URL'].rstrip('/')}/-/blob/{env['CI_COMMIT_SHA']}/", env.get("CI_PROJECT_DIR") or os.getcwd())
        return None

    def url(self, finding: Finding) -> str | None:
        if finding.path == "-":
            return None
        relative = os.path.relpath(os.path.abspath(finding.path), os.path.abspath(self.root))
        if relative.startswith(".."):
            return None
        anchor = "" if finding.cell is not None else f"#L{finding.location.row}"  # a rendered notebook has no line anchors
        return self.base + quote(relative.replace(os.sep, "/")) + anchor


_CODE_SPAN = re.compile(r"(`+[^`]*`+)")
_SHOWN = 5  # rows of a rule's table shown before the rest fold into <details>
_APPLICABILITY = {Applicability.SAFE: "safe", Applicability.UNSAFE: "unsafe", Applicability.DISPLAY_ONLY: "advice only"}


def _cell(text: str) -> str:
    """`text` fit for a markdown table cell: one line, pipes escaped, HTML only inside code spans."""
    parts = _CODE_SPAN.split(" ".join(text.split()))
    escaped = [p if i % 2 else p.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") for i, p in enumerate(parts)]
    return "".join(escaped).replace("|", "\\|")


def _row(finding: Finding, links: Links | None) -> str:
    cell = f"cell {finding.cell}:" if finding.cell is not None else ""
    where = f"`{finding.path}:{cell}{finding.location.row}`"
    url = links.url(finding) if links is not None else None
    if url is not None:
        where = f"[{where}]({url})"
    fix = "" if finding.fix is None else f"{finding.fix.message} ({_APPLICABILITY[finding.fix.applicability]})"
    return f"| {_cell(where)} | {_cell(finding.message)} | {_cell(fix)} |\n"


def _table(findings: Sequence[Finding], links: Links | None) -> str:
    return "| where | finding | fix |\n|---|---|---|\n" + "".join(_row(f, links) for f in findings)


def markdown(findings: Sequence[Finding], unsafe: bool, comparison: Comparison | None = None, links: Links | None = None) -> str:
    """A report for a pull-request comment, a job summary or a merge-request note: counts, then a table per rule."""
    new = "new " if comparison is not None else ""
    files = len({f.path for f in findings})
    heading = (
        f"## ecolint: {_plural(len(findings), new + 'finding')} in {_plural(files, 'file')}"
        if findings
        else f"## ecolint: no {new}findings"
    )
    lines = [heading, ""]
    if comparison is not None:
        lines += [f"_{_cell(comparison.note())}_", ""]
    fixable, fixable_unsafe = sum(fix_applies(f, unsafe) for f in findings), sum(fix_applies(f, True) for f in findings)
    if fixable or fixable_unsafe:
        more = f" ({fixable_unsafe - fixable} more with `--unsafe-fixes`)" if fixable_unsafe > fixable else ""
        lines += [f"{fixable} fixable with `ecolint fix --apply`{more}.", ""]
    if not findings:
        lines += ["All checks passed.", ""]
    groups: dict[str, list[Finding]] = {}
    for finding in findings:
        groups.setdefault(finding.code, []).append(finding)
    errors = {SYNTAX_ERROR[0], UNREADABLE_FILE[0]}
    for code in sorted(groups, key=lambda code: (code not in errors, code)):
        group = groups[code]
        url = _rule_url(code)
        name = f"[`{group[0].name}`]({url})" if url else f"`{group[0].name}`"
        lines += [f"### {code} {name} ({len(group)}{', error' if code in errors else ''})", "", _table(group[:_SHOWN], links)]
        if len(group) > _SHOWN:
            rest = len(group) - _SHOWN
            lines += [
                f"<details><summary>{_plural(rest, 'more ' + code + ' finding')}</summary>",
                "",
                _table(group[_SHOWN:], links),
                "</details>",
                "",
            ]
    lines.append(f"<sub>ecolint {__version__}</sub>")
    return "\n".join(lines) + "\n"


def markdown_measurements(report: Mapping[str, Any]) -> str:
    """The `--measure` results (the JSON report, schema 2) as a markdown table."""
    from ecolint.measure.workloads import Variant

    gpu = (report.get("gpu") or {}).get("name") or "the GPU"
    lines = [f"### Measured on {_cell(gpu)}: flagged (as written) vs fixed", ""]
    measured = [f for f in report.get("findings", []) if f.get("status") != "not measured"]
    if measured:
        lines += [
            "| finding | model | variants | J / 1k tokens | tokens/s | Δ energy [95% CI] | verdict |",
            "|---|---|---|---:|---:|---:|---|",
        ]
    for item in measured:
        where = f"{item['code']} `{item['file']}:{item['line']}`"
        if item.get("status") != "measured" or not item.get("delta"):
            lines.append(f"| {where} | `{item.get('model') or ''}` | | | | | error: {_cell(str(item.get('error')))} |")
            continue
        a, b, delta = item["flagged"], item["fixed"], item["delta"]
        variants = f"{Variant(**a['variant']).describe()} → {Variant(**b['variant']).describe()}"
        energy = f"{a['median']['joules_per_1k_tokens']:,.0f} → {b['median']['joules_per_1k_tokens']:,.0f}"
        speed = f"{a['median']['tokens_per_second']:,.1f} → {b['median']['tokens_per_second']:,.1f}"
        low, high = delta["ci95"]
        change = f"{delta['percent']:+.1f}% [{low:+.1f}, {high:+.1f}]"
        lines.append(f"| {where} | `{item['model']}` | {_cell(variants)} | {energy} | {speed} | {change} | **{delta['verdict']}** |")
    lines.append("")
    for item in report.get("findings", []):
        if item.get("status") == "not measured":
            lines.append(f"- not measured: {item['code']} `{item['file']}:{item['line']}`: {_cell(str(item.get('error')))}")
    meters = {item.get("energy_reading") for item in measured if item.get("energy_reading")}
    if meters - {"nvml-energy-counter"}:
        lines.append(f"- energy read with: {', '.join(sorted(meters))} (not the NVML energy counter)")
    return "\n".join(lines).rstrip("\n") + "\n"
