"""The model id a load call names, resolved statically, or None when it cannot be known.

Values come from `ecolint.analysis.flow` (literals, constants, parameters with their
defaults and every call site, factories, `self` attributes); a leaf it cannot follow
further is read as `args.<dest>` of an argparse parser built anywhere in the file (also
in a helper function) whose `add_argument(..., default=...)` is a literal, or as a
dataclass field's default read back as `<object>.<field>`. A path put together from parts
that are each known is known too: `"models/" + NAME`, f-strings, `os.path.join(...)`,
`Path(...) / ...` and `str(...)` of those.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import libcst as cst

from ecolint.analysis.names import UNKNOWN, find_all, imported_names, literal

if TYPE_CHECKING:
    from ecolint.analysis.flow import Flow

_PARSE_METHODS = frozenset({"parse_args", "parse_known_args", "parse_args_into_dataclasses"})
_JOINS = frozenset({"os.path.join", "posixpath.join", "pathlib.Path", "pathlib.PurePath", "pathlib.PosixPath"})
# The words of the module-wide reads below (argparse defaults, dataclass fields), for `Rule.context_words`.
CONTEXT_WORDS = ("add_argument", "dataclass")


def _dest(call: cst.Call) -> str | None:
    """The attribute name argparse stores an `add_argument(...)` under."""
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == "dest":
            value = literal(arg.value)
            return value if isinstance(value, str) else None
    flags = [literal(arg.value) for arg in call.args if arg.keyword is None]
    if not flags or not all(isinstance(f, str) for f in flags):
        return None
    long = next((f for f in flags if f.startswith("--")), None)
    name = long[2:] if long else flags[0].lstrip("-")
    return name.replace("-", "_") or None


def _keyword(call: cst.Call, name: str) -> cst.BaseExpression | None:
    return next((a.value for a in call.args if a.keyword is not None and a.keyword.value == name), None)


class ModelIds:
    """Resolves model ids within one module; the module-wide tables are built on first use."""

    def __init__(self, flow: Flow) -> None:
        self.meta = flow
        self.flow = flow
        self.module = flow.module
        self._argparse: dict[str, str | None] | None = None
        self._fields: dict[str, str | None] | None = None
        self._composing: set[int] = set()  # the expressions being put together now (a loop's `x = x + "/"`)

    def _defaults(self, found: dict[str, str | None], name: str, default: cst.BaseExpression | None) -> None:
        value = literal(default) if default is not None else UNKNOWN
        text = value if isinstance(value, str) else None
        # A name defined twice with different defaults is ambiguous: None.
        found[name] = text if found.get(name, text) == text else None

    def argparse_defaults(self) -> dict[str, str | None]:
        if self._argparse is None:
            self._argparse = {}
            for call in find_all(self.module, cst.Call):
                if not (isinstance(call.func, cst.Attribute) and call.func.attr.value == "add_argument"):
                    continue
                dest = _dest(call)
                if dest:
                    self._defaults(self._argparse, dest, _keyword(call, "default"))
        return self._argparse

    def dataclass_defaults(self) -> dict[str, str | None]:
        if self._fields is None:
            self._fields = {}
            for klass in find_all(self.module, cst.ClassDef):
                if not any(self._is_dataclass_decorator(d.decorator) for d in klass.decorators):
                    continue
                for statement in klass.body.body:
                    for item in getattr(statement, "body", ()):
                        if isinstance(item, cst.AnnAssign) and isinstance(item.target, cst.Name) and item.value is not None:
                            default = item.value
                            if isinstance(default, cst.Call) and _keyword(default, "default") is not None:
                                default = _keyword(default, "default")
                            self._defaults(self._fields, item.target.value, default)
        return self._fields

    def _is_dataclass_decorator(self, decorator: cst.BaseExpression) -> bool:
        target = decorator.func if isinstance(decorator, cst.Call) else decorator
        return bool(imported_names(self.meta, target) & {"dataclasses.dataclass", "pydantic.dataclasses.dataclass"})

    def _from_attribute(self, expr: cst.Attribute) -> str | None:
        if not isinstance(expr.value, cst.Name):
            return None
        attr = expr.attr.value
        receivers = self.flow.values(expr.value)
        receiver = receivers[0] if len(receivers) == 1 else None
        parsed = isinstance(receiver, cst.Call) and (
            (isinstance(receiver.func, cst.Attribute) and receiver.func.attr.value in _PARSE_METHODS) or isinstance(receiver.func, cst.Name)
        )
        if (parsed or receiver is expr.value or isinstance(receiver, cst.Name)) and attr in self.argparse_defaults():
            return self.argparse_defaults()[attr]
        if attr in self.dataclass_defaults() and not imported_names(self.meta, expr.value):
            return self.dataclass_defaults()[attr]
        return None

    def candidates(self, expr: cst.BaseExpression) -> list[str | None]:
        """Each string the expression may hold when the script runs with its defaults (None: unknown)."""
        found: list[str | None] = []
        for leaf in self.flow.values(expr):
            text = literal(leaf)
            if isinstance(text, str):
                found.append(text)
            elif isinstance(leaf, cst.Attribute):
                found.append(self._from_attribute(leaf))
            else:
                found.append(self._composed(leaf))
        return list(dict.fromkeys(found))

    def _composed(self, expr: cst.BaseExpression) -> str | None:
        """The one string an expression puts together from known parts, or None."""
        if id(expr) in self._composing:
            return None
        self._composing.add(id(expr))
        try:
            parts = self._parts(expr)
            if parts is None:
                return None
            texts = [part if isinstance(part, str) else self.resolve(part) for part in parts]
            if not all(isinstance(text, str) for text in texts):
                return None
            return ("/" if self._is_join(expr) else "").join(texts)  # type: ignore[arg-type]
        finally:
            self._composing.discard(id(expr))

    def _parts(self, expr: cst.BaseExpression) -> list[cst.BaseExpression | str] | None:
        if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, (cst.Add, cst.Divide)):
            if isinstance(expr.operator, cst.Divide) and not self._is_path(expr.left):
                return None
            return [expr.left, expr.right]
        if isinstance(expr, cst.FormattedString):
            parts: list[cst.BaseExpression | str] = []
            for part in expr.parts:
                if isinstance(part, cst.FormattedStringText):
                    parts.append(part.value)
                elif part.conversion is None and part.format_spec is None:
                    parts.append(part.expression)
                else:
                    return None
            return parts
        if isinstance(expr, cst.Call) and all(a.keyword is None and not a.star for a in expr.args) and expr.args:
            names = imported_names(self.meta, expr.func)
            if names & _JOINS or (len(expr.args) == 1 and isinstance(expr.func, cst.Name) and expr.func.value == "str"):
                return [a.value for a in expr.args]
        return None

    def _is_join(self, expr: cst.BaseExpression) -> bool:
        divides = isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.Divide)
        return divides or (isinstance(expr, cst.Call) and bool(imported_names(self.meta, expr.func) & _JOINS))

    def _is_path(self, expr: cst.BaseExpression) -> bool:
        """Whether `expr` is a `pathlib` path put together in place (`Path("models")`, `Path(a) / b`)."""
        if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.Divide):
            return self._is_path(expr.left)
        return isinstance(expr, cst.Call) and bool(imported_names(self.meta, expr.func) & (_JOINS - {"os.path.join", "posixpath.join"}))

    def known(self, expr: cst.BaseExpression) -> list[str]:
        """The model ids the expression may name that are known statically."""
        return [text for text in self.candidates(expr) if text]

    def resolve(self, expr: cst.BaseExpression) -> str | None:
        """The one model id the expression names, where the known values agree."""
        known = self.known(expr)
        return known[0] if len(known) == 1 else None


def model_argument(meta: Any, call: cst.Call) -> cst.BaseExpression | None:
    """The expression naming the model in `from_pretrained(...)` or `pipeline(...)`."""
    from ecolint.analysis import apis

    names = imported_names(meta, call.func)
    keyword = "model" if names & apis.PIPELINE else "pretrained_model_name_or_path"
    position = 1 if names & apis.PIPELINE else 0
    explicit = _keyword(call, keyword)
    if explicit is not None:
        return explicit
    positional = [a.value for a in call.args if a.keyword is None and not a.star]
    return positional[position] if len(positional) > position else None
