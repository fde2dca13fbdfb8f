"""Property-based tests: generated modules with the quantization and generation calls in random shapes.

Properties, over every generated module: checking never raises; every fix's result parses;
fixing is idempotent; a fix changes nothing outside the nodes it replaces (and the import it
adds); once fixed, no fixable finding of any rule remains; broken variants of the module are
reported as syntax errors, never raised. Over modules whose loads, factories, helpers and loops
lie in separate functions: the skeleton parse finds what a whole parse finds. Profiles live in conftest.py (`HYPOTHESIS_PROFILE=deep`
for a long run).
"""

from __future__ import annotations

import ast

from hypothesis import given
from hypothesis import strategies as st

import ecolint.engine
from ecolint.catalogue import catalogue
from ecolint.diagnostics import SYNTAX_ERROR, Location
from ecolint.engine import Linter
from ecolint.fixing.fixes import apply_fixes, fix_until_stable, parses, text_edits
from ecolint.output import fix_applies
from ecolint.sources import Source

LINTER = Linter(catalogue())

# How the module spells the transformers names: (import lines, prefix of each name).
IMPORT_STYLES = [
    ("from transformers import AutoModelForCausalLM, BitsAndBytesConfig, pipeline", ""),
    ("import transformers", "transformers."),
    ("import transformers as tf", "tf."),
    ("from transformers import AutoModelForCausalLM\nfrom transformers import pipeline", ""),  # BitsAndBytesConfig missing
]
MODEL_IDS = ['"Qwen/Qwen2-0.5B"', '"facebook/opt-350m"', '"meta-llama/Llama-2-70b-hf"', "model_id", 'f"org/{name}"', '"./local-checkpoint"']
CONFIG_KWARGS = {
    "load_in_8bit": ["True", "False", "flag"],
    "load_in_4bit": ["True", "False"],
    "llm_int8_threshold": ["0", "0.0", "6.0", "5", "threshold"],
    "bnb_4bit_compute_dtype": ["torch.bfloat16", "torch.float16", '"float32"'],
    "bnb_4bit_quant_type": ['"nf4"', '"fp4"'],
    "llm_int8_skip_modules": ['["lm_head"]'],
}
LOAD_KWARGS = {
    "load_in_8bit": ["True"],
    "load_in_4bit": ["True"],
    "device_map": ['"auto"'],
    "torch_dtype": ["torch.float16", "torch.bfloat16"],
    "dtype": ["torch.float16"],
    "trust_remote_code": ["True"],
}
COMMENTS = ["", "  # keep", "  # load_in_8bit=True in a comment"]
FILLER = [
    "x = 1",
    "# a comment naming generate( and load_in_4bit",
    'note = "model.generate(prompt) in a string"',
    "def helper(a):\n    return a + 1",
    "results = []",
    "prompts = ['a', 'b']",
    "flag = True",
    "threshold = 6.0",
    "model_id = 'Qwen/Qwen2-0.5B'",
    "name = 'opt-125m'",
    "import torch",
]


@st.composite
def call_arguments(draw, first: list[str], kwargs: dict[str, list[str]]) -> str:
    """An argument list in one of the layouts people write: one line, one per line, trailing comma, comments."""
    keys = draw(st.lists(st.sampled_from(sorted(kwargs)), unique=True, max_size=4))
    items = first + [f"{key}={draw(st.sampled_from(kwargs[key]))}" for key in keys]
    if not items:
        return "()"
    if draw(st.booleans()):
        return "(" + ", ".join(items) + (", " if draw(st.booleans()) else "") + ")"
    trailing_comma = draw(st.booleans())
    commas = [","] * (len(items) - 1) + ["," if trailing_comma else ""]
    lines = [f"    {item}{comma}{draw(st.sampled_from(COMMENTS))}" for item, comma in zip(items, commas)]
    return "(\n" + "\n".join(lines) + "\n)"


