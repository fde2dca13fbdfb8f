"""ECO103's batched rewrite produces the same outputs as the loop it replaces.

Runs on the CPU with a tiny random-weight Llama built from a config and a word-level
tokenizer built in memory (nothing is downloaded), greedy decoding, prompts of
different lengths so that padding matters, and more prompts than one batch.
"""

from __future__ import annotations

import textwrap

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from ecolint.engine import Linter  # noqa: E402
from ecolint.fixing.fixes import fix_until_stable  # noqa: E402
from ecolint.rules import rule_by_code  # noqa: E402
from ecolint.sources import Source  # noqa: E402

WORDS = "the a cat dog sat on mat quick brown fox jumps over lazy river runs far away home light".split()
PROMPTS = [
    "the cat sat",
    "a dog",
    "the quick brown fox jumps over the lazy dog",
    "river",
    "light runs far away home",
    "the mat",
    "a brown cat sat on the mat",
    "fox",
    "the lazy river runs",
    "dog jumps over a cat",
    "home",
]


def _tokenizer():
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2, **{w: i + 3 for i, w in enumerate(WORDS)}}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return transformers.PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="<unk>", bos_token="<s>", eos_token="</s>")


@pytest.fixture(scope="module")
def model():
    config = transformers.LlamaConfig(
        vocab_size=len(WORDS) + 3,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
        bos_token_id=1,
        eos_token_id=2,
    )
    torch.manual_seed(0)
    return transformers.LlamaForCausalLM(config).eval()


def _fixed(source: str) -> str:
    linter = Linter([rule_by_code("ECO103")])

    def plan(text: str):
        result = linter.lint(Source(None, "loop.py", text), plan_fixes=True)
        return result.module, result.planned

    fixed = fix_until_stable(source, plan, unsafe=True).text
    assert fixed != source, "ECO103 did not rewrite the loop"
    return fixed


def _run(source: str, model, result: str):
    namespace = {"model": model, "tokenizer": _tokenizer(), "prompts": list(PROMPTS)}
    with torch.no_grad():
        exec(compile(source, "loop.py", "exec"), namespace)  # the test's own code, not linted input
    return namespace[result]


GENERATE_LOOP = """\
import transformers


def complete(model, tokenizer, prompts):
    answers = []
    for prompt in prompts:
        inputs = tokenizer(prompt, return_tensors="pt")
        output_ids = model.generate(**inputs, max_new_tokens=6, do_sample=False)
        answers.append(tokenizer.decode(output_ids[0][inputs["input_ids"].shape[1]:], skip_special_tokens=True))
    return answers


answers = complete(model, tokenizer, prompts)
"""

TEMPLATED_LOOP = """\
from transformers import AutoModelForCausalLM

model = globals()["model"] if "model" in globals() else AutoModelForCausalLM.from_pretrained("unused")
answers = []
for question in prompts:
    inputs = tokenizer(f"the {question}", return_tensors="pt")
    output_ids = model.generate(**inputs, max_new_tokens=5, do_sample=False)
    text = tokenizer.decode(output_ids[0], skip_special_tokens=True)
    answers.append(text)
"""

PIPELINE_COMPREHENSION = """\
from transformers import pipeline

generator = pipeline("text-generation", model=model, tokenizer=tokenizer)
answers = [generator(p, max_new_tokens=5, do_sample=False) for p in prompts]
"""


@pytest.mark.parametrize("source", [GENERATE_LOOP, TEMPLATED_LOOP, PIPELINE_COMPREHENSION], ids=["generate", "templated", "pipeline"])
def test_batched_rewrite_gives_the_same_outputs(model, source):
    fixed = _fixed(textwrap.dedent(source))
    assert "batch_size = 8" in fixed
    expected = _run(source, model, "answers")
    assert len(expected) == len(PROMPTS)
    assert _run(fixed, model, "answers") == expected
