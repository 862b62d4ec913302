"""An in-memory identity graph for tests: the ``IdentityGraph`` protocol over plain edge lists.

It also implements the optional ``GrantedIdentities`` protocol and records every call, so tests
can check that expansion asks in batches.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping

from openpush.security.evaluate import IdentityKey, identity_key

__all__ = ["DictGraph", "key"]


def key(name: str, provider: str = "P") -> IdentityKey:
    """Shorthand for a case-insensitive identity key (provider ``P`` unless told)."""
    return identity_key(provider, name)


class DictGraph:
    """A graph built from (group, member) edges, (identity, granted) edges and alias pairs.

    ``disabled`` keys are known and disabled. Known keys are ``known`` when given (plus the
    disabled ones); otherwise every key mentioned anywhere, plus ``identities``. Every other key
    is unknown: ``states`` leaves it out, although edges may still mention it.
    """

    def __init__(
        self,
        *,
        members: Iterable[tuple[IdentityKey, IdentityKey]] = (),
        granted: Iterable[tuple[IdentityKey, IdentityKey]] = (),
        aliases: Iterable[tuple[IdentityKey, IdentityKey]] = (),
        disabled: Iterable[IdentityKey] = (),
        identities: Iterable[IdentityKey] = (),
        known: Iterable[IdentityKey] | None = None,
    ) -> None:
        self._parents: dict[IdentityKey, set[IdentityKey]] = defaultdict(set)
        self._granted: dict[IdentityKey, set[IdentityKey]] = defaultdict(set)
        self._aliases: dict[IdentityKey, set[IdentityKey]] = defaultdict(set)
        mentioned: set[IdentityKey] = set(identities)
        for group, member in members:
            self._parents[member].add(group)
            mentioned |= {group, member}
        for identity, grant in granted:
            self._parents[identity].add(grant)
            self._granted[identity].add(grant)
            mentioned |= {identity, grant}
        for one, other in aliases:
            self._aliases[one].add(other)
            self._aliases[other].add(one)
            mentioned |= {one, other}
        self.disabled = frozenset(disabled)
        self.known = frozenset(mentioned if known is None else known) | self.disabled
        self.calls: list[tuple[str, tuple[IdentityKey, ...]]] = []

    def calls_to(self, method: str) -> list[tuple[IdentityKey, ...]]:
        """The key batches passed to ``method``, in call order."""
        return [keys for name, keys in self.calls if name == method]

    def states(self, keys: Collection[IdentityKey]) -> Mapping[IdentityKey, bool]:
        self.calls.append(("states", tuple(keys)))
        return {k: k not in self.disabled for k in keys if k in self.known}

    def parents(
        self, keys: Collection[IdentityKey]
    ) -> Mapping[IdentityKey, Collection[IdentityKey]]:
        self.calls.append(("parents", tuple(keys)))
        return {k: frozenset(self._parents[k]) for k in keys if self._parents.get(k)}

    def aliases(
        self, keys: Collection[IdentityKey]
    ) -> Mapping[IdentityKey, Collection[IdentityKey]]:
        self.calls.append(("aliases", tuple(keys)))
        return {k: frozenset(self._aliases[k]) for k in keys if self._aliases.get(k)}

    def granted(
        self, keys: Collection[IdentityKey]
    ) -> Mapping[IdentityKey, Collection[IdentityKey]]:
        self.calls.append(("granted", tuple(keys)))
        return {k: frozenset(self._granted[k]) for k in keys if self._granted.get(k)}
