"""`ecolint check`: exit codes, bad input, suppressions, discovery and output formats."""

from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema
import pytest

from conftest import CLEAN, FLAGGED, write

SARIF_SCHEMA = Path(__file__).parent / "data" / "sarif-2.1.0-subset.schema.json"


def test_clean_file_exits_0(cli, tmp_path):
    write(tmp_path / "ok.py", CLEAN)
    result = cli("check", "ok.py")
    assert result.exit_code == 0
    assert "All checks passed!" in result.stdout


def test_finding_exits_1_with_location_code_source_and_fix(cli, tmp_path):
    write(tmp_path / "bad.py", FLAGGED)
    result = cli("check", "bad.py")
    assert result.exit_code == 1
    assert "bad.py:3:29: ECO101" in result.stdout
    assert "config = BitsAndBytesConfig(load_in_8bit=True)" in result.stdout
    assert "^^^^^^^^^^^^^^^^^" in result.stdout
    assert "help: Add `llm_int8_threshold=0.0` (unsafe)" in result.stdout
    assert "+225–357%" in result.stdout
    assert "Found 1 finding in 1 file." in result.stdout


def test_exit_zero(cli, tmp_path):
    write(tmp_path / "bad.py", FLAGGED)
    assert cli("check", "--exit-zero", "bad.py").exit_code == 0


def test_safe_fix_marked_fixable(cli, tmp_path):
    write(tmp_path / "legacy.py", 'from transformers import AutoModel\nm = AutoModel.from_pretrained("x", load_in_4bit=True)\n')
    result = cli("check", "--output-format", "concise", "legacy.py")
    assert "ECO105 [*]" in result.stdout


def test_missing_path_is_one_line_exit_2(cli):
    result = cli("check", "nope.py")
    assert result.exit_code == 2
    assert result.stderr.strip() == "ecolint: error: nope.py: no such file or directory"


def test_directory_without_python_files_warns(cli, tmp_path):
    (tmp_path / "empty").mkdir()
    write(tmp_path / "empty" / "notes.txt", "hello")
    result = cli("check", "empty")
    assert result.exit_code == 0
    assert "no Python files found under empty" in result.stderr


def test_syntax_error_is_a_finding_and_other_files_are_linted(cli, tmp_path):
    write(tmp_path / "src" / "broken.py", "load_in_8bit = (\n")
    write(tmp_path / "src" / "bad.py", FLAGGED)
    result = cli("check", "--output-format", "concise", "src")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert any(line.startswith("src/broken.py:") and "ECO900 SyntaxError" in line for line in lines)
    assert any(line.startswith("src/bad.py:3:29: ECO101") for line in lines)
    assert "Traceback" not in result.output


def test_files_that_cannot_match_are_not_parsed(cli, tmp_path):
    write(tmp_path / "unrelated.py", "def (:\n")
    assert cli("check", "unrelated.py").exit_code == 0


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("# -*- coding: utf-8 -*-\nx = 'caf\xe9'\n".encode("latin-1"), "not valid utf-8 text"),
        (b"\x7fELF\x02\x01\x01\x00\x00\x00load_in_8bit", "binary file"),
    ],
    ids=["not-utf8", "binary"],
)
def test_undecodable_file_is_reported_once(cli, tmp_path, content, problem):
    (tmp_path / "weird.py").write_bytes(content)
    result = cli("check", "--output-format", "concise", "weird.py")
    assert result.exit_code == 1
    assert result.stdout.count("weird.py:1:1: ECO901") == 1
    assert problem in result.stdout


