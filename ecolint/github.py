"""The GitHub Action: lint a pull request's changed files and report on the pull request.

`action.yml` installs ecolint and runs `python -m ecolint.github`; all the rest is here.
Inputs arrive as `INPUT_*` variables (`action.yml` maps them). The files are the `paths`
input, else the pull request's changed files (from git where the checkout has both
commits, else from the REST API), else the whole checkout. The run writes workflow
annotations, an optional SARIF file, the job summary (`$GITHUB_STEP_SUMMARY`), the step's
outputs (`$GITHUB_OUTPUT`) and one pull-request comment, found again on the next run by a
hidden marker and edited in place. The token (`GITHUB_TOKEN`) is sent only to the API's
own host and never printed. A comment that cannot be written (a fork's read-only token)
is a warning; the exit code follows `fail-on`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ecolint import __version__
from ecolint.diagnostics import Finding

MARKER = "<!-- ecolint: pull-request report -->"
COMMENT_LIMIT = 65_000  # GitHub refuses a comment over 65,536 characters
SUMMARY_LIMIT = 1_000_000  # and a job summary over 1 MiB
FAIL_ON = ("any", "new", "never")
MEASURE = ("false", "true", "synthetic")


class ActionError(Exception):
    """The run cannot go on (a bad input, no changed files to be had); one line for the log."""


class ApiError(Exception):
    """GitHub's REST API refused a request or could not be reached."""

    def __init__(self, status: int | None, message: str) -> None:
        super().__init__(f"GitHub answered {status} ({message})" if status else f"GitHub could not be reached ({message})")
        self.status = status


def _command(kind: str, message: str) -> None:
    """A workflow command (`::warning::...`), one line."""
    from ecolint.output import workflow_escape

    sys.stdout.write(f"::{kind}::{workflow_escape(message)}\n")
    sys.stdout.flush()


def _log(message: str) -> None:
    sys.stdout.write(f"ecolint: {message}\n")
    sys.stdout.flush()


