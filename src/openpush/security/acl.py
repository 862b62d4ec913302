"""Permission models as index tokens, and the filter that trims a user's results in the query.

Each item's model becomes a set of unsigned 64-bit tokens (one multi-valued u64 field); a user's
expanded identity set becomes a boolean ``Expr`` over "the doc holds one of these tokens" leaves.
For every model ``m`` whose shape is among ``shapes`` and every user set ``U``::

    matches(visibility_filter(U, shapes), encode_model(m).tokens) == evaluate(m, U).allowed

Tokens of level ``i``, set ``j``, identity key ``k`` (``ANONYMOUS`` stands for allowAnonymous):

- ``A(i, j, k)``: ``k`` is allowed in set ``j``; ``D(i, k)``: ``k`` is denied in some set of level
  ``i``; ``M(i, k)``: ``k`` is mentioned in level ``i`` (allowed or denied);
- ``S(shape)``: the number of sets of each level, e.g. ``(1,)`` or ``(2, 1)``.

With ``U' = U | {ANONYMOUS}``, level ``i`` allows iff there is no ``D(i, u)`` for ``u`` in ``U``
(the marker never takes part in denials) and, for every set ``j``, some ``A(i, j, u)`` for ``u`` in
``U'``; it is inconclusive iff it has sets and no ``M(i, u)`` for ``u`` in ``U'``. A filter is an OR
over shapes of ``AnyOf({S(shape)}) AND levels(shape)``, where ``levels`` nests as
``allows(0) OR (inconclusive(0) AND (allows(1) OR ...))``: linear in the number of levels rather
than quadratic, and a level without sets allows everyone who reaches it, which ends the chain.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Set
from dataclasses import dataclass
from functools import lru_cache
from hashlib import blake2b
from typing import TYPE_CHECKING, TypeAlias

from openpush.security.evaluate import ANONYMOUS, IdentityKey, permission_key

if TYPE_CHECKING:
    from openpush.domain.permissions import PermissionIdentity, PermissionLevel, PermissionModel

__all__ = [
    "MATCH_ALL",
    "MATCH_NONE",
    "AclEncoding",
    "AllOf",
    "AnyExpr",
    "AnyOf",
    "Constant",
    "Expr",
    "Not",
    "all_of",
    "any_expr",
    "any_of",
    "encode_model",
    "matches",
    "not_",
    "token",
    "visibility_filter",
]

_PERSON = b"openpush.acl.v1"


@lru_cache(maxsize=1 << 16)
def token(*parts: str | int) -> int:
    """A 64-bit unsigned token: blake2b-64 of the parts, each length-prefixed, joined by ``\\x1f``.

    The length prefix keeps the encoding injective even for names containing ``\\x1f``; lone
    surrogates (legal in JSON strings) are hashed as they are.
    """
    text = "\x1f".join(f"{len(str(part))}:{part}" for part in parts)
    digest = blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8, person=_PERSON)
    return int.from_bytes(digest.digest(), "big")


def _allow(level: int, pset: int, key: IdentityKey) -> int:
    return token("a", level, pset, key.provider, key.name)


def _deny(level: int, key: IdentityKey) -> int:
    return token("d", level, key.provider, key.name)


def _mention(level: int, key: IdentityKey) -> int:
    return token("m", level, key.provider, key.name)


def _shape(shape: tuple[int, ...]) -> int:
    return token("s", *shape)


@dataclass(frozen=True, slots=True)
class AclEncoding:
    """An item's permission tokens, and its shape (the number of sets in each level)."""

    tokens: frozenset[int]
    shape: tuple[int, ...]


def encode_model(
    model: PermissionModel,
    *,
    default_provider: str,
    case_sensitive_providers: frozenset[str] = frozenset(),
) -> AclEncoding:
    """The tokens to index for an item protected by ``model``."""
    shape = tuple(len(level.sets) for level in model.levels)
    tokens = {_shape(shape)}
    for index, level in enumerate(model.levels):
        keys = _level_keys(level, default_provider, case_sensitive_providers)
        tokens.update(_level_tokens(index, keys))
    return AclEncoding(frozenset(tokens), shape)


# permission identity (with the source's defaults) -> canonical key; identities recur
_KEYS: dict[tuple[PermissionIdentity, str, frozenset[str]], IdentityKey] = {}
_KEYS_MAX = 100_000


def _level_keys(
    level: PermissionLevel, default_provider: str, case_sensitive: frozenset[str]
) -> Iterator[tuple[str, int, IdentityKey]]:
    """(kind, set index, key) for every allowed ("a") and denied ("d") entry of a level."""
    for index, pset in enumerate(level.sets):
        if pset.allow_anonymous:
            yield "a", index, ANONYMOUS
        for kind, identities in (("a", pset.allowed), ("d", pset.denied)):
            for identity in identities:
                cache_key = (identity, default_provider, case_sensitive)
                key = _KEYS.get(cache_key)
                if key is None:
                    if len(_KEYS) >= _KEYS_MAX:
                        _KEYS.clear()
                    key = _KEYS[cache_key] = permission_key(
                        identity,
                        default_provider=default_provider,
                        case_sensitive_providers=case_sensitive,
                    )
                yield kind, index, key


