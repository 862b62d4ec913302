"""Push → searchable latency and single-PUT throughput of a real ``openpush serve`` process.

Usage::

    .venv/bin/python bench/push_latency.py [--rate 50] [--duration 20] [--concurrency 16]
                                           [--port P] [--keep] [--json]

Phases (see bench/README.md for what every figure means):

1. start ``openpush serve`` as a subprocess on a temporary data directory, create a SECURED
   Push source, warm up;
2. steady rate: single-item PUTs at a fixed, open-loop rate; a poller searches for the items'
   unique words (one OR query per poll) and records, per item, the time from sending its PUT
   to the first search response that returns it;
3. throughput: closed-loop single PUTs from C concurrent clients for a few seconds, then the
   time until the index has caught up (every accepted item searchable);
4. stop the server (SIGTERM, then SIGKILL), then run the same work on raw tantivy (no HTTP,
   no queue, no state store) as the baseline the table compares against.

This is a benchmark: it prints PASS/MISS against the 1 s p95 target but never fails on it. The
exit status is non-zero only when the benchmark itself could not run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import hashlib
import math
import os
import platform
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson
import tantivy

ORG = "benchorg"
API_KEY = "bench-admin-key"
TARGET_P95_MS = 1000.0
TARGET_RATE = 50.0
USERS = [f"user{i}@example.com" for i in range(5)]
MAX_WORDS_PER_POLL = 256

_VOCABULARY = tuple(
    " ".join(
        (
            "report revenue quarter growth customer market product service platform search index",
            "document connector permission security identity source pipeline ordering latency",
            "engine query result relevance ranking field metadata content crawler update delete",
            "batch stream analysis forecast budget region partner contract invoice shipment",
            "warehouse inventory support ticket incident release feature roadmap design review",
            "meeting summary decision",
        )
    ).split()
)


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- statistics -------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float | None:
    """Linear-interpolated percentile (p in 0..100) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * p / 100.0
    low = math.floor(rank)
    high = math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary_ms(seconds: list[float]) -> dict[str, float | int | None]:
    ms = [s * 1000.0 for s in seconds]
    return {
        "n": len(ms),
        "p50": percentile(ms, 50),
        "p95": percentile(ms, 95),
        "p99": percentile(ms, 99),
        "max": max(ms) if ms else None,
        "mean": sum(ms) / len(ms) if ms else None,
    }


# -- CPU accounting ---------------------------------------------------------------------------

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat_ticks(path: Path) -> tuple[str, int] | None:
    """(command name, utime + stime) from a /proc/.../stat file."""
    try:
        text = path.read_text()
    except OSError:
        return None
    name = text[text.find("(") + 1 : text.rfind(")")]
    fields = text.rsplit(")", 1)[1].split()
    return name, int(fields[11]) + int(fields[12])


def _proc_ticks(pid: int) -> int | None:
    found = _stat_ticks(Path(f"/proc/{pid}/stat"))
    return found[1] if found else None


def _thread_ticks(pids: list[int]) -> dict[str, tuple[str, int]]:
    """Per live thread of ``pids``: (thread name, ticks)."""
    out = {}
    for pid in pids:
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{pid}/task").iterdir():
                found = _stat_ticks(task / "stat")
                if found:
                    out[f"{pid}/{task.name}"] = found
    return out


def _system_ticks() -> tuple[int, int] | None:
    """(busy, total) jiffies over all CPUs."""
    try:
        parts = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    idle = parts[3] + (parts[4] if len(parts) > 4 else 0)
    return sum(parts) - idle, sum(parts)


@dataclass
class CpuSample:
    wall: float
    client: float
    server: int | None
    system: tuple[int, int] | None
    threads: dict[str, tuple[str, int]]


def cpu_sample(server_pids: list[int]) -> CpuSample:
    ticks = [_proc_ticks(pid) for pid in server_pids]
    server = None if not ticks or None in ticks else sum(t for t in ticks if t is not None)
    return CpuSample(
        time.monotonic(), time.process_time(), server, _system_ticks(), _thread_ticks(server_pids)
    )


EXITED = "(exited threads)"


def cpu_usage(a: CpuSample, b: CpuSample) -> dict[str, Any]:
    """CPU use between two samples, in percent of ONE core (200 % = both cores of 2).

    ``threads`` splits the server's share by thread name (Python threads are all named after
    the interpreter; tantivy names its own); threads that ended before the second sample only
    show in the process total, and the difference is reported as ``(exited threads)``.
    """
    wall = max(b.wall - a.wall, 1e-9)
    client = 100.0 * (b.client - a.client) / wall
    server = None
    threads: dict[str, float] = {}
    if a.server is not None and b.server is not None:
        server = 100.0 * (b.server - a.server) / _TICKS / wall
        for tid, (name, ticks) in b.threads.items():
            before = a.threads.get(tid, (name, 0))[1]
            threads[name] = threads.get(name, 0.0) + 100.0 * (ticks - before) / _TICKS / wall
        threads[EXITED] = max(server - sum(threads.values()), 0.0)
        threads = {k: v for k, v in sorted(threads.items(), key=lambda kv: -kv[1]) if v >= 0.5}
    total = other = None
    if a.system and b.system:
        busy = b.system[0] - a.system[0]
        span = max(b.system[1] - a.system[1], 1)
        total = 100.0 * (os.cpu_count() or 1) * busy / span
        other = max(total - client - (server or 0.0), 0.0)
    return {"server": server, "client": client, "other": other, "total": total, "threads": threads}


# -- the server under test --------------------------------------------------------------------