@dataclass(frozen=True)
class Inputs:
    """The action's inputs, checked."""

    paths: tuple[str, ...] = ()
    comment: bool = True
    sarif: str = ""
    baseline: str = ""
    select: str | None = None
    ignore: str | None = None
    fail_on: str = "new"
    measure: str = "false"

    @classmethod
    def from_environment(cls, env: Mapping[str, str]) -> Inputs:
        def value(name: str) -> str:
            return env.get("INPUT_" + name.upper().replace("-", "_"), "").strip()

        def choice(name: str, allowed: tuple[str, ...], default: str) -> str:
            given = value(name).lower() or default
            if given not in allowed:
                raise ActionError(f"input `{name}` must be {' or '.join(allowed)}, not {value(name)!r}")
            return given

        return cls(
            paths=tuple(value("paths").split()),
            comment=choice("comment", ("true", "false"), "true") == "true",
            sarif=value("sarif"),
            baseline=value("baseline"),
            select=value("select") or None,
            ignore=value("ignore") or None,
            fail_on=choice("fail-on", FAIL_ON, "new"),
            measure=choice("measure", MEASURE, "false"),
        )


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """urllib would forward the token to wherever a redirect points."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class GitHub:
    """GitHub's REST API for one repository, with the workflow's token."""

    def __init__(self, api_url: str, repository: str, token: str) -> None:
        self.api_url = api_url.rstrip("/")
        self.repository = repository
        self._token = token
        self._opener = urllib.request.build_opener(_NoRedirects)

    def __repr__(self) -> str:  # never the token
        return f"GitHub({self.api_url!r}, {self.repository!r})"

    def _request(self, method: str, url: str, body: Mapping[str, Any] | None = None) -> tuple[Any, Mapping[str, str]]:
        if not url.startswith(self.api_url + "/"):
            raise ApiError(None, f"refusing to send the token outside {self.api_url}")
        headers = {
            "Accept": "application/vnd.github+json",
            "Authorization": f"Bearer {self._token}",
            "User-Agent": f"ecolint/{__version__}",
            "X-GitHub-Api-Version": "2022-11-28",
        }
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with self._opener.open(request, timeout=30) as response:
                payload = response.read()
                return (json.loads(payload) if payload else None), response.headers
        except urllib.error.HTTPError as exc:
            raise ApiError(exc.code, _error_message(exc)) from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise ApiError(None, str(getattr(exc, "reason", exc))) from None

    def _url(self, path: str, **query: Any) -> str:
        url = f"{self.api_url}/repos/{self.repository}/{path}"
        return f"{url}?{urllib.parse.urlencode(query)}" if query else url

    def _pages(self, path: str) -> Iterator[Any]:
        """The items of a listing, page after page (GitHub's `Link: <...>; rel="next"`)."""
        url: str | None = self._url(path, per_page=100)
        while url is not None:
            items, headers = self._request("GET", url)
            yield from items or []
            url = _next_page(headers.get("Link", ""))

    def comments(self, number: int) -> Iterator[dict[str, Any]]:
        return self._pages(f"issues/{number}/comments")

    def create_comment(self, number: int, body: str) -> dict[str, Any]:
        return self._request("POST", self._url(f"issues/{number}/comments"), {"body": body})[0]  # type: ignore[no-any-return]

    def update_comment(self, comment_id: int, body: str) -> dict[str, Any]:
        return self._request("PATCH", self._url(f"issues/comments/{comment_id}"), {"body": body})[0]  # type: ignore[no-any-return]

    def changed_files(self, number: int) -> list[str]:
        return [item["filename"] for item in self._pages(f"pulls/{number}/files") if item.get("status") != "removed"]


def _error_message(error: urllib.error.HTTPError) -> str:
    try:
        message = json.loads(error.read() or b"{}").get("message")
    except (ValueError, AttributeError, OSError):
        message = None
    return str(message or error.reason)


def _next_page(link: str) -> str | None:
    for part in link.split(","):
        target, _, relation = part.partition(";")
        if 'rel="next"' in relation.replace(" ", ""):
            return target.strip().strip("<>")
    return None


def upsert_comment(api: GitHub, number: int, body: str, create: bool) -> str:
    """Edit the comment carrying the marker, or (with `create`) post one; says what it did."""
    body = f"{MARKER}\n{body}"
    existing = next((c for c in api.comments(number) if str(c.get("body") or "").startswith(MARKER)), None)
    if existing is None:
        if not create:
            return "nothing to report, so no comment"
        return f"commented on #{number}: {api.create_comment(number, body).get('html_url')}"
    if existing.get("body") == body:
        return f"the comment on #{number} is up to date: {existing.get('html_url')}"
    return f"updated the comment on #{number}: {api.update_comment(existing['id'], body).get('html_url')}"


def _git(*args: str) -> list[str] | None:
    try:
        done = subprocess.run(["git", *args], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.split("\0" if "-z" in args else "\n") if done.returncode == 0 else None


def changed_files(pull: Mapping[str, Any], api: GitHub | None) -> list[str]:
    """The pull request's added, modified and renamed files, relative to the current folder."""
    base, head = pull.get("base", {}).get("sha"), pull.get("head", {}).get("sha")
    listed = _git("diff", "--name-only", "-z", "--relative", "--diff-filter=d", f"{base}...{head}") if base and head else None
    if listed is None:
        if api is None:
            raise ActionError(
                "cannot list the changed files: the checkout lacks the base commit (use `fetch-depth: 0`) and no token is set"
            )
        try:
            listed = api.changed_files(int(pull["number"]))
        except ApiError as exc:
            raise ActionError(f"cannot list the changed files: {exc}; check out with `fetch-depth: 0` or set `paths`") from None
    return [name for name in listed if name]


def _paths(inputs: Inputs, pull: Mapping[str, Any] | None, api: GitHub | None) -> list[str]:
    """What to lint: the `paths` input, else a pull request's changed Python files (maybe none), else everything."""
    from ecolint.discovery import PYTHON_SUFFIXES

    if inputs.paths:
        return list(inputs.paths)
    if pull is None:
        return ["."]
    paths = sorted({name for name in changed_files(pull, api) if name.endswith(PYTHON_SUFFIXES) and os.path.isfile(name)})
    _log(f"{len(paths)} changed Python file{'s' * (len(paths) != 1)}: {' '.join(paths) or '-'}")
    return paths


def measure_options(mode: str) -> Any:
    from ecolint.measure.runner import MeasureOptions

    return MeasureOptions(synthetic=mode == "synthetic")


def _fit(body: str, limit: int, where: str) -> str:
    if len(body) <= limit:
        return body
    note = f"\n\n_The report is longer than GitHub allows here; the full list is in {where}._\n"
    cut = body.rfind("\n", 0, limit - len(note))
    return body[: max(cut, 0)] + note


def _links(env: Mapping[str, str]) -> Any:
    """Blob links at the commit linted (HEAD of the checkout), paths from its top folder."""
    from ecolint.output import Links

    repository = env.get("GITHUB_REPOSITORY")
    found = _git("rev-parse", "--show-toplevel", "HEAD")
    if found and len(found) >= 2 and found[1]:
        root, commit = found[0], found[1]
    else:
        root, commit = env.get("GITHUB_WORKSPACE") or os.getcwd(), env.get("GITHUB_SHA")
    if not repository or not commit:
        return None
    return Links.github(env.get("GITHUB_SERVER_URL") or "https://github.com", repository, commit, root)


def _append(path: str | None, text: str) -> None:
    if path:
        with open(path, "a", encoding="utf-8") as stream:
            stream.write(text)


def run(env: Mapping[str, str]) -> int:
    """The action, start to end; returns the exit code."""
    from ecolint.baseline import Baseline, compare
    from ecolint.cli import Run, measured_markdown
    from ecolint.output import fix_applies, markdown, write_findings

    inputs = Inputs.from_environment(env)
    event = _event(env.get("GITHUB_EVENT_PATH"))
    pull = event.get("pull_request") if isinstance(event.get("pull_request"), dict) else None
    repository = env.get("GITHUB_REPOSITORY") or str(event.get("repository", {}).get("full_name") or "")
    token = env.get("GITHUB_TOKEN", "")
    api = GitHub(env.get("GITHUB_API_URL") or "https://api.github.com", repository, token) if token and repository else None
    known = Baseline.read(Path(inputs.baseline)) if inputs.baseline else None
    lint = Run.create(inputs.paths, None, inputs.select, inputs.ignore, None, True, None)  # a bad `select` stops it here

    paths = _paths(inputs, pull, api)
    findings: list[Finding] = []
    unsafe = False
    errors = 0
    comparison = None
    if paths:
        lint.paths = paths
        linted = lint.lint(None, False, None)
        findings, unsafe, errors = linted.findings, linted.unsafe, linted.errors
        if known is not None:
            comparison = compare(known, findings, linted.files, lint.paths, linted.texts)
    reported = comparison.new if comparison is not None else findings

    write_findings(reported, "github", sys.stdout, unsafe)
    if inputs.sarif:
        Path(inputs.sarif).parent.mkdir(parents=True, exist_ok=True)
        with open(inputs.sarif, "w", encoding="utf-8") as stream:
            write_findings(reported, "sarif", stream, unsafe)
    body = markdown(reported, unsafe, comparison, _links(env))
    measured = False
    if inputs.measure != "false" and reported:
        from ecolint.measure import MeasureError

        try:
            body += "\n" + measured_markdown(reported, measure_options(inputs.measure), sys.stdout)
            measured = True
        except MeasureError as exc:
            _command("error", f"ecolint: --measure: {exc}")
            errors += 1
    _append(env.get("GITHUB_STEP_SUMMARY"), _fit(body, SUMMARY_LIMIT, "the SARIF file and the log") + "\n")
    fixable = sum(fix_applies(f, unsafe) for f in findings)
    _append(env.get("GITHUB_OUTPUT"), f"findings={len(findings)}\nnew-findings={len(reported)}\nfixable={fixable}\n")

    if pull is not None and inputs.comment:
        summary = "the job summary"
        if env.get("GITHUB_RUN_ID"):
            server = env.get("GITHUB_SERVER_URL") or "https://github.com"
            summary = f"the [job summary]({server}/{repository}/actions/runs/{env['GITHUB_RUN_ID']})"
        comment = _fit(body, COMMENT_LIMIT - len(MARKER) - 1, summary)
        _comment(api, int(pull.get("number") or 0), comment, create=bool(reported or measured))

    failing = {"any": len(findings), "new": len(reported), "never": 0}[inputs.fail_on]
    if errors:
        return 2
    if failing:
        kind = "new " if inputs.fail_on == "new" and comparison is not None else ""
        _log(f"{failing} {kind}finding{'s' * (failing != 1)}: failing (fail-on: {inputs.fail_on})")
        return 1
    return 0


def _comment(api: GitHub | None, number: int, body: str, create: bool) -> None:
    if api is None:
        _command("warning", "ecolint: no pull-request comment: no token (the `token` input) or no repository")
        return
    try:
        _log(upsert_comment(api, number, body, create))
    except ApiError as exc:
        hint = " The token is read-only, as for a pull request from a fork." if exc.status == 403 else ""
        _command("warning", f"ecolint: cannot comment on pull request #{number}: {exc}.{hint} The report is in the job summary.")


def _event(path: str | None) -> dict[str, Any]:
    if not path:
        return {}
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ActionError(f"cannot read the event file {path}: {exc}") from None
    return data if isinstance(data, dict) else {}


def main() -> int:
    from ecolint.baseline import BaselineError
    from ecolint.cli import UserError
    from ecolint.config import ConfigError
    from ecolint.discovery import DiscoveryError

    try:
        return run(os.environ)
    except (ActionError, BaselineError, UserError, ConfigError, DiscoveryError) as exc:
        _command("error", f"ecolint: {exc}")
    except Exception as exc:  # noqa: BLE001 - a one-line error in the log, never a traceback
        if os.environ.get("ECOLINT_DEBUG"):
            raise
        _command("error", f"ecolint: internal error: {type(exc).__name__}: {exc} (set ECOLINT_DEBUG=1 for a traceback)")
    return 2


if __name__ == "__main__":
    sys.exit(main())
