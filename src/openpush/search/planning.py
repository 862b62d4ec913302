"""From a search request to what the index is asked: the query, the sort, the facets.

* **Query.** Each part (``q``, ``aq``, ``cq``, ``dq``, ``lq``) is parsed on its own, bound to the
  organization's field types (:mod:`openpush.search.binding`) and combined as Coveo's
  ``((q aq) OR dq) cq``; the search token's ``filter`` is ANDed to the whole. A syntax error
  names the part and the position, and quotes the text from there, e.g.
  ``aq: operator > needs a value (position 5, at ">")``.
* **Sort.** ``relevancy`` (or ``qre``) and ``nosort`` stand alone. Otherwise the keys are
  ``date`` at most once and fields each at most once (Coveo's "field+field or one date +
  fields"); a field must exist and be sortable (``sort: true``).
* **Facets.** Coveo only facets on fields with ``facet: true``; openpush answers a facet or a
  groupBy on any other field (or an unknown one) with no values rather than an error, so that
  a search page keeps working while its fields are being configured.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from openpush.domain.fields import FieldDefinition
from openpush.errors import InvalidRequestError, QuerySyntaxError
from openpush.index.base import FacetRequest, FacetResult, SortKey
from openpush.search.binding import bind
from openpush.search.query import Node, all_of, combine, parse

__all__ = ["QueryParts", "build_query", "check_sort", "empty_facet", "facetable", "parse_part"]

_SNIPPET = 24
_ALONE = frozenset({"relevancy", "qre", "nosort"})


@dataclass(frozen=True, slots=True)
class QueryParts:
    """The expressions of a request (a groupBy may override ``q``, ``aq`` and ``cq``)."""

    q: str = ""
    aq: str = ""
    cq: str = ""
    dq: str = ""
    lq: str = ""
    enable_query_syntax: bool = True

    def override(self, *, q: str | None, aq: str | None, cq: str | None) -> QueryParts:
        return replace(
            self,
            q=self.q if q is None else q,
            aq=self.aq if aq is None else aq,
            cq=self.cq if cq is None else cq,
        )


def parse_part(
    name: str, text: str, fields: Mapping[str, FieldDefinition], *, syntax: bool = True
) -> Node:
    """One expression, parsed and bound; errors name the part and show where they are."""
    try:
        return bind(parse(text, enable_query_syntax=syntax), fields)
    except QuerySyntaxError as exc:
        position = min(max(exc.position, 0), len(text))
        rest = text[position : position + _SNIPPET]
        where = f'at "{rest}"' if rest else "at the end"
        if len(text) > position + _SNIPPET:
            where = f'at "{rest}..."'
        message = f"{name}: {exc.message} (position {position}, {where})"
        raise QuerySyntaxError(message, position) from exc


def build_query(
    parts: QueryParts, token_filter: str, fields: Mapping[str, FieldDefinition]
) -> Node:
    """``((q lq aq) OR dq) cq`` AND the token's filter."""
    syntax = parts.enable_query_syntax
    query = combine(
        parse_part("q", parts.q, fields, syntax=syntax),
        parse_part("aq", parts.aq, fields),
        parse_part("cq", parts.cq, fields),
        parse_part("dq", parts.dq, fields),
        parse_part("lq", parts.lq, fields, syntax=False),
    )
    if token_filter:
        query = all_of(query, parse_part("filter", token_filter, fields))
    return query


def check_sort(keys: Sequence[SortKey], fields: Mapping[str, FieldDefinition]) -> None:
    """Refuse (``InvalidRequestError``) a combination or a field Coveo would not sort by."""
    names = [key.field for key in keys]
    if len(names) > 1 and _ALONE.intersection(names):
        raise InvalidRequestError(
            "invalid sortCriteria: relevancy, qre and nosort cannot be combined with other keys"
        )
    if len(set(names)) != len(names):
        raise InvalidRequestError("invalid sortCriteria: a key appears twice")
    for name in names:
        if name in _ALONE or name == "date":
            continue
        definition = fields.get(name)
        if definition is None:
            raise InvalidRequestError(f"invalid sortCriteria: unknown field @{name}")
        if not definition.sort:
            raise InvalidRequestError(
                f"invalid sortCriteria: the field @{name} is not sortable (sort: false)"
            )


def facetable(facet: FacetRequest, fields: Mapping[str, FieldDefinition]) -> bool:
    definition = fields.get(facet.field)
    return definition is not None and bool(definition.facet)


def empty_facet(facet: FacetRequest) -> FacetResult:
    return FacetResult(facet.id, facet.field, [])
