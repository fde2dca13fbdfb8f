"""Start-up stays cheap: `--version`, and a check with nothing to parse, import no heavy stack."""

from __future__ import annotations

import subprocess
import sys


def _modules_after(args: list[str]) -> set[str]:
    code = (
        "import sys\n"
        "from ecolint.cli import main\n"
        f"sys.argv = ['ecolint', *{args!r}]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return set(out.splitlines()[-1].split())


def test_version_imports_neither_libcst_nor_rich():
    modules = _modules_after(["--version"])
    assert "libcst" not in modules and "rich" not in modules and "torch" not in modules


def test_check_never_imports_the_measure_stack(tmp_path):
    (tmp_path / "m.py").write_text("from transformers import BitsAndBytesConfig\nBitsAndBytesConfig(load_in_8bit=True)\n")
    modules = _modules_after(["check", "--output-format", "concise", str(tmp_path / "m.py")])
    assert "libcst" in modules
    assert not {"torch", "transformers", "bitsandbytes", "pynvml"} & modules


def test_a_tree_with_nothing_to_parse_imports_neither_libcst_nor_rich(tmp_path):
    (tmp_path / "plain.py").write_text('"""Mentions model.generate and load_in_8bit only in prose."""\nx = 1\n')
    modules = _modules_after(["check", "--no-cache", "--output-format", "concise", str(tmp_path)])
    assert not {"libcst", "rich", "torch", "transformers"} & modules
