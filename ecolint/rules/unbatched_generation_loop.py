from __future__ import annotations

from collections.abc import Sequence

import libcst as cst
from libcst.metadata import ScopeProvider

from ecolint.fixing import batching
from ecolint.diagnostics import Applicability
from ecolint.fixing.fixes import Fix
from ecolint.analysis import model_ids
from ecolint.analysis.generation import GenerationCalls, Kind
from ecolint.analysis.measurable import load_call_hint
from ecolint.analysis.loops import (
    Loop,
    body_of,
    enclosing_loop,
    flow_backward,
    flow_forward,
    iterates_batches,
    loop_targets,
    names_read,
    runs_at_most_once,
)
from ecolint.analysis.names import code, find_all, is_builtin
from ecolint.rule import FixAvailability, Rule
from ecolint.analysis.parents import ParentProvider

COST = "batching 1 → 8 cuts energy per generated token by 86–87% on H200 (95.7% at batch 64 on A800)"
ADVICE = {
    "generate": "Batch it: tokenize a list of prompts with `padding=True` (left padding), call `generate` once per batch, `batch_decode`",
    "pipeline": "Batch it: pass the list of inputs to the pipeline with `batch_size=`",
}


class UnbatchedGenerationLoop(Rule):
    """
    ## What it does
    Flags `model.generate(...)` on a transformers model, or a call of a transformers
    generation `pipeline`, made once per item inside a `for` loop, a comprehension or
    a callback mapped over items (`ds.map(lambda ex: ...)`) when the items are independent; also a helper function that generates for one
    item when this file calls it once per item from such a loop (reported at the call).

    The model is known by its binding (`*.from_pretrained(...)`, `pipeline(...)` with
    a generation task) or, in a file that imports transformers, by a parameter named
    `model` (for `.generate`) or `pipe` / `generator` (called).

    ## Why is this bad?
    At batch 1 a GPU spends most of each step waiting on kernel launches and weight
    reads that a batch would share. Measured on an H200, going from batch 1 to
    batch 8 cuts the energy per generated token by 86–87% for FP16, INT8 and NF4
    alike (Qwen2-1.5B and Mistral-7B shapes); the seed measurements show 95.7% at
    batch 64 on an A800.

    ## Known problems
    Not flagged, by design: loops over batches or chunks (`range(0, n, batch_size)`,
    a tokenizer called with `padding=True`), loops whose next input depends on the
    previous output (chat and agent loops, iterative refinement, anything reading
    `input()`), streaming (`streamer=`), loops that run once as written (`[one]`,
    `range(1)`, `df.head(1)`, `xs[:1]`, `islice(xs, 1)`), and `while` loops.
    Per-item calls whose inputs come from a loop's item are required: an inner loop that
    repeats the same input (sampling a prompt several times, trying settings) is judged
    by the loop around it, and gets advice only. A pipeline given a loop's `chunk` or
    `batch` without `batch_size=` still runs one item at a time, and is flagged; so is
    `generate` in a loop over `chunks` whose tokenizer makes tensors of the item without
    padding (texts of different lengths cannot be one tensor so: the item is one text).
    A list written in the call is one item when it holds one element or is a chat
    conversation (`pipe([{"role": "user", "content": q}])`). A function run once per item
    by `map(f, xs)`, `Dataset.map(f)` (without `batched=True`), `DataFrame.apply(f)` or
    `progress_apply(f)` is such a loop too, its parameters the items.

    ## Example
    ```python
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained("Qwen/Qwen2-1.5B")
    model = AutoModelForCausalLM.from_pretrained("Qwen/Qwen2-1.5B")
    answers = []
    for prompt in prompts:
        inputs = tokenizer(prompt, return_tensors="pt").to(model.device)
        outputs = model.generate(**inputs, max_new_tokens=64)
        answers.append(tokenizer.decode(outputs[0], skip_special_tokens=True))
    ```

    ## Use instead
    ```python
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained("Qwen/Qwen2-1.5B", padding_side="left")
    model = AutoModelForCausalLM.from_pretrained("Qwen/Qwen2-1.5B")
    answers = []
    batch_size = 8
    for start in range(0, len(prompts), batch_size):
        batch = prompts[start : start + batch_size]
        inputs = tokenizer(batch, return_tensors="pt", padding=True).to(model.device)
        outputs = model.generate(**inputs, max_new_tokens=64)
        answers.extend(tokenizer.batch_decode(outputs, skip_special_tokens=True))
    ```

    ## Fix safety
    Unsafe. For the canonical shape (tokenize one prompt, generate, decode with
    `skip_special_tokens=True`, append) the fix batches it: the tokenizer on a chunk
    of `batch_size` prompts with `padding=True`, left padding and a pad token set,
    `generate` once per chunk, `batch_decode`, results kept in order. With greedy
    decoding the outputs are the same (a test checks this on a tiny model), but
    sampling draws differ, memory grows with the batch, and numerics may differ in
    the last bits. A pipeline called per item is given the list with `batch_size=`.
    Other shapes get advice only.

    ## References
    - shared evidence: `h200-2026-11.md` (batch 1 vs 8); seed measurements (A800, batch 1 to 64)
    """

    code = "ECO103"
    name = "unbatched-generation-loop"
    summary = "`model.generate` or a generation pipeline called once per item in a loop"
    fix_availability = FixAvailability.SOMETIMES
    # `.generate(...)` on a model, or a call of a pipeline (made by `pipeline(...)` or an import
    # alias of it, or a `pipe`/`generator` parameter), in a loop (`for`, also in comprehensions),
    # in a file that imports the loaders; none of these words counts in a string.
    triggers = (".generate(", "pipe(", "pipeline(", "generator(")
    identifier_strings = False
    imports = ("transformers", "peft")
    gate = "generation_in_loop"
    # Beyond the loop's function: the model and pipeline holders (the gate's, `gates.CONTEXT_NAMES`),
    # imports of transformers anywhere (the conventional parameters count only then), and the
    # model ids that `--measure`'s hint resolves.
    # and the calls that run a callback per item (`ds.map(process)`).
    context_words = ("transformers", *model_ids.CONTEXT_WORDS, "map", "apply", "progress_apply")

    METADATA_DEPENDENCIES = (*Rule.METADATA_DEPENDENCIES, ParentProvider, ScopeProvider)

    def visit_Module(self, node: cst.Module) -> None:
        self.calls = GenerationCalls(self.flow)
        self.helpers: dict[cst.FunctionDef, Kind | None] = {}

    def visit_Call(self, node: cst.Call) -> None:
        kind = self.calls.kind(node)
        if kind is not None:
            found = self._independent_loop(node, node.args, kind)
            if found is not None:
                loop, innermost = found
                in_place = any(isinstance(a.value, cst.List) for a in node.args)  # `pipe([message])`: advice only
                fix = self._fix(node, kind, loop) if innermost and not in_place else Fix(ADVICE[kind], Applicability.DISPLAY_ONLY, ())
                self.report(node, f"`{code(node.func)}` runs once per item in a loop: {COST}", fix, self._hint(node, kind))
            return
        helper_kind = self._helper_kind(node)
        if helper_kind is not None:
            if self._independent_loop(node, node.args) is not None:
                name = code(node.func)
                message = f"`{name}()` generates for one item and runs once per item in a loop: {COST}"
                advice = f"{ADVICE[helper_kind]} inside `{name}`, and call it with the whole list"
                self.report(node, message, Fix(advice, Applicability.DISPLAY_ONLY, ()))

    def _hint(self, call: cst.Call, kind: Kind) -> dict:
        """The model behind the call and the batch sizes to compare, for `--measure`."""
        loader = self.calls.loader_of(call, kind)
        hint = load_call_hint(self.flow, self.model_ids, loader) if loader is not None else {"model": None}
        return {**hint, "batch": 1, "fixed_batch": batching.BATCH_SIZE}

    def _independent_loop(self, call: cst.Call, args: Sequence[cst.Arg], kind: Kind | None = None) -> tuple[Loop, bool] | None:
        """The loop that runs `call` once per independent item, and whether it is the innermost one.

        An inner loop whose item the call does not read (`for model in models:` inside
        `for prompt in prompts:`) leaves the question to the loop around it. A pipeline
        given a loop's `chunk` or `batch` without `batch_size=` still runs one item at a time.
        """
        if any(a.keyword is not None and a.keyword.value == "streamer" for a in args):
            return None
        if any(_is_batch(a.value) for a in args):
            return None  # already given a batch
        by_name = kind != "pipeline" or any(a.keyword is not None and a.keyword.value == "batch_size" for a in args)
        inputs = [a for a in args if a.keyword is None or a.keyword.value not in GENERATION_SETTINGS]
        argument_names = set().union(*(names_read(a.value) for a in inputs)) if inputs else set()
        loop, innermost = enclosing_loop(self, call, self.flow.passed_to), True
        while loop is not None:
            if isinstance(loop, cst.While) or runs_at_most_once(loop):
                return None
            body = body_of(loop)
            items = flow_forward(body, loop_targets(loop))  # what the loop's item reaches in its body
            if iterates_batches(loop, by_name and not self._tokenizes_one_item(body, items)):
                return None
            if self._reads_input_or_pads(body):
                return None
            if argument_names & items:
                produced = flow_forward(body, set(), seeds=[call])
                if produced & flow_backward(body, argument_names):
                    return None  # the next input depends on this output
                return loop, innermost
            loop, innermost = enclosing_loop(self, loop, self.flow.passed_to), False  # the same input every time here
        return None

    def _reads_input_or_pads(self, body: cst.CSTNode) -> bool:
        """An interactive loop (`input()`), or a tokenizer or processor padding a batch of items."""
        for call in find_all(body, cst.Call):
            if is_builtin(self, call.func, "input"):
                return True
            if any(a.keyword is not None and a.keyword.value == "padding" for a in call.args) and self._given_a_batch(call):
                return True
        return False

    def _tokenizes_one_item(self, body: cst.CSTNode, items: set[str]) -> bool:
        """A tokenizer or processor in the loop makes tensors of the loop's item (a name in `items`)
        without padding: several texts of different lengths cannot become one tensor so, so the item
        is one text (a loop over `chunks` of a document, each tokenized on its own)."""
        for call in find_all(body, cst.Call):
            keywords = {a.keyword.value for a in call.args if a.keyword is not None}
            if "return_tensors" in keywords and "padding" not in keywords:
                if any(isinstance(t, cst.Name) and t.value in items for t in _inputs_of(call, ("text", "texts"))):
                    return True
        return False

    def _given_a_batch(self, call: cst.Call) -> bool:
        """Whether a tokenizer call's text is a list or a slice of items, not one item."""
        return any(_is_batch(leaf) for text in _inputs_of(call, ("text", "texts", "images")) for leaf in self.flow.values(text))

    def _helper_kind(self, call: cst.Call) -> Kind | None:
        """The kind of generation a module function (or `self.method`) does for its arguments, if it does."""
        function = self.flow.callee(call)
        if not isinstance(function, cst.FunctionDef):
            return None
        if function not in self.helpers:
            self.helpers[function] = self._generates_per_argument(function)
        return self.helpers[function]

    def _generates_per_argument(self, function: cst.FunctionDef) -> Kind | None:
        derived = None  # what the parameters reach, found once a call in the body generates
        for inner in find_all(function.body, cst.Call):
            kind = self.calls.kind(inner)
            if kind is None or enclosing_loop(self, inner) is not None:
                continue
            if any(_is_batch(a.value) for a in inner.args):
                continue
            if derived is None:
                derived = flow_forward(function.body, {p.name.value for p in function.params.params})
            if set().union(*(names_read(a.value) for a in inner.args)) & derived:
                return kind
        return None

    def _fix(self, call: cst.Call, kind: Kind, loop: Loop) -> Fix:
        scope = self.get_metadata(ScopeProvider, loop, None)
        builder = batching.Builder(self.module, lambda name: scope is None or name not in scope)
        statements = None
        replaced: cst.CSTNode = loop
        # Only text-generation pipelines return, for a list, exactly the per-item results in order;
        # text2text ones flatten single results, so those get advice.
        text_generation = kind == "pipeline" and self.calls.pipeline_task(call) == "text-generation"
        if isinstance(loop, cst.For) and kind == "generate":
            statements = batching.generate_loop(loop, call, builder)
        elif isinstance(loop, cst.For) and text_generation:
            statements = batching.pipeline_loop(loop, call, builder)
        elif isinstance(loop, cst.ListComp) and text_generation:
            statement = self._statement_of(loop)
            if statement is not None:
                replaced = statement
                statements = batching.pipeline_comprehension(loop, call, statement, builder)
        if not statements:
            return Fix(ADVICE[kind], Applicability.DISPLAY_ONLY, ())
        leading = getattr(replaced, "leading_lines", ())
        statements[0] = statements[0].with_changes(leading_lines=leading)
        title = "Generate in batches of `batch_size`" if kind == "generate" else "Pass the whole list with `batch_size=`"
        return Fix(title, Applicability.UNSAFE, ((replaced, cst.FlattenSentinel(statements)),))

    def _statement_of(self, node: cst.CSTNode) -> cst.SimpleStatementLine | None:
        parent = self.get_metadata(ParentProvider, node, None)
        while parent is not None and not isinstance(parent, cst.BaseStatement):
            parent = self.get_metadata(ParentProvider, parent, None)
        return parent if isinstance(parent, cst.SimpleStatementLine) else None


