"""Jupyter notebooks: code cells linted as one module, located by cell, fixed in place."""

from __future__ import annotations

import json

from conftest import write


def _cell(kind: str, source: list[str], **extra) -> dict:
    cell = {"cell_type": kind, "id": f"id-{len(source)}-{kind}", "metadata": {"tags": ["keep"]}, "source": source}
    if kind == "code":
        cell.update(execution_count=3, outputs=[{"name": "stdout", "output_type": "stream", "text": ["done\n"]}])
    cell.update(extra)
    return cell


NOTEBOOK = {
    "cells": [
        _cell("markdown", ["# 8-bit demo with load_in_8bit\n"]),
        _cell("code", ["!pip install bitsandbytes\n", "%matplotlib inline\n", "from transformers import BitsAndBytesConfig"]),
        _cell("code", ["config = BitsAndBytesConfig(load_in_8bit=True)"]),
        _cell("code", ["%%time\n", "x = load_in_8bit_but_magic()"]),
        _cell("code", ["quiet = BitsAndBytesConfig(load_in_8bit=True)  # noqa: ECO101\n", "loud = BitsAndBytesConfig(load_in_8bit=True)"]),
    ],
    "metadata": {"kernelspec": {"display_name": "Python 3", "name": "python3"}},
    "nbformat": 4,
    "nbformat_minor": 5,
}


def _save(path, notebook=NOTEBOOK):
    text = json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"
    write(path, text)
    return text


def test_cells_are_one_module_and_findings_name_their_cell(cli, tmp_path):
    _save(tmp_path / "demo.ipynb")
    result = cli("check", "--output-format", "concise", ".")
    assert result.exit_code == 1
    assert [line.split(": ")[0] for line in result.stdout.splitlines()] == ["demo.ipynb:cell 3:1:29", "demo.ipynb:cell 5:2:27"]
    (first, second) = json.loads(cli("check", "--output-format", "json", "demo.ipynb").stdout)
    assert (first["cell"], first["location"], first["noqa_row"]) == (3, {"row": 1, "column": 29}, 1)
    assert (second["cell"], second["location"]) == (5, {"row": 2, "column": 27})
    assert second["fix"]["edits"][0]["location"]["row"] == 2
    github = cli("check", "--output-format", "github", "demo.ipynb").stdout.splitlines()
    assert [line.split("::")[2].split(": ")[0] for line in github] == ["demo.ipynb:cell 3:1:29", "demo.ipynb:cell 5:2:27"]
    sarif = json.loads(cli("check", "--output-format", "sarif", "demo.ipynb").stdout)["runs"][0]["results"]
    assert [(r["properties"]["cell"], r["locations"][0]["physicalLocation"]["region"]["startLine"]) for r in sarif] == [(3, 1), (5, 2)]


def test_fix_rewrites_only_the_changed_cells_and_keeps_everything_else(cli, tmp_path):
    original = _save(tmp_path / "demo.ipynb")
    result = cli("fix", "--apply", "--unsafe-fixes", "demo.ipynb")
    assert result.exit_code == 0, result.output
    text = (tmp_path / "demo.ipynb").read_text()
    assert text.endswith("}\n") and text.startswith('{\n "cells": [')  # indent and trailing newline kept
    fixed = json.loads(text)
    before = json.loads(original)
    assert list(fixed) == list(before)
    for new, old in zip(fixed["cells"], before["cells"]):
        assert {k: v for k, v in new.items() if k != "source"} == {k: v for k, v in old.items() if k != "source"}
    assert fixed["cells"][1]["source"] == before["cells"][1]["source"]  # magics restored, untouched
    assert fixed["cells"][3]["source"] == before["cells"][3]["source"]
    assert fixed["cells"][2]["source"] == ["config = BitsAndBytesConfig(load_in_8bit=True, llm_int8_threshold=0.0)"]
    assert fixed["cells"][4]["source"][1] == "loud = BitsAndBytesConfig(load_in_8bit=True, llm_int8_threshold=0.0)"
    assert fixed["cells"][4]["source"][0].endswith("# noqa: ECO101\n")
    assert cli("fix", "--apply", "--unsafe-fixes", "demo.ipynb").exit_code == 0
    assert (tmp_path / "demo.ipynb").read_text() == text