@st.composite
def statements(draw, prefix: str) -> list[str]:
    """Loads, configs, generation loops and filler, in random order and number."""
    config = f"{prefix}BitsAndBytesConfig"
    auto = f"{prefix}AutoModelForCausalLM"
    pipe = f"{prefix}pipeline"
    kinds = draw(st.lists(st.sampled_from(["config", "load", "inline", "loop", "comprehension", "pipe", "filler"]), min_size=1, max_size=7))
    out: list[str] = []
    for index, kind in enumerate(kinds):
        if kind == "config":
            out.append(f"cfg = {config}{draw(call_arguments([], CONFIG_KWARGS))}")
        elif kind in ("load", "inline"):
            first = [draw(st.sampled_from(MODEL_IDS))]
            if kind == "inline":
                first.append(f"quantization_config={config}{draw(call_arguments([], CONFIG_KWARGS))}")
            elif draw(st.booleans()):
                first.append("quantization_config=cfg")
            out.append(f"model = {auto}.from_pretrained{draw(call_arguments(first, LOAD_KWARGS))}")
        elif kind == "loop":
            target = draw(st.sampled_from(["prompts", "open('p.txt').read().splitlines()", "range(3)"]))
            body = "out = model.generate(**tok(p, return_tensors='pt'), max_new_tokens=8)\nresults.append(tok.decode(out[0]))"
            out.append(f"for p in {target}:\n" + "\n".join("    " + line for line in body.splitlines()))
        elif kind == "comprehension":
            out.append("outs = [model.generate(**tok(p, return_tensors='pt')) for p in prompts]")
        elif kind == "pipe":
            out.append(f"gen = {pipe}('text-generation', model={draw(st.sampled_from(MODEL_IDS))})")
            out.append("for p in prompts:\n    results.append(gen(p, max_new_tokens=8))")
        else:
            out.append(draw(st.sampled_from(FILLER)))
        if index and draw(st.integers(0, 3)) == 0:
            out.append("")
    return out


def _indented(block: list[str], by: str) -> str:
    return "\n".join("\n".join(by + line if line else line for line in statement.splitlines()) for statement in block)


@st.composite
def modules(draw) -> str:
    """A module: an import style, then statements at top level, in a function, under `if __name__`, or in a method."""
    imports, prefix = draw(st.sampled_from(IMPORT_STYLES))
    body = draw(statements(prefix))
    wrapper = draw(st.sampled_from(["", "def main():\n", 'if __name__ == "__main__":\n', "class Runner:\n    def run(self):\n"]))
    if wrapper:
        body.append("pass")  # a block of only comments and blank lines is not Python
    torch = "import torch\n" if draw(st.booleans()) else ""
    depth = wrapper.count("\n") * 4 if wrapper.startswith("class") else (4 if wrapper else 0)
    text = _indented(body, " " * depth) if wrapper else "\n".join(body)
    return f"{torch}{imports}\n\n{wrapper}{text}\n"


# Pieces of a module spread over functions, as ECO103's flow reads them across calls: `{m}` a model
# holder's name, `{p}` a pipeline's, `{a}` a `self` attribute's. Each is a def or class, or module code.
SPREAD_PIECES = [
    "def load():\n    return AutoModelForCausalLM.from_pretrained(model_id)",
    "def load_pipe():\n    return pipeline('text-generation', model=model_id)",
    "{p} = pipeline('text-generation', model=model_id)",
    "{m} = load()",
    "{m} = AutoModelForCausalLM.from_pretrained(model_id).to('cuda')",
    "def answer({m}, prompt):\n    return {m}.generate(**tok(prompt, return_tensors='pt'))",
    "def answer_all({m}, prompts):\n    for prompt in prompts:\n        answer({m}, prompt)",
    "def each(prompts, {p}={p}):\n    return [{p}(x) for x in prompts]",
    "def each_made(prompts):\n    return [load_pipe()(x) for x in prompts]",
    "def with_walrus(prompts):\n    if ({m} := load()) is not None:\n        for x in prompts:\n            {m}.generate(**tok(x))",
    "class Engine:\n    def __init__(self, {m}):\n        self.{a} = {m}\n\n"
    "    def run(self, prompts):\n        for x in prompts:\n            self.{a}.generate(**tok(x))",
    "answer_all({m}, prompts)",
    "Engine({m}).run(prompts)",
    "results = each(prompts)",
    "def main():\n    {m} = load()\n    answer_all({m}, prompts)\n    Engine(load()).run(prompts)",
]
FILLER_FUNCTIONS = [
    "def normalise(text):\n    for mark in ',.;':\n        text = text.replace(mark, ' ')\n    return text",
    "def mean(values):\n    return sum(v for v in values) / max(len(values), 1)",
    "class Metric:\n    def add(self, value):\n        self.total = getattr(self, 'total', 0) + value",
    "def read(path):\n    return [line.strip() for line in open(path)]",
]


