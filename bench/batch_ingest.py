"""Batch ingestion throughput of a real ``openpush serve`` against the raw index engine, and the
server's peak RSS while it applies one very large batch file.

Usage::

    .venv/bin/python bench/batch_ingest.py [--items 100000] [--batch-mb 5] [--big-mb 256]
                                           [--seed 1] [--json]

1. generate a seeded corpus: ~1 KB of Zipf-distributed pseudo-words per item, a title,
   metadata (author, category, date, wordcount) and permission models over 5,000 users and
   300 groups;
2. openpush end to end: a fresh server, the corpus cut into batches of at most ``--batch-mb``
   MB, each pushed as container + upload + batch call by 3 concurrent uploaders; timed from the
   first container request until a search counts every item;
3. raw engine: the same documents, turned into ``IndexDocument``s by openpush's own
   ``prepare_item`` before the timer starts, added to a fresh ``TantivyIndex`` (same schema,
   same writer heap) with one commit per batch, until a searcher sees them all;
4. a fresh server applies one ``--big-mb`` MB batch file, uploaded as a stream, while its
   VmRSS is sampled every 20 ms (VmHWM gives the peak too).

A benchmark, not a test: targets are printed as PASS/MISS, never asserted. The exit status is
non-zero only when the benchmark itself could not run (its data and logs are then kept).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gc
import itertools
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
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO

import httpx
import orjson
from _stats import log, machine

from openpush.api.wire import field_from_wire
from openpush.domain.fields import merged_fields
from openpush.domain.items import item_from_object
from openpush.domain.sources import Source
from openpush.index.tantivy.engine import TantivyIndex
from openpush.pipeline.stages import prepare_item
from openpush.settings import load_settings

ORG = "bench"
API_KEY = "bench-admin-key"
MB = 1024 * 1024
UPLOADERS = 3
TARGET_RATE = 3000.0
TARGET_RATIO = 0.5
TARGET_PEAK_MB = 300.0
# a connector would declare its fields; author and date are system fields already
FIELDS = [
    {"name": "category", "type": "STRING", "facet": True},
    {"name": "wordcount", "type": "LONG"},
]
OUT = Path(__file__).parent / "out" / "batch_ingest.json"


# -- corpus -----------------------------------------------------------------------------------


class Corpus:
    """A deterministic, endless stream of serialized items (``items()`` restarts it)."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        rng = random.Random(seed)
        syllables = [c + v for c in "bcdfghklmnprstvz" for v in ("a", "e", "i", "o", "u", "ei")]
        words: set[str] = set()
        while len(words) < 4000:
            words.add("".join(rng.choices(syllables, k=rng.choice((1, 2, 2, 3, 3, 4)))))
        self.vocab = sorted(words)
        rng.shuffle(self.vocab)  # a word's rank (frequency) does not depend on its length
        self.vocab_cw = list(itertools.accumulate(1.0 / r for r in range(1, len(self.vocab) + 1)))
        self.users = [f"user{i:04d}@bench.test" for i in range(5000)]
        self.groups = [f"group-{i:03d}" for i in range(300)]
        self.groups_cw = list(itertools.accumulate(1.0 / r**0.8 for r in range(1, 301)))
        names = [w.capitalize() for w in self.vocab[200:400]]
        self.authors = [f"{rng.choice(names)} {rng.choice(names)}" for _ in range(400)]
        self.categories = self.vocab[40:64]

    def _words(self, rng: random.Random, k: int) -> list[str]:
        return rng.choices(self.vocab, cum_weights=self.vocab_cw, k=k)

    def _permission_set(self, rng: random.Random) -> dict[str, Any]:
        groups = rng.choices(self.groups, cum_weights=self.groups_cw, k=rng.randint(1, 3))
        users = rng.sample(self.users, rng.randint(0, 5))
        pset: dict[str, Any] = {
            "allowAnonymous": rng.random() < 0.05,
            "allowedPermissions": [{"identity": g, "identityType": "Group"} for g in set(groups)]
            + [{"identity": u, "identityType": "User"} for u in users],
        }
        if rng.random() < 0.10:
            pset["deniedPermissions"] = [
                {"identity": rng.choice(self.users), "identityType": "User"}
            ]
        return pset

    def _permissions(self, rng: random.Random) -> list[dict[str, Any]]:
        shape = rng.random()
        if shape < 0.10:  # two levels (complete model)
            return [
                {"name": f"level{i}", "permissionSets": [self._permission_set(rng)]} for i in (1, 2)
            ]
        if shape < 0.15:  # two sets in one level
            return [self._permission_set(rng), self._permission_set(rng)]
        return [self._permission_set(rng)]

    def _item(self, rng: random.Random, n: int) -> dict[str, Any]:
        words = self._words(rng, rng.randint(130, 190))
        day = dt.datetime(2015, 1, 1, tzinfo=dt.UTC) + dt.timedelta(
            seconds=rng.randrange(300_000_000)
        )
        return {
            "documentId": f"https://bench.test/doc/{n}",
            "title": " ".join(self._words(rng, rng.randint(4, 9))).capitalize(),
            "author": rng.choice(self.authors),
            "category": rng.choices(self.categories, cum_weights=self.vocab_cw[:24])[0],
            "date": day.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "wordcount": len(words),
            "data": " ".join(words),
            "permissions": self._permissions(rng),
        }

    def items(self) -> Iterator[bytes]:
        rng = random.Random(self.seed + 1)
        for n in itertools.count():
            yield orjson.dumps(self._item(rng, n))


