"""The identity graph's reads, shared by the SQLite and PostgreSQL identity stores.

Each store answers one query, ``_related(keys, near, far, kinds)``: for each key on the
``near`` side (``child`` or ``parent``) of an edge whose kind is one of ``kinds``, the keys on
the ``far`` side. Every direction the expander and the security cache read is one of those.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from openpush.security.evaluate import IdentityKey
from openpush.storage.base import IdentityFilter

__all__ = ["Dialect", "EdgeReads", "Related", "identity_listing", "kinds_sql"]

Related = Mapping[IdentityKey, Collection[IdentityKey]]

_MEMBERS = ("member", "granted")


def kinds_sql(kinds: tuple[str, ...]) -> str:
    """``IN ('a', 'b')`` for edge kinds, which are this module's constants, never input."""
    return "IN (" + ", ".join(f"'{kind}'" for kind in kinds) + ")"


def identity_listing(
    org_id: str, providers: str | Collection[str], only: IdentityFilter, dialect: Dialect
) -> tuple[str, tuple[Any, ...]]:
    """The WHERE clause and arguments of the identities of ``providers`` under ``only``."""
    mark = dialect.mark
    wanted = [providers] if isinstance(providers, str) else list(providers)
    listed = f"provider IN ({', '.join([mark] * len(wanted))})" if wanted else "1 = 0"
    where = [f"org_id = {mark}", listed]
    args: list[Any] = [org_id, *(p.casefold() for p in wanted)]
    if only.enabled is not None:
        where.append(f"enabled = {mark}")
        args.append(only.enabled)
    if only.updated_from is not None:
        where.append(f"updated_at >= {mark}")
        args.append(only.updated_from)
    if only.updated_to is not None:
        where.append(f"updated_at <= {mark}")
        args.append(only.updated_to)
    if only.types:
        where.append(f"{dialect.ref_type} IN ({', '.join([mark] * len(only.types))})")
        args.extend(sorted(only.types))
    if only.name:
        escaped = only.name.casefold().translate(_LIKE_ESCAPES)
        where.append(f"{dialect.lower}(name_key) LIKE {mark} ESCAPE '\\'")
        args.append(f"%{escaped}%" if only.name_anywhere else f"{escaped}%")
    return " AND ".join(where), tuple(args)


@dataclass(frozen=True, slots=True)
class Dialect:
    """What an identity listing writes differently per backend."""

    mark: str  # the placeholder
    ref_type: str  # the identity type inside the ``ref`` JSON column
    lower: str  # a lower-casing function


_LIKE_ESCAPES = str.maketrans({"\\": "\\\\", "%": "\\%", "_": "\\_"})


class EdgeReads:
    def _related(
        self, keys: Collection[IdentityKey], near: str, far: str, kinds: tuple[str, ...]
    ) -> dict[IdentityKey, set[IdentityKey]]:
        raise NotImplementedError

    def parents(self, keys: Collection[IdentityKey]) -> Related:
        """Groups listing each key as a member, and identities granted to it."""
        return self._related(keys, "child", "parent", _MEMBERS)

    def aliases(self, keys: Collection[IdentityKey]) -> Related:
        """Alias partners in both directions (a mapping is stored once)."""
        out = self._related(keys, "child", "parent", ("alias",))
        for key, partners in self._related(keys, "parent", "child", ("alias",)).items():
            out.setdefault(key, set()).update(partners)
        return out

    def children(self, keys: Collection[IdentityKey]) -> Related:
        """Direct children of each key (the inverse of ``parents``): members and grantees."""
        return self._related(keys, "parent", "child", _MEMBERS)

    def granted(self, keys: Collection[IdentityKey]) -> Related:
        """The identities granted directly to each key (its wellKnowns)."""
        return self._related(keys, "child", "parent", ("granted",))
