"""Scale-out: batch ingestion and query latency of the embedded default next to PostgreSQL
deployments with one and with two workers, all driven over HTTP like a connector.

Usage::

    .venv/bin/python bench/scale_out.py [--items 20000] [--deployments embedded,pg-1,pg-2]
        [--queries 50] [--sources 1] [--postgres-url URL] [--seed 1] [--json] [--keep]

Deployments (``--deployments``, in that order, one after the other):

- ``embedded``: ``openpush serve`` (SQLite + tantivy, the worker in-process): the baseline;
- ``pg-N``: ``openpush serve --no-worker`` and ``N`` ``openpush worker`` processes, each with
  its own data directory, on a fresh PostgreSQL database (``CREATE DATABASE``, ``openpush db
  upgrade``; dropped at the end unless ``--keep``), sharing one ``file://`` blob directory.

For each: ``batch_ingest.py``'s corpus and batch files, pushed by its 3 uploaders (file
container, upload, batch call), timed from the first container request until every batch
reports COMPLETED (``GET …/documents/batches/{id}``); the CPU seconds of the API, worker and
PostgreSQL backend processes over that time; the Search API's view-all count, reported (not
waited for) when it differs; then the same seeded queries through ``POST /rest/search/v2``:
a term with viewAllContent, a term with a search token for identities of the corpus
(security-trimmed), a term and ``aq=@category==X``, a term with category and author facets, a
term sorted by date; a warm-up round of each class first. One table gives every figure and the
ratios to the baseline. A benchmark, not a test: nothing is asserted. The exit status is
non-zero only when a deployment could not run (its data and logs are then kept).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import random
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import orjson
from _stats import log, machine, summary
from batch_ingest import (
    MB,
    UPLOADERS,
    Corpus,
    Server,
    batch_body,
    busy_percent,
    cpu_seconds,
    cut_batches,
    openpush_command,
    proc_status,
    stop_process,
    system_busy,
)

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
CLASSES = ("term", "term (token)", "field filter", "faceted", "sort: date")
WARMUP = 5  # rounds of every class before the timed ones
POLL = 0.05  # seconds between batch-status polls
STALL = 120.0  # seconds without a batch completing before the run is given up
FAILURES = (RuntimeError, OSError, httpx.HTTPError, subprocess.SubprocessError)
NAN = float("nan")


# -- PostgreSQL -------------------------------------------------------------------------------


def postgres_problem(url: str) -> str:
    """Why the PostgreSQL deployments cannot run, or "" when the server answers."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed (pip install 'openpush[postgres]')"
    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        parts = urlsplit(url)
        reason = " ".join(str(exc).split())
        return f"PostgreSQL at {parts.hostname}:{parts.port or 5432} is unreachable: {reason}"
    return ""


@dataclass
class Database:
    """A throwaway database on the server of ``admin_url``."""

    admin_url: str
    name: str

    @property
    def url(self) -> str:
        return urlunsplit(urlsplit(self.admin_url)._replace(path=f"/{self.name}"))

    def execute(self, statement: str, *params: Any) -> list[tuple[Any, ...]]:
        import psycopg

        try:
            with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=5) as conn:
                cursor = conn.execute(statement, params or None)
                return cursor.fetchall() if cursor.description else []
        except psycopg.Error as exc:
            raise RuntimeError(f"PostgreSQL: {exc}") from exc

    def backends(self) -> list[int]:
        """Pids of the server processes connected to this database (on this machine)."""
        rows = self.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", self.name)
        return [pid for (pid,) in rows if _comm(pid) in ("postgres", "postmaster")]


def _comm(pid: int) -> str:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/comm").read_text().strip()
    return ""