def cut_batches(items: Iterable[bytes], limit: int) -> list[list[bytes]]:
    """Consecutive items whose batch body (``batch_body``) stays within ``limit`` bytes."""
    batches: list[list[bytes]] = [[]]
    size = len(batch_body([]))
    for item in items:
        if batches[-1] and size + len(item) + 1 > limit:
            batches.append([])
            size = len(batch_body([]))
        batches[-1].append(item)
        size += len(item) + (1 if len(batches[-1]) > 1 else 0)
    return [b for b in batches if b]


def batch_body(items: list[bytes]) -> bytes:
    return b'{"addOrUpdate":[' + b",".join(items) + b"]}"


def write_batch_file(items: Iterator[bytes], path: Path, limit: int) -> int:
    """Write items to ``path`` as one batch body of at most ``limit`` bytes; returns the count."""
    count, size = 0, len(batch_body([]))
    with path.open("wb") as out:
        out.write(b'{"addOrUpdate":[')
        for item in items:
            if size + len(item) + 1 > limit:
                break
            out.write(b"," + item if count else item)
            size += len(item) + (1 if count else 0)
            count += 1
        out.write(b"]}")
    return count


# -- the server under test --------------------------------------------------------------------


def proc_status(pid: int) -> dict[str, float]:
    """VmRSS, VmHWM, RssAnon and RssFile (mapped index files) of ``pid`` in MB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
            out[key] = int(value.split()[0]) / 1024.0
    return out


def cpu_seconds(pid: int) -> tuple[float, dict[str, float]]:
    """(process CPU, CPU by live thread name) of ``pid``, in seconds."""

    def ticks(path: Path) -> tuple[str, float]:
        text = path.read_text()
        fields = text.rsplit(")", 1)[1].split()
        name = text[text.find("(") + 1 : text.rfind(")")]
        return name, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    threads: Counter[str] = Counter()
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            name, seconds = ticks(task / "stat")
            threads[name] += seconds
    return ticks(Path(f"/proc/{pid}/stat"))[1], dict(threads)


def system_busy() -> tuple[int, int]:
    """(busy, total) jiffies over all CPUs."""
    parts = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = parts[3] + parts[4]
    return sum(parts) - idle, sum(parts)


def busy_percent(before: tuple[int, int], after: tuple[int, int]) -> float:
    """CPU used by the whole machine between two ``system_busy()``, in % of one core."""
    return 100 * (os.cpu_count() or 1) * (after[0] - before[0]) / max(after[1] - before[1], 1)


def openpush_command() -> list[str]:
    """The ``openpush`` console script next to this Python, started directly (no shell)."""
    script = Path(sys.executable).parent / "openpush"
    return [str(script)] if script.exists() else [sys.executable, "-m", "openpush"]


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if it has not exited after 15 s."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


class Server:
    """``openpush serve`` as a child process; ``pid`` is the openpush (Python) process itself.

    ``args`` go to ``openpush serve`` (``--no-worker``) and ``env`` over the inherited
    environment (``OPENPUSH_DATABASE``, ``OPENPUSH_BLOBS``).
    """

    def __init__(
        self,
        workdir: Path,
        name: str,
        *,
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
    ) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.base = f"http://127.0.0.1:{port}"
        self.log_path = workdir / f"{name}.log"
        environ = dict(
            os.environ,
            OPENPUSH_BOOTSTRAP_ORG=ORG,
            OPENPUSH_BOOTSTRAP_API_KEY=API_KEY,
            OPENPUSH_DATA_DIR=str(workdir / name),
            OPENPUSH_PORT=str(port),
        )
        environ.update(env or {})
        with self.log_path.open("wb") as out:
            self.proc = subprocess.Popen(
                [*openpush_command(), "serve", *args], stdout=out, stderr=out, env=environ
            )
        self.pid = self.proc.pid
        self.local = threading.local()
        self.source_id = ""
        self.batch_sources: dict[str, str] = {}  # batch id -> the source it was pushed to

    def client(self) -> httpx.Client:
        """One keep-alive client per thread."""
        if not hasattr(self.local, "client"):
            self.local.client = httpx.Client(base_url=self.base, timeout=120.0)
        return self.local.client

    def call(self, method: str, path: str, status: int, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {API_KEY}", **kwargs.pop("headers", {})}
        response = self.client().request(method, path, headers=headers, **kwargs)
        if response.status_code != status:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:500]}")
        return response.json() if response.content else None

    def start(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"openpush serve exited with {self.proc.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if self.client().get("/health", timeout=1.0).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"openpush serve did not answer /health in {timeout:g} s")
            time.sleep(0.05)
        self.source_id = self.add_source("bench")
        fields = f"/rest/organizations/{ORG}/indexes/fields/batch/create"
        self.call("POST", fields, 204, json=FIELDS)

    def add_source(self, name: str) -> str:
        """A new SECURED Push source; its id."""
        body = {"name": name, "sourceType": "PUSH", "sourceVisibility": "SECURED"}
        return str(self.call("POST", f"/rest/organizations/{ORG}/sources", 201, json=body)["id"])

    def push_batch(self, content: bytes | BinaryIO, source_id: str = "") -> str:
        """File container, upload, batch call: what a connector does per batch; the batch id.

        Pushed to ``source_id``, by default the source ``start`` created.
        """
        source_id = source_id or self.source_id
        path = f"/push/v1/organizations/{ORG}/sources/{source_id}/documents/batch"
        batch_id = self.call("PUT", path, 202, params={"fileId": self.upload(content)})["batchId"]
        self.batch_sources[batch_id] = source_id
        return str(batch_id)

    def upload(self, content: bytes | BinaryIO) -> str:
        """A file container holding ``content``; its fileId."""
        container = self.call("POST", f"/push/v1/organizations/{ORG}/files", 201)
        upload = self.client().put(
            container["uploadUri"], headers=container["requiredHeaders"], content=content
        )
        if upload.status_code != 200:
            raise RuntimeError(f"upload: {upload.status_code} {upload.text[:500]}")
        return str(container["fileId"])

    def batch_path(self, batch_id: str) -> str:
        """``GET`` path of a batch's status (under the source it was pushed to)."""
        source_id = self.batch_sources.get(batch_id, self.source_id)
        return f"/push/v1/organizations/{ORG}/sources/{source_id}/documents/batches/{batch_id}"

    def count(self) -> int:
        body = {"q": "", "numberOfResults": 0}
        found = self.call("POST", "/rest/search/v2?viewAllContent=true", 200, json=body)
        return int(found["totalCount"])

    def wait_searchable(self, items: int, batch_ids: list[str], stall: float = 60.0) -> float:
        """Poll every 50 ms until a search counts ``items``; the monotonic time it did.

        Gives up when the count has not grown for ``stall`` seconds, naming what the batches
        report (a rejected item, for example, never becomes searchable).
        """
        last, progressed = -1, time.monotonic()
        while (count := self.count()) < items:
            if count != last:
                last, progressed = count, time.monotonic()
            if time.monotonic() - progressed > stall or self.proc.poll() is not None:
                outcome = self.batch_outcomes(batch_ids, timeout=1.0)
                raise RuntimeError(
                    f"only {count} of {items} items searchable; batches {outcome['states']}, "
                    f"results {outcome['counts']}, first reasons {outcome['reasons'][:3]}"
                )
            time.sleep(0.05)
        return time.monotonic()

    def batch_outcomes(self, batch_ids: list[str], timeout: float = 60.0) -> dict[str, Any]:
        """Final state and result counts of every batch, and the first failure reasons."""
        states: Counter[str] = Counter()
        counts: Counter[str] = Counter()
        reasons: list[str] = []
        deadline = time.monotonic() + timeout
        for batch_id in batch_ids:
            path = self.batch_path(batch_id)
            batch = self.call("GET", path, 200)
            while batch["state"] in ("QUEUED", "PROCESSING") and time.monotonic() < deadline:
                time.sleep(0.1)
                batch = self.call("GET", path, 200)
            states[batch["state"]] += 1
            counts.update(batch["counts"])
            if batch["error"]:
                reasons.append(f"batch {batch_id}: {batch['error']}")
            if batch["counts"].get("REJECTED") or batch["counts"].get("ERROR"):
                bad = self.call("GET", path, 200, params={"result": "REJECTED,ERROR"})
                reasons += [f"{e['documentId']}: {e['result']} {e['reason']}" for e in bad["items"]]
        ok = set(states) == {"COMPLETED"} and not counts["REJECTED"] and not counts["ERROR"]
        return {"ok": ok, "states": dict(states), "counts": dict(counts), "reasons": reasons[:10]}

    def stop(self) -> None:
        stop_process(self.proc)


