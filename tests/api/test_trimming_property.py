"""Security trimming through the real API matches a plain reading of push-api.md §6.4.

Each Hypothesis example builds a fresh openpush (state store, index, worker, FastAPI app over
ASGI), pushes a random identity graph to one EXPANDED provider ``P`` (nested groups with
cycles, granted identities, aliases to ``@corp.test`` emails, disabled identities) and random
permission models on the items of a SECURED source whose default provider is ``P``. Then every
user (each ``P`` user, each email, an identity ``P`` never heard of, anonymous) searches, and
the URIs and ``totalCount`` they get, searching everything and searching a word every item
holds (the embedded index trims the two differently), must equal what the reference below
decides.

The reference is written here from §6.4 and §7 and the decisions of docs/design.md, on the
test's own model of what it pushed; it does not use openpush's evaluator or expander:

- a user holds ``*@*`` always; their own identity if it is enabled (pushed, not disabled; an
  email is always enabled); then, to a fixpoint, the enabled groups listing a held identity as
  a member, the enabled identities granted to a held identity, the aliases of a held identity
  in both directions (an email partner always, a ``P`` partner if enabled), and ``*@domain``
  for every held email ``name@domain``;
- a set denies if a held identity is denied, else allows if public, else allows if a held
  identity is allowed, else is unspecified; a level denies if a set denies, allows if every set
  allows (so a level with no sets allows), is inconclusive if every set is unspecified, and
  denies otherwise; the first conclusive level decides; none, or no model, means invisible;
- an item that *denies* an identity ``P`` does not know (never pushed) is invisible to everyone
  (fail closed: §6.4's notes, docs/design.md "Unknown identities in item permissions"), while an
  unknown *allowed* identity just matches nobody.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st

from openpush.api.app import create_app
from openpush.index.tantivy.engine import TantivyIndex
from openpush.pipeline.worker import Worker
from openpush.runtime import Runtime
from tests.api.conftest import Api, make_settings
from tests.pgserver import database_for

P = "PushProvider"
EMAIL = "Email Security Provider"
CORP = "corp.test"
EMAILS = ("ann@corp.test", "ben@corp.test", "cy@corp.test")
# searched as too: an email nobody is aliased to, one outside the domain, a stranger to P
EXTRA_EMAILS = ("zed@corp.test", "out@other.test")
GHOSTS = ("ghost0", "ghost1")  # never pushed: they must match nobody
MAX_EXAMPLES = 80

Key = tuple[str, str]  # (casefolded provider, casefolded name)


# --- the generated example -------------------------------------------------------------------


@dataclass(frozen=True)
class Ref:
    """A permission identity: a name, its type, and a provider (None = the source's default)."""

    name: str
    kind: str  # "User" | "Group"
    provider: str | None = None
    upper: bool = False  # sent upper-cased: names compare case-insensitively

    def wire(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "identity": self.name.upper() if self.upper else self.name,
            "identityType": self.kind,
        }
        if self.provider is not None:
            data["securityProvider"] = self.provider
        return data

    def key(self) -> Key:
        return ((self.provider or P).casefold(), self.name.casefold())

    def __str__(self) -> str:
        where = "" if self.provider is None else f"@{{{self.provider}}}"
        return f"{self.name.upper() if self.upper else self.name}{where}"


@dataclass(frozen=True)
class PSet:
    anonymous: bool
    allowed: tuple[Ref, ...]
    denied: tuple[Ref, ...]
    omit_anonymous: bool = False  # "allowAnonymous" left out (it defaults to false)

    def wire(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "allowedPermissions": [r.wire() for r in self.allowed],
            "deniedPermissions": [r.wire() for r in self.denied],
        }
        if not self.omit_anonymous:
            data["allowAnonymous"] = self.anonymous
        return data

    def __str__(self) -> str:
        parts = []
        if self.anonymous:
            parts.append("anon")
        if self.allowed:
            parts.append("+" + ",".join(map(str, self.allowed)))
        if self.denied:
            parts.append("-" + ",".join(map(str, self.denied)))
        return "{" + " ".join(parts) + "}"


@dataclass(frozen=True)
class Item:
    uri: str
    form: str  # "simple" (one level, bare sets) | "levels" | "none" (no permissions key)
    levels: tuple[tuple[PSet, ...], ...]

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"data": f"item {self.uri}"}
        if self.form == "simple":
            body["permissions"] = [s.wire() for s in self.levels[0]]
        elif self.form == "levels":
            body["permissions"] = [
                {"permissionSets": [s.wire() for s in level]} for level in self.levels
            ]
        return body

    def __str__(self) -> str:
        if self.form == "none":
            return f"{self.uri}: no model"
        levels = " | ".join("[" + " ".join(map(str, level)) + "]" for level in self.levels)
        return f"{self.uri}: {self.form} {levels}"


