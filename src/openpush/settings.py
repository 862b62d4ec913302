"""Every setting of openpush, declared once.

Each row of ``SETTINGS`` names a setting, its type, default, environment variable
(``OPENPUSH_<NAME>``) and help text. The CLI builds its options from the same table, and
``docs/settings.md`` documents each row (a test checks that).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["SETTINGS", "Setting", "Settings", "load_settings"]


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
    Setting("search_token_secret", str, "", "Secret signing search tokens (default: generated)."),
    Setting("sqlite_synchronous", str, "FULL", "SQLite synchronous mode: FULL or NORMAL."),
    Setting("index_writer_heap_mb", int, 64, "Memory the index writer may buffer, in MB."),
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
    search_token_secret: str = ""
    sqlite_synchronous: str = "FULL"
    index_writer_heap_mb: int = 64
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
    return Settings(**values)
