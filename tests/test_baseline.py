"""`--write-baseline` / `--baseline`: findings matched by rule, file and fingerprint, never by line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import FLAGGED, write
from ecolint import __version__

DATA = Path(__file__).parent / "data"

SERVE = """\
from transformers import BitsAndBytesConfig


def serve():
    return BitsAndBytesConfig(load_in_8bit=True)
"""

ROUND_TRIP = """\
from transformers import BitsAndBytesConfig


def legacy():
    return BitsAndBytesConfig(load_in_8bit=True, llm_int8_threshold=0)


def serve():
    return BitsAndBytesConfig(load_in_8bit=True)
"""


def _concise(result) -> list[str]:
    return [line for line in result.stdout.splitlines() if ": ECO" in line]


def test_a_recorded_finding_is_hidden_and_the_run_says_so(cli, tmp_path):
    write(tmp_path / "serve.py", SERVE)
    recorded = cli("check", "--write-baseline", "baseline.json", ".")
    assert recorded.exit_code == 0
    assert recorded.stderr.strip() == "ecolint: recorded 1 finding in the baseline baseline.json"
    assert recorded.stdout == ""
    (entry,) = json.loads((tmp_path / "baseline.json").read_text())["findings"]
    assert (entry["code"], entry["file"], entry["line"]) == ("ECO101", "serve.py", 5)

    checked = cli("check", "--baseline", "baseline.json", ".")
    assert checked.exit_code == 0, checked.output
    assert "All checks passed!" in checked.stdout
    assert "ecolint: baseline baseline.json: 1 known finding hidden, 0 recorded findings gone" in checked.stderr


def test_lines_inserted_above_and_reformatting_keep_a_finding_known(cli, tmp_path):
    write(tmp_path / "serve.py", SERVE)
    cli("check", "--write-baseline", "baseline.json", "serve.py")
    moved = SERVE.replace("\n\ndef serve", "\nimport os\nimport sys\n\n\ndef serve").replace(
        "BitsAndBytesConfig(load_in_8bit=True)", "BitsAndBytesConfig(\n        load_in_8bit = True,  # as before\n    )"
    )
    write(tmp_path / "serve.py", moved)
    result = cli("check", "--output-format", "concise", "--baseline", "baseline.json", "serve.py")
    assert result.exit_code == 0, result.output
    assert _concise(result) == []
    assert "1 known finding hidden" in result.stderr


def test_a_second_copy_of_a_known_finding_is_new(cli, tmp_path):
    write(tmp_path / "serve.py", SERVE)
    cli("check", "--write-baseline", "baseline.json", "serve.py")
    write(tmp_path / "serve.py", SERVE + "\n\ndef train():\n    return BitsAndBytesConfig(load_in_8bit=True)\n")
    in_another_function = cli("check", "--output-format", "concise", "--baseline", "baseline.json", "serve.py")
    assert in_another_function.exit_code == 1
    assert [line.split(": ECO")[0] for line in _concise(in_another_function)] == ["serve.py:9:31"]

    write(tmp_path / "serve.py", SERVE + "    return BitsAndBytesConfig(load_in_8bit=True)\n")
    in_the_same_function = cli("check", "--output-format", "concise", "--baseline", "baseline.json", "serve.py")
    assert in_the_same_function.exit_code == 1
    assert [line.split(": ECO")[0] for line in _concise(in_the_same_function)] == ["serve.py:6:31"]
    assert "1 known finding hidden, 0 recorded findings gone" in in_the_same_function.stderr


def test_a_finding_fixed_by_fix_apply_leaves_the_baseline_as_gone(cli, tmp_path):
    write(tmp_path / "loads.py", ROUND_TRIP)
    assert cli("check", "--write-baseline", "baseline.json", "loads.py").exit_code == 0
    assert len(json.loads((tmp_path / "baseline.json").read_text())["findings"]) == 2  # ECO106, ECO101
    assert cli("fix", "--apply", "loads.py").exit_code == 1  # ECO106 fixed; ECO101's fix is unsafe
    assert "llm_int8_threshold=0.0" in (tmp_path / "loads.py").read_text()
    result = cli("check", "--baseline", "baseline.json", "loads.py")
    assert result.exit_code == 0, result.output
    assert "1 known finding hidden, 1 recorded finding gone (`--write-baseline baseline.json` drops it)" in result.stderr


def test_gone_counts_only_the_files_this_run_checked(cli, tmp_path):
    write(tmp_path / "src" / "a.py", SERVE)
    write(tmp_path / "src" / "b.py", SERVE)
    cli("check", "--write-baseline", "baseline.json", "src")
    write(tmp_path / "src" / "a.py", "x = 1\n")
    only_a = cli("check", "--baseline", "baseline.json", "src/a.py")
    assert "0 known findings hidden, 1 recorded finding gone" in only_a.stderr  # b.py not checked: not gone
    (tmp_path / "src" / "b.py").unlink()
    whole = cli("check", "--baseline", "baseline.json", "src")
    assert "0 known findings hidden, 2 recorded findings gone" in whole.stderr  # a deleted file's findings are gone too


def test_files_are_recorded_relative_to_the_baseline_so_any_folder_can_check(cli, tmp_path):
    write(tmp_path / "src" / "serve.py", SERVE)
    (tmp_path / "ci").mkdir()
    cli("check", "--write-baseline", "ci/baseline.json", "src")
    (entry,) = json.loads((tmp_path / "ci" / "baseline.json").read_text())["findings"]
    assert entry["file"] == "../src/serve.py"
    cli.cwd = tmp_path / "src"
    result = cli("check", "--baseline", "../ci/baseline.json", "serve.py")
    assert result.exit_code == 0, result.output


def test_stdin_matches_a_baseline_written_from_the_file(cli, tmp_path):
    write(tmp_path / "serve.py", SERVE)
    cli("check", "--write-baseline", "baseline.json", "serve.py")
    result = cli("check", "--baseline", "baseline.json", "--stdin-filename", "serve.py", "-", input="# edited in the editor\n" + SERVE)
    assert result.exit_code == 0, result.output
    assert "1 known finding hidden" in result.stderr


def _notebook(*cells: str) -> str:
    body = [
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": c.splitlines(keepends=True)} for c in cells
    ]
    return json.dumps({"cells": body, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, indent=1) + "\n"


def test_a_notebook_finding_stays_known_when_cells_are_added_above(cli, tmp_path):
    load = "config = BitsAndBytesConfig(load_in_8bit=True)\n"
    (tmp_path / "explore.ipynb").write_text(_notebook("from transformers import BitsAndBytesConfig\n", load))
    assert cli("check", "--write-baseline", "baseline.json", "explore.ipynb").exit_code == 0
    (tmp_path / "explore.ipynb").write_text(
        _notebook("%pip install transformers\n", "from transformers import BitsAndBytesConfig\n", "x = 1\n", load)
    )
    known = cli("check", "--baseline", "baseline.json", "explore.ipynb")
    assert known.exit_code == 0, known.output
    (tmp_path / "explore.ipynb").write_text(_notebook("from transformers import BitsAndBytesConfig\n", load, load))
    copied = cli("check", "--output-format", "concise", "--baseline", "baseline.json", "explore.ipynb")
    assert [line.split(": ECO")[0] for line in _concise(copied)] == ["explore.ipynb:cell 3:1:29"]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "baseline.json: no such baseline file (record one with `--write-baseline baseline.json`)"),
        (
            "{not json",
            "baseline.json: not an ecolint baseline: invalid JSON "
            "(Expecting property name enclosed in double quotes: line 1 column 2 (char 1))",
        ),
        ('{"findings": []}', "baseline.json: not an ecolint baseline (no `ecolint-baseline` format number)"),
        (
            '{"ecolint-baseline": 2, "findings": []}',
            f"baseline.json: baseline format 2 is not the one this ecolint ({__version__}) reads (1); "
            "record it again with `--write-baseline baseline.json`",
        ),
        ('{"ecolint-baseline": 1, "findings": {}}', "baseline.json: malformed baseline: `findings` is not a list"),
        (
            '{"ecolint-baseline": 1, "findings": [{"code": "ECO101", "file": "a.py"}]}',
            "baseline.json: malformed baseline: finding 1 has no `fingerprint` string",
        ),
    ],
)
def test_a_baseline_that_cannot_be_read_is_a_one_line_error(cli, tmp_path, content, problem):
    write(tmp_path / "serve.py", SERVE)
    if content is not None:
        (tmp_path / "baseline.json").write_text(content)
    result = cli("check", "--baseline", "baseline.json", "serve.py")
    assert result.exit_code == 2
    assert result.stderr == f"ecolint: error: {problem}\n"
    assert result.stdout == ""  # stopped before linting


def test_baseline_and_write_baseline_together_are_refused(cli, tmp_path):
    write(tmp_path / "serve.py", FLAGGED)
    result = cli("check", "--baseline", "b.json", "--write-baseline", "b.json", "serve.py")
    assert result.exit_code == 2
    assert result.stderr.startswith("ecolint: error: --baseline and --write-baseline cannot be combined")


def test_a_baseline_written_by_an_older_ecolint_of_the_same_format_still_matches(cli, tmp_path):
    """`data/baseline-format-1.json` holds an earlier version's messages: only rule, file and fingerprint match.

    A change to how fingerprints are computed fails this test; it must come with a new FORMAT.
    """
    shutil.copy(DATA / "baseline-format-1.py", tmp_path)
    shutil.copy(DATA / "baseline-format-1.json", tmp_path / "baseline.json")
    recorded = json.loads((tmp_path / "baseline.json").read_text())
    assert recorded["written-by"] != f"ecolint {__version__}" and len(recorded["findings"]) == 4
    result = cli("check", "--output-format", "concise", "--baseline", "baseline.json", "baseline-format-1.py")
    assert result.exit_code == 0, result.output
    assert "4 known findings hidden, 0 recorded findings gone" in result.stderr