@dataclass(frozen=True)
class Example:
    users: tuple[str, ...]
    groups: tuple[str, ...]
    members: dict[str, tuple[str, ...]]  # group -> members (users and groups)
    granted: dict[str, tuple[str, ...]]  # identity -> its wellKnowns (groups)
    aliases: dict[str, tuple[str, ...]]  # P user -> emails
    disabled: tuple[str, ...]
    items: tuple[Item, ...]

    def describe(self) -> str:
        lines = [
            f"users={list(self.users)} groups={list(self.groups)}",
            "members: " + "; ".join(f"{g}={list(m)}" for g, m in self.members.items() if m),
            "granted: " + "; ".join(f"{i}->{list(g)}" for i, g in self.granted.items() if g),
            "aliases: " + "; ".join(f"{u}~{list(e)}" for u, e in self.aliases.items()),
            f"disabled: {list(self.disabled)}",
            *map(str, self.items),
        ]
        return "\n".join(lines)


@st.composite
def refs(
    draw: st.DrawFn, users: tuple[str, ...], groups: tuple[str, ...], *, denied: bool = False
) -> Ref:
    upper = draw(st.integers(0, 4)) == 0
    explicit = draw(st.integers(0, 4)) == 0  # name P explicitly now and then
    provider = P if explicit else None
    choices = ["user"] * 6 + ["group"] * 6 + ["everyone", "domain", "email", "other"]
    # a denied ghost hides the whole item (fail closed): keep it rarer than an allowed one
    if not denied or draw(st.integers(0, 3)) == 0:
        choices.append("ghost")
    choice = draw(st.sampled_from(choices))
    if choice == "user":
        return Ref(draw(st.sampled_from(users)), "User", provider, upper)
    if choice == "group":
        return Ref(draw(st.sampled_from(groups)), "Group", provider, upper)
    if choice == "ghost":
        return Ref(draw(st.sampled_from(GHOSTS)), draw(st.sampled_from(["User", "Group"])))
    if choice == "everyone":
        return Ref("*@*", "Group", EMAIL)
    if choice == "domain":
        return Ref(f"*@{CORP}", "Group", EMAIL)
    if choice == "email":
        return Ref(draw(st.sampled_from(EMAILS)), "User", EMAIL, upper)
    return Ref("*@other.test", "Group", EMAIL)


@st.composite
def psets(draw: st.DrawFn, users: tuple[str, ...], groups: tuple[str, ...]) -> PSet:
    anonymous = draw(st.integers(0, 4)) == 0
    allowed = tuple(draw(st.lists(refs(users, groups), max_size=3)))
    denied = tuple(draw(st.lists(refs(users, groups, denied=True), max_size=2)))
    omit = not anonymous and draw(st.booleans())
    return PSet(anonymous, allowed, denied, omit)


@st.composite
def items(draw: st.DrawFn, uri: str, users: tuple[str, ...], groups: tuple[str, ...]) -> Item:
    form = draw(st.sampled_from(["simple"] * 4 + ["levels"] * 5 + ["none"]))
    if form == "none":
        return Item(uri, form, ())
    if form == "simple":
        return Item(
            uri, form, (tuple(draw(st.lists(psets(users, groups), min_size=1, max_size=3))),)
        )
    levels = []
    for _ in range(draw(st.integers(1, 3))):
        # a level without sets now and then (it allows whoever reaches it)
        empty = draw(st.integers(0, 7)) == 0
        sets = [] if empty else draw(st.lists(psets(users, groups), min_size=1, max_size=3))
        levels.append(tuple(sets))
    return Item(uri, form, tuple(levels))


