"""Identity expansion latency and security-trimmed search over a large identity population.

Usage::

    .venv/bin/python bench/identity_trimming.py [--groups 100000] [--memberships 1000000]
        [--depth 10] [--users 200000] [--items 1000000] [--queries 500] [--expansions 1000]
        [--expansion-seconds 120] [--seed 1] [--json] [--keep]

1. population: ``--groups`` groups in ``--depth`` + 1 layers (each group of a layer is a member
   of 1-2 groups of the next one, so memberships nest ``--depth`` deep), ``--users`` users in a
   few groups each (``--memberships`` member edges in all), granted identities, and an alias from
   every user to their email identity. It is written straight into an openpush SQLite state
   store with ``write_identity_changes`` (what the pipeline does for identity pushes), in large
   transactions: pushing a million memberships through the HTTP API would take far too long;
2. expansion: ``GraphExpander.expansion`` of random users' email identities on that store: with
   empty caches (every level read from SQLite, as right after an identity change) for a fifth
   of the users, then the first call of each user (a cache miss; the group neighbourhoods read
   for earlier users are reused, as in a running server), for at most ``--expansion-seconds``,
   then cached (the second call), with the time spent in graph reads;
3. index: ``--items`` documents with about 300 bytes of Zipf-distributed text and permission
   models naming the population's groups and users, encoded by ``encode_model`` and bulk loaded
   into a ``TantivyIndex`` (openpush's schema and writer);
4. queries: single terms of four frequency bands, two-term ANDs and phrases, each run as one of
   the users expanded in step 2, untrimmed (view all) and trimmed (the visibility
   ``openpush.search.service`` builds from the user's expanded identities), through
   ``TantivyIndex.search`` and through the service's ``run_search``; trimmed once more with
   the permission filter only (no item-by-item decision of selective queries: the way every
   trimmed search ran before it, and the baseline it must match total for total); the
   permission filter is also timed alone (match all), and the trimmed top hits and some exact
   totals are checked against ``evaluate``.

A benchmark, not a test: targets are printed as PASS/MISS, never asserted. Progress goes to
stderr; ``--json`` prints one JSON document instead of the report.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import math
import os
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from _stats import log, machine, pct, peak_rss_mb, summary

from openpush.domain.identities import EdgeKind, IdentityRef, SecurityProvider
from openpush.domain.organizations import Organization
from openpush.domain.permissions import (
    IdentityType,
    PermissionIdentity,
    PermissionLevel,
    PermissionModel,
    PermissionSet,
)
from openpush.domain.sources import Source, SourceVisibility
from openpush.index.base import IndexDocument, IndexSearch
from openpush.index.tantivy.engine import TantivyIndex
from openpush.search.query import MatchAll, Node, parse
from openpush.search.service import SearchRequest, _visibility, run_search
from openpush.search.tokens import UserId
from openpush.security import acl
from openpush.security.acl import encode_model
from openpush.security.evaluate import EMAIL_PROVIDER, IdentityKey, evaluate, identity_key
from openpush.security.graph import GraphExpander
from openpush.settings import load_settings
from openpush.storage.base import IdentityChange, IdentityRecord
from openpush.storage.sqlite import SqliteStateStore
from openpush.storage.sqlite.identities import write_identity_changes

ORG = "bench"
PROVIDER = "bench-ad"
SOURCE_ID = "bench-secured"
DOMAIN = "bench.test"
TARGET_EXPANSION_P95_MS = 10.0
TARGET_RATIO = 1.5
SECOND_PARENT = 0.5  # share of groups that are a member of a second group of the next layer
GRANTED_GROUPS = 0.10  # share of groups with a granted identity
GRANTED_USERS = 0.02  # share of users with a granted identity
DISABLED_GROUPS = 0.005
WRITE_CHUNK = 5000  # identity changes per transaction
COMMIT_EVERY = 100_000  # documents per index commit
VOCABULARY = 20_000
WARMUP = 50  # queries run (every variant) before the timed ones
EXACT_CHECKS = 20  # queries whose trimmed total is checked against evaluate() on every match


def system_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine."""
    fields = [float(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


class CpuMeter:
    """This process's CPU and everything else's, between construction and ``stop``."""

    def __init__(self) -> None:
        self.wall, self.own, self.busy = time.monotonic(), time.process_time(), system_busy()

    def stop(self) -> dict[str, float]:
        span = max(time.monotonic() - self.wall, 1e-9)
        own = 100 * (time.process_time() - self.own) / span
        busy, total = system_busy()
        machine = 100 * (os.cpu_count() or 1) * (busy - self.busy[0]) / max(total - self.busy[1], 1)
        return {"seconds": span, "bench": own, "other": max(machine - own, 0.0)}


# -- the identity population --------------------------------------------------------------------


def group_name(layer: int, index: int) -> str:
    return f"g{layer:02d}-{index:06d}"


def user_name(user: int) -> str:
    return f"u{user:07d}"


def email(user: int) -> str:
    return f"{user_name(user)}@{DOMAIN}"


def role_name(role: int) -> str:
    return f"role-{role:04d}"


def layer_sizes(groups: int, depth: int) -> list[int]:
    """``depth`` + 1 layers, each half the size of the one below (at least one group each)."""
    weights = [0.5**k for k in range(depth + 1)]
    sizes = [max(1, round(groups * w / sum(weights))) for w in weights]
    sizes[0] += groups - sum(sizes)
    if sizes[0] < 1:
        raise SystemExit(f"--groups {groups} is too small for --depth {depth}")
    return sizes


@dataclass
class Population:
    """Groups (global index, layer by layer), users, their edges, granted identities."""

    sizes: list[int]
    starts: list[int]
    users: int
    roles: int
    parents: list[list[int]]  # group -> the groups of the next layer it is a member of
    user_groups: list[list[int]]  # user -> its groups
    group_roles: dict[int, int]
    user_roles: dict[int, int]
    disabled: set[int]
    names: list[str] = field(default_factory=list)  # group -> name

    @property
    def groups(self) -> int:
        return sum(self.sizes)

    def counts(self) -> dict[str, Any]:
        nested = sum(map(len, self.parents))
        direct = sum(map(len, self.user_groups))
        return {
            "groups": self.groups,
            "layers": self.sizes,
            "users": self.users,
            "memberships": nested + direct,
            "group_in_group": nested,
            "user_in_group": direct,
            "granted_identities": self.roles,
            "grants": len(self.group_roles) + len(self.user_roles),
            "aliases": self.users,
            "disabled_groups": len(self.disabled),
        }


def build_population(
    groups: int, memberships: int, depth: int, users: int, seed: int
) -> Population:
    rng = random.Random(seed)
    sizes = layer_sizes(groups, depth)
    starts = [0, *itertools.accumulate(sizes)][:-1]
    parents: list[list[int]] = []
    for k, size in enumerate(sizes):
        for i in range(size):
            if k == depth:
                parents.append([])
                continue
            above, base = sizes[k + 1], starts[k + 1]
            primary = base + i * above // size  # a tree, plus cross links to random groups
            links = [primary]
            other = base + rng.randrange(above)
            if rng.random() < SECOND_PARENT and other != primary:
                links.append(other)
            parents.append(links)
    nested = sum(map(len, parents))
    extra = memberships - nested - users
    if extra < 0:
        raise SystemExit(
            f"--memberships {memberships} leaves fewer than one group per user after the "
            f"{nested} group-in-group memberships"
        )
    user_groups = [[starts[0] + u * sizes[0] // users] for u in range(users)]
    pick = _user_group_picker(sizes, starts)
    placed = 0
    while placed < extra:
        mine = user_groups[rng.randrange(users)]
        group = pick(rng)
        if group not in mine:
            mine.append(group)
            placed += 1
    roles = max(10, groups // 500)
    population = Population(
        sizes=sizes,
        starts=starts,
        users=users,
        roles=roles,
        parents=parents,
        user_groups=user_groups,
        group_roles={
            g: rng.randrange(roles) for g in range(groups) if rng.random() < GRANTED_GROUPS
        },
        user_roles={u: rng.randrange(roles) for u in range(users) if rng.random() < GRANTED_USERS},
        disabled={g for g in range(groups) if rng.random() < DISABLED_GROUPS},
    )
    population.names = [group_name(k, i) for k, size in enumerate(sizes) for i in range(size)]
    return population


def _user_group_picker(sizes: list[int], starts: list[int]) -> Callable[[random.Random], int]:
    """Users' further groups: 70 % in layer 0 (teams), 20 % in layers 1-3, 10 % anywhere above."""
    top = len(sizes) - 1

    def pick(rng: random.Random) -> int:
        r = rng.random()
        if r < 0.7 or top == 0:
            layer = 0
        elif r < 0.9:
            layer = rng.randint(1, min(3, top))
        else:
            layer = rng.randint(min(4, top), top)
        return starts[layer] + rng.randrange(sizes[layer])

    return pick


def identity_changes(pop: Population) -> Iterator[IdentityChange]:
    """The changes the pipeline would commit for the population's identity and alias pushes."""
    now = time.time()

    def record(name: str, kind: IdentityType, enabled: bool = True, provider: str = PROVIDER):
        ref = IdentityRef(provider, name, kind)
        return IdentityRecord(ORG, ref.key(), ref, enabled, 1, now)

    gkeys = [identity_key(PROVIDER, name) for name in pop.names]
    ukeys = [identity_key(PROVIDER, user_name(u)) for u in range(pop.users)]
    rkeys = [identity_key(PROVIDER, role_name(r)) for r in range(pop.roles)]
    members: list[list[IdentityKey]] = [[] for _ in gkeys]
    for child, links in enumerate(pop.parents):
        for parent in links:
            members[parent].append(gkeys[child])
    for user, groups in enumerate(pop.user_groups):
        for group in groups:
            members[group].append(ukeys[user])
    for r in range(pop.roles):
        yield IdentityChange(record(role_name(r), IdentityType.GROUP))
    for g, name in enumerate(pop.names):
        edges = {EdgeKind.MEMBER: [(gkeys[g], m) for m in members[g]]}
        if g in pop.group_roles:
            edges[EdgeKind.GRANTED] = [(rkeys[pop.group_roles[g]], gkeys[g])]
        members[g] = []
        yield IdentityChange(record(name, IdentityType.GROUP, g not in pop.disabled), edges)
    for u in range(pop.users):
        edges = {EdgeKind.ALIAS: [(ukeys[u], identity_key(EMAIL_PROVIDER, email(u)))]}
        if u in pop.user_roles:
            edges[EdgeKind.GRANTED] = [(rkeys[pop.user_roles[u]], ukeys[u])]
        yield IdentityChange(record(user_name(u), IdentityType.USER), edges)


def write_population(store: SqliteStateStore, pop: Population) -> dict[str, Any]:
    store.catalog.create_organization(Organization(ORG, "bench"))
    store.identities.save_provider(SecurityProvider(ORG, PROVIDER, "bench directory"))
    started = time.monotonic()
    pending = None
    changes = edges = 0
    changes_iter = identity_changes(pop)
    chunks = iter(lambda: list(itertools.islice(changes_iter, WRITE_CHUNK)), [])
    for n, chunk in enumerate(chunks):
        if pending is not None:
            pending.result()  # one transaction in flight while the next chunk is generated
        pending = store.db.submit(lambda conn, c=chunk: write_identity_changes(conn, c))
        changes += len(chunk)
        edges += sum(len(e) for change in chunk for e in change.edges.values())
        if n % 40 == 39:
            log(f"population: {changes:,} identities, {edges:,} edges written")
    if pending is not None:
        pending.result()
    seconds = time.monotonic() - started
    size = sum(p.stat().st_size for p in store.db.path.parent.glob(store.db.path.name + "*"))
    return {
        "write_seconds": seconds,
        "identities": changes,
        "edges": edges,
        "rows_per_second": (changes + edges) / seconds,
        "transactions": math.ceil(changes / WRITE_CHUNK),
        "store_mb": size / 2**20,
    }


# -- expansion ----------------------------------------------------------------------------------


def walk_depth(steps: Collection[tuple[IdentityKey, str, IdentityKey]]) -> int:
    """Rounds of the breadth-first walk that found something (steps come in BFS order)."""
    depth: dict[IdentityKey, int] = {}
    for source, _kind, to in steps:
        depth[to] = depth.get(source, 0) + 1
    return max(depth.values(), default=0)


class TimedGraph:
    """An identity graph that counts and times the calls ``expand`` makes."""

    def __init__(self, graph: Any) -> None:
        self.graph = graph
        self.seconds = 0.0
        self.calls: Counter[str] = Counter()

    def _call(self, name: str, keys: Collection[IdentityKey]) -> Mapping[IdentityKey, Any]:
        started = time.perf_counter()
        out = getattr(self.graph, name)(keys)
        self.seconds += time.perf_counter() - started
        self.calls[name] += 1
        return out

    def states(self, keys: Collection[IdentityKey]) -> Mapping[IdentityKey, bool]:
        return self._call("states", keys)

    def parents(self, keys: Collection[IdentityKey]) -> Mapping[IdentityKey, Any]:
        return self._call("parents", keys)

    def aliases(self, keys: Collection[IdentityKey]) -> Mapping[IdentityKey, Any]:
        return self._call("aliases", keys)

    def neighbours(self, keys: Collection[IdentityKey]) -> Any:
        return self._call("neighbours", keys)

    def granted(self, keys: Collection[IdentityKey]) -> Mapping[IdentityKey, Any]:
        return self._call("granted", keys)


class TimedIdentities:
    """``store.identities`` for a ``GraphExpander``, with each expansion's graph reads timed.

    Everything but ``graph`` is the real ``SqliteIdentities``; ``graph`` wraps its
    ``SqliteIdentityGraph`` in a ``TimedGraph`` (about 1 µs per read) and keeps it as ``last``.
    """

    def __init__(self, identities: Any) -> None:
        self._identities = identities
        self.last = TimedGraph(None)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._identities, name)

    def graph(self, org_id: str) -> TimedGraph:
        self.last = TimedGraph(self._identities.graph(org_id))
        return self.last


@dataclass
class TimedStore:
    """What ``GraphExpander`` reads from a state store: ``identities``."""

    identities: TimedIdentities


def timed_expander(store: SqliteStateStore) -> GraphExpander:
    identities = TimedIdentities(store.identities)
    return GraphExpander(TimedStore(identities), max_entries=1_000_000)  # type: ignore[arg-type]


def cold_expansions(
    expander: GraphExpander, sample: list[list[UserId]], budget: float, *, empty: bool
) -> dict[str, Any]:
    """First (cache-missing) expansion of each user, until ``budget`` seconds have passed.

    ``empty``: forget every cached neighbourhood first, as right after an identity change;
    otherwise the group neighbourhoods read for earlier users are reused.
    """
    identities: TimedIdentities = expander._store.identities  # type: ignore[attr-defined]
    seconds, graph, calls, sizes, depths, capped = [], [], [], [], [], 0
    deadline = time.monotonic() + budget
    for ids in sample:
        if len(seconds) >= 5 and time.monotonic() > deadline:
            break
        if empty:
            expander.clear()
        before = identities.last
        read_before, calls_before = before.seconds, Counter(before.calls)
        started = time.perf_counter()
        expansion = expander.expansion(ORG, ids)
        seconds.append(time.perf_counter() - started)
        if identities.last is not before:  # a new graph cache, read through a new TimedGraph
            read_before, calls_before = 0.0, Counter()
        graph.append(identities.last.seconds - read_before)
        calls.append(identities.last.calls - calls_before)
        sizes.append(len(expansion.identities))
        depths.append(walk_depth(expansion.steps))
        capped += expansion.depth_capped
        if len(seconds) % 100 == 0:
            log(f"expansion: {len(seconds)} users, p50 {pct(seconds, 50) * 1000:.1f} ms")
    total = sum(calls, Counter())
    n = len(seconds)
    return {
        "users": n,
        "ms": summary(seconds),
        "graph_ms_mean": 1000 * sum(graph) / n,
        "other_ms_mean": 1000 * (sum(seconds) - sum(graph)) / n,
        "graph_calls_mean": sum(total.values()) / n,
        "set_size": summary(sizes, scale=1),
        "walk_depth": summary(depths, scale=1),
        "depth_capped": capped,
    }


def measure_expansion(
    store: SqliteStateStore, pop: Population, args: argparse.Namespace
) -> tuple[dict[str, Any], GraphExpander, list[UserId]]:
    """Empty-cache, first-call and cached expansions with openpush's reads.

    Also returns the expander and the users it expanded: the queries run as those users, with
    their expansions cached, as for any search after a user's first.
    """
    rng = random.Random(args.seed + 7)
    users = rng.sample(range(pop.users), min(args.expansions + 1, pop.users))
    sample = [[UserId(email(u))] for u in users]
    expander = timed_expander(store)
    expander.expansion(ORG, sample.pop())  # opens the reader connection; not measured
    empty_sample = sample[: max(len(sample) // 5, 1)]
    log(f"expansion: {len(empty_sample)} users with empty caches")
    empty = cold_expansions(expander, empty_sample, args.expansion_seconds / 2, empty=True)
    expander.clear()
    log("expansion: first call of each user, neighbourhoods shared")
    cold = cold_expansions(expander, sample, args.expansion_seconds, empty=False)
    measured = sample[: cold["users"]]
    cached = []
    for ids in measured:
        started = time.perf_counter()
        expander.expansion(ORG, ids)
        cached.append(time.perf_counter() - started)
    log(f"expansion: {len(measured)} users measured")
    data = {"empty": empty, "cold": cold, "cached_ms": summary(cached)}
    return data, expander, [ids[0] for ids in measured]


# -- the item corpus and the index --------------------------------------------------------------


class Corpus:
    """Items: ~300 bytes of Zipf text, a title, a permission model over the population."""

    def __init__(self, seed: int, pop: Population) -> None:
        rng = random.Random(seed + 3)
        syllables = [c + v for c in "bcdfghklmnprstvz" for v in ("a", "e", "i", "o", "u", "ei")]
        words: set[str] = set()
        while len(words) < VOCABULARY:
            words.add("".join(rng.choices(syllables, k=rng.choice((2, 2, 3, 3, 3, 4)))))
        self.vocab = sorted(words)
        rng.shuffle(self.vocab)  # rank (frequency) independent of length
        self.cw = list(itertools.accumulate(1.0 / r for r in range(1, VOCABULARY + 1)))
        self.pop = pop
        # items name groups of every layer: lower layers (teams) more often
        self.layer_cw = list(itertools.accumulate(1.0 / (k + 1) for k in range(len(pop.sizes))))
        self.rng = random.Random(seed + 4)

    def words(self, k: int) -> list[str]:
        return self.rng.choices(self.vocab, cum_weights=self.cw, k=k)

    def _group(self) -> PermissionIdentity:
        pop, rng = self.pop, self.rng
        layer = rng.choices(range(len(pop.sizes)), cum_weights=self.layer_cw)[0]
        name = pop.names[pop.starts[layer] + rng.randrange(pop.sizes[layer])]
        return PermissionIdentity(name, IdentityType.GROUP)

    def _user(self) -> PermissionIdentity:
        user = self.rng.randrange(self.pop.users)
        if self.rng.random() < 0.1:
            return PermissionIdentity(email(user), IdentityType.USER, EMAIL_PROVIDER)
        return PermissionIdentity(user_name(user), IdentityType.USER)

    def _set(self) -> PermissionSet:
        rng = self.rng
        allowed = [self._group() for _ in range(rng.randint(1, 3))]
        allowed += [self._user() for _ in range(rng.choice((0, 0, 1, 2)))]
        denied = (self._user(),) if rng.random() < 0.1 else ()
        return PermissionSet(rng.random() < 0.02, tuple(dict.fromkeys(allowed)), denied)

    def model(self) -> PermissionModel:
        shape = self.rng.random()
        if shape < 0.10:  # two levels (the complete model)
            return PermissionModel(
                (PermissionLevel((self._set(),)), PermissionLevel((self._set(),)))
            )
        if shape < 0.15:  # two sets in one level
            return PermissionModel((PermissionLevel((self._set(), self._set())),))
        return PermissionModel((PermissionLevel((self._set(),)),))

    def document(self, n: int) -> tuple[IndexDocument, str]:
        model = self.model()
        encoding = encode_model(model, default_provider=PROVIDER)
        body = " ".join(self.words(self.rng.randint(38, 52)))
        title = " ".join(self.words(self.rng.randint(3, 7))).capitalize()
        doc = IndexDocument(
            org_id=ORG,
            source_id=SOURCE_ID,
            document_id=f"https://{DOMAIN}/doc/{n}",
            title=title,
            body=body,
            date_ms=1_500_000_000_000 + n * 1000,
            fields={},
            raw={"m": model.to_dict()},
            acl=encoding.tokens,
        )
        return doc, ",".join(map(str, encoding.shape))


def load_index(
    store: SqliteStateStore, path: Path, corpus: Corpus, items: int
) -> tuple[TantivyIndex, dict[str, Any], list[str]]:
    settings = load_settings()
    index = TantivyIndex(path, writer_heap_mb=settings.index_writer_heap_mb)
    writer = index.writer()
    shapes: Counter[str] = Counter()
    bodies: list[str] = []  # a sample, for phrase queries that exist
    body_bytes = 0
    started = time.monotonic()
    for n in range(items):
        doc, shape = corpus.document(n)
        shapes[shape] += 1
        body_bytes += len(doc.body)
        if n % max(items // 1000, 1) == 0:
            bodies.append(doc.body)
        writer.upsert(doc, new=True)
        if (n + 1) % COMMIT_EVERY == 0 or n + 1 == items:
            writer.commit()
            rate = (n + 1) / (time.monotonic() - started)
            log(f"index: {n + 1:,} of {items:,} documents committed ({rate:,.0f} docs/s)")
    loaded = time.monotonic()
    # wait for tantivy's merges so that they do not run during the queries
    writer._writer.wait_merging_threads()  # the bench owns this writer
    index.refresh(force=True)
    merged = time.monotonic()
    store.db.write(
        lambda conn: conn.executemany(
            "INSERT OR IGNORE INTO acl_shapes (org_id, shape) VALUES (?, ?)",
            [(ORG, shape) for shape in shapes],
        )
    )
    searcher = index.index.searcher()
    size = sum(p.stat().st_size for p in path.iterdir() if p.is_file())
    return (
        index,
        {
            "docs": searcher.num_docs,
            "segments": searcher.num_segments,
            "commits": math.ceil(items / COMMIT_EVERY),
            "writer_heap_mb": settings.index_writer_heap_mb,
            "load_seconds": loaded - started,
            "docs_per_second": items / (loaded - started),
            "merge_wait_seconds": merged - loaded,
            "body_bytes_mean": body_bytes / max(items, 1),
            "shapes": dict(shapes.most_common()),
            "index_mb": size / 2**20,
        },
        bodies,
    )


# -- queries ------------------------------------------------------------------------------------


def make_queries(corpus: Corpus, bodies: list[str], count: int, seed: int) -> list[tuple[str, str]]:
    """(class, query text): four term frequency bands, two-term ANDs and phrases, in turn."""
    rng = random.Random(seed + 5)

    def ranked(low: int, high: int) -> str:
        high = min(high, VOCABULARY)
        return corpus.vocab[int(math.exp(rng.uniform(math.log(low), math.log(high)))) - 1]

    def phrase() -> str:
        words = rng.choice(bodies).split()
        at = rng.randrange(len(words) - 1)
        return f'"{words[at]} {words[at + 1]}"'

    makers: list[tuple[str, Callable[[], str]]] = [
        ("term, rank 1-10", lambda: ranked(1, 10)),
        ("term, rank 10-100", lambda: ranked(10, 100)),
        ("term, rank 100-1000", lambda: ranked(100, 1000)),
        ("term, rank 1000-10000", lambda: ranked(1000, 10000)),
        ("two terms (AND), rank 20-5000", lambda: f"{ranked(20, 5000)} {ranked(20, 5000)}"),
        ("phrase of two words", phrase),
    ]
    return [(name, make()) for name, make in itertools.islice(itertools.cycle(makers), count)]


@dataclass
class Case:
    kind: str
    text: str
    node: Node
    user: UserId
    totals: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    split: dict[str, float] = field(default_factory=dict)
    hits: list[Any] = field(default_factory=list)  # the trimmed variant's top hits
    decided: bool = False  # the trimmed variant decided its matches one by one


class Runner:
    """The variants every query runs as; each returns (total, hits).

    ``filter_only`` is a second handle on the same index that never decides matches one by
    one (``candidate_limit=0``): the permission filter on every trimmed search.
    """

    def __init__(
        self,
        store: SqliteStateStore,
        index: TantivyIndex,
        filter_only: TantivyIndex,
        expander: GraphExpander,
    ) -> None:
        self.store, self.index, self.expander = store, index, expander
        self.filter_only = filter_only
        self.sources = store.catalog.list_sources(ORG)
        self.shapes = store.items.acl_shapes(ORG)
        self.decided: bool | None = None  # whether the last trimmed search decided matches
        decide = index._decide_candidates

        def recorded(*args: Any) -> Any:
            found = decide(*args)
            self.decided = found is not None
            return found

        index._decide_candidates = recorded  # type: ignore[method-assign]

    def engine_raw(self, case: Case) -> Any:
        return self.index.search(IndexSearch(ORG, case.node, None))

    def engine_view_all(self, case: Case) -> Any:
        visibility = _visibility(self.sources, frozenset(), self.shapes, True)
        return self.index.search(IndexSearch(ORG, case.node, visibility))

    def engine_trimmed(self, case: Case) -> Any:
        t0 = time.perf_counter()
        identities = self.expander.expand(ORG, [case.user])
        t1 = time.perf_counter()
        visibility = _visibility(self.sources, identities, self.shapes, False)
        t2 = time.perf_counter()
        result = self.index.search(IndexSearch(ORG, case.node, visibility))
        t3 = time.perf_counter()
        case.split = {"expand": t1 - t0, "filter": t2 - t1, "search": t3 - t2}
        case.decided = bool(self.decided)
        return result

    def engine_filter_only(self, case: Case) -> Any:
        identities = self.expander.expand(ORG, [case.user])
        visibility = _visibility(self.sources, identities, self.shapes, False)
        return self.filter_only.search(IndexSearch(ORG, case.node, visibility))

    def service_view_all(self, case: Case) -> Any:
        request = SearchRequest(ORG, q=case.text, view_all=True)
        return run_search(self.store, self.index, self.expander, request).result

    def service_trimmed(self, case: Case) -> Any:
        request = SearchRequest(ORG, q=case.text, user_ids=(case.user,))
        return run_search(self.store, self.index, self.expander, request).result

    def variants(self) -> dict[str, Callable[[Case], Any]]:
        return {
            "engine, no visibility clause": self.engine_raw,
            "engine, untrimmed (view all)": self.engine_view_all,
            "engine, trimmed": self.engine_trimmed,
            FILTER_ONLY: self.engine_filter_only,
            "run_search, untrimmed (view all)": self.service_view_all,
            "run_search, trimmed": self.service_trimmed,
        }


UNTRIMMED, TRIMMED = "engine, untrimmed (view all)", "engine, trimmed"
FILTER_ONLY = "engine, trimmed by the filter only"


def run_queries(runner: Runner, cases: list[Case]) -> tuple[dict[str, Any], dict[str, Any]]:
    variants = runner.variants()
    names = list(variants)
    for case in cases[:WARMUP]:  # warm-up: tantivy's and SQLite's caches, the page cache
        for name in names:
            variants[name](case)
    meter = CpuMeter()
    split: dict[str, list[float]] = {"expand": [], "filter": [], "search": []}
    for i, case in enumerate(cases):
        order = names[i % len(names) :] + names[: i % len(names)]  # rotate: no variant always first
        for name in order:
            started = time.perf_counter()
            result = variants[name](case)
            case.seconds[name] = time.perf_counter() - started
            case.totals[name] = result.total
            if name == TRIMMED:
                case.hits = result.hits
        for part, value in case.split.items():
            split[part].append(value)
        if i % 100 == 99:
            log(f"queries: {i + 1} of {len(cases)}")
    cpu = meter.stop()
    out: dict[str, Any] = {
        name: {
            **summary([c.seconds[name] for c in cases]),
            "total_mean": sum(c.totals[name] for c in cases) / len(cases),
        }
        for name in names
    }
    out["trimmed_split_ms"] = {part: summary(values) for part, values in split.items()}
    return out, cpu


def by_class(cases: list[Case]) -> dict[str, dict[str, float]]:
    out = {}
    for kind in dict.fromkeys(c.kind for c in cases):
        mine = [c for c in cases if c.kind == kind]
        untrimmed = summary([c.seconds[UNTRIMMED] for c in mine])
        trimmed = summary([c.seconds[TRIMMED] for c in mine])
        filtered = summary([c.seconds[FILTER_ONLY] for c in mine])
        out[kind] = {
            "queries": len(mine),
            "decided": sum(c.decided for c in mine),
            "filter_only_p50": filtered["p50"],
            "filter_only_p95": filtered["p95"],
            "untrimmed_total": sum(c.totals[UNTRIMMED] for c in mine) / len(mine),
            "trimmed_total": sum(c.totals[TRIMMED] for c in mine) / len(mine),
            "untrimmed_p50": untrimmed["p50"],
            "untrimmed_p95": untrimmed["p95"],
            "trimmed_p50": trimmed["p50"],
            "trimmed_p95": trimmed["p95"],
        }
    return out


def filter_size(expr: acl.Expr) -> tuple[int, int]:
    """(term sets, tokens) of a permission filter: what tantivy looks up per segment."""
    if isinstance(expr, acl.AnyOf):
        return 1, len(expr.tokens)
    children = (expr.child,) if isinstance(expr, acl.Not) else getattr(expr, "children", ())
    sizes = [filter_size(child) for child in children]
    return sum(n for n, _ in sizes), sum(t for _, t in sizes)


def visibility_alone(runner: Runner, cases: list[Case], items: int) -> dict[str, Any]:
    """Per user: the filter with no text query (match all), its cost and the visible share."""
    seconds, shares, sets, tokens = [], [], [], []
    for user in dict.fromkeys(c.user for c in cases):
        identities = runner.expander.expand(ORG, [user])
        visibility = _visibility(runner.sources, identities, runner.shapes, False)
        n_sets, n_tokens = filter_size(visibility.acl)
        sets.append(n_sets)
        tokens.append(n_tokens)
        started = time.perf_counter()
        result = runner.index.search(IndexSearch(ORG, MatchAll(), visibility, count=0))
        seconds.append(time.perf_counter() - started)
        shares.append(result.total / max(items, 1))
    share = {**summary(shares, scale=100), "min": 100 * min(shares)}
    return {
        "ms": summary(seconds),
        "visible_share": share,
        "term_sets": summary(sets, scale=1),
        "tokens": summary(tokens, scale=1),
    }


def check(runner: Runner, cases: list[Case]) -> dict[str, int]:
    """Trimmed hits must be allowed by ``evaluate``; some totals are checked match by match."""
    hits = denied = exact = wrong = 0
    for case in cases:
        identities = runner.expander.expand(ORG, [case.user])

        def allowed(raw: dict[str, Any], ids: frozenset[IdentityKey] = identities) -> bool:
            model = PermissionModel.from_dict(raw["m"])
            return evaluate(model, ids, default_provider=PROVIDER).allowed

        hits += len(case.hits)
        denied += sum(not allowed(hit.raw) for hit in case.hits)
        untrimmed = case.totals[UNTRIMMED]
        if exact < EXACT_CHECKS and 0 < untrimmed <= 2000:
            every = runner.index.search(IndexSearch(ORG, case.node, None, count=untrimmed))
            expected = sum(allowed(hit.raw) for hit in every.hits)
            exact += 1
            wrong += expected != case.totals[TRIMMED]
    return {
        "trimmed_hits": hits,
        "denied_hits": denied,
        "exact_checks": exact,
        "exact_wrong": wrong,
    }


def measure_queries(
    store: SqliteStateStore,
    index: TantivyIndex,
    filter_only: TantivyIndex,
    expander: GraphExpander,
    users: list[UserId],
    corpus: Corpus,
    bodies: list[str],
    args: Any,
) -> dict[str, Any]:
    store.catalog.create_source(
        Source(ORG, SOURCE_ID, "bench", visibility=SourceVisibility.SECURED,
               security_providers=(PROVIDER,))
    )  # fmt: skip
    rng = random.Random(args.seed + 6)
    cases = [
        Case(kind, text, parse(text), rng.choice(users))
        for kind, text in make_queries(corpus, bodies, args.queries, args.seed)
    ]
    runner = Runner(store, index, filter_only, expander)
    log(f"queries: {len(cases)} queries x {len(runner.variants())} variants (after a warm-up)")
    latency, cpu = run_queries(runner, cases)
    log("queries: the filter alone, and the checks against evaluate()")
    return {
        "queries": len(cases),
        "decided": sum(c.decided for c in cases),
        "same_totals_as_filter": sum(c.totals[TRIMMED] == c.totals[FILTER_ONLY] for c in cases),
        "users": len({c.user for c in cases}),
        "latency": latency,
        "cpu_percent": cpu,
        "by_class": by_class(cases),
        "filter_alone": visibility_alone(runner, cases, args.items),
        "checks": check(runner, cases),
        "acl_shapes": runner.shapes,
    }


# -- report -------------------------------------------------------------------------------------


def target(ok: bool, goal: str) -> str:
    return f"{goal}: {'PASS' if ok else 'MISS'}"


def ms(s: dict[str, float], keys: tuple[str, ...] = ("p50", "p95", "p99")) -> str:
    return " / ".join(f"{s[k]:.2f}" for k in keys) + " ms"


def report_population(data: dict[str, Any]) -> list[str]:
    pop, built = data["population"], data["build"]
    layers = pop["layers"]
    return [
        f"population: {pop['groups']:,} groups in {len(layers)} layers ({layers[0]:,} … "
        f"{layers[-1]:,}), {pop['users']:,} users, {pop['memberships']:,} memberships "
        f"({pop['group_in_group']:,} group in group, {pop['user_in_group']:,} user in group)",
        f"  {pop['granted_identities']:,} granted identities ({pop['grants']:,} grants), "
        f"{pop['aliases']:,} user → email aliases, {pop['disabled_groups']:,} disabled groups",
        f"  built in {built['generate_seconds'] + built['write_seconds']:.1f} s: generate "
        f"{built['generate_seconds']:.1f} s, write {built['write_seconds']:.1f} s "
        f"({built['identities']:,} identities + {built['edges']:,} edges in "
        f"{built['transactions']} transactions, {built['rows_per_second']:,.0f} rows/s); "
        f"state store {built['store_mb']:.0f} MB",
    ]


def report_expansion(exp: dict[str, Any]) -> list[str]:
    cold, empty = exp["cold"], exp["empty"]
    p95 = cold["ms"]["p95"]
    size, depth = cold["set_size"], cold["walk_depth"]
    return [
        f"expansion of {cold['users']:,} random users (email identity → alias → groups), "
        "GraphExpander on the state store:",
        f"  first call of a user            p50 / p95 / p99  {ms(cold['ms'])}, max "
        f"{cold['ms']['max']:.2f} ms",
        "  "
        + target(p95 <= TARGET_EXPANSION_P95_MS, f"target p95 ≤ {TARGET_EXPANSION_P95_MS:g} ms")
        + f" (p95 = {p95:.2f} ms)",
        f"  cached (second call)            p50 / p95 / p99  {ms(exp['cached_ms'])}",
        f"  empty caches ({empty['users']} users)     p50 / p95 / p99  {ms(empty['ms'])}, max "
        f"{empty['ms']['max']:.2f} ms (as right after an identity change: every level read "
        "from SQLite)",
        f"  expanded set size p50 {size['p50']:.0f}, p95 {size['p95']:.0f}, max "
        f"{size['max']:.0f}; walk depth p50 {depth['p50']:.0f}, max {depth['max']:.0f} rounds; "
        f"depth capped {cold['depth_capped']}",
        f"  where the time goes (mean): first call {cold['graph_ms_mean']:.2f} ms in "
        f"{cold['graph_calls_mean']:.1f} graph reads + {cold['other_ms_mean']:.2f} ms walking; "
        f"empty caches {empty['graph_ms_mean']:.2f} ms in {empty['graph_calls_mean']:.0f} reads "
        f"+ {empty['other_ms_mean']:.2f} ms",
    ]


def report_queries(data: dict[str, Any]) -> list[str]:
    idx, q = data["index"], data["queries"]
    lat, alone = q["latency"], q["filter_alone"]
    share = alone["visible_share"]
    lines = [
        f"index: {idx['docs']:,} items, body {idx['body_bytes_mean']:.0f} bytes on average, "
        f"shapes {idx['shapes']}",
        f"  loaded in {idx['load_seconds']:.1f} s ({idx['docs_per_second']:,.0f} docs/s, "
        f"{idx['commits']} commits, heap {idx['writer_heap_mb']} MB), merges waited "
        f"{idx['merge_wait_seconds']:.1f} s; {idx['segments']} segments, {idx['index_mb']:.0f} MB",
        f"queries: {q['queries']} ({len(q['by_class'])} classes), each as one of {q['users']} "
        f"users whose expansion was measured (cached, as after a user's first search)",
        f"  visible share per user: p50 {share['p50']:.1f} %, min {share['min']:.1f} %, max "
        f"{share['max']:.1f} % of the items; filter per user p50 "
        f"{alone['term_sets']['p50']:.0f} term sets of {alone['tokens']['p50']:.0f} tokens "
        f"(max {alone['tokens']['max']:.0f})",
        "",
        f"{'variant':<38}  {'p50 / p95 / p99':<26}  mean total",
    ]
    for name, s in lat.items():
        if name != "trimmed_split_ms":
            lines.append(f"{name:<38}  {ms(s):<26}  {s['total_mean']:,.0f}")
    r50 = lat[TRIMMED]["p50"] / lat[UNTRIMMED]["p50"]
    r95 = lat[TRIMMED]["p95"] / lat[UNTRIMMED]["p95"]
    f50 = lat[FILTER_ONLY]["p50"] / lat[UNTRIMMED]["p50"]
    f95 = lat[FILTER_ONLY]["p95"] / lat[UNTRIMMED]["p95"]
    split = lat["trimmed_split_ms"]
    lines += [
        "",
        f"trimmed searches that decided their matches one by one: {q['decided']} of "
        f"{q['queries']}; totals equal to the filter's on {q['same_totals_as_filter']} of "
        f"{q['queries']}",
        f"ratio trimmed / untrimmed (engine): p50 {r50:.2f}x, p95 {r95:.2f}x "
        f"(the filter only: p50 {f50:.2f}x, p95 {f95:.2f}x)",
        "  " + target(r50 <= TARGET_RATIO, f"target p50 ≤ {TARGET_RATIO}x"),
        "  " + target(r95 <= TARGET_RATIO, f"target p95 ≤ {TARGET_RATIO}x"),
        f"trimmed split (p50 / p95): expansion (cached) {split['expand']['p50']:.3f} / "
        f"{split['expand']['p95']:.3f} ms, filter build {split['filter']['p50']:.3f} / "
        f"{split['filter']['p95']:.3f} ms, index.search {split['search']['p50']:.2f} / "
        f"{split['search']['p95']:.2f} ms",
        f"filter alone (match all, trimmed): {ms(alone['ms'])}",
        "",
        f"{'class':<30}  {'total untrimmed → trimmed':<26}  {'untrimmed p50/p95':<18}  "
        f"{'trimmed p50/p95':<18}  ratio p50/p95  decided  filter only p50/p95",
    ]
    for kind, c in q["by_class"].items():
        totals = f"{c['untrimmed_total']:,.0f} → {c['trimmed_total']:,.0f}"
        lines.append(
            f"{kind:<30}  {totals:<26}  "
            f"{c['untrimmed_p50']:.2f} / {c['untrimmed_p95']:.2f} ms{'':<3}  "
            f"{c['trimmed_p50']:.2f} / {c['trimmed_p95']:.2f} ms{'':<3}  "
            f"{c['trimmed_p50'] / c['untrimmed_p50']:.2f} / "
            f"{c['trimmed_p95'] / c['untrimmed_p95']:.2f}{'':<4}"
            f"{c['decided']:>3}/{c['queries']:<3}  "
            f"{c['filter_only_p50']:.2f} / {c['filter_only_p95']:.2f} ms"
        )
    chk, cpu = q["checks"], q["cpu_percent"]
    lines += [
        "",
        f"checks: {chk['trimmed_hits'] - chk['denied_hits']} of {chk['trimmed_hits']} trimmed "
        f"hits allowed by evaluate(); exact trimmed totals right on "
        f"{chk['exact_checks'] - chk['exact_wrong']} of {chk['exact_checks']} queries",
        f"CPU during the timed queries, % of one core: bench {cpu['bench']:.0f}, other "
        f"processes {cpu['other']:.0f}; peak RSS {data['peak_rss_mb']:.0f} MB",
    ]
    return lines


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    data: dict[str, Any] = {
        "machine": machine(sqlite=sqlite3.sqlite_version),
        "options": vars(args),
    }
    log(f"population: generating {args.groups:,} groups, {args.users:,} users")
    started = time.monotonic()
    pop = build_population(args.groups, args.memberships, args.depth, args.users, args.seed)
    data["population"] = pop.counts()
    generated = time.monotonic() - started
    store = SqliteStateStore(workdir / "state.db")
    try:
        data["build"] = {"generate_seconds": generated, **write_population(store, pop)}
        pop.parents, pop.user_groups = [], []  # written; the corpus only needs the names
        gc.collect()
        gc.freeze()  # keep the collector off the long-lived population
        log(
            f"expansion: up to {args.expansions} users, cold then cached (cold phase limited "
            f"to {args.expansion_seconds:g} s)"
        )
        data["expansion"], expander, users = measure_expansion(store, pop, args)
        log(f"index: loading {args.items:,} documents")
        corpus = Corpus(args.seed, pop)
        index, data["index"], bodies = load_index(store, workdir / "index", corpus, args.items)
        filter_only = TantivyIndex(workdir / "index", candidate_limit=0)
        data["queries"] = measure_queries(
            store, index, filter_only, expander, users, corpus, bodies, args
        )
        filter_only.close()
        index.close()
    finally:
        store.close()
    data["peak_rss_mb"] = peak_rss_mb()
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--groups", type=int, default=100_000, help="groups (100000)")
    parser.add_argument("--memberships", type=int, default=1_000_000, help="member edges (1000000)")
    parser.add_argument("--depth", type=int, default=10, help="group nesting depth (10)")
    parser.add_argument("--users", type=int, default=200_000, help="users (200000)")
    parser.add_argument("--items", type=int, default=1_000_000, help="indexed items (1000000)")
    parser.add_argument("--queries", type=int, default=500, help="queries (500)")
    parser.add_argument("--expansions", type=int, default=1000, help="users expanded (1000)")
    parser.add_argument(
        "--expansion-seconds",
        type=float,
        default=120.0,
        help="stop the cold expansions after this long, at 5 users or more (120)",
    )
    parser.add_argument("--seed", type=int, default=1, help="seed (1)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the report")
    parser.add_argument("--keep", action="store_true", help="keep the state store and index")
    args = parser.parse_args(argv)
    if min(args.groups, args.users, args.items, args.queries, args.expansions) < 1:
        parser.error("sizes must be positive")

    workdir = Path(tempfile.mkdtemp(prefix="openpush-identity-bench-"))
    args.workdir = str(workdir)
    try:
        data = run(args, workdir)
    finally:
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        print(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())
        return 0
    m = data["machine"]
    print(
        f"openpush identity expansion and trimming, {m['date']}, {m['cpus']} CPUs, Python "
        f"{m['python']}, tantivy {m['tantivy']}, SQLite {m['sqlite']}, load avg before "
        f"{' '.join(m['loadavg'])}\n"
    )
    print("\n".join(report_population(data)))
    print()
    print("\n".join(report_expansion(data["expansion"])))
    print()
    print("\n".join(report_queries(data)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
