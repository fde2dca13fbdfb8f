"""Which rules could flag a text, decided soundly and without LibCST, before any parse.

Each stage runs only on what passed the one before, for the rules still in play:
1. the raw text holds the rule's words (`triggers`, `requires`) as substrings, and an
   `import`/`from` statement of one of its packages (`imports`) may name a package;
2. the code view (strings and comments blanked, so docstrings and comments pass
   nothing; identifier-like strings kept for the rules whose words may be dict keys)
   holds the same words as whole words (`.word` as an attribute, `word(` called), and the import;
3. the rule's gate (`ecolint.prefilter.gates`) accepts the standard library's `ast` of the text
   (a gate in `gates.TEXT_CHECKS` may refuse on the code view first, and spare the parse).
A stage may pass a text its rule will not flag; it never rejects one the rule would flag:
tests compare findings with and without the prefilter on the fixtures and a real tree.
"""

from __future__ import annotations

import ast
import difflib
import re
from collections.abc import Callable, Iterable, Sequence

from ecolint.prefilter import gates
from ecolint.catalogue import RuleSpec


def _string_pattern() -> re.Pattern[str]:
    """Comments, and string literals by their quote; f- and t-strings told apart by look-behind.

    Each alternative starts at `#` or a quote, so the scan skips other text at C speed.
    A plain string whose content is an identifier (a dict key, `"load_in_8bit"`) keeps its
    content; f-strings keep theirs (their replacement fields are code), with one level of
    `{...}` that may hold the other quotes (Python 3.12's nested quotes).
    """
    alternatives = [r"\#[^\r\n]*+"]
    for index, quote in enumerate(('"""', "'''", '"', "'")):
        q = quote[0]
        line_end = "" if len(quote) == 3 else r"\r\n"
        # An unclosed string on one line is kept as code (it can only be a misreading).
        closing = rf"{quote}|\Z" if len(quote) == 3 else q
        more_quotes = rf"|{q}(?!{q}{q})" if len(quote) == 3 else ""
        plain = rf"(?:[^{q}\\{line_end}]++|\\[\s\S]{more_quotes})*+(?:{closing})"
        formatted = rf"(?:[^{q}\\{{{line_end}]++|\\[\s\S]|\{{\{{|\{{[^{{}}]*\}}|\{{{more_quotes})*+(?:{closing})"
        alternatives.append(
            rf"{quote}(?:(?:(?<=[fFtT]{quote})|(?<=[fFtT][rR]{quote})|(?<=[rR][fFtT]{quote}))(?P<f{index}>{formatted})"
            rf"|(?P<k{index}>\w*){quote}|{plain})"
        )
    return re.compile("|".join(alternatives))


_STRINGS_AND_COMMENTS = _string_pattern()


def _kept(match: re.Match[str]) -> str:
    """An f-string's or identifier-like string's content (the one named group that matched), else a blank."""
    group = match.lastgroup
    return match.group(group) + " " if group else " "


def _kept_code(match: re.Match[str]) -> str:
    """An f-string's content, else a blank."""
    group = match.lastgroup
    return match.group(group) + " " if group and group[0] == "f" else " "


def code_view(text: str, identifier_strings: bool = True) -> str:
    """`text` with comments and string literals blanked, except f-strings and (unless told
    otherwise) identifier-like strings. (A function per match: a template is expanded in Python, slower.)"""
    return _STRINGS_AND_COMMENTS.sub(_kept if identifier_strings else _kept_code, text)


def bare(word: str) -> str:
    """A trigger's identifier: `.generate(` → `generate`."""
    return word.strip(".(")


def _has_word(text: str, word: str) -> bool:
    """`word` in `text` with no identifier character either side (`str.find`: a regex look-around
    scans slowly); `.word`: as an attribute name, after a dot and any blanks or line joins;
    `word(`: called (then `(`, past blanks and closing brackets) or renamed by an import (`as`)."""
    attribute, called = word.startswith("."), word.endswith("(")
    word = bare(word)
    start = text.find(word)
    while start >= 0:
        end = start + len(word)
        before = text[start - 1] if start else " "
        after = text[end] if end < len(text) else " "
        if not (before.isalnum() or before == "_" or after.isalnum() or after == "_"):
            if (not attribute or _after_dot(text, start)) and (not called or _called_or_renamed(text, end)):
                return True
        start = text.find(word, start + 1)
    return False


def _after_dot(text: str, start: int) -> bool:
    index = start - 1
    while index >= 0 and text[index] in " \t\r\n\\\f":
        index -= 1
    return index >= 0 and text[index] == "."


def _called_or_renamed(text: str, end: int) -> bool:
    """Whether the name ending at `end` is called, `(name)(...)` included, or imported `as` another name."""
    index = end
    while index < len(text) and text[index] in " \t\r\n\\\f)":
        index += 1
    if text.startswith("(", index):
        return True
    after = text[index + 2 : index + 3]
    return index > end and text.startswith("as", index) and not (after.isalnum() or after == "_")


# Before a package's name on its line: `import`/`from` opening the line's statement, whether the
# line starts it or a `;` / `:` does (`try: import x`). Docstring examples (`>>> from x`) do not match.
_IMPORT_BEFORE = re.compile(r"(?:.*[;:])?[ \t]*(?:from|import)\b[^;:]*$")


