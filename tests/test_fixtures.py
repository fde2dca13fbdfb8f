"""One harness for every rule's fixtures in tests/fixtures/<CODE>/.

For each `<case>.py`, run only that rule and compare with:
- `<case>.expected`: one `row:col CODE` line per finding (empty: must not be flagged);
- `<case>.fixed.py`: the file after `fix --apply --unsafe-fixes` with that rule.
The fixed file must parse, be free of fixable findings of the rule, and fix to itself.
Set ECOLINT_UPDATE_FIXTURES=1 to rewrite the expectations (then review the diff).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from ecolint.diagnostics import Applicability
from ecolint.engine import Linter
from ecolint.fixing.fixes import fix_until_stable, parses
from ecolint.rules import all_rules, rule_by_code
from ecolint.sources import Source

FIXTURES = Path(__file__).parent / "fixtures"
UPDATE = os.environ.get("ECOLINT_UPDATE_FIXTURES") == "1"
CASES = sorted(p for p in FIXTURES.glob("*/*.py") if not p.name.endswith(".fixed.py"))


def _lint(linter: Linter, text: str, name: str):
    return linter.lint(Source(None, name, text), plan_fixes=True)


def _fix(linter: Linter, text: str, name: str) -> str:
    def plan(current: str):
        result = _lint(linter, current, name)
        return result.module, result.planned

    return fix_until_stable(text, plan, unsafe=True).text


def _check_or_update(path: Path, actual: str) -> None:
    if UPDATE:
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"missing {path.name}; run with ECOLINT_UPDATE_FIXTURES=1 and review"
    assert path.read_text(encoding="utf-8") == actual


@pytest.mark.parametrize("case", CASES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_fixture(case: Path) -> None:
    rule = rule_by_code(case.parent.name)
    assert rule is not None, f"{case.parent.name} is not a rule code"
    linter = Linter([rule])
    text = case.read_text(encoding="utf-8")
    findings = _lint(linter, text, case.name).findings
    listed = "".join(f"{f.location.row}:{f.location.column} {f.code}\n" for f in findings)
    _check_or_update(case.with_suffix(".expected"), listed)
    if case.stem.startswith("ok_"):
        assert not findings, "an ok_ case must not be flagged"

    fixed_path = case.with_name(case.stem + ".fixed.py")
    if not any(f.fix is not None and f.fix.applicability is not Applicability.DISPLAY_ONLY for f in findings):
        assert not fixed_path.exists(), "a fixed file for a case with no fix"
        return
    fixed = _fix(linter, text, case.name)
    assert fixed != text
    _check_or_update(fixed_path, fixed)
    assert parses(fixed)
    assert _fix(linter, fixed, case.name) == fixed, "fixing is not idempotent"
    remaining = _lint(linter, fixed, case.name).findings
    assert not [f for f in remaining if f.fix is not None and f.fix.edits], "a fixable finding survived fixing"


def _code_blocks(doc: str, section: str) -> list[str]:
    match = re.search(rf"^## {section}\n(.*?)(?=^## |\Z)", doc, re.S | re.M)
    assert match, f"no `## {section}` section"
    return re.findall(r"```python\n(.*?)```", match.group(1), re.S)


@pytest.mark.parametrize("rule", all_rules(), ids=lambda r: r.code)
def test_documented_example_is_flagged_and_use_instead_is_clean(rule) -> None:
    doc = rule.documentation()
    linter = Linter([rule])
    for block in _code_blocks(doc, "Example"):
        assert _lint(linter, block, "example.py").findings, f"{rule.code}'s Example is not flagged"
    for block in _code_blocks(doc, "Use instead"):
        assert not _lint(linter, block, "use_instead.py").findings, f"{rule.code}'s Use instead is flagged"


@pytest.mark.parametrize("rule", all_rules(), ids=lambda r: r.code)
def test_rule_has_flagged_and_unflagged_fixtures(rule) -> None:
    names = [p.stem for p in CASES if p.parent.name == rule.code]
    assert any(n.startswith("ok_") for n in names), "no must-not-flag case"
    assert any(not n.startswith("ok_") for n in names), "no flagged case"


def test_the_prefilter_never_changes_findings():
    """Every fixture and example, linted with and without the prefilter, gives the same findings."""
    sources = CASES + sorted((FIXTURES.parent.parent / "examples").rglob("*.py"))
    for path in sources:
        text = path.read_text(encoding="utf-8")
        filtered = Linter(all_rules()).lint(Source(None, path.name, text)).findings
        assert filtered == Linter(all_rules(), prefilter=False).lint(Source(None, path.name, text)).findings, path
