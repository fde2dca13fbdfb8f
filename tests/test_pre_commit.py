"""The pre-commit hooks, run for real with `pre-commit try-repo` against this checkout, on scripts and notebooks."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import CLEAN, FLAGGED

CHECKOUT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(not (CHECKOUT / ".git").exists() or shutil.which("git") is None, reason="needs a git checkout of ecolint")


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def _try_repo(repo: Path, hook: str, *files: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PRE_COMMIT_HOME": str(repo.parent / "pre-commit-home"), "PRE_COMMIT_COLOR": "never"}
    command = [sys.executable, "-m", "pre_commit", "try-repo", str(CHECKOUT), hook, "--files", *files]
    return subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True, timeout=600)


def _notebook(code: str) -> str:
    cell = {
        "cell_type": "code",
        "execution_count": None,
        "id": "c1",
        "metadata": {},
        "outputs": [],
        "source": code.splitlines(keepends=True),
    }
    return json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, indent=1) + "\n"


def test_hooks_fail_on_a_flagged_file_and_pass_on_a_clean_one_python_or_notebook(tmp_path):
    repo = tmp_path / "project"
    repo.mkdir()
    _git(repo, "init", "-q")
    legacy = 'from transformers import AutoModel\nm = AutoModel.from_pretrained("x", load_in_8bit=True, llm_int8_threshold=0.0)\n'
    for name, code in (("clean", CLEAN), ("flagged", FLAGGED), ("legacy", legacy)):
        (repo / f"{name}.py").write_text(code)
        (repo / f"{name}.ipynb").write_text(_notebook(code))
    _git(repo, "add", ".")

    passed = _try_repo(repo, "ecolint", "clean.py", "clean.ipynb")
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "Passed" in passed.stdout

    failed = _try_repo(repo, "ecolint", "flagged.py", "flagged.ipynb")
    assert failed.returncode == 1
    assert "flagged.py:3:29: ECO101" in failed.stdout
    assert "flagged.ipynb:cell 1:3:29: ECO101" in failed.stdout  # `types_or: [python, jupyter]`

    fixed = _try_repo(repo, "ecolint-fix", "legacy.py", "legacy.ipynb")
    assert fixed.returncode == 1  # pre-commit fails a hook that modifies files
    moved = "quantization_config=BitsAndBytesConfig(load_in_8bit=True, llm_int8_threshold=0.0)"
    assert moved in (repo / "legacy.py").read_text()
    assert moved in "".join(json.loads((repo / "legacy.ipynb").read_text())["cells"][0]["source"])
    again = _try_repo(repo, "ecolint-fix", "legacy.py", "legacy.ipynb")
    assert again.returncode == 0, again.stdout + again.stderr
