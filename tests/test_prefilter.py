"""The prefilter and the skeleton parse skip work, never findings."""

from __future__ import annotations

from pathlib import Path

import pytest

import ecolint.engine
from ecolint.catalogue import catalogue
from ecolint.engine import Linter
from ecolint.prefilter import code_view, imports_any
from ecolint.sources import Source

FIXTURES = Path(__file__).parent / "fixtures"
EXAMPLES = Path(__file__).parent.parent / "examples"


def test_code_view_blanks_docstrings_and_comments_but_keeps_keys_and_fstring_fields():
    text = '"""model.generate(x)"""\nkw = {"load_in_8bit": True}  # load_in_4bit\nf"{model.generate(y)}"\ns = "a generate b"\n'
    view = code_view(text)
    assert "load_in_8bit" in view and "load_in_4bit" not in view
    assert view.count("generate") == 1  # the f-string's field, not the docstring or the sentence


@pytest.mark.parametrize(
    ("text", "imported"),
    [
        ("import transformers", True),
        ("from transformers.models import x", True),
        ("try: import transformers", True),
        ("x = 1; from transformers import y", True),
        ("import os, \\\n    transformers", True),
        ("    >>> from transformers import AutoModel", False),
        ("see the transformers docs", False),
    ],
)
def test_import_test_finds_every_import_statement_and_no_docstring_example(text, imported):
    assert imports_any(text, ("transformers",)) is imported


def _sources() -> list[Path]:
    return sorted(p for p in FIXTURES.glob("*/*.py") if not p.name.endswith(".fixed.py")) + sorted(EXAMPLES.rglob("*.py"))


def test_skeleton_parse_gives_the_findings_of_a_whole_parse(monkeypatch):
    linter = Linter(catalogue())
    for path in _sources():
        source = Source(None, path.name, path.read_text(encoding="utf-8"))
        monkeypatch.setattr(ecolint.engine, "SKELETON_MIN_CHARS", 0)
        skeleton = linter.lint(source).findings
        monkeypatch.setattr(ecolint.engine, "SKELETON_MIN_CHARS", 10**12)
        assert skeleton == linter.lint(source).findings, path


def _installed_transformers_sample() -> list[Path]:
    transformers = pytest.importorskip("transformers")
    root = Path(transformers.__file__).parent
    picked = []
    for folder in ("pipelines", "quantizers", "generation", "integrations"):
        picked += [p for p in sorted((root / folder).glob("*.py")) if p.stat().st_size < 60_000]
    return picked


def test_prefilter_and_skeleton_never_change_findings_on_a_real_tree(monkeypatch):
    """The installed transformers package's pipelines, quantizers, generation and integrations code."""
    monkeypatch.setattr(ecolint.engine, "SKELETON_MIN_CHARS", 0)
    filtered, unfiltered = Linter(catalogue()), Linter(catalogue(), prefilter=False)
    sample = _installed_transformers_sample()
    assert len(sample) > 20
    for path in sample:
        source = Source(path, path.name, path.read_text(encoding="utf-8"))
        assert filtered.lint(source).findings == unfiltered.lint(source).findings, path
