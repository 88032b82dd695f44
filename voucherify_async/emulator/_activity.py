"""Customer activity: the events each customer change records, and their listing.

Events are appended per customer; their ids grow with time (see ``_ids``), so each
customer's list is sorted by id and by ``created_at`` at once, and a ``starting_after_id``
cursor is a bisect on the id.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from operator import attrgetter

from ._ids import IdFactory
from ._models import Customer, Event, snapshot_customer

__all__ = ["ActivityFilter", "ActivityLog"]

_event_id = attrgetter("id")


@dataclass
class ActivityFilter:
    """What an activity listing keeps. Dates are inclusive epoch milliseconds.

    ``campaign_id``/``campaign_type`` match the campaign an event names (the seeded
    publication events; customer changes name none); ``product_id`` matches nothing the
    emulator records, so setting it yields an empty list.
    """

    start_ms: int | None = None
    end_ms: int | None = None
    type: str | None = None
    category: str | None = None
    campaign_id: str | None = None
    campaign_type: str | None = None
    product_id: str | None = None

    def matches(self, event: Event) -> bool:
        """Tell whether ``event`` passes every filter that is set."""
        if self.start_ms is not None and event.created_at < self.start_ms:
            return False
        if self.end_ms is not None and event.created_at > self.end_ms:
            return False
        if self.type is not None and event.type != self.type:
            return False
        if self.category is not None and event.category != self.category:
            return False
        if self.campaign_id is not None and event.campaign_id != self.campaign_id:
            return False
        if self.campaign_type is not None and event.campaign_type != self.campaign_type:
            return False
        return self.product_id is None


class ActivityLog:
    """Every customer's events, keyed by customer id.

    Example::

        log.record(customer, "customer.created", group_id="v-...", now=now_ms())
        events, has_more = log.page("cust_...", limit=10, descending=True)
    """

    __slots__ = ("_by_customer", "_ids")

    def __init__(self, ids: IdFactory) -> None:
        self._ids = ids
        self._by_customer: dict[str, list[Event]] = {}

    def clear(self) -> None:
        """Forget every event."""
        self._by_customer.clear()

    def record(
        self,
        customer: Customer,
        event_type: str,
        *,
        group_id: str,
        now: int,
        category: str = "ACTION",
        campaign: tuple[str, str, str] | None = None,
    ) -> Event:
        """Append one event that snapshots ``customer`` as it is now.

        ``campaign`` is ``(id, type, name)`` for events that name one. Events must be
        recorded in time order per customer (their ids grow with time).
        """
        event = Event(
            id=self._ids.hex("evcus_"),
            type=event_type,
            created_at=now,
            group_id=group_id,
            customer=snapshot_customer(customer),
            category=category,
        )
        if campaign is not None:
            event.campaign_id, event.campaign_type, event.campaign_name = campaign
        self._by_customer.setdefault(customer.id, []).append(event)
        return event

    def count(self, customer_id: str) -> int:
        """How many events the customer has."""
        return len(self._by_customer.get(customer_id, ()))

    def remove(self, customer_id: str) -> int:
        """Delete all of a customer's events; return how many there were."""
        return len(self._by_customer.pop(customer_id, ()))

    def iterate(
        self,
        customer_id: str,
        *,
        descending: bool,
        after_id: str | None = None,
        after_ms: int | None = None,
        keep: Callable[[Event], bool] | None = None,
    ) -> Iterator[Event]:
        """Yield the customer's events in order, past the cursors, that ``keep`` accepts.

        ``after_id`` skips up to and including that event id in the direction of travel;
        ``after_ms`` skips events at or before (ascending) / at or after (descending) it.
        """
        events = self._by_customer.get(customer_id, [])
        if descending:
            stop = len(events) if after_id is None else bisect_left(events, after_id, key=_event_id)
            for position in range(stop - 1, -1, -1):
                event = events[position]
                if after_ms is not None and event.created_at >= after_ms:
                    continue
                if keep is None or keep(event):
                    yield event
        else:
            start = 0 if after_id is None else bisect_right(events, after_id, key=_event_id)
            for position in range(start, len(events)):
                event = events[position]
                if after_ms is not None and event.created_at <= after_ms:
                    continue
                if keep is None or keep(event):
                    yield event
