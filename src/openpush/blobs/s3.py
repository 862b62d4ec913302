"""File containers in S3-compatible object storage (``blobs = s3://bucket/prefix``).

Clients upload straight to the bucket with a presigned ``PUT``, as they do against Coveo, so
the openpush server never carries the bytes of an upload. boto3 is an optional extra
(``openpush[s3]``) and is imported only when this store is built.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from openpush.blobs.base import UploadTarget
from openpush.blobs.local import REQUIRED_HEADERS, check_ids
from openpush.errors import FileContainerNotFoundError, MissingDependencyError

__all__ = ["S3BlobStore"]

# What S3 (and compatible servers) answer for an absent key: HEAD gives a bare 404, GET a
# NoSuchKey error.
_MISSING_CODES = frozenset({"404", "NoSuchKey", "NotFound"})


class S3BlobStore:
    """File containers as objects at ``<prefix>/<org_id>/<file_id>`` in one bucket."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        client: Any = None,
        spool_dir: Path | None = None,
    ) -> None:
        try:
            from botocore.exceptions import ClientError
        except ImportError as exc:
            raise MissingDependencyError("boto3", "s3") from exc
        if client is None:
            try:
                import boto3
                from botocore.config import Config
            except ImportError as exc:
                raise MissingDependencyError("boto3", "s3") from exc
            # Path-style addressing works with every S3-compatible server (MinIO, Ceph,
            # localstack) and with bucket names that contain dots; s3v4 is what presigned
            # PUTs with an encryption header need.
            config = Config(signature_version="s3v4", s3={"addressing_style": "path"})
            client = boto3.session.Session().client(
                "s3", endpoint_url=endpoint_url, region_name=region, config=config
            )
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.spool_dir = spool_dir
        self._client = client
        self._client_error: type[Exception] = ClientError

    def _key(self, org_id: str, file_id: str) -> str:
        check_ids(org_id, file_id)
        return f"{self.prefix}/{org_id}/{file_id}" if self.prefix else f"{org_id}/{file_id}"

    def _is_missing(self, exc: Exception) -> bool:
        error = getattr(exc, "response", {}).get("Error", {})
        return str(error.get("Code", "")) in _MISSING_CODES

    def upload_target(
        self, org_id: str, file_id: str, *, base_url: str, expires_at: float
    ) -> UploadTarget:
        """A presigned ``PUT`` straight to the bucket; ``base_url`` plays no part.

        The content type and the encryption header are part of the signature, so the
        required headers are exactly those: a client that sends them succeeds, one that
        sends others is refused by S3.
        """
        url = self._client.generate_presigned_url(
            "put_object",
            Params={
                "Bucket": self.bucket,
                "Key": self._key(org_id, file_id),
                "ContentType": REQUIRED_HEADERS["Content-Type"],
                "ServerSideEncryption": "AES256",
            },
            ExpiresIn=max(1, int(expires_at - time.time())),
        )
        return UploadTarget(upload_uri=url, required_headers=dict(REQUIRED_HEADERS))

    def size(self, org_id: str, file_id: str) -> int | None:
        key = self._key(org_id, file_id)
        try:
            head = self._client.head_object(Bucket=self.bucket, Key=key)
        except self._client_error as exc:
            if self._is_missing(exc):
                return None
            raise
        return int(head["ContentLength"])

    @contextlib.contextmanager
    def open(self, org_id: str, file_id: str) -> Iterator[BinaryIO]:
        """Download to a temporary file, since callers need to seek and objects can be big.

        The download streams to disk (in ``spool_dir`` when given), never into memory, and
        the file disappears when the block exits.
        """
        key = self._key(org_id, file_id)
        if self.spool_dir is not None:
            self.spool_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=self.spool_dir) as spool:
            try:
                self._client.download_fileobj(self.bucket, key, spool)
            except self._client_error as exc:
                if self._is_missing(exc):
                    raise FileContainerNotFoundError(
                        f"file container {file_id!r} holds no uploaded content"
                    ) from None
                raise
            spool.seek(0)
            yield spool

    def delete(self, org_id: str, file_id: str) -> None:
        """S3 answers a delete of an absent key with success, which is what we promise."""
        self._client.delete_object(Bucket=self.bucket, Key=self._key(org_id, file_id))

    def iter_stored(self) -> Iterator[tuple[str, str, float]]:
        """Every object under the prefix that is shaped like a container key.

        Other objects sharing the bucket (or the prefix) are not ours and are skipped.
        """
        list_prefix = f"{self.prefix}/" if self.prefix else ""
        paginator = self._client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=list_prefix):
            for obj in page.get("Contents", ()):
                parts = obj["Key"][len(list_prefix) :].split("/")
                if len(parts) != 2:
                    continue
                org_id, file_id = parts
                try:
                    check_ids(org_id, file_id)
                except FileContainerNotFoundError:
                    continue
                yield org_id, file_id, obj["LastModified"].timestamp()

    def close(self) -> None:
        close = getattr(self._client, "close", None)
        if callable(close):
            close()
