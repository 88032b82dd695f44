"""Customer segments: seeded by tests, read by ``GET .../segments`` and ``segment_id``."""

from __future__ import annotations

from bisect import bisect_left, insort
from dataclasses import dataclass, field
from typing import Any

from ._index import created_key
from ._models import Customer

__all__ = ["Segment", "Segments"]


@dataclass
class Segment:
    """A named set of customers; ``members`` is sorted by ``created_key`` for listing.

    Example: ``Segment(id="seg_...", name="VIP")``.
    """

    id: str
    name: str
    members: list[Customer] = field(default_factory=list)
    member_ids: set[str] = field(default_factory=set)

    def add(self, customer: Customer) -> None:
        """Make ``customer`` a member (idempotent)."""
        if customer.id not in self.member_ids:
            self.member_ids.add(customer.id)
            insort(self.members, customer, key=created_key)

    def discard(self, customer: Customer) -> None:
        """Remove ``customer`` if it is a member."""
        if customer.id in self.member_ids:
            self.member_ids.discard(customer.id)
            position = bisect_left(self.members, created_key(customer), key=created_key)
            if position < len(self.members) and self.members[position] is customer:
                del self.members[position]

    def to_json(self) -> dict[str, Any]:
        """Render as the spec's ``SimpleSegment``."""
        return {"id": self.id, "name": self.name, "object": "segment"}


class Segments:
    """All seeded segments by id.

    Example: ``segments.of_customer("cust_...")`` -> the segments holding that customer.
    """

    __slots__ = ("by_id",)

    def __init__(self) -> None:
        self.by_id: dict[str, Segment] = {}

    def clear(self) -> None:
        """Forget every segment."""
        self.by_id.clear()

    def put(self, segment: Segment) -> None:
        """Add or replace a segment."""
        self.by_id[segment.id] = segment

    def of_customer(self, customer_id: str) -> list[Segment]:
        """The segments ``customer_id`` belongs to, in seeding order."""
        return [segment for segment in self.by_id.values() if customer_id in segment.member_ids]

    def discard_customer(self, customer: Customer) -> int:
        """Take a deleted customer out of every segment; return how many it left."""
        left = 0
        for segment in self.by_id.values():
            if customer.id in segment.member_ids:
                segment.discard(customer)
                left += 1
        return left
