"""The identity graph's reads, shared by the SQLite and PostgreSQL identity stores.

Each store answers one query, ``_related(keys, near, far, kinds)``: for each key on the
``near`` side (``child`` or ``parent``) of an edge whose kind is one of ``kinds``, the keys on
the ``far`` side. Every direction the expander and the security cache read is one of those.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from openpush.security.evaluate import IdentityKey
from openpush.storage.base import IdentityFilter

__all__ = ["EdgeReads", "Related", "identity_listing", "kinds_sql"]

Related = Mapping[IdentityKey, Collection[IdentityKey]]

_MEMBERS = ("member", "granted")


def kinds_sql(kinds: tuple[str, ...]) -> str:
    """``IN ('a', 'b')`` for edge kinds, which are this module's constants, never input."""
    return "IN (" + ", ".join(f"'{kind}'" for kind in kinds) + ")"


def identity_listing(
    org_id: str, provider_id: str, only: IdentityFilter, mark: str
) -> tuple[str, tuple[Any, ...]]:
    """The WHERE clause and arguments of a provider's identities under ``only``; ``mark`` is
    the backend's placeholder (``?`` or ``%s``)."""
    where = [f"org_id = {mark}", f"provider = {mark}"]
    args: list[Any] = [org_id, provider_id.casefold()]
    if only.enabled is not None:
        where.append(f"enabled = {mark}")
        args.append(only.enabled)
    if only.updated_from is not None:
        where.append(f"updated_at >= {mark}")
        args.append(only.updated_from)
    if only.updated_to is not None:
        where.append(f"updated_at <= {mark}")
        args.append(only.updated_to)
    return " AND ".join(where), tuple(args)


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
