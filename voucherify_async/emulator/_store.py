"""The emulator's state: customers with their indexes, activity, segments, redeemables.

Everything here is synchronous and runs on the server's event loop thread, so no locks.
The store is the only place that mutates a ``Customer``: it takes the customer out of
every index whose key changes, applies the change, and puts it back.
"""

from __future__ import annotations

import gc
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from ._activity import ActivityLog
from ._ids import IdFactory, alnum_ids
from ._index import EqualityIndex, SortedIndex, created_key, source_key, updated_key
from ._models import Customer
from ._redeemables import Redeemables, build_redeemable
from ._segments import Segments
from ._time import now_ms

__all__ = [
    "SEED_CAMPAIGNS",
    "SEED_CITIES",
    "DuplicateSourceId",
    "PurgeResult",
    "SeedResult",
    "Store",
    "compile_pattern",
]

#: Where seeded customers start when the seed request names no ``start``.
DEFAULT_SEED_START_MS = 1_577_836_800_000  # 2020-01-01T00:00:00.000Z

_PATTERN_TOKEN = re.compile(r"\{i(?:%(\d+))?\}")
# Collecting a million freshly made objects over and over is most of a seed's cost.
_FREEZE_AFTER = 100_000

#: The cities customers seeded at start-up live in, in turn (customer 1 in Warsaw).
SEED_CITIES = ("Warsaw", "Berlin", "Paris", "London", "Madrid")

#: The campaigns seeded redeemables and activity name: (id, campaign_type, name,
#: voucher_type, every how many customers get one).
SEED_CAMPAIGNS = (
    ("camp_seed_summer", "DISCOUNT_COUPONS", "Summer Sale", "DISCOUNT_VOUCHER", 1),
    ("camp_seed_loyalty", "LOYALTY_PROGRAM", "Loyalty Club", "LOYALTY_CARD", 2),
    ("camp_seed_gift", "GIFT_VOUCHERS", "Gift Cards", "GIFT_VOUCHER", 3),
    ("camp_seed_referral", "REFERRAL_PROGRAM", "Refer a Friend", "DISCOUNT_VOUCHER", 4),
)


class DuplicateSourceId(ValueError):
    """A ``source_id`` is already used by another customer."""


@dataclass
class PurgeResult:
    """What a permanent deletion removed."""

    customer: Customer
    customer_events: int
    segments: int


@dataclass
class SeedResult:
    """What a seed call created (epoch milliseconds)."""

    created: int
    first_created_at: int | None
    last_created_at: int | None


def compile_pattern(pattern: str) -> Callable[[int], str]:
    """Turn ``"user{i}@example.com"`` into ``i -> "user7@example.com"``.

    ``{i%N}`` gives ``i`` modulo ``N``, handy for few distinct cities or names.

    Example: ``compile_pattern("City {i%3}")(7)`` -> ``"City 1"``.
    """
    if "{" not in pattern:
        return lambda _i: pattern
    pieces: list[str | int] = []
    position = 0
    for match in _PATTERN_TOKEN.finditer(pattern):
        pieces.append(pattern[position : match.start()])
        pieces.append(int(match.group(1)) if match.group(1) else 0)
        position = match.end()
    pieces.append(pattern[position:])
    if all(piece == 0 for piece in pieces if isinstance(piece, int)):
        template = pattern.replace("{", "{{").replace("}", "}}").replace("{{i}}", "{0}")
        return template.format

    def expand(i: int) -> str:
        return "".join(
            piece if isinstance(piece, str) else str(i % piece if piece else i) for piece in pieces
        )

    return expand


