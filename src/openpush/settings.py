"""Every setting of openpush, declared once.

Each row of ``SETTINGS`` names a setting, its type, default, environment variable
(``OPENPUSH_<NAME>``) and help text. The CLI builds its options from the same table, and
``docs/settings.md`` documents each row (a test checks that).

The settings named in ``ORG_LIMITS`` (sizes, counts, rates, quotas) are defaults: the
``org_limits`` setting, a JSON object ``{"<org id>": {"<setting>": value}}`` (or ``@path`` to a
file holding one), overrides them for one organization, and :meth:`Settings.for_org` returns
the settings one organization is held to.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = ["ORG_LIMITS", "SETTINGS", "Setting", "Settings", "load_settings"]


@dataclass(frozen=True, slots=True)
class Setting:
    name: str
    type: type
    default: Any
    help: str

    @property
    def env(self) -> str:
        return f"OPENPUSH_{self.name.upper()}"


MB = 1024 * 1024

SETTINGS: tuple[Setting, ...] = (
    Setting("data_dir", Path, Path("openpush-data"), "Directory holding all embedded state."),
    Setting("host", str, "127.0.0.1", "Address the HTTP server binds to."),
    Setting("port", int, 8000, "Port the HTTP server listens on."),
    Setting("bootstrap_org", str, "", "Organization created at start-up if it does not exist."),
    Setting("bootstrap_api_key", str, "", "Admin API key created for the bootstrap organization."),
    Setting("worker", bool, True, "Run the indexing pipeline inside the server process."),
    Setting("worker_batch_size", int, 1000, "Operations a worker claims and applies at once."),
    Setting(
        "batch_chunk_size", int, 2000, "Batch entries applied per index commit and transaction."
    ),
    Setting("worker_poll_interval", float, 0.2, "Seconds between queue polls when idle."),
    Setting("max_request_bytes", int, 6 * MB, "Largest single push request body (413 above)."),
    Setting("max_item_content_bytes", int, 5 * MB, "Largest data/compressedBinaryData value."),
    Setting("max_decompressed_bytes", int, 64 * MB, "Largest decompressed item content."),
    Setting("max_decompression_ratio", float, 200.0, "Largest decompressed/compressed ratio."),
    Setting("max_permissions_per_item", int, 5000, "Permissions an item may hold."),
    Setting(
        "max_metadata_value_bytes", int, 1 * MB, "Largest metadata value (UTF-8; arrays summed)."
    ),
    Setting("max_dictionary_pairs", int, 100_000, "Key/value pairs of one dictionary value."),
    Setting("max_json_depth", int, 32, "Deepest nesting of objects and arrays in an item."),
    Setting("max_identity_bytes", int, 10 * 1024, "Largest identity: name, type, additionalInfo."),
    Setting(
        "max_identity_relationships",
        int,
        100_000,
        "Members, granted identities and mappings one identity push may declare.",
    ),
    Setting("throttling", bool, False, "Enforce request rates and daily item quotas (429)."),
    Setting("org_requests_per_second", float, 100.0, "Push API requests/s per organization."),
    Setting("org_request_burst", int, 1000, "Requests an organization may send at once."),
    Setting("key_requests_per_second", float, 50.0, "Push API requests/s per API key."),
    Setting("key_request_burst", int, 500, "Requests one API key may send at once."),
    Setting("daily_item_quota", int, 0, "Items an organization may push per UTC day (0: no cap)."),
    Setting("org_limits", str, "", "Per-organization overrides of the limits, as JSON."),
    Setting("search_token_secret", str, "", "Secret signing search tokens (default: generated)."),
    Setting("sqlite_synchronous", str, "FULL", "SQLite synchronous mode: FULL or NORMAL."),
    Setting("database", str, "", "State store URL: empty (SQLite in data_dir) or postgresql://…"),
    Setting(
        "queue_lease_seconds",
        float,
        60.0,
        "PostgreSQL: how long a worker's claim outlives its last heartbeat (a killed worker's "
        "operations are taken over after this).",
    ),
    Setting(
        "index",
        str,
        "",
        "Search index: empty (PostgreSQL with a PostgreSQL database, else tantivy), "
        "tantivy or postgres.",
    ),
    Setting("index_writer_heap_mb", int, 64, "Memory the index writer may buffer, in MB."),
    Setting(
        "trim_candidates",
        int,
        20_000,
        "Trimmed searches matching at most this many items decide them item by item instead "
        "of running the permission filter (embedded index; 0: always the filter).",
    ),
    Setting("log_level", str, "info", "Server log level."),
    Setting("blobs", str, "", "File-container storage: empty (local files) or s3://bucket/prefix."),
    Setting("s3_endpoint_url", str, "", "S3-compatible endpoint URL (empty: AWS)."),
    Setting("s3_region", str, "us-east-1", "Region of the S3 bucket."),
    Setting(
        "public_url", str, "", "Base URL clients reach this server at (default: the request's)."
    ),
    Setting("file_container_max_bytes", int, 256 * MB, "Largest file container (413 above)."),
    Setting("file_container_ttl_seconds", int, 3600, "How long a file container accepts use."),
    Setting(
        "olderthan_future_margin_seconds",
        int,
        300,
        "How far ahead of now a delete-older-than orderingId may lie without force=true.",
    ),
)

_BY_NAME = {s.name: s for s in SETTINGS}


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path = Path("openpush-data")
    host: str = "127.0.0.1"
    port: int = 8000
    bootstrap_org: str = ""
    bootstrap_api_key: str = ""
    worker: bool = True
    worker_batch_size: int = 1000
    batch_chunk_size: int = 2000
    worker_poll_interval: float = 0.2
    max_request_bytes: int = 6 * MB
    max_item_content_bytes: int = 5 * MB
    max_decompressed_bytes: int = 64 * MB
    max_decompression_ratio: float = 200.0
    max_permissions_per_item: int = 5000
    max_metadata_value_bytes: int = 1 * MB
    max_dictionary_pairs: int = 100_000
    max_json_depth: int = 32
    max_identity_bytes: int = 10 * 1024
    max_identity_relationships: int = 100_000
    throttling: bool = False
    org_requests_per_second: float = 100.0
    org_request_burst: int = 1000
    key_requests_per_second: float = 50.0
    key_request_burst: int = 500
    daily_item_quota: int = 0
    org_limits: str = ""
    search_token_secret: str = ""
    sqlite_synchronous: str = "FULL"
    database: str = ""
    queue_lease_seconds: float = 60.0
    index: str = ""
    index_writer_heap_mb: int = 64
    trim_candidates: int = 20_000
    log_level: str = "info"
    blobs: str = ""
    s3_endpoint_url: str = ""
    s3_region: str = "us-east-1"
    public_url: str = ""
    file_container_max_bytes: int = 256 * MB
    file_container_ttl_seconds: int = 3600
    olderthan_future_margin_seconds: int = 300
    extra: Mapping[str, Any] = field(default_factory=dict)

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    def for_org(self, org_id: str) -> Settings:
        """These settings with ``org_limits``' overrides for ``org_id`` applied (if any)."""
        if not self.org_limits:
            return self
        overrides = _parse_org_limits(self.org_limits).get(org_id)
        return dataclasses.replace(self, **overrides) if overrides else self

    def largest(self, name: str) -> Any:
        """The largest value of limit ``name`` over the default and every organization."""
        values = [getattr(self, name)]
        if self.org_limits:
            values += [o[name] for o in _parse_org_limits(self.org_limits).values() if name in o]
        return max(values)


