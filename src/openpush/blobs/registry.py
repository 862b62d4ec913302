"""The blob store that the ``blobs`` setting names.

Empty or ``file:///path`` keeps file containers on the local disk (default
``<data_dir>/files``); ``s3://bucket/prefix`` keeps them in S3-compatible storage, which needs
the ``openpush[s3]`` extra.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from openpush.blobs.base import BlobStore
from openpush.errors import InvalidParameterError
from openpush.settings import Settings

__all__ = ["open_blob_store"]

_KNOWN = "an empty value (local files), file:///path or s3://bucket/prefix"


def open_blob_store(settings: Settings, secret: bytes) -> BlobStore:
    """Build the configured store; ``secret`` signs the upload URLs of the local store."""
    url = settings.blobs.strip()
    parts = urlsplit(url)
    if not url or parts.scheme == "file":
        from openpush.blobs.local import LocalBlobStore

        if parts.netloc not in ("", "localhost"):
            raise InvalidParameterError(f"blobs {url!r}: a file: URL cannot name a remote host")
        path = unquote(parts.path)
        root = Path(path) if path else settings.data_dir / "files"
        return LocalBlobStore(root, secret, max_bytes=settings.largest("file_container_max_bytes"))
    if parts.scheme == "s3":
        from openpush.blobs.s3 import S3BlobStore

        if not parts.netloc:
            raise InvalidParameterError(f"blobs {url!r}: an s3:// URL needs a bucket name")
        return S3BlobStore(
            parts.netloc,
            parts.path.strip("/"),
            endpoint_url=settings.s3_endpoint_url or None,
            region=settings.s3_region or None,
            spool_dir=settings.data_dir / "tmp",
        )
    raise InvalidParameterError(f"unknown blob store {url!r}; use {_KNOWN}")