def test_a_notebook_that_is_not_json_is_one_finding(cli, tmp_path):
    write(tmp_path / "broken.ipynb", "{ not json")
    result = cli("check", "--output-format", "concise", "broken.ipynb")
    assert result.exit_code == 1
    assert result.stdout.startswith("broken.ipynb:1:1: ECO901 not a notebook: invalid JSON")


IMPERFECT = {
    **NOTEBOOK,
    "cells": [
        _cell("code", ["!pip install transformers \\\n", "    bitsandbytes accelerate\n"]),
        _cell(
            "code",
            ["from transformers import AutoModelForCausalLM, BitsAndBytesConfig\n", "config = BitsAndBytesConfig(load_in_8bit=True)"],
        ),
        _cell("code", ["trainer = Trainer(model=model, ...=...)  # a placeholder left in a tutorial"]),
        _cell("code", ["model = AutoModelForCausalLM.from_pretrained('facebook/opt-350m', quantization_config=config)\n", "model?"]),
    ],
}


def test_a_cell_that_does_not_parse_is_reported_and_the_others_are_linted(cli, tmp_path):
    _save(tmp_path / "tutorial.ipynb", IMPERFECT)
    found = json.loads(cli("check", "--output-format", "json", "tutorial.ipynb").stdout)
    assert [(f["code"], f["cell"], f["location"]["row"]) for f in found] == [("ECO101", 2, 2), ("ECO900", 3, 1)]
    assert "this cell is left out" in found[1]["message"]


def test_fixing_a_notebook_keeps_a_broken_cell_and_continued_magics_as_written(cli, tmp_path):
    _save(tmp_path / "tutorial.ipynb", IMPERFECT)
    result = cli("fix", "--apply", "--unsafe-fixes", "tutorial.ipynb")
    assert result.exit_code == 1, result.output  # the broken cell remains
    cells = json.loads((tmp_path / "tutorial.ipynb").read_text())["cells"]
    assert [c["source"] for i, c in enumerate(cells) if i != 1] == [c["source"] for i, c in enumerate(IMPERFECT["cells"]) if i != 1]
    assert cells[1]["source"][1] == "config = BitsAndBytesConfig(load_in_8bit=True, llm_int8_threshold=0.0)"


QUANTIZATION_MISUSE = {
    **NOTEBOOK,
    "cells": [
        _cell("code", ["!pip install -q bitsandbytes peft\n", "import torch\n", "from peft import prepare_model_for_kbit_training\n",
                       "from transformers import AutoModelForCausalLM, BitsAndBytesConfig"]),
        _cell("code", ['quant = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_compute_dtype=torch.bfloat16, llm_int8_threshold=6.0)\n',
                       'model = AutoModelForCausalLM.from_pretrained("Qwen/Qwen2-1.5B", quantization_config=quant)']),
        _cell("markdown", ["Train the adapters"]),
        _cell("code", ["model = prepare_model_for_kbit_training(model)\n", "model.half()"]),
        _cell("code", ["both = BitsAndBytesConfig(load_in_4bit=True, load_in_8bit=True)"]),
        _cell("code", ["from torchao.quantization import Float8WeightOnlyConfig, quantize_\n", "quantize_(model, Float8WeightOnlyConfig())"]),  # noqa: E501
    ],
}  # fmt: skip


def test_the_new_rules_find_their_patterns_across_cells(cli, tmp_path):
    _save(tmp_path / "qlora.ipynb", QUANTIZATION_MISUSE)
    found = json.loads(cli("check", "--output-format", "json", "--select", "ECO107,ECO108,ECO109,ECO110,ECO111", "qlora.ipynb").stdout)
    assert [(f["code"], f["cell"], f["location"]["row"]) for f in found] == [
        ("ECO110", 2, 1),
        ("ECO107", 2, 2),
        ("ECO108", 4, 2),
        ("ECO109", 5, 1),
        ("ECO111", 6, 2),
    ]
