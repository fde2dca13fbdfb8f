"""`--output-format markdown` (pull-request comments, job summaries, merge-request notes) and `--statistics`."""

from __future__ import annotations

import json

import pytest

from conftest import FLAGGED, write
from ecolint import __version__

MIXED = """\
from transformers import AutoModelForCausalLM, BitsAndBytesConfig

config = BitsAndBytesConfig(load_in_8bit=True)
fixed = BitsAndBytesConfig(load_in_8bit=True, llm_int8_threshold=0)
legacy = AutoModelForCausalLM.from_pretrained("gpt2", load_in_4bit=True, bnb_4bit_compute_dtype="float16")
"""
SELECT = "ECO101,ECO105,ECO106"  # ECO102 and ECO110 flag MIXED too; these three keep the expectations short
FORGE_VARIABLES = (
    "GITHUB_REPOSITORY",
    "GITHUB_SHA",
    "GITHUB_SERVER_URL",
    "GITHUB_WORKSPACE",
    "CI_PROJECT_URL",
    "CI_COMMIT_SHA",
    "CI_PROJECT_DIR",
)


@pytest.fixture(autouse=True)
def _no_forge(monkeypatch):
    for name in FORGE_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def _rows(markdown: str, code: str) -> list[str]:
    section = markdown.split(f"### {code} ", 1)[1].split("\n### ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("| `") or line.startswith("| [")]


def test_findings_grouped_by_rule_with_counts_location_message_and_fix(cli, tmp_path):
    write(tmp_path / "src" / "load.py", MIXED)
    result = cli("check", "--output-format", "markdown", "--select", SELECT, "src")
    assert result.exit_code == 1
    out = result.stdout
    assert out.startswith("## ecolint: 3 findings in 1 file\n\n2 fixable with `ecolint fix --apply` (1 more with `--unsafe-fixes`).\n")
    headings = [line for line in out.splitlines() if line.startswith("### ")]
    assert headings == [
        "### ECO101 [`int8-outlier-decomposition`](https://github.com/ecolint/ecolint/blob/main/rules/ECO101.md) (1)",
        "### ECO105 [`quantization-kwarg-to-from-pretrained`](https://github.com/ecolint/ecolint/blob/main/rules/ECO105.md) (1)",
        "### ECO106 [`int8-threshold-int`](https://github.com/ecolint/ecolint/blob/main/rules/ECO106.md) (1)",
    ]
    (row,) = _rows(out, "ECO101")
    assert row.startswith(
        "| `src/load.py:3` | 8-bit load without `llm_int8_threshold=0.0` runs LLM.int8() outlier decomposition: +225–357%"
    )
    assert row.endswith("| Add `llm_int8_threshold=0.0` (unsafe) |")
    (row,) = _rows(out, "ECO105")
    assert row.startswith("| `src/load.py:5` |") and row.endswith("| Move into `quantization_config=BitsAndBytesConfig(...)` (safe) |")
    (row,) = _rows(out, "ECO106")
    assert row.endswith("| Use `0.0` (safe) |")
    assert out.endswith(f"<sub>ecolint {__version__}</sub>\n")


def test_headings_name_each_rule_and_errors_come_first(cli, tmp_path):
    write(tmp_path / "bad.py", FLAGGED)
    write(tmp_path / "broken.py", "load_in_8bit = (\n")
    out = cli("check", "--output-format", "markdown", ".").stdout
    headings = [line for line in out.splitlines() if line.startswith("### ")]
    assert headings == [
        "### ECO900 `syntax-error` (1, error)",
        "### ECO101 [`int8-outlier-decomposition`](https://github.com/ecolint/ecolint/blob/main/rules/ECO101.md) (1)",
    ]


def test_no_findings(cli, tmp_path):
    write(tmp_path / "ok.py", "x = 1\n")
    result = cli("check", "--output-format", "markdown", "ok.py")
    assert result.exit_code == 0
    assert result.stdout.startswith("## ecolint: no findings\n\nAll checks passed.\n")


def test_locations_link_to_the_blob_on_github_and_gitlab(cli, tmp_path, monkeypatch):
    write(tmp_path / "src" / "bad.py", FLAGGED)
    assert _rows(cli("check", "--output-format", "markdown", "src").stdout, "ECO101")[0].startswith("| `src/bad.py:3` |")

    monkeypatch.setenv("GITHUB_REPOSITORY", "octo/energy")
    monkeypatch.setenv("GITHUB_SHA", "0123abc")
    monkeypatch.setenv("GITHUB_WORKSPACE", str(tmp_path))
    cli.cwd = tmp_path / "src"  # paths in the link are from the checkout's root, not the current folder
    row = _rows(cli("check", "--output-format", "markdown", "bad.py").stdout, "ECO101")[0]
    assert row.startswith("| [`bad.py:3`](https://github.com/octo/energy/blob/0123abc/src/bad.py#L3) |")

    for name in ("GITHUB_REPOSITORY", "GITHUB_SHA", "GITHUB_WORKSPACE"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("CI_PROJECT_URL", "https://gitlab.example.com/group/energy")
    monkeypatch.setenv("CI_COMMIT_SHA", "4567def")
    monkeypatch.setenv("CI_PROJECT_DIR", str(tmp_path))
    row = _rows(cli("check", "--output-format", "markdown", "bad.py").stdout, "ECO101")[0]
    assert row.startswith("| [`bad.py:3`](https://gitlab.example.com/group/energy/-/blob/4567def/src/bad.py#L3) |")


def test_a_notebook_location_names_its_cell_and_links_without_a_line_anchor(cli, tmp_path, monkeypatch):
    cells = [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": FLAGGED.splitlines(keepends=True)}]
    (tmp_path / "explore.ipynb").write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    monkeypatch.setenv("GITHUB_REPOSITORY", "octo/energy")
    monkeypatch.setenv("GITHUB_SHA", "0123abc")
    monkeypatch.setenv("GITHUB_WORKSPACE", str(tmp_path))
    row = _rows(cli("check", "--output-format", "markdown", "explore.ipynb").stdout, "ECO101")[0]
    assert row.startswith("| [`explore.ipynb:cell 1:3`](https://github.com/octo/energy/blob/0123abc/explore.ipynb) |")


def test_a_long_list_folds_into_details(cli, tmp_path):
    loads = "".join(f"c{n} = BitsAndBytesConfig(load_in_8bit=True)\n" for n in range(8))
    write(tmp_path / "many.py", "from transformers import BitsAndBytesConfig\n" + loads)
    out = cli("check", "--output-format", "markdown", "many.py").stdout
    shown, folded = out.split("<details><summary>3 more ECO101 findings</summary>")
    assert len(_rows(shown, "ECO101")) == 5
    assert [row.split("|")[1].strip() for row in folded.splitlines() if row.startswith("| `")] == [
        "`many.py:7`",
        "`many.py:8`",
        "`many.py:9`",
    ]
    assert folded.endswith(f"</details>\n\n<sub>ecolint {__version__}</sub>\n")