def free_port(wanted: int = 0) -> int:
    """``wanted`` if nothing listens on it (else RuntimeError), or any free port when 0."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", wanted))
        except OSError as exc:
            raise RuntimeError(f"port {wanted} is not free: {exc}") from None
        return int(sock.getsockname()[1])


class Child:
    """One child process with its output in a log file."""

    def __init__(self, name: str, command: list[str], log_path: Path, env: dict[str, str]) -> None:
        self.name = name
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.proc = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT, env=env)
        self.exit_code: int | None = None
        self.killed = False
        self.shutdown_seconds: float | None = None

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_offset(self) -> int:
        self._log.flush()
        return self.log_path.stat().st_size

    def log_text(self, start: int = 0, end: int | None = None) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_bytes()[start:end].decode("utf-8", "replace")
        return ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def terminate(self) -> None:
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)

    def wait(self, started: float, grace: float) -> None:
        try:
            self.exit_code = self.proc.wait(max(grace - (time.monotonic() - started), 0.1))
        except subprocess.TimeoutExpired:
            self.killed = True
            self.proc.kill()
            self.exit_code = self.proc.wait(5)
        self.shutdown_seconds = time.monotonic() - started
        self._log.close()


class Server:
    """``openpush serve`` (API and pipeline in one process), or with ``split_worker`` the API
    (``serve --no-worker``) and the pipeline (``openpush worker``) as two processes."""

    def __init__(self, data_dir: Path, port: int, log_level: str, split_worker: bool) -> None:
        self.data_dir = data_dir
        self.port = port
        self.log_level = log_level
        self.split_worker = split_worker
        self.base = f"http://127.0.0.1:{port}"
        self.api: Child | None = None
        self.worker: Child | None = None

    def _command(self, *args: str) -> list[str]:
        return [
            sys.executable,
            "-m",
            "openpush",
            *args,
            "--data-dir",
            str(self.data_dir),
            "--log-level",
            self.log_level,
        ]

    def start(self, timeout: float = 30.0) -> None:
        env = dict(os.environ)
        env["OPENPUSH_BOOTSTRAP_ORG"] = ORG
        env["OPENPUSH_BOOTSTRAP_API_KEY"] = API_KEY
        serve = ["serve", "--port", str(self.port)]
        if self.split_worker:
            serve.append("--no-worker")
        self.api = Child("serve", self._command(*serve), self.data_dir.parent / "server.log", env)
        deadline = time.monotonic() + timeout
        while True:
            if not self.api.alive():
                raise RuntimeError(
                    f"openpush serve exited with {self.api.proc.returncode}:\n{self.api.log_tail()}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base}/health", timeout=1.0).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"openpush serve did not answer /health in {timeout}s")
            time.sleep(0.05)
        if not self.split_worker:
            return
        self.worker = Child(
            "worker", self._command("worker"), self.data_dir.parent / "worker.log", env
        )
        while "worker running" not in self.worker.log_text():
            if not self.worker.alive():
                raise RuntimeError(f"openpush worker exited:\n{self.worker.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"openpush worker did not start in {timeout}s")
            time.sleep(0.05)

    @property
    def children(self) -> list[Child]:
        return [c for c in (self.api, self.worker) if c is not None]

    @property
    def pids(self) -> list[int]:
        return [c.proc.pid for c in self.children]

    @property
    def pipeline(self) -> Child | None:
        """The process whose log holds the worker rounds."""
        return self.worker or self.api

    def rss_mb(self) -> float | None:
        total = 0.0
        for pid in self.pids:
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) / 1024.0
            except OSError:
                return None
        return total

    def stop(self, grace: float = 15.0) -> None:
        """SIGTERM every process, SIGKILL what is still there after ``grace`` seconds."""
        started = time.monotonic()
        for child in self.children:
            child.terminate()
        for child in self.children:
            child.wait(started, grace)

    def shutdown(self) -> dict[str, Any]:
        out = {}
        for child in self.children:
            text = child.log_text()
            graceful = (
                "Finished server process" in text if child.name == "serve" else child.exit_code == 0
            )
            out[child.name] = {
                "exit_code": child.exit_code,
                "seconds": child.shutdown_seconds,
                "killed": child.killed,
                "graceful": graceful and not child.killed,
            }
        return out

    def log_tail(self) -> str:
        return "\n".join(f"--- {c.name}\n{c.log_tail()}" for c in self.children)


_PROBLEM = re.compile(r"^\S+ \S+ (WARNING|ERROR|CRITICAL) |^(ERROR|WARNING|CRITICAL):|Traceback")


def log_problems(text: str) -> list[str]:
    """WARNING/ERROR lines and tracebacks in the server log."""
    return [line for line in text.splitlines() if _PROBLEM.search(line)]


_ROUND = re.compile(r"applied (\d+) operations in ([0-9.]+)s")


def worker_rounds(text: str) -> dict[str, Any] | None:
    """Worker rounds from the server's debug log (``applied N operations in Xs``)."""
    rounds = [(int(n), float(s)) for n, s in _ROUND.findall(text)]
    if not rounds:
        return None
    sizes = [n for n, _ in rounds]
    return {
        "rounds": len(rounds),
        "ops": sum(sizes),
        "ops_per_round_mean": sum(sizes) / len(sizes),
        "ops_per_round_max": max(sizes),
        "round_ms": summary_ms([s for _, s in rounds]),
    }


# -- items ------------------------------------------------------------------------------------


def unique_word(run: str, phase: str, i: int) -> str:
    # letters and digits only (one token for the simple tokenizer); fixed length and a final
    # 'z' so that English stemming can neither change nor merge two of them
    return f"q{run}{phase}{i:07d}z"


def filler(rng: random.Random, size: int = 1000) -> str:
    words: list[str] = []
    length = 0
    while length < size:
        word = rng.choice(_VOCABULARY)
        words.append(word)
        length += len(word) + 1
    return " ".join(words)