def test_unreadable_file_is_reported(cli, tmp_path, monkeypatch):
    target = write(tmp_path / "locked.py", FLAGGED)
    original = os.open

    def deny(path, *args, **kwargs):
        if Path(path).name == target.name:
            raise PermissionError(13, "Permission denied")
        return original(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", deny)
    result = cli("check", "--output-format", "concise", "locked.py")
    assert result.exit_code == 1
    assert "locked.py:1:1: ECO901 cannot read: Permission denied" in result.stdout


def test_noqa_suppresses_named_and_bare_but_not_other_codes(cli, tmp_path):
    write(
        tmp_path / "s.py",
        """\
        from transformers import BitsAndBytesConfig
        a = BitsAndBytesConfig(load_in_8bit=True)  # noqa: ECO101
        b = BitsAndBytesConfig(load_in_8bit=True)  # noqa
        c = BitsAndBytesConfig(load_in_8bit=True)  # noqa: ECO106
        """,
    )
    result = cli("check", "--output-format", "concise", "s.py")
    assert [line.split(": ")[0] for line in result.stdout.splitlines()] == ["s.py:4:24"]


def test_stdin_with_filename(cli):
    result = cli("check", "--output-format", "concise", "--stdin-filename", "pipe.py", "-", input=FLAGGED)
    assert result.exit_code == 1
    assert result.stdout.startswith("pipe.py:3:29: ECO101")


def test_gitignore_and_default_excludes_are_respected(cli, tmp_path):
    (tmp_path / ".git").mkdir()
    write(tmp_path / ".gitignore", "generated/\n*_scratch.py\n")
    for name in ["generated/a.py", "b_scratch.py", ".venv/lib/c.py", "build/d.py", "site-packages/e.py", "pkg/kept.py"]:
        write(tmp_path / name, FLAGGED)
    write(tmp_path / "pkg" / ".gitignore", "local.py\n")
    write(tmp_path / "pkg" / "local.py", FLAGGED)
    result = cli("check", "--output-format", "concise", ".")
    assert [line.split(":")[0] for line in result.stdout.splitlines()] == ["pkg/kept.py"]


def test_explicit_file_is_linted_even_when_excluded_unless_forced(cli, tmp_path):
    write(tmp_path / "pyproject.toml", '[tool.ecolint]\nextend-exclude = ["legacy"]\n')
    write(tmp_path / "legacy" / "old.py", FLAGGED)
    assert cli("check", ".").exit_code == 0
    assert cli("check", "legacy/old.py").exit_code == 1
    assert cli("check", "--force-exclude", "legacy/old.py").exit_code == 0


def test_json_has_ruffs_shape(cli, tmp_path):
    write(tmp_path / "bad.py", FLAGGED)
    records = json.loads(cli("check", "--output-format", "json", "bad.py").stdout)
    (record,) = records
    assert set(record) == {"cell", "code", "end_location", "filename", "fix", "location", "message", "noqa_row", "url"}
    assert record["code"] == "ECO101"
    assert record["filename"] == str(tmp_path / "bad.py")
    assert record["location"] == {"row": 3, "column": 29}
    assert record["end_location"] == {"row": 3, "column": 46}
    assert record["noqa_row"] == 3 and record["cell"] is None
    assert record["url"].endswith("rules/ECO101.md")
    assert record["fix"]["applicability"] == "unsafe"
    (edit,) = record["fix"]["edits"]
    assert edit == {"content": ", llm_int8_threshold=0.0", "location": {"row": 3, "column": 46}, "end_location": {"row": 3, "column": 46}}


def test_fix_edits_come_with_or_without_the_cache_where_the_format_shows_them(cli, tmp_path):
    """Text output without the cache skips computing edits; JSON, SARIF and the cache still get them."""
    write(tmp_path / "bad.py", FLAGGED)
    text = cli("check", "--no-cache", "bad.py").stdout
    assert "help: Add `llm_int8_threshold=0.0` (unsafe)" in text and "Found 1 finding in 1 file." in text
    for options in (["--no-cache"], []):
        (record,) = json.loads(cli("check", *options, "--output-format", "json", "bad.py").stdout)
        assert record["fix"]["edits"] == [
            {"content": ", llm_int8_threshold=0.0", "location": {"row": 3, "column": 46}, "end_location": {"row": 3, "column": 46}}
        ]
    cli("check", "bad.py")  # cached, with the edits
    (record,) = json.loads(cli("check", "--output-format", "json", "bad.py").stdout)
    assert len(record["fix"]["edits"]) == 1


def test_github_annotations(cli, tmp_path):
    write(tmp_path / "bad.py", FLAGGED)
    line = cli("check", "--output-format", "github", "bad.py").stdout.strip()
    assert line.startswith("::error title=ecolint (ECO101),file=bad.py,line=3,col=29,endLine=3,endColumn=46::bad.py:3:29: ECO101 ")


def test_sarif_validates_against_the_schema(cli, tmp_path):
    write(tmp_path / "bad.py", FLAGGED)
    write(tmp_path / "broken.py", "def (:\n    load_in_8bit\n")
    write(tmp_path / "legacy.py", 'from transformers import AutoModel\nm = AutoModel.from_pretrained("x", load_in_8bit=True)\n')
    log = json.loads(cli("check", "--output-format", "sarif", ".").stdout)
    jsonschema.Draft7Validator(json.loads(SARIF_SCHEMA.read_text())).validate(log)
    results = log["runs"][0]["results"]
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    assert {r["ruleId"] for r in results} == {"ECO101", "ECO105", "ECO900"}
    for result in results:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
    assert any("fixes" in r for r in results)


def test_concise_is_one_line_per_finding(cli, tmp_path):
    write(tmp_path / "bad.py", FLAGGED)
    out = cli("check", "--output-format", "concise", "bad.py").stdout
    assert out.count("\n") == 1


def test_no_colour_when_not_a_terminal(cli, tmp_path):
    write(tmp_path / "bad.py", FLAGGED)
    assert "\x1b[" not in cli("check", "bad.py").stdout


def test_symlinks_are_not_followed_out_of_the_tree_and_loops_do_not_hang(cli, tmp_path):
    outside = tmp_path / "outside"
    write(outside / "secret.py", FLAGGED)
    tree = tmp_path / "tree"
    write(tree / "pkg" / "kept.py", FLAGGED)
    (tree / "pkg" / "loop").symlink_to(tree, target_is_directory=True)
    (tree / "escape").symlink_to(outside, target_is_directory=True)
    (tree / "link.py").symlink_to(outside / "secret.py")
    result = cli("check", "--output-format", "concise", "tree")
    assert [line.split(":")[0] for line in result.stdout.splitlines()] == ["tree/pkg/kept.py"]