@contextlib.contextmanager
def database(admin_url: str, keep: bool) -> Iterator[Database]:
    """A new, migrated database; dropped (``WITH (FORCE)``) on the way out unless ``keep``."""
    db = Database(admin_url, f"openpush_bench_{secrets.token_hex(4)}")
    db.execute(f'CREATE DATABASE "{db.name}"')
    try:
        done = subprocess.run(
            [*openpush_command(), "db", "upgrade", "--database", db.url],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode:
            raise RuntimeError(f"openpush db upgrade failed: {done.stderr.strip()[-500:]}")
        yield db
    finally:
        if keep:
            log(f"kept database {db.name}")
        else:
            db.execute(f'DROP DATABASE IF EXISTS "{db.name}" WITH (FORCE)')


# -- a deployment's processes -----------------------------------------------------------------


class Deployment:
    """``openpush serve``, plus ``workers`` separate ``openpush worker`` processes if any."""

    def __init__(self, root: Path, workers: int, db: Database | None) -> None:
        root.mkdir(parents=True)
        self.db = db
        env = {
            "OPENPUSH_DATABASE": db.url if db else "",
            "OPENPUSH_BLOBS": "",
            "OPENPUSH_INDEX": "",
        }
        if workers:  # separate data directories: the workers read the uploads from one place
            env["OPENPUSH_BLOBS"] = (root / "files").as_uri()
        self.env = env
        self.server = Server(root, "api", args=["--no-worker"] if workers else [], env=env)
        self.root, self.worker_count = root, workers
        self.workers: list[subprocess.Popen[bytes]] = []

    def start(self, timeout: float = 60.0) -> None:
        self.server.start()  # creates the organization, a source and the fields
        env = dict(os.environ, **self.env)
        for n in range(self.worker_count):
            env["OPENPUSH_DATA_DIR"] = str(self.root / f"worker-{n}")
            with (self.root / f"worker-{n}.log").open("wb") as out:
                command = [*openpush_command(), "worker"]
                self.workers.append(subprocess.Popen(command, stdout=out, stderr=out, env=env))
        deadline = time.monotonic() + timeout
        for n, proc in enumerate(self.workers):
            log_path = self.root / f"worker-{n}.log"
            while b"openpush worker running" not in log_path.read_bytes():
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"openpush worker did not start; see {log_path}")
                time.sleep(0.05)

    def exited(self) -> str:
        """Which of the processes has exited, if any."""
        procs = [("serve", self.server.proc)] + [
            (f"worker {i}", p) for i, p in enumerate(self.workers)
        ]
        return ", ".join(
            f"{name} exited with {p.returncode}" for name, p in procs if p.poll() is not None
        )

    def pids(self) -> dict[str, list[int]]:
        return {
            "api": [self.server.pid],
            "workers": [p.pid for p in self.workers],
            "postgres": self.db.backends() if self.db else [],
        }

    def stop(self) -> None:
        for proc in self.workers:
            stop_process(proc)
        self.server.stop()


@dataclass
class CpuSnapshot:
    wall: float
    own: float
    busy: tuple[int, int]
    seconds: dict[str, dict[int, float]]

    @classmethod
    def take(cls, deployment: Deployment) -> CpuSnapshot:
        seconds = {
            group: {pid: _process_cpu(pid) for pid in pids}
            for group, pids in deployment.pids().items()
        }
        return cls(time.monotonic(), time.process_time(), system_busy(), seconds)

    def until(self, later: CpuSnapshot) -> dict[str, Any]:
        """CPU seconds of each group and of each worker since this snapshot.

        ``other_percent`` is the rest of the machine (this process excluded), in % of one core.
        """
        each = {
            group: [s - self.seconds.get(group, {}).get(pid, 0.0) for pid, s in pids.items()]
            for group, pids in later.seconds.items()
        }
        used: dict[str, Any] = {group: sum(seconds) for group, seconds in each.items()}
        span = max(later.wall - self.wall, 1e-9)
        ours = sum(used.values()) + later.own - self.own
        used["other_percent"] = max(busy_percent(self.busy, later.busy) - 100 * ours / span, 0.0)
        used["each_worker"] = each["workers"]
        return used


def _process_cpu(pid: int) -> float:
    with contextlib.suppress(OSError):
        return cpu_seconds(pid)[0]
    return 0.0


# -- ingestion --------------------------------------------------------------------------------


