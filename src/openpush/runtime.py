"""The running pieces of one openpush process, opened and closed together.

``Runtime.open(settings)`` opens the state store and the search index (the embedded one under
the data directory, or the PostgreSQL one in the state store's database: see
:mod:`openpush.index.registry`), creates the bootstrap organization and key, and (unless
``worker=False``) starts the indexing worker in a background thread.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field

from openpush.blobs.base import BlobStore
from openpush.blobs.registry import open_blob_store
from openpush.domain.operations import OrderingClock
from openpush.domain.organizations import ADMIN, ApiKey, Organization, hash_api_key
from openpush.errors import StorageError
from openpush.index.base import SearchIndex
from openpush.index.registry import index_kind, open_search_index
from openpush.pipeline.worker import Worker
from openpush.search.service import DirectExpander, IdentityExpander
from openpush.search.tokens import SearchTokens
from openpush.security.acl import ACL_ENCODING
from openpush.security.graph import GraphExpander
from openpush.settings import Settings
from openpush.storage.base import StateStore
from openpush.storage.registry import open_state_store

__all__ = ["Runtime", "bootstrap"]

log = logging.getLogger("openpush")


@dataclass
class Runtime:
    settings: Settings
    store: StateStore
    index: SearchIndex
    tokens: SearchTokens
    blobs: BlobStore
    worker: Worker | None = None
    clock: OrderingClock = field(default_factory=OrderingClock)
    expander: IdentityExpander = field(default_factory=DirectExpander)

    @classmethod
    def open(cls, settings: Settings, *, worker: bool | None = None) -> Runtime:
        index_kind(settings)  # refuse a bad index setting before opening anything
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        store = open_state_store(settings.database, settings)
        try:
            _check_acl_encoding(store)
        except StorageError:
            store.close()
            raise
        try:
            index = open_search_index(settings, store)
        except Exception:
            store.close()
            raise
        secret = settings.search_token_secret or store.catalog.set_meta_default(
            "search_token_secret", secrets.token_urlsafe(32)
        )
        blob_secret = store.catalog.set_meta_default("blob_signing_secret", secrets.token_hex(32))
        blobs = open_blob_store(settings, bytes.fromhex(blob_secret))
        runtime = cls(
            settings=settings,
            store=store,
            index=index,
            tokens=SearchTokens(secret),
            blobs=blobs,
        )
        runtime.expander = GraphExpander(store)
        bootstrap(runtime)
        if settings.worker if worker is None else worker:
            runtime.worker = Worker(store, index, settings, blobs=blobs)
            runtime.worker.start()
        return runtime

    def notify(self) -> None:
        """Tell an in-process worker that operations were enqueued."""
        if self.worker is not None:
            self.worker.wake()

    def close(self) -> None:
        if self.worker is not None:
            self.worker.stop()
        self.index.close()
        self.blobs.close()
        self.store.close()


def _check_acl_encoding(store: StateStore) -> None:
    """Refuse a data directory whose index holds permission tokens of another encoding.

    Its items would match no user's filter: hidden, not leaked, but silently. Stores from
    before the marker existed get the current one.
    """
    recorded = store.catalog.set_meta_default("acl_encoding", ACL_ENCODING)
    if recorded != ACL_ENCODING:
        raise StorageError(
            f"the index holds permission tokens of encoding {recorded}, this openpush writes "
            f"and searches encoding {ACL_ENCODING}: push the content again into a new data "
            "directory"
        )


def bootstrap(runtime: Runtime) -> None:
    settings = runtime.settings
    if not settings.bootstrap_org:
        return
    catalog = runtime.store.catalog
    if catalog.create_organization(Organization(settings.bootstrap_org, settings.bootstrap_org)):
        log.info("created organization %s", settings.bootstrap_org)
    if settings.bootstrap_api_key:
        key_hash = hash_api_key(settings.bootstrap_api_key)
        if catalog.find_api_key(key_hash) is None:
            key = ApiKey(
                id=f"bootstrap-{key_hash[:12]}",
                org_id=settings.bootstrap_org,
                display_name="bootstrap admin key",
                privileges=(ADMIN,),
            )
            catalog.save_api_key(key, key_hash)
            log.info("created the bootstrap admin API key for %s", settings.bootstrap_org)
