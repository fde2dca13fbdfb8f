"""`ecolint fix`: diff by default, --apply writes atomically, safe-only unless asked."""

from __future__ import annotations

import os
import stat

import pytest

from conftest import FLAGGED, write

LEGACY = """\
import transformers as tf

model = tf.AutoModelForCausalLM.from_pretrained("facebook/opt-350m", load_in_8bit=True)
"""


def test_diff_changes_nothing(cli, tmp_path):
    path = write(tmp_path / "legacy.py", LEGACY)
    result = cli("fix", "legacy.py")
    assert result.exit_code == 1
    assert "--- a/legacy.py" in result.stdout and "+++ b/legacy.py" in result.stdout
    expected = "quantization_config=tf.BitsAndBytesConfig(load_in_8bit=True))"
    assert f'+model = tf.AutoModelForCausalLM.from_pretrained("facebook/opt-350m", {expected}' in result.stdout
    assert path.read_text() == LEGACY
    assert "Would fix 1 finding in 1 file." in result.stderr


def test_apply_writes_safe_fixes_and_reports_withheld_unsafe_ones(cli, tmp_path):
    path = write(tmp_path / "legacy.py", LEGACY)
    result = cli("fix", "--apply", "legacy.py")
    assert path.read_text() == LEGACY.replace("load_in_8bit=True", "quantization_config=tf.BitsAndBytesConfig(load_in_8bit=True)")
    assert "Fixed 1 finding in 1 file." in result.stderr
    assert "1 unsafe fix withheld: apply with `ecolint fix --apply --unsafe-fixes`." in result.stderr
    assert result.exit_code == 1  # the ECO101 finding remains


def test_unsafe_fixes_then_second_run_changes_nothing(cli, tmp_path):
    path = write(tmp_path / "legacy.py", LEGACY)
    first = cli("fix", "--apply", "--unsafe-fixes", "legacy.py")
    assert first.exit_code == 0
    fixed = path.read_text()
    assert "quantization_config=tf.BitsAndBytesConfig(load_in_8bit=True, llm_int8_threshold=0.0)" in fixed
    second = cli("fix", "--apply", "--unsafe-fixes", "legacy.py")
    assert second.exit_code == 0
    assert path.read_text() == fixed
    assert "Fixed 0 findings in 0 files." in second.stderr


def test_import_is_added_when_missing(cli, tmp_path):
    path = write(tmp_path / "m.py", 'from transformers import AutoModel\nm = AutoModel.from_pretrained("x", load_in_4bit=True)\n')
    cli("fix", "--apply", "m.py")
    text = path.read_text()
    assert "BitsAndBytesConfig" in text.splitlines()[0]
    assert 'AutoModel.from_pretrained("x", quantization_config=BitsAndBytesConfig(load_in_4bit=True))' in text


def test_encoding_bom_newlines_and_permissions_are_kept(cli, tmp_path):
    path = tmp_path / "win.py"
    text = "# -*- coding: latin-1 -*-\r\n# caf\xe9\r\n" + LEGACY.replace("\n", "\r\n")
    path.write_bytes(text.encode("latin-1"))
    os.chmod(path, 0o751)
    cli("fix", "--apply", "win.py")
    data = path.read_bytes()
    assert b"caf\xe9" in data and b"quantization_config=" in data
    assert data.count(b"\r\n") == text.count("\r\n") and b"\n" not in data.replace(b"\r\n", b"")
    assert stat.S_IMODE(path.stat().st_mode) == 0o751

    bom = tmp_path / "bom.py"
    bom.write_bytes(b"\xef\xbb\xbf" + LEGACY.encode())
    cli("fix", "--apply", "bom.py")
    assert bom.read_bytes().startswith(b"\xef\xbb\xbfimport transformers")
    assert b"quantization_config=" in bom.read_bytes()


def test_read_only_file_is_one_line_and_left_intact(cli, tmp_path):
    path = write(tmp_path / "ro.py", LEGACY)
    os.chmod(path, 0o444)
    result = cli("fix", "--apply", "ro.py")
    assert result.exit_code == 2
    assert "ecolint: error: ro.py: cannot write: the file is read-only" in result.stderr
    assert path.read_text() == LEGACY
    assert [p.name for p in tmp_path.iterdir()] == ["ro.py"]