def wait_completed(deployment: Deployment, batch_ids: list[str]) -> float:
    """Poll the batches in order until each is COMPLETED or FAILED; the monotonic time."""
    server, pending = deployment.server, list(batch_ids)
    progressed = time.monotonic()
    while pending:
        batch = server.call("GET", server.batch_path(pending[0]), 200)
        if batch["state"] in ("COMPLETED", "FAILED"):
            pending.pop(0)
            progressed = time.monotonic()
            continue
        if time.monotonic() - progressed > STALL or deployment.exited():
            raise RuntimeError(
                f"{len(pending)} of {len(batch_ids)} batches not done (the first is "
                f"{batch['state']}) {deployment.exited() or f'after {STALL:g} s'}"
            )
        time.sleep(POLL)
    return time.monotonic()


def ingest(deployment: Deployment, bodies: list[bytes], sources: list[str]) -> dict[str, Any]:
    server = deployment.server
    before = CpuSnapshot.take(deployment)
    started = time.monotonic()
    targets = itertools.islice(itertools.cycle(sources), len(bodies))
    with ThreadPoolExecutor(UPLOADERS) as pool:
        batch_ids = list(pool.map(server.push_batch, bodies, targets))
    pushed = time.monotonic()
    completed = wait_completed(deployment, batch_ids)
    cpu = before.until(CpuSnapshot.take(deployment))
    return {
        "batches": len(bodies),
        "push_seconds": pushed - started,
        "seconds": completed - started,
        "cpu_seconds": cpu,
        **server.batch_outcomes(batch_ids),
    }


def searchable(server: Server, items: int, settle: float = 10.0) -> int:
    """The view-all count once it equals ``items``, holds still for 2 s, or ``settle`` s pass."""
    deadline = time.monotonic() + settle
    count, since = server.count(), time.monotonic()
    while count != items and time.monotonic() < min(deadline, since + 2.0):
        time.sleep(0.1)
        if (now := server.count()) != count:
            count, since = now, time.monotonic()
    return count


# -- queries ----------------------------------------------------------------------------------


@dataclass
class Case:
    kind: str
    body: dict[str, Any]
    identities: list[dict[str, str]] = field(default_factory=list)  # token userIds; none: view all


def token_identities(
    item: dict[str, Any], corpus: Corpus, rng: random.Random
) -> list[dict[str, str]]:
    """The groups and one user allowed by the item's first permission set: a user who sees it."""
    first = item["permissions"][0]
    allowed = first.get("permissionSets", [first])[0]["allowedPermissions"]
    users = [a["identity"] for a in allowed if a["identityType"] == "User"] or corpus.users
    groups = [a["identity"] for a in allowed if a["identityType"] == "Group"]
    return [{"name": rng.choice(users), "type": "User"}] + [
        {"name": g, "type": "Group"} for g in groups
    ]


def make_cases(corpus: Corpus, items: list[bytes], per_class: int, seed: int) -> list[Case]:
    """``WARMUP + per_class`` rounds of one query of each class, the same for every deployment."""
    rng = random.Random(seed + 3)
    facets = [
        {"facetId": name, "field": name, "type": "specific", "numberOfValues": 10}
        for name in ("category", "author")
    ]
    cases = []
    for _ in range(WARMUP + per_class):
        word = corpus.vocab[rng.randrange(10, 1000)]  # Zipf ranks: frequent to rare
        item = orjson.loads(rng.choice(items))
        category = rng.choices(corpus.categories, cum_weights=corpus.vocab_cw[:24])[0]
        cases += [
            Case("term", {"q": word}),
            Case("term (token)", {"q": word}, token_identities(item, corpus, rng)),
            Case("field filter", {"q": word, "aq": f"@category=={category}"}),
            Case("faceted", {"q": word, "facets": facets}),
            Case("sort: date", {"q": word, "sortCriteria": "date descending"}),
        ]
    return cases


