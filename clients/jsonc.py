"""JSONC — JSON with `//` and `/* */` comments and trailing commas — read, and edited in place.

VS Code and Zed settings are JSONC. Re-serialising them would drop the user's comments and
layout, so `set_member` and `remove_member` edit the text itself: each touches only the bytes of
the member it sets or removes, then parses the result back and checks that exactly the intended
change was made.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from habitus.base.errors import JSONCEditError

__all__ = ["loads", "set_member", "remove_member"]

_BLANK = " \t"
_WHITESPACE = " \t\r\n"
_NO_DEFAULT: Any = object()


def _reject_constant(name: str) -> Any:
    """Refuse `NaN` and `Infinity`, which Python's json accepts but JSON(C) does not."""
    raise ValueError(f"{name} is not valid JSON")


_SCALARS = json.JSONDecoder(strict=False, parse_constant=_reject_constant)


@dataclass(frozen=True, slots=True)
class _Member:
    """One `"key": value` pair of an object, with the offsets an edit needs."""

    key: str
    key_start: int
    value: _Node
    comma: int | None
    """Offset of the comma that follows the value, if any."""


@dataclass(frozen=True, slots=True)
class _Node:
    """A parsed value and its span `[start, end)` in the text; objects keep their members."""

    start: int
    end: int
    value: Any
    members: tuple[_Member, ...] = ()


class _Parser:
    """Recursive-descent JSONC parser that records where every value sits in the text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def error(self, message: str, pos: int) -> json.JSONDecodeError:
        """An error that carries the line and column of `pos`, like `json.loads` raises."""
        return json.JSONDecodeError(message, self.text, pos)

    def peek(self) -> str:
        """The next character, or "" at the end of the text."""
        return self.text[self.pos : self.pos + 1]

    def skip(self) -> None:
        """Move past whitespace and comments."""
        text, end, i = self.text, len(self.text), self.pos
        while i < end:
            if text[i] in _WHITESPACE:
                i += 1
            elif text.startswith("//", i):
                newline = text.find("\n", i)
                i = end if newline < 0 else newline + 1
            elif text.startswith("/*", i):
                close = text.find("*/", i + 2)
                if close < 0:
                    raise self.error("Unterminated comment", i)
                i = close + 2
            else:
                break
        self.pos = i

    def document(self) -> _Node | None:
        """Parse the whole text; None when it holds no value (only blanks and comments)."""
        self.skip()
        if self.pos == len(self.text):
            return None
        node = self.value()
        self.skip()
        if self.pos != len(self.text):
            raise self.error("Extra data", self.pos)
        return node

    def value(self) -> _Node:
        """Parse the value at the current position (after `skip`)."""
        start = self.pos
        char = self.peek()
        if char == "{":
            return self.object()
        if char == "[":
            return self.array()
        if not char:
            raise self.error("Expecting value", start)
        try:
            value, end = _SCALARS.raw_decode(self.text, start)
        except json.JSONDecodeError as exc:
            raise self.error(exc.msg, exc.pos) from None
        except ValueError as exc:
            raise self.error(str(exc), start) from None
        self.pos = end
        return _Node(start, end, value)

    def object(self) -> _Node:
        """Parse `{...}`; a repeated key keeps its last value, as `json.loads` does."""
        start = self.pos
        self.pos += 1
        members: list[_Member] = []
        result: dict[str, Any] = {}
        self.skip()
        while self.peek() != "}":
            if self.peek() != '"':
                raise self.error("Expecting property name enclosed in double quotes", self.pos)
            key = self.value()
            self.skip()
            if self.peek() != ":":
                raise self.error("Expecting ':' delimiter", self.pos)
            self.pos += 1
            self.skip()
            value = self.value()
            self.skip()
            comma = None
            if self.peek() == ",":
                comma = self.pos
                self.pos += 1
                self.skip()
            elif self.peek() != "}":
                raise self.error("Expecting ',' delimiter", self.pos)
            members.append(_Member(key.value, key.start, value, comma))
            result[key.value] = value.value
        self.pos += 1
        return _Node(start, self.pos, result, tuple(members))

    def array(self) -> _Node:
        """Parse `[...]`."""
        start = self.pos
        self.pos += 1
        items: list[Any] = []
        self.skip()
        while self.peek() != "]":
            items.append(self.value().value)
            self.skip()
            if self.peek() == ",":
                self.pos += 1
                self.skip()
            elif self.peek() != "]":
                raise self.error("Expecting ',' delimiter", self.pos)
        self.pos += 1
        return _Node(start, self.pos, items)


def loads(text: str, *, default: Any = _NO_DEFAULT) -> Any:
    """Parse JSONC text; raises `json.JSONDecodeError` (with line and column) when malformed.

    A text without a value (empty, or only comments) returns `default` when one is given.
    """
    node = _Parser(text).document()
    if node is None:
        if default is _NO_DEFAULT:
            raise json.JSONDecodeError("Expecting value", text, len(text))
        return default
    return node.value


@dataclass(frozen=True, slots=True)
class _Style:
    """The layout conventions of the file being edited, so inserted text blends in."""

    indent: str
    """One level of indentation."""
    eol: str
    multiline: bool
    """Whether the root object puts its members on their own lines."""

    @classmethod
    def of(cls, text: str, root: _Node) -> _Style:
        """Infer the style from the root object's first member (two spaces and LF by default)."""
        eol = "\r\n" if "\r\n" in text else "\n"
        if not root.members:
            return cls("  ", eol, True)
        first = root.members[0].key_start
        if "\n" not in text[root.start : first]:
            return cls("  ", eol, False)
        outer, inner = _line_indent(text, root.start), _line_indent(text, first)
        unit = inner[len(outer) :] if inner.startswith(outer) else inner
        return cls(unit or "  ", eol, True)

    def dump(self, value: Any, indent: str | None) -> str:
        """Serialise `value`: on one line when `indent` is None, else nested below `indent`."""
        if indent is None:
            return json.dumps(value, ensure_ascii=False)
        text = json.dumps(value, ensure_ascii=False, indent=self.indent)
        return text.replace("\n", self.eol + indent)


