"""`[tool.ecolint]`: selection, per-file ignores, excludes, discovery of the nearest config."""

from __future__ import annotations

import pytest

from conftest import FLAGGED, write

BOTH = """\
from transformers import AutoModelForCausalLM, BitsAndBytesConfig
a = AutoModelForCausalLM.from_pretrained("x", load_in_8bit=True)
b = BitsAndBytesConfig(load_in_8bit=True, llm_int8_threshold=0)
"""


def codes(result) -> list[str]:
    return sorted({line.split(": ")[1].split()[0] for line in result.stdout.splitlines()})


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ("", ["ECO101", "ECO105", "ECO106"]),
        ('select = ["ECO105"]', ["ECO105"]),
        ('ignore = ["ECO10"]', []),
        ('ignore = ["ECO10"]\nselect = ["ECO106"]', ["ECO106"]),
        ('ignore = ["ECO101", "eco105"]', ["ECO106"]),
        ('per-file-ignores = { "pkg/*.py" = ["ECO101"] }', ["ECO105", "ECO106"]),
        ('per-file-ignores = { "other/*.py" = ["ECO101"] }', ["ECO101", "ECO105", "ECO106"]),
    ],
)
def test_selection(cli, tmp_path, table, expected):
    write(tmp_path / "pyproject.toml", f"[tool.ecolint]\n{table}\n")
    write(tmp_path / "pkg" / "m.py", BOTH)
    assert codes(cli("check", "--output-format", "concise", "pkg")) == expected


def test_cli_select_overrides_config(cli, tmp_path):
    write(tmp_path / "pyproject.toml", '[tool.ecolint]\nselect = ["ECO105"]\n')
    write(tmp_path / "m.py", BOTH)
    assert codes(cli("check", "--output-format", "concise", "--select", "ECO106", "m.py")) == ["ECO106"]


def test_nearest_config_upward_and_config_override(cli, tmp_path):
    write(tmp_path / "pyproject.toml", '[tool.ecolint]\nselect = ["ECO106"]\n')
    write(tmp_path / "sub" / "pyproject.toml", '[project]\nname = "no-ecolint-table"\n')
    write(tmp_path / "sub" / "deep" / "m.py", BOTH)
    assert codes(cli("check", "--output-format", "concise", "sub/deep/m.py")) == ["ECO106"]
    write(tmp_path / "alt.toml", '[tool.ecolint]\nselect = ["ECO105"]\n')
    assert codes(cli("check", "--output-format", "concise", "--config", "alt.toml", "sub/deep/m.py")) == ["ECO105"]


def test_exclude_replaces_defaults_and_extend_exclude_adds(cli, tmp_path):
    write(tmp_path / "build" / "a.py", FLAGGED)
    write(tmp_path / "gen" / "b.py", FLAGGED)
    write(tmp_path / "pyproject.toml", '[tool.ecolint]\nexclude = ["gen"]\n')
    result = cli("check", "--output-format", "concise", ".")
    assert [line.split(":")[0] for line in result.stdout.splitlines()] == ["build/a.py"]
    write(tmp_path / "pyproject.toml", '[tool.ecolint]\nextend-exclude = ["gen/"]\n')
    assert cli("check", ".").exit_code == 0


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("selct = []", "unknown key `selct`"),
        ('select = "ECO101"', "`select` must be a list of strings"),
        ('ignore = ["XYZ1"]', "`ignore` has unknown rule code or prefix 'XYZ1'"),
        ('unsafe-fixes = "yes"', "`unsafe-fixes` must be true or false"),
        ('per-file-ignores = ["a"]', "`per-file-ignores` must be a table"),
        ("select = [", "invalid TOML"),
        ('target-gpu = "TPU"', "`target-gpu` must be one of: B200, H200"),
        ('[tool.ecolint.models]\n"a/b" = "7B"', "`a/b` must be a positive number"),
    ],
)
def test_bad_config_is_one_line_naming_file_and_key(cli, tmp_path, table, message):
    write(tmp_path / "pyproject.toml", f"[tool.ecolint]\n{table}\n")
    write(tmp_path / "m.py", FLAGGED)
    result = cli("check", "m.py")
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith("ecolint: error: ") and "pyproject.toml" in line and message in line


def test_unknown_cli_code_is_exit_2(cli, tmp_path):
    write(tmp_path / "m.py", FLAGGED)
    result = cli("check", "--select", "NOPE", "m.py")
    assert result.exit_code == 2
    assert "--select: unknown rule code or prefix 'NOPE'" in result.stderr


def test_unsafe_fixes_from_config(cli, tmp_path):
    write(tmp_path / "pyproject.toml", "[tool.ecolint]\nunsafe-fixes = true\n")
    write(tmp_path / "m.py", FLAGGED)
    assert "ECO101 [*]" in cli("check", "--output-format", "concise", "m.py").stdout
    cli("fix", "--apply", "m.py")
    assert "llm_int8_threshold=0.0" in (tmp_path / "m.py").read_text()