def item_body(rng: random.Random, i: int, words: list[str]) -> dict[str, Any]:
    user = USERS[i % len(USERS)]
    text = filler(rng)
    cut = rng.randrange(0, len(text) // 2)
    cut = text.rfind(" ", 0, cut) + 1
    return {
        "title": f"Bench item {i} {rng.choice(_VOCABULARY)} {rng.choice(_VOCABULARY)}",
        "data": f"{text[:cut]}{' '.join(words)} {text[cut:]}",
        "author": f"author{i % 7}",
        "category": rng.choice(["alpha", "beta", "gamma", "delta"]),
        "permissions": [{"allowedPermissions": [{"identity": user, "identityType": "User"}]}],
    }


# -- HTTP clients -----------------------------------------------------------------------------


class TransportError(Exception):
    """A request that got no HTTP response (connection refused or reset, timeout...)."""


class RawHttpPool:
    """A minimal HTTP/1.1 keep-alive client over asyncio streams.

    httpx costs ~2.4 ms of client CPU per request here (it saturates one core at ~400 req/s), and
    on a 2-core machine every client cycle is taken from the server under test. This pool speaks
    just what uvicorn answers (status line, headers, Content-Length or chunked body) for ~0.05 ms.
    """

    # uvicorn closes a keep-alive connection after 5 s without a request; reusing one it is
    # closing just then fails, so idle connections are retired well before that
    IDLE_LIMIT = 2.0

    def __init__(self, base: str, max_connections: int, timeout: float = 60.0) -> None:
        host, _, port = base.removeprefix("http://").partition(":")
        self.host, self.port = host, int(port or 80)
        self.timeout = timeout
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []
        self._slots = asyncio.Semaphore(max_connections)
        self.retries = 0

    async def request(
        self, method: str, path: str, headers: dict[str, str], body: bytes = b""
    ) -> tuple[int, bytes]:
        async with self._slots:
            try:
                return await asyncio.wait_for(
                    self._request(method, path, headers, body), self.timeout
                )
            except (
                OSError,
                asyncio.IncompleteReadError,
                asyncio.LimitOverrunError,
                ValueError,
                TimeoutError,
            ) as exc:
                raise TransportError(type(exc).__name__) from exc

    async def _connection(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bool]:
        now = time.monotonic()
        while self._idle:
            reader, writer, since = self._idle.pop()
            if now - since < self.IDLE_LIMIT and not reader.at_eof() and not writer.is_closing():
                return reader, writer, True
            writer.close()
        reader, writer = await asyncio.open_connection(self.host, self.port)
        return reader, writer, False

    async def _request(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, bytes]:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        lines.append(f"Content-Length: {len(body)}")
        message = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        reader, writer, reused = await self._connection()
        try:
            return await self._exchange(reader, writer, message)
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            partial = getattr(exc, "partial", b"")
            if not reused or partial:
                raise
        # the server had closed the reused connection without answering: the request never
        # reached it, so sending it again on a new connection is safe
        self.retries += 1
        reader, writer = await asyncio.open_connection(self.host, self.port)
        return await self._exchange(reader, writer, message)

    async def _exchange(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, message: bytes
    ) -> tuple[int, bytes]:
        try:
            writer.write(message)
            head = await reader.readuntil(b"\r\n\r\n")
            status_line, *header_lines = head[:-4].decode("latin-1").split("\r\n")
            status = int(status_line.split(" ", 2)[1])
            fields = {}
            for line in header_lines:
                name, _, value = line.partition(":")
                fields[name.strip().lower()] = value.strip()
            if fields.get("transfer-encoding", "").lower() == "chunked":
                data = await self._chunked(reader)
            else:
                data = await reader.readexactly(int(fields.get("content-length", "0")))
        except BaseException:
            writer.close()
            raise
        if fields.get("connection", "").lower() == "close":
            writer.close()
        else:
            self._idle.append((reader, writer, time.monotonic()))
        return status, data

    @staticmethod
    async def _chunked(reader: asyncio.StreamReader) -> bytes:
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                return b"".join(parts)
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)

    async def aclose(self) -> None:
        for _, writer, _ in self._idle:
            writer.close()
        self._idle.clear()


class HttpxPool:
    """The same interface on httpx (``--client httpx``), for comparison."""

    def __init__(self, base: str, max_connections: int, timeout: float = 60.0) -> None:
        limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        self._client = httpx.AsyncClient(base_url=base, timeout=timeout, limits=limits)

    async def request(
        self, method: str, path: str, headers: dict[str, str], body: bytes = b""
    ) -> tuple[int, bytes]:
        try:
            response = await self._client.request(method, path, headers=headers, content=body)
        except httpx.HTTPError as exc:
            raise TransportError(type(exc).__name__) from exc
        return response.status_code, response.content

    async def aclose(self) -> None:
        await self._client.aclose()


Pool = RawHttpPool | HttpxPool


def make_pool(kind: str, base: str, max_connections: int) -> Pool:
    return (
        HttpxPool(base, max_connections) if kind == "httpx" else RawHttpPool(base, max_connections)
    )


# -- openpush phases --------------------------------------------------------------------------


@dataclass
class Target:
    base: str
    source_id: str
    search_headers: dict[str, str]
    search_params: dict[str, str]
    client: str = "raw"

    def put_path(self, uri: str) -> str:
        query = urlencode({"documentId": uri})
        return f"/push/v1/organizations/{ORG}/sources/{self.source_id}/documents?{query}"

    def search_path(self) -> str:
        query = urlencode(self.search_params)
        return f"/rest/search/v2?{query}" if query else "/rest/search/v2"


def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}


def setup_source(base: str, secured_poll: bool) -> Target:
    with httpx.Client(base_url=base, headers=admin_headers(), timeout=30.0) as client:
        response = client.post(
            f"/rest/organizations/{ORG}/sources",
            content=orjson.dumps(
                {"name": "bench", "sourceType": "PUSH", "sourceVisibility": "SECURED"}
            ),
        )
        if response.status_code != 201:
            raise RuntimeError(f"creating the source: {response.status_code} {response.text}")
        source_id = response.json()["id"]
        if not secured_poll:
            return Target(base, source_id, admin_headers(), {"viewAllContent": "true"})
        response = client.post(
            "/rest/search/v2/token",
            content=orjson.dumps(
                {"userIds": [{"name": u, "provider": "Email Security Provider"} for u in USERS]}
            ),
        )
        response.raise_for_status()
        token = response.json()["token"]
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        return Target(base, source_id, headers, {})


@dataclass
class Pending:
    uri: str
    word: str
    sent: float
    found: float | None = None


@dataclass
class SteadyResult:
    latencies: list[float] = field(default_factory=list)
    latencies_to_search_sent: list[float] = field(default_factory=list)
    put_latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    sent: int = 0
    accepted: int = 0
    never_found: int = 0
    elapsed: float = 0.0
    max_schedule_lag: float = 0.0
    polls: int = 0
    poll_latencies: list[float] = field(default_factory=list)
    poll_errors: Counter[str] = field(default_factory=Counter)