class Store:
    """All state of one emulator instance.

    Example::

        store = Store()
        bob = store.create({"name": "Bob"}, source_id="bob", group_id="v-...")
        store.find("bob") is bob
    """

    def __init__(self) -> None:
        self.ids = IdFactory()
        self.by_id: dict[str, Customer] = {}
        self.by_source: dict[str, Customer] = {}
        self.deleted: dict[str, Customer] = {}
        self.created = SortedIndex(created_key)
        self.updated = SortedIndex(updated_key)
        self.sourced = SortedIndex(source_key)
        self.emails = EqualityIndex(attrgetter("email"))
        self.names = EqualityIndex(attrgetter("name"))
        self.cities = EqualityIndex(attrgetter("city"))
        self.activity = ActivityLog(self.ids)
        self.segments = Segments()
        self.redeemables = Redeemables()
        self.seeded = 0

    # -- lifecycle -------------------------------------------------------------------

    def clear(self) -> None:
        """Forget every customer, event, segment and redeemable."""
        self.by_id = {}
        self.by_source = {}
        self.deleted = {}
        self.created = SortedIndex(created_key)
        self.updated = SortedIndex(updated_key)
        self.sourced = SortedIndex(source_key)
        self.emails.clear()
        self.names.clear()
        self.cities.clear()
        self.activity.clear()
        self.segments.clear()
        self.redeemables.clear()
        self.seeded = 0

    def __len__(self) -> int:
        return len(self.by_id)

    # -- lookups ---------------------------------------------------------------------

    def find(self, ref: str) -> Customer | None:
        """The live customer whose id, or else whose source_id, is ``ref``."""
        customer = self.by_id.get(ref)
        if customer is None:
            customer = self.by_source.get(ref)
        return customer

    # -- writes ----------------------------------------------------------------------

    def create(
        self,
        fields: Mapping[str, Any],
        *,
        source_id: str | None,
        group_id: str,
        now: int | None = None,
    ) -> Customer:
        """Create a customer from validated ``fields`` and record ``customer.created``.

        Raises ``DuplicateSourceId`` if ``source_id`` is taken.
        """
        if source_id is not None and source_id in self.by_source:
            raise DuplicateSourceId(source_id)
        moment = now_ms() if now is None else now
        customer = Customer(id=self.ids.customer(), created_at=moment, sort_updated=moment)
        customer.source_id = source_id
        for name, value in fields.items():
            if name != "source_id":
                setattr(customer, name, value)
        self._index(customer)
        self.activity.record(customer, "customer.created", group_id=group_id, now=moment)
        return customer

    def update(
        self,
        customer: Customer,
        fields: Mapping[str, Any],
        *,
        group_id: str,
        now: int | None = None,
    ) -> bool:
        """Apply the ``fields`` that differ; record ``customer.updated`` if any did.

        A ``source_id`` in ``fields`` moves the customer to that source id (raising
        ``DuplicateSourceId`` if another customer holds it). Returns whether anything
        changed.
        """
        changes = {
            name: value
            for name, value in fields.items()
            if _normalised(name, getattr(customer, name)) != _normalised(name, value)
        }
        new_source = changes.get("source_id")
        if new_source is not None and new_source in self.by_source:
            raise DuplicateSourceId(new_source)
        if not changes:
            return False
        moment = max(now_ms() if now is None else now, customer.created_at)
        self.updated.remove(customer)
        if "source_id" in changes:
            self.sourced.remove(customer)
            if customer.source_id is not None:
                del self.by_source[customer.source_id]
        if "email" in changes:
            self.emails.remove(customer)
        if "name" in changes:
            self.names.remove(customer)
        if "address" in changes:
            self.cities.remove(customer)
        for name, value in changes.items():
            setattr(customer, name, value)
        customer.updated_at = moment
        customer.sort_updated = moment
        self.updated.add(customer)
        if "source_id" in changes:
            self.sourced.add(customer)
            if customer.source_id is not None:
                self.by_source[customer.source_id] = customer
        if "email" in changes:
            self.emails.add(customer)
        if "name" in changes:
            self.names.add(customer)
        if "address" in changes:
            self.cities.add(customer)
        self.activity.record(customer, "customer.updated", group_id=group_id, now=moment)
        return True

    def delete(self, customer: Customer, *, group_id: str) -> None:
        """Delete a customer (``GET`` then answers 404) and record ``customer.deleted``.

        Its activity is kept, as on the API, until a permanent deletion.
        """
        self._unindex(customer)
        self.segments.discard_customer(customer)
        self.deleted[customer.id] = customer
        self.activity.record(customer, "customer.deleted", group_id=group_id, now=now_ms())

    def purge(self, ref: str) -> PurgeResult | None:
        """Permanently delete a live customer (by id or source_id) or a deleted one (by id).

        Removes the customer, its activity, its redeemables and segment memberships.
        Returns ``None`` when nothing matches ``ref``.
        """
        customer = self.find(ref)
        segments = 0
        if customer is not None:
            self._unindex(customer)
            segments = self.segments.discard_customer(customer)
        else:
            customer = self.deleted.pop(ref, None)
            if customer is None:
                return None
        self.deleted.pop(customer.id, None)
        self.redeemables.remove(customer.id)
        events = self.activity.remove(customer.id)
        return PurgeResult(customer=customer, customer_events=events, segments=segments)

    # -- seeding ---------------------------------------------------------------------

    def seed(
        self,
        count: int,
        *,
        same_created_at: int = 1,
        start_ms: int | None = None,
        step_ms: int = 1,
        descending: bool = False,
        source_id: str | None = "seed-{i}",
        name: str | None = "Customer {i}",
        email: str | None = "customer{i}@example.com",
        city: str | Sequence[str] | None = None,
        phone: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        activity: bool = False,
    ) -> SeedResult:
        """Add ``count`` customers fast, without activity events unless ``activity``.

        ``same_created_at`` consecutive customers share one ``created_at``; groups are
        ``step_ms`` apart from ``start_ms``, oldest first (``descending`` makes the first
        seeded the newest). String patterns take ``{i}`` (1-based across seed calls since
        the last reset) and ``{i%N}``; ``city`` may also be a list of cities taken in
        turn. Raises ``DuplicateSourceId`` before changing anything if a generated
        source_id is taken.

        ``activity`` gives each customer a ``customer.created`` event at its
        ``created_at`` and the redeemables of ``SEED_CAMPAIGNS`` (customer ``i`` gets
        campaign ``k`` when ``i`` is a multiple of its step), each with a
        ``customer.publication.succeeded`` event naming the campaign, a millisecond later.

        Example: ``store.seed(1000, same_created_at=10, city="City {i%5}")``.
        """
        if count <= 0:
            return SeedResult(0, None, None)
        first = self.seeded + 1
        numbers = range(first, first + count)
        start = DEFAULT_SEED_START_MS if start_ms is None else start_ms
        groups = (count + same_created_at - 1) // same_created_at
        if descending:
            created = [start + (groups - 1 - k // same_created_at) * step_ms for k in range(count)]
        else:
            created = [start + (k // same_created_at) * step_ms for k in range(count)]
        sources = _expand(source_id, numbers)
        if sources[0] is not None:
            taken = self.by_source
            unique = set(sources)
            if len(unique) != count:
                raise DuplicateSourceId("the source_id pattern repeats values")
            clash = next((s for s in sources if s in taken), None)
            if clash is not None:
                raise DuplicateSourceId(clash)
        names = _expand(name, numbers)
        emails = _expand(email, numbers)
        phones = _expand(phone, numbers)
        if isinstance(city, str) or city is None:
            cities = _expand(city, numbers)
        else:
            towns = list(city)
            cities = [towns[(i - 1) % len(towns)] for i in numbers] if towns else [None] * count
        shared_metadata = dict(metadata) if metadata else None
        ids = alnum_ids("cust_", count)

        collecting = gc.isenabled()
        gc.disable()
        try:
            rows = zip(ids, created, sources, names, emails, phones, cities, strict=True)
            # Positional arguments in field order: the fastest way to build a Struct.
            customers = [
                Customer(
                    cid, at, at, None, src, nm, None, mail, tel, None, None,
                    None if town is None else {"city": town}, shared_metadata,
                )
                for cid, at, src, nm, mail, tel, town in rows
            ]  # fmt: skip
            self.by_id.update(zip(ids, customers, strict=True))
            if sources[0] is not None:
                self.by_source.update(zip(sources, customers, strict=True))  # type: ignore[arg-type]
            in_seed_order = list(customers) if activity else []
            customers.sort(key=created_key)
            self.created.extend(customers, presorted=True)
            # Never-updated customers sort by created_at in the updated_at order too.
            self.updated.extend(customers, presorted=True)
            self.sourced.extend(customers)
            self.emails.extend(customers)
            self.names.extend(customers)
            self.cities.extend(customers)
        finally:
            if collecting:
                gc.enable()
        if activity:
            self._seed_activity(in_seed_order, numbers.start)
        if count >= _FREEZE_AFTER:
            # Long-lived data: move it out of the collector's way for good.
            gc.freeze()
        self.seeded += count
        return SeedResult(count, min(created), max(created))

    def _seed_activity(self, customers: list[Customer], first: int) -> None:
        # ``customers`` is in seed order: the n-th is customer number ``first + n``.
        group_id = self.ids.request()
        for number, customer in enumerate(customers, start=first):
            at = customer.created_at
            self.activity.record(customer, "customer.created", group_id=group_id, now=at)
            for offset, (cid, ctype, cname, vtype, step) in enumerate(SEED_CAMPAIGNS, start=1):
                if number % step:
                    continue
                spec = {
                    "campaign_id": cid,
                    "campaign_type": ctype,
                    "campaign": cname,
                    "voucher_type": vtype,
                    "holder_role": "REFERRER" if ctype == "REFERRAL_PROGRAM" else "OWNER",
                }
                redeemable = build_redeemable(
                    spec, customer_id=customer.id, ids=self.ids, now=at + offset
                )
                self.redeemables.add(customer.id, redeemable)
                self.activity.record(
                    customer,
                    "customer.publication.succeeded",
                    group_id=group_id,
                    now=at + offset,
                    category="EFFECT",
                    campaign=(cid, ctype, cname),
                )

    # -- index maintenance -----------------------------------------------------------

    def _index(self, customer: Customer) -> None:
        self.by_id[customer.id] = customer
        if customer.source_id is not None:
            self.by_source[customer.source_id] = customer
        self.created.add(customer)
        self.updated.add(customer)
        self.sourced.add(customer)
        self.emails.add(customer)
        self.names.add(customer)
        self.cities.add(customer)

    def _unindex(self, customer: Customer) -> None:
        del self.by_id[customer.id]
        if customer.source_id is not None:
            self.by_source.pop(customer.source_id, None)
        self.created.remove(customer)
        self.updated.remove(customer)
        self.sourced.remove(customer)
        self.emails.remove(customer)
        self.names.remove(customer)
        self.cities.remove(customer)


def _expand(pattern: str | None, numbers: range) -> list[str | None]:
    if pattern is None:
        return [None] * len(numbers)
    render = compile_pattern(pattern)
    moduli = {int(m or 0) for m in _PATTERN_TOKEN.findall(pattern)}
    if moduli and 0 not in moduli:
        # Only {i%N} tokens: the values repeat every lcm(N...) numbers, render once each.
        cycle = math.lcm(*moduli)
        if cycle < len(numbers):
            values = {r: render(r) for r in range(cycle)}
            return [values[i % cycle] for i in numbers]
    return [render(i) for i in numbers]


def _normalised(name: str, value: Any) -> Any:
    # Stored metadata None and {} mean the same thing.
    if name == "metadata" and not value:
        return {}
    return value
