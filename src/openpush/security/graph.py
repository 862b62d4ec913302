"""The identity expander searches use: the state store's identity graph, cached per version.

Each organization's identity changes bump a version counter in the same transaction that
applies them (``storage.sqlite.identities.write_identity_changes``). A cached expansion is
keyed on that version, so an identity change reaches the next search as soon as it is
committed — in this process or another one on the same store — with no timer.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable

from openpush.search.tokens import UserId
from openpush.security.evaluate import IdentityKey, identity_key
from openpush.security.expand import Expansion, expand
from openpush.storage.base import StateStore

__all__ = ["GraphExpander"]


class GraphExpander:
    def __init__(self, store: StateStore, *, max_entries: int = 10_000, max_depth: int = 32):
        self._store = store
        self._max_entries = max_entries
        self._max_depth = max_depth
        self._cache: OrderedDict[tuple[object, ...], Expansion] = OrderedDict()
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
            identities.graph(org_id), start, max_depth=self._max_depth, known_providers=known
        )
        with self._lock:
            self._cache[cache_key] = result
            while len(self._cache) > self._max_entries:
                self._cache.popitem(last=False)
        return result

    def expand(self, org_id: str, user_ids: Iterable[UserId]) -> frozenset[IdentityKey]:
        return self.expansion(org_id, user_ids).identities