def _line_indent(text: str, pos: int) -> str:
    """The blanks that start the line containing `pos`."""
    start = text.rfind("\n", 0, pos) + 1
    end = start
    while end < len(text) and text[end] in _BLANK:
        end += 1
    return text[start:end]


def _is_multiline(text: str, obj: _Node, style: _Style) -> bool:
    """Whether `obj` puts members on their own lines; empty objects follow the file."""
    if not obj.members:
        return style.multiline
    return "\n" in text[obj.start : obj.members[0].key_start]


def _member_indent(text: str, obj: _Node, style: _Style) -> str:
    """Indentation of the members of a multi-line object."""
    if obj.members:
        return _line_indent(text, obj.members[0].key_start)
    return _line_indent(text, obj.start) + style.indent


def _end_of_line(text: str, pos: int) -> int:
    """Past blanks and same-line comments after `pos`: where a new line may be inserted."""
    i = pos
    while True:
        while i < len(text) and text[i] in _BLANK:
            i += 1
        if text.startswith("//", i):
            newline = text.find("\n", i)
            if newline < 0:
                return len(text)
            return newline - 1 if text[newline - 1] == "\r" else newline
        if text.startswith("/*", i):
            close = text.find("*/", i) + 2
            if "\n" in text[i:close]:
                return i
            i = close
            continue
        return i


def _insert_member(text: str, obj: _Node, key: str, value: Any, style: _Style) -> str:
    """Add `"key": value` as the last member of `obj`."""
    opening, closing = obj.start, obj.end - 1
    if not _is_multiline(text, obj, style):
        member = f"{json.dumps(key, ensure_ascii=False)}: {style.dump(value, None)}"
        if not obj.members:
            if text[opening + 1 : closing].strip():
                return text[: opening + 1] + member + " " + text[opening + 1 :]
            return text[: opening + 1] + member + text[closing:]
        last = obj.members[-1]
        if last.comma is not None:
            return text[: last.comma + 1] + " " + member + text[last.comma + 1 :]
        return text[: last.value.end] + ", " + member + text[last.value.end :]

    indent = _member_indent(text, obj, style)
    member = f"{json.dumps(key, ensure_ascii=False)}: {style.dump(value, indent)}"
    line = style.eol + indent + member
    if not obj.members:
        if text[opening + 1 : closing].strip():
            return text[: opening + 1] + line + text[opening + 1 :]
        closing_line = style.eol + _line_indent(text, opening)
        return text[: opening + 1] + line + closing_line + text[closing:]
    last = obj.members[-1]
    after = last.comma + 1 if last.comma is not None else last.value.end
    at = _end_of_line(text, after)
    if text[at : at + 1] not in ("", "\r", "\n"):
        line += style.eol + _line_indent(text, opening)
    text = text[:at] + line + text[at:]
    if last.comma is None:
        text = text[: last.value.end] + "," + text[last.value.end :]
    return text


def _replace_value(text: str, obj: _Node, member: _Member, value: Any, style: _Style) -> str:
    """Replace the value of `member` (a member of `obj`) with `value`."""
    multiline = _is_multiline(text, obj, style)
    indent = _line_indent(text, member.key_start) if multiline else None
    node = member.value
    return text[: node.start] + style.dump(value, indent) + text[node.end :]