class CpuMeter:
    """CPU used by the server, by this process and by everything else, between start and stop."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.before = (time.monotonic(), time.process_time(), cpu_seconds(pid), system_busy())

    def stop(self) -> dict[str, Any]:
        wall0, own0, (server0, threads0), busy0 = self.before
        wall, own, (server, threads), busy = (
            time.monotonic(),
            time.process_time(),
            cpu_seconds(self.pid),
            system_busy(),
        )
        span = max(wall - wall0, 1e-9)
        pct = {"server": 100 * (server - server0) / span, "bench": 100 * (own - own0) / span}
        pct["other"] = max(busy_percent(busy0, busy) - pct["server"] - pct["bench"], 0.0)
        by_thread = {k: 100 * (v - threads0.get(k, 0.0)) / span for k, v in threads.items()}
        by_thread["(exited threads)"] = pct["server"] - sum(by_thread.values())
        pct["server_threads"] = {
            k: round(v) for k, v in sorted(by_thread.items(), key=lambda kv: -kv[1]) if v >= 1
        }
        return pct


# -- phases -----------------------------------------------------------------------------------


def run_openpush(workdir: Path, batches: list[list[bytes]], items: int) -> dict[str, Any]:
    bodies = [batch_body(batch) for batch in batches]
    server = Server(workdir, "e2e")
    try:
        server.start()
        log(f"openpush: {items} items in {len(bodies)} batches, {UPLOADERS} uploaders")
        meter = CpuMeter(server.pid)
        started = time.monotonic()
        with ThreadPoolExecutor(UPLOADERS) as pool:
            batch_ids = list(pool.map(server.push_batch, bodies))
        pushed = time.monotonic()
        searchable = server.wait_searchable(items, batch_ids)
        cpu = meter.stop()
        outcome = server.batch_outcomes(batch_ids)
        rss = proc_status(server.pid)
    finally:
        server.stop()
    return {
        "items": items,
        "batches": len(bodies),
        "batch_mb_mean": sum(map(len, bodies)) / len(bodies) / MB,
        "push_seconds": pushed - started,
        "push_items_per_second": items / (pushed - started),
        "catch_up_seconds": searchable - pushed,
        "seconds": searchable - started,
        "items_per_second": items / (searchable - started),
        "cpu_percent": cpu,
        "rss_mb": rss,
        **outcome,
    }


def run_raw(workdir: Path, batches: list[list[bytes]]) -> dict[str, Any]:
    """Same documents, same index code and writer heap, one commit per batch; no HTTP/queue."""
    settings = load_settings()  # the server reads the same OPENPUSH_* environment
    source = Source(org_id=ORG, id="bench-raw", name="bench")
    fields = merged_fields(field_from_wire(f) for f in FIELDS)
    log("raw engine: preparing the documents (not timed)")
    prepared = [
        [
            prepare_item(
                item_from_object(orjson.loads(item)),
                source=source,
                fields=fields,
                ordering_id=1,
                settings=settings,
            ).document
            for item in batch
        ]
        for batch in batches
    ]
    index = TantivyIndex(workdir / "raw", writer_heap_mb=settings.index_writer_heap_mb)
    writer = index.writer()
    gc.collect()
    gc.freeze()  # the prepared documents are not garbage: keep the collector off them
    log(f"raw engine: upserting {sum(map(len, prepared))} documents")
    started, cpu, busy = time.monotonic(), time.process_time(), system_busy()
    for docs in prepared:
        for doc in docs:
            writer.upsert(doc, new=True)  # a fresh index: no delete, as the server knows
        writer.commit()
    index.index.reload()
    seen = index.index.searcher().num_docs
    elapsed, cpu = time.monotonic() - started, time.process_time() - cpu
    other = max(busy_percent(busy, system_busy()) - 100 * cpu / elapsed, 0.0)
    gc.unfreeze()
    return {
        "docs": seen,
        "commits": len(prepared),
        "writer_heap_mb": settings.index_writer_heap_mb,
        "seconds": elapsed,
        "docs_per_second": seen / elapsed,
        "cpu_percent": 100 * cpu / elapsed,
        "other_cpu_percent": other,
    }


class RssSampler(threading.Thread):
    """Reads ``pid``'s memory every ``interval`` seconds; keeps the largest value of each."""

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak: Counter[str] = Counter()
        self.samples = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            with contextlib.suppress(OSError, KeyError):
                status = proc_status(self.pid)
                self.peak |= Counter(status)
                self.samples += 1
            self.done.wait(self.interval)

    def stop(self) -> None:
        self.done.set()
        self.join()