def _level_tokens(level: int, keys: Iterable[tuple[str, int, IdentityKey]]) -> Iterator[int]:
    for kind, pset, key in keys:
        yield _mention(level, key)
        yield _allow(level, pset, key) if kind == "a" else _deny(level, key)


# --- filter expressions ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AnyOf:
    """True when the doc holds at least one of ``tokens``."""

    tokens: frozenset[int]


@dataclass(frozen=True, slots=True)
class AllOf:
    """True when every child is (AND)."""

    children: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class AnyExpr:
    """True when some child is (OR)."""

    children: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Not:
    """True when the child is not."""

    child: Expr


@dataclass(frozen=True, slots=True)
class Constant:
    """Always ``value``; see ``MATCH_ALL`` and ``MATCH_NONE``."""

    value: bool


MATCH_ALL = Constant(True)
MATCH_NONE = Constant(False)
Expr: TypeAlias = AnyOf | AllOf | AnyExpr | Not | Constant


def any_of(tokens: Iterable[int]) -> Expr:
    """``AnyOf(tokens)``; no token at all is ``MATCH_NONE``."""
    found = frozenset(tokens)
    return AnyOf(found) if found else MATCH_NONE


def all_of(*children: Expr) -> Expr:
    """AND, flattened: drops ``MATCH_ALL``, ``MATCH_NONE`` wins, nothing left is ``MATCH_ALL``."""
    kept: list[Expr] = []
    for child in children:
        if child == MATCH_NONE:
            return MATCH_NONE
        if isinstance(child, AllOf):
            kept.extend(child.children)
        elif child != MATCH_ALL:
            kept.append(child)
    if not kept:
        return MATCH_ALL
    return kept[0] if len(kept) == 1 else AllOf(tuple(kept))


def any_expr(*children: Expr) -> Expr:
    """OR, flattened: drops ``MATCH_NONE``, ``MATCH_ALL`` wins, nothing left is ``MATCH_NONE``."""
    kept: list[Expr] = []
    for child in children:
        if child == MATCH_ALL:
            return MATCH_ALL
        if isinstance(child, AnyExpr):
            kept.extend(child.children)
        elif child != MATCH_NONE:
            kept.append(child)
    if not kept:
        return MATCH_NONE
    return kept[0] if len(kept) == 1 else AnyExpr(tuple(kept))


def not_(child: Expr) -> Expr:
    """NOT, with constants folded and double negations removed."""
    if isinstance(child, Constant):
        return Constant(not child.value)
    if isinstance(child, Not):
        return child.child
    return Not(child)


def visibility_filter(user: frozenset[IdentityKey], shapes: Iterable[tuple[int, ...]]) -> Expr:
    """The filter matching exactly the docs ``user`` may see, among docs of the given shapes."""
    allow_ids = user | {ANONYMOUS}
    deny_ids = user - {ANONYMOUS}
    return any_expr(*(_shape_filter(shape, allow_ids, deny_ids) for shape in dict.fromkeys(shapes)))


def _shape_filter(
    shape: tuple[int, ...], allow_ids: frozenset[IdentityKey], deny_ids: frozenset[IdentityKey]
) -> Expr:
    reached_past: Expr = MATCH_NONE  # the verdict once every level of the shape was inconclusive
    for level in reversed(range(len(shape))):
        if shape[level] == 0:
            reached_past = MATCH_ALL  # a level with no sets allows whoever reaches it
            continue
        allows = all_of(
            not_(any_of(_deny(level, key) for key in deny_ids)),
            *(
                any_of(_allow(level, pset, key) for key in allow_ids)
                for pset in range(shape[level])
            ),
        )
        inconclusive = not_(any_of(_mention(level, key) for key in allow_ids))
        reached_past = any_expr(allows, all_of(inconclusive, reached_past))
    return all_of(AnyOf(frozenset({_shape(shape)})), reached_past)


def matches(expr: Expr, doc_tokens: Set[int]) -> bool:
    """Evaluate ``expr`` against a doc's token set (for tests and the in-memory index)."""
    match expr:
        case AnyOf(tokens):
            return not tokens.isdisjoint(doc_tokens)
        case AllOf(children):
            return all(matches(child, doc_tokens) for child in children)
        case AnyExpr(children):
            return any(matches(child, doc_tokens) for child in children)
        case Not(child):
            return not matches(child, doc_tokens)
        case Constant(value):
            return value
        case _:
            raise TypeError(f"not a filter expression: {expr!r}")
