"""The blob-store protocol behind file containers (push-api.md §3).

A file container is a short-lived, private object that a connector uploads with a presigned
``PUT`` and that a later call (a batch, an item's ``compressedBinaryDataFileId``, a stream
chunk) consumes. The state store records which containers exist, to whom they belong and
whether a queued operation holds them; a blob store only keeps their bytes and signs their
upload URLs. Keys are ``(org_id, file_id)``: a blob store never lets one organization's
``file_id`` reach another's bytes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol

__all__ = ["BlobStore", "UploadTarget"]

AMZ_ENCRYPTION = "x-amz-server-side-encryption"


@dataclass(frozen=True, slots=True)
class UploadTarget:
    """Where and how a client uploads a container: what ``POST /files`` returns."""

    upload_uri: str
    required_headers: dict[str, str] = field(default_factory=dict)


class BlobStore(Protocol):
    """Bytes of file containers, addressed by ``(org_id, file_id)``."""

    def upload_target(
        self, org_id: str, file_id: str, *, base_url: str, expires_at: float
    ) -> UploadTarget:
        """A presigned upload URL valid until ``expires_at`` (epoch seconds).

        ``base_url`` is the public URL of the openpush server (``http://host:port``); stores
        that serve uploads themselves build the URL on it, others ignore it.
        """
        ...

    def size(self, org_id: str, file_id: str) -> int | None:
        """The uploaded size in bytes, or None when nothing was uploaded (yet)."""
        ...

    def open(self, org_id: str, file_id: str) -> AbstractContextManager[BinaryIO]:
        """The uploaded bytes as a readable, seekable binary file.

        Raises :class:`~openpush.errors.FileContainerNotFoundError` when nothing was uploaded.
        """
        ...

    def delete(self, org_id: str, file_id: str) -> None:
        """Remove the bytes; deleting what does not exist is not an error."""
        ...

    def iter_stored(self) -> Iterator[tuple[str, str, float]]:
        """Every stored blob as ``(org_id, file_id, modified_epoch_seconds)`` (for sweeping)."""
        ...

    def close(self) -> None: ...
