"""Permission models as index tokens, and the filter that trims a user's results in the query.

Each item's model becomes a set of unsigned 64-bit tokens (one multi-valued u64 field); a user's
expanded identity set becomes a boolean ``Expr`` over "the doc holds one of these tokens" leaves.
For every model ``m`` and every user set ``U``::

    matches(visibility_filter(U, shapes), encode_model(m).tokens) implies evaluate(m, U).allowed

with equality when the model's shape (the number of sets of each level) is among ``shapes``:
the filter never matches a doc the user may not see, and it finds every doc they may see among
the shapes it was built for (the state store records every shape it indexed).

Tokens of level ``i`` with ``n`` sets, set ``j``, identity key ``k`` (``ANONYMOUS`` stands for
allowAnonymous):

- ``A(i, n, j, k)``: ``k`` is allowed in set ``j``; the set count makes a doc's tokens say how
  many sets must allow, so no separate shape token is needed;
- ``D(i, k)``: ``k`` is denied in some set of level ``i``;
- ``M(i, k)``: ``k`` is mentioned in level ``i`` (allowed or denied), only when a level follows:
  it tells whether the walk goes on, and after the last level there is nothing to go on to;
- ``Z(i)``: level ``i`` has no sets.

With ``U' = U | {ANONYMOUS}``, level ``i`` allows iff there is no ``D(i, u)`` for ``u`` in ``U``
(the marker never takes part in denials) and, for every set ``j``, some ``A(i, n, j, u)`` for
``u`` in ``U'``; it is inconclusive iff it has sets and no ``M(i, u)`` for ``u`` in ``U'``. A
level without sets allows whoever reaches it; a doc inconclusive at its last level is not
visible. The filter nests the levels, each term set appearing once (the index evaluates a
repeated sub-query once per occurrence, and a user with hundreds of identities has hundreds of
tokens in each set)::

    level(i) = Z(i)
             OR (NOT D(i, U) AND OR over set counts n of
                                 (A(i, n, 0, U') AND ... AND A(i, n, n - 1, U')))
             OR (NOT M(i, U') AND level(i + 1))

No branch relies on a token every doc holds: each one starts from the user's own tokens, so
the index walks the postings of what the user may see, not of the whole corpus.
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
    "ACL_ENCODING",
    "MATCH_ALL",
    "MATCH_NONE",
    "MAX_LEAVES",
    "AclEncoding",
    "AllOf",
    "AnyExpr",
    "AnyOf",
    "Constant",
    "Expr",
    "LeafMasks",
    "Not",
    "all_of",
    "any_expr",
    "any_of",
    "encode_model",
    "leaf_masks",
    "matches",
    "not_",
    "restrict",
    "token",
    "visibility_filter",
]

# The token encoding's version: a data directory records the one its index was written with.
ACL_ENCODING = "2"
_PERSON = f"openpush.acl.v{ACL_ENCODING}".encode()


@lru_cache(maxsize=1 << 16)
def token(*parts: str | int) -> int:
    """A 64-bit unsigned token: blake2b-64 of the parts, each length-prefixed, joined by ``\\x1f``.

    The length prefix keeps the encoding injective even for names containing ``\\x1f``; lone
    surrogates (legal in JSON strings) are hashed as they are.
    """
    text = "\x1f".join(f"{len(str(part))}:{part}" for part in parts)
    digest = blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8, person=_PERSON)
    return int.from_bytes(digest.digest(), "big")


def _allow(level: int, sets: int, pset: int, key: IdentityKey) -> int:
    return token("a", level, sets, pset, key.provider, key.name)


def _deny(level: int, key: IdentityKey) -> int:
    return token("d", level, key.provider, key.name)


def _mention(level: int, key: IdentityKey) -> int:
    return token("m", level, key.provider, key.name)


def _no_sets(level: int) -> int:
    return token("z", level)


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
    tokens: set[int] = set()
    last = len(shape) - 1
    for index, level in enumerate(model.levels):
        if not level.sets:
            tokens.add(_no_sets(index))
            continue
        keys = _level_keys(level, default_provider, case_sensitive_providers)
        tokens.update(_level_tokens(index, len(level.sets), keys, mentions=index < last))
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


def _level_tokens(
    level: int, sets: int, keys: Iterable[tuple[str, int, IdentityKey]], *, mentions: bool
) -> Iterator[int]:
    for kind, pset, key in keys:
        if mentions:
            yield _mention(level, key)
        yield _allow(level, sets, pset, key) if kind == "a" else _deny(level, key)


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
    return _visibility_filter(user, tuple(sorted(set(shapes))))


@lru_cache(maxsize=256)
def _visibility_filter(user: frozenset[IdentityKey], shapes: tuple[tuple[int, ...], ...]) -> Expr:
    # Cached: a user's searches reuse one filter (the expander returns the same identity set
    # object while the identity graph is unchanged, so the key hashes in constant time).
    allow_ids = user | {ANONYMOUS}
    deny_ids = user - {ANONYMOUS}
    reaching = tuple(shape for shape in shapes if shape)  # no levels: visible to nobody
    return _level_filter(0, reaching, allow_ids, deny_ids) if reaching else MATCH_NONE


def _level_filter(
    level: int,
    shapes: tuple[tuple[int, ...], ...],
    allow_ids: frozenset[IdentityKey],
    deny_ids: frozenset[IdentityKey],
) -> Expr:
    """Docs of ``shapes`` visible from ``level`` on (``shapes`` all reach ``level``)."""
    counts = sorted({shape[level] for shape in shapes})
    allows = any_expr(
        *(
            all_of(*(any_of(_allow(level, n, j, key) for key in allow_ids) for j in range(n)))
            for n in counts
            if n
        )
    )
    allows = all_of(not_(any_of(_deny(level, key) for key in deny_ids)), allows)
    if counts[0] == 0:
        allows = any_expr(AnyOf(frozenset({_no_sets(level)})), allows)
    # docs whose level has no sets are decided here; the others may go on
    going_on = tuple(shape for shape in shapes if shape[level] and len(shape) > level + 1)
    if not going_on:
        return allows
    inconclusive = not_(any_of(_mention(level, key) for key in allow_ids))
    deeper = _level_filter(level + 1, going_on, allow_ids, deny_ids)
    return any_expr(allows, all_of(inconclusive, deeper))


def restrict(expr: Expr, present: Set[int]) -> Expr:
    """``expr`` with every term set cut down to ``present``: for every doc whose tokens are all
    in ``present``, ``matches(restrict(expr, present), tokens) == matches(expr, tokens)``."""
    match expr:
        case AnyOf(tokens):
            return any_of(tokens & present if len(tokens) <= len(present) else present & tokens)
        case AllOf(children):
            return all_of(*(restrict(child, present) for child in children))
        case AnyExpr(children):
            return any_expr(*(restrict(child, present) for child in children))
        case Not(child):
            return not_(restrict(child, present))
        case Constant():
            return expr
        case _:
            raise TypeError(f"not a filter expression: {expr!r}")


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


# --- deciding docs from leaf masks -------------------------------------------------------------

MAX_LEAVES = 64  # leaf bits fit one unsigned 64-bit mask


class LeafMasks:
    """A filter decided from bit masks: bit ``i`` says a doc holds a token of leaf ``i``.

    The leaves are the filter's distinct ``AnyOf`` term sets. A doc's mask is the OR of its
    tokens' bits (``token_bits``: every token of a leaf to the bits of the leaves holding it),
    and ``allows(mask)`` equals ``matches(expr, tokens)`` for every token set. Verdicts are
    kept per mask: a filter over ``k`` leaves has at most ``2**k`` of them, and the masks real
    docs produce are few. Build with :func:`leaf_masks`.
    """

    __slots__ = ("_bits", "_token_bits", "_verdicts", "expr", "leaves")

    def __init__(self, expr: Expr, leaves: tuple[AnyOf, ...]) -> None:
        self.expr = expr
        self.leaves = leaves
        self._bits = {leaf: 1 << i for i, leaf in enumerate(leaves)}
        self._token_bits: dict[int, int] | None = None
        self._verdicts: dict[int, bool] = {}

    @property
    def token_bits(self) -> dict[int, int]:
        if self._token_bits is None:
            token_bits: dict[int, int] = {}
            for leaf, bit in self._bits.items():
                for tok in leaf.tokens:
                    token_bits[tok] = token_bits.get(tok, 0) | bit
            self._token_bits = token_bits
        return self._token_bits

    def mask(self, doc_tokens: Iterable[int]) -> int:
        """The leaves ``doc_tokens`` touch, as bits."""
        mask, token_bits = 0, self.token_bits
        for tok in doc_tokens:
            mask |= token_bits.get(tok, 0)
        return mask

    def allows(self, mask: int) -> bool:
        """Whether a doc with this mask passes the filter."""
        verdict = self._verdicts.get(mask)
        if verdict is None:
            verdict = self._verdicts[mask] = self._decide(self.expr, mask)
        return verdict

    def _decide(self, expr: Expr, mask: int) -> bool:
        match expr:
            case AnyOf():
                return bool(mask & self._bits[expr])
            case AllOf(children):
                return all(self._decide(child, mask) for child in children)
            case AnyExpr(children):
                return any(self._decide(child, mask) for child in children)
            case Not(child):
                return not self._decide(child, mask)
            case Constant(value):
                return value
            case _:
                raise TypeError(f"not a filter expression: {expr!r}")


def leaf_masks(expr: Expr) -> LeafMasks | None:
    """``expr`` as a :class:`LeafMasks`, or None when it has more than ``MAX_LEAVES`` leaves."""
    leaves: dict[AnyOf, None] = {}
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, AnyOf):
            leaves[node] = None
        elif isinstance(node, AllOf | AnyExpr):
            stack.extend(node.children)
        elif isinstance(node, Not):
            stack.append(node.child)
    if len(leaves) > MAX_LEAVES:
        return None
    return LeafMasks(expr, tuple(leaves))