def test_a_fix_that_does_not_parse_is_never_written(cli, tmp_path, monkeypatch):
    import libcst as cst

    from ecolint.fixing import fixes

    path = write(tmp_path / "legacy.py", LEGACY)
    broken = cst.Module(body=[cst.SimpleStatementLine([cst.Expr(cst.Name("def"))])])  # `def` alone
    monkeypatch.setattr(fixes, "apply_fixes", lambda module, fixes: broken)
    result = cli("fix", "--apply", "legacy.py")
    assert result.exit_code == 2
    assert "does not parse; nothing was written" in result.stderr
    assert path.read_text() == LEGACY


def test_stdin_apply_writes_fixed_source_to_stdout(cli):
    result = cli("fix", "--apply", "--unsafe-fixes", "-", input=FLAGGED)
    assert result.stdout == FLAGGED.replace("load_in_8bit=True", "load_in_8bit=True, llm_int8_threshold=0.0")


def test_rule_command(cli):
    result = cli("rule", "ECO101")
    assert result.exit_code == 0
    assert result.stdout.startswith("# ECO101: `int8-outlier-decomposition`")
    for section in ("## What it does", "## Why is this bad?", "## Example", "## Use instead", "## Fix safety"):
        assert section in result.stdout
    listing = cli("rule").stdout
    assert [line.split()[0] for line in listing.splitlines()] == [f"ECO{n}" for n in range(101, 112)]
    bad = cli("rule", "ECO999")
    assert bad.exit_code == 2 and "unknown rule code 'ECO999'" in bad.stderr


def test_rules_folder_is_generated_from_docstrings():
    from ecolint.docs import main

    assert main(["--check"]) == 0, "rules/ is stale: run `python -m ecolint.docs`"


def test_a_full_disk_is_one_line_and_leaves_the_original_intact(cli, tmp_path, monkeypatch):
    import errno

    import ecolint.fixing.fixes

    target = write(tmp_path / "app.py", FLAGGED)
    real_fsync = os.fsync

    def disk_full(fd: int) -> None:
        real_fsync(fd)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(ecolint.fixing.fixes.os, "fsync", disk_full)
    result = cli("fix", "--apply", "--unsafe-fixes", "app.py")
    assert result.exit_code == 2
    assert f"ecolint: error: app.py: cannot write: {os.strerror(errno.ENOSPC)}" in result.stderr
    assert target.read_text(encoding="utf-8") == FLAGGED
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.py"]  # no temporary file left


def test_linting_never_runs_the_code_it_reads_nor_any_config_value(cli, tmp_path):
    """A crafted file and config: if anything were executed, imported or evaluated, `pwned` would exist."""
    payload = "__import__('pathlib').Path('pwned').touch()"
    write(
        tmp_path / "evil.py",
        f"""\
        {payload}
        import evil_helper
        from transformers import AutoModelForCausalLM, BitsAndBytesConfig
        MODEL = {payload} or "Qwen/Qwen2-1.5B"
        model = AutoModelForCausalLM.from_pretrained(MODEL, quantization_config=BitsAndBytesConfig(load_in_4bit=True))
        for p in prompts:
            model.generate(eval("{payload}"))
        """,
    )
    write(tmp_path / "evil_helper.py", f"{payload}\n")
    write(tmp_path / "pyproject.toml", f'[tool.ecolint]\ntarget-gpu = "{payload}"\n')
    assert cli("check", ".").exit_code == 2  # the config value is rejected, not evaluated
    write(tmp_path / "pyproject.toml", f'[tool.ecolint.models]\n"{payload}" = 1.0\n')
    cli("check", ".")
    cli("fix", ".")
    assert not (tmp_path / "pwned").exists()


