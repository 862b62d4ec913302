"""Soak test: pushes (single and batches), deletes, identity updates and queries, concurrently,
against a real ``openpush serve`` for a long while (10 minutes by default).

Usage::

    .venv/bin/python bench/soak.py [--minutes 10] [--warmup 1] [--pushers 4] [--batchers 1]
                                   [--searchers 4] [--port P] [--keep]

What it reports (see bench/README.md):

* errors: any request that failed (transport error, a status other than the one expected),
  by operation; the target is 0;
* the server's resident memory (VmRSS, and RssAnon: its own heap, without mapped index files)
  sampled every few seconds; growth is measured from the end of the warm-up to the end of
  the run; the target is at most 10%;
* throughput and latency percentiles per operation;
* consistency: once the load stops and the pipeline has caught up, the index holds exactly
  the items the client expects live (every document id is owned by one client thread, so its
  last operation is known), and every query was answered.

Exit status 0 when errors = 0, consistency holds and RSS growth is within the target; 1
otherwise; 2 when the soak could not run (the server did not start).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

ORG = "soakorg"
API_KEY = "soak-admin-key"
PROVIDER = "soak-provider"
USERS = [f"user{i}@soak.test" for i in range(20)]
GROUPS = [f"group{i}" for i in range(5)]
WORDS = [
    "report",
    "revenue",
    "quarter",
    "growth",
    "customer",
    "market",
    "product",
    "service",
    "platform",
    "search",
    "index",
    "document",
    "connector",
    "permission",
    "security",
    "identity",
    "source",
    "pipeline",
    "ordering",
    "latency",
    "engine",
    "query",
    "result",
    "relevance",
    "ranking",
    "field",
    "metadata",
    "content",
    "crawler",
    "update",
    "delete",
    "batch",
    "stream",
]
RSS_TARGET = 0.10
SINGLE_IDS = 1000  # document ids per single-push thread
BATCH_IDS = 3000  # document ids per batch thread


def log(message: str) -> None:
    print(f"[soak {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# -- the server ------------------------------------------------------------------------------


class Server:
    def __init__(self, root: Path, port: int) -> None:
        self.root = root
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = root / "server.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OPENPUSH_")}
        env.update(OPENPUSH_BOOTSTRAP_ORG=ORG, OPENPUSH_BOOTSTRAP_API_KEY=API_KEY)
        command = [
            sys.executable, "-m", "openpush", "serve", "--port", str(self.port),
            "--data-dir", str(self.root / "data"), "--log-level", "warning",
        ]  # fmt: skip
        with self.log_path.open("wb") as out:
            self.process = subprocess.Popen(command, env=env, stdout=out, stderr=out)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError("the server did not answer /health in 30 s")

    def memory(self) -> tuple[int, int]:
        """(VmRSS, RssAnon) in KiB."""
        assert self.process is not None
        fields = {}
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in {"VmRSS", "RssAnon"}:
                fields[name] = int(value.split()[0])
        return fields["VmRSS"], fields["RssAnon"]

    def stop(self) -> tuple[int | None, float]:
        """SIGTERM; returns the exit code and how long the stop took."""
        assert self.process is not None
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = None
        return code, time.monotonic() - started


# -- the load ---------------------------------------------------------------------------------


@dataclass
class Stats:
    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: Counter[str] = field(default_factory=Counter)
    samples: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def record(self, name: str, seconds: float, error: str | None = None) -> None:
        with self.lock:
            self.latencies[name].append(seconds)
            if error is not None:
                self.errors[name] += 1
                if len(self.samples[name]) < 3:
                    self.samples[name].append(error)


class Load:
    """Client threads; each owns a disjoint range of document ids, so its last operation on an
    id is that id's final state."""

    def __init__(self, base_url: str, source: str, stats: Stats, stop: threading.Event) -> None:
        self.base = base_url
        self.source = source
        self.stats = stats
        self.stop = stop
        self.live: dict[str, set[str]] = defaultdict(set)  # owner -> live document ids
        self.docs = f"/push/v1/organizations/{ORG}/sources/{source}/documents"

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.base, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=60
        )

    def call(
        self, http: httpx.Client, name: str, method: str, url: str, expect: int, **kw: Any
    ) -> httpx.Response | None:
        started = time.monotonic()
        try:
            response = http.request(method, url, **kw)
        except httpx.HTTPError as exc:
            self.stats.record(name, time.monotonic() - started, f"{type(exc).__name__}: {exc}")
            return None
        error = None
        if response.status_code != expect:
            error = f"{response.status_code} {response.text[:200]}"
        self.stats.record(name, time.monotonic() - started, error)
        return response if error is None else None

    @staticmethod
    def item(rng: random.Random, n: int) -> dict[str, Any]:
        allowed = rng.choice(USERS + GROUPS)
        return {
            "title": f"Soak item {n}",
            "data": " ".join(rng.choices(WORDS, k=rng.randint(20, 200))),
            "author": rng.choice(["ann", "bob", "cid"]),
            "permissions": [
                {
                    "allowedPermissions": [
                        {
                            "identity": allowed,
                            "identityType": "Group" if allowed in GROUPS else "User",
                        }
                    ]
                }
            ],
        }

    def single_pusher(self, owner: str, space: int, seed: int) -> None:
        rng = random.Random(seed)
        live = self.live[owner]
        with self.client() as http:
            while not self.stop.is_set():
                n = rng.randrange(space)
                doc = f"https://soak.test/{owner}/{n}"
                if doc in live and rng.random() < 0.2:
                    if self.call(
                        http, "delete", "DELETE", self.docs, 202, params={"documentId": doc}
                    ):
                        live.discard(doc)
                elif self.call(
                    http, "push", "PUT", self.docs, 202,
                    params={"documentId": doc}, json=self.item(rng, n),
                ):  # fmt: skip
                    live.add(doc)
                time.sleep(rng.uniform(0.005, 0.03))

    def batch_pusher(self, owner: str, space: int, size: int, seed: int) -> None:
        rng = random.Random(seed)
        live = self.live[owner]
        with self.client() as http:
            while not self.stop.is_set():
                adds = {f"https://soak.test/{owner}/{rng.randrange(space)}" for _ in range(size)}
                deletes = set(rng.sample(sorted(live - adds), min(len(live - adds), size // 10)))
                body = {
                    "addOrUpdate": [
                        {"documentId": d, **self.item(rng, i)} for i, d in enumerate(sorted(adds))
                    ],
                    "delete": [{"documentId": d} for d in sorted(deletes)],
                }
                created = self.call(
                    http, "file container", "POST", f"/push/v1/organizations/{ORG}/files", 201
                )
                if created is None:
                    continue
                container = created.json()
                started = time.monotonic()
                try:
                    upload = httpx.put(
                        container["uploadUri"], content=orjson.dumps(body),
                        headers=container["requiredHeaders"], timeout=60,
                    )  # fmt: skip
                    error = None if upload.status_code == 200 else f"{upload.status_code}"
                except httpx.HTTPError as exc:
                    error = str(exc)
                self.stats.record("upload", time.monotonic() - started, error)
                if error is None and self.call(
                    http, "batch", "PUT", self.docs + "/batch", 202,
                    params={"fileId": container["fileId"]},
                ):  # fmt: skip
                    live.update(adds)
                    live.difference_update(deletes)
                self.stop.wait(rng.uniform(1.0, 3.0))

    def prefill(self, owner: str, space: int, seed: int) -> None:
        """Every id of ``owner`` pushed once, in one batch: the data set is at full size
        before the warm-up, so memory measured afterwards is not the index growing."""
        rng = random.Random(seed)
        ids = [f"https://soak.test/{owner}/{n}" for n in range(space)]
        body = {"addOrUpdate": [{"documentId": d, **self.item(rng, n)} for n, d in enumerate(ids)]}
        with self.client() as http:
            container = http.post(f"/push/v1/organizations/{ORG}/files").json()
            httpx.put(
                container["uploadUri"], content=orjson.dumps(body),
                headers=container["requiredHeaders"], timeout=120,
            ).raise_for_status()  # fmt: skip
            http.put(
                self.docs + "/batch", params={"fileId": container["fileId"]}
            ).raise_for_status()
        self.live[owner].update(ids)

    def identity_pusher(self, seed: int) -> None:
        rng = random.Random(seed)
        path = f"/push/v1/organizations/{ORG}/providers/{PROVIDER}/permissions"
        with self.client() as http:
            while not self.stop.is_set():
                group = rng.choice(GROUPS)
                members = rng.sample(USERS, rng.randint(1, 8))
                body = {
                    "identity": {"name": group, "type": "GROUP"},
                    "members": [{"name": m, "type": "USER"} for m in members],
                }
                self.call(http, "identity", "PUT", path, 202, json=body)
                self.stop.wait(rng.uniform(0.5, 2.0))

    def searcher(self, seed: int) -> None:
        rng = random.Random(seed)
        with self.client() as http:
            while not self.stop.is_set():
                body = {"q": " ".join(rng.sample(WORDS, rng.randint(1, 2))), "numberOfResults": 20}
                if rng.random() < 0.5:
                    body["facets"] = [{"facetId": "author", "field": "author", "type": "specific"}]
                if rng.random() < 0.6:
                    user = rng.choice(USERS)
                    token = self.call(
                        http, "token", "POST", "/rest/search/v2/token", 200,
                        json={"userIds": [{"name": user, "provider": PROVIDER, "type": "User"}]},
                    )  # fmt: skip
                    if token is None:
                        continue
                    headers = {"Authorization": f"Bearer {token.json()['token']}"}
                    self.call(
                        http,
                        "search (token)",
                        "POST",
                        "/rest/search/v2",
                        200,
                        json=body,
                        headers=headers,
                    )
                else:
                    self.call(
                        http, "search (view all)", "POST", "/rest/search/v2", 200,
                        json=body, params={"viewAllContent": "true"},
                    )  # fmt: skip
                time.sleep(rng.uniform(0.01, 0.05))


def setup(base_url: str) -> str:
    with httpx.Client(
        base_url=base_url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=30
    ) as http:
        r = http.post(
            f"/rest/organizations/{ORG}/sources",
            json={"name": "soak", "sourceType": "PUSH", "sourceVisibility": "SECURED"},
        )
        r.raise_for_status()
        source = str(r.json()["id"])
        http.put(
            f"/rest/organizations/{ORG}/securityproviders/{PROVIDER}",
            json={"referencedBy": [{"id": source, "type": "SOURCE"}]},
        ).raise_for_status()
        for user in USERS:
            http.put(
                f"/push/v1/organizations/{ORG}/providers/{PROVIDER}/permissions",
                json={"identity": {"name": user, "type": "USER"}},
            ).raise_for_status()
        return source


def settle(base_url: str, source: str, expected: int, timeout: float = 300) -> tuple[bool, int]:
    """Wait until the pipeline caught up: the view-all count equals ``expected`` and holds."""
    deadline = time.monotonic() + timeout
    count = -1
    with httpx.Client(
        base_url=base_url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=30
    ) as http:
        while time.monotonic() < deadline:
            r = http.post(
                "/rest/search/v2", params={"viewAllContent": "true"}, json={"numberOfResults": 0}
            )
            count = int(r.json()["totalCount"]) if r.status_code == 200 else -1
            if count == expected:
                time.sleep(2)  # nothing still queued may change it
                r = http.post(
                    "/rest/search/v2",
                    params={"viewAllContent": "true"},
                    json={"numberOfResults": 0},
                )
                if int(r.json()["totalCount"]) == expected:
                    return True, expected
            time.sleep(1)
    return False, count


# -- the run ---------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    root = Path(tempfile.mkdtemp(prefix="openpush-soak-"))
    server = Server(root, args.port or free_port())
    try:
        server.start()
    except RuntimeError as exc:
        log(f"cannot start the server: {exc}; logs in {server.log_path}")
        return 2
    source = setup(server.url)
    stats, stop = Stats(), threading.Event()
    load = Load(server.url, source, stats, stop)
    singles = [(f"single{i}", SINGLE_IDS, i) for i in range(args.pushers)]
    batches = [(f"batch{i}", BATCH_IDS, 100 + i) for i in range(args.batchers)]
    for owner, space, seed in singles + batches:
        load.prefill(owner, space, seed)
    prefilled = sum(len(v) for v in load.live.values())
    ready, counted = settle(server.url, source, prefilled)
    log(f"prefilled {counted} items" + ("" if ready else f" of {prefilled} (timed out)"))
    threads = [
        threading.Thread(target=load.single_pusher, args=spec, daemon=True) for spec in singles
    ]
    threads += [
        threading.Thread(target=load.batch_pusher, args=(owner, space, 300, seed), daemon=True)
        for owner, space, seed in batches
    ]
    threads.append(threading.Thread(target=load.identity_pusher, args=(7,), daemon=True))
    threads += [
        threading.Thread(target=load.searcher, args=(200 + i,), daemon=True)
        for i in range(args.searchers)
    ]
    total = args.minutes * 60
    warmup = min(args.warmup * 60, total / 2)
    pid = server.process.pid if server.process else "?"
    log(
        f"server pid {pid} on {server.url}; {len(threads)} client threads for"
        f" {args.minutes:g} min (warm-up {warmup:.0f} s)"
    )
    started = time.monotonic()
    for thread in threads:
        thread.start()
    samples: list[tuple[float, int, int]] = []
    after_warmup: tuple[int, int] | None = None
    while (elapsed := time.monotonic() - started) < total:
        rss, anon = server.memory()
        samples.append((elapsed, rss, anon))
        if after_warmup is None and elapsed >= warmup:
            after_warmup = (rss, anon)
            log(f"warm-up done: RSS {rss / 1024:.0f} MB (anonymous {anon / 1024:.0f} MB)")
        if len(samples) % 12 == 0:
            done = sum(len(v) for v in stats.latencies.values())
            log(f"{elapsed:.0f}s: RSS {rss / 1024:.0f} MB, {done} requests, "
                f"{sum(stats.errors.values())} errors")  # fmt: skip
        time.sleep(5)
    stop.set()
    for thread in threads:
        thread.join(120)
    end_rss, end_anon = server.memory()
    assert after_warmup is not None
    expected = sum(len(v) for v in load.live.values())
    log(f"load stopped; waiting for the pipeline to catch up ({expected} live items expected)")
    consistent, counted = settle(server.url, source, expected)
    code, stop_seconds = server.stop()
    growth = (end_rss - after_warmup[0]) / after_warmup[0]
    anon_growth = (end_anon - after_warmup[1]) / after_warmup[1]
    peak = max(s[1] for s in samples)
    errors = sum(stats.errors.values())
    requests = sum(len(v) for v in stats.latencies.values())

    print(f"\nsoak: {args.minutes:g} min, {len(threads)} client threads, warm-up {warmup:.0f} s")
    print(f"{'operation':<20}{'count':>9}{'errors':>8}{'per s':>8}{'p50 ms':>9}{'p95 ms':>9}"
          f"{'p99 ms':>9}")  # fmt: skip
    for name in sorted(stats.latencies):
        values = stats.latencies[name]
        print(
            f"{name:<20}{len(values):>9}{stats.errors[name]:>8}{len(values) / total:>8.1f}"
            f"{percentile(values, 0.5) * 1000:>9.1f}{percentile(values, 0.95) * 1000:>9.1f}"
            f"{percentile(values, 0.99) * 1000:>9.1f}"
        )
    print(f"requests: {requests}, errors: {errors} (target 0)")
    for name, messages in stats.samples.items():
        for message in messages:
            print(f"  {name}: {message}")
    print(
        f"RSS after warm-up {after_warmup[0] / 1024:.1f} MB, at the end {end_rss / 1024:.1f} MB:"
        f" {growth:+.1%} (target <= {RSS_TARGET:.0%}); peak {peak / 1024:.1f} MB"
    )
    print(
        f"anonymous memory after warm-up {after_warmup[1] / 1024:.1f} MB, at the end"
        f" {end_anon / 1024:.1f} MB: {anon_growth:+.1%}"
    )
    print(
        f"consistency: {'OK' if consistent else 'MISMATCH'} - the index counts {counted} items,"
        f" the clients expect {expected}"
    )
    print(f"shutdown: exit code {code} after {stop_seconds:.1f} s (SIGTERM)")
    ok = errors == 0 and consistent and growth <= RSS_TARGET and code == 0
    print("PASS" if ok else "FAIL")
    if args.keep or not ok:
        print(f"data and server log kept in {root}")
    else:
        shutil.rmtree(root, ignore_errors=True)
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the run")
    parser.add_argument("--warmup", type=float, default=1.0, help="minutes before RSS is taken")
    parser.add_argument("--pushers", type=int, default=4, help="single-push client threads")
    parser.add_argument("--batchers", type=int, default=1, help="batch client threads")
    parser.add_argument("--searchers", type=int, default=4, help="query client threads")
    parser.add_argument("--port", type=int, default=0, help="server port (default: a free one)")
    parser.add_argument("--keep", action="store_true", help="keep the data directory")
    return run(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
