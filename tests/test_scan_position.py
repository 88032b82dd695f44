"""A created_at scan's resumable position, kept a page at a time, equals advancing per item."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from voucherify_async._core.scan import CreatedAtPages, CreatedAtWalk, ScanPosition

EPOCH = datetime(2024, 1, 1, tzinfo=timezone.utc)


@dataclass
class Item:
    id: str
    created_at: datetime | None


def key(item: Item) -> tuple[datetime | None, str]:
    return item.created_at, item.id


def pages(start: ScanPosition | None = None) -> CreatedAtPages[list[Item], Item]:
    walk: CreatedAtWalk[Item] = CreatedAtWalk([], descending=False, limit=10, key=key,
                                              start=start)  # fmt: skip
    return CreatedAtPages(walk, items=lambda p: p, has_more=lambda p: None,
                          rebuild=lambda p, kept: kept, key=key)  # fmt: skip


def test_the_position_matches_advancing_every_item_wherever_it_is_asked_for() -> None:
    rng = random.Random(7)
    for case in range(40):
        # Runs of items sharing a millisecond (some longer than the lazy tail), a few
        # without created_at, asked for at random moments.
        items: list[Item] = []
        moment = EPOCH
        while len(items) < rng.choice([5, 50, 1500, 2500]):
            moment += timedelta(milliseconds=rng.choice([0, 0, 1, 3]))
            stamp = None if rng.random() < 0.02 else moment
            items.append(Item(f"c{case}-{len(items)}", stamp))
        start = ScanPosition(EPOCH, {"old-1", "old-2"}) if case % 2 else None
        lazy = pages(start)
        eager = ScanPosition(EPOCH, {"old-1", "old-2"}) if case % 2 else ScanPosition()
        # Handed out a page at a time, the position asked for (and so handed the page's
        # first items) at random moments inside a page.
        for begin in range(0, len(items), 100):
            page = items[begin : begin + 100]
            for count, item in enumerate(page, 1):
                if item.created_at is not None:
                    eager.advance(item.created_at, item.id)
                if rng.random() < 0.01:
                    lazy.handed_out(page[:count])
                    assert lazy.position() == eager.dumps()
            lazy.handed_out(page)
        token = lazy.position()
        assert token is not None and token == eager.dumps()
        assert ScanPosition.loads(token) == eager