def run_queries(server: Server, cases: list[Case]) -> dict[str, Any]:
    """Latency and ``totalCount`` of every query by class, the warm-up rounds left out.

    Search tokens are issued before the clock starts: the latency is the query's alone. A query
    answered with an error status is counted (its total is -1), not fatal.
    """
    requests: list[dict[str, Any]] = []
    for case in cases:
        if case.identities:
            body = {"userIds": case.identities}
            token = server.call("POST", "/rest/search/v2/token", 200, json=body)["token"]
            requests.append({"headers": {"Authorization": f"Bearer {token}"}})
        else:
            requests.append({"params": {"viewAllContent": "true"}})
    seconds: dict[str, list[float]] = {kind: [] for kind in CLASSES}
    totals: dict[str, list[int]] = {kind: [] for kind in CLASSES}
    errors: dict[str, list[str]] = {kind: [] for kind in CLASSES}
    for i, (case, request) in enumerate(zip(cases, requests, strict=True)):
        started = time.perf_counter()
        try:
            total = server.call("POST", "/rest/search/v2", 200, json=case.body, **request)[
                "totalCount"
            ]
        except RuntimeError as exc:  # an error status: a finding, not a failed run
            errors[case.kind].append(str(exc)[:300])
            total = -1
        elapsed = time.perf_counter() - started
        if i >= WARMUP * len(CLASSES):
            totals[case.kind].append(int(total))
            if total >= 0:
                seconds[case.kind].append(elapsed)
    classes = {}
    for kind in CLASSES:
        found = [t for t in totals[kind] if t >= 0]
        classes[kind] = {
            **summary(seconds[kind]),
            "total_mean": sum(found) / len(found) if found else NAN,
            "errors": len(errors[kind]),
            "first_error": errors[kind][0] if errors[kind] else "",
        }
    return {"classes": classes, "totals": totals}


# -- one deployment ---------------------------------------------------------------------------


def run_deployment(
    args: argparse.Namespace, name: str, workers: int, bodies: list[bytes], cases: list[Case]
) -> dict[str, Any]:
    workdir = Path(args.workdir)
    with contextlib.ExitStack() as stack:
        db = stack.enter_context(database(args.postgres_url, args.keep)) if workers else None
        deployment = Deployment(workdir / name, workers, db)
        stack.callback(deployment.stop)
        deployment.start()
        server = deployment.server
        sources = [server.source_id]
        sources += [server.add_source(f"bench-{n}") for n in range(1, args.sources)]
        log(f"{name}: {args.items} items, {len(bodies)} batches, {len(sources)} source(s)")
        result = ingest(deployment, bodies, sources)
        result["items_per_second"] = args.items / result["seconds"]
        result["searchable"] = searchable(server, args.items)
        log(f"{name}: {len(cases)} queries ({WARMUP} warm-up rounds)")
        result["queries"] = run_queries(server, cases)
        result["rss_mb"] = {
            "api": proc_status(server.pid)["VmRSS"],
            "workers": sum(proc_status(p.pid)["VmRSS"] for p in deployment.workers),
        }
        result["workers"] = workers
    return result


# -- report -----------------------------------------------------------------------------------

Run = dict[str, Any]


@dataclass
class Metric:
    """One row: its values in each deployment (nan: not applicable), and whether to compare."""

    label: str
    values: Callable[[Run], tuple[float, ...]]
    spec: str = ".1f"
    compare: bool = True


def _cpu(r: Run, *groups: str) -> tuple[float, ...]:
    """CPU seconds of ``groups`` together (nan if a deployment without workers has none)."""
    if not r["workers"] and "api" not in groups:
        return (NAN,)
    return (sum(r["cpu_seconds"][group] for group in groups),)


def _equal_totals(base: Run) -> Callable[[Run], tuple[float, ...]]:
    def values(r: Run) -> tuple[float, ...]:
        mine, theirs = r["queries"]["totals"], base["queries"]["totals"]
        pairs = [p for kind in CLASSES for p in zip(mine[kind], theirs[kind], strict=True)]
        return sum(a == b for a, b in pairs), len(pairs)

    return values