@st.composite
def examples(draw: st.DrawFn) -> Example:
    users = tuple(f"u{n}" for n in range(draw(st.integers(3, 8))))
    groups = tuple(f"g{n}" for n in range(draw(st.integers(2, 5))))
    everybody = users + groups
    members = {
        g: tuple(draw(st.lists(st.sampled_from(everybody), max_size=4, unique=True)))
        for g in groups
    }  # groups may contain themselves or each other: cycles
    granted = {
        i: tuple(draw(st.lists(st.sampled_from(groups), max_size=2, unique=True)))
        for i in everybody
        if draw(st.integers(0, 3)) == 0
    }
    pairs = draw(
        st.lists(
            st.tuples(st.sampled_from(users), st.sampled_from(EMAILS)), max_size=3, unique=True
        )
    )
    aliases: dict[str, tuple[str, ...]] = {}
    for user, email in pairs:
        aliases[user] = (*aliases.get(user, ()), email)
    disabled = tuple(draw(st.lists(st.sampled_from(everybody), max_size=2, unique=True)))
    count = draw(st.integers(4, 10))
    return Example(
        users,
        groups,
        members,
        granted,
        aliases,
        disabled,
        tuple(draw(items(f"https://t.test/{n}", users, groups)) for n in range(count)),
    )


# --- the plain reference ---------------------------------------------------------------------


def held(example: Example, provider: str | None, name: str | None) -> set[Key]:
    """Every identity the user holds (see the module docstring); (None, None) is anonymous.

    The walk uses the names as the example spells them; the result is casefolded like ``Ref.key``.
    """
    pushed = set(example.users) | set(example.groups)

    def enabled(p_name: str) -> bool:
        return p_name in pushed and p_name not in example.disabled

    out: set[tuple[str, str]] = {(EMAIL, "*@*")}
    if provider == P and name is not None and enabled(name):
        out.add((P, name))
    elif provider == EMAIL and name is not None:
        out.add((EMAIL, name))
    while True:
        new: set[tuple[str, str]] = set()
        for prov, who in out:
            if prov == P:
                new |= {(P, g) for g, ms in example.members.items() if who in ms and enabled(g)}
                new |= {(P, g) for g in example.granted.get(who, ()) if enabled(g)}
                new |= {(EMAIL, e) for e in example.aliases.get(who, ())}
            else:
                new |= {
                    (P, u) for u, emails in example.aliases.items() if who in emails and enabled(u)
                }
                local, at, domain = who.partition("@")
                if at and local and domain and local != "*" and "@" not in domain:
                    new.add((EMAIL, f"*@{domain}"))
        if new <= out:
            return {(prov.casefold(), who.casefold()) for prov, who in out}
        out |= new


def set_state(user: set[Key], pset: PSet) -> str:
    if any(r.key() in user for r in pset.denied):
        return "denied"
    if pset.anonymous:
        return "allowed"
    if any(r.key() in user for r in pset.allowed):
        return "allowed"
    return "unspecified"


def level_state(user: set[Key], level: tuple[PSet, ...]) -> str:
    states = [set_state(user, s) for s in level]
    if "denied" in states:
        return "denied"
    if all(s == "allowed" for s in states):
        return "allowed"
    if all(s == "unspecified" for s in states):
        return "inconclusive"
    return "denied"


def fails_closed(example: Example, item: Item) -> bool:
    """docs/design.md: a *denied* identity its (EXPANDED) provider does not know hides the item.

    §6.4's notes: an unresolvable denied identity puts the model IN_ERROR and a compatible
    implementation must never show the item. Known = pushed (a disabled identity is known).
    """
    pushed = {n.casefold() for n in (*example.users, *example.groups)}
    return any(
        ref.key()[0] == P.casefold() and ref.key()[1] not in pushed
        for level in item.levels
        for pset in level
        for ref in pset.denied
    )


