"""Redeemables held by customers: seeding, the ``filters`` deep object, listing.

Each customer's redeemables are kept sorted by id (``rh_`` ids grow with time), so the
``order=id|-id`` listing and its ``starting_after_id`` cursor are a bisect and a walk.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

import msgspec

from ._config import shown
from ._ids import IdFactory, alnum_ids
from ._time import format_ms, now_ms, parse_datetime_ms

__all__ = [
    "REDEEMABLE_FIELDS",
    "FilterError",
    "Redeemable",
    "RedeemableFilter",
    "Redeemables",
    "build_redeemable",
]

#: The keys of a seed spec (``build_redeemable``, ``POST /_emulator/seed/redeemables``).
REDEEMABLE_FIELDS = (
    "id",
    "created_at",
    "redeemable_id",
    "holder_role",
    "campaign_id",
    "campaign_type",
    "campaign",
    "voucher_type",
    "code",
    "status",
    "metadata",
    "voucher",
)

STRING_FIELDS = (
    "id",
    "redeemable_id",
    "redeemable_object",
    "holder_role",
    "campaign_id",
    "campaign_type",
    "voucher_type",
)
_STRING_OPS = frozenset(
    {
        "$in",
        "$not_in",
        "$is",
        "$is_not",
        "$starts_with",
        "$ends_with",
        "$contains",
        "$not_contain",
        "$has_value",
        "$is_unknown",
    }
)
_DATE_OPS = frozenset(
    {"$after", "$before", "$has_value", "$is_unknown", "$more_than", "$less_than"}
)
_DAY_MS = 86_400_000
_rh_id = attrgetter("id")


class FilterError(ValueError):
    """The ``filters`` parameter is malformed; the message says where."""


class Redeemable(msgspec.Struct):
    """One stored redeemable: its id, creation time and rendered ``CustomerRedeemable``."""

    id: str
    created_at: int
    data: dict[str, Any]


Condition = Callable[[Redeemable, int], bool]


def _string_condition(field: str, op: str, operand: Any) -> Condition:
    if op in ("$in", "$not_in"):
        values = operand if isinstance(operand, list) else [operand]
        if not all(isinstance(value, str) for value in values):
            raise FilterError(f"filters.{field}.conditions.{op} must be a list of strings")
        allowed = frozenset(values)
        if op == "$in":
            return lambda r, _now: r.data.get(field) in allowed
        return lambda r, _now: r.data.get(field) not in allowed
    if op in ("$has_value", "$is_unknown"):
        want = op == "$has_value"
        return lambda r, _now: (r.data.get(field) is not None) is want
    if not isinstance(operand, str):
        raise FilterError(f"filters.{field}.conditions.{op} must be a string")
    text: str = operand
    tests: dict[str, Callable[[Any], bool]] = {
        "$is": lambda value: value == text,
        "$is_not": lambda value: value != text,
        "$starts_with": lambda value: isinstance(value, str) and value.startswith(text),
        "$ends_with": lambda value: isinstance(value, str) and value.endswith(text),
        "$contains": lambda value: isinstance(value, str) and text in value,
        "$not_contain": lambda value: not (isinstance(value, str) and text in value),
    }
    test = tests[op]
    return lambda r, _now: test(r.data.get(field))


def _date_condition(op: str, operand: Any) -> Condition:
    if op in ("$has_value", "$is_unknown"):
        want = op == "$has_value"
        return lambda _r, _now: want
    if op in ("$more_than", "$less_than"):
        try:
            days = int(operand)
        except (TypeError, ValueError):
            raise FilterError(f"filters.created_at.conditions.{op} must be an integer") from None
        if op == "$more_than":
            return lambda r, now: r.created_at < now - days * _DAY_MS
        return lambda r, now: r.created_at > now - days * _DAY_MS
    if not isinstance(operand, str):
        raise FilterError(f"filters.created_at.conditions.{op} must be an ISO 8601 date-time")
    try:
        moment = parse_datetime_ms(operand)
    except ValueError:
        raise FilterError(
            f"filters.created_at.conditions.{op} cannot be recognized as an ISO-8601 date"
        ) from None
    if op == "$after":
        return lambda r, _now: r.created_at > moment
    return lambda r, _now: r.created_at < moment


@dataclass
class RedeemableFilter:
    """The parsed ``filters`` deep object: conditions joined by ``junction``.

    Conditions on one field and on different fields are all joined by the same
    junction (``and`` by default).

    Example: ``RedeemableFilter.parse({"holder_role": {"conditions": {"$in": ["OWNER"]}}})``.
    """

    conditions: list[Condition]
    junction: str = "and"

    @classmethod
    def parse(cls, filters: Mapping[str, Any]) -> RedeemableFilter:
        """Build from the nested dict of ``filters[...]`` query parameters."""
        conditions: list[Condition] = []
        junction = "and"
        for field, spec in filters.items():
            if field == "junction":
                if not isinstance(spec, str) or spec.lower() not in ("and", "or"):
                    raise FilterError("filters.junction must be one of: and, or")
                junction = spec.lower()
                continue
            if field not in STRING_FIELDS and field != "created_at":
                raise FilterError(f"filters.{field} is not a supported filter")
            if not isinstance(spec, dict) or set(spec) != {"conditions"}:
                raise FilterError(f"filters.{field} must be given as filters[{field}][conditions]")
            ops = spec["conditions"]
            if not isinstance(ops, dict) or not ops:
                raise FilterError(f"filters.{field}.conditions must name an operator")
            allowed = _DATE_OPS if field == "created_at" else _STRING_OPS
            for op, operand in ops.items():
                if op not in allowed:
                    raise FilterError(
                        f"filters.{field}.conditions.{op} is not a supported operator"
                    )
                if field == "created_at":
                    conditions.append(_date_condition(op, operand))
                else:
                    conditions.append(_string_condition(field, op, operand))
        return cls(conditions=conditions, junction=junction)

    def matches(self, redeemable: Redeemable, now: int) -> bool:
        """Tell whether ``redeemable`` passes (no conditions pass everything)."""
        if not self.conditions:
            return True
        if self.junction == "or":
            return any(condition(redeemable, now) for condition in self.conditions)
        return all(condition(redeemable, now) for condition in self.conditions)


def build_redeemable(
    spec: Mapping[str, Any], *, customer_id: str, ids: IdFactory, now: int
) -> Redeemable:
    """Make a ``CustomerRedeemable`` from a seed spec; every field is optional.

    Accepted keys: ``id``, ``created_at``, ``redeemable_id``, ``holder_role``,
    ``campaign_id``, ``campaign_type``, ``campaign`` (name), ``voucher_type``, ``code``,
    ``status``, ``metadata``, and ``voucher`` (keys merged over the generated voucher).
    Raises ``ValueError`` on an unknown key or a malformed value (naming the key).

    Example: ``build_redeemable({"holder_role": "REFERRER"}, customer_id=c, ids=ids, now=t)``.
    """
    unknown = [key for key in spec if key not in REDEEMABLE_FIELDS]
    if unknown:
        raise ValueError(
            f"{unknown[0]}: unknown field; the fields are {', '.join(REDEEMABLE_FIELDS)}"
        )
    created_raw = spec.get("created_at")
    created_at = now
    if created_raw is not None:
        try:
            if not isinstance(created_raw, str):
                raise ValueError
            created_at = parse_datetime_ms(created_raw)
        except ValueError:
            raise ValueError(
                f"created_at: must be an ISO 8601 date-time, got {shown(created_raw)}"
            ) from None
    rid = _text(spec, "id") or ids.hex("rh_")
    voucher_type = _text(spec, "voucher_type") or "DISCOUNT_VOUCHER"
    campaign_type = _text(spec, "campaign_type") or (
        {"GIFT_VOUCHER": "GIFT_VOUCHERS", "LOYALTY_CARD": "LOYALTY_PROGRAM"}.get(
            voucher_type, "DISCOUNT_COUPONS"
        )
    )
    holder_role = _text(spec, "holder_role") or "OWNER"
    campaign_id = _text(spec, "campaign_id") or ids.alnum("camp_")
    code = _text(spec, "code") or alnum_ids("", 1, 8)[0]
    voucher_id = _text(spec, "redeemable_id") or ids.alnum("v_", 32)
    metadata = spec.get("metadata", {})
    if not isinstance(metadata, dict):
        raise ValueError(f"metadata: must be an object, got {shown(metadata)}")
    stamp = format_ms(created_at)
    voucher: dict[str, Any] = {
        "id": voucher_id,
        "code": code,
        "campaign": _text(spec, "campaign") or f"Campaign {campaign_id[-6:]}",
        "campaign_id": campaign_id,
        "category": None,
        "categories": [],
        "type": voucher_type,
        "active": True,
        "metadata": metadata,
        "is_referral_code": campaign_type == "REFERRAL_PROGRAM",
        "created_at": stamp,
        "updated_at": stamp,
        "holder_id": customer_id,
        "redemption": {
            "redeemed_quantity": 0,
            "object": "list",
            "url": f"/v1/vouchers/{code}/redemptions?page=1&limit=10",
        },
        "publish": {
            "object": "list",
            "count": 1,
            "url": f"/v1/vouchers/{code}/publications?page=1&limit=10",
        },
        "object": "voucher",
    }
    if voucher_type == "GIFT_VOUCHER":
        voucher["gift"] = {"amount": 10000, "subtracted_amount": 0, "balance": 10000}
    elif voucher_type == "LOYALTY_CARD":
        voucher["loyalty_card"] = {"points": 1000, "balance": 1000}
    else:
        voucher["discount"] = {"type": "AMOUNT", "amount_off": 1000}
    if holder_role == "REFERRER":
        voucher["referrer_id"] = customer_id
    extra = spec.get("voucher")
    if extra is not None:
        if not isinstance(extra, dict):
            raise ValueError(f"voucher: must be an object, got {shown(extra)}")
        voucher.update(extra)
    data: dict[str, Any] = {
        "id": rid,
        "created_at": stamp,
        "redeemable_id": voucher_id,
        "redeemable_object": "voucher",
        "customer_id": customer_id,
        "holder_role": holder_role,
        "campaign_id": campaign_id,
        "campaign_type": campaign_type,
        "voucher_type": voucher_type,
        "redeemable": {
            "type": "voucher",
            "voucher": voucher,
            "status": _text(spec, "status") or "ACTIVE",
        },
    }
    return Redeemable(id=rid, created_at=created_at, data=data)


def _text(spec: Mapping[str, Any], key: str) -> str | None:
    value = spec.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ValueError(f"{key}: must be a non-empty string, got {shown(value)}")
    return value


class Redeemables:
    """Every customer's redeemables, keyed by customer id and sorted by redeemable id.

    Example: ``list(redeemables.iterate("cust_...", descending=True))``.
    """

    __slots__ = ("_by_customer",)

    def __init__(self) -> None:
        self._by_customer: dict[str, list[Redeemable]] = {}

    def clear(self) -> None:
        """Forget every redeemable."""
        self._by_customer.clear()

    def add(self, customer_id: str, redeemable: Redeemable) -> None:
        """Give ``customer_id`` one more redeemable (replacing one with the same id)."""
        held = self._by_customer.setdefault(customer_id, [])
        position = bisect_left(held, redeemable.id, key=_rh_id)
        if position < len(held) and held[position].id == redeemable.id:
            held[position] = redeemable
        else:
            insort(held, redeemable, key=_rh_id)

    def remove(self, customer_id: str) -> int:
        """Drop all of a customer's redeemables; return how many there were."""
        return len(self._by_customer.pop(customer_id, ()))

    def iterate(
        self,
        customer_id: str,
        *,
        descending: bool,
        after_id: str | None = None,
        keep: RedeemableFilter | None = None,
    ) -> Iterator[Redeemable]:
        """Yield the customer's redeemables by id, past ``after_id``, that ``keep`` passes."""
        held = self._by_customer.get(customer_id, [])
        now = now_ms()
        if descending:
            stop = len(held) if after_id is None else bisect_left(held, after_id, key=_rh_id)
            positions: range = range(stop - 1, -1, -1)
        else:
            start = 0 if after_id is None else bisect_right(held, after_id, key=_rh_id)
            positions = range(start, len(held))
        for position in positions:
            redeemable = held[position]
            if keep is None or keep.matches(redeemable, now):
                yield redeemable