class SearchPoller:
    """Finds pending items with OR queries of their unique words."""

    def __init__(self, client: Pool, target: Target, result: SteadyResult) -> None:
        self.client = client
        self.target = target
        self.result = result
        self.pending: dict[str, Pending] = {}  # uri -> item
        self.by_word: dict[str, Pending] = {}

    def add(self, item: Pending) -> None:
        self.pending[item.uri] = item

    async def poll_once(self) -> None:
        items = list(self.pending.values())
        for start in range(0, len(items), MAX_WORDS_PER_POLL):
            chunk = items[start : start + MAX_WORDS_PER_POLL]
            body = {
                "q": " OR ".join(p.word for p in chunk),
                "numberOfResults": len(chunk),
                "fieldsToInclude": ["title"],
                "excerptLength": 0,
            }
            began = time.perf_counter()
            try:
                status, content = await self.client.request(
                    "POST",
                    self.target.search_path(),
                    self.target.search_headers,
                    orjson.dumps(body),
                )
            except TransportError as exc:
                self.result.poll_errors[str(exc)] += 1
                continue
            now = time.perf_counter()
            self.result.polls += 1
            self.result.poll_latencies.append(now - began)
            if status != 200:
                self.result.poll_errors[str(status)] += 1
                continue
            for hit in orjson.loads(content)["results"]:
                item = self.pending.pop(hit["uri"], None)
                if item is not None and item.found is None:
                    item.found = now
                    self.result.latencies.append(now - item.sent)
                    self.result.latencies_to_search_sent.append(max(began - item.sent, 0.0))

    async def run(self, interval: float, stop: asyncio.Event) -> None:
        while not stop.is_set():
            began = time.perf_counter()
            if self.pending:
                await self.poll_once()
            elapsed = time.perf_counter() - began
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), max(interval - elapsed, 0.001))


_ADMIN_HEADERS = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}


async def put_item(
    client: Pool, target: Target, uri: str, body: bytes, errors: Counter[str]
) -> tuple[bool, float]:
    began = time.perf_counter()
    try:
        status, _ = await client.request("PUT", target.put_path(uri), _ADMIN_HEADERS, body)
    except TransportError as exc:
        errors[str(exc)] += 1
        return False, time.perf_counter() - began
    elapsed = time.perf_counter() - began
    if status != 202:
        errors[str(status)] += 1
        return False, elapsed
    return True, elapsed


async def steady_phase(
    target: Target,
    run: str,
    phase: str,
    rate: float,
    duration: float,
    poll_interval: float,
    settle_timeout: float,
) -> SteadyResult:
    result = SteadyResult()
    rng = random.Random(f"{run}-{phase}")
    count = max(round(rate * duration), 1)
    pusher = make_pool(target.client, target.base, 256)
    searcher = make_pool(target.client, target.base, 1)
    try:
        poller = SearchPoller(searcher, target, result)
        stop = asyncio.Event()
        poll_task = asyncio.create_task(poller.run(poll_interval, stop))
        bodies = []
        for i in range(count):
            word = unique_word(run, phase, i)
            uri = f"https://bench.example.com/{phase}/{i}"
            bodies.append((uri, word, orjson.dumps(item_body(rng, i, [word]))))

        async def one(uri: str, word: str, body: bytes) -> None:
            item = Pending(uri, word, time.perf_counter())
            poller.add(item)
            ok, elapsed = await put_item(pusher, target, uri, body, result.errors)
            result.sent += 1
            if ok:
                result.accepted += 1
                result.put_latencies.append(elapsed)
            else:
                poller.pending.pop(uri, None)

        tasks = []
        start = time.perf_counter()
        for i, (uri, word, body) in enumerate(bodies):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            result.max_schedule_lag = max(result.max_schedule_lag, time.perf_counter() - due)
            tasks.append(asyncio.create_task(one(uri, word, body)))
        await asyncio.gather(*tasks)
        result.elapsed = time.perf_counter() - start
        deadline = time.perf_counter() + settle_timeout
        while poller.pending and time.perf_counter() < deadline:
            await asyncio.sleep(poll_interval)
        result.never_found = len(poller.pending)
        stop.set()
        await poll_task
    finally:
        await pusher.aclose()
        await searcher.aclose()
    return result


@dataclass
class ThroughputResult:
    accepted: int = 0
    put_latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    load_seconds: float = 0.0
    catch_up_seconds: float | None = None
    searchable: int = 0
    total_seconds: float | None = None


async def count_word(client: Pool, target: Target, word: str) -> int | None:
    try:
        status, content = await client.request(
            "POST",
            target.search_path(),
            target.search_headers,
            orjson.dumps({"q": word, "numberOfResults": 0}),
        )
    except TransportError:
        return None
    if status != 200:
        return None
    return int(orjson.loads(content)["totalCount"])


async def throughput_phase(
    target: Target,
    run: str,
    concurrency: int,
    duration: float,
    poll_interval: float,
    settle_timeout: float,
) -> ThroughputResult:
    result = ThroughputResult()
    rng = random.Random(f"{run}-tp")
    marker = f"q{run}tpmarkz"
    # pre-build the bodies so the client spends its CPU on HTTP, not on JSON
    bodies = [orjson.dumps(item_body(rng, i, [marker])) for i in range(512)]
    counter = iter(range(10**9))
    pusher = make_pool(target.client, target.base, concurrency)
    searcher = make_pool(target.client, target.base, 1)
    try:
        start = time.perf_counter()
        deadline = start + duration

        async def client_loop() -> float:
            last = start
            while time.perf_counter() < deadline:
                i = next(counter)
                uri = f"https://bench.example.com/tp/{i}"
                ok, elapsed = await put_item(
                    pusher, target, uri, bodies[i % len(bodies)], result.errors
                )
                last = time.perf_counter()
                if ok:
                    result.accepted += 1
                    result.put_latencies.append(elapsed)
            return last

        ends = await asyncio.gather(*(client_loop() for _ in range(concurrency)))
        load_end = max(ends)
        result.load_seconds = load_end - start
        give_up = time.perf_counter() + settle_timeout
        while time.perf_counter() < give_up:
            found = await count_word(searcher, target, marker)
            now = time.perf_counter()
            if found is not None:
                result.searchable = found
                if found >= result.accepted:
                    result.catch_up_seconds = max(now - load_end, 0.0)
                    result.total_seconds = now - start
                    break
            await asyncio.sleep(poll_interval)
    finally:
        await pusher.aclose()
        await searcher.aclose()
    return result


