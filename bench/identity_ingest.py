"""Identity batch ingestion of a real ``openpush serve`` against raw writes to its state store.

Usage::

    .venv/bin/python bench/identity_ingest.py [--groups 20000] [--members 10] [--users 50000]
                                              [--batch-mb 5] [--seed 1] [--json]

1. generate a seeded identity graph: ``--groups`` groups, each with ``--members`` users drawn
   from ``--users`` and, for 90 % of them, one earlier group as a member (nesting); and one
   alias entry per user mapping it to its email in the Email Security Provider;
2. openpush end to end: a fresh server, an EXPANDED provider, the entries (``members`` then
   ``mappings``) cut into batch files of at most ``--batch-mb`` MB, each pushed as container
   + upload + ``PUT …/providers/{p}/permissions/batch``; timed from the first container
   request until every batch reports ``finishedDate``;
3. raw store: the same identities and relationships (the pushed ones, and the member
   identities the pipeline creates on first sight), written by the state store's own
   ``write_identity_changes`` into a fresh SQLite store, in transactions of
   ``batch_chunk_size`` entries as the pipeline commits them.

A benchmark, not a test: nothing is asserted. The exit status is non-zero only when the
benchmark itself could not run (its data and logs are then kept).
"""

from __future__ import annotations

import argparse
import itertools
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
from _stats import log, machine
from batch_ingest import ORG, Server, cpu_seconds, stop_process

from openpush.domain.identities import EdgeKind, IdentityRef, SecurityProvider
from openpush.domain.organizations import Organization
from openpush.domain.permissions import IdentityType
from openpush.security.evaluate import EMAIL_PROVIDER
from openpush.settings import load_settings
from openpush.storage.base import IdentityChange, IdentityRecord
from openpush.storage.sqlite import SqliteStateStore
from openpush.storage.sqlite.identities import write_identity_changes

PROVIDER = "Directory"
MB = 1024 * 1024


class Graph:
    """The seeded entries: ``members`` (groups) and ``mappings`` (user → email)."""

    def __init__(self, groups: int, members: int, users: int, seed: int) -> None:
        rng = random.Random(seed)
        self.groups: list[tuple[str, list[str], str | None]] = []
        for g in range(groups):
            parent_member = f"group-{rng.randrange(g)}" if g and rng.random() < 0.9 else None
            picked = [f"user{u}" for u in rng.sample(range(users), members)]
            self.groups.append((f"group-{g}", picked, parent_member))
        self.users = users

    def entries(self) -> Iterator[tuple[str, bytes]]:
        """(section, serialized entry), groups first."""
        for name, users, group in self.groups:
            members = [{"name": u, "type": "USER"} for u in users]
            if group:
                members.append({"name": group, "type": "GROUP"})
            entry = {"identity": {"name": name, "type": "GROUP"}, "members": members}
            yield "members", orjson.dumps(entry)
        for u in range(self.users):
            mapping = {"name": f"user{u}@bench.test", "type": "USER", "provider": EMAIL_PROVIDER}
            entry = {"identity": {"name": f"user{u}", "type": "USER"}, "mappings": [mapping]}
            yield "mappings", orjson.dumps(entry)

    def relationships(self) -> int:
        return sum(len(users) + bool(group) for _, users, group in self.groups) + self.users

    def changes(self) -> Iterator[IdentityChange]:
        """What the pipeline commits for the entries, in the same order."""
        now, seen = time.time(), set()

        def record(name: str, kind: IdentityType, ordering: int) -> IdentityRecord:
            ref = IdentityRef(PROVIDER, name, kind)
            return IdentityRecord(ORG, ref.key(), ref, True, ordering, now)

        for name, users, group in self.groups:
            parent = record(name, IdentityType.GROUP, 1)
            refs = [record(u, IdentityType.USER, 0) for u in users]
            if group:
                refs.append(record(group, IdentityType.GROUP, 0))
            edges = {EdgeKind.MEMBER: [(parent.key, r.key) for r in refs]}
            seen.add(parent.key)
            yield IdentityChange(parent, edges)
            for r in refs:
                if r.key not in seen:
                    seen.add(r.key)
                    yield IdentityChange(r, {})
        for u in range(self.users):
            user = record(f"user{u}", IdentityType.USER, 1)
            email = IdentityRef(EMAIL_PROVIDER, f"user{u}@bench.test", IdentityType.USER)
            yield IdentityChange(user, {EdgeKind.ALIAS: [(user.key, email.key())]})


def batch_files(graph: Graph, limit: int) -> list[bytes]:
    """The entries as batch bodies of at most ``limit`` bytes, one section per file."""
    files: list[bytes] = []
    for section, group in itertools.groupby(graph.entries(), key=lambda e: e[0]):
        batch: list[bytes] = []
        size = 0
        for _, entry in group:
            if batch and size + len(entry) + 32 > limit:
                files.append(_body(section, batch))
                batch, size = [], 0
            batch.append(entry)
            size += len(entry) + 1
        if batch:
            files.append(_body(section, batch))
    return files


def _body(section: str, entries: list[bytes]) -> bytes:
    return b'{"' + section.encode() + b'":[' + b",".join(entries) + b"]}"


