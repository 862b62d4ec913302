"""Identity expansion: every identity a user holds, from the identities they log in with.

Visibility is decided on the *expanded* identity set (push-api.md §6.4 statement 6): a group
allowed or denied applies to all its nested members, a granted identity ("wellKnowns", §7.2) to
whoever it is granted to, and an alias (§7.3) makes the user every identity they are mapped to.
``expand`` computes that set from an :class:`IdentityGraph`, which is read in batches (one call
per breadth-first level, not per identity) because in production it is backed by SQL.

Semantics (keys are :class:`~openpush.security.evaluate.IdentityKey`, already canonical):

- ``EVERYONE`` (``*@*`` in the Email Security Provider) is always held, even with no start
  identity (anonymous): it means "everybody, anonymous included" (§6.4 statement 7, §7.7). It is
  walked like any other held key, so a group listing ``*@*`` as a member is held by everybody.
- A start key is held if the graph says it is enabled; or if the graph does not know it and its
  provider is the Email Security Provider (email identities are implicit: users log in with
  them and mappings auto-create them) or is not one of ``known_providers`` (the casefolded ids
  of the organization's EXPANDED providers holding pushed identities: openpush cannot vouch for
  other providers, so it takes them at their word). An identity unknown to its own EXPANDED
  provider is never matched, so it grants nothing. A disabled start key is neither held nor
  walked.
- Every held Email Security Provider key named like an email (``local@domain``: exactly one
  ``@``, both parts non-empty, local part not the wildcard ``*``) also holds the domain wildcard
  ``*@domain`` (casefolded), step kind ``"wildcard"``, unless the graph says that wildcard is
  disabled (§7.7: ``*@mycompany.com`` is everybody authenticated with that domain).
- The walk is breadth-first, one level per round. Each round asks ``graph.aliases`` and
  ``graph.parents`` once for the whole frontier and ``graph.states`` once for all the
  candidates. A parent (a group or virtual group listing the key as a member, or an identity
  granted to it) is held only if the graph says it is enabled; so is an alias partner, except
  in the Email Security Provider, where a partner the graph does not know is held too (email
  identities are implicit). Every newly held key (parent, alias partner, wildcard) joins the
  next frontier, so parents of aliases and aliases of groups count.
- Disabled identities are never held and never walked: "delete" disables an identity and it
  stops granting anything (§7.4), including the groups only reachable through it.
- A visited set makes membership and alias cycles safe. ``max_depth`` bounds the number of
  rounds; ``depth_capped`` says the walk stopped with a non-empty frontier (which may or may not
  have led further: it was not asked).
- ``steps`` explains the result as a breadth-first tree: every held key except the start keys
  and ``EVERYONE`` has exactly one incoming step, from the key through which it was first
  reached on a shortest path, so an explanation walks back from a matched key to a start key.
  Parent steps are labelled ``"granted"`` when the graph also implements
  :class:`GrantedIdentities` and says so, ``"member-of"`` otherwise. At most ``MAX_STEPS`` steps
  are kept; the identity set is complete regardless.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from openpush.security import evaluate
from openpush.security.evaluate import IdentityKey

__all__ = [
    "EMAIL_PROVIDER",
    "EVERYONE",
    "MAX_STEPS",
    "Expansion",
    "GrantedIdentities",
    "IdentityGraph",
    "Neighbourhood",
    "Step",
    "StepKind",
    "domain_wildcard",
    "expand",
]

# The casefolded id of Coveo's built-in provider, as it appears in an IdentityKey.
EMAIL_PROVIDER = evaluate.EMAIL_PROVIDER.casefold()
# The wildcard meaning everyone, anonymous included.
EVERYONE = IdentityKey(EMAIL_PROVIDER, "*@*")
# Steps kept for explanations; a pathological graph must not make the result unbounded.
MAX_STEPS = 10_000

StepKind = Literal["member-of", "granted", "alias", "wildcard"]
Step = tuple[IdentityKey, StepKind, IdentityKey]


class IdentityGraph(Protocol):
    """Read access to one organization's identity graph (all keys are IdentityKey)."""

    def states(self, keys: Collection[IdentityKey]) -> Mapping[IdentityKey, bool]:
        """For the keys the graph knows: True if enabled, False if disabled; unknown keys absent."""
        ...

    def parents(
        self, keys: Collection[IdentityKey]
    ) -> Mapping[IdentityKey, Collection[IdentityKey]]:
        """Direct parents of each key: groups listing it as a member, identities granted to it."""
        ...

    def aliases(
        self, keys: Collection[IdentityKey]
    ) -> Mapping[IdentityKey, Collection[IdentityKey]]:
        """Alias partners of each key, in both directions (a mapping is stored once)."""
        ...


