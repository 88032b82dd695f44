"""Customer models: the customer object, the request bodies that write it, and its lists."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, TypedDict

import msgspec
from msgspec import UNSET, UnsetType

from ._base import Model, RequestModel

__all__ = [
    "Address",
    "AddressInput",
    "AsyncActionCreated",
    "Customer",
    "CustomerAssets",
    "CustomerBulkUpdate",
    "CustomerCampaignLoyalty",
    "CustomerCreate",
    "CustomerFields",
    "CustomerIdentityFields",
    "CustomerList",
    "CustomerListOrder",
    "CustomerLoyalty",
    "CustomerMetadataBulkUpdate",
    "CustomerOrdersSummary",
    "CustomerPermanentDeletion",
    "CustomerRedemptionsSummary",
    "CustomerReferralCampaign",
    "CustomerReferrals",
    "CustomerSegmentList",
    "CustomerSummary",
    "CustomerUpdate",
    "GiftSummary",
    "LoyaltyCardSummary",
    "PermanentDeletionStats",
    "Segment",
]


class Address(Model):
    """A customer's postal address. Every field may be absent or ``null``."""

    city: str | None = None
    state: str | None = None
    line_1: str | None = None
    line_2: str | None = None
    country: str | None = None
    postal_code: str | None = None


class AddressInput(RequestModel):
    """An address to send: fields not given are left out, fields given as ``None`` are null.

    ``create``, ``update`` and the bulk update also accept a plain mapping (checked against
    these fields) or an `Address` read from a customer.
    """

    city: str | UnsetType | None = UNSET
    state: str | UnsetType | None = UNSET
    line_1: str | UnsetType | None = UNSET
    line_2: str | UnsetType | None = UNSET
    country: str | UnsetType | None = UNSET
    postal_code: str | UnsetType | None = UNSET


class GiftSummary(Model):
    """Gift card credits of a customer, in cents."""

    redeemed_amount: int = 0
    amount_to_go: int = 0


class LoyaltyCardSummary(Model):
    """Loyalty points of a customer."""

    redeemed_points: int = 0
    points_to_go: int = 0


class CustomerRedemptionsSummary(Model):
    """Counts of the customer's redemptions."""

    total_redeemed: int = 0
    total_failed: int = 0
    total_succeeded: int = 0
    total_rolled_back: int = 0
    total_rollback_failed: int = 0
    total_rollback_succeeded: int = 0
    gift: GiftSummary | None = None
    loyalty_card: LoyaltyCardSummary | None = None


class CustomerOrdersSummary(Model):
    """Amounts (in cents) and counts of the customer's paid or fulfilled orders."""

    total_amount: int = 0
    total_count: int = 0
    average_amount: int = 0
    last_order_amount: int = 0
    last_order_date: datetime | None = None


class CustomerSummary(Model):
    """The customer's redemptions and orders summary."""

    redemptions: CustomerRedemptionsSummary | None = None
    orders: CustomerOrdersSummary | None = None


class CustomerCampaignLoyalty(Model):
    """Point balance and referrals of a customer in one campaign."""

    points: int | None = None
    loyalty_tier: str | None = None
    referred_customers: int | None = None


class CustomerLoyalty(Model):
    """The customer's loyalty points and referrals, in total and per campaign name."""

    points: int = 0
    referred_customers: int = 0
    campaigns: dict[str, CustomerCampaignLoyalty] = msgspec.field(default_factory=dict)


class CustomerReferralCampaign(Model):
    """One campaign that referred the customer."""

    campaign_id: str | None = None
    referrer_id: str | None = None
    related_object_id: str | None = None
    related_object_type: str | None = None
    date: datetime | None = None


class CustomerReferrals(Model):
    """How often, and through which campaigns, the customer was referred."""

    total: int = 0
    campaigns: list[CustomerReferralCampaign] = msgspec.field(default_factory=list)


class CustomerAssets(Model):
    """Links to the customer's preference center."""

    cockpit_url: str | None = None
    cockpit_preference_center_url: str | None = None


class Customer(Model):
    """A customer, as every customer endpoint returns it.

    Examples:
        ```python
        customer = await vf.customers.get("source_123")
        customer.id, customer.email, customer.address.city
        # ('cust_CSnYd37MXmrbS19XCrghjBsv', 'bob.smith@email.com', 'New York')
        ```
    """

    id: str
    """The Voucherify id, ``cust_...``."""
    source_id: str | None = None
    """Your own id of the customer; most methods accept it in place of ``id``."""
    name: str | None = None
    """The customer's name."""
    description: str | None = None
    """Free text about the customer."""
    email: str | None = None
    """The email address."""
    phone: str | None = None
    """The phone number."""
    birthday: date | None = None
    """Deprecated by the API in favour of ``birthdate``."""
    birthdate: date | None = None
    """The date of birth."""
    address: Address | None = None
    """The postal address (``city``, ``country``, ...)."""
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)
    """Your own key-value data (``{}`` when none)."""
    summary: CustomerSummary | None = None
    """Redemption and order totals, as the API computes them."""
    loyalty: CustomerLoyalty | None = None
    """Loyalty points and referrals, in total and per campaign."""
    referrals: CustomerReferrals | None = None
    """How often, and through which campaigns, the customer was referred."""
    system_metadata: dict[str, Any] = msgspec.field(default_factory=dict)
    """Metadata the API itself stores about the customer."""
    created_at: datetime | None = None
    """When the customer was created (UTC, millisecond resolution)."""
    updated_at: datetime | None = None
    """When the customer was last changed (UTC)."""
    assets: CustomerAssets | None = None
    """Links to the customer's preference center."""
    object: str = "customer"
    """Always ``"customer"``."""


