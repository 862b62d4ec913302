"""Trimming a selective query by deciding its candidates, not by filtering the whole index.

The permission filter (``compile_acl``) is a union over the user's tokens: hundreds to
thousands of posting lists that tantivy walks on every search, whatever the query matches
(tens of milliseconds on a million items). When the query itself matches few items, it is
cheaper to collect them all, ranked exactly as the filtered query ranks them, and to decide
each one from its own permission tokens. Every doc keeps them in fast fields: ``acl_n`` (how
many) and ``acl_0`` … ``acl_15`` (the first ``SLOTS``, in order); a doc with more also
stores all of them in ``aclx``. The decision is the filter's own (:class:`LeafMasks`), so
totals and pages are the ones the filtered query gives, and anything this module cannot
decide cheaply makes it give up (None) and leave the search to the filter.

``srch`` holds a hash of the doc's source, for searches that mix shared sources (visible
without a check) with secured ones.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from hashlib import blake2b

import numpy as np
import tantivy

from openpush.security.acl import LeafMasks

__all__ = [
    "MAX_OVERFLOW",
    "POSTINGS_PER_CANDIDATE",
    "SLOTS",
    "CandidateCheck",
    "add_acl_fields",
    "add_acl_schema",
    "present_tokens",
    "source_hash",
]

SLOTS = 16
MAX_OVERFLOW = 64  # candidates with more than SLOTS tokens read from the doc store, at most
# Deciding a candidate costs about as much as the permission filter spends on this many of
# its postings (measured on a million items: ~2.5 µs per candidate, ~0.24 µs per posting).
POSTINGS_PER_CANDIDATE = 10
_POSTINGS_SAMPLE = 64  # tokens whose document frequency estimates the filter's postings
_SLOT_FIELDS = tuple(f"acl_{i}" for i in range(SLOTS))


def source_hash(source_id: str) -> int:
    digest = blake2b(source_id.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def add_acl_schema(builder: tantivy.SchemaBuilder) -> None:
    """The fields this module reads (see the module docstring)."""
    builder.add_unsigned_field("srch", stored=False, indexed=False, fast=True)
    builder.add_unsigned_field("acl_n", stored=False, indexed=False, fast=True)
    for name in _SLOT_FIELDS:
        builder.add_unsigned_field(name, stored=False, indexed=False, fast=True)
    builder.add_bytes_field("aclx", stored=True, indexed=False)


def add_acl_fields(doc: tantivy.Document, source_id: str, tokens: Sequence[int]) -> None:
    doc.add_unsigned("srch", source_hash(source_id))
    doc.add_unsigned("acl_n", len(tokens))
    for name, tok in zip(_SLOT_FIELDS, tokens, strict=False):
        doc.add_unsigned(name, tok)
    if len(tokens) > SLOTS:
        doc.add_bytes("aclx", b"".join(tok.to_bytes(8, "big") for tok in tokens))


class CandidateCheck:
    """One permission filter, ready to decide candidate docs in bulk."""

    def __init__(self, masks: LeafMasks) -> None:
        self.masks = masks
        sizes = [len(leaf.tokens) for leaf in masks.leaves]
        tokens = np.fromiter(
            (tok for leaf in masks.leaves for tok in leaf.tokens), np.uint64, sum(sizes)
        )
        bits = np.repeat(np.array([1 << i for i in range(len(sizes))], np.uint64), sizes)
        order = np.argsort(tokens)
        tokens, bits = tokens[order], bits[order]
        if tokens.size == 0:
            tokens, bits = np.zeros(1, np.uint64), np.zeros(1, np.uint64)
        starts = np.flatnonzero(np.r_[True, tokens[1:] != tokens[:-1]])
        # sorted distinct tokens, and the bits of every leaf holding each
        self._tokens = tokens[starts]
        self._bits = np.bitwise_or.reduceat(bits, starts)
        self._postings: int | None = None

    def postings(self, searcher: tantivy.Searcher) -> int:
        """About how many postings the filter walks: what running it costs.

        From the document frequencies of a sample of its tokens (a lookup each), once.
        """
        if self._postings is None:
            sizes = [len(leaf.tokens) for leaf in self.masks.leaves]
            total = sum(sizes)
            sample = [
                tok
                for leaf in self.masks.leaves
                for tok in itertools.islice(
                    leaf.tokens, max(1, _POSTINGS_SAMPLE * len(leaf.tokens) // max(total, 1))
                )
            ]
            found = sum(searcher.doc_freq("acl", tok) for tok in sample)
            self._postings = found * total // max(len(sample), 1)
        return self._postings

    def visible(
        self,
        searcher: tantivy.Searcher,
        addresses: Sequence[tantivy.DocAddress],
        shared: frozenset[str] = frozenset(),
        secured: frozenset[str] = frozenset(),
    ) -> np.ndarray | None:
        """Which of ``addresses`` the filter allows, or None to leave it to the filter.

        With ``shared`` sources, docs of those are visible and docs of ``secured`` ones are
        decided; the candidates must come from one or the other.
        """
        count = len(addresses)
        if count == 0:
            return np.zeros(0, dtype=bool)
        held = _held_tokens(searcher, addresses)
        if held is None:
            return None
        ranked = np.zeros(count, dtype=np.uint64)  # leaf bits, in held.order
        for column in held.columns:
            ranked[: column.size] |= self._bits_of(column)
        masks = np.empty_like(ranked)
        masks[held.order] = ranked
        for row, stored in held.overflow:
            masks[row] = np.bitwise_or.reduce(self._bits_of(stored))
        distinct, which = np.unique(masks, return_inverse=True)
        verdicts = np.array([self.masks.allows(int(mask)) for mask in distinct.tolist()])
        allowed = verdicts[which.reshape(-1)]
        if not shared:
            return allowed
        if {source_hash(s) for s in shared} & {source_hash(s) for s in secured}:
            return None  # two sources one hash: cannot tell them apart here
        sources = _column(searcher, "srch", addresses)
        if sources is None:
            return None
        in_shared = np.isin(sources, np.array([source_hash(s) for s in shared], dtype=np.uint64))
        return in_shared | allowed

    def _bits_of(self, tokens: np.ndarray) -> np.ndarray:
        """The leaf bits of each of ``tokens`` (0 for a token no leaf holds)."""
        at = np.searchsorted(self._tokens, tokens)
        at[at == self._tokens.size] = 0
        return np.where(self._tokens[at] == tokens, self._bits[at], np.uint64(0))


def present_tokens(
    searcher: tantivy.Searcher, addresses: Sequence[tantivy.DocAddress]
) -> frozenset[int] | None:
    """Every permission token the docs at ``addresses`` hold (None: cannot tell cheaply)."""
    held = _held_tokens(searcher, addresses)
    if held is None:
        return None
    every = [*held.columns, *(stored for _, stored in held.overflow)]
    return frozenset(np.unique(np.concatenate(every)).tolist()) if every else frozenset()


@dataclass(frozen=True, slots=True)
class _Held:
    """The permission tokens of a list of docs, read slot by slot.

    ``order`` ranks the docs by how many tokens they hold, most first, so the docs holding a
    k-th token are always a prefix of it: ``columns[k][i]`` is the k-th token of doc
    ``order[i]``. Docs with more than ``SLOTS`` tokens also come in ``overflow`` as (row, all
    their tokens).
    """

    order: np.ndarray
    columns: list[np.ndarray]
    overflow: list[tuple[int, np.ndarray]]


def _held_tokens(
    searcher: tantivy.Searcher, addresses: Sequence[tantivy.DocAddress]
) -> _Held | None:
    """The tokens the docs at ``addresses`` hold, from the fast fields (and the doc store for
    the few with more than ``SLOTS``); None when a doc lacks the fields or too many docs have
    more tokens than the slots."""
    held = _column(searcher, "acl_n", addresses)
    if held is None:
        return None
    overflowing = np.flatnonzero(held > SLOTS)
    if overflowing.size > MAX_OVERFLOW:
        return None
    order = np.argsort(held, kind="stable")[::-1]
    ranked = [addresses[i] for i in order.tolist()]
    descending = held[order]
    columns = []
    for slot, name in enumerate(_SLOT_FIELDS):
        holding = int(np.count_nonzero(descending > slot))
        if holding == 0:
            break
        column = _column(searcher, name, ranked[:holding])
        if column is None:
            return None
        columns.append(column)
    overflow = [(row, _stored_tokens(searcher, addresses[row])) for row in overflowing.tolist()]
    return _Held(order, columns, overflow)


def _column(
    searcher: tantivy.Searcher, name: str, addresses: Sequence[tantivy.DocAddress]
) -> np.ndarray | None:
    values = searcher.fast_field_values(name, list(addresses))
    try:
        return np.fromiter(values, np.uint64, len(values))
    except TypeError:  # None: a doc without the column
        return None


def _stored_tokens(searcher: tantivy.Searcher, address: tantivy.DocAddress) -> np.ndarray:
    packed = searcher.doc(address).to_dict().get("aclx") or [b""]
    return np.frombuffer(bytes(packed[0]), dtype=">u8").astype(np.uint64)
