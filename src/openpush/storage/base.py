"""The state-store protocols every backend implements.

The state store holds what openpush knows (organizations, keys, sources, fields, item state,
the operation queue, logs); the search index (``openpush.index.base``) holds what it can
find. Backends: ``openpush.storage.sqlite`` (embedded default); others plug in through
``openpush.storage.registry``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Protocol

from openpush.domain.fields import FieldDefinition
from openpush.domain.identities import EdgeKind, IdentityRef, SecurityProvider
from openpush.domain.operations import ItemState, LogEntry, OperationKind, QueuedOperation
from openpush.domain.organizations import ApiKey, Organization
from openpush.domain.sources import ActivityType, Source, SourceActivity
from openpush.domain.transfers import Batch, FileContainer, Stream
from openpush.security.evaluate import IdentityKey

__all__ = [
    "ALL_IDENTITIES",
    "Catalog",
    "IdentityChange",
    "IdentityFilter",
    "IdentityRecord",
    "IdentityStore",
    "ItemRecord",
    "ItemStore",
    "LogQuery",
    "LogStore",
    "NewOperation",
    "OperationQueue",
    "PipelineCommit",
    "StateStore",
    "TransferStore",
]


@dataclass(slots=True)
class NewOperation:
    org_id: str
    source_id: str
    kind: OperationKind
    document_id: str | None
    ordering_id: int
    payload: dict[str, Any]
    request_id: str
    delay_seconds: float = 0.0


@dataclass(slots=True)
class ItemRecord:
    """The stored state of one item, tombstones included (they keep deletes ordered)."""

    org_id: str
    source_id: str
    document_id: str
    ordering_id: int
    state: ItemState
    record: dict[str, Any] | None
    last_result: str
    last_reason: str
    updated_at: float


@dataclass(slots=True)
class IdentityRecord:
    """The stored state of one identity; a disabled identity grants nothing."""

    org_id: str
    key: IdentityKey
    ref: IdentityRef
    enabled: bool
    ordering_id: int
    updated_at: float


@dataclass(frozen=True, slots=True)
class IdentityFilter:
    """Which identities a listing returns: all by default; ``enabled`` keeps one state,
    ``updated_from`` / ``updated_to`` bound the last update (epoch seconds, both inclusive),
    ``types`` keeps those types (as pushed; empty: any), ``name`` keeps the names that start
    with it (``name_anywhere``: that contain it), ignoring case."""

    enabled: bool | None = None
    updated_from: float | None = None
    updated_to: float | None = None
    types: frozenset[str] = frozenset()
    name: str = ""
    name_anywhere: bool = False


ALL_IDENTITIES = IdentityFilter()


@dataclass(slots=True)
class IdentityChange:
    """A new state of one identity and, per kind, the relationships it now owns."""

    record: IdentityRecord
    edges: dict[EdgeKind, list[tuple[IdentityKey, IdentityKey]]] = field(default_factory=dict)


@dataclass(slots=True)
class PipelineCommit:
    """Everything one pipeline round changes, committed in one transaction."""

    done: list[int] = field(default_factory=list)
    items: dict[tuple[str, str, str], ItemRecord] = field(default_factory=dict)
    logs: list[LogEntry] = field(default_factory=list)
    shapes: set[tuple[str, str]] = field(default_factory=set)
    low_water: dict[tuple[str, str], int] = field(default_factory=dict)
    batches: dict[str, Batch] = field(default_factory=dict)
    dropped_containers: set[tuple[str, str]] = field(default_factory=set)
    identities: list[IdentityChange] = field(default_factory=list)
    # the last record ``identities`` holds for each (org, key): what the round made of it
    latest_identities: dict[tuple[str, IdentityKey], IdentityRecord] = field(default_factory=dict)
    # (org, identity, source, documentId): an item waiting for an unknown denied identity
    waiting: list[tuple[str, IdentityKey, str, str]] = field(default_factory=list)
    released: list[tuple[str, IdentityKey]] = field(default_factory=list)
    enqueue: list[NewOperation] = field(default_factory=list)

    def add_identity(self, change: IdentityChange) -> None:
        self.identities.append(change)
        self.latest_identities[(change.record.org_id, change.record.key)] = change.record


@dataclass(slots=True)
class LogQuery:
    from_time: float
    to_time: float
    source_ids: Sequence[str] = ()
    operations: Sequence[str] = ()
    results: Sequence[str] = ()
    tasks: Sequence[str] = ()
    exclude_source_ids: Sequence[str] = ()
    exclude_operations: Sequence[str] = ()
    exclude_results: Sequence[str] = ()
    exclude_tasks: Sequence[str] = ()
    document_id: str | None = None
    document_id_matching: str = "EXACT"
    request_id: str | None = None
    page: int = 0
    per_page: int = 100


class Catalog(Protocol):
    """Organizations, API keys, sources, source activities and fields."""

    def create_organization(self, org: Organization) -> bool: ...
    def get_organization(self, org_id: str) -> Organization | None: ...
    def save_api_key(self, key: ApiKey, key_hash: str) -> None: ...
    def find_api_key(self, key_hash: str) -> ApiKey | None: ...
    def get_api_key(self, org_id: str, key_id: str) -> ApiKey | None: ...
    def update_api_key(self, key: ApiKey) -> bool: ...
    def list_api_keys(self, org_id: str) -> list[ApiKey]: ...
    def delete_api_key(self, org_id: str, key_id: str) -> bool: ...
    def create_source(self, source: Source) -> None: ...
    def get_source(self, org_id: str, source_id: str) -> Source | None: ...
    def list_sources(self, org_id: str) -> list[Source]: ...
    def update_source(self, source: Source) -> None:
        """Save ``source``'s name, visibility and provider references (ConflictError: the
        name is another source's)."""
        ...

    def delete_source(self, org_id: str, source_id: str) -> bool: ...
    def add_source_provider(self, org_id: str, source_id: str, provider_id: str) -> None: ...
    def record_activity(self, org_id: str, source_id: str, activity: ActivityType) -> None: ...
    def activities(self, org_id: str, source_id: str, limit: int = 20) -> list[SourceActivity]: ...
    def list_fields(self, org_id: str) -> list[FieldDefinition]: ...
    def save_fields(self, org_id: str, fields: Iterable[FieldDefinition]) -> None: ...
    def delete_field(self, org_id: str, name: str) -> bool: ...
    def get_meta(self, key: str) -> str | None: ...
    def set_meta_default(self, key: str, value: str) -> str: ...