def test_a_fix_killed_at_any_moment_leaves_each_file_original_or_fixed(tmp_path):
    """SIGKILL during `fix --apply`: every file is whole, either as it was or as fixed, never half-written."""
    import shutil
    import signal
    import subprocess
    import sys
    import time

    if not hasattr(signal, "SIGKILL"):
        pytest.skip("needs SIGKILL")
    original = FLAGGED + "".join(f"config_{n} = BitsAndBytesConfig(load_in_8bit=True)\n" for n in range(10))
    names = [f"app_{n}.py" for n in range(12)]
    command = [sys.executable, "-m", "ecolint", "fix", "--apply", "--unsafe-fixes", *names]

    def fresh(folder):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        for name in names:
            write(folder / name, original)
        return folder

    done = fresh(tmp_path / "done")
    started = time.monotonic()
    subprocess.run(command, cwd=done, capture_output=True, check=False)
    duration = time.monotonic() - started
    fixed = (done / names[0]).read_text(encoding="utf-8")
    assert fixed != original and all((done / n).read_text(encoding="utf-8") == fixed for n in names)

    killed = 0
    for step in range(1, 8):
        folder = fresh(tmp_path / f"killed_{step}")
        process = subprocess.Popen(command, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(duration * step / 8)
        process.send_signal(signal.SIGKILL)
        killed += process.wait() == -signal.SIGKILL
        for name in names:
            assert (folder / name).read_text(encoding="utf-8") in (original, fixed), (step, name)
    assert killed  # the runs were cut short, not finished


def test_a_temporary_file_left_by_a_killed_run_is_removed_by_the_next_fix(cli, tmp_path):
    path = write(tmp_path / "legacy.py", LEGACY)
    stale = write(tmp_path / ".legacy.py.k1ll3d.ecolint-tmp", LEGACY[:20])
    hour_ago = stale.stat().st_mtime - 3600
    os.utime(stale, (hour_ago, hour_ago))
    live = write(tmp_path / ".legacy.py.wr1t1n.ecolint-tmp", LEGACY[:20])  # another run's, being written now
    unrelated = write(tmp_path / ".other.py.k1ll3d.ecolint-tmp", "x")
    os.utime(unrelated, (hour_ago, hour_ago))
    cli("fix", "--apply", "legacy.py")
    assert "quantization_config" in path.read_text()
    assert not stale.exists() and live.exists() and unrelated.exists()


def test_fixes_that_meet_on_one_load_compose(cli, tmp_path):
    """ECO102's fix detaches the 4-bit config from the load: ECO104 must not edit that dead config."""
    write(
        tmp_path / "load.py",
        "from transformers import AutoModelForCausalLM, BitsAndBytesConfig\n\n"
        "config = BitsAndBytesConfig(load_in_4bit=True)\n"
        'model = AutoModelForCausalLM.from_pretrained("Qwen/Qwen2-1.5B", quantization_config=config)\n',
    )
    result = cli("fix", "--apply", "--unsafe-fixes", "load.py")
    assert result.exit_code == 0, result.output
    fixed = (tmp_path / "load.py").read_text()
    assert "bnb_4bit_compute_dtype" not in fixed and "config =" not in fixed
    assert 'from_pretrained("Qwen/Qwen2-1.5B", dtype=torch.bfloat16)' in fixed


def test_fix_edits_are_those_of_the_whole_fixed_module():
    """Each finding's edits, computed on the lines its fix touches, equal the diff of the whole fixed module."""
    from pathlib import Path

    from libcst.metadata import MetadataWrapper

    from ecolint.engine import Linter
    from ecolint.fixing.fixes import FixEdits, apply_fixes, text_edits
    from ecolint.rules import all_rules
    from ecolint.sources import Source

    root = Path(__file__).parent
    cases = [p for p in (root / "fixtures").rglob("*.py") if not p.name.endswith(".fixed.py")] + sorted(
        (root.parent / "examples").rglob("*.py")
    )
    repeated = 'from transformers import AutoModelForCausalLM\nm = AutoModelForCausalLM.from_pretrained("x", load_in_8bit=True)\n'
    repeated += "m.half()\nm.half()\nprint(m)\n"  # a removed line the next one repeats: the whole diff names the later
    compared = 0
    for path, text in [(p, p.read_text(encoding="utf-8")) for p in cases] + [(Path("repeated.py"), repeated)]:
        result = Linter(all_rules()).lint(Source(None, path.name, text), plan_fixes=True)
        if result.module is None:
            continue
        edits = FixEdits(MetadataWrapper(result.module, unsafe_skip_copy=True), text)
        for plan in result.planned:
            assert edits.edits(plan.fix) == text_edits(text, apply_fixes(result.module, [plan.fix]).code), path
            compared += 1
    assert compared > 50