def run_big(workdir: Path, corpus: Corpus, big_mb: int) -> dict[str, Any]:
    path = workdir / "big-batch.json"
    log(f"big batch: writing {big_mb} MB to {path}")
    items = write_batch_file(corpus.items(), path, big_mb * MB)
    size = path.stat().st_size
    server = Server(workdir, "big")
    try:
        server.start()
        time.sleep(1.0)
        idle = proc_status(server.pid)
        log(
            f"big batch: uploading {size / MB:.1f} MB ({items} items); server idle RSS "
            f"{idle['VmRSS']:.0f} MB (anon {idle['RssAnon']:.0f}, file {idle['RssFile']:.0f})"
        )
        sampler = RssSampler(server.pid)
        sampler.start()
        started = time.monotonic()
        with path.open("rb") as stream:
            batch_id = server.push_batch(stream)
        pushed = time.monotonic()
        searchable = server.wait_searchable(items, [batch_id])
        outcome = server.batch_outcomes([batch_id])
        sampler.stop()
    finally:
        server.stop()
        path.unlink(missing_ok=True)
    return {
        "items": items,
        "mb": size / MB,
        "upload_seconds": pushed - started,
        "seconds": searchable - started,
        "items_per_second": items / (searchable - started),
        "idle_rss_mb": idle["VmRSS"],
        "idle_mb": idle,
        "peak_hwm_mb": sampler.peak["VmHWM"],
        "peak_sampled_mb": dict(sampler.peak),
        "rss_samples": sampler.samples,
        **outcome,
    }


