"""The GitHub Action end to end: `python -m ecolint.github` against a fake GitHub on 127.0.0.1.

The fake serves the REST endpoints the action uses over real HTTP (comment listings paged
two at a time, creating and editing comments, a pull request's files) and records every
request. Pull requests are commits of a throwaway git repository, described by an event
file as GitHub writes it. The last test runs the composite steps of `action.yml` as the
runner does: expressions substituted, each `run` in `bash -eo pipefail`, per-step
`GITHUB_OUTPUT` files, the action's outputs read from its steps'.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jsonschema
import pytest
import yaml

from conftest import CLEAN, FLAGGED, write
from ecolint.github import MARKER

CHECKOUT = Path(__file__).resolve().parent.parent
TOKEN = "ghs_fakeTokenThatMustNeverBePrinted0123"
REPOSITORY = "octo/energy"
SARIF_SCHEMA = Path(__file__).parent / "data" / "sarif-2.1.0-subset.schema.json"
pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")

TWO_LOADS = """\
from transformers import BitsAndBytesConfig


def serve():
    return BitsAndBytesConfig(load_in_8bit=True)
"""
THREE_LOADS = (
    TWO_LOADS
    + """

def train():
    return BitsAndBytesConfig(load_in_8bit=True)
"""
)


class FakeGitHub:
    """GitHub's REST API for one repository and pull request #7, in a thread."""

    def __init__(self, page_size: int = 2, read_only: bool = False) -> None:
        self.page_size = page_size
        self.read_only = read_only
        self.comments: list[dict] = [
            {"id": n, "body": f"unrelated comment {n}", "html_url": f"https://github.com/{REPOSITORY}/pull/7#issuecomment-{n}"}
            for n in (1, 2, 3)
        ]
        self.files: list[dict] = []
        self.requests: list[tuple[str, str]] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def ours(self) -> list[dict]:
        return [c for c in self.comments if c["body"].startswith(MARKER)]

    def made(self, method: str) -> int:
        return sum(1 for m, _ in self.requests if m == method)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _send(self, status: int, payload: object, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def _page(self, items: list[dict], query: dict[str, list[str]], path: str) -> None:
                size = min(int(query.get("per_page", ["30"])[0]), fake.page_size)
                page = int(query.get("page", ["1"])[0])
                headers = {}
                if page * size < len(items):
                    headers["Link"] = (
                        f'<{fake.url}{path}?per_page={size}&page={page + 1}>; rel="next", <{fake.url}{path}?page=1>; rel="first"'
                    )
                self._send(200, items[(page - 1) * size : page * size], headers)

            def _route(self, method: str) -> None:
                parsed = urllib.parse.urlsplit(self.path)
                fake.requests.append((method, self.path))
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    return self._send(401, {"message": "Bad credentials"})
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                query = urllib.parse.parse_qs(parsed.query)
                base = f"/repos/{REPOSITORY}"
                if method in ("POST", "PATCH") and fake.read_only:
                    return self._send(403, {"message": "Resource not accessible by integration"})
                if parsed.path == f"{base}/issues/7/comments" and method == "GET":
                    return self._page(fake.comments, query, parsed.path)
                if parsed.path == f"{base}/pulls/7/files" and method == "GET":
                    return self._page(fake.files, query, parsed.path)
                if parsed.path == f"{base}/issues/7/comments" and method == "POST":
                    number = max(c["id"] for c in fake.comments) + 1
                    comment = {
                        "id": number,
                        "body": body["body"],
                        "html_url": f"https://github.com/{REPOSITORY}/pull/7#issuecomment-{number}",
                    }
                    fake.comments.append(comment)
                    return self._send(201, comment)
                match = re.fullmatch(rf"{base}/issues/comments/(\d+)", parsed.path)
                if match and method == "PATCH":
                    comment = next(c for c in fake.comments if c["id"] == int(match.group(1)))
                    comment["body"] = body["body"]
                    return self._send(200, comment)
                return self._send(404, {"message": "Not Found"})

            def do_GET(self) -> None:
                self._route("GET")

            def do_POST(self) -> None:
                self._route("POST")

            def do_PATCH(self) -> None:
                self._route("PATCH")

        return Handler


@pytest.fixture
def github():
    fake = FakeGitHub()
    yield fake
    fake.close()


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


class PullRequest:
    """A throwaway repository with a base commit and a head commit, and the event file of the pull request."""

    def __init__(self, root: Path, base_files: dict[str, str], head_files: dict[str, str]) -> None:
        self.repo = root / "repo"
        self.repo.mkdir()
        self.event = root / "event.json"
        self.base = ""
        _git(self.repo, "init", "-q", "-b", "main")
        _git(self.repo, "config", "user.email", "ci@example.com")
        _git(self.repo, "config", "user.name", "CI")
        self.base = self.commit(base_files, "base")
        self.commit(head_files, "head")

    def commit(self, files: dict[str, str], message: str) -> str:
        for name, text in files.items():
            write(self.repo / name, text)
        _git(self.repo, "add", "-A")
        _git(self.repo, "commit", "-q", "--allow-empty", "-m", message)
        self.head = _git(self.repo, "rev-parse", "HEAD")
        self.write_event()
        return self.head

    def write_event(self, base: str | None = None) -> None:
        pull = {"number": 7, "base": {"sha": base or self.base}, "head": {"sha": self.head}}
        self.event.write_text(json.dumps({"action": "synchronize", "pull_request": pull, "repository": {"full_name": REPOSITORY}}))


def _environment(pr: PullRequest, github: FakeGitHub, **inputs: str) -> dict[str, str]:
    """The variables a runner sets for a step, and the action's inputs as `INPUT_*`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "INPUT_", "RUNNER_")) and "proxy" not in k.lower()}
    root = pr.repo.parent
    env.update(
        GITHUB_API_URL=github.url,
        GITHUB_SERVER_URL="https://github.com",
        GITHUB_REPOSITORY=REPOSITORY,
        GITHUB_EVENT_NAME="pull_request",
        GITHUB_EVENT_PATH=str(pr.event),
        GITHUB_WORKSPACE=str(pr.repo),
        GITHUB_SHA=pr.head,
        GITHUB_RUN_ID="42",
        GITHUB_OUTPUT=str(root / "output.txt"),
        GITHUB_STEP_SUMMARY=str(root / "summary.md"),
        GITHUB_TOKEN=TOKEN,
        RUNNER_TEMP=str(root / "runner-temp"),
    )
    env.update({"INPUT_" + name.upper(): value for name, value in inputs.items()})
    for name in ("output.txt", "summary.md"):
        (root / name).write_text("")
    return env


def _action(pr: PullRequest, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ecolint.github"], cwd=pr.repo, env=env, capture_output=True, text=True, timeout=300)


def _outputs(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def _printed(done: subprocess.CompletedProcess[str], pr: PullRequest, github: FakeGitHub) -> str:
    """Everything the run left where a person could read it."""
    root = pr.repo.parent
    files = [(root / n).read_text() for n in ("output.txt", "summary.md")]
    return "\n".join([done.stdout, done.stderr, *files, *(c["body"] for c in github.comments)])


def test_one_comment_found_by_its_marker_is_created_then_edited_in_place(tmp_path, github):
    pr = PullRequest(tmp_path, {"old.py": FLAGGED, "notes.md": "load_in_8bit"}, {"new.py": FLAGGED, "notes.md": "changed"})
    env = _environment(pr, github)

    first = _action(pr, env)
    assert first.returncode == 1, first.stdout + first.stderr  # one new finding, fail-on: new
    assert "1 changed Python file: new.py" in first.stdout
    assert "::error title=ecolint (ECO101),file=new.py,line=3,col=29" in first.stdout
    (comment,) = github.ours()
    assert github.made("POST") == 1
    assert comment["body"].startswith(MARKER + "\n## ecolint: 1 finding in 1 file")
    assert f"[`new.py:3`](https://github.com/{REPOSITORY}/blob/{pr.head}/new.py#L3)" in comment["body"]
    assert "[`int8-outlier-decomposition`](" in comment["body"] and "+225–357% energy per token" in comment["body"]
    assert "Add `llm_int8_threshold=0.0` (unsafe)" in comment["body"]
    assert "old.py" not in comment["body"]  # unchanged by the pull request
    assert _outputs((tmp_path / "output.txt").read_text()) == {"findings": "1", "new-findings": "1", "fixable": "0"}
    assert (tmp_path / "summary.md").read_text().startswith("## ecolint: 1 finding in 1 file")

    again = _action(pr, env)
    assert again.returncode == 1
    assert len(github.ours()) == 1 and github.made("POST") == 1 and github.made("PATCH") == 0
    assert "is up to date" in again.stdout
    assert any("page=2" in path for method, path in github.requests if method == "GET")  # the marker sat on page 2

    pr.commit({"new.py": CLEAN}, "fix the load")
    fixed = _action(pr, env)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    (comment,) = github.ours()
    assert github.made("POST") == 1 and github.made("PATCH") == 1
    assert comment["body"].startswith(MARKER + "\n## ecolint: no findings") and "new.py:3" not in comment["body"]
    assert len(github.comments) == 4  # the three unrelated ones untouched
    for done in (first, again, fixed):
        assert TOKEN not in _printed(done, pr, github)


def test_a_report_longer_than_a_comment_may_be_is_cut_and_points_at_the_job_summary(tmp_path, github):
    loads = "from transformers import BitsAndBytesConfig\n" + "".join(f"c{n} = BitsAndBytesConfig(load_in_8bit=True)\n" for n in range(5))
    pr = PullRequest(tmp_path, {}, {f"models/m{n:02}.py": loads for n in range(80)})  # 400 findings, ~90,000 characters
    done = _action(pr, _environment(pr, github))
    assert done.returncode == 1, done.stdout + done.stderr
    (comment,) = github.ours()
    assert len(comment["body"]) <= 65_536  # GitHub refuses a longer one
    assert comment["body"].endswith(
        f"_The report is longer than GitHub allows here; the full list is in the [job summary](https://github.com/{REPOSITORY}/actions/runs/42)._\n"
    )
    summary = (tmp_path / "summary.md").read_text()
    assert summary.startswith("## ecolint: 400 findings in 80 files") and "`models/m79.py:6`" in summary


def test_a_clean_pull_request_gets_no_comment(tmp_path, github):
    pr = PullRequest(tmp_path, {"old.py": FLAGGED}, {"new.py": CLEAN})
    done = _action(pr, _environment(pr, github))
    assert done.returncode == 0, done.stdout + done.stderr
    assert github.ours() == [] and github.made("POST") == 0
    assert "## ecolint: no findings" in (tmp_path / "summary.md").read_text()


def test_a_read_only_token_is_a_one_line_warning_not_a_failed_check(tmp_path):
    github = FakeGitHub(read_only=True)
    try:
        pr = PullRequest(tmp_path, {}, {"new.py": FLAGGED})
        done = _action(pr, _environment(pr, github, fail_on="never"))
    finally:
        github.close()
    assert done.returncode == 0, done.stdout + done.stderr
    (warning,) = [line for line in done.stdout.splitlines() if line.startswith("::warning")]
    assert "cannot comment on pull request #7: GitHub answered 403 (Resource not accessible by integration)" in warning
    assert "read-only, as for a pull request from a fork" in warning
    assert "Traceback" not in done.stdout + done.stderr
    assert "## ecolint: 1 finding in 1 file" in (tmp_path / "summary.md").read_text()
    assert TOKEN not in done.stdout + done.stderr


def test_changed_files_come_from_the_api_when_the_checkout_lacks_the_base(tmp_path, github):
    pr = PullRequest(tmp_path, {}, {"new.py": FLAGGED, "other.py": FLAGGED, "README.md": "x"})
    pr.write_event(base="0" * 40)  # as in a shallow checkout of the merge commit
    github.files = [{"filename": "README.md", "status": "modified"}, {"filename": "gone.py", "status": "removed"}]
    github.files.append({"filename": "new.py", "status": "added"})  # on the listing's second page
    done = _action(pr, _environment(pr, github))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 changed Python file: new.py" in done.stdout
    assert any(path.startswith(f"/repos/{REPOSITORY}/pulls/7/files?per_page=2&page=2") for _, path in github.requests)


@pytest.mark.parametrize(("fail_on", "code"), [("any", 1), ("new", 0), ("never", 0)])
def test_fail_on_with_a_baseline_that_records_every_finding(tmp_path, github, cli, fail_on, code):
    pr = PullRequest(tmp_path, {"model.py": TWO_LOADS}, {"model.py": "# a comment above\n" + TWO_LOADS})
    cli.cwd = pr.repo
    assert cli("check", "--write-baseline", "ecolint-baseline.json", "model.py").exit_code == 0
    done = _action(pr, _environment(pr, github, baseline="ecolint-baseline.json", fail_on=fail_on))
    assert done.returncode == code, done.stdout + done.stderr
    assert _outputs((tmp_path / "output.txt").read_text()) == {"findings": "1", "new-findings": "0", "fixable": "0"}
    assert "## ecolint: no new findings" in (tmp_path / "summary.md").read_text()
    assert "1 known finding hidden" in (tmp_path / "summary.md").read_text()


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"fail_on": "sometimes"}, "::error::ecolint: input `fail-on` must be any or new or never, not 'sometimes'"),
        ({"comment": "yes"}, "::error::ecolint: input `comment` must be true or false, not 'yes'"),
        ({"baseline": "missing.json"}, "::error::ecolint: missing.json: no such baseline file"),
        ({"select": "ECO999"}, "::error::ecolint: --select: unknown rule code or prefix 'ECO999'"),
    ],
)
def test_bad_inputs_are_one_line_errors(tmp_path, github, inputs, message):
    pr = PullRequest(tmp_path, {}, {"new.py": FLAGGED})
    done = _action(pr, _environment(pr, github, **inputs))
    assert done.returncode == 2
    lines = [line for line in done.stdout.splitlines() + done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(message), lines
    assert github.made("POST") == 0


def _expand(text: str, contexts: dict[str, dict[str, str]]) -> str:
    """`${{ context.name }}` as the runner substitutes it; any other expression fails the test."""

    def value(match: re.Match[str]) -> str:
        context, _, name = match.group(1).strip().partition(".")
        if context == "steps":
            step, _, output = name.partition(".outputs.")
            return contexts["steps"].get(step, {}).get(output, "")  # a step's missing output is empty
        assert context in contexts and name in contexts[context], f"the runner stand-in cannot evaluate {match.group(0)}"
        return contexts[context][name]

    return re.sub(r"\$\{\{(.*?)\}\}", value, text)


def _read_outputs(path: Path) -> dict[str, str]:
    """A GITHUB_OUTPUT file: `name=value` lines and `name<<DELIMITER` blocks."""
    found, lines = {}, path.read_text().splitlines()
    while lines:
        line = lines.pop(0)
        if "<<" in line:
            name, delimiter = line.split("<<", 1)
            block = []
            while lines and lines[0] != delimiter:
                block.append(lines.pop(0))
            lines.pop(0)
            found[name] = "\n".join(block)
        elif "=" in line:
            name, value = line.split("=", 1)
            found[name] = value
    return found


def _offline_venv(runner_temp: Path) -> None:
    """The install step's virtual environment made ahead, seeing this interpreter's packages: pip then needs no network."""
    venv = runner_temp / "ecolint-action-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    paths = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "test-packages.pth").write_text("\n".join(sorted(paths)) + "\n")


@pytest.mark.skipif(sys.platform == "win32", reason="the stand-in runs bash steps as a Linux runner does")
def test_composite_steps_run_as_the_runner_runs_them(tmp_path, github, cli):
    action = tmp_path / "action-checkout"  # what `uses: ecolint/ecolint@v1` checks out
    action.mkdir()
    for name in ("action.yml", "pyproject.toml", "README.md"):
        shutil.copy(CHECKOUT / name, action / name)
    shutil.copytree(CHECKOUT / "ecolint", action / "ecolint", ignore=shutil.ignore_patterns("__pycache__"))
    pr = PullRequest(tmp_path, {"model.py": TWO_LOADS}, {})
    cli.cwd = pr.repo
    assert cli("check", "--write-baseline", "ecolint-baseline.json", "model.py").exit_code == 0
    pr.commit({"model.py": THREE_LOADS, "ecolint-baseline.json": (pr.repo / "ecolint-baseline.json").read_text()}, "train too")
    env = _environment(pr, github)
    runner_temp = Path(env["RUNNER_TEMP"])
    runner_temp.mkdir()
    _offline_venv(runner_temp)
    env.update(PIP_NO_INDEX="1", PIP_NO_BUILD_ISOLATION="0")  # "0" turns build isolation off: setuptools from the venv above

    definition = yaml.safe_load((action / "action.yml").read_text())
    assert definition["runs"]["using"] == "composite"
    given = {"sarif": "results/ecolint.sarif", "baseline": "ecolint-baseline.json"}
    inputs = {name: given.get(name, str(spec.get("default", ""))) for name, spec in definition["inputs"].items()}
    contexts: dict = {"inputs": inputs, "github": {"action_path": str(action), "token": TOKEN}, "steps": {}}
    inputs["token"] = _expand(inputs["token"], contexts)

    status = None
    for number, step in enumerate(definition["runs"]["steps"]):
        assert step["shell"] == "bash" and "uses" not in step
        output = tmp_path / f"step-{number}-output"
        output.write_text("")
        step_env = {**env, "GITHUB_OUTPUT": str(output), **{k: _expand(str(v), contexts) for k, v in step.get("env", {}).items()}}
        script = tmp_path / f"step-{number}.sh"
        script.write_text(_expand(step["run"], contexts))
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=pr.repo,
            env=step_env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        contexts["steps"][step.get("id", str(number))] = _read_outputs(output)
        status = done.returncode
        if done.returncode != 0:
            break
    assert list(contexts["steps"]) == ["install", "ecolint"], done.stdout + done.stderr
    assert status == 1, done.stdout + done.stderr  # one finding the baseline does not record
    outputs = {name: _expand(spec["value"], contexts) for name, spec in definition["outputs"].items()}
    assert outputs == {"findings": "2", "new-findings": "1", "fixable": "0"}

    assert "::error title=ecolint (ECO101),file=model.py,line=9" in done.stdout
    log = json.loads((pr.repo / "results" / "ecolint.sarif").read_text())
    jsonschema.validate(log, json.loads(SARIF_SCHEMA.read_text()))
    (result,) = log["runs"][0]["results"]
    assert result["locations"][0]["physicalLocation"]["region"]["startLine"] == 9
    summary = (tmp_path / "summary.md").read_text()
    assert summary.startswith("## ecolint: 1 new finding in 1 file") and "1 known finding hidden" in summary
    (comment,) = github.ours()
    assert "model.py:9" in comment["body"] and "model.py:5`" not in comment["body"]
    python = contexts["steps"]["install"]["python"]
    assert Path(python).is_relative_to(runner_temp)  # the action's own environment, not the runner's Python
    shown = subprocess.run([python, "-c", "import ecolint; print(ecolint.__file__)"], cwd=tmp_path, capture_output=True, text=True).stdout
    assert shown.startswith(str(runner_temp))  # installed from the action's checkout


def test_measure_puts_the_measured_table_in_the_comment(tmp_path, github, monkeypatch, capsys):
    from test_markdown import _fake_measure

    from ecolint import github as action

    calls = _fake_measure(monkeypatch)
    pr = PullRequest(tmp_path, {}, {"serve.py": FLAGGED})
    monkeypatch.chdir(pr.repo)
    assert action.run(_environment(pr, github, measure="synthetic")) == 1
    ((findings, options),) = calls
    assert [f.code for f in findings] == ["ECO101"] and options.synthetic
    (comment,) = github.ours()
    report = comment["body"].split("### Measured on NVIDIA H200: flagged (as written) vs fixed", 1)[1]
    assert "| ECO101 `serve.py:3` | `Qwen/Qwen2-1.5B` |" in report and "| -72.3% [-74.0, -70.1] | **saves** |" in report
    assert "(the rich table)" in capsys.readouterr().out  # the measure mode's own table goes to the log


def test_the_readme_workflows_use_the_actions_real_inputs():
    readme = (CHECKOUT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Pull requests: the GitHub Action", 1)[1].split("\n## ", 1)[0]
    blocks = [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", section, re.DOTALL)]
    inputs = set(yaml.safe_load((CHECKOUT / "action.yml").read_text())["inputs"])
    steps = [step for block in blocks for job in (block.get("jobs") or block).values() for step in job["steps"]]
    ours = [step for step in steps if step.get("uses", "").startswith("ecolint/ecolint@")]
    assert len(ours) == 2
    assert all(set(step.get("with", {})) <= inputs for step in ours)
    assert {"sarif", "baseline", "measure"} <= {name for step in ours for name in step["with"]}
    assert any(step.get("uses", "").startswith("github/codeql-action/upload-sarif@") for step in steps)
