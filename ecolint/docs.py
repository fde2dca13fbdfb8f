"""What is generated from the rule classes: the `rules/` pages and the rule catalogue.

`python -m ecolint.docs` rewrites them; `--check` exits 1 if any is stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ecolint.catalogue import catalogue_json
from ecolint.rule import FixAvailability, Rule
from ecolint.rules import all_rules

_FIX_TEXT = {
    FixAvailability.ALWAYS: "Fix is always available.",
    FixAvailability.SOMETIMES: "Fix is sometimes available.",
    FixAvailability.NONE: "No fix is available.",
}


def rule_page(rule: type[Rule]) -> str:
    return f"# {rule.code}: `{rule.name}`\n\n{rule.summary}.\n\n*{_FIX_TEXT[rule.fix_availability]}*\n\n{rule.documentation()}\n"


def index_page() -> str:
    rows = [f"| [{r.code}]({r.code}.md) | `{r.name}` | {r.summary} | {r.fix_availability.value} |" for r in all_rules()]
    header = [
        "# ecolint rules",
        "",
        "Generated from the rules' docstrings by `python -m ecolint.docs`; do not edit by hand.",
        "",
        "| code | name | what it flags | fix |",
        "|---|---|---|---|",
    ]
    return "\n".join(header + rows) + "\n"


def pages() -> dict[str, str]:
    """File name → content of every page the `rules/` folder should hold."""
    result = {"README.md": index_page()}
    result.update({f"{rule.code}.md": rule_page(rule) for rule in all_rules()})
    return result


def main(argv: list[str]) -> int:
    directory = Path(__file__).resolve().parent.parent / "rules"
    catalogue_file = Path(__file__).resolve().parent / "data" / "catalogue.json"
    expected = pages()
    catalogue = catalogue_json(all_rules())
    if "--check" in argv:
        actual = {p.name: p.read_text(encoding="utf-8") for p in directory.glob("*.md")}
        if actual != expected or catalogue_file.read_text(encoding="utf-8") != catalogue:
            print("rules/ or the rule catalogue is stale: run `python -m ecolint.docs`", file=sys.stderr)
            return 1
        return 0
    catalogue_file.write_text(catalogue, encoding="utf-8")
    directory.mkdir(exist_ok=True)
    for stale in set(p.name for p in directory.glob("*.md")) - set(expected):
        (directory / stale).unlink()
    for name, content in expected.items():
        (directory / name).write_text(content, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