async def warm_up(target: Target, run: str, count: int, poll_interval: float) -> None:
    if count <= 0:
        return
    await steady_phase(
        target,
        run,
        "wu",
        rate=max(count / 2.0, 1.0),
        duration=2.0,
        poll_interval=poll_interval,
        settle_timeout=30.0,
    )


# -- raw tantivy baseline ---------------------------------------------------------------------


def acl_token(identity: str) -> int:
    return int.from_bytes(hashlib.blake2b(identity.encode(), digest_size=8).digest(), "big")


class RawIndex:
    """The engine-side equivalent of an openpush item: same kinds of fields, same writer setup."""

    def __init__(self, path: Path, heap_mb: int = 128, threads: int = 1) -> None:
        sb = tantivy.SchemaBuilder()
        sb.add_text_field("uid", stored=True, tokenizer_name="raw")
        sb.add_text_field("org", stored=False, tokenizer_name="raw", index_option="basic")
        sb.add_text_field("source", stored=True, tokenizer_name="raw", index_option="basic")
        sb.add_text_field("uri", stored=True, tokenizer_name="raw", index_option="basic")
        sb.add_text_field("title", stored=True, tokenizer_name="en_stem")
        sb.add_text_field("body", stored=True, tokenizer_name="en_stem")
        sb.add_integer_field("date", stored=False, indexed=True, fast=True)
        sb.add_unsigned_field("acl", stored=False, indexed=True)
        sb.add_json_field("fx", stored=False, fast=True, tokenizer_name="raw", index_option="basic")
        sb.add_bytes_field("rawb", stored=True, indexed=False)
        self.schema = sb.build()
        path.mkdir(parents=True, exist_ok=True)
        self.index = tantivy.Index(self.schema, path=str(path))
        self.writer = self.index.writer(heap_size=heap_mb * 1024 * 1024, num_threads=threads)
        self.searcher = self.index.searcher()
        self.user_tokens = sorted(acl_token(u) for u in USERS)

    def upsert(self, i: int, item: dict[str, Any], uri: str) -> None:
        uid = f"{ORG}\x1fsrc\x1f{uri}"
        self.writer.delete_documents_by_term("uid", uid)
        doc = tantivy.Document()
        doc.add_text("uid", uid)
        doc.add_text("org", ORG)
        doc.add_text("source", "src")
        doc.add_text("uri", uri)
        doc.add_text("title", item["title"])
        doc.add_text("body", item["data"])
        doc.add_integer("date", int(time.time() * 1000))
        doc.add_unsigned("acl", acl_token(USERS[i % len(USERS)]))
        doc.add_json("fx", orjson.dumps({"author": [item["author"]]}).decode())
        doc.add_bytes("rawb", orjson.dumps({k: v for k, v in item.items() if k != "data"}))
        self.writer.add_document(doc)

    def commit_and_reload(self) -> None:
        self.writer.commit()
        self.index.reload()
        self.searcher = self.index.searcher()

    def find(self, word: str, limit: int = 10) -> list[str]:
        query = tantivy.Query.boolean_query(
            [
                (tantivy.Occur.Must, self.index.parse_query(word, ["title", "body"])),
                (tantivy.Occur.Must, tantivy.Query.term_query(self.schema, "org", ORG)),
                (
                    tantivy.Occur.Must,
                    tantivy.Query.term_set_query(self.schema, "acl", self.user_tokens),
                ),
            ]
        )
        hits = self.searcher.search(query, limit, count=True).hits
        return [self.searcher.doc(address)["uri"][0] for _, address in hits]

    def count(self, word: str) -> int:
        query = self.index.parse_query(word, ["title", "body"])
        return int(self.searcher.search(query, 1, count=True).count or 0)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.wait_merging_threads()


@dataclass
class RawLatencyResult:
    latencies: list[float] = field(default_factory=list)
    add: list[float] = field(default_factory=list)
    commit_reload: list[float] = field(default_factory=list)
    search: list[float] = field(default_factory=list)
    elapsed: float = 0.0
    count: int = 0
    missed: int = 0
    cpu_seconds: float = 0.0


def raw_latency(path: Path, run: str, rate: float, duration: float) -> RawLatencyResult:
    """Add one item, commit, reload, search for it: the raw add→searchable path, at ``rate``."""
    raw = RawIndex(path)
    rng = random.Random(f"{run}-raw")
    result = RawLatencyResult()
    count = max(round(rate * duration), 1)
    items = []
    for i in range(count):
        word = unique_word(run, "rl", i)
        items.append((word, f"https://bench.example.com/raw/{i}", item_body(rng, i, [word])))
    start, cpu = time.perf_counter(), time.process_time()
    for i, (word, uri, item) in enumerate(items):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        t0 = time.perf_counter()
        raw.upsert(i, item, uri)
        t1 = time.perf_counter()
        raw.commit_and_reload()
        t2 = time.perf_counter()
        found = uri in raw.find(word)
        t3 = time.perf_counter()
        if not found:
            result.missed += 1
            continue
        result.add.append(t1 - t0)
        result.commit_reload.append(t2 - t1)
        result.search.append(t3 - t2)
        result.latencies.append(t3 - t0)
    result.elapsed = time.perf_counter() - start
    result.cpu_seconds = time.process_time() - cpu
    result.count = count
    raw.close()
    return result


@dataclass
class RawBulkResult:
    docs: int = 0
    commit_every: int = 0
    add_seconds: float = 0.0
    final_commit_seconds: float = 0.0
    searchable: int = 0
    cpu_seconds: float = 0.0


