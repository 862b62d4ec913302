"""Acceptance fixtures: real ``openpush serve`` processes on a loopback port.

Every test in this directory is marked ``acceptance``. The ``openpush`` fixture starts
``python -m openpush serve`` as a subprocess with its own data directory, a bootstrap
organization and admin API key, waits for ``GET /health`` and terminates the process at the
end (SIGTERM, then SIGKILL). The object it yields can also kill the process (``kill -9``),
restart it on the same data directory and port, and wraps the few HTTP calls the tests make.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

HERE = Path(__file__).resolve().parent
JS = HERE / "js"  # Coveo's JavaScript client and CLI (package.json), and what drives them
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
EMAIL_PROVIDER = "Email Security Provider"
SETTLED_STATES = frozenset({"indexed", "rejected", "deleted"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/acceptance carries the ``acceptance`` marker."""
    for item in items:
        if HERE in item.path.resolve().parents:
            item.add_marker(pytest.mark.acceptance)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class OpenpushServer:
    """One openpush server process (and its successors after a restart)."""

    def __init__(self, root: Path, *, org: str = "acme", key: str = "acceptance-admin-key"):
        self.root = root
        self.data_dir = root / "data"
        self.org = org
        self.key = key
        self.port = free_port()
        self.host = "127.0.0.1"
        self.process: subprocess.Popen[bytes] | None = None
        self.env: dict[str, str] = {}  # extra OPENPUSH_* settings for the process
        self.args: list[str] = []  # extra command-line options of ``openpush serve``
        self.starts = 0
        self.http = requests.Session()
        self.http.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=32))
        self.http.headers["Authorization"] = f"Bearer {key}"

    # -- process lifecycle ------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None, "the server is not running"
        return self.process.pid

    @property
    def stderr_path(self) -> Path:
        return self.root / f"server-{self.starts}.stderr"

    def stderr(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def start(self) -> None:
        assert self.process is None, "the server is already running"
        self.starts += 1
        env = {k: v for k, v in os.environ.items() if not k.startswith("OPENPUSH_")}
        env["OPENPUSH_BOOTSTRAP_ORG"] = self.org
        env["OPENPUSH_BOOTSTRAP_API_KEY"] = self.key
        env["PYTHONUNBUFFERED"] = "1"
        env.update(self.env)
        command = [
            sys.executable,
            "-m",
            "openpush",
            "serve",
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
            "--log-level",
            "warning",
            *self.args,
        ]
        with (
            (self.root / f"server-{self.starts}.stdout").open("wb") as out,
            self.stderr_path.open("wb") as err,
        ):
            self.process = subprocess.Popen(command, cwd=self.root, env=env, stdout=out, stderr=err)
        self._wait_healthy()

    def _wait_healthy(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                self.process = None
                pytest.fail(
                    f"openpush serve exited with code {code} during start-up; stderr:\n"
                    f"{self.stderr()}"
                )
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{self.base_url}/health", timeout=1).status_code == 200:
                    return
            time.sleep(0.05)
        self.terminate()
        pytest.fail(
            f"openpush serve did not answer /health within {START_TIMEOUT:.0f}s; stderr:\n"
            f"{self.stderr()}"
        )

    def terminate(self) -> None:
        """SIGTERM, then SIGKILL if the process does not exit in time."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(STOP_TIMEOUT)

    def kill(self) -> float:
        """``kill -9`` the server; returns the time at which it was certainly dead."""
        process, self.process = self.process, None
        assert process is not None, "the server is not running"
        os.kill(process.pid, signal.SIGKILL)
        process.wait(STOP_TIMEOUT)
        assert process.returncode == -signal.SIGKILL, process.returncode
        self.http.close()  # drop pooled connections to the dead process
        return time.time()

    def restart(self, *, kill: bool = False) -> None:
        """Stop (gracefully, or with ``kill -9``) and start again on the same data dir and port."""
        if self.process is not None:
            if kill:
                self.kill()
            else:
                self.terminate()
        self.start()

    # -- HTTP helpers -----------------------------------------------------------------

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def push_url(self, source_id: str, suffix: str = "") -> str:
        return self.url(f"/push/v1/organizations/{self.org}/sources/{source_id}{suffix}")

    def create_source(self, name: str, visibility: str = "SECURED") -> str:
        response = self.http.post(
            self.url(f"/rest/organizations/{self.org}/sources"),
            json={"name": name, "sourceType": "PUSH", "sourceVisibility": visibility},
        )
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def put_document(self, source_id: str, document_id: str, body: dict[str, Any]) -> dict:
        response = self.http.put(
            self.push_url(source_id, "/documents"), params={"documentId": document_id}, json=body
        )
        assert response.status_code == 202, (document_id, response.status_code, response.text)
        return response.json()

    def delete_document(self, source_id: str, document_id: str) -> dict:
        response = self.http.delete(
            self.push_url(source_id, "/documents"), params={"documentId": document_id}
        )
        assert response.status_code == 202, (document_id, response.status_code, response.text)
        return response.json()

    def status(self, source_id: str, document_id: str) -> dict[str, Any]:
        response = self.http.get(
            self.push_url(source_id, "/documents/status"), params={"documentId": document_id}
        )
        assert response.status_code == 200, response.text
        return response.json()

    def wait_for_state(
        self, source_id: str, document_id: str, state: str, timeout: float = 15.0
    ) -> dict[str, Any]:
        """Poll the item status until it is ``state``; fail on another final state or timeout."""
        deadline = time.monotonic() + timeout
        while True:
            current = self.status(source_id, document_id)
            if current["state"] == state:
                return current
            if current["state"] in SETTLED_STATES:
                # a queued operation shows as accepted/processing, so a settled state is final
                pytest.fail(
                    f"{document_id!r} settled as {current['state']!r}, not {state!r}: {current}"
                )
            if time.monotonic() > deadline:
                pytest.fail(
                    f"{document_id!r} did not reach {state!r} within {timeout}s; last status: "
                    f"{current}\nserver stderr:\n{self.stderr()[-4000:]}"
                )
            time.sleep(0.05)

    def wait_for_all(
        self, source_id: str, document_ids: Iterable[str], state: str, timeout: float = 30.0
    ) -> None:
        """Wait until every one of ``document_ids`` reports ``state`` (one shared deadline)."""
        deadline = time.monotonic() + timeout
        for document_id in document_ids:
            self.wait_for_state(source_id, document_id, state, max(deadline - time.monotonic(), 0))

    def search_token(self, user: str) -> str:
        response = self.http.post(
            self.url("/rest/search/v2/token"),
            json={"userIds": [{"name": user, "provider": EMAIL_PROVIDER, "type": "User"}]},
        )
        assert response.status_code == 200, response.text
        return str(response.json()["token"])

    def search_as(self, user: str, q: str = "", number_of_results: int = 100) -> dict[str, Any]:
        """Search with a search token impersonating ``user`` (security-trimmed)."""
        token = self.search_token(user)
        response = requests.post(
            self.url("/rest/search/v2"),
            headers={"Authorization": f"Bearer {token}"},
            json={"q": q, "numberOfResults": number_of_results},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        return response.json()

    def search_all(self, q: str = "", number_of_results: int = 1000) -> dict[str, Any]:
        """A view-all-content search with the admin API key (no security trimming)."""
        response = self.http.post(
            self.url("/rest/search/v2"),
            params={"viewAllContent": "true"},
            json={"q": q, "numberOfResults": number_of_results},
        )
        assert response.status_code == 200, response.text
        return response.json()

    def logs(self, body: dict[str, Any] | None = None, per_page: int = 1000) -> list[dict]:
        """Every log entry the Logs API returns for ``body``, following ``hasNextPage``."""
        entries: list[dict] = []
        for page in range(1000):
            response = self.http.post(
                self.url(f"/logs/v1/organizations/{self.org}"),
                params={"page": page, "perPage": per_page},
                json=body or {},
            )
            assert response.status_code == 200, response.text
            payload = response.json()
            entries.extend(payload["documentLogEntries"])
            if not payload["hasNextPage"]:
                return entries
        raise AssertionError("the Logs API never stopped reporting hasNextPage")

    def close(self) -> None:
        self.terminate()
        self.http.close()


@contextlib.contextmanager
def running_server(root: Path) -> Iterator[OpenpushServer]:
    root.mkdir(parents=True, exist_ok=True)
    server = OpenpushServer(root)
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture
def openpush(tmp_path: Path) -> Iterator[OpenpushServer]:
    """A fresh openpush server for one test."""
    with running_server(tmp_path / "openpush") as server:
        yield server


@pytest.fixture(scope="module")
def openpush_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenpushServer]:
    """One openpush server shared by the tests of a module."""
    with running_server(tmp_path_factory.mktemp("openpush")) as server:
        yield server


def _node_unavailable(reason: str) -> None:
    if os.environ.get("OPENPUSH_TEST_REQUIRE_NODE") == "1":
        pytest.fail(f"{reason} (OPENPUSH_TEST_REQUIRE_NODE=1)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def node_client() -> Path:
    """``js/`` with Coveo's JavaScript client and CLI installed from the npm registry (once).

    Without Node.js or npm the tests that use it skip and say why; with
    ``OPENPUSH_TEST_REQUIRE_NODE=1`` (set by ``.ci/run``) they fail instead."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        _node_unavailable("Node.js and npm are needed to run Coveo's JavaScript client and CLI")
    wanted = (JS / "package.json").read_text()
    installed_for = JS / "node_modules" / ".openpush-package.json"  # what was installed
    if not installed_for.exists() or installed_for.read_text() != wanted:
        installed = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--no-package-lock"],
            cwd=JS,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if installed.returncode != 0:
            _node_unavailable(f"npm install of the client failed:\n{installed.stderr[-2000:]}")
        installed_for.write_text(wanted)
    return JS


def run_node(
    server: OpenpushServer, command: list[str], *, home: Path | None = None, stdin: str = ""
) -> str:
    """Run ``command`` in ``js/`` with Coveo's hosts sent to ``server`` (``js/redirect.js``,
    loaded through ``NODE_OPTIONS``); its standard output, once it has succeeded."""
    env = {
        **os.environ,
        "OPENPUSH_URL": server.base_url,
        "NODE_OPTIONS": f"--require {JS / 'redirect.js'}",
    }
    if home is not None:
        env["HOME"] = str(home)
    done = subprocess.run(
        command, cwd=JS, input=stdin, env=env, capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, (
        f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout[-3000:]}\n"
        f"{done.stderr[-3000:]}\nserver stderr:\n{server.stderr()[-3000:]}"
    )
    return done.stdout