class CustomerListOrder:
    """The values of ``order`` that `Customers.list` accepts."""

    CREATED_AT = "created_at"
    CREATED_AT_DESC = "-created_at"
    UPDATED_AT = "updated_at"
    UPDATED_AT_DESC = "-updated_at"
    SOURCE_ID = "source_id"
    SOURCE_ID_DESC = "-source_id"
    ALL = frozenset(
        {CREATED_AT, CREATED_AT_DESC, UPDATED_AT, UPDATED_AT_DESC, SOURCE_ID, SOURCE_ID_DESC}
    )


class CustomerList(Model):
    """One page of ``GET /v1/customers``."""

    customers: list[Customer] = msgspec.field(default_factory=list)
    total: int | None = None
    has_more: bool | None = None
    object: str = "list"
    data_ref: str = "customers"


class CustomerFields(TypedDict, total=False):
    """The writable customer fields, as keyword arguments of ``update(...)``.

    A key that is absent is not sent; a key set to ``None`` is sent as ``null``.
    """

    name: str | None
    description: str | None
    email: str | None
    phone: str | None
    birthday: date | None
    birthdate: date | None
    address: AddressInput | Address | dict[str, Any] | None
    metadata: dict[str, Any] | None


class CustomerIdentityFields(CustomerFields, total=False):
    """The customer fields that ``create(...)`` accepts: the writable ones plus the ids."""

    id: str | None
    source_id: str | None


class _CustomerBody(RequestModel):
    name: str | UnsetType | None = UNSET
    description: str | UnsetType | None = UNSET
    email: str | UnsetType | None = UNSET
    phone: str | UnsetType | None = UNSET
    birthday: date | UnsetType | None = UNSET
    birthdate: date | UnsetType | None = UNSET
    address: AddressInput | UnsetType | None = UNSET
    metadata: dict[str, Any] | UnsetType | None = UNSET


class CustomerUpdate(_CustomerBody):
    """The body of ``PUT /v1/customers/{id}``: only the fields given are changed.

    Examples:
        ```python
        await vf.customers.update("source_123", CustomerUpdate(phone=None, name="Bob"))
        ```
    """


class CustomerCreate(_CustomerBody):
    """The body of ``POST /v1/customers``, an upsert by ``id`` or ``source_id``.

    Examples:
        ```python
        await vf.customers.create(CustomerCreate(source_id="source_123", name="Bob Smith"))
        ```
    """

    id: str | UnsetType | None = UNSET
    source_id: str | UnsetType | None = UNSET


class CustomerBulkUpdate(_CustomerBody, kw_only=True):
    """One customer of ``POST /v1/customers/bulk/async``: the ``source_id`` and what to change.

    Customers that are not found are created.
    """

    source_id: str


class CustomerMetadataBulkUpdate(RequestModel):
    """The body of ``POST /v1/customers/metadata/async``: metadata set on every listed customer."""

    source_ids: list[str]
    metadata: dict[str, Any]


class AsyncActionCreated(Model):
    """The answer of a bulk or CSV endpoint: the id of the async action doing the work."""

    async_action_id: str


class PermanentDeletionStats(Model):
    """How many related records a permanent deletion removed."""

    events: int = 0
    customer_events: int = 0
    daily_events: int = 0
    segments: int = 0
    orders: int = 0
    order_events: int = 0
    customer: int = 0


class CustomerPermanentDeletion(Model):
    """The answer of ``POST /v1/customers/{id}/permanent-deletion``."""

    id: str
    created_at: datetime | None = None
    related_object_id: str | None = None
    related_object: str = "customer"
    status: str | None = None
    data_json: PermanentDeletionStats | None = None
    object: str = "pernament_deletion"  # sic: the API's own spelling


class Segment(Model):
    """A segment the customer belongs to."""

    id: str
    name: str | None = None
    object: str = "segment"


class CustomerSegmentList(Model):
    """The answer of ``GET /v1/customers/{id}/segments``."""

    data: list[Segment] = msgspec.field(default_factory=list)
    total: int | None = None
    object: str = "list"
    data_ref: str = "data"
