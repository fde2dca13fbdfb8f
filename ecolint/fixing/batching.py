"""Batched rewrites of per-item generation, for the shapes whose outputs are known to match.

- A for loop that tokenizes one prompt, generates, decodes (with
  `skip_special_tokens=True`) and appends becomes: the tokenizer called on a
  chunk of prompts with `padding=True`, left padding and a pad token set,
  `generate` once per chunk, `batch_decode`, `extend` in the original order.
- A for loop whose first statement is `out = pipe(item, ...)` iterates
  `pipe(items, ..., batch_size=...)` instead; `[pipe(item, ...) for item in items]`
  becomes `pipe(items, ..., batch_size=...)`.
Other shapes get no rewrite (the rule then gives advice only).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import libcst as cst

from ecolint.analysis.loops import names_read, target_names
from ecolint.analysis.names import code, literal, single_statement

BATCH_SIZE = 8


def _bare(arg: cst.Arg) -> str:
    return code(arg.with_changes(comma=cst.MaybeSentinel.DEFAULT, whitespace_after_arg=cst.SimpleWhitespace("")))


def _assignment(statement: cst.BaseStatement) -> tuple[str, cst.BaseExpression] | None:
    small = single_statement(statement)
    if isinstance(small, cst.Assign) and len(small.targets) == 1 and isinstance(small.targets[0].target, cst.Name):
        return small.targets[0].target.value, small.value
    return None


def _method_call(node: cst.BaseExpression | None, method: str) -> cst.Call | None:
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value == method:
        return node
    return None


def _is_zero(node: cst.BaseSlice) -> bool:
    return isinstance(node, cst.Index) and literal(node.value) == 0


@dataclass(frozen=True)
class Names:
    """Fresh names for the rewrite, checked against the enclosing scope."""

    batch_size: str
    start: str
    batch: str
    items: str


class Builder:
    """Builds statements from code text with the module's own indentation and newlines."""

    def __init__(self, module: cst.Module, is_free: Callable[[str], bool]) -> None:
        self.module = module
        self.indent = module.default_indent
        self.newline = module.default_newline
        self.is_free = is_free

    def fresh(self, wanted: str) -> str:
        name = wanted
        while not self.is_free(name):
            name += "_"
        return name

    def names(self) -> Names:
        return Names(self.fresh("batch_size"), self.fresh("start"), self.fresh("batch"), self.fresh("items"))

    def statements(self, lines: Sequence[str]) -> list[cst.BaseStatement]:
        text = self.newline.join(line.replace("\n", self.newline) for line in lines) + self.newline
        return list(cst.parse_module(text, config=self.module.config_for_parsing).body)

    def block(self, header: str, body: Sequence[str]) -> str:
        return header + "\n" + "\n".join(self.indent + line for line in body)


def _selection(selected: cst.BaseExpression, outputs: str, inputs: str) -> str | None:
    """`out[0]` → `out`; `out[0][n:]` or `out[0, n:]` → `out[:, n:]`, where n reads only `inputs`."""
    if not isinstance(selected, cst.Subscript):
        return None
    elements = [e.slice for e in selected.slice]
    if isinstance(selected.value, cst.Name) and selected.value.value == outputs:
        if len(elements) == 1 and _is_zero(elements[0]):
            return outputs
        if len(elements) == 2 and _is_zero(elements[0]) and isinstance(elements[1], cst.Slice):
            tail = elements[1]
        else:
            return None
    elif isinstance(selected.value, cst.Subscript) and _selection(selected.value, outputs, inputs) == outputs and len(elements) == 1:
        tail = elements[0]
        if not isinstance(tail, cst.Slice):
            return None
    else:
        return None
    if tail.upper is not None or tail.step is not None or tail.lower is None:
        return None
    if not names_read(tail.lower) <= {inputs, "len"}:
        return None
    return f"{outputs}[:, {code(tail.lower)}:]"