def metrics(base: Run) -> list[Metric]:
    rows = [
        Metric("ingest items/s (→ all COMPLETED)", lambda r: (r["items_per_second"],), ",.0f"),
        Metric("  ingest time, s", lambda r: (r["seconds"],)),
        Metric(
            "  push phase (until the last 202), s", lambda r: (r["push_seconds"],), ".1f", False
        ),
        Metric(
            "CPU s: API + workers + PostgreSQL",
            lambda r: _cpu(r, "api", "workers", "postgres"),
        ),
        Metric("  API process", lambda r: _cpu(r, "api"), ".1f", False),
        Metric("  worker processes", lambda r: _cpu(r, "workers"), ".1f", False),
        Metric(
            "    each worker",
            lambda r: tuple(r["cpu_seconds"]["each_worker"]) or (NAN,),
            ".1f",
            False,
        ),
        Metric("  PostgreSQL backends", lambda r: _cpu(r, "postgres"), ".1f", False),
        Metric(
            "  other processes, % of a core",
            lambda r: (r["cpu_seconds"]["other_percent"],),
            ".0f",
            False,
        ),
        Metric(
            "RSS MB after: API / workers",
            lambda r: (r["rss_mb"]["api"], r["rss_mb"]["workers"] if r["workers"] else NAN),
            ".0f",
            False,
        ),
        Metric("searchable (view-all count)", lambda r: (r["searchable"],), ",d", False),
    ]
    for kind in CLASSES:
        rows.append(
            Metric(
                f"{kind}: p50 / p95 ms",
                lambda r, k=kind: (
                    r["queries"]["classes"][k]["p50"],
                    r["queries"]["classes"][k]["p95"],
                ),
            )
        )
    rows.append(
        Metric(
            "mean totalCount: term / term (token)",
            lambda r: tuple(r["queries"]["classes"][k]["total_mean"] for k in CLASSES[:2]),
            ",.0f",
            False,
        )
    )
    rows.append(Metric("query totals equal to the first's", _equal_totals(base), "d", False))
    rows.append(
        Metric(
            "query errors (error statuses)",
            lambda r: (sum(c["errors"] for c in r["queries"]["classes"].values()),),
            "d",
            False,
        )
    )
    return rows


def _cell(values: tuple[float, ...], spec: str) -> str:
    return " / ".join("—" if v != v else format(v, spec) for v in values)


def _ratio(values: tuple[float, ...], reference: tuple[float, ...]) -> str:
    pairs = [
        f"{v / r:.2f}" if r and v == v and r == r else "—"
        for v, r in zip(values, reference, strict=True)
    ]
    return " / ".join(pairs) + "x"


def comparisons(names: list[str]) -> list[tuple[str, str]]:
    """(deployment, reference) pairs: each against the first, and pg-N against pg-1."""
    pairs = [(name, names[0]) for name in names[1:]]
    if "pg-1" in names:
        pairs += [(n, "pg-1") for n in names if n.startswith("pg-") and n != "pg-1"]
    return list(dict.fromkeys(pairs))


def table(runs: dict[str, Run]) -> list[str]:
    names = list(runs)
    pairs = comparisons(names)
    rows = [["", *names, *(f"{a} / {b}" for a, b in pairs)]]
    for m in metrics(runs[names[0]]):
        cells = [_cell(m.values(runs[n]), m.spec) for n in names]
        ratios = [
            _ratio(m.values(runs[a]), m.values(runs[b])) if m.compare else "" for a, b in pairs
        ]
        rows.append([m.label, *cells, *ratios])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ).rstrip()
        for r in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines


def notes(data: dict[str, Any]) -> list[str]:
    runs, items = data["deployments"], data["options"]["items"]
    lines = []
    for a, b in comparisons(list(runs)):
        ratio = runs[a]["items_per_second"] / runs[b]["items_per_second"]
        lines.append(f"{a} ingest {ratio:.2f}x {b}")
    out = ["; ".join(lines)] if lines else []
    for name, run in runs.items():
        if not run["ok"]:
            out.append(f"WARNING {name}: batches {run['states']}, results {run['counts']}")
            out += [f"  {reason}" for reason in run["reasons"][:5]]
        if run["searchable"] != items:
            out.append(
                f"WARNING {name}: the Search API counts {run['searchable']:,} of {items:,} items "
                "after every batch finished: its query figures do not measure the corpus"
            )
        for kind, c in run["queries"]["classes"].items():
            if c["errors"]:
                out.append(
                    f"WARNING {name}: {c['errors']} {kind} queries failed: {c['first_error']}"
                )
    for name, run in runs.items():
        each = run["cpu_seconds"]["each_worker"]
        if len(each) > 1 and max(each) >= 0.9 * sum(each):
            out.append(
                f"note {name}: one worker used {max(each) / sum(each):.0%} of the workers' CPU: "
                "it claimed (nearly) every batch file"
            )
    if data["options"]["sources"] == 1 and any(r["workers"] > 1 for r in runs.values()):
        out.append(
            "note: one source: the queue applies a source's batch files one at a time, "
            "whichever worker claims them (see --sources)"
        )
    out += [f"skipped {name}: {why}" for name, why in data["skipped"].items()]
    out += [f"FAILED {name}: {why}" for name, why in data["failed"].items()]
    return out


