"""File containers on the local disk: the embedded default blob store.

Bytes live at ``root/<org_id>/<file_id>``. Since there is no S3 in front of this store, the
openpush server itself receives the uploads (``PUT /blobstore/{org}/{file}``), and the URL it
hands out is "presigned" the way S3's are: an expiry and an HMAC over method, organization,
file id and expiry, so only the holder of a URL that ``POST /files`` returned can upload, and
only to that one container, and only until it expires.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import os
import re
import secrets
import stat
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote

from openpush.blobs.base import AMZ_ENCRYPTION, UploadTarget
from openpush.errors import AccessDeniedError, FileContainerNotFoundError, PayloadTooLargeError

__all__ = ["REQUIRED_HEADERS", "LocalBlobStore", "check_ids"]

#: What ``POST /files`` tells clients to send with the PUT: the headers Coveo's S3 URLs need,
#: so that connectors written against Coveo run unchanged.
REQUIRED_HEADERS: dict[str, str] = {
    "Content-Type": "application/octet-stream",
    AMZ_ENCRYPTION: "AES256",
}

# A leading alphanumeric rules out ".", "..", hidden names and our own ".part" temp files;
# no "/" or "\\" rules out leaving the organization's directory.
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
_EXP = re.compile(r"[0-9]{1,15}")
_SIG = re.compile(r"[0-9a-f]{64}")
_PART_SUFFIX = ".part"


def check_ids(org_id: str, file_id: str) -> None:
    """Refuse ids that are not plain names, before they reach a path or an object key.

    Unknown and malformed ids get the same answer (the container does not exist), so a probe
    learns nothing from the difference.
    """
    for value in (org_id, file_id):
        if not isinstance(value, str) or not _ID.fullmatch(value) or value in {".", ".."}:
            raise FileContainerNotFoundError(f"file container {file_id!r} does not exist")


class LocalBlobStore:
    """File containers as files under ``root``, uploaded through signed openpush URLs."""

    def __init__(self, root: Path, secret: bytes, *, max_bytes: int) -> None:
        if not secret:
            raise ValueError("LocalBlobStore needs a non-empty signing secret")
        self.root = Path(root)
        self.max_bytes = max_bytes
        self._secret = secret

    # -- signed upload URLs ------------------------------------------------------------------

    def _signature(self, org_id: str, file_id: str, exp: int) -> str:
        message = f"PUT\n{org_id}\n{file_id}\n{exp}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def upload_target(
        self, org_id: str, file_id: str, *, base_url: str, expires_at: float
    ) -> UploadTarget:
        check_ids(org_id, file_id)
        exp = int(expires_at)
        sig = self._signature(org_id, file_id, exp)
        path = f"/blobstore/{quote(org_id, safe='')}/{quote(file_id, safe='')}"
        return UploadTarget(
            upload_uri=f"{base_url.rstrip('/')}{path}?exp={exp}&sig={sig}",
            required_headers=dict(REQUIRED_HEADERS),
        )

    def verify(
        self, org_id: str, file_id: str, exp: str | None, sig: str | None, *, now: float
    ) -> None:
        """Accept an upload only through a URL this store signed, and only until it expires.

        The signature is checked before the expiry, so an expired-URL message is only ever
        given for URLs we really issued.
        """
        check_ids(org_id, file_id)
        if not exp or not sig:
            raise AccessDeniedError("the upload URL is not signed (exp and sig are required)")
        if not _EXP.fullmatch(exp):
            raise AccessDeniedError("the upload URL has a malformed expiry (exp)")
        if not _SIG.fullmatch(sig.lower()):
            raise AccessDeniedError("the upload URL has a malformed signature (sig)")
        expected = self._signature(org_id, file_id, int(exp))
        if not hmac.compare_digest(expected, sig.lower()):
            raise AccessDeniedError("the upload URL signature does not match")
        if now > int(exp):
            raise AccessDeniedError("the upload URL expired")

    # -- bytes -------------------------------------------------------------------------------

    def _path(self, org_id: str, file_id: str) -> Path:
        check_ids(org_id, file_id)
        return self.root / org_id / file_id

    async def write(self, org_id: str, file_id: str, chunks: AsyncIterator[bytes]) -> int:
        """Stream an upload to disk and return its size; refuse it past ``max_bytes``.

        The body goes to a private temporary file next to the final one, which replaces the
        final file only once complete: readers never see half an upload, a repeated PUT
        replaces the bytes (as on S3), and a refused or broken upload leaves what was there.
        Reading stops at the first chunk over the limit, so an oversized body is neither kept
        in memory nor written in full.
        """
        target = self._path(org_id, file_id)
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = target.with_name(f".{file_id}.{secrets.token_hex(8)}{_PART_SUFFIX}")
        size = 0
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise PayloadTooLargeError(
                            f"the file container exceeds the limit of {self.max_bytes} bytes"
                        )
                    out.write(chunk)
                out.flush()
                # fsync can take a while on a busy disk: keep it off the event loop.
                await asyncio.to_thread(os.fsync, out.fileno())
            temp.replace(target)  # os.replace: atomic, and overwrites a previous upload
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        finally:
            aclose = getattr(chunks, "aclose", None)
            if aclose is not None:
                await aclose()
        return size

    def size(self, org_id: str, file_id: str) -> int | None:
        try:
            return self._path(org_id, file_id).stat().st_size
        except (FileNotFoundError, NotADirectoryError):
            return None

    @contextlib.contextmanager
    def open(self, org_id: str, file_id: str) -> Iterator[BinaryIO]:
        path = self._path(org_id, file_id)
        try:
            handle = path.open("rb")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise FileContainerNotFoundError(
                f"file container {file_id!r} holds no uploaded content"
            ) from None
        with handle:
            yield handle

    def delete(self, org_id: str, file_id: str) -> None:
        """Remove the file; the organization's directory stays, so a concurrent ``write``
        never finds its directory gone between creating it and opening its temp file."""
        with contextlib.suppress(NotADirectoryError):
            self._path(org_id, file_id).unlink(missing_ok=True)

    def iter_stored(self) -> Iterator[tuple[str, str, float]]:
        """Every complete upload; temp files of uploads in progress are not containers yet.

        Files deleted while the walk runs are skipped, not reported.
        """
        try:
            org_dirs = sorted(self.root.iterdir())
        except FileNotFoundError:
            return
        for org_dir in org_dirs:
            if not _ID.fullmatch(org_dir.name) or not org_dir.is_dir():
                continue
            try:
                entries = sorted(org_dir.iterdir())
            except (FileNotFoundError, NotADirectoryError):
                continue
            for entry in entries:
                if not _ID.fullmatch(entry.name):
                    continue
                try:
                    info = entry.stat()
                except FileNotFoundError:
                    continue
                if stat.S_ISREG(info.st_mode):
                    yield org_dir.name, entry.name, info.st_mtime

    def close(self) -> None:
        """Nothing to release: every method opens and closes its own files."""
