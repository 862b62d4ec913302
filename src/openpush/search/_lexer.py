"""Character-level scanning of Coveo query expressions, and its inverse for printing.

The parser in ``openpush.search.query`` is recursive descent and asks a ``Scanner`` for one
lexical unit at a time, because what a unit is depends on where it stands: after a field
operator ``now-7d..now`` is a date range and ``(a,b)`` a value list, while in free text
``now-7d..now`` is one word. The formatting helpers at the end print values so that they scan
back to the same value; ``to_text`` relies on them for its round trip.

Lexical rules:

* whitespace is anything ``str.isspace`` accepts;
* a free-text word runs to whitespace, ``(``, ``)`` or ``"``;
* a quoted string runs to the next unescaped ``"``; ``\\"`` and ``\\\\`` are escapes, any other
  backslash is kept as typed;
* a field name is ``@`` then ``[A-Za-z][A-Za-z0-9_]*``, lower-cased;
* a bare field value runs to whitespace, ``(``, ``)``, ``,``, ``"`` or ``..``;
* a number is ``-?(0|[1-9][0-9]*)(.[0-9]+)?`` (Coveo's ``Number``), so ``01234`` stays a string.
"""

from __future__ import annotations

import re
from decimal import Decimal

from openpush.errors import QuerySyntaxError
from openpush.search._dates import is_date_spec

__all__ = [
    "COMPARISON_OPERATORS",
    "FIELD_OPERATORS",
    "KEYWORDS",
    "Scanner",
    "format_number",
    "parse_number",
    "quote",
    "string_literal",
]

#: Longest first, so that ``<=`` is not read as ``<`` followed by a value ``=...``.
FIELD_OPERATORS = ("==", "<>", "<=", ">=", "*=", "=", "<", ">")
COMPARISON_OPERATORS = frozenset({"<", "<=", ">", ">="})
KEYWORDS = frozenset({"AND", "OR", "NOT"})

_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?")
_FIELD_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_WORD_STOP = frozenset('()"')
_VALUE_STOP = frozenset('(),"')


class Scanner:
    """A cursor over one expression; each ``read_*`` method advances past what it returns."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self, offset: int = 0) -> str:
        """The character ``offset`` places ahead, or ``""`` past the end."""
        return self.text[self.pos + offset : self.pos + offset + 1]

    def at_space(self, offset: int = 0) -> bool:
        """Whether the character ``offset`` places ahead is whitespace or the end."""
        char = self.peek(offset)
        return not char or char.isspace()

    def startswith(self, prefix: str) -> bool:
        return self.text.startswith(prefix, self.pos)

    def advance(self, count: int = 1) -> None:
        self.pos += count

    def skip_spaces(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def read_word(self) -> str:
        """A free-text word (possibly empty if the cursor is on a delimiter)."""
        start = self.pos
        while not self.at_space() and self.text[self.pos] not in _WORD_STOP:
            self.pos += 1
        return self.text[start : self.pos]

    def peek_keyword(self) -> str | None:
        """``AND``, ``OR`` or ``NOT`` if the next word is exactly that keyword."""
        start = self.pos
        word = self.read_word()
        self.pos = start
        return word if word in KEYWORDS else None

    def read_quoted(self) -> str:
        """The unescaped content of the double-quoted string at the cursor."""
        start, text = self.pos, self.text
        chars: list[str] = []
        index = start + 1
        while index < len(text):
            char = text[index]
            if char == '"':
                self.pos = index + 1
                return "".join(chars)
            if char == "\\" and text[index + 1 : index + 2] in ('"', "\\"):
                index += 1
                char = text[index]
            chars.append(char)
            index += 1
        raise QuerySyntaxError("unterminated quoted string", start)

    def read_field_name(self) -> str:
        """The lower-cased name after the ``@`` at the cursor."""
        match = _FIELD_NAME.match(self.text, self.pos + 1)
        if match is None:
            raise QuerySyntaxError("'@' must be followed by a field name", self.pos)
        self.pos = match.end()
        return match.group().lower()

    def read_operator(self) -> str | None:
        for operator in FIELD_OPERATORS:
            if self.startswith(operator):
                self.pos += len(operator)
                return operator
        return None

    def read_bare_value(self) -> str:
        """An unquoted field value (possibly empty if the cursor is on a delimiter)."""
        start = self.pos
        while not (self.at_space() or self.text[self.pos] in _VALUE_STOP or self.startswith("..")):
            self.pos += 1
        return self.text[start : self.pos]


def parse_number(text: str) -> int | float | None:
    """The number a bare value denotes, or None if it is not a number."""
    if _NUMBER.fullmatch(text) is None:
        return None
    return float(text) if "." in text else int(text)


def format_number(number: int | float) -> str:
    """Positional notation that ``parse_number`` reads back as the same number and type."""
    if isinstance(number, int):
        return str(number)
    text = format(Decimal(repr(number)), "f")
    return text if "." in text else f"{text}.0"


def quote(text: str) -> str:
    """``text`` as a double-quoted string, escaping backslashes and quotes."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def string_literal(text: str) -> str:
    """A field value that scans back as the string ``text``: bare when that is unambiguous."""
    return text if _is_plain_bare(text) else quote(text)


def _is_plain_bare(text: str) -> bool:
    if not text or text[0] in "=<>." or text[-1] == "." or ".." in text:
        return False
    if any(char.isspace() or char in _VALUE_STOP for char in text):
        return False
    return parse_number(text) is None and not is_date_spec(text)