def raw_bulk(path: Path, run: str, docs: int, commit_every: int) -> RawBulkResult:
    """Single-document adds as fast as possible, one commit every ``commit_every`` documents."""
    raw = RawIndex(path)
    rng = random.Random(f"{run}-rawbulk")
    marker = f"q{run}rbmarkz"
    items = [item_body(rng, i, [marker]) for i in range(512)]
    start, cpu = time.perf_counter(), time.process_time()
    for i in range(docs):
        raw.upsert(i, items[i % len(items)], f"https://bench.example.com/rawbulk/{i}")
        if (i + 1) % commit_every == 0 and i + 1 < docs:
            raw.writer.commit()
    added = time.perf_counter()
    raw.commit_and_reload()
    done = time.perf_counter()
    result = RawBulkResult(
        docs,
        commit_every,
        added - start,
        done - added,
        raw.count(marker),
        time.process_time() - cpu,
    )
    raw.close()
    return result


# -- report -----------------------------------------------------------------------------------


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} ms"


def _num(value: float | None, unit: str = "") -> str:
    return "—" if value is None else f"{value:.1f}{unit}"


def _ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return "—"
    return f"{a / b:.1f}x" if a / b >= 10 else f"{a / b:.2f}x"


def dig(data: dict[str, Any] | None, *keys: str) -> Any:
    """``data[k1][k2]...``, or None when any level is missing (baseline skipped)."""
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def table(rows: list[tuple[str, str, str, str]]) -> list[str]:
    widths = [max(len(r[c]) for r in rows) for c in range(4)]
    lines = []
    for n, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(widths[c]) for c, cell in enumerate(row)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return lines


def verdict_line(args: argparse.Namespace, steady: dict[str, Any]) -> str:
    p95 = steady["push_to_searchable_ms"]["p95"]
    head = f"target: p95 push→searchable ≤ {TARGET_P95_MS:.0f} ms at {TARGET_RATE:g} items/s: "
    if args.rate < TARGET_RATE:
        return f"{head}n/a (run at {args.rate:g}/s, below the target rate; p95 = {_ms(p95)})"
    ok = p95 is not None and p95 <= TARGET_P95_MS
    ok = ok and not steady["never_found"] and not steady["put_errors"]
    note = "" if args.rate == TARGET_RATE else f" at {args.rate:g}/s"
    return f"{head}{'PASS' if ok else 'MISS'} (p95 = {_ms(p95)}{note})"


def build_report(args: argparse.Namespace, data: dict[str, Any]) -> list[str]:
    steady, raw_l = data["steady"], data["raw_latency"]
    tp, raw_b = data["throughput"], data["raw_bulk"]
    lat = steady["push_to_searchable_ms"]
    rows: list[tuple[str, str, str, str]] = [("metric", "openpush", "raw tantivy", "ratio")]
    for p in ("p50", "p95", "p99", "max"):
        raw = dig(raw_l, "add_to_searchable_ms", p)
        rows.append((f"push→searchable {p}", _ms(lat[p]), _ms(raw), _ratio(lat[p], raw)))
    rows.append(("PUT response p50", _ms(steady["put_ms"]["p50"]), "—", ""))
    rows.append(("PUT response p95", _ms(steady["put_ms"]["p95"]), "—", ""))
    raw = dig(raw_l, "achieved_rate")
    rate = steady["achieved_rate"]
    rows.append(("achieved rate (items/s)", _num(rate), _num(raw), _ratio(rate, raw)))
    missed = dig(raw_l, "missed")
    rows.append(
        (
            "errors / not searchable",
            f"{sum(steady['put_errors'].values())} / {steady['never_found']}",
            "—" if missed is None else f"0 / {missed}",
            "",
        )
    )
    raw = dig(raw_b, "adds_per_second")
    rows.append(
        (
            f"PUTs/s, {args.concurrency} clients",
            _num(tp["accepted_per_second"]),
            _num(raw),
            _ratio(tp["accepted_per_second"], raw),
        )
    )
    rows.append(
        (
            "  PUT response p50 / p95",
            f"{_ms(tp['put_ms']['p50'])} / {_ms(tp['put_ms']['p95'])}",
            "—",
            "",
        )
    )
    rows.append(
        (
            "  catch-up after load",
            _num(tp["catch_up_seconds"], " s"),
            _num(dig(raw_b, "final_commit_seconds"), " s"),
            "",
        )
    )
    raw = dig(raw_b, "indexed_per_second")
    rows.append(
        (
            "  indexed items/s (start→all searchable)",
            _num(tp["indexed_per_second"]),
            _num(raw),
            _ratio(tp["indexed_per_second"], raw),
        )
    )
    return [*table(rows), "", verdict_line(args, steady), "", *detail_lines(args, data)]


