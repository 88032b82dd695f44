"""Models of ``GET /v1/customers/{id}/redeemables``: the vouchers a customer holds."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import msgspec

from ._base import Model

__all__ = [
    "CustomerRedeemable",
    "CustomerRedeemableList",
    "HolderRole",
    "Redeemable",
    "RedeemableVoucher",
    "VoucherGift",
    "VoucherLoyaltyCard",
    "VoucherPublish",
    "VoucherRedemption",
    "VoucherType",
]


class VoucherGift(Model):
    """Gift card amounts, in cents."""

    amount: int | None = None
    subtracted_amount: int | None = None
    balance: int | None = None
    effect: str | None = None


class VoucherLoyaltyCard(Model):
    """Loyalty card points."""

    points: int | None = None
    balance: int | None = None
    next_expiration_date: date | None = None
    next_expiration_points: int | None = None
    pending_points: int | None = None
    expired_points: int | None = None
    subtracted_points: int | None = None


class VoucherPublish(Model):
    """Summary of a voucher's publications."""

    object: str | None = None
    count: int | None = None
    url: str | None = None


class VoucherRedemption(Model):
    """Summary of a voucher's redemptions; ``quantity`` is ``None`` for unlimited."""

    quantity: int | None = None
    redeemed_quantity: int | None = None
    redeemed_points: int | None = None
    object: str | None = None
    url: str | None = None


class RedeemableVoucher(Model):
    """The voucher a customer holds.

    ``discount`` (AMOUNT, PERCENT, UNIT, FIXED, ...), the validity rules and ``assets`` are kept
    as decoded JSON: their shape depends on the discount and campaign type.
    """

    id: str
    code: str | None = None
    campaign: str | None = None
    campaign_id: str | None = None
    category: str | None = None
    category_id: str | None = None
    categories: list[dict[str, Any]] = msgspec.field(default_factory=list)
    type: str | None = None
    discount: dict[str, Any] | None = None
    gift: VoucherGift | None = None
    loyalty_card: VoucherLoyaltyCard | None = None
    start_date: datetime | None = None
    expiration_date: datetime | None = None
    validity_timeframe: dict[str, Any] | None = None
    validity_day_of_week: list[int] | None = None
    validity_hours: dict[str, Any] | None = None
    active: bool | None = None
    additional_info: str | None = None
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)
    assets: dict[str, Any] | None = None
    is_referral_code: bool | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    referrer_id: str | None = None
    holder_id: str | None = None
    publish: VoucherPublish | None = None
    redemption: VoucherRedemption | None = None
    object: str = "voucher"


class Redeemable(Model):
    """The redeemable item itself: its ``type`` (``voucher``), ``status`` and the voucher."""

    type: str | None = None
    status: str | None = None
    voucher: RedeemableVoucher | None = None


class CustomerRedeemable(Model):
    """A redeemable held by a customer, with the customer's role (``holder_role``)."""

    id: str
    created_at: datetime | None = None
    redeemable_id: str | None = None
    redeemable_object: str | None = None
    customer_id: str | None = None
    holder_role: str | None = None
    campaign_id: str | None = None
    campaign_type: str | None = None
    voucher_type: str | None = None
    redeemable: Redeemable | None = None


class CustomerRedeemableList(Model):
    """One page of ``GET /v1/customers/{id}/redeemables``; ``more_starting_after`` is the cursor."""

    data: list[CustomerRedeemable] = msgspec.field(default_factory=list)
    total: int | None = None
    has_more: bool | None = None
    more_starting_after: str | None = None
    object: str = "list"
    data_ref: str = "data"


class HolderRole:
    """Known holder roles."""

    OWNER = "OWNER"
    REFERRER = "REFERRER"
    REFEREE = "REFEREE"


class VoucherType:
    """Known voucher types."""

    GIFT_VOUCHER = "GIFT_VOUCHER"
    DISCOUNT_VOUCHER = "DISCOUNT_VOUCHER"
    LOYALTY_CARD = "LOYALTY_CARD"