def _cast(setting: Setting, raw: str) -> Any:
    if setting.type is bool:
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    return setting.type(raw)


def load_settings(
    overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Defaults, then ``OPENPUSH_*`` environment variables, then explicit overrides."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        if setting.env in env:
            values[setting.name] = _cast(setting, env[setting.env])
    for name, value in (overrides or {}).items():
        if name not in _BY_NAME:
            raise KeyError(f"unknown setting {name!r}")
        if value is not None:
            values[name] = value
    if "data_dir" in values:
        values["data_dir"] = Path(values["data_dir"])
    if values.get("org_limits"):
        _parse_org_limits(values["org_limits"])  # refuse a bad value at start-up
    return Settings(**values)


# The settings an organization may have its own value of (``org_limits``).
ORG_LIMITS: frozenset[str] = frozenset({
    "max_request_bytes", "max_item_content_bytes", "max_decompressed_bytes",
    "max_decompression_ratio", "max_permissions_per_item", "max_metadata_value_bytes",
    "max_dictionary_pairs", "max_json_depth", "max_identity_bytes", "max_identity_relationships",
    "file_container_max_bytes", "org_requests_per_second", "org_request_burst",
    "key_requests_per_second", "key_request_burst", "daily_item_quota",
})  # fmt: skip


@lru_cache(maxsize=8)
def _parse_org_limits(text: str) -> dict[str, dict[str, Any]]:
    """``{"org": {"limit": value}}`` (or ``@path`` to a JSON file), checked and cast."""
    source = text.strip()
    if source.startswith("@"):
        source = Path(source[1:]).read_text()
    try:
        raw = json.loads(source)
    except ValueError as exc:
        raise ValueError(f"org_limits is not valid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise ValueError("org_limits must be a JSON object keyed by organization id")
    parsed: dict[str, dict[str, Any]] = {}
    for org_id, limits in raw.items():
        if not isinstance(limits, dict):
            raise ValueError(f"org_limits[{org_id!r}] must be an object of limits")
        parsed[org_id] = {name: _limit(org_id, name, value) for name, value in limits.items()}
    return parsed


def _limit(org_id: str, name: str, value: Any) -> Any:
    if name not in ORG_LIMITS:
        allowed = ", ".join(sorted(ORG_LIMITS))
        raise ValueError(f"org_limits[{org_id!r}]: {name!r} is not a limit; one of {allowed}")
    kind = _BY_NAME[name].type
    ok = isinstance(value, int | float) and not isinstance(value, bool) and value >= 0
    if not ok or (kind is int and value != int(value)):
        raise ValueError(f"org_limits[{org_id!r}][{name!r}] must be a number >= 0, not {value!r}")
    return kind(value)