def imports_any(text: str, packages: Sequence[str]) -> bool:
    """Whether an import statement may name one of `packages` (sound: none is missed).

    An occurrence counts when `_IMPORT_BEFORE` matches the text before it on its line, or
    the line before ends with a backslash (the statement may have started there).
    """
    for package in packages:
        start = text.find(package)
        while start >= 0:
            newline = text.rfind("\n", 0, start)
            line_start = max(newline, text.rfind("\r", newline + 1, start)) + 1  # not past the newline: no rescan
            keyword = text.find("import", line_start, start) >= 0 or text.find("from", line_start, start) >= 0
            if (keyword and _IMPORT_BEFORE.match(text, line_start, start)) or _continues(text, line_start):
                return True
            start = text.find(package, start + len(package))
    return False


def _continues(text: str, line_start: int) -> bool:
    """Whether the text before `line_start`, past its line endings, ends with a backslash (a statement may go on)."""
    end = line_start
    while end > 0 and text[end - 1] in "\r\n":
        end -= 1
    return end > 0 and text[end - 1] == "\\"


class Prefilter:
    """Narrows a fixed set of rules to those that could flag a given text."""

    def __init__(self, specs: Sequence[RuleSpec]) -> None:
        self.specs = tuple(specs)
        self.words = _Words(w for s in self.specs for w in (*s.triggers, *s.requires))
        self._needs = [(s, frozenset(map(bare, s.triggers)), frozenset(map(bare, s.requires))) for s in self.specs]

    def candidates(self, text: str) -> tuple[tuple[RuleSpec, ...], gates.ModuleFacts | None]:
        """The rules that pass all three stages for `text`, and the facts of its `ast` if stage 3 parsed it.

        A text `ast` cannot parse passes stage 3: LibCST will report the error.
        """
        present = self.words.present(text)
        imported: dict[tuple[str, ...], bool] = {}
        specs = tuple(
            spec
            for spec, triggers, requires in self._needs
            if not triggers.isdisjoint(present) and requires <= present and _imports(spec, text, imported)
        )
        if not specs:
            return (), None
        views = {flag: code_view(text, flag) for flag in {s.identifier_strings for s in specs}}
        specs = tuple(
            s
            for s in specs
            if _holds(s, views[s.identifier_strings], _has_word)
            and (s.gate not in gates.TEXT_CHECKS or gates.TEXT_CHECKS[s.gate](views[s.identifier_strings]))
        )
        if not any(s.gate for s in specs):
            return specs, None
        tree = parse_or_none(text)
        if tree is None:
            return specs, None
        facts = gates.ModuleFacts(tree)
        return tuple(s for s in specs if s.gate is None or getattr(gates, s.gate)(facts, s.triggers)), facts


def parse_or_none(text: str) -> ast.Module | None:
    """The standard library's tree of `text`, or None where it cannot parse it."""
    try:
        return ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _imports(spec: RuleSpec, text: str, known: dict[tuple[str, ...], bool]) -> bool:
    """Whether an import of one of the rule's packages may be in `text` (answers kept in `known`)."""
    if not spec.imports:
        return True
    if spec.imports not in known:
        known[spec.imports] = imports_any(text, spec.imports)
    return known[spec.imports]


def _holds(spec: RuleSpec, text: str, has: Callable[[str, str], bool]) -> bool:
    """One of the rule's triggers, all its required words and an import of its packages, as `has` finds words."""
    return (
        any(has(text, t) for t in spec.triggers)
        and all(has(text, r) for r in spec.requires)
        and (not spec.imports or imports_any(text, spec.imports))
    )


class _Words:
    """Stage 1's test over a fixed vocabulary: which of its words a text holds as substrings.

    A word is scanned for only when each shorter piece of it was found: the pieces are the other
    words inside it and the substrings it shares with another word (`load_in_` of `load_in_8bit`
    and `load_in_4bit`). One scan of an absent piece answers for every word that holds it, and
    most words are absent from most files."""

    MIN_PIECE = 5  # shorter shared substrings are in most texts: scanning for them would not pay

    def __init__(self, words: Iterable[str]) -> None:
        vocabulary = {bare(w) for w in words}
        shared = {_longest_common_substring(a, b) for a in vocabulary for b in vocabulary if a < b}
        vocabulary |= {piece for piece in shared if len(piece) >= self.MIN_PIECE}
        # Shortest first: a word's pieces are settled before it.
        self.order = tuple(sorted(vocabulary, key=lambda w: (len(w), w)))
        self.pieces = {w: frozenset(p for p in vocabulary if p != w and p in w) for w in vocabulary}

    def present(self, text: str) -> set[str]:
        found: set[str] = set()
        for word in self.order:
            if self.pieces[word] <= found and word in text:
                found.add(word)
        return found


def _longest_common_substring(a: str, b: str) -> str:
    match = difflib.SequenceMatcher(None, a, b, autojunk=False).find_longest_match(0, len(a), 0, len(b))
    return a[match.a : match.a + match.size]