# -- report -----------------------------------------------------------------------------------


def target(ok: bool, goal: str) -> str:
    return f"{goal}: {'PASS' if ok else 'MISS'}"


def report(data: dict[str, Any]) -> list[str]:
    e2e, raw, big = data["openpush"], data["raw"], data["big"]
    rate, raw_rate = e2e["items_per_second"], raw["docs_per_second"]
    ratio = data["ratio"]
    split = f"{e2e['seconds']:.1f} s = {e2e['push_seconds']:.1f} + {e2e['catch_up_seconds']:.1f} s"
    rows = [
        (
            "openpush end to end (first upload → all searchable)",
            f"{rate:,.0f} items/s",
            target(rate >= TARGET_RATE, f"≥ {TARGET_RATE:,.0f}"),
        ),
        ("  time = push phase + catch-up", split, ""),
        ("  push phase (until the last 202)", f"{e2e['push_items_per_second']:,.0f} items/s", ""),
        ("raw engine bulk load (upserts + commits → searcher)", f"{raw_rate:,.0f} docs/s", ""),
        ("  time", f"{raw['seconds']:.1f} s, {raw['commits']} commits", ""),
        (
            "ratio openpush / raw",
            f"{ratio:.2f}",
            target(ratio >= TARGET_RATIO, f"≥ {TARGET_RATIO}"),
        ),
    ]
    if big:
        peak, idle, sampled = big["peak_hwm_mb"], big["idle_rss_mb"], big["peak_sampled_mb"]
        rows += [
            (
                f"big batch: {big['mb']:.0f} MB, {big['items']:,} items",
                f"{big['seconds']:.1f} s, {big['items_per_second']:,.0f} items/s",
                "",
            ),
            ("  upload (streamed) + batch call", f"{big['upload_seconds']:.1f} s", ""),
            (
                "  server RSS idle → peak (VmHWM)",
                f"{idle:.0f} → {peak:.0f} MB",
                target(peak <= TARGET_PEAK_MB, f"≤ {TARGET_PEAK_MB:.0f} MB"),
            ),
            (
                "  peak - idle; largest sampled VmRSS (anon / file)",
                f"{peak - idle:.0f} MB; {sampled['VmRSS']:.0f} ({sampled['RssAnon']:.0f} / "
                f"{sampled['RssFile']:.0f}) MB",
                "",
            ),
        ]
    widths = [max(len(r[i]) for r in rows) for i in range(2)]
    lines = [f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c}".rstrip() for a, b, c in rows]
    cpu, rss = e2e["cpu_percent"], e2e["rss_mb"]
    threads = ", ".join(f"{k} {v}" for k, v in cpu["server_threads"].items())
    lines += [
        "",
        f"batches: {e2e['batches']} of {e2e['batch_mb_mean']:.2f} MB on average; server RSS "
        f"after the run {rss['VmRSS']:.0f} MB (VmHWM {rss['VmHWM']:.0f} MB)",
        f"CPU in % of one core: openpush run: server {cpu['server']:.0f}, bench "
        f"{cpu['bench']:.0f}, other processes {cpu['other']:.0f}; raw engine run: "
        f"{raw['cpu_percent']:.0f}, other processes {raw['other_cpu_percent']:.0f}",
        f"  server by thread: {threads}",
    ]
    for name, run in (("openpush", e2e), ("big batch", big)):
        if run and not run["ok"]:
            lines.append(f"WARNING {name}: batches {run['states']}, results {run['counts']}")
            lines += [f"  {reason}" for reason in run["reasons"][:5]]
        elif run:
            lines.append(f"{name}: every batch COMPLETED, results {run['counts']}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=100_000, help="corpus size (100000)")
    parser.add_argument("--batch-mb", type=float, default=5.0, help="largest batch, MB (5)")
    parser.add_argument("--big-mb", type=int, default=256, help="big batch, MB; 0 skips (256)")
    parser.add_argument("--seed", type=int, default=1, help="corpus seed (1)")
    parser.add_argument("--json", action="store_true", help=f"also write {OUT}")
    args = parser.parse_args(argv)

    data: dict[str, Any] = {"machine": machine(), "options": vars(args)}
    workdir = Path(tempfile.mkdtemp(prefix="openpush-batch-bench-"))
    try:
        corpus = Corpus(args.seed)
        log(f"generating {args.items} items (seed {args.seed})")
        batches = cut_batches(itertools.islice(corpus.items(), args.items), int(args.batch_mb * MB))
        data["openpush"] = run_openpush(workdir, batches, args.items)
        data["raw"] = run_raw(workdir, batches)
        del batches
        data["big"] = run_big(workdir, corpus, args.big_mb) if args.big_mb else None
        data["ratio"] = data["openpush"]["items_per_second"] / data["raw"]["docs_per_second"]
    except (RuntimeError, httpx.HTTPError) as exc:
        log(f"benchmark failed: {exc}; data and server logs kept in {workdir}")
        return 1
    shutil.rmtree(workdir, ignore_errors=True)

    m = data["machine"]
    print(
        f"openpush batch ingestion, {m['date']}, {m['cpus']} CPUs, Python {m['python']}, "
        f"tantivy {m['tantivy']}, load avg before {' '.join(m['loadavg'])}"
    )
    print(f"{args.items:,} items, batches ≤ {args.batch_mb:g} MB, {UPLOADERS} uploaders\n")
    print("\n".join(report(data)))
    if args.json:
        OUT.parent.mkdir(exist_ok=True)
        OUT.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))
        log(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
