"""The value-flow layer asked directly: which values, keys and producers reach an expression.

Each case holds `probe(EXPR)`; the test asks the flow about EXPR and compares the answer's
source text with what a reader of the module would say.
"""

from __future__ import annotations

import textwrap

import libcst as cst
import pytest

from ecolint.analysis.flow import Flow
from ecolint.analysis.names import code, find_all


def _probe(source: str) -> tuple[Flow, cst.BaseExpression]:
    """The flow of `source`, and the expression it gives `probe`: a transformers API, which only reads its arguments."""
    flow = Flow.from_source("from transformers import pipeline as probe\n" + textwrap.dedent(source))
    call = next(c for c in find_all(flow.module, cst.Call) if isinstance(c.func, cst.Name) and c.func.value == "probe")
    return flow, call.args[0].value


VALUES = [
    ("aliases and constants", "MODEL = 'Qwen/Qwen2-1.5B'\nname = MODEL\nprobe(name)", ["'Qwen/Qwen2-1.5B'"]),
    ("both branches", "x = 1 if flag else 2\nprobe(x)", ["1", "2"]),
    ("a literal condition picks one", "x = 1 if True else 2\nprobe(x)", ["1"]),
    ("every binding", "x = 1\nif c:\n    x = 2\nprobe(x)", ["1", "2"]),
    (
        "a parameter: its default and every call",
        """
        def load(name, int8=False):
            probe(int8)
        load("a")
        load("b", int8=True)
        load("c", True)
        """,
        ["True", "True", "False"],
    ),
    (
        "no call passes it: the default alone",
        """
        def load(name, int8=False):
            probe(int8)
        load("a")
        """,
        ["False"],
    ),
    (
        "a runtime argument stays a runtime value",
        """
        def load(name, int8=False):
            probe(int8)
        load("a", int8=args.int8)
        """,
        ["args.int8"],
    ),
    (
        "a function passed as a callback gets runtime values too",
        """
        def answer(question="hi"):
            probe(question)
        gradio.Interface(fn=answer)
        """,
        ["question", '"hi"'],
    ),
    (
        "factories and unpacking",
        """
        def build(name):
            return Model.from_pretrained(name), Tokenizer.from_pretrained(name)
        model, tokenizer = build("gpt2")
        probe(model)
        """,
        ["Model.from_pretrained(name)"],
    ),
    (
        "self attributes of the same class only",
        """
        class A:
            def __init__(self):
                self.model = Model.from_pretrained("a")
            def run(self):
                probe(self.model)
        class B:
            def __init__(self, client):
                self.model = client
        """,
        ['Model.from_pretrained("a")'],
    ),
    (
        "a constructor's arguments reach __init__",
        """
        class A:
            def __init__(self, name):
                probe(name)
        A("Qwen/Qwen2-1.5B")
        """,
        ['"Qwen/Qwen2-1.5B"'],
    ),
]


@pytest.mark.parametrize("source, expected", [c[1:] for c in VALUES], ids=[c[0] for c in VALUES])
def test_values(source: str, expected: list[str]) -> None:
    flow, expr = _probe(source)
    assert sorted(code(leaf) for leaf in flow.values(expr)) == sorted(expected)


KEYS = [
    ("a literal", "kw = {'load_in_8bit': True}\nprobe(kw)", {"load_in_8bit": "True"}, True),
    (
        "keys set step by step, also under a condition",
        """
        kw = {"device_map": "auto"}
        if args.int8:
            kw["load_in_8bit"] = True
        kw.update(torch_dtype=dtype)
        kw.update({"llm_int8_threshold": 6.0})
        kw.setdefault("trust_remote_code", True)
        probe(kw)
        """,
        {"device_map": '"auto"', "load_in_8bit": "True", "torch_dtype": "dtype", "llm_int8_threshold": "6.0", "trust_remote_code": "True"},
        True,
    ),
    (
        "a dict returned by a helper",
        """
        def options(bits):
            found = dict(device_map="auto")
            if bits == 8:
                found["load_in_8bit"] = True
            return found
        probe(options(8))
        """,
        {"device_map": '"auto"', "load_in_8bit": "True"},
        True,
    ),
    (
        "a dict that escapes into unknown code is incomplete",
        "kw = {'load_in_8bit': True}\nconfigure(kw)\nprobe(kw)",
        {"load_in_8bit": "True"},
        False,
    ),
    ("a key from a variable is incomplete", "kw = {}\nkw[name] = 1\nprobe(kw)", {}, False),
    ("printing it keeps it complete", "kw = {'a': 1}\nprint(kw)\nprobe(kw)", {"a": "1"}, True),
    (
        "the keywords callers give **kwargs",
        """
        def load(path, **kwargs):
            probe(kwargs)
        load("a", load_in_8bit=True)
        load("b", **{"device_map": "auto"})
        """,
        {"load_in_8bit": "True", "device_map": '"auto"'},
        True,
    ),
]


