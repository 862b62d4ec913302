"""The identity expander searches use: the state store's identity graph, cached per version.

Each organization's identity changes bump a version counter in the same transaction that
applies them (``storage.sqlite.identities.write_identity_changes``). A cached expansion is
keyed on that version, so an identity change reaches the next search as soon as it is
committed — in this process or another one on the same store — with no timer.

Below the expansions, each organization has a neighbourhood cache for the same version: the
aliases, parents, neighbour states and granted identities read for an identity. Users share
most of their groups (the upper layers of a hierarchy are everybody's), so a user's first
expansion mostly reads what earlier ones already did, and only its own lower layers come from
the store.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Collection, Iterable, Mapping

from openpush.search.tokens import UserId
from openpush.security.evaluate import IdentityKey, identity_key
from openpush.security.expand import Expansion, IdentityGraph, expand
from openpush.storage.base import StateStore

__all__ = ["CachedGraph", "GraphExpander"]

Related = Mapping[IdentityKey, Collection[IdentityKey]]
# alias partners, parents, and the states of those the graph knows
_Near = tuple[frozenset[IdentityKey], frozenset[IdentityKey], dict[IdentityKey, bool]]
_UNREAD = object()


class CachedGraph:
    """An :class:`IdentityGraph` remembering every neighbourhood and state it has read.

    Valid for one version of one organization's graph: :class:`GraphExpander` starts a new one
    when the version changes. ``max_keys`` bounds the memory; past it, the cache starts over.
    """

    def __init__(self, graph: IdentityGraph, *, max_keys: int = 500_000) -> None:
        self._graph = graph
        self._max_keys = max_keys
        self._near: dict[IdentityKey, _Near] = {}
        self._states: dict[IdentityKey, bool | None] = {}  # None: the graph does not know it
        self._granted: dict[IdentityKey, frozenset[IdentityKey]] = {}

    # Searches expand in several threads: every method works on what it looked up or read
    # itself, so another thread starting the cache over never takes an entry from under it.

    def states(self, keys: Collection[IdentityKey]) -> Mapping[IdentityKey, bool]:
        found = {key: self._states.get(key, _UNREAD) for key in keys}
        missing = [key for key, state in found.items() if state is _UNREAD]
        if missing:
            read = self._graph.states(missing)
            self._room(len(missing))
            for key in missing:
                found[key] = self._states[key] = read.get(key)
        return {key: state for key, state in found.items() if isinstance(state, bool)}

    def neighbours(
        self, keys: Collection[IdentityKey]
    ) -> tuple[Related, Related, Mapping[IdentityKey, bool]]:
        found = {key: self._near.get(key) for key in keys}
        missing = [key for key, near in found.items() if near is None]
        if missing:
            found.update(self._fill(missing))
        aliases: dict[IdentityKey, frozenset[IdentityKey]] = {}
        parents: dict[IdentityKey, frozenset[IdentityKey]] = {}
        states: dict[IdentityKey, bool] = {}
        for key, near in found.items():
            assert near is not None
            near_aliases, near_parents, near_states = near
            if near_aliases:
                aliases[key] = near_aliases
            if near_parents:
                parents[key] = near_parents
            states.update(near_states)
        return aliases, parents, states

    def parents(self, keys: Collection[IdentityKey]) -> Related:
        return self.neighbours(keys)[1]

    def aliases(self, keys: Collection[IdentityKey]) -> Related:
        return self.neighbours(keys)[0]

    def granted(self, keys: Collection[IdentityKey]) -> Related:
        read = getattr(self._graph, "granted", None)
        if read is None:
            return {}
        found = {key: self._granted.get(key) for key in keys}
        missing = [key for key, granted in found.items() if granted is None]
        if missing:
            fresh = read(missing)
            self._room(len(missing))
            for key in missing:
                found[key] = self._granted[key] = frozenset(fresh.get(key, ()))
        return {key: granted for key, granted in found.items() if granted}

    def _fill(self, missing: list[IdentityKey]) -> dict[IdentityKey, _Near]:
        neighbours = getattr(self._graph, "neighbours", None)
        if neighbours is not None:
            aliases, parents, states = neighbours(missing)
        else:
            aliases, parents = self._graph.aliases(missing), self._graph.parents(missing)
            near = {n for m in (aliases, parents) for key in missing for n in m.get(key, ())}
            states = self._graph.states(list(near)) if near else {}
        read: dict[IdentityKey, _Near] = {}
        for key in missing:
            near_aliases = frozenset(aliases.get(key, ()))
            near_parents = frozenset(parents.get(key, ()))
            known = {n: states[n] for n in near_aliases | near_parents if n in states}
            read[key] = (near_aliases, near_parents, known)
        self._room(len(missing))
        self._near.update(read)
        return read

    def _room(self, wanted: int) -> None:
        if len(self._near) + len(self._states) + len(self._granted) + wanted > self._max_keys:
            self._near.clear()
            self._states.clear()
            self._granted.clear()


class GraphExpander:
    def __init__(self, store: StateStore, *, max_entries: int = 10_000, max_depth: int = 32):
        self._store = store
        self._max_entries = max_entries
        self._max_depth = max_depth
        self._cache: OrderedDict[tuple[object, ...], Expansion] = OrderedDict()
        self._graphs: dict[str, tuple[int, CachedGraph]] = {}  # org -> (version, graph cache)
        self._lock = threading.Lock()

    def expansion(self, org_id: str, user_ids: Iterable[UserId]) -> Expansion:
        identities = self._store.identities
        version = identities.version(org_id)
        ids = tuple(sorted({(u.provider.casefold(), u.name) for u in user_ids if u.name}))
        cache_key = (org_id, version, ids)
        with self._lock:
            cached = self._cache.get(cache_key)
            if cached is not None:
                self._cache.move_to_end(cache_key)
                return cached
        providers = identities.list_providers(org_id)
        sensitive = {p.key for p in providers if p.case_sensitive}
        known = frozenset(p.key for p in providers if p.type != "EMAIL")
        start = [identity_key(p, n, case_sensitive=p in sensitive) for p, n in ids]
        result = expand(
            self._graph(org_id, version), start, max_depth=self._max_depth, known_providers=known
        )
        with self._lock:
            self._cache[cache_key] = result
            while len(self._cache) > self._max_entries:
                self._cache.popitem(last=False)
        return result

    def _graph(self, org_id: str, version: int) -> CachedGraph:
        with self._lock:
            cached = self._graphs.get(org_id)
            if cached is None or cached[0] != version:
                graph = CachedGraph(self._store.identities.graph(org_id))
                cached = self._graphs[org_id] = (version, graph)
        return cached[1]

    def clear(self) -> None:
        """Forget every cached expansion and neighbourhood (the next reads go to the store)."""
        with self._lock:
            self._cache.clear()
            self._graphs.clear()

    def expand(self, org_id: str, user_ids: Iterable[UserId]) -> frozenset[IdentityKey]:
        return self.expansion(org_id, user_ids).identities
