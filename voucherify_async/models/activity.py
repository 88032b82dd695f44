"""Customer activity models: the events of ``/activity`` and the deprecated ``/activities``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from ._base import Model

__all__ = [
    "ActivityCategory",
    "CampaignType",
    "CustomerActivitiesList",
    "CustomerActivity",
    "CustomerActivityData",
    "CustomerActivityList",
    "EventSource",
    "EventSourceApiKey",
    "EventSourceUser",
]


class EventSourceUser(Model):
    """The Voucherify user who triggered an event."""

    id: str | None = None


class EventSourceApiKey(Model):
    """The API key an event was triggered with (its name and app id, never a secret)."""

    name: str | None = None
    app_id: str | None = None


class EventSource(Model):
    """Where an event came from: ``channel`` is ``API``, ``USER_PORTAL``, ``CLIENT_API``, ..."""

    channel: str | None = None
    user: EventSourceUser | None = None
    api_key: EventSourceApiKey | None = None


class CustomerActivityData(Model):
    """The details of an activity.

    ``data`` is the event's payload; its keys depend on the activity ``type`` (the spec lists
    some sixty event shapes: ``customer`` for every one, plus ``campaign``, ``voucher``,
    ``order``, ``redemption``, ``segment`` and so on), so it is kept as decoded JSON, nothing
    dropped.
    """

    data: dict[str, Any] = msgspec.field(default_factory=dict)
    event_source: EventSource | None = None


class CustomerActivity(Model):
    """One event in a customer's activity, e.g. ``customer.created`` or ``customer.order.paid``."""

    id: str
    type: str | None = None
    data: CustomerActivityData | None = None
    created_at: datetime | None = None
    group_id: str | None = None


class CustomerActivityList(Model):
    """One page of ``GET /v1/customers/{id}/activity``; ``more_starting_after`` is the cursor."""

    data: list[CustomerActivity] = msgspec.field(default_factory=list)
    has_more: bool | None = None
    more_starting_after: str | None = None
    object: str = "list"
    data_ref: str = "data"


class CustomerActivitiesList(Model):
    """One page of the deprecated ``GET /v1/customers/{id}/activities``."""

    data: list[CustomerActivity] = msgspec.field(default_factory=list)
    total: int | None = None
    object: str = "list"
    data_ref: str = "data"


class CampaignType:
    """Known campaign types (the API may add others)."""

    PROMOTION = "PROMOTION"
    GIFT_VOUCHERS = "GIFT_VOUCHERS"
    REFERRAL_PROGRAM = "REFERRAL_PROGRAM"
    DISCOUNT_COUPONS = "DISCOUNT_COUPONS"
    LOYALTY_PROGRAM = "LOYALTY_PROGRAM"


class ActivityCategory:
    """Activity categories accepted by the ``category`` filter."""

    ACTION = "ACTION"
    EFFECT = "EFFECT"