class OperationQueue(Protocol):
    """The durable queue between the API and the pipeline."""

    def enqueue(self, operations: Sequence[NewOperation]) -> list[int]: ...
    async def aenqueue(self, operations: Sequence[NewOperation]) -> list[int]: ...
    def claim(self, limit: int) -> list[QueuedOperation]: ...
    def release_claims(self) -> None: ...
    def release(self, seqs: Sequence[int]) -> None:
        """Give claimed operations back unapplied (a graceful stop): not counted as an attempt."""
        ...

    def complete(self, commit: PipelineCommit) -> None: ...
    def complete_async(self, commit: PipelineCommit) -> Future[None]:
        """Start committing ``commit``; the future resolves once it is durable."""
        ...

    def pending_state(self, org_id: str, source_id: str, document_id: str) -> ItemState | None: ...
    def depth(self) -> int: ...


class ItemStore(Protocol):
    def get_items(
        self, org_id: str, source_id: str, document_ids: Iterable[str]
    ) -> dict[str, ItemRecord]: ...
    def live_with_prefix(self, org_id: str, source_id: str, prefix: str) -> list[ItemRecord]: ...
    def live_older_than(
        self, org_id: str, source_id: str, ordering_id: int
    ) -> list[ItemRecord]: ...
    def count_live(self, org_id: str, source_id: str) -> int: ...
    def max_ordering_id(self, org_id: str, source_id: str) -> int:
        """The highest orderingId the source has received (items and queued operations)."""
        ...

    def acl_shapes(self, org_id: str) -> list[str]: ...


class LogStore(Protocol):
    def query(self, org_id: str, query: LogQuery) -> tuple[list[LogEntry], bool]: ...
    def last_for(self, org_id: str, source_id: str, document_id: str) -> LogEntry | None: ...


class TransferStore(Protocol):
    """File containers, batches and streams (``openpush.domain.transfers``).

    ``submit`` is the one write that accepts a container-backed request: it holds the
    containers the request consumes, records its batch, closes its stream and enqueues its
    operation in one transaction, so a request is either accepted whole or not at all.
    """

    def create_container(self, container: FileContainer) -> None: ...
    def get_container(self, org_id: str, file_id: str) -> FileContainer | None: ...
    def stale_containers(self, now: float) -> list[FileContainer]: ...
    def drop_containers(self, keys: Iterable[tuple[str, str]]) -> None: ...
    async def asubmit(
        self,
        operation: NewOperation,
        *,
        hold_files: Sequence[str] = (),
        batch: Batch | None = None,
        close_stream: str | None = None,
        now: float,
    ) -> None: ...
    def get_batch(self, org_id: str, source_id: str, batch_id: str) -> Batch | None: ...
    def create_stream(self, stream: Stream, first: FileContainer) -> None: ...
    def add_stream_chunk(self, stream: Stream, container: FileContainer) -> None: ...
    def get_stream(self, org_id: str, source_id: str, stream_id: str) -> Stream | None: ...
    def abandoned_streams(self, opened_before: float) -> list[Stream]: ...
    def drop_stream(self, stream: Stream) -> None: ...


class IdentityStore(Protocol):
    """Security providers, identities and the graph they form (push-api.md §7)."""

    def save_provider(self, provider: SecurityProvider) -> None: ...
    def get_provider(self, org_id: str, provider_id: str) -> SecurityProvider | None: ...
    def list_providers(self, org_id: str) -> list[SecurityProvider]: ...
    def delete_provider(self, org_id: str, provider_id: str) -> bool: ...
    def get_identities(
        self, org_id: str, keys: Collection[IdentityKey]
    ) -> dict[IdentityKey, IdentityRecord]: ...
    def list_identities(
        self,
        org_id: str,
        provider_id: str | Collection[str],
        page: int,
        per_page: int,
        only: IdentityFilter = ALL_IDENTITIES,
    ) -> tuple[list[IdentityRecord], int]:
        """One page of the identities of a provider (or of several) by provider and name, and
        how many there are in all."""
        ...

    def older_than(self, org_id: str, provider_id: str, ordering_id: int) -> list[IdentityRecord]:
        """The enabled identities of the provider last pushed with an orderingId lower than
        ``ordering_id``; identities no push of their own created (orderingId 0: only a
        relationship names them) are never among them."""
        ...

    def graph(self, org_id: str) -> Any: ...
    def waiting_items(self, org_id: str, key: IdentityKey) -> list[tuple[str, str]]:
        """(source, documentId) of items hidden until ``key`` is known to its provider."""
        ...

    def version(self, org_id: str) -> int:
        """Changes whenever the organization's identities change (expansion caches key on it)."""
        ...


class StateStore(Protocol):
    """A backend: the role objects and a lifecycle."""

    catalog: Catalog
    queue: OperationQueue
    items: ItemStore
    logs: LogStore
    transfers: TransferStore
    identities: IdentityStore

    def close(self) -> None: ...