class Neighbourhood(Protocol):
    """Optional: a level's aliases, parents and their states in one read.

    ``neighbours(keys)`` returns ``(aliases, parents, states)`` where ``states`` holds the
    known neighbours' enabled flags; a graph backed by SQL answers it with one statement per
    level instead of three or four.
    """

    def neighbours(
        self, keys: Collection[IdentityKey]
    ) -> tuple[
        Mapping[IdentityKey, Collection[IdentityKey]],
        Mapping[IdentityKey, Collection[IdentityKey]],
        Mapping[IdentityKey, bool],
    ]: ...


@runtime_checkable
class GrantedIdentities(Protocol):
    """Optional: a graph that can tell granted identities apart from groups, for explanations.

    Asked once per expansion, after the walk, only about keys with parent steps; it does not
    change the identity set, only labels those steps ``"granted"`` instead of ``"member-of"``.
    """

    def granted(
        self, keys: Collection[IdentityKey]
    ) -> Mapping[IdentityKey, Collection[IdentityKey]]:
        """The identities granted directly to each key (its wellKnowns)."""
        ...


@dataclass(frozen=True, slots=True)
class Expansion:
    """What a user holds, whether max_depth cut the walk short, how each key was reached."""

    identities: frozenset[IdentityKey]
    depth_capped: bool
    steps: tuple[Step, ...]


def domain_wildcard(key: IdentityKey) -> IdentityKey | None:
    """``*@domain`` for an email-like Email Security Provider key, else None.

    Wildcards themselves (local part ``*``) have none: ``*@corp.com`` does not hold ``*@*``
    through this rule (everybody holds ``*@*`` anyway).
    """
    if key.provider != EMAIL_PROVIDER or key.name.count("@") != 1:
        return None
    local, domain = key.name.split("@")
    if not local or not domain or local == "*":
        return None
    return IdentityKey(EMAIL_PROVIDER, f"*@{domain}".casefold())


def expand(
    graph: IdentityGraph,
    start: Iterable[IdentityKey],
    *,
    max_depth: int = 32,
    known_providers: frozenset[str] = frozenset(),
) -> Expansion:
    """Every identity held by a user who logs in as ``start`` (see the module docstring)."""
    if max_depth < 0:
        raise ValueError(f"max_depth must be >= 0, not {max_depth}")
    walk = _Walk()
    walk.hold_start(graph, sorted(set(start)), known_providers)
    frontier = walk.take_frontier()
    depth = 0
    while frontier and depth < max_depth:
        walk.hold_level(graph, frontier)
        frontier = walk.take_frontier()
        depth += 1
    return Expansion(frozenset(walk.held), bool(frontier), _labelled(graph, walk.steps))