def test_a_pipe_in_a_path_does_not_break_the_table(cli, tmp_path):
    write(tmp_path / "odd|name.py", FLAGGED)
    (row,) = _rows(cli("check", "--output-format", "markdown", "odd|name.py").stdout, "ECO101")
    assert row.startswith("| `odd\\|name.py:3` |") and row.count(" | ") == 2


def test_markdown_with_a_baseline_counts_new_findings_and_says_what_it_hid(cli, tmp_path):
    write(tmp_path / "bad.py", FLAGGED)
    cli("check", "--write-baseline", "baseline.json", "bad.py")
    out = cli("check", "--output-format", "markdown", "--baseline", "baseline.json", "bad.py").stdout
    assert out.startswith("## ecolint: no new findings\n\n_baseline baseline.json: 1 known finding hidden, 0 recorded findings gone_\n")


def test_statistics_as_ruff_prints_them(cli, tmp_path):
    write(tmp_path / "a.py", MIXED)
    write(tmp_path / "b.py", FLAGGED)
    result = cli("check", "--statistics", "--select", SELECT, ".")
    assert result.exit_code == 1
    assert result.stdout == (
        "2\tECO101\t[ ] int8-outlier-decomposition\n"
        "1\tECO105\t[*] quantization-kwarg-to-from-pretrained\n"
        "1\tECO106\t[*] int8-threshold-int\n"
    )
    rows = json.loads(cli("check", "--statistics", "--output-format", "json", "--select", SELECT, ".").stdout)
    assert rows == [
        {"code": "ECO101", "name": "int8-outlier-decomposition", "count": 2, "fixable": False, "fixable_count": 0},
        {"code": "ECO105", "name": "quantization-kwarg-to-from-pretrained", "count": 1, "fixable": True, "fixable_count": 1},
        {"code": "ECO106", "name": "int8-threshold-int", "count": 1, "fixable": True, "fixable_count": 1},
    ]