def generate_loop(loop: cst.For, generate: cst.Call, builder: Builder) -> list[cst.BaseStatement] | None:
    """The canonical tokenize → generate → decode → append loop, batched."""
    if loop.orelse is not None or not isinstance(loop.target, cst.Name) or not isinstance(loop.body, cst.IndentedBlock):
        return None
    target = loop.target.value
    body = list(loop.body.body)
    if len(body) not in (3, 4):
        return None
    tokenized, generated = _assignment(body[0]), _assignment(body[1])
    if tokenized is None or generated is None or generated[1] is not generate:
        return None
    inputs, tokenizer_value = tokenized
    outputs = generated[0]
    device = _method_call(tokenizer_value, "to")
    tokenizer_call = device.func.value if device is not None else tokenizer_value  # type: ignore[union-attr]
    if not isinstance(tokenizer_call, cst.Call) or not isinstance(tokenizer_call.func, (cst.Name, cst.Attribute)):
        return None
    positional = [a for a in tokenizer_call.args if a.keyword is None]
    keywords = {a.keyword.value for a in tokenizer_call.args if a.keyword is not None}
    if len(positional) != 1 or positional[0].star or "return_tensors" not in keywords or "padding" in keywords:
        return None
    item = positional[0].value
    if target not in names_read(item) or names_read(item) & {inputs, outputs}:
        return None
    if not any(a.star == "**" and isinstance(a.value, cst.Name) and a.value.value == inputs for a in generate.args):
        return None
    tokenizer = code(tokenizer_call.func)

    if len(body) == 4:
        decoded = _assignment(body[2])
        append = _method_call(getattr(single_statement(body[3]), "value", None), "append")
        if decoded is None or append is None or len(append.args) != 1 or not isinstance(append.args[0].value, cst.Name):
            return None
        if append.args[0].value.value != decoded[0]:
            return None
        decode = _method_call(decoded[1], "decode")
    else:
        append = _method_call(getattr(single_statement(body[2]), "value", None), "append")
        decode = _method_call(append.args[0].value, "decode") if append is not None and len(append.args) == 1 else None
    if append is None or decode is None or not isinstance(append.func, cst.Attribute) or not isinstance(append.func.value, cst.Name):
        return None
    if code(decode.func.value) != tokenizer or not decode.args or decode.args[0].keyword is not None:  # type: ignore[attr-defined]
        return None
    skip = next((a for a in decode.args if a.keyword is not None and a.keyword.value == "skip_special_tokens"), None)
    if skip is None or literal(skip.value) is not True:
        return None  # without it the pad tokens of shorter prompts would show in the text
    selection = _selection(decode.args[0].value, outputs, inputs)
    if selection is None:
        return None
    results = append.func.value.value

    names = builder.names()
    sequence = code(loop.iter) if isinstance(loop.iter, cst.Name) else names.items
    chunk = f"{sequence}[{names.start} : {names.start} + {names.batch_size}]"
    batch = chunk if isinstance(item, cst.Name) else f"[{code(item)} for {target} in {chunk}]"
    new_tokenizer_call = tokenizer_call.with_changes(
        args=[cst.Arg(cst.Name(names.batch)), *(a for a in tokenizer_call.args if a.keyword is not None)]
    )
    tokenizer_args = ", ".join(_bare(a) for a in new_tokenizer_call.args)
    tokenize = f"{tokenizer}({tokenizer_args}, padding=True)"
    if device is not None:
        tokenize += f".to({', '.join(_bare(a) for a in device.args)})"
    decode_args = ", ".join(_bare(a) for a in decode.args[1:])
    lines = [
        f"{names.batch_size} = {BATCH_SIZE}",
        f'{tokenizer}.padding_side = "left"',
        builder.block(f"if {tokenizer}.pad_token is None:", [f"{tokenizer}.pad_token = {tokenizer}.eos_token"]),
    ]
    if sequence == names.items:
        lines.append(f"{names.items} = list({code(loop.iter)})")
    lines.append(
        builder.block(
            f"for {names.start} in range(0, len({sequence}), {names.batch_size}):",
            [
                f"{names.batch} = {batch}",
                f"{inputs} = {tokenize}",
                f"{outputs} = {code(generate)}",
                f"{results}.extend({tokenizer}.batch_decode({selection}, {decode_args}))",
            ],
        )
    )
    return builder.statements(lines)