# Keywords that set how to generate, not what from: a loop that varies only these over one input
# (a sweep of lengths or temperatures) repeats the same input.
GENERATION_SETTINGS = frozenset(
    {
        "max_new_tokens", "max_length", "min_new_tokens", "min_length", "do_sample", "temperature", "top_k", "top_p",
        "typical_p", "num_beams", "num_return_sequences", "repetition_penalty", "no_repeat_ngram_size", "length_penalty",
        "early_stopping", "bad_words_ids", "eos_token_id", "pad_token_id", "generation_config", "stopping_criteria",
        "logits_processor", "use_cache", "output_scores", "return_dict_in_generate", "return_full_text", "penalty_alpha",
    }
)  # fmt: skip


def _inputs_of(call: cst.Call, keywords: tuple[str, ...]) -> list[cst.BaseExpression]:
    """What a tokenizer or processor call is given to encode: its first positional argument and these keywords."""
    texts = [a.value for a in call.args if a.keyword is None and not a.star][:1]
    return texts + [a.value for a in call.args if a.keyword is not None and a.keyword.value in keywords]


def _is_batch(expr: cst.BaseExpression) -> bool:
    """A list display or comprehension, or a slice: several items at once. Not a one-item list
    (`[prompt]`), nor a list of dicts: that is one chat conversation (`[{"role": "user", ...}]`)."""
    if isinstance(expr, cst.ListComp):
        return True
    if isinstance(expr, cst.List):
        if any(isinstance(e, cst.StarredElement) for e in expr.elements):
            return True
        return len(expr.elements) > 1 and not all(isinstance(e.value, cst.Dict) for e in expr.elements)
    return isinstance(expr, cst.Subscript) and any(isinstance(e.slice, cst.Slice) for e in expr.slice)
