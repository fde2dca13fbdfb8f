"""Latency from an edit to its diagnostics in `ecolint server`, on a 1,000-line file with findings.

    python benchmarks/server_latency.py [--edits 15] [--lines 1000]

Starts the server over stdio with pygls' client, as an editor does, and opens a generated
evaluation harness of `--lines` lines: an 8-bit load, a 4-bit load of a small model, a legacy
`load_in_8bit=` keyword, an int threshold and a per-item generation loop at the top (7 findings),
then ordinary helpers (text normalisation, metrics, readers) down to the last line. Each edit
toggles the int threshold between `0` and `0.0`, so that finding comes and goes; the time is from
sending `textDocument/didChange` to receiving the diagnostics of that version (each edit comes
after a pause, so the server's debounce, which waits only while typing, does not delay it), and
each is checked to hold the finding or not as the text says. After each, the engine alone lints
the same text in this process (`Linter.lint`, as the server calls it), so that on a busy machine
the two are timed under the same load: the difference is what the server adds. Prints medians,
the 90th percentile and the maximum.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from lsprotocol import types
from pygls.lsp.client import LanguageClient
from pygls.uris import from_fs_path

from ecolint.engine import Linter
from ecolint.linters import Linters, settings_resolver
from ecolint.server.server import DEBOUNCE_SECONDS
from ecolint.sources import Source

HEADER = '''"""An evaluation harness, as long as real ones get."""

import argparse
import json
import math
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig

MODEL_ID = "mistralai/Mistral-7B-Instruct-v0.2"


def load(path=MODEL_ID):
    config = BitsAndBytesConfig(load_in_8bit=True)
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, quantization_config=config, device_map="auto")
    return tokenizer, model


def load_small():
    nf4 = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4")
    return AutoModelForCausalLM.from_pretrained("Qwen/Qwen2-1.5B-Instruct", quantization_config=nf4)


def load_legacy():
    strict = BitsAndBytesConfig(load_in_8bit=True, llm_int8_threshold=0)
    return AutoModelForCausalLM.from_pretrained("facebook/opt-1.3b", load_in_8bit=True, device_map="auto")


def answer_all(tokenizer, model, questions):
    answers = []
    for question in questions:
        inputs = tokenizer(question, return_tensors="pt").to(model.device)
        output_ids = model.generate(**inputs, max_new_tokens=32, do_sample=False)
        answers.append(tokenizer.decode(output_ids[0], skip_special_tokens=True))
    return answers
'''
HELPERS = '''

def normalise_{i}(text):
    """Lower-case, strip punctuation and articles (variant {i})."""
    text = text.lower().strip()
    for mark in ",.;:!?":
        text = text.replace(mark, " ")
    words = [w for w in text.split() if w not in ("a", "an", "the")]
    return " ".join(words)


def exact_match_{i}(answers, references):
    hits = sum(normalise_{i}(a) == normalise_{i}(r) for a, r in zip(answers, references))
    return hits / max(len(references), 1)


class Metric{i}:
    """A running mean with its spread."""

    def __init__(self):
        self.count = 0
        self.mean = 0.0
        self.m2 = 0.0

    def add(self, value):
        self.count += 1
        delta = value - self.mean
        self.mean += delta / self.count
        self.m2 += delta * (value - self.mean)

    def std(self):
        return math.sqrt(self.m2 / (self.count - 1)) if self.count > 1 else 0.0


def read_split_{i}(path):
    rows = []
    with Path(path).open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            rows.append((record["question"], record["answer"]))
    return rows
'''
FOOTER = """

def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="dev.jsonl")
    args = parser.parse_args()
    tokenizer, model = load()
    rows = read_split_0(args.data)
    answers = answer_all(tokenizer, model, [q for q, _ in rows])
    print(exact_match_0(answers, [a for _, a in rows]))


if __name__ == "__main__":
    main()
"""
TOGGLED = "llm_int8_threshold=0)"  # in `load_legacy`: ECO106 while it is an int
TIMEOUT = 300.0


def harness(lines: int) -> str:
    """The benchmark's document: the loads and the loop at the top, helpers down to `lines` lines."""
    text, index = HEADER, 0
    while (text + HELPERS.format(i=index) + FOOTER).count("\n") <= lines:
        text += HELPERS.format(i=index)
        index += 1
    text += FOOTER
    return text + "\n" * (lines - text.count("\n"))


