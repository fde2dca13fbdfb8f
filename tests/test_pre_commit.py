"""The pre-commit hooks, run for real with `pre-commit try-repo` against this checkout."""

from __future__ import annotations

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


def test_hooks_fail_on_a_flagged_file_and_pass_on_a_clean_one(tmp_path):
    repo = tmp_path / "project"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "clean.py").write_text(CLEAN)
    (repo / "flagged.py").write_text(FLAGGED)
    legacy = 'from transformers import AutoModel\nm = AutoModel.from_pretrained("x", load_in_8bit=True, llm_int8_threshold=0.0)\n'
    (repo / "legacy.py").write_text(legacy)
    _git(repo, "add", ".")

    passed = _try_repo(repo, "ecolint", "clean.py")
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "Passed" in passed.stdout

    failed = _try_repo(repo, "ecolint", "flagged.py")
    assert failed.returncode == 1
    assert "flagged.py:3:29: ECO101" in failed.stdout

    fixed = _try_repo(repo, "ecolint-fix", "legacy.py")
    assert fixed.returncode == 1  # pre-commit fails a hook that modifies files
    assert "quantization_config=BitsAndBytesConfig(load_in_8bit=True, llm_int8_threshold=0.0)" in (repo / "legacy.py").read_text()
    again = _try_repo(repo, "ecolint-fix", "legacy.py")
    assert again.returncode == 0, again.stdout + again.stderr