@pytest.mark.parametrize("source, expected, complete", [c[1:] for c in KEYS], ids=[c[0] for c in KEYS])
def test_dict_keywords(source: str, expected: dict[str, str], complete: bool) -> None:
    flow, expr = _probe(source)
    keywords = flow.dict_keywords(expr)
    assert keywords is not None
    assert {name: code(keyword.value) for name, keyword in keywords.items.items()} == expected
    assert keywords.complete is complete


def test_a_nested_dict_gets_the_keys_set_through_the_enclosing_binding() -> None:
    """`kw["model_kwargs"]["load_in_4bit"] = True` sets a key of the literal that is `kw`'s `model_kwargs` entry."""
    flow, expr = _probe(
        """
        kw = {"model": name, "model_kwargs": {"low_cpu_mem_usage": True}}
        if quantize:
            kw["model_kwargs"]["load_in_4bit"] = True
        kw["other"]["load_in_8bit"] = True
        probe(kw)
        """
    )
    outer = flow.dict_keywords(expr)
    inner = flow.dict_keywords(outer.items["model_kwargs"].value)
    assert {name: code(k.value) for name, k in inner.items.items()} == {"low_cpu_mem_usage": "True", "load_in_4bit": "True"}
    assert inner.complete


def test_producers_pass_through_device_moves_and_aliases() -> None:
    flow, expr = _probe(
        """
        model = Model.from_pretrained("a").to("cuda").eval()
        alias = model
        probe(alias)
        """
    )
    assert [code(leaf) for leaf in flow.producers(expr)] == ['Model.from_pretrained("a")']


def test_recursion_is_bounded() -> None:
    flow, expr = _probe(
        """
        def f(x):
            return f(x)
        probe(f(1))
        """
    )
    assert flow.values(expr)  # answers, without looping


def test_model_ids_reach_a_loader_through_its_callers() -> None:
    flow, expr = _probe(
        """
        import argparse
        parser = argparse.ArgumentParser()
        parser.add_argument("--model", default="Qwen/Qwen2-1.5B")
        args = parser.parse_args()

        def load(name):
            probe(name)

        load(args.model)
        load("TinyLlama/TinyLlama-1.1B-Chat-v1.0")
        """
    )
    assert sorted(flow.model_ids.known(expr)) == ["Qwen/Qwen2-1.5B", "TinyLlama/TinyLlama-1.1B-Chat-v1.0"]


def test_a_name_rebound_by_its_own_statement_reads_the_binding_before() -> None:
    flow, expr = _probe(
        """
        model = "bigcode/starcoderbase-1b"
        model = probe(model)
        model = None
        """
    )
    assert [code(leaf) for leaf in flow.values(expr)] == ['"bigcode/starcoderbase-1b"']


def test_what_measure_reads_follows_a_model_built_in_helpers() -> None:
    """A finding hands `--measure` the model its load names, also when a helper builds both."""
    from ecolint.engine import Linter
    from ecolint.rules import all_rules
    from ecolint.sources import Source

    text = textwrap.dedent(
        """
        from transformers import AutoModelForCausalLM, BitsAndBytesConfig

        def make_config():
            return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4")

        def load_tinyllama(name="TinyLlama/TinyLlama-1.1B-Chat-v1.0"):
            return AutoModelForCausalLM.from_pretrained(name, quantization_config=make_config())

        model = load_tinyllama()
        """
    )
    findings = Linter(all_rules()).lint(Source(None, "load.py", text)).findings
    assert {(f.code, f.data["model"]) for f in findings} == {
        ("ECO102", "TinyLlama/TinyLlama-1.1B-Chat-v1.0"),
        ("ECO104", "TinyLlama/TinyLlama-1.1B-Chat-v1.0"),
    }


def test_a_branch_is_unreachable_only_where_every_value_of_its_test_agrees() -> None:
    flow = Flow.from_source(
        textwrap.dedent(
            """\
            def load(name, int8=False, fp16=True, flag=False):
                if int8:
                    a = 1
                elif not fp16:
                    b = 2
                else:
                    c = 3
                if flag:
                    d = 4
                if name:
                    e = 5

            load("m", flag=True)
            load("m", flag=FLAG)
            """
        )
    )
    reachable = {code(n.targets[0].target): not flow.unreachable(n) for n in find_all(flow.module, cst.Assign)}
    # int8 is only ever False, fp16 only True; flag is True or a runtime value; name a string or unknown.
    assert reachable == {"a": False, "b": False, "c": True, "d": True, "e": True}