def visible(example: Example, user: set[Key], item: Item) -> bool:
    if fails_closed(example, item):
        return False
    for level in item.levels:
        state = level_state(user, level)
        if state != "inconclusive":
            return state == "allowed"
    return False  # no level, or none conclusive


def test_the_reference_reproduces_the_worked_examples() -> None:
    """§6.5's table and alias example, through this module's reference (no server)."""

    def level(*sets: PSet) -> tuple[PSet, ...]:
        return sets

    def one(
        allowed: tuple[Ref, ...] = (), denied: tuple[Ref, ...] = (), anon: bool = False
    ) -> PSet:
        return PSet(anon, allowed, denied)

    eng, mgmt, everyone = Ref("Eng", "Group"), Ref("Mgmt", "Group"), Ref("Everyone", "Group")
    bob, carol, dave = Ref("bob", "User"), Ref("carol", "User"), Ref("dave", "User")
    rows = {
        1: ("simple", (level(one((eng,))),), {"alice", "bob"}),
        2: ("simple", (level(one((mgmt,), (bob,))),), {"alice", "carol"}),
        3: ("simple", (level(one((mgmt,)), one((eng,))),), {"alice", "bob"}),
        4: ("simple", (level(one(anon=True)),), {"alice", "bob", "carol", "dave", "anon"}),
        5: ("simple", (level(one(anon=True), one((eng,))),), {"alice", "bob"}),
        6: ("simple", (level(one((), (bob,), True)),), {"alice", "carol", "dave", "anon"}),
        7: ("levels", (level(one((), (eng,))), level(one((mgmt,)))), {"carol"}),
        8: ("levels", (level(one((carol,))), level(one((), (mgmt,)))), {"carol"}),
        9: ("levels", (level(one((everyone,))), level(one((dave,)))), {"alice", "dave"}),
    }
    example = Example(
        users=("alice", "bob", "carol", "dave"),
        groups=("Eng", "Mgmt", "Everyone"),
        members={"Eng": ("alice", "bob"), "Mgmt": ("carol", "Eng"), "Everyone": ()},
        granted={"alice": ("Everyone",)},
        aliases={"alice": ("alice@corp.com",)},
        disabled=(),
        items=tuple(Item(str(n), form, levels) for n, (form, levels, _) in rows.items()),
    )
    for who in ("alice", "bob", "carol", "dave", "anon"):
        user = held(example, None, None) if who == "anon" else held(example, P, who)
        seen = {int(item.uri) for item in example.items if visible(example, user, item)}
        assert seen == {n for n, (_, _, users) in rows.items() if who in users}, who
    email = held(example, EMAIL, "alice@corp.com")
    assert email == held(example, P, "alice")
    assert {("pushprovider", "eng"), ("pushprovider", "mgmt")} <= email
    assert (EMAIL.casefold(), "*@corp.com") in email
    assert {int(i.uri) for i in example.items if visible(example, email, i)} == {
        1,
        2,
        3,
        4,
        5,
        6,
        9,
    }


# --- pushing and searching -------------------------------------------------------------------


async def push_identity(api: Api, path: str, body: dict[str, Any], method: str = "PUT") -> None:
    r = await api.http.request(
        method,
        f"/push/v1/organizations/{api.org}/providers/{P}/{path}",
        headers=api.auth(),
        json=body,
    )
    assert r.status_code == 202, r.text


def ident(name: str, kind: str) -> dict[str, str]:
    return {"name": name, "type": kind}