def test_statistics_without_a_fixable_rule_have_no_marker_column(cli, tmp_path):
    write(tmp_path / "b.py", FLAGGED)
    assert cli("check", "--statistics", "b.py").stdout == "1\tECO101\tint8-outlier-decomposition\n"
    write(tmp_path / "ok.py", "x = 1\n")
    clean = cli("check", "--statistics", "ok.py")
    assert clean.exit_code == 0 and clean.stdout == ""


REPORT = {
    "schema_version": 2,
    "gpu": {"name": "NVIDIA H200", "driver": "570.1", "power_limit_w": 700},
    "findings": [
        {
            "code": "ECO101",
            "file": "serve.py",
            "line": 3,
            "model": "Qwen/Qwen2-1.5B",
            "status": "measured",
            "error": None,
            "energy_reading": "nvml-energy-counter",
            "flagged": {
                "variant": {"label": "as written", "quantization": {"load_in_8bit": True}, "dtype": "float16", "batch": 1},
                "median": {"joules_per_1k_tokens": 2310.4, "tokens_per_second": 14.2},
            },
            "fixed": {
                "variant": {
                    "label": "fixed",
                    "quantization": {"load_in_8bit": True, "llm_int8_threshold": 0.0},
                    "dtype": "float16",
                    "batch": 1,
                },
                "median": {"joules_per_1k_tokens": 640.0, "tokens_per_second": 41.5},
            },
            "delta": {"percent": -72.3, "ci95": [-74.0, -70.1], "verdict": "saves"},
        },
        {"code": "ECO102", "file": "serve.py", "line": 9, "status": "not measured", "error": "the model's size is unknown"},
    ],
}


def _fake_measure(monkeypatch, report=REPORT):
    """`--measure` replaced at its door: the table on the stream it is given, the JSON report where it is asked."""
    import ecolint.measure.command

    calls = []

    def run(findings, options, stream, report_path):
        calls.append((findings, options))
        stream.write("(the rich table)\n")
        report_path.write_text(json.dumps(report))
        return 0

    monkeypatch.setattr(ecolint.measure.command, "run", run)
    return calls


def test_measure_under_markdown_adds_the_measured_table(cli, tmp_path, monkeypatch):
    calls = _fake_measure(monkeypatch)
    write(tmp_path / "serve.py", FLAGGED)
    result = cli("check", "--output-format", "markdown", "--measure", "serve.py")
    assert result.exit_code == 1
    assert len(calls) == 1 and [f.code for f in calls[0][0]] == ["ECO101"]
    assert "(the rich table)" in result.stderr and "(the rich table)" not in result.stdout
    table = result.stdout.split("### Measured on NVIDIA H200: flagged (as written) vs fixed\n\n", 1)[1]
    lines = table.splitlines()
    assert lines[0] == "| finding | model | variants | J / 1k tokens | tokens/s | Δ energy [95% CI] | verdict |"
    finding, model, variants, *measured = lines[2].strip("| ").split(" | ")
    assert (finding, model) == ("ECO101 `serve.py:3`", "`Qwen/Qwen2-1.5B`")
    flagged, fixed = variants.split(" → ")  # each variant as the measure mode describes it
    assert "llm_int8_threshold" not in flagged and "llm_int8_threshold=0.0" in fixed
    assert measured == ["2,310 → 640", "14.2 → 41.5", "-72.3% [-74.0, -70.1]", "**saves**"]
    assert "- not measured: ECO102 `serve.py:9`: the model's size is unknown" in lines
