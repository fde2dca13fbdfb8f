"""The result cache and worker processes change how fast a run is, never what it reports."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from conftest import CLEAN, FLAGGED, write

ROOT = Path(__file__).parent.parent


def _tree(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    shutil.copytree(ROOT / "tests" / "fixtures", tmp_path / "fixtures")


def _json(cli, *args: str) -> list[dict]:
    result = cli("check", "--output-format", "json", *args, ".")
    return json.loads(result.stdout)


def test_cold_warm_uncached_and_parallel_runs_report_the_same(cli, tmp_path):
    _tree(tmp_path)
    uncached = _json(cli, "--no-cache", "--jobs", "1")
    assert uncached, "the examples and fixtures hold findings"
    assert not (tmp_path / ".ecolint_cache").exists()
    assert _json(cli) == uncached  # cold: fills the cache
    assert any((tmp_path / ".ecolint_cache").glob("*.json"))
    assert _json(cli) == uncached  # warm
    assert _json(cli, "--no-cache", "--jobs", "2") == uncached


def test_an_edited_file_is_linted_again(cli, tmp_path):
    target = write(tmp_path / "app.py", FLAGGED)
    assert cli("check", ".").exit_code == 1
    target.write_text(CLEAN, encoding="utf-8")  # same size class, maybe the same second
    assert cli("check", ".").exit_code == 0
    target.write_text(FLAGGED, encoding="utf-8")
    assert cli("check", ".").exit_code == 1


def test_settings_are_part_of_the_key(cli, tmp_path):
    write(tmp_path / "app.py", FLAGGED)
    assert cli("check", ".").exit_code == 1
    assert cli("check", "--ignore", "ECO101", ".").exit_code == 0
    assert cli("check", ".").exit_code == 1


def test_a_damaged_or_crafted_cache_is_ignored_and_never_run(cli, tmp_path):
    write(tmp_path / "app.py", FLAGGED)
    assert cli("check", ".").exit_code == 1
    (table,) = (tmp_path / ".ecolint_cache").glob("*.json")
    table.write_text("{\"x\": \"__import__('os').system('touch pwned')\"", encoding="utf-8")
    result = cli("check", ".")
    assert result.exit_code == 1 and "ECO101" in result.stdout
    assert not (tmp_path / "pwned").exists()


def test_clean_removes_the_cache(cli, tmp_path):
    write(tmp_path / "app.py", FLAGGED)
    cli("check", ".")
    assert (tmp_path / ".ecolint_cache").is_dir()
    result = cli("clean")
    assert result.exit_code == 0 and not (tmp_path / ".ecolint_cache").exists()
    assert "No cache" in cli("clean").stderr


def test_a_file_over_the_size_limit_or_the_time_limit_is_skipped_with_a_warning(cli, tmp_path):
    write(tmp_path / "app.py", FLAGGED)
    write(tmp_path / "pyproject.toml", "[tool.ecolint]\nmax-file-size = 10\n")
    result = cli("check", "--no-cache", ".")
    assert result.exit_code == 0 and "app.py: skipped: larger than max-file-size (10 bytes)" in result.stderr
    write(tmp_path / "pyproject.toml", "[tool.ecolint]\nfile-timeout = 0.000001\n")
    result = cli("check", "--no-cache", ".")
    assert result.exit_code == 0 and "app.py: skipped: took longer than file-timeout" in result.stderr
    write(tmp_path / "pyproject.toml", "[tool.ecolint]\nfile-timeout = 0\n")
    result = cli("check", ".")
    assert result.exit_code == 2 and "`file-timeout` must be a positive number" in result.stderr


def test_workers_started_while_walking_a_large_tree_report_the_same(cli, tmp_path, monkeypatch):
    import ecolint.parallel

    started = []
    original = ecolint.parallel.WorkerPool.__init__

    def spy(self, *args, **kwargs):
        started.append(kwargs.get("warm_up", False))
        original(self, *args, **kwargs)

    monkeypatch.setattr(ecolint.parallel.WorkerPool, "__init__", spy)
    _tree(tmp_path)
    for index in range(2 * ecolint.parallel.MIN_FILES_PER_WORKER):
        write(tmp_path / "bulk" / f"m{index:03}.py", FLAGGED if index % 97 == 0 else "x = 1\n")
    serial = _json(cli, "--no-cache", "--jobs", "1")
    assert started == []
    assert _json(cli, "--no-cache", "--jobs", "2") == serial
    assert started == [True]  # forked during the walk, warming up, and used
