"""The reference permission evaluator: push-api.md §6.4 written plainly, with a reason attached.

``evaluate(model, user)`` decides whether a user, given as the *expanded* set of identity keys
they hold (aliases, parent groups, granted identities), may see an item protected by ``model``:

- a set is DENIED if a denied identity matches (deny wins), else ALLOWED if it allows anonymous
  access or an allowed identity matches, else UNSPECIFIED;
- a level is DENIED if any set denies; ALLOWED if every set allows (so a level with no sets is
  ALLOWED, as the pseudo-code reads); INCONCLUSIVE if every set is unspecified; DENIED otherwise;
- the first conclusive level decides; no conclusive level, or no level at all, means not visible.

Identities match by (provider, name), whatever their type. Source visibility (SHARED, PRIVATE) is
decided by the caller, not here. ``openpush.security.acl`` compiles the same rules into index
tokens and filters, and is tested against this module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from openpush.domain.permissions import PermissionIdentity, PermissionModel, PermissionSet

__all__ = [
    "ANONYMOUS",
    "EMAIL_PROVIDER",
    "Decision",
    "IdentityKey",
    "evaluate",
    "identity_key",
    "permission_key",
]

EMAIL_PROVIDER = "Email Security Provider"


class IdentityKey(NamedTuple):
    """An identity in canonical form: casefolded provider, name casefolded unless case-sensitive.

    A named tuple rather than a dataclass: expansions hash, compare and sort keys millions of
    times, and a tuple does that in C (a user's first expansion is about a third faster).
    """

    provider: str
    name: str


def identity_key(provider: str, name: str, *, case_sensitive: bool = False) -> IdentityKey:
    """The canonical key of ``name`` in ``provider``."""
    return IdentityKey(provider.casefold(), name if case_sensitive else name.casefold())


# The marker standing for "anyone, even anonymous" in allowAnonymous sets. Its name is empty, which
# no permission identity can have, so it never collides with a real identity.
ANONYMOUS = identity_key("*", "")


def permission_key(
    identity: PermissionIdentity,
    *,
    default_provider: str,
    case_sensitive_providers: frozenset[str] = frozenset(),
) -> IdentityKey:
    """The key a permission identity matches; no provider means ``default_provider``.

    ``case_sensitive_providers`` holds casefolded provider names whose identity names compare
    case-sensitively; every other provider compares names case-insensitively.
    """
    provider = (identity.provider or default_provider).casefold()
    return identity_key(
        provider, identity.name, case_sensitive=provider in case_sensitive_providers
    )


@dataclass(frozen=True, slots=True)
class Decision:
    """A verdict and why: the deciding level and set (or None) and the identities that matched.

    ``set`` is the denying set, the first unspecified set of a partially allowing level, or the
    single set of an allowing one-set level; None when no single set decided.
    """

    allowed: bool
    reason: str
    level: int | None = None
    set: int | None = None
    matched: tuple[IdentityKey, ...] = ()


class _State(Enum):
    ALLOWED = "allowed"
    DENIED = "denied"
    UNSPECIFIED = "unspecified"
    INCONCLUSIVE = "inconclusive"


_Resolve = Callable[["PermissionIdentity"], IdentityKey]


@dataclass(frozen=True, slots=True)
class _SetOutcome:
    state: _State
    matched: tuple[IdentityKey, ...] = ()
    labels: tuple[str, ...] = ()
    anonymous: bool = False


def evaluate(
    model: PermissionModel,
    user: frozenset[IdentityKey],
    *,
    default_provider: str,
    case_sensitive_providers: frozenset[str] = frozenset(),
) -> Decision:
    """Whether ``user`` (an expanded identity-key set; empty = anonymous) may see the item."""
    if not model.levels:
        return Decision(False, "no permission model")

    def resolve(identity: PermissionIdentity) -> IdentityKey:
        return permission_key(
            identity,
            default_provider=default_provider,
            case_sensitive_providers=case_sensitive_providers,
        )

    for index, level in enumerate(model.levels):
        outcomes = [_set_state(user, pset, resolve, default_provider) for pset in level.sets]
        state = _level_state([outcome.state for outcome in outcomes])
        if state is not _State.INCONCLUSIVE:
            return _explain(index, outcomes, state)
    return Decision(False, "not specified in any level")


def _set_state(
    user: frozenset[IdentityKey], pset: PermissionSet, resolve: _Resolve, default_provider: str
) -> _SetOutcome:
    denied = [identity for identity in pset.denied if resolve(identity) in user]
    if denied:
        return _outcome(_State.DENIED, denied, resolve, default_provider)
    if pset.allow_anonymous:
        return _SetOutcome(_State.ALLOWED, (ANONYMOUS,), anonymous=True)
    allowed = [identity for identity in pset.allowed if resolve(identity) in user]
    if allowed:
        return _outcome(_State.ALLOWED, allowed, resolve, default_provider)
    return _SetOutcome(_State.UNSPECIFIED)


def _outcome(
    state: _State, identities: list[PermissionIdentity], resolve: _Resolve, default_provider: str
) -> _SetOutcome:
    keys = tuple(dict.fromkeys(resolve(identity) for identity in identities))
    labels = tuple(
        dict.fromkeys(
            f"{identity.name} (provider {identity.provider or default_provider})"
            for identity in identities
        )
    )
    return _SetOutcome(state, keys, labels)


def _level_state(states: list[_State]) -> _State:
    if _State.DENIED in states:
        return _State.DENIED
    if all(state is _State.ALLOWED for state in states):
        return _State.ALLOWED
    if all(state is _State.UNSPECIFIED for state in states):
        return _State.INCONCLUSIVE
    return _State.DENIED


def _explain(level: int, outcomes: list[_SetOutcome], state: _State) -> Decision:
    for index, outcome in enumerate(outcomes):
        if outcome.state is _State.DENIED:
            names = ", ".join(outcome.labels)
            verb = "is" if len(outcome.labels) == 1 else "are"
            reason = f"denied by level {level} set {index}: {names} {verb} denied (deny wins)"
            return Decision(False, reason, level, index, outcome.matched)
    if state is _State.DENIED:
        index = next(i for i, out in enumerate(outcomes) if out.state is _State.UNSPECIFIED)
        reason = (
            f"denied by level {level} set {index}: not specified in that set, though allowed by"
            " another set of the level (every set of a level must allow)"
        )
        return Decision(False, reason, level, index)
    if not outcomes:
        return Decision(True, f"allowed by level {level}: the level has no permission sets", level)
    grounds = "; ".join(
        f"set {index} through {_through(outcome)}" for index, outcome in enumerate(outcomes)
    )
    matched = tuple(dict.fromkeys(key for outcome in outcomes for key in outcome.matched))
    only_set = 0 if len(outcomes) == 1 else None
    return Decision(True, f"allowed by level {level} {grounds}", level, only_set, matched)


def _through(outcome: _SetOutcome) -> str:
    if outcome.anonymous:
        return "allowAnonymous"
    noun = "identity" if len(outcome.labels) == 1 else "identities"
    return f"{noun} {', '.join(outcome.labels)}"
