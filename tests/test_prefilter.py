"""The prefilter and the skeleton parse skip work, never findings."""

from __future__ import annotations

from pathlib import Path

import pytest

import ecolint.engine
from ecolint.catalogue import catalogue
from ecolint.engine import Linter
from ecolint.prefilter.gates import ModuleFacts
from ecolint.prefilter.stages import _has_word, code_view, imports_any
from ecolint.sources import Source

FIXTURES = Path(__file__).parent / "fixtures"
EXAMPLES = Path(__file__).parent.parent / "examples"


def test_code_view_blanks_docstrings_and_comments_but_keeps_keys_and_fstring_fields():
    text = '"""model.generate(x)"""\nkw = {"load_in_8bit": True}  # load_in_4bit\nf"{model.generate(y)}"\ns = "a generate b"\n'
    view = code_view(text)
    assert "load_in_8bit" in view and "load_in_4bit" not in view
    assert view.count("generate") == 1  # the f-string's field, not the docstring or the sentence


@pytest.mark.parametrize(
    ("text", "imported"),
    [
        ("import transformers", True),
        ("from transformers.models import x", True),
        ("try: import transformers", True),
        ("x = 1; from transformers import y", True),
        ("import os, \\\n    transformers", True),
        ("import os, \\\r\n\r\n    transformers", True),  # past every line ending: a parse reports the error
        ("    >>> from transformers import AutoModel", False),
        ("see the transformers docs", False),
    ],
)
def test_import_test_finds_every_import_statement_and_no_docstring_example(text, imported):
    assert imports_any(text, ("transformers",)) is imported


@pytest.mark.parametrize(
    ("text", "word", "found"),
    [
        ("model.generate(x)", ".generate(", True),
        ("(model.generate)(x)", ".generate(", True),
        ("model . generate \\\n    (x)", ".generate(", True),
        ("def generate(self, x):", ".generate(", False),
        ("fn = model.generate", ".generate(", False),
        ("p = pipeline('text-generation')", "pipeline(", True),
        ("from transformers import pipeline as make_pipe", "pipeline(", True),
        ("from transformers import pipeline", "pipeline(", False),
        ("from transformers.pipeline import assembly", "pipeline(", False),
        ("return [pipe (x) for x in xs]", "pipe(", True),
        ("my_pipe(x)", "pipe(", False),
        ("g = torch.Generator(); generator = g", "generator(", False),
    ],
)
def test_trigger_forms_attribute_and_call(text, word, found):
    assert _has_word(text, word) is found


def test_call_form_triggers_keep_every_finding():
    """Shapes near the edge of ECO103's `word(` triggers: an aliased pipeline, a parenthesized or
    continued `.generate`, a `pipe` parameter called with a space."""
    texts = [
        'from transformers import pipeline as make\np = make("text-generation")\nfor x in xs:\n    p(x)\n',
        'from transformers import AutoModel\nm = AutoModel.from_pretrained("gpt2")\n'
        "for x in xs:\n    (m.generate)(x)\n    m.generate \\\n        (x)\n",
        "import transformers\ndef run(pipe, xs):\n    return [pipe (x) for x in xs]\n",
    ]
    for text in texts:
        source = Source(None, "edge.py", text)
        findings = Linter(catalogue()).lint(source).findings
        assert findings and findings == Linter(catalogue(), prefilter=False).lint(source).findings, text


@pytest.mark.parametrize(
    "text",
    [
        # a parameter's default
        'from transformers import pipeline\nPIPE = pipeline("text-generation")\ndef run(xs, g=PIPE):\n    return [g(x) for x in xs]\n',
        # a walrus
        "from transformers import AutoModel\ndef go(tok, ps):\n"
        '    if (m := AutoModel.from_pretrained("gpt2")) is not None:\n        for p in ps:\n            m.generate(**tok(p))\n',
        # a class's __init__ through a call of the class
        "from transformers import AutoModel\nclass Runner:\n    def __init__(self, m):\n        self.m = m\n"
        "    def run(self, tok, xs):\n        for x in xs:\n            self.m.generate(**tok(x))\n"
        'r = Runner(AutoModel.from_pretrained("gpt2"))\n',
        # peft's wrapper, whatever it wraps
        "import transformers\nfrom peft import get_peft_model\ndef go(base, cfg, tok, ps):\n"
        "    m = get_peft_model(base, cfg)\n    for p in ps:\n        m.generate(**tok(p))\n",
        # a receiver moved to the GPU, a factory called in place
        "from transformers import AutoModel\ndef load():\n    return AutoModel.from_pretrained('gpt2')\n"
        "def go(tok, ps):\n    m = load()\n    for p in ps:\n        m.to('cuda').generate(**tok(p))\n        load().generate(**tok(p))\n",
    ],
)
def test_the_generation_gate_follows_the_flow_to_every_receiver(text):
    """ECO103's holders reach as far as the flow does: the prefilter keeps each of these files."""
    source = Source(None, "gen.py", text)
    findings = Linter(catalogue()).lint(source).findings
    assert findings and findings == Linter(catalogue(), prefilter=False).lint(source).findings