def _pipeline_parts(call: cst.Call, targets: set[str]) -> tuple[cst.BaseExpression, list[cst.Arg]] | None:
    positional = [a for a in call.args if a.keyword is None and not a.star]
    if len(positional) != 1 or any(a.star == "*" for a in call.args):
        return None
    if any(a.keyword is not None and a.keyword.value == "batch_size" for a in call.args):
        return None
    item = positional[0].value
    if not names_read(item) & targets:
        return None
    return item, [a for a in call.args if a is not positional[0]]


def _items(item: cst.BaseExpression, targets: set[str], target: cst.BaseExpression, iterable: cst.BaseExpression) -> str:
    """The list of inputs: the iterable itself, or a comprehension building each input."""
    if isinstance(item, cst.Name) and item.value in targets:
        return code(iterable)
    return f"[{code(item)} for {code(target)} in {code(iterable)}]"


def _pipeline_setup(pipe: str, names: Names, builder: Builder) -> list[str]:
    tokenizer = f"{pipe}.tokenizer"
    return [
        f"{names.batch_size} = {BATCH_SIZE}",
        builder.block(f"if {tokenizer}.pad_token is None:", [f"{tokenizer}.pad_token = {tokenizer}.eos_token"]),
        f'{tokenizer}.padding_side = "left"',
    ]


def _batched_pipeline_call(pipe: str, items: str, rest: list[cst.Arg], names: Names) -> str:
    extra = "".join(f", {_bare(a)}" for a in rest)
    return f"{pipe}({items}{extra}, batch_size={names.batch_size})"


def pipeline_loop(loop: cst.For, call: cst.Call, builder: Builder) -> list[cst.BaseStatement] | None:
    """`for x in xs: out = pipe(x, ...); rest` → `for out in pipe(xs, ..., batch_size=n): rest`."""
    if loop.orelse is not None or not isinstance(loop.body, cst.IndentedBlock) or len(loop.body.body) < 2:
        return None
    first = _assignment(loop.body.body[0])
    targets = target_names(loop.target)
    parts = _pipeline_parts(call, targets)
    if first is None or first[1] is not call or parts is None:
        return None
    item, rest_args = parts
    rest = loop.body.body[1:]
    if any(names_read(statement) & targets for statement in rest):
        return None
    names = builder.names()
    items = _items(item, targets, loop.target, loop.iter)
    batched = _batched_pipeline_call(code(call.func), items, rest_args, names)
    setup = builder.statements(_pipeline_setup(code(call.func), names, builder))
    new_loop = loop.with_changes(
        target=cst.Name(first[0]), iter=cst.parse_expression(batched), body=loop.body.with_changes(body=tuple(rest)), leading_lines=()
    )
    return [*setup, new_loop]


def pipeline_comprehension(
    comprehension: cst.ListComp, call: cst.Call, statement: cst.SimpleStatementLine, builder: Builder
) -> list[cst.BaseStatement] | None:
    """`[pipe(x, ...) for x in xs]` → `pipe(xs, ..., batch_size=n)` (set up before the statement)."""
    comp = comprehension.for_in
    if comprehension.elt is not call or comp.ifs or comp.inner_for_in is not None or comp.asynchronous is not None:
        return None
    targets = target_names(comp.target)
    parts = _pipeline_parts(call, targets)
    if parts is None:
        return None
    item, rest_args = parts
    names = builder.names()
    items = _items(item, targets, comp.target, comp.iter)
    batched = cst.parse_expression(_batched_pipeline_call(code(call.func), items, rest_args, names))
    setup = builder.statements(_pipeline_setup(code(call.func), names, builder))
    return [*setup, statement.deep_replace(comprehension, batched).with_changes(leading_lines=())]  # type: ignore[list-item]