def run_openpush(workdir: Path, files: list[bytes]) -> dict[str, Any]:
    server = Server(workdir, "openpush")
    try:
        server.start()
        body = {"id": PROVIDER, "type": "EXPANDED"}
        server.call("POST", f"/rest/organizations/{ORG}/securityproviders", 201, json=body)
        cpu_before = cpu_seconds(server.pid)[0]
        started = time.monotonic()
        batches = []
        path = f"/push/v1/organizations/{ORG}/providers/{PROVIDER}/permissions/batch"
        for content in files:
            receipt = server.call("PUT", path, 202, params={"fileId": server.upload(content)})
            batches.append(receipt["batchId"])
        pushed = time.monotonic() - started
        log(f"openpush: {len(files)} batch files accepted in {pushed:.1f} s")
        states: list[dict[str, Any]] = []
        for batch_id in batches:
            path = (
                f"/push/v1/organizations/{ORG}/providers/{PROVIDER}/permissions/batches/{batch_id}"
            )
            while not (state := server.call("GET", path, 200)).get("finishedDate"):
                if time.monotonic() - started > 3600:
                    raise RuntimeError(f"batch {batch_id} unfinished after an hour: {state}")
                time.sleep(0.05)
            states.append(state)
        seconds = time.monotonic() - started
        counts: dict[str, int] = {}
        for state in states:
            for result, n in state["counts"].items():
                counts[result] = counts.get(result, 0) + n
        return {
            "seconds": seconds,
            "push_seconds": pushed,
            "server_cpu_seconds": cpu_seconds(server.pid)[0] - cpu_before,
            "batch_files": len(files),
            "entries": sum(s["processed"] for s in states),
            "results": counts,
        }
    finally:
        stop_process(server.proc)


def run_raw(workdir: Path, graph: Graph, chunk: int) -> dict[str, Any]:
    """The pipeline commits a chunk of entries per transaction; so does this."""
    (workdir / "raw").mkdir()
    store = SqliteStateStore(workdir / "raw" / "state.db")
    try:
        store.catalog.create_organization(Organization(ORG, "bench"))
        store.identities.save_provider(SecurityProvider(ORG, PROVIDER, "bench directory"))
        changes = list(graph.changes())  # built before the timer, as the server parses its own
        started = time.monotonic()
        entries = 0
        pending: list[IdentityChange] = []
        for change in changes:
            pending.append(change)
            entries += change.record.ordering_id == 1  # a pushed entry, not a created member
            if entries == chunk:
                store.db.write(lambda conn, c=pending: write_identity_changes(conn, c))
                pending, entries = [], 0
        if pending:
            store.db.write(lambda conn, c=pending: write_identity_changes(conn, c))
        return {"seconds": time.monotonic() - started, "identities": len(changes)}
    finally:
        store.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--groups", type=int, default=20_000, help="groups (20000)")
    parser.add_argument("--members", type=int, default=10, help="user members per group (10)")
    parser.add_argument("--users", type=int, default=50_000, help="users (50000)")
    parser.add_argument("--batch-mb", type=float, default=5.0, help="largest batch file (5)")
    parser.add_argument("--seed", type=int, default=1, help="seed (1)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the report")
    args = parser.parse_args(argv)
    if min(args.groups, args.users) < 1 or not 0 < args.members <= args.users:
        parser.error("sizes must be positive, and members at most users")

    graph = Graph(args.groups, args.members, args.users, args.seed)
    files = batch_files(graph, int(args.batch_mb * MB))
    entries = args.groups + args.users
    relationships = graph.relationships()
    workdir = Path(tempfile.mkdtemp(prefix="openpush-identity-ingest-"))
    keep = True
    try:
        log(f"openpush: {entries:,} entries, {relationships:,} relationships")
        end_to_end = run_openpush(workdir, files)
        log(f"openpush: applied in {end_to_end['seconds']:.1f} s; raw store writes next")
        raw = run_raw(workdir, graph, load_settings().batch_chunk_size)
        keep = False
    finally:
        if keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    data = {
        "machine": machine(),
        "options": vars(args),
        "entries": entries,
        "relationships": relationships,
        "openpush": end_to_end,
        "raw": raw,
    }
    if args.json:
        print(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())
        return 0
    m, op = data["machine"], end_to_end
    rate, raw_rate = entries / op["seconds"], entries / raw["seconds"]
    print(
        f"openpush identity batch ingestion, {m['date']}, {m['cpus']} CPUs, Python "
        f"{m['python']}, load avg before {' '.join(m['loadavg'])}\n\n"
        f"graph: {args.groups:,} groups of {args.members} users (+1 nested group for 90 %), "
        f"{args.users:,} users with an email alias: {entries:,} entries, "
        f"{relationships:,} relationships, {len(files)} batch files of ≤ {args.batch_mb:g} MB\n"
        f"openpush end to end   {op['seconds']:7.1f} s  {rate:8,.0f} entries/s  "
        f"{relationships / op['seconds']:9,.0f} relationships/s  (pushed in "
        f"{op['push_seconds']:.1f} s; server CPU {op['server_cpu_seconds']:.1f} s; "
        f"results {op['results']})\n"
        f"raw store writes      {raw['seconds']:7.1f} s  {raw_rate:8,.0f} entries/s  "
        f"{relationships / raw['seconds']:9,.0f} relationships/s  "
        f"({raw['identities']:,} identity records)\n"
        f"ratio openpush / raw store: {rate / raw_rate:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