def report(data: dict[str, Any]) -> str:
    m, o = data["machine"], data["options"]
    lines = [
        f"openpush scale-out, {m['date']}, {m['cpus']} CPUs, Python {m['python']}, "
        f"load avg before {' '.join(m['loadavg'])}",
        f"{o['items']:,} items in {data['batches']} batches ≤ {o['batch_mb']:g} MB, "
        f"{UPLOADERS} uploaders, {o['sources']} source(s); {o['queries']} queries per class "
        f"after {WARMUP} warm-up rounds",
        "",
    ]
    if data["deployments"]:
        lines += table(data["deployments"])
        lines += [
            "",
            "ratios: column ÷ reference; items/s above 1 is faster, times, CPU and latencies",
            "above 1 are slower or costlier. CPU is measured over the ingest time.",
        ]
    return "\n".join(lines + notes(data))


# -- main -------------------------------------------------------------------------------------


def parse_deployments(text: str) -> list[tuple[str, int]]:
    """``embedded`` (0 separate workers) or ``pg-N`` (N workers), in the order given."""
    out = []
    for name in filter(None, (n.strip() for n in text.split(","))):
        match = re.fullmatch(r"pg-([1-9][0-9]?)", name)
        if name != "embedded" and not match:
            raise argparse.ArgumentTypeError(f"unknown deployment {name!r}: embedded or pg-N")
        out.append((name, int(match.group(1)) if match else 0))
    if not out:
        raise argparse.ArgumentTypeError("no deployment")
    return out


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=20_000, help="corpus size (20000)")
    parser.add_argument(
        "--deployments",
        type=parse_deployments,
        default="embedded,pg-1,pg-2",
        help="comma-separated: embedded, pg-N (embedded,pg-1,pg-2); the first is the baseline",
    )
    parser.add_argument("--queries", type=int, default=50, help="timed queries per class (50)")
    parser.add_argument("--sources", type=int, default=1, help="sources the batches go to (1)")
    parser.add_argument("--batch-mb", type=float, default=5.0, help="largest batch, MB (5)")
    parser.add_argument("--seed", type=int, default=1, help="corpus and query seed (1)")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES, help=f"({DEFAULT_POSTGRES})")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    parser.add_argument("--keep", action="store_true", help="keep data, logs and databases")
    args = parser.parse_args(argv)
    if min(args.items, args.queries, args.sources) < 1:
        parser.error("sizes must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up (databases) on SIGTERM
    deployments: list[tuple[str, int]] = args.deployments
    data: dict[str, Any] = {"machine": machine(), "skipped": {}, "failed": {}, "deployments": {}}
    if any(workers for _, workers in deployments) and (why := postgres_problem(args.postgres_url)):
        log(f"skipping the PostgreSQL deployments: {why}")
        data["skipped"] = {name: why for name, workers in deployments if workers}
        deployments = [(name, workers) for name, workers in deployments if not workers]
    workdir = Path(tempfile.mkdtemp(prefix="openpush-scale-bench-"))
    args.workdir = str(workdir)
    data["options"] = {**vars(args), "deployments": [name for name, _ in args.deployments]}

    corpus = Corpus(args.seed)
    log(f"generating {args.items} items (seed {args.seed})")
    items = list(itertools.islice(corpus.items(), args.items))
    bodies = [batch_body(b) for b in cut_batches(items, int(args.batch_mb * MB))]
    data["batches"] = len(bodies)
    cases = make_cases(corpus, items, args.queries, args.seed)
    del items
    try:
        for name, workers in deployments:
            try:
                data["deployments"][name] = run_deployment(args, name, workers, bodies, cases)
            except FAILURES as exc:
                log(f"{name} failed: {exc}")
                data["failed"][name] = str(exc)
    finally:
        if args.keep or data["failed"]:
            log(f"data and logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() if args.json else report(data))
    return 1 if data["failed"] or not data["deployments"] else 0


if __name__ == "__main__":
    sys.exit(main())
