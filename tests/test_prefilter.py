"""The prefilter and the skeleton parse skip work, never findings."""

from __future__ import annotations

import subprocess
import sys
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


def _modules_loaded_by(*args: str, cwd: Path) -> set[str]:
    script = (
        "import sys\nfrom ecolint.cli import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('libcst', 'torch', 'transformers', 'rich'))\n"
        "print('LOADED', *loaded)"
    )
    done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, cwd=cwd, check=True)
    return set(done.stdout.splitlines()[-1].split()[1:])


def test_version_and_a_tree_with_nothing_to_parse_import_neither_libcst_nor_the_measure_stack(tmp_path):
    (tmp_path / "plain.py").write_text('"""Mentions model.generate and load_in_8bit only in prose."""\nx = 1\n')
    assert _modules_loaded_by("--version", cwd=tmp_path) == set()
    assert _modules_loaded_by("check", "--no-cache", "--output-format", "concise", ".", cwd=tmp_path) == set()
