"""Compact in-memory records and their JSON rendering.

A customer is a msgspec ``Struct`` without GC tracking (a million of them must not make
every garbage collection crawl), and its JSON is built only when a response needs it.
``address`` and ``metadata`` dicts are treated as immutable values: every change stores a
new dict, which is what lets seeding share one metadata dict between many customers.
"""

from __future__ import annotations

from typing import Any

import msgspec

from ._time import format_ms

__all__ = [
    "ADDRESS_KEYS",
    "CUSTOMER_FIELDS",
    "Customer",
    "Event",
    "render_customer",
    "snapshot_customer",
]

#: The writable customer fields, in the order the API renders them.
CUSTOMER_FIELDS = (
    "source_id",
    "name",
    "description",
    "email",
    "phone",
    "birthday",
    "birthdate",
    "address",
    "metadata",
)

#: The keys of a customer's address object.
ADDRESS_KEYS = ("city", "state", "line_1", "line_2", "country", "postal_code")

_SUMMARY: dict[str, Any] = {
    "redemptions": {
        "total_redeemed": 0,
        "total_failed": 0,
        "total_succeeded": 0,
        "total_rolled_back": 0,
        "total_rollback_failed": 0,
        "total_rollback_succeeded": 0,
        "gift": {"redeemed_amount": 0, "amount_to_go": 0},
        "loyalty_card": {"redeemed_points": 0, "points_to_go": 0},
    },
    "orders": {"total_amount": 0, "total_count": 0, "average_amount": 0, "last_order_amount": 0},
}
_LOYALTY: dict[str, Any] = {"points": 0, "referred_customers": 0, "campaigns": {}}
_REFERRALS: dict[str, Any] = {"total": 0, "campaigns": []}
_EMPTY: dict[str, Any] = {}


class Customer(msgspec.Struct, gc=False):
    """One stored customer. Times are epoch milliseconds.

    ``sort_updated`` is ``updated_at`` or, for a never-updated customer, ``created_at``:
    the key the ``updated_at`` index and filters use.

    Example: ``Customer(id="cust_...", created_at=1661841127380, sort_updated=1661841127380)``.
    """

    id: str
    created_at: int
    sort_updated: int
    updated_at: int | None = None
    source_id: str | None = None
    name: str | None = None
    description: str | None = None
    email: str | None = None
    phone: str | None = None
    birthday: str | None = None
    birthdate: str | None = None
    address: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None

    @property
    def city(self) -> str | None:
        """The address city, the value the ``city`` filter matches."""
        if self.address is None:
            return None
        city = self.address.get("city")
        return city if isinstance(city, str) else None


class Event(msgspec.Struct, gc=False):
    """One customer activity event (``customer.created`` and friends).

    ``customer`` is a copy of the customer as it was when the event happened; it renders
    as a full ``CustomerWithSummaryLoyaltyReferrals`` (summary, loyalty and referrals
    included), as the spec requires of ``data.data.customer``.
    """

    id: str
    type: str
    created_at: int
    group_id: str
    customer: Customer
    category: str = "ACTION"
    campaign_id: str | None = None
    campaign_type: str | None = None
    campaign_name: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Render as the spec's ``CustomerActivity`` object."""
        inner: dict[str, Any] = {"customer": render_customer(self.customer)}
        if self.campaign_id is not None:
            inner["campaign"] = {
                "id": self.campaign_id,
                "name": self.campaign_name or self.campaign_id,
                "campaign_type": self.campaign_type,
            }
        return {
            "id": self.id,
            "type": self.type,
            "data": {"data": inner, "event_source": {"channel": "API"}},
            "created_at": format_ms(self.created_at),
            "group_id": self.group_id,
        }


def render_customer(customer: Customer) -> dict[str, Any]:
    """Render a customer as ``CustomerWithSummaryLoyaltyReferrals``.

    Unset (``None``) string fields are left out rather than sent as ``null``: the schema
    types them as non-nullable strings, and the vendor's own examples omit them.

    Example: ``render_customer(c)["object"]`` -> ``"customer"``.
    """
    out: dict[str, Any] = {"id": customer.id}
    if customer.source_id is not None:
        out["source_id"] = customer.source_id
    if customer.name is not None:
        out["name"] = customer.name
    if customer.description is not None:
        out["description"] = customer.description
    if customer.email is not None:
        out["email"] = customer.email
    if customer.phone is not None:
        out["phone"] = customer.phone
    if customer.birthday is not None:
        out["birthday"] = customer.birthday
    if customer.birthdate is not None:
        out["birthdate"] = customer.birthdate
    if customer.address is not None:
        out["address"] = customer.address
    out["summary"] = _SUMMARY
    out["loyalty"] = _LOYALTY
    out["referrals"] = _REFERRALS
    out["metadata"] = customer.metadata if customer.metadata is not None else _EMPTY
    out["system_metadata"] = _EMPTY
    out["created_at"] = format_ms(customer.created_at)
    if customer.updated_at is not None:
        out["updated_at"] = format_ms(customer.updated_at)
    out["object"] = "customer"
    return out


def snapshot_customer(customer: Customer) -> Customer:
    """The copy of a customer an activity event keeps (address/metadata are immutable)."""
    return msgspec.structs.replace(customer)