def detail_lines(args: argparse.Namespace, data: dict[str, Any]) -> list[str]:
    """Where the time and the CPU went: the lines under the table."""
    steady, raw_l = data["steady"], data["raw_latency"]
    tp, raw_b = data["throughput"], data["raw_bulk"]
    lines = []
    polls = steady["poll_ms"]
    lines.append(
        f"poller: {steady['polls']} searches, every {args.poll_interval * 1000:.0f} ms, "
        f"search p50 {_ms(polls['p50'])} / p95 {_ms(polls['p95'])}; "
        f"max client schedule lag {steady['max_schedule_lag_ms']:.1f} ms"
    )
    sent_ms = steady["push_to_finding_search_sent_ms"]
    lines.append(
        f"push→searchable measured to the finding search's send instead of its response: "
        f"p50 {_ms(sent_ms['p50'])} / p95 {_ms(sent_ms['p95'])}"
    )
    if raw_l and raw_b:
        lines.append(
            f"raw path split (p50): add {_ms(raw_l['add_ms']['p50'])}, commit+reload "
            f"{_ms(raw_l['commit_reload_ms']['p50'])}, search {_ms(raw_l['search_ms']['p50'])}; "
            f"raw bulk: {raw_b['docs']} docs, commit every {raw_b['commit_every']}"
        )
    if tp["errors"]:
        lines.append(f"throughput-phase PUT errors: {tp['errors']}")
    if steady["put_errors"] or steady["poll_errors"]:
        lines.append(
            f"steady-phase errors: PUT {steady['put_errors']}, search {steady['poll_errors']}"
        )
    if tp["searchable"] < tp["accepted"]:
        lines.append(
            f"throughput: only {tp['searchable']} of {tp['accepted']} accepted items searchable "
            f"after {args.settle_timeout:g} s"
        )
    for name in ("steady", "throughput"):
        rounds = data["worker_rounds"].get(name)
        if rounds:
            rm = rounds["round_ms"]
            lines.append(
                f"worker rounds ({name}): {rounds['rounds']} rounds, "
                f"{rounds['ops_per_round_mean']:.1f} ops/round "
                f"(max {rounds['ops_per_round_max']}), "
                f"round p50 {_ms(rm['p50'])} / p95 {_ms(rm['p95'])} / max {_ms(rm['max'])}"
            )
    for name in ("steady", "throughput"):
        cpu = data["cpu"].get(name)
        if cpu:
            lines.append(
                f"CPU ({name}, % of one core): openpush {_num(cpu['server'])}, "
                f"bench client {_num(cpu['client'])}, other processes {_num(cpu['other'])}"
            )
            split = ", ".join(f"{k} {v:.0f}" for k, v in cpu["threads"].items())
            lines.append(f"  openpush by thread: {split}")
    for name in ("raw_latency", "raw_bulk"):
        share = dig(data, name, "cpu_percent")
        if share is not None:
            lines.append(f"CPU ({name.replace('_', ' ')}, % of one core): {share:.1f}")
    server = data["server"]
    exits = []
    for name, info in server["shutdown"].items():
        how = "killed" if info["killed"] else "graceful" if info["graceful"] else "NOT graceful"
        exits.append(f"{name} {_num(info['seconds'], ' s')} ({how}, exit {info['exit_code']})")
    lines.append(
        f"openpush RSS {_num(server['rss_mb'], ' MB')} after the load; "
        f"SIGTERM → exit: {'; '.join(exits)}"
    )
    problems = server["log_problems"]
    lines.append(f"server logs: {len(problems)} WARNING/ERROR lines")
    lines += [f"  {line[:160]}" for line in problems[:5]]
    return lines


def raw_latency_summary(raw_l: RawLatencyResult | None) -> dict[str, Any] | None:
    if raw_l is None:
        return None
    return {
        "count": raw_l.count,
        "missed": raw_l.missed,
        "achieved_rate": (raw_l.count - raw_l.missed) / raw_l.elapsed if raw_l.elapsed else None,
        "add_to_searchable_ms": summary_ms(raw_l.latencies),
        "add_ms": summary_ms(raw_l.add),
        "commit_reload_ms": summary_ms(raw_l.commit_reload),
        "search_ms": summary_ms(raw_l.search),
        "cpu_percent": 100.0 * raw_l.cpu_seconds / raw_l.elapsed if raw_l.elapsed else None,
    }


def raw_bulk_summary(raw_b: RawBulkResult | None) -> dict[str, Any] | None:
    if raw_b is None:
        return None
    total = raw_b.add_seconds + raw_b.final_commit_seconds
    return {
        "docs": raw_b.docs,
        "commit_every": raw_b.commit_every,
        "add_seconds": raw_b.add_seconds,
        "final_commit_seconds": raw_b.final_commit_seconds,
        "searchable": raw_b.searchable,
        "adds_per_second": raw_b.docs / raw_b.add_seconds if raw_b.add_seconds else None,
        "indexed_per_second": raw_b.docs / total if total else None,
        "cpu_percent": 100.0 * raw_b.cpu_seconds / total if total else None,
    }


def summarise(
    args: argparse.Namespace,
    steady: SteadyResult,
    tp: ThroughputResult,
    raw_l: RawLatencyResult | None,
    raw_b: RawBulkResult | None,
    server: Server,
    rounds: dict[str, Any],
    cpu: dict[str, Any],
    rss_mb: float | None,
    load: tuple[list[float] | None, list[float] | None],
    problems: list[str],
) -> dict[str, Any]:
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "tantivy": getattr(tantivy, "__version__", None),
            "loadavg_before": load[0],
            "loadavg_after": load[1],
        },
        "options": {
            "rate": args.rate,
            "duration": args.duration,
            "concurrency": args.concurrency,
            "tp_duration": args.tp_duration,
            "poll_interval": args.poll_interval,
            "secured_poll": args.secured_poll,
            "split_worker": args.split_worker,
            "raw_commit_every": args.raw_commit_every,
            "client": args.client,
        },
        "target": {"p95_ms": TARGET_P95_MS, "rate": TARGET_RATE},
        "steady": {
            "sent": steady.sent,
            "accepted": steady.accepted,
            "put_errors": dict(steady.errors),
            "never_found": steady.never_found,
            "achieved_rate": steady.accepted / steady.elapsed if steady.elapsed else None,
            "max_schedule_lag_ms": steady.max_schedule_lag * 1000.0,
            "push_to_searchable_ms": summary_ms(steady.latencies),
            "push_to_finding_search_sent_ms": summary_ms(steady.latencies_to_search_sent),
            "put_ms": summary_ms(steady.put_latencies),
            "polls": steady.polls,
            "poll_ms": summary_ms(steady.poll_latencies),
            "poll_errors": dict(steady.poll_errors),
        },
        "throughput": {
            "accepted": tp.accepted,
            "errors": dict(tp.errors),
            "load_seconds": tp.load_seconds,
            "accepted_per_second": tp.accepted / tp.load_seconds if tp.load_seconds else None,
            "put_ms": summary_ms(tp.put_latencies),
            "catch_up_seconds": tp.catch_up_seconds,
            "searchable": tp.searchable,
            "indexed_per_second": tp.accepted / tp.total_seconds if tp.total_seconds else None,
        },
        "raw_latency": raw_latency_summary(raw_l),
        "raw_bulk": raw_bulk_summary(raw_b),
        "worker_rounds": rounds,
        "cpu": cpu,
        "server": {
            "rss_mb": rss_mb,
            "shutdown": server.shutdown(),
            "log_problems": problems,
        },
    }


def loadavg() -> list[float] | None:
    with contextlib.suppress(OSError, ValueError):
        return [float(v) for v in Path("/proc/loadavg").read_text().split()[:3]]
    return None