class _Walk:
    """The mutable state of one breadth-first walk: held keys, the next frontier, the steps."""

    __slots__ = ("held", "next", "steps")

    def __init__(self) -> None:
        self.held: set[IdentityKey] = set()
        self.next: list[IdentityKey] = []
        self.steps: list[Step] = []

    def take_frontier(self) -> list[IdentityKey]:
        frontier, self.next = sorted(self.next), []
        return frontier

    def hold(self, key: IdentityKey, step: Step | None) -> None:
        self.held.add(key)
        self.next.append(key)
        if step is not None and len(self.steps) < MAX_STEPS:
            self.steps.append(step)

    def hold_start(
        self, graph: IdentityGraph, start: list[IdentityKey], known_providers: frozenset[str]
    ) -> None:
        states = _states(graph, _with_wildcards(start))
        self.hold(EVERYONE, None)
        for key in start:
            if key not in self.held and _start_admitted(key, states, known_providers):
                self.hold(key, None)
            if key in self.held:
                self._hold_wildcard(key, states)

    def hold_level(self, graph: IdentityGraph, frontier: list[IdentityKey]) -> None:
        neighbours = getattr(graph, "neighbours", None)
        known: dict[IdentityKey, bool] = {}
        if neighbours is not None:  # one read for the whole level (see Neighbourhood)
            aliases, parents, known = neighbours(frontier)
        else:
            aliases, parents = graph.aliases(frontier), graph.parents(frontier)
        proposals: list[Step] = []
        for key in frontier:
            proposals.extend((key, "alias", other) for other in sorted(aliases.get(key, ())))
            proposals.extend((key, "member-of", other) for other in sorted(parents.get(key, ())))
        fresh = [to for _, _, to in proposals if to not in self.held]
        if neighbours is not None:
            states = dict(known)
            wildcards = [w for w in _with_wildcards(fresh) if w not in states and w not in fresh]
            states.update(_states(graph, wildcards))
        else:
            states = dict(_states(graph, _with_wildcards(fresh))) if fresh else {}
        for step in proposals:
            _, kind, to = step
            if to not in self.held and _admitted(kind, to, states):
                self.hold(to, step)
                self._hold_wildcard(to, states)

    def _hold_wildcard(self, key: IdentityKey, states: Mapping[IdentityKey, bool]) -> None:
        wildcard = domain_wildcard(key)
        if wildcard is not None and wildcard not in self.held and states.get(wildcard, True):
            self.hold(wildcard, (key, "wildcard", wildcard))


def _with_wildcards(keys: Iterable[IdentityKey]) -> list[IdentityKey]:
    """The keys and their domain wildcards: one states() call covers both."""
    out = dict.fromkeys(keys)
    for key in list(out):
        wildcard = domain_wildcard(key)
        if wildcard is not None:
            out.setdefault(wildcard)
    return list(out)


def _states(graph: IdentityGraph, keys: list[IdentityKey]) -> Mapping[IdentityKey, bool]:
    return graph.states(keys) if keys else {}


def _start_admitted(
    key: IdentityKey, states: Mapping[IdentityKey, bool], known_providers: frozenset[str]
) -> bool:
    """Enabled, or unknown where the graph cannot vouch either way (email, foreign provider)."""
    state = states.get(key)
    if state is not None:
        return state
    return key.provider == EMAIL_PROVIDER or key.provider not in known_providers


def _admitted(kind: StepKind, key: IdentityKey, states: Mapping[IdentityKey, bool]) -> bool:
    """Enabled; an unknown alias partner only in the Email Security Provider (implicit there)."""
    state = states.get(key)
    if state is not None:
        return state
    return kind == "alias" and key.provider == EMAIL_PROVIDER


def _labelled(graph: IdentityGraph, steps: list[Step]) -> tuple[Step, ...]:
    """Relabel parent steps that are granted identities, when the graph can tell."""
    if not isinstance(graph, GrantedIdentities):
        return tuple(steps)
    sources = sorted({source for source, kind, _ in steps if kind == "member-of"})
    if not sources:
        return tuple(steps)
    granted = {(source, to) for source, tos in graph.granted(sources).items() for to in tos}
    if not granted:
        return tuple(steps)
    return tuple(
        (source, "granted", to) if kind == "member-of" and (source, to) in granted else step
        for step in steps
        for source, kind, to in (step,)
    )
