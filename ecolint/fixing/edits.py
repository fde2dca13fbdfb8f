"""Layout-preserving edits of argument and dict-element lists, for building fixes.

Calls and dicts are edited the same way: a new item copies the spacing of its
neighbours (one line or one per line), and comments stay on the line they were on.
"""

from __future__ import annotations

from typing import TypeVar, Union
from collections.abc import Sequence

import libcst as cst

from ecolint.analysis.names import find_all

Item = Union[cst.Arg, cst.DictElement]
Owner = TypeVar("Owner", cst.Call, cst.Dict)

_NO_SPACE = cst.SimpleWhitespace("")


def has_comment(node: cst.CSTNode) -> bool:
    return bool(find_all(node, cst.Comment))


def _items(owner: cst.Call | cst.Dict) -> list[Item]:
    return list(owner.args) if isinstance(owner, cst.Call) else list(owner.elements)


def _with_items(owner: Owner, items: Sequence[Item]) -> Owner:
    if isinstance(owner, cst.Call):
        return owner.with_changes(args=tuple(items))
    return owner.with_changes(elements=tuple(items))


def _without_comments(ws: cst.BaseParenthesizableWhitespace) -> cst.BaseParenthesizableWhitespace:
    if isinstance(ws, cst.ParenthesizedWhitespace):
        return ws.with_changes(first_line=cst.TrailingWhitespace(), empty_lines=())
    return ws


def _item_spacing(owner: cst.Call | cst.Dict, items: Sequence[Item]) -> cst.BaseParenthesizableWhitespace:
    """The whitespace that leads from one item to the next in this call or dict."""
    for item in items[:-1]:
        if isinstance(item.comma, cst.Comma):
            return _without_comments(item.comma.whitespace_after)
    opening = owner.whitespace_before_args if isinstance(owner, cst.Call) else owner.lbrace.whitespace_after
    if isinstance(opening, cst.ParenthesizedWhitespace):
        return _without_comments(opening)
    return cst.SimpleWhitespace(" ")


def _to_next_item(ws: cst.BaseParenthesizableWhitespace, spacing: cst.BaseParenthesizableWhitespace) -> cst.BaseParenthesizableWhitespace:
    """`ws` (which may end a line with a comment) re-aimed at the next item's indentation."""
    if isinstance(ws, cst.ParenthesizedWhitespace) and isinstance(spacing, cst.ParenthesizedWhitespace):
        return ws.with_changes(indent=spacing.indent, last_line=spacing.last_line)
    if isinstance(ws, cst.SimpleWhitespace) and not ws.value:
        return spacing
    return ws


def insert_after(owner: Owner, anchor: Item, new: Item) -> Owner:
    """`owner` with `new` placed right after `anchor`, laid out like its neighbours."""
    items = _items(owner)
    index = next(i for i, item in enumerate(items) if item is anchor)
    spacing = _item_spacing(owner, items)
    comma = anchor.comma
    if isinstance(comma, cst.Comma):
        new = new.with_changes(comma=comma.with_changes(whitespace_after=_without_comments(comma.whitespace_after)))
        anchor = anchor.with_changes(comma=comma.with_changes(whitespace_after=_to_next_item(comma.whitespace_after, spacing)))
    elif isinstance(anchor, cst.Arg) and isinstance(anchor.whitespace_after_arg, cst.ParenthesizedWhitespace):
        trailing = anchor.whitespace_after_arg
        new = new.with_changes(whitespace_after_arg=_without_comments(trailing))
        anchor = anchor.with_changes(comma=cst.Comma(whitespace_after=_NO_SPACE), whitespace_after_arg=_to_next_item(trailing, spacing))
    else:
        if isinstance(anchor, cst.Arg):
            new = new.with_changes(whitespace_after_arg=anchor.whitespace_after_arg)
            anchor = anchor.with_changes(whitespace_after_arg=_NO_SPACE)
        anchor = anchor.with_changes(comma=cst.Comma(whitespace_after=spacing))
    items[index : index + 1] = [anchor, new]
    return _with_items(owner, items)


def _trailing(item: Item) -> dict[str, object]:
    fields: dict[str, object] = {"comma": item.comma}
    if isinstance(item, cst.Arg):
        fields["whitespace_after_arg"] = item.whitespace_after_arg
    return fields


def replace_and_remove(owner: Owner, anchor: Item, new: Item | None, remove: Sequence[Item]) -> tuple[Owner, bool]:
    """Put `new` where `anchor` is (None: drop it too) and drop `remove`.

    Also says whether a comment was lost, so the caller can downgrade the fix.
    """
    if new is None:
        remove = [anchor, *remove]
    items = _items(owner)
    removed = {id(item) for item in remove}
    kept: list[Item] = []
    for item in items:
        if item is anchor and new is not None:
            kept.append(new.with_changes(**_trailing(anchor)))
        elif id(item) not in removed:
            kept.append(item)
    comment_lost = any(has_comment(item) for item in remove)
    last = items[-1]
    if id(last) in removed and kept:
        replaced = [part for part in _trailing(kept[-1]).values() if isinstance(part, cst.CSTNode)]
        comment_lost = comment_lost or any(has_comment(part) for part in replaced)
        kept[-1] = kept[-1].with_changes(**_trailing(last))
    return _with_items(owner, kept), comment_lost


def keyword_like(anchor: Item, name: str, value: cst.BaseExpression) -> Item:
    """A new `name=value` argument, or `"name": value` entry, styled like `anchor`."""
    if isinstance(anchor, cst.Arg):
        equal = anchor.equal if isinstance(anchor.equal, cst.AssignEqual) else cst.AssignEqual(_NO_SPACE, _NO_SPACE)
        return cst.Arg(keyword=cst.Name(name), value=value, equal=equal)
    quote = '"'
    if isinstance(anchor.key, cst.SimpleString):
        quote = anchor.key.quote
    return cst.DictElement(
        key=cst.SimpleString(f"{quote}{name}{quote}"),
        value=value,
        whitespace_before_colon=anchor.whitespace_before_colon,
        whitespace_after_colon=anchor.whitespace_after_colon,
    )
