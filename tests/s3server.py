"""An in-process S3 (moto's server) for tests of the S3 blob store.

Not registered globally: a test module that needs it imports the fixtures explicitly
(``from tests.s3server import s3_bucket, s3_server  # noqa: F401``). A real HTTP server,
rather than moto's in-memory mock, lets tests PUT to presigned URLs with ``requests`` the way
connectors do.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator

import pytest

__all__ = ["s3_bucket", "s3_server"]

DUMMY_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
# Settings of the developer's shell that would send boto3 elsewhere or make it fail.
STRAY_AWS_ENV = (
    "AWS_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """The endpoint URL of a moto S3 server on a free local port, with dummy credentials."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as exc:
        pytest.skip(f"moto[server] is not installed ({exc}); pip install -e '.[test]'")
    with pytest.MonkeyPatch.context() as mp:
        for name in STRAY_AWS_ENV:
            mp.delenv(name, raising=False)
        for name, value in DUMMY_AWS_ENV.items():
            mp.setenv(name, value)
        # werkzeug logs every request moto serves; keep test output readable.
        werkzeug_log = logging.getLogger("werkzeug")
        previous_level = werkzeug_log.level
        werkzeug_log.setLevel(logging.WARNING)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        try:
            host, port = server.get_host_and_port()
            yield f"http://{host}:{port}"
        finally:
            server.stop()
            werkzeug_log.setLevel(previous_level)


@pytest.fixture
def s3_bucket(s3_server: str) -> tuple[str, str]:
    """A fresh, empty bucket on the moto server: ``(endpoint_url, bucket_name)``."""
    import boto3

    name = f"openpush-test-{uuid.uuid4().hex[:16]}"
    client = boto3.session.Session().client("s3", endpoint_url=s3_server, region_name="us-east-1")
    try:
        client.create_bucket(Bucket=name)
    finally:
        client.close()
    return s3_server, name