@st.composite
def spread_modules(draw) -> str:
    """Loads, factories, helpers and loops in separate functions, between functions no rule reads."""
    names = {
        "m": draw(st.sampled_from(["model", "lm", "net"])),
        "p": draw(st.sampled_from(["pipe", "writer", "gen"])),
        "a": draw(st.sampled_from(["model", "engine", "lm"])),
    }
    pieces = draw(st.lists(st.sampled_from(SPREAD_PIECES + FILLER_FUNCTIONS), min_size=3, max_size=10))
    body = "\n\n\n".join(piece.format(**names) for piece in pieces)
    head = "from transformers import AutoModelForCausalLM, AutoTokenizer, pipeline\n\n"
    head += "model_id = 'Qwen/Qwen2-0.5B'\ntok = AutoTokenizer.from_pretrained(model_id)\nprompts = ['a', 'b']\n\n\n"
    return head + body + "\n"


def lint(text: str, plan_fixes: bool = False):
    return LINTER.lint(Source(path=None, display_name="gen.py", text=text), plan_fixes=plan_fixes)


def fix(text: str):
    def plan(current: str):
        result = lint(current, plan_fixes=True)
        return result.module, result.planned

    return fix_until_stable(text, plan, unsafe=True)


def _inside(start: Location, end: Location, spans) -> bool:
    return any(Location(a[0], a[1] + 1) <= start and end <= Location(b[0], b[1] + 1) for a, b in spans)


def _import_lines(text: str) -> set[int]:
    tree = ast.parse(text)
    return {row for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom)) for row in range(node.lineno, node.end_lineno + 1)}


@given(modules())
def test_check_never_raises_and_locates_within_the_text(text):
    rows = text.count("\n") + 1
    for finding in lint(text).findings:
        assert finding.code != SYNTAX_ERROR[0], text
        assert 1 <= finding.location.row <= finding.end_location.row <= rows


@given(modules())
def test_fixing_parses_is_idempotent_and_leaves_no_fixable_finding(text):
    outcome = fix(text)
    assert parses(outcome.text)
    again = fix(outcome.text)
    assert again.text == outcome.text and again.applied == 0
    left = [f.code for f in lint(outcome.text).findings if fix_applies(f, True)]
    assert not left, (left, outcome.text)


@given(modules())
def test_each_fix_changes_only_its_nodes_and_imports(text):
    result = lint(text, plan_fixes=True)
    imports = _import_lines(text)
    for planned in (p for p in result.planned if p.fix.applies(unsafe=True)):
        fixed = apply_fixes(result.module, [planned.fix]).code
        assert parses(fixed)
        for edit in text_edits(text, fixed):
            if _inside(edit.location, edit.end_location, planned.spans):
                continue
            # Otherwise the edit adds the import the fix needs: whole import lines, or within an import.
            added = edit.content.strip().splitlines()
            within_import = set(range(edit.location.row, edit.end_location.row + 1)) <= imports
            pure_insertion = edit.location == edit.end_location and all(line.startswith(("from ", "import ")) for line in added)
            assert planned.fix.imports and (within_import or pure_insertion), (edit, text, fixed)


@given(modules(), st.data())
def test_broken_modules_are_reported_not_raised(text, data):
    cut = data.draw(st.integers(0, len(text) - 1))
    head, tail = text[:cut], text[cut:]
    broken = data.draw(st.sampled_from([head, head + tail[1:], head + "(" + tail, head + "\t" + tail]))
    findings = lint(broken).findings
    try:
        ast.parse(broken)
    except SyntaxError:
        may_flag = LINTER.prefilter.candidates(broken)[0]
        assert not may_flag or [f.code for f in findings] == [SYNTAX_ERROR[0]], (broken, findings)


@given(spread_modules())
def test_the_skeleton_parse_finds_what_a_whole_parse_finds(text):
    source = Source(path=None, display_name="gen.py", text=text)
    kept = ecolint.engine.SKELETON_MIN_CHARS
    try:
        ecolint.engine.SKELETON_MIN_CHARS = 0
        skeleton = LINTER.lint(source).findings
        ecolint.engine.SKELETON_MIN_CHARS = 10**12
        whole = LINTER.lint(source).findings
    finally:
        ecolint.engine.SKELETON_MIN_CHARS = kept
    assert skeleton == whole, text
