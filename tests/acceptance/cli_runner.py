"""Running the real ``openpush`` CLI as a subprocess against an acceptance server."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time

from tests.acceptance.conftest import OpenpushServer

CLI_TIMEOUT = 60.0


def cli_env(server: OpenpushServer, api_key: str | None = None) -> dict[str, str]:
    """The environment of a CLI process: the server's URL, organization and a key."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENPUSH_")}
    env.update(
        OPENPUSH_URL=server.base_url,
        OPENPUSH_ORG=server.org,
        OPENPUSH_API_KEY=api_key or server.key,
        PYTHONUNBUFFERED="1",
    )
    return env


def run_cli(
    server: OpenpushServer, *args: str, api_key: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "openpush", *args],
        env=cli_env(server, api_key),
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        check=False,
    )


def start_cli(server: OpenpushServer, *args: str) -> subprocess.Popen[str]:
    """A long-running CLI process (``logs --follow``); stdout is a pipe of lines."""
    return subprocess.Popen(
        [sys.executable, "-m", "openpush", *args],
        env=cli_env(server),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
    )


class Lines:
    """The lines a process prints, read by a thread so a test can wait for one with a timeout."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        self.process = process
        self.seen: list[str] = []
        self._queue: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        stream = process.stdout
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            self._queue.put(line)
        self._queue.put(None)

    def until(self, wanted: str, timeout: float = 15.0) -> list[str]:
        """The lines printed from now until one containing ``wanted`` (inclusive)."""
        got: list[str] = []
        deadline = time.monotonic() + timeout
        while not any(wanted in line for line in got):
            try:
                line = self._queue.get(timeout=max(deadline - time.monotonic(), 0.001))
            except queue.Empty:
                raise AssertionError(f"no line with {wanted!r} in time; got {got}") from None
            if line is None:
                raise AssertionError(f"the process exited ({self.process.poll()}): {got}")
            got.append(line)
            self.seen.append(line)
        return got

    def rest(self) -> list[str]:
        """Whatever was printed and not read yet (after the process ended)."""
        out = []
        while True:
            try:
                line = self._queue.get(timeout=5)
            except queue.Empty:
                return out
            if line is None:
                return out
            out.append(line)
            self.seen.append(line)