class Editor(LanguageClient):
    def __init__(self) -> None:
        super().__init__("ecolint-benchmark", "1")
        self.arrived: dict[int, tuple[float, list[types.Diagnostic]]] = {}  # version → (when, diagnostics)
        self.news = asyncio.Event()

        @self.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def on_diagnostics(params: types.PublishDiagnosticsParams) -> None:
            if params.version is not None:
                self.arrived[params.version] = (time.perf_counter(), list(params.diagnostics))
                self.news.set()

    async def diagnostics_of(self, version: int) -> tuple[float, list[types.Diagnostic]]:
        while version not in self.arrived:
            self.news.clear()
            await asyncio.wait_for(self.news.wait(), TIMEOUT)
        return self.arrived[version]


async def measure(text: str, edits: int, directory: Path) -> tuple[list[float], list[float], int]:
    """Seconds from each edit to its diagnostics, the engine's seconds on each edit's text, and the findings on open."""
    linter = _linter()
    editor = Editor()
    await editor.start_io(sys.executable, "-m", "ecolint", "server", cwd=str(directory))
    params = types.InitializeParams(capabilities=types.ClientCapabilities(), root_uri=from_fs_path(str(directory)))
    await asyncio.wait_for(editor.initialize_async(params), TIMEOUT)
    editor.initialized(types.InitializedParams())
    uri = from_fs_path(str(directory / "harness.py"))
    editor.text_document_did_open(types.DidOpenTextDocumentParams(types.TextDocumentItem(uri, "python", 1, text)))
    _, opened = await editor.diagnostics_of(1)
    row = next(number for number, line in enumerate(text.splitlines()) if TOGGLED in line)
    column = text.splitlines()[row].index(TOGGLED) + len("llm_int8_threshold=0")
    latencies, engine = [], []
    for version in range(2, edits + 2):
        adding = version % 2 == 0  # `0` → `0.0`: the finding goes; then back
        at = types.Position(row, column)
        span = types.Range(at, at) if adding else types.Range(at, types.Position(row, column + 2))
        change = types.TextDocumentContentChangePartial(range=span, text=".0" if adding else "")
        sent = time.perf_counter()
        editor.text_document_did_change(types.DidChangeTextDocumentParams(types.VersionedTextDocumentIdentifier(version, uri), [change]))
        arrived, diagnostics = await editor.diagnostics_of(version)
        if any(d.code == "ECO106" for d in diagnostics) == adding:
            raise SystemExit(f"version {version}: the diagnostics do not follow the edit")
        latencies.append(arrived - sent)
        text = text[: _offset(text, row, column)] + (".0" if adding else "") + text[_offset(text, row, column + (0 if adding else 2)) :]
        start = time.perf_counter()
        linter.lint(Source(None, "harness.py", text))
        engine.append(time.perf_counter() - start)
    await asyncio.wait_for(editor.shutdown_async(None), TIMEOUT)
    editor.exit(None)
    await editor.stop()
    return latencies, engine, len(opened)


def _linter() -> Linter:
    """The linter the server uses for a document without a project configuration."""
    settings = settings_resolver().for_path(Path(tempfile.gettempdir()))
    linter = Linters(fix_edits=False)(settings, None)  # as the server lints for diagnostics
    linter.lint(Source(None, "warm-up.py", HEADER))  # imports LibCST and the rules, once
    return linter


def _offset(text: str, row: int, column: int) -> int:
    return sum(len(line) for line in text.splitlines(keepends=True)[:row]) + column


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--edits", type=int, default=15, help="edits to time [default: 15]")
    parser.add_argument("--lines", type=int, default=1000, help="the document's length [default: 1000]")
    args = parser.parse_args()
    text = harness(args.lines)
    with tempfile.TemporaryDirectory() as scratch:
        latencies, engine, findings = asyncio.run(measure(text, args.edits, Path(scratch)))
    ms = sorted(1000 * s for s in latencies)
    print(f"document: {text.count(chr(10))} lines, {findings} findings on open; {len(ms)} edits")
    print(f"edit → diagnostics: median {statistics.median(ms):.0f} ms, p90 {ms[int(0.9 * (len(ms) - 1))]:.0f} ms, max {ms[-1]:.0f} ms")
    print(f"engine alone on the same texts: median {1000 * statistics.median(engine):.0f} ms")
    added = statistics.median(a - b for a, b in zip(latencies, engine))
    print(
        f"what the server adds (a lone edit is not debounced; typing waits {1000 * DEBOUNCE_SECONDS:.0f} ms): median {1000 * added:.0f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