async def push_example(api: Api, example: Example) -> None:
    source = await api.create_source("secured", "SECURED")
    r = await api.http.post(
        f"/rest/organizations/{api.org}/securityproviders",
        headers=api.auth(),
        json={
            "id": P,
            "displayName": "Generated provider",
            "type": "EXPANDED",
            "referencedBy": [{"id": source, "type": "SOURCE"}],
            "cascadingSecurityProviders": {EMAIL: {"id": EMAIL, "type": "EMAIL"}},
        },
    )
    assert r.status_code == 201, r.text
    kinds = {**dict.fromkeys(example.users, "USER"), **dict.fromkeys(example.groups, "GROUP")}
    for name, kind in kinds.items():
        body: dict[str, Any] = {
            "identity": ident(name, kind),
            "wellKnowns": [ident(g, "GROUP") for g in example.granted.get(name, ())],
        }
        if kind == "GROUP":
            body["members"] = [ident(m, kinds[m]) for m in example.members[name]]
        await push_identity(api, "permissions", body)
    for user, emails in example.aliases.items():
        mappings = [{"name": e, "type": "USER", "provider": EMAIL} for e in emails]
        await push_identity(
            api, "mappings", {"identity": ident(user, "USER"), "mappings": mappings}
        )
    for name in example.disabled:
        await push_identity(api, "permissions", {"identity": ident(name, kinds[name])}, "DELETE")
    for item in example.items:
        r = await api.push(source, item.uri, item.body())
        assert r.status_code == 202, r.text
    api.drain()


# Every item's text holds "item": searching it takes the index's item-by-item trimming of
# selective queries, searching everything (no q) its permission filter; both must agree.
QUERIES = ("", "item")


async def search(
    api: Api, provider: str | None, name: str | None, q: str = ""
) -> tuple[set[str], int]:
    if name is None:
        result = await api.search(q=q, numberOfResults=1000)  # the admin key: anonymous
    else:
        assert provider is not None
        token = await api.token(name, provider=provider)
        result = await api.search(token, q=q, numberOfResults=1000)
    return {r["uri"] for r in result["results"]}, int(result["totalCount"])


async def disagreements(api: Api, example: Example) -> list[str]:
    await push_example(api, example)
    everything = {
        r["uri"] for r in (await api.search(view_all=True, numberOfResults=1000))["results"]
    }
    assert everything == {item.uri for item in example.items}, everything
    searchers: list[tuple[str | None, str | None]] = [
        *((P, u) for u in example.users),
        (P, GHOSTS[0]),
        *((EMAIL, e) for e in (*EMAILS, *EXTRA_EMAILS)),
        (None, None),
    ]
    problems = []
    shown = 0
    for provider, name in searchers:
        user = held(example, provider, name)
        expected = {item.uri for item in example.items if visible(example, user, item)}
        shown += len(expected)
        for q in QUERIES:
            got, total = await search(api, provider, name, q)
            if got != expected or total != len(expected):
                who = "anonymous" if name is None else f"{name} ({provider})"
                holds = sorted(n if p == P.casefold() else f"email:{n}" for p, n in user)
                problems.append(
                    f"{who}, q={q!r}: holds {holds}; expected {sorted(expected)}, "
                    f"got {sorted(got)} (totalCount {total})"
                )
    pairs = len(searchers) * len(example.items)
    share = "none" if not shown else "all" if shown == pairs else "some"
    event(f"visible (user, item) pairs: {share}")
    event(f"items failing closed: {sum(fails_closed(example, i) for i in example.items) > 0}")
    return problems


async def run_example(root: Path, example: Example, backend: str) -> list[str]:
    with contextlib.ExitStack() as stack:
        runtime = Runtime.open(make_settings(root, database=database_for(backend, stack)))
        stack.callback(runtime.close)
        if isinstance(runtime.index, TantivyIndex):
            runtime.index.candidate_cost = 0  # "item" searches decide their matches one by one
        runtime.worker = Worker(runtime.store, runtime.index, runtime.settings, blobs=runtime.blobs)
        transport = httpx.ASGITransport(app=create_app(runtime))
        async with httpx.AsyncClient(transport=transport, base_url="http://openpush.test") as http:
            return await disagreements(api=Api(http=http, runtime=runtime), example=example)


_counter = itertools.count()


@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(example=examples())
def test_search_trims_exactly_as_the_reference_decides(
    tmp_path_factory: pytest.TempPathFactory, backend: str, example: Example
) -> None:
    note(example.describe())
    root = tmp_path_factory.mktemp(f"trim{next(_counter)}")
    problems = asyncio.run(run_example(root, example, backend))
    assert not problems, example.describe() + "\n" + "\n".join(problems)