def _sources() -> list[Path]:
    return sorted(p for p in FIXTURES.glob("*/*.py") if not p.name.endswith(".fixed.py")) + sorted(EXAMPLES.rglob("*.py"))


def _skeleton_and_whole(linter: Linter, source: Source, monkeypatch) -> tuple[list, list]:
    """The findings of `source` with the skeleton parse forced, then with a whole parse."""
    monkeypatch.setattr(ecolint.engine, "SKELETON_MIN_CHARS", 0)
    skeleton = linter.lint(source).findings
    monkeypatch.setattr(ecolint.engine, "SKELETON_MIN_CHARS", 10**12)
    return skeleton, linter.lint(source).findings


def test_skeleton_parse_gives_the_findings_of_a_whole_parse(monkeypatch):
    linter = Linter(catalogue())
    for path in _sources():
        skeleton, whole = _skeleton_and_whole(linter, Source(None, path.name, path.read_text(encoding="utf-8")), monkeypatch)
        assert skeleton == whole, path


def _installed_transformers_sample() -> list[Path]:
    transformers = pytest.importorskip("transformers")
    root = Path(transformers.__file__).parent
    picked = []
    for folder in ("pipelines", "quantizers", "generation", "integrations"):
        picked += [p for p in sorted((root / folder).glob("*.py")) if p.stat().st_size < 60_000]
    return picked


def test_prefilter_and_skeleton_never_change_findings_on_a_real_tree(monkeypatch):
    """The installed transformers package's pipelines, quantizers, generation and integrations code."""
    monkeypatch.setattr(ecolint.engine, "SKELETON_MIN_CHARS", 0)
    filtered, unfiltered = Linter(catalogue()), Linter(catalogue(), prefilter=False)
    sample = _installed_transformers_sample()
    assert len(sample) > 20
    for path in sample:
        source = Source(path, path.name, path.read_text(encoding="utf-8"))
        assert filtered.lint(source).findings == unfiltered.lint(source).findings, path


SKELETON_SOURCE = """\
from transformers import AutoModelForCausalLM, BitsAndBytesConfig

CONFIG = BitsAndBytesConfig(load_in_8bit=True)


@some_decorator
def unrelated(x):\r
    return x + 1\r


def helper(y):
    return [y] * 3


class Holder:
    def one(self):
        return 1

    def two(self):
        return helper(2)


def relax():
    CONFIG.llm_int8_threshold = 6.0


def load(name="facebook/opt-350m"):
    first = AutoModelForCausalLM.from_pretrained(name, load_in_8bit=True)
    second = AutoModelForCausalLM.from_pretrained(name, quantization_config=CONFIG)
    return helper(first), second
"""


def test_skeleton_leaves_out_what_no_rule_reads_and_maps_rows_back():
    import ast

    from ecolint.prefilter.skeleton import skeleton

    result = skeleton(SKELETON_SOURCE, ModuleFacts(ast.parse(SKELETON_SOURCE)), {"load_in_8bit", "add_argument", "dataclass"})
    assert result is not None
    ast.parse(result.text)  # still Python
    original = SKELETON_SOURCE.splitlines()
    for row, line in enumerate(result.text.splitlines(), start=1):
        if line.strip() not in ("pass", "#"):
            assert original[result.original(row) - 1] == line
    assert "return x + 1" not in result.text and "@some_decorator" not in result.text
    # The flow reads what a kept function calls and who calls it: `load` calls `helper`, whose
    # return value reaches it, and `Holder.two` calls `helper`, whose parameter its argument reaches.
    assert "[y] * 3" in result.text and "return helper(2)" in result.text
    assert "class Holder:" in result.text and "def one" in result.text and "return 1" not in result.text  # a class keeps one stub
    assert "CONFIG.llm_int8_threshold = 6.0" in result.text  # changes a module-level object: kept


def test_skeleton_keeps_a_mutated_config_so_the_findings_match_a_whole_parse(monkeypatch):
    skeleton, whole = _skeleton_and_whole(Linter(catalogue()), Source(None, "load.py", SKELETON_SOURCE), monkeypatch)
    assert skeleton == whole
    # The direct 8-bit load is flagged where it is; the mutated CONFIG is not known, so not flagged.
    row = next(n for n, line in enumerate(SKELETON_SOURCE.splitlines(), start=1) if "first =" in line)
    assert [(f.code, f.location.row) for f in whole if f.code == "ECO101"] == [("ECO101", row)]


