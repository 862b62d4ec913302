"""Words as PostgreSQL sees them: ``tsvector`` and ``tsquery`` text built in Python.

Text goes through the embedded index's own analyzer (:func:`~openpush.index.tantivy.compile.
text_analyzer`: tantivy's simple tokenizer, long tokens dropped, lower case, ASCII folding,
the English Snowball stemmer), so both indexes split, fold and stem words identically. No
PostgreSQL text-search configuration is involved: the lexemes are written as ``tsvector``
text and queries as ``tsquery`` text, both passed as bound parameters and cast.

Each lexeme carries where it comes from: ``t:`` the title, ``b:`` the body, ``f:<field>:`` a
STRING field's values. One ``words`` column (one GIN index) thus answers free text (title or
body), phrases inside one of them, and word matches inside one field (``@field=word``).
Positions are per source, so a phrase never spans the title and the body; consecutive
values of a field are one position apart, so a phrase never spans two values.

PostgreSQL caps positions at 16,383 and keeps at most 256 per lexeme; later occurrences of
a word still match it, phrases beyond that point may not. A vector is kept under 1 MB by
dropping the body's words past that size (pathological bodies only).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from openpush.index.tantivy.compile import text_analyzer

__all__ = [
    "BODY",
    "TITLE",
    "Vector",
    "analyze",
    "any_query",
    "field_prefix",
    "phrase_query",
    "prefix_query",
]

TITLE = "t:"
BODY = "b:"
MAX_POSITION = 16_383
_MAX_POSITIONS = 256
_MAX_BYTES = 900_000  # PostgreSQL refuses a tsvector of 1 MB or more

_ANALYZER = text_analyzer()


def analyze(text: str) -> list[str]:
    """The words of ``text`` as the index holds them."""
    return list(_ANALYZER.analyze(text)) if text else []


def field_prefix(field: str) -> str:
    return f"f:{field}:"


def quote(lexeme: str) -> str:
    """A lexeme as ``tsvector``/``tsquery`` text: quoted, quotes and backslashes doubled."""
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


class Vector:
    """The lexemes of one item, with their positions and weights, written as tsvector text."""

    def __init__(self) -> None:
        self._positions: dict[str, list[str]] = {}
        self._bytes = 0

    def add(self, prefix: str, words: Sequence[str], weight: str, start: int = 1) -> int:
        """Add ``words`` from position ``start``; returns the position after the last."""
        position = start
        for word in words:
            lexeme = prefix + word
            where = f"{min(position, MAX_POSITION)}{weight}"
            held = self._positions.get(lexeme)
            if held is None:
                size = len(lexeme.encode()) + 16
                if self._bytes + size > _MAX_BYTES:
                    break
                self._bytes += size
                self._positions[lexeme] = [where]
            elif len(held) < _MAX_POSITIONS and held[-1] != where:
                held.append(where)
                self._bytes += 2
            position += 1
        return position

    def add_values(self, prefix: str, values: Iterable[str], weight: str) -> None:
        """Add several values of one field, a position apart."""
        position = 1
        for value in values:
            position = self.add(prefix, analyze(value), weight, position) + 1

    def text(self) -> str:
        return " ".join(
            f"{quote(lexeme)}:{','.join(positions)}"
            for lexeme, positions in self._positions.items()
        )


def phrase_query(prefix: str, words: Sequence[str]) -> str:
    """``words`` one after another (one word: that word) from one source."""
    return " <-> ".join(quote(prefix + word) for word in words)


def prefix_query(prefix: str, start: str) -> str:
    """Any word of one source beginning with ``start``."""
    return f"{quote(prefix + start)}:*"


def any_query(queries: Iterable[str]) -> str:
    """Any of ``queries`` (tsquery text)."""
    return " | ".join(f"({query})" for query in queries)