# -- main -------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=50.0, help="steady items/s (default 50)")
    parser.add_argument("--duration", type=float, default=20.0, help="steady seconds (default 20)")
    parser.add_argument(
        "--concurrency", type=int, default=16, help="throughput-phase clients (default 16)"
    )
    parser.add_argument(
        "--tp-duration", type=float, default=5.0, help="throughput-phase seconds (default 5)"
    )
    parser.add_argument("--port", type=int, default=0, help="server port (default: a free one)")
    parser.add_argument("--keep", action="store_true", help="keep the data directory")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    parser.add_argument(
        "--poll-interval", type=float, default=0.025, help="search poll period, s (default 0.025)"
    )
    parser.add_argument(
        "--secured-poll",
        action="store_true",
        help="poll with a search token for the items' users instead of viewAllContent",
    )
    parser.add_argument(
        "--raw-commit-every", type=int, default=256, help="raw bulk baseline: docs per commit"
    )
    parser.add_argument("--warmup", type=int, default=20, help="items pushed before measuring")
    parser.add_argument(
        "--settle-timeout", type=float, default=60.0, help="max wait for items to be searchable"
    )
    parser.add_argument(
        "--server-log-level",
        default="debug",
        help="server --log-level (debug gives the worker-round figures; default debug)",
    )
    parser.add_argument(
        "--client",
        choices=("raw", "httpx"),
        default="raw",
        help="load-generator HTTP client: a lean asyncio HTTP/1.1 pool (default) or httpx",
    )
    parser.add_argument(
        "--split-worker",
        action="store_true",
        help="run the API (serve --no-worker) and the pipeline (openpush worker) as two processes",
    )
    parser.add_argument(
        "--skip-baseline", action="store_true", help="do not run the raw tantivy baseline"
    )
    return parser.parse_args(argv)


def measured(
    server: Server, name: str, phase: Any, rounds: dict[str, Any], cpu: dict[str, Any]
) -> Any:
    """Run one phase (a coroutine) and record the server's CPU use and worker rounds during it."""
    pipeline = server.pipeline
    assert pipeline is not None
    mark, before = pipeline.log_offset(), cpu_sample(server.pids)
    result = asyncio.run(phase)
    cpu[name] = cpu_usage(before, cpu_sample(server.pids))
    time.sleep(0.1)  # the last round logs just after its commit became searchable
    rounds[name] = worker_rounds(pipeline.log_text(mark, pipeline.log_offset()))
    return result


def run(args: argparse.Namespace) -> dict[str, Any]:
    run_id = "".join(random.choice("abcdefghjkmnpqrstuvwxy") for _ in range(4))
    workdir = Path(tempfile.mkdtemp(prefix="openpush-bench-"))
    try:
        port = free_port(args.port)
    except RuntimeError:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    try:
        return _run(args, run_id, workdir, port)
    except BaseException:
        log(f"data directory and server logs kept in {workdir}")
        raise


def _run(args: argparse.Namespace, run_id: str, workdir: Path, port: int) -> dict[str, Any]:
    server = Server(workdir / "data", port, args.server_log_level, args.split_worker)
    rounds: dict[str, Any] = {}
    cpu: dict[str, Any] = {}
    load_before = loadavg()
    rss_mb = None
    try:
        mode = "serve --no-worker + worker" if args.split_worker else "serve"
        log(f"starting openpush {mode} on port {port} (data in {workdir})")
        server.start()
        target = setup_source(server.base, args.secured_poll)
        target.client = args.client
        log(f"source {target.source_id}; warming up with {args.warmup} items")
        asyncio.run(warm_up(target, run_id, args.warmup, args.poll_interval))

        log(f"steady phase: {args.rate:g} items/s for {args.duration:g} s")
        steady = measured(
            server,
            "steady",
            steady_phase(
                target,
                run_id,
                "st",
                args.rate,
                args.duration,
                args.poll_interval,
                args.settle_timeout,
            ),
            rounds,
            cpu,
        )
        log(f"throughput phase: {args.concurrency} clients for {args.tp_duration:g} s")
        tp = measured(
            server,
            "throughput",
            throughput_phase(
                target,
                run_id,
                args.concurrency,
                args.tp_duration,
                args.poll_interval,
                args.settle_timeout,
            ),
            rounds,
            cpu,
        )
        rss_mb = server.rss_mb()
    finally:
        log("stopping the server (SIGTERM)")
        server.stop()
        for child in server.children:
            if not child.killed and child.exit_code in (0, -signal.SIGTERM):
                continue
            log(f"{child.name} exited with {child.exit_code}; log tail:\n{child.log_tail()}")

    if args.skip_baseline:
        raw_l, raw_b = None, None
    else:
        log(f"raw tantivy: add+commit+reload+search at {args.rate:g}/s for {args.duration:g} s")
        raw_l = raw_latency(workdir / "raw-latency", run_id, args.rate, args.duration)
        docs = max(tp.accepted, 2000)
        log(f"raw tantivy: {docs} single-document adds, commit every {args.raw_commit_every}")
        raw_b = raw_bulk(workdir / "raw-bulk", run_id, docs, args.raw_commit_every)
    load = (load_before, loadavg())

    problems = [
        f"{child.name}: {line}"
        for child in server.children
        for line in log_problems(child.log_text())
    ]
    data = summarise(args, steady, tp, raw_l, raw_b, server, rounds, cpu, rss_mb, load, problems)
    data["data_dir"] = str(workdir) if args.keep else None
    if args.keep:
        log(f"kept {workdir} (server logs: {', '.join(str(c.log_path) for c in server.children)})")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return data


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        data = run(args)
    except (RuntimeError, httpx.HTTPError) as exc:
        log(f"benchmark failed: {exc}")
        return 1
    if args.json:
        sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        machine = data["machine"]
        print(
            f"openpush push→searchable benchmark, {data['date']}, {machine['cpus']} CPUs, "
            f"load avg before {machine['loadavg_before']}"
        )
        mode = "serve --no-worker + openpush worker" if args.split_worker else "openpush serve"
        poll = "search token of the items' users" if args.secured_poll else "viewAllContent"
        print(
            f"{mode}; steady {args.rate:g} items/s x {args.duration:g} s; throughput "
            f"{args.concurrency} clients x {args.tp_duration:g} s; client {args.client}; "
            f"polls as {poll}"
        )
        print()
        print("\n".join(build_report(args, data)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