def _nest(keys: Sequence[str], value: Any) -> Any:
    """`value` wrapped in one single-member object per key: `["a", "b"], 1` → `{"a": {"b": 1}}`."""
    for key in reversed(keys):
        value = {key: value}
    return value


def _last_member(obj: _Node, key: str) -> _Member | None:
    """The member named `key` that counts (the last one, as in `json.loads`), if any."""
    found = [member for member in obj.members if member.key == key]
    return found[-1] if found else None


def _edit(text: str, root: _Node, keys: Sequence[str], value: Any, style: _Style) -> str:
    """Set the member at `keys` below `root` textually, creating objects where missing or null."""
    obj = root
    for depth, key in enumerate(keys[:-1]):
        member = _last_member(obj, key)
        subtree = _nest(keys[depth + 1 :], value)
        if member is None:
            return _insert_member(text, obj, key, subtree, style)
        if member.value.value is None:
            return _replace_value(text, obj, member, subtree, style)
        if not isinstance(member.value.value, dict):
            where = ".".join(keys[: depth + 1])
            raise JSONCEditError(f"{where} is a {type(member.value.value).__name__}, not an object")
        obj = member.value
    member = _last_member(obj, keys[-1])
    if member is None:
        return _insert_member(text, obj, keys[-1], value, style)
    return _replace_value(text, obj, member, value, style)


def set_member(text: str, keys: Sequence[str], value: Any) -> str:
    """Return `text` with `doc[keys[0]]...[keys[-1]] = value` and every other byte unchanged.

    Objects missing (or null) along the path are created; a text without a value becomes a new
    object after any comments. Raises `json.JSONDecodeError` for malformed text and
    `JSONCEditError` when the root or a value on the path is not an object.
    """
    if not keys:
        raise ValueError("keys must name at least one member")
    root = _Parser(text).document()
    if root is None:
        prefix = text.rstrip() + "\n" if text.strip() else ""
        new_text = prefix + json.dumps(_nest(keys, value), ensure_ascii=False, indent=2) + "\n"
        expected: Any = _nest(keys, value)
    else:
        if not isinstance(root.value, dict):
            kind = type(root.value).__name__
            raise JSONCEditError(f"the document is a {kind}, not an object")
        new_text = _edit(text, root, keys, value, _Style.of(text, root))
        expected = copy.deepcopy(root.value)
        target = expected
        for key in keys[:-1]:
            if not isinstance(target.get(key), dict):
                target[key] = {}
            target = target[key]
        target[keys[-1]] = value
    if loads(new_text) != expected:
        raise JSONCEditError("the edited text does not hold the intended value")
    return new_text


def _line_start(text: str, pos: int) -> int:
    """Where the line break before `pos` starts (the start of the text if there is none)."""
    newline = text.rfind("\n", 0, pos)
    if newline <= 0:
        return 0
    return newline - 1 if text[newline - 1] == "\r" else newline


def remove_member(text: str, keys: Sequence[str]) -> str:
    """Return `text` without the member at `keys` (unchanged when there is none), every other
    byte kept: the reverse of `set_member` adding it, so adding then removing gives the text
    back. Raises `JSONCEditError` when the path runs through a non-object."""
    if not keys:
        raise ValueError("keys must name at least one member")
    root = _Parser(text).document()
    if root is None or not isinstance(root.value, dict):
        return text
    obj = root
    for key in keys[:-1]:
        member = _last_member(obj, key)
        if member is None or not isinstance(member.value.value, dict):
            return text
        obj = member.value
    member = _last_member(obj, keys[-1])
    if member is None:
        return text
    index = obj.members.index(member)
    previous = obj.members[index - 1] if index else None
    if "\n" in text[obj.start : member.key_start]:  # on its own line: the line goes
        start = _line_start(text, member.key_start)
        end = _end_of_line(text, member.comma + 1 if member.comma is not None
                           else member.value.end)
        if previous is None and member.comma is None:  # the only member
            end = _line_start(text, obj.end - 1)
    else:
        start = previous.comma + 1 if previous is not None and previous.comma is not None \
            else member.key_start
        end = member.comma + 1 if previous is None and member.comma is not None \
            else member.value.end
        while previous is None and end < len(text) and text[end] in _BLANK:
            end += 1
    new_text = text[:start] + text[end:]
    if previous is not None and member.comma is None and previous.comma is not None:
        new_text = new_text[: previous.comma] + new_text[previous.comma + 1 :]
    expected = copy.deepcopy(root.value)
    target = expected
    for key in keys[:-1]:
        target = target[key]
    del target[keys[-1]]
    if loads(new_text) != expected:
        raise JSONCEditError("the edited text does not hold the intended value")
    return new_text
