"""The scale-out deployment as operators run it: two ``openpush serve --no-worker`` API
processes and two ``openpush worker`` processes on one PostgreSQL database, file containers
in S3 (moto's server), driven by Coveo's official Python client.

- A batch pushed through one API process is applied by the workers while one of them is
  killed with ``kill -9`` in the middle of it: the other takes the batch over when the dead
  worker's lease lapses; every item is added exactly once and both API processes find them.
- Identities pushed through one API process decide what a user finds through the other, and a
  membership change reaches that other process's searches at once (its expansion cache keys
  on the organization's identity version, read from the shared database).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from push_api_clientpy import BatchUpdate, DocumentBuilder

from tests.acceptance.conftest import START_TIMEOUT, STOP_TIMEOUT, OpenpushServer, free_port
from tests.acceptance.test_batches import adds_per_document, batch_status, wait_batch
from tests.acceptance.test_official_client import official_source
from tests.acceptance.test_official_client_identities import (
    DAVE_DOC,
    ENG_DOC,
    ENG_NOT_BOB,
    GROUP,
    PUBLIC_DOC,
    World,
    group,
    set_up,
    user,
)
from tests.pgserver import fresh_database
from tests.s3server import s3_bucket, s3_server  # noqa: F401

pytestmark = [pytest.mark.acceptance, pytest.mark.postgres]

LEASE_SECONDS = 4  # a killed worker's claims lapse after this (the default is 60 s)
BATCH_ITEMS = 6_000
CHUNK = 250


class WorkerProcess:
    """One ``openpush worker`` process."""

    def __init__(self, root: Path, options: list[str], env: dict[str, str]) -> None:
        self.root = root
        self.options = options
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None
        self.metrics_url = ""

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        out = self.root / "worker.stdout"
        with out.open("wb") as stdout, (self.root / "worker.stderr").open("wb") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "openpush", "worker", *self.options],
                cwd=self.root,
                env=self.env,
                stdout=stdout,
                stderr=stderr,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while b"openpush worker running" not in out.read_bytes():
            if self.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"openpush worker did not start:\n{self.stderr()}")
            time.sleep(0.05)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def stderr(self) -> str:
        return (self.root / "worker.stderr").read_text(errors="replace")

    def added(self) -> float:
        """Items this worker added (``openpush_operations_total`` on its metrics port)."""
        response = requests.get(f"{self.metrics_url}/metrics", timeout=10)
        assert response.status_code == 200, response.text
        for family in text_string_to_metric_families(response.text):
            for sample in family.samples:
                if sample.name == "openpush_operations_total" and sample.labels == {
                    "operation": "ADD",
                    "result": "COMPLETED",
                }:
                    return sample.value
        return 0.0

    def kill(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(STOP_TIMEOUT)
        self.process = None

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            assert process.wait(STOP_TIMEOUT) == 0, self.stderr()
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(STOP_TIMEOUT)


@dataclass
class Deployment:
    database: str
    apis: list[OpenpushServer] = field(default_factory=list)
    workers: list[WorkerProcess] = field(default_factory=list)

    def claimers(self) -> set[str]:
        """The ``host:pid:…`` ids of the workers holding claims on queued operations."""
        with psycopg.connect(self.database) as conn:
            rows = conn.execute(
                "SELECT DISTINCT claimed_by FROM operations WHERE claimed_by IS NOT NULL"
            ).fetchall()
        return {row[0] for row in rows}


@pytest.fixture
def deployment(
    tmp_path: Path,
    s3_bucket: tuple[str, str],  # noqa: F811
) -> Iterator[Deployment]:
    endpoint, bucket = s3_bucket
    with fresh_database() as database:
        storage = ["--database", database, "--blobs", f"s3://{bucket}/containers"]
        settings = {
            "OPENPUSH_S3_ENDPOINT_URL": endpoint,
            "OPENPUSH_QUEUE_LEASE_SECONDS": str(LEASE_SECONDS),
            "OPENPUSH_BATCH_CHUNK_SIZE": str(CHUNK),
        }
        setup = Deployment(database)
        try:
            for n in range(2):
                api = OpenpushServer(tmp_path / f"api-{n}")
                api.root.mkdir(parents=True)
                api.args = [*storage, "--no-worker"]
                api.env.update(settings)
                api.start()
                setup.apis.append(api)
            env = {k: v for k, v in os.environ.items() if not k.startswith("OPENPUSH_")}
            env.update(settings, PYTHONUNBUFFERED="1")
            for n in range(2):
                port = free_port()
                worker = WorkerProcess(
                    tmp_path / f"worker-{n}",
                    [
                        *storage,
                        "--data-dir",
                        str(tmp_path / f"worker-{n}" / "data"),
                        "--metrics-port",
                        str(port),
                    ],
                    env,
                )
                worker.metrics_url = f"http://127.0.0.1:{port}"
                worker.start()
                setup.workers.append(worker)
            yield setup
        finally:
            for worker in setup.workers:
                worker.stop()
            for api in setup.apis:
                api.close()


def test_a_worker_killed_mid_batch_loses_nothing_and_applies_nothing_twice(
    deployment: Deployment,
) -> None:
    api_a, api_b = deployment.apis
    source, _ = official_source(api_a)
    created = source.create("scale-out", "SHARED")
    assert created.status_code == 201, created.text
    source_id = created.json()["id"]
    builders = [
        DocumentBuilder(f"https://scale.test/doc/{n}", f"Scale item {n}").withData(
            f"obsidian item number {n}"
        )
        for n in range(BATCH_ITEMS)
    ]
    response = source.batchUpdateDocuments(source_id, BatchUpdate(builders, []))
    assert response.status_code == 202, response.text
    batch_id = response.json()["batchId"]

    # wait until the batch is partly applied, then kill the worker holding it
    deadline = time.monotonic() + 60
    while batch_status(api_b, source_id, batch_id, perPage=1)["processed"] < 2 * CHUNK:
        assert time.monotonic() < deadline, "the batch never started"
        time.sleep(0.01)
    holders = deployment.claimers()
    pids = {worker.pid: worker for worker in deployment.workers}
    holding = [pids[int(claimer.split(":")[1])] for claimer in holders]
    assert len(holding) == 1, holders
    killed = holding[0]
    killed.kill()
    processed_at_kill = batch_status(api_b, source_id, batch_id, perPage=1)["processed"]
    assert processed_at_kill < BATCH_ITEMS, "the batch ended before the kill: nothing tested"

    status = wait_batch(api_b, source_id, batch_id, timeout=120)
    assert status["state"] == "COMPLETED", status
    assert status["processed"] == BATCH_ITEMS
    assert status["counts"] == {"COMPLETED": BATCH_ITEMS}
    adds = adds_per_document(api_a, source_id, batch_id)
    assert len(adds) == BATCH_ITEMS
    assert set(adds.values()) == {1}, "an item was logged as added twice"
    # the survivor took the batch over: the dead worker's claims are gone, and its own
    # metrics count what it applied
    assert all(int(c.split(":")[1]) != killed.pid for c in deployment.claimers())
    (survivor,) = [w for w in deployment.workers if w is not killed]
    assert requests.get(f"{survivor.metrics_url}/health", timeout=10).status_code == 200
    assert survivor.added() >= BATCH_ITEMS - processed_at_kill
    for api in deployment.apis:  # one index, found through either API process
        assert api.search_all(q="obsidian", number_of_results=0)["totalCount"] == BATCH_ITEMS
        found = api.search_all(q='"number 4321"', number_of_results=5)
        assert [r["uri"] for r in found["results"]] == ["https://scale.test/doc/4321"]


def test_identities_pushed_through_one_api_process_trim_searches_on_the_other(
    deployment: Deployment,
) -> None:
    api_a, api_b = deployment.apis
    world_a = set_up(api_a)  # source, provider, identities and items, all through API A
    world_b = World(api_b)
    assert world_b.sees("alice") == {ENG_DOC, ENG_NOT_BOB, PUBLIC_DOC}
    assert world_b.sees("dave") == {DAVE_DOC, PUBLIC_DOC}

    # dave joins the group through API A; API B's next searches see it
    ordering = world_a.push_identity(
        group(GROUP), members=[user("alice"), user("bob"), user("carol"), user("dave")]
    )
    world_a.wait_identities({GROUP: ("UP_TO_DATE", ordering)})
    assert world_b.sees("dave") == {ENG_DOC, ENG_NOT_BOB, DAVE_DOC, PUBLIC_DOC}
    # and alice leaves it: she loses the group's items at once on API B
    ordering = world_a.push_identity(group(GROUP), members=[user("bob"), user("dave")])
    world_a.wait_identities({GROUP: ("UP_TO_DATE", ordering)})
    assert world_b.sees("alice") == {PUBLIC_DOC}
