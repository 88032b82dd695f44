"""The created_at walk while customers are deleted and created, against a model of the API.

The model honours what ``tests/test_scan.py``'s does not need: the ``created_at[after]`` and
``created_at[before]`` filters (strict or not: the API does not say) and ``total``. Deleting
an already-walked customer of a millisecond the walk is paging through moves the others up
a place; the walk must notice (``total`` shrinks) and read again rather than skip one.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voucherify_async._core.query import Query
from voucherify_async._core.scan import CreatedAtWalk

EPOCH = datetime(2024, 1, 1, tzinfo=timezone.utc)
MS = timedelta(milliseconds=1)


@dataclass(frozen=True)
class Item:
    id: str
    created_at: datetime


def key(item: Item) -> tuple[datetime | None, str]:
    return item.created_at, item.id


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class Api:
    """The customers list: created_at then id order, page <= 99, cursor, filters, total."""

    def __init__(self, items: list[Item], *, inclusive: bool, strict_filters: bool) -> None:
        self.items = list(items)
        self.inclusive = inclusive
        self.strict = strict_filters
        self.requests = 0
        self._ordered: dict[bool, list[Item]] = {}  # by descending; cleared on every change

    def remove(self, victims: list[Item]) -> None:
        gone = {v.id for v in victims}
        self.items = [i for i in self.items if i.id not in gone]
        self._ordered.clear()

    def add(self, item: Item) -> None:
        self.items.append(item)
        self._ordered.clear()

    def answer(self, query: Query, descending: bool, limit: int) -> tuple[list[Item], bool, int]:
        self.requests += 1
        params = dict(query)
        page = int(params.get("page", "1"))
        assert 1 <= page <= 99
        if descending not in self._ordered:
            self._ordered[descending] = sorted(self.items, key=key, reverse=descending)
        rows = self._ordered[descending]
        if "created_at[after]" in params:
            low = parse(params["created_at[after]"])
            rows = [
                r for r in rows if r.created_at > low or (not self.strict and r.created_at == low)
            ]
        if "created_at[before]" in params:
            high = parse(params["created_at[before]"])
            rows = [
                r for r in rows if r.created_at < high or (not self.strict and r.created_at == high)
            ]
        if "starting_after" in params:
            cursor = parse(params["starting_after"])

            def kept(row: Item) -> bool:
                if row.created_at == cursor:
                    return self.inclusive
                return row.created_at < cursor if descending else row.created_at > cursor

            rows = [r for r in rows if kept(r)]
        start = (page - 1) * limit
        return rows[start : start + limit], start + limit < len(rows), len(rows)


def make_items(groups: list[int]) -> list[Item]:
    return [
        Item(f"c{g:04d}-{n:04d}", EPOCH + g * 2 * MS)
        for g, size in enumerate(groups)
        for n in range(size)
    ]


def churn_scan(
    api: Api, *, descending: bool, limit: int, seed: int, every: int
) -> tuple[list[str], set[str], set[str]]:
    """Walk the list; every ``every`` pages delete walked and unwalked items, add new ones."""
    rng = random.Random(seed)
    walk: CreatedAtWalk[Item] = CreatedAtWalk(
        [("limit", str(limit))], descending=descending, limit=limit, key=key
    )
    out: list[Item] = []
    deleted: set[str] = set()
    created: set[str] = set()
    pages = 0
    while (query := walk.next_query()) is not None:
        items, more, total = api.answer(query, descending, limit)
        for item in walk.accept(items, more, total):
            out.append(item)
            walk.yielded.advance(item.created_at, item.id)
        pages += 1
        assert pages < 10_000, "the walk does not end"
        if pages % every or not out:
            continue
        walked = [i for i in out[-3 * limit :] if i.id not in deleted]
        seen = {o.id for o in out}
        unwalked = [i for i in api.items if i.id not in seen]
        victims = rng.sample(walked, min(2, len(walked))) + rng.sample(
            unwalked, min(1, len(unwalked))
        )
        api.remove(victims)
        deleted.update(v.id for v in victims)
        new = Item(f"new-{pages}", EPOCH + timedelta(days=1) + pages * MS)
        api.add(new)
        created.add(new.id)
    return [i.id for i in out], deleted, created


@settings(max_examples=120, deadline=None)
@given(
    groups=st.lists(st.integers(min_value=1, max_value=60), min_size=1, max_size=25),
    limit=st.integers(min_value=2, max_value=12),
    inclusive=st.booleans(),
    strict=st.booleans(),
    descending=st.booleans(),
    every=st.integers(min_value=1, max_value=4),
    seed=st.integers(min_value=0, max_value=1000),
)
def test_churn_never_skips_or_repeats(
    groups: list[int],
    limit: int,
    inclusive: bool,
    strict: bool,
    descending: bool,
    every: int,
    seed: int,
) -> None:
    if max(groups) > 90 * limit:
        return
    items = make_items(groups)
    api = Api(items, inclusive=inclusive, strict_filters=strict)
    out, deleted, created = churn_scan(
        api, descending=descending, limit=limit, seed=seed, every=every
    )
    assert len(out) == len(set(out)), "repeated"
    survivors = {i.id for i in items} - deleted
    assert survivors <= set(out), f"skipped {sorted(survivors - set(out))[:5]}"
    assert set(out) <= {i.id for i in items} | created


@pytest.mark.parametrize("inclusive", [False, True])
@pytest.mark.parametrize("descending", [False, True])
def test_a_quiet_scan_reads_a_big_group_once_plus_one_page(
    inclusive: bool, descending: bool
) -> None:
    items = make_items([5, 300, 5])
    api = Api(items, inclusive=inclusive, strict_filters=True)
    out, _, _ = churn_scan(api, descending=descending, limit=100, seed=0, every=10**9)
    expected = sorted(items, key=lambda i: (i.created_at, i.id), reverse=descending)
    assert out == [i.id for i in expected]
    # The group's 300 in 3 pages, its first page read twice (the baseline of its total),
    # a few keyset windows around it, and at most one request to learn the cursor's kind.
    assert api.requests <= 9


def test_without_total_the_walk_still_ends_and_repeats_nothing() -> None:
    items = make_items([3, 50, 3])
    api = Api(items, inclusive=False, strict_filters=True)
    walk: CreatedAtWalk[Item] = CreatedAtWalk([("limit", "10")], descending=True, limit=10, key=key)
    out: list[str] = []
    while (query := walk.next_query()) is not None:
        page, more, _ = api.answer(query, True, 10)
        out.extend(i.id for i in walk.accept(page, more))  # an answer without total
    assert out == [i.id for i in sorted(items, key=lambda i: (i.created_at, i.id), reverse=True)]


def test_the_walk_learns_an_inclusive_cursor_and_stops_reading_the_previous_millisecond() -> None:
    items = make_items([40] * 20)
    exclusive = Api(items, inclusive=False, strict_filters=True)
    inclusive = Api(items, inclusive=True, strict_filters=True)
    for api in (exclusive, inclusive):
        out, _, _ = churn_scan(api, descending=True, limit=30, seed=0, every=10**9)
        assert len(out) == len(set(out)) == 800
    assert inclusive.requests <= exclusive.requests + 2