GENERATION_SOURCE = """\
from transformers import AutoModelForCausalLM, AutoTokenizer, pipeline

WRITER = pipeline("text-generation", model="gpt2")


def load():
    return AutoModelForCausalLM.from_pretrained("gpt2")


def answer(lm, tok, prompt):
    return lm.generate(**tok(prompt, return_tensors="pt"))


def normalise(text):
    for mark in ",.;":
        text = text.replace(mark, " ")
    return text


def write_all(items, g=WRITER):
    return [g(item) for item in items]


class Engine:
    def __init__(self, net):
        self.net = net

    def run(self, tok, prompts):
        for prompt in prompts:
            self.net.generate(**tok(prompt, return_tensors="pt"))

    def size(self):
        return sum(len(line) for line in open("sizes.txt"))


def main(prompts):
    tok = AutoTokenizer.from_pretrained("gpt2")
    lm = load()
    outputs = [answer(lm, tok, p) for p in prompts]
    Engine(lm).run(tok, prompts)
    return outputs, write_all(prompts)
"""


def test_the_skeleton_keeps_every_generation_loop_and_leaves_the_rest_out(monkeypatch):
    """ECO103 reads beyond its words only through the model and pipeline holders: functions that name
    none go, even with loops, and the findings are those of a whole parse."""
    import ast

    from ecolint.prefilter.gates import generation_holders
    from ecolint.prefilter.skeleton import skeleton

    facts = ModuleFacts(ast.parse(GENERATION_SOURCE))
    result = skeleton(GENERATION_SOURCE, facts, {"generate", "pipe", "pipeline", "generator", *generation_holders(facts)})
    assert result is not None
    assert "text.replace" not in result.text and "open(" not in result.text
    assert "[g(item) for item in items]" in result.text and "self.net = net" in result.text
    skeleton_findings, whole = _skeleton_and_whole(Linter(catalogue()), Source(None, "gen.py", GENERATION_SOURCE), monkeypatch)
    assert skeleton_findings == whole
    lines = GENERATION_SOURCE.splitlines()
    assert sorted(lines[f.location.row - 1].strip()[:12] for f in whole if f.code == "ECO103") == [
        "outputs = [a",
        "return [g(it",
        "self.net.gen",
    ]


def test_the_skeleton_follows_calls_as_far_as_the_flow_does():
    from ecolint.analysis.flow import MAX_DEPTH
    from ecolint.prefilter.skeleton import FOLLOWED_CALLS

    assert FOLLOWED_CALLS == MAX_DEPTH + 1


@pytest.mark.parametrize(
    ("code", "may"),
    [
        ("def run(model, prompts):\n    for p in prompts:\n        model.generate(p)\n", True),
        ("def run(self, pipe=None):\n    pass\n", True),
        ("handler = lambda generator: generator(x)\n", True),
        ("m = AutoModel.from_pretrained(name)\n", True),
        ("from transformers import pipeline as make\n", True),
        ("for x in xs:\n    out = super().generate(x)\n    self.generate(x)\n", False),
        ("def run(self, models, inputs):\n    for m in models:\n        m.generate(inputs)\n", False),
    ],
)
def test_the_generation_gate_refuses_on_text_only_where_no_holder_can_exist(code, may):
    """Without a loader's name or a parameter of a conventional name, no holder exists: the parse is spared."""
    import ast

    from ecolint.prefilter.gates import ModuleFacts, generation_in_loop, may_hold_a_generator

    assert may_hold_a_generator(code_view(code, identifier_strings=False)) is may
    if not may:
        assert generation_in_loop(ModuleFacts(ast.parse(code)), ()) is False


def test_an_edit_outside_what_the_rules_read_moves_the_findings_with_their_rows(monkeypatch):
    """Lines typed into a function no rule reads leave the skeleton's text as it was: the same linter
    gives what a fresh one gives, each finding on its new row with its new line."""
    monkeypatch.setattr(ecolint.engine, "SKELETON_MIN_CHARS", 0)
    linter = Linter(catalogue())
    before = linter.lint(Source(None, "gen.py", GENERATION_SOURCE)).findings
    edited = GENERATION_SOURCE.replace('    for mark in ",.;":\n', '    # strip marks\n    for mark in ",.;:!?":\n\n')
    after = linter.lint(Source(None, "gen.py", edited)).findings
    assert after == Linter(catalogue()).lint(Source(None, "gen.py", edited)).findings
    below = GENERATION_SOURCE[: GENERATION_SOURCE.index("def normalise")].count("\n")
    assert [(f.code, f.location.row + (2 if f.location.row > below else 0)) for f in before] == [(f.code, f.location.row) for f in after]
    assert all(edited.splitlines()[f.location.row - 1] == f.source_lines[0] for f in after)
