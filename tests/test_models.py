"""The models against the vendor's spec: every response example decodes, faithfully.

The examples are walked from the OpenAPI files themselves, and every operation and status that
has a JSON example must be in :data:`TABLE`, so a new example in the spec cannot be skipped.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import msgspec
import pytest
from aioresponses import aioresponses

from tests.conftest import BASE, url
from voucherify_async import (
    AsyncJob,
    AsyncVoucherify,
    BadRequestError,
    CustomerBulkUpdate,
    CustomerCreate,
    CustomerUpdate,
    NotFoundError,
    PayloadTooLargeError,
    models,
)
from voucherify_async._core.ratelimit import RateLimit
from voucherify_async._exceptions import APIStatusError, make_status_error

# The reduced copy of the vendor's OpenAPI files committed with the project (spec/README.md).
SPEC_DIR = Path(__file__).resolve().parents[1] / "spec"
SPEC_FILES = ("customers.json", "async-actions.json")
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
UTC = timezone.utc

# What each documented answer becomes: a model for 2xx, the exception class for errors.
TABLE: dict[tuple[str, str, int], type[Any]] = {
    ("GET", "/v1/customers", 200): models.CustomerList,
    ("POST", "/v1/customers", 200): models.Customer,
    ("GET", "/v1/customers/{customerId}", 200): models.Customer,
    ("GET", "/v1/customers/{customerId}", 404): NotFoundError,
    ("PUT", "/v1/customers/{customerId}", 200): models.Customer,
    ("PUT", "/v1/customers/{customerId}", 404): NotFoundError,
    ("DELETE", "/v1/customers/{customerId}", 404): NotFoundError,
    (
        "POST",
        "/v1/customers/{customerId}/permanent-deletion",
        200,
    ): models.CustomerPermanentDeletion,
    ("POST", "/v1/customers/{customerId}/permanent-deletion", 404): NotFoundError,
    ("POST", "/v1/customers/importCSV", 202): models.AsyncActionCreated,
    ("POST", "/v1/customers/bulk/async", 202): models.AsyncActionCreated,
    ("POST", "/v1/customers/bulk/async", 413): PayloadTooLargeError,
    ("POST", "/v1/customers/metadata/async", 202): models.AsyncActionCreated,
    ("POST", "/v1/customers/metadata/async", 413): PayloadTooLargeError,
    ("GET", "/v1/customers/{customerId}/activity", 200): models.CustomerActivityList,
    ("GET", "/v1/customers/{customerId}/activity", 404): NotFoundError,
    ("GET", "/v1/customers/{customerId}/activities", 200): models.CustomerActivitiesList,
    ("GET", "/v1/customers/{customerId}/segments", 200): models.CustomerSegmentList,
    ("GET", "/v1/customers/{customerId}/redeemables", 200): models.CustomerRedeemableList,
    ("GET", "/v1/customers/{customerId}/redeemables", 404): NotFoundError,
    ("GET", "/v1/async-actions", 200): models.AsyncActionList,
    ("GET", "/v1/async-actions", 400): BadRequestError,
    ("GET", "/v1/async-actions/{asyncActionId}", 200): models.AsyncAction,
    ("GET", "/v1/async-actions/{asyncActionId}", 404): NotFoundError,
}


@dataclass(frozen=True)
class Example:
    file: str
    method: str
    path: str
    status: int
    name: str
    value: Any

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.method, self.path, self.status)

    @property
    def id(self) -> str:
        return f"{self.method} {self.path} {self.status} {self.name}"


def _load(name: str) -> dict[str, Any]:
    with (SPEC_DIR / name).open(encoding="utf-8") as handle:
        spec: dict[str, Any] = json.load(handle)
    return spec


def _resolve(spec: dict[str, Any], node: Any) -> Any:
    """Follow a local ``$ref`` (``#/components/examples/...``), if the node is one."""
    while isinstance(node, dict) and "$ref" in node:
        target: Any = spec
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _responses(spec: dict[str, Any]) -> Iterator[tuple[str, str, int, dict[str, Any]]]:
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method not in METHODS:
                continue
            for status, response in operation.get("responses", {}).items():
                if status.isdigit():
                    yield method.upper(), path, int(status), _resolve(spec, response)


def _walk_examples() -> list[Example]:
    found = []
    for file in SPEC_FILES:
        spec = _load(file)
        for method, path, status, response in _responses(spec):
            media = response.get("content", {}).get("application/json") or {}
            named = dict(media.get("examples") or {})
            if "example" in media:
                named["example"] = {"value": media["example"]}
            for name, example in named.items():
                example = _resolve(spec, example)
                assert "value" in example, f"{method} {path} {status} {name}: no value"
                found.append(Example(file, method, path, status, name, example["value"]))
    return found


# A missing file fails the collection of this module: never a silent skip.
EXAMPLES = _walk_examples()


def _example_params() -> list[Any]:
    return [pytest.param(example, id=example.id) for example in EXAMPLES]


def _example(method: str, path: str, status: int, name: str | None = None) -> Any:
    for example in EXAMPLES:
        if example.key == (method, path, status) and name in (None, example.name):
            return example.value
    raise AssertionError(f"the spec has no example {method} {path} {status} {name}")


def _decode(value: Any, model: type[Any]) -> Any:
    return msgspec.json.decode(msgspec.json.encode(value), type=model)


# --- the table against the spec ------------------------------------------------------------


def test_spec_has_examples_to_walk() -> None:
    files = {example.file for example in EXAMPLES}
    assert files == set(SPEC_FILES)
    assert len(EXAMPLES) >= 30


def test_table_covers_every_spec_response_with_a_json_example() -> None:
    missing = sorted({example.key for example in EXAMPLES} - TABLE.keys())
    assert not missing, f"spec examples with no model or error in TABLE: {missing}"


def test_table_names_only_documented_responses() -> None:
    documented = {
        (method, path, status)
        for file in SPEC_FILES
        for method, path, status, _ in _responses(_load(file))
    }
    stale = sorted(TABLE.keys() - documented)
    assert not stale, f"TABLE entries the spec does not document: {stale}"


# --- every example ------------------------------------------------------------------------


def _parse_instant(text: str) -> datetime:
    match = re.fullmatch(r"(.+?)(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})", text)
    assert match, f"not an ISO 8601 date-time: {text!r}"
    base, fraction, zone = match.groups()
    parsed = datetime.fromisoformat(base + ("+00:00" if zone == "Z" else zone))
    micros = int((fraction or "0").ljust(6, "0")[:6])
    return parsed.replace(microsecond=micros)


def _assert_faithful(decoded: Any, raw: Any, where: str) -> None:
    """Every field of ``raw`` lands in ``decoded`` with the same meaning; datetimes are aware."""
    if isinstance(decoded, msgspec.Struct):
        assert isinstance(raw, dict), where
        fields = set(decoded.__struct_fields__)
        dropped = sorted(set(raw) - fields)
        assert not dropped, f"{where}: fields of the example the model drops: {dropped}"
        for key, value in raw.items():
            _assert_faithful(getattr(decoded, key), value, f"{where}.{key}")
    elif isinstance(decoded, datetime):
        assert decoded.tzinfo is not None, f"{where}: naive datetime"
        assert decoded == _parse_instant(raw), where
    elif isinstance(decoded, date):
        assert decoded == date.fromisoformat(raw), where
    elif isinstance(decoded, dict):
        assert isinstance(raw, dict) and decoded.keys() == raw.keys(), where
        for key, value in raw.items():
            _assert_faithful(decoded[key], value, f"{where}[{key!r}]")
    elif isinstance(decoded, list):
        assert isinstance(raw, list) and len(decoded) == len(raw), where
        for index, (item, value) in enumerate(zip(decoded, raw, strict=True)):
            _assert_faithful(item, value, f"{where}[{index}]")
    else:
        assert decoded == raw and type(decoded) is type(raw), f"{where}: {decoded!r} != {raw!r}"


@pytest.mark.parametrize("example", _example_params())
def test_spec_example_decodes(example: Example) -> None:
    expected = TABLE.get(example.key)
    if expected is None:
        pytest.fail(f"{example.id}: not in TABLE; add the model or error this answer becomes")
    body = msgspec.json.encode(example.value)
    if 200 <= example.status < 300:
        decoded = msgspec.json.decode(body, type=expected)
        assert type(decoded) is expected
        _assert_faithful(decoded, example.value, expected.__name__)
        return
    error = make_status_error(
        example.status,
        body,
        {"Content-Type": "application/json"},
        RateLimit(),
        method=example.method,
        url=BASE + example.path,
    )
    value = example.value
    assert type(error) is expected and isinstance(error, APIStatusError)
    assert error.status == example.status
    assert error.code == value.get("code", value.get("statusCode"))
    assert error.key == value.get("key", value.get("error"))
    assert error.message == value["message"]
    assert error.details == value.get("details")
    assert error.request_id == value.get("request_id")
    assert error.resource_id == value.get("resource_id")
    assert error.resource_type == value.get("resource_type")
    assert error.body == value
    assert value["message"] in str(error)


# --- the SDK hands back those models -------------------------------------------------------

Call = Callable[[AsyncVoucherify], Awaitable[Any]]


async def _list_activities(vf: AsyncVoucherify) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        pager = vf.customers.list_activities("cust_1")
    return await pager


# (method, spec path) -> (concrete path, the SDK call that answers it)
async def _as_created(job: Awaitable[AsyncJob]) -> models.AsyncActionCreated:
    """The bulk and CSV methods return a job; its one action id is the 202 answer's body."""
    return models.AsyncActionCreated(async_action_id=(await job).async_action_id)


SDK_CALLS: dict[tuple[str, str], tuple[str, Call]] = {
    ("GET", "/v1/customers"): ("/v1/customers", lambda vf: vf.customers.list()),
    ("POST", "/v1/customers"): (
        "/v1/customers",
        lambda vf: vf.customers.create(source_id="source_123"),
    ),
    ("GET", "/v1/customers/{customerId}"): (
        "/v1/customers/cust_1",
        lambda vf: vf.customers.get("cust_1"),
    ),
    ("PUT", "/v1/customers/{customerId}"): (
        "/v1/customers/cust_1",
        lambda vf: vf.customers.update("cust_1", name="Alice"),
    ),
    ("DELETE", "/v1/customers/{customerId}"): (
        "/v1/customers/cust_1",
        lambda vf: vf.customers.delete("cust_1"),
    ),
    ("POST", "/v1/customers/{customerId}/permanent-deletion"): (
        "/v1/customers/cust_1/permanent-deletion",
        lambda vf: vf.customers.delete_permanently("cust_1"),
    ),
    ("POST", "/v1/customers/importCSV"): (
        "/v1/customers/importCSV",
        lambda vf: _as_created(vf.customers.import_csv(b"Source_id\nbob\n")),
    ),
    ("POST", "/v1/customers/bulk/async"): (
        "/v1/customers/bulk/async",
        lambda vf: _as_created(vf.customers.update_in_bulk([{"source_id": "bob"}])),
    ),
    ("POST", "/v1/customers/metadata/async"): (
        "/v1/customers/metadata/async",
        lambda vf: _as_created(vf.customers.update_metadata_in_bulk(["bob"], {"tier": "gold"})),
    ),
    ("GET", "/v1/customers/{customerId}/activity"): (
        "/v1/customers/cust_1/activity",
        lambda vf: vf.customers.list_activity("cust_1"),
    ),
    ("GET", "/v1/customers/{customerId}/activities"): (
        "/v1/customers/cust_1/activities",
        _list_activities,
    ),
    ("GET", "/v1/customers/{customerId}/segments"): (
        "/v1/customers/cust_1/segments",
        lambda vf: vf.customers.list_segments("cust_1"),
    ),
    ("GET", "/v1/customers/{customerId}/redeemables"): (
        "/v1/customers/cust_1/redeemables",
        lambda vf: vf.customers.list_redeemables("cust_1"),
    ),
    ("GET", "/v1/async-actions"): ("/v1/async-actions", lambda vf: vf.async_actions.list()),
    ("GET", "/v1/async-actions/{asyncActionId}"): (
        "/v1/async-actions/aa_1",
        lambda vf: vf.async_actions.get("aa_1"),
    ),
}


def test_every_table_operation_has_an_sdk_call() -> None:
    assert {(method, path) for method, path, _ in TABLE} == SDK_CALLS.keys()


@pytest.mark.parametrize("example", _example_params())
async def test_sdk_answers_spec_example_with_the_tabled_type(
    example: Example, vf: AsyncVoucherify, api: aioresponses
) -> None:
    expected = TABLE[example.key]
    concrete, call = SDK_CALLS[(example.method, example.path)]
    api.add(
        url(concrete),
        example.method,
        status=example.status,
        body=msgspec.json.encode(example.value),
        content_type="application/json",
    )
    if 200 <= example.status < 300:
        result = await call(vf)
        assert type(result) is expected
        assert result == _decode(example.value, expected)
    else:
        with pytest.raises(expected) as info:
            await call(vf)
        assert info.value.status == example.status
        assert info.value.message == example.value["message"]
    assert len(api.requests) == 1


# --- spot checks of decoded values ----------------------------------------------------------


def test_customer_list_example_values() -> None:
    page = _decode(_example("GET", "/v1/customers", 200), models.CustomerList)
    assert page.total == 2 and page.has_more is None and len(page.customers) == 2
    bob = page.customers[0]
    assert bob.id == "cust_CSnYd37MXmrbS19XCrghjBsv" and bob.source_id == "source_123"
    assert bob.created_at == datetime(2022, 8, 30, 6, 32, 7, 380000, tzinfo=UTC)
    assert bob.created_at.tzinfo is not None and bob.created_at.utcoffset().total_seconds() == 0
    assert type(bob.birthdate) is date and bob.birthdate == date(2022, 1, 1)
    assert bob.address == models.Address(
        city="New York",
        state="NY",
        line_1="123 Main St.",
        line_2="APT 3 BLG 5",
        country="United States",
        postal_code="10001",
    )
    assert bob.summary.redemptions.total_redeemed == 1
    assert bob.summary.redemptions.loyalty_card.points_to_go == 4200
    assert bob.summary.orders.last_order_date == datetime(2022, 8, 30, 10, 17, 39, 220000, UTC)
    assert bob.loyalty.points == 2200
    assert bob.loyalty.campaigns["Christmas Campaign"].points == 1000
    assert set(bob.loyalty.campaigns) == {
        "Christmas Campaign",
        "Fall Campaign",
        "Winter Campaign",
        "Summer Campaign",
        "Spring Campaign",
    }
    referral = bob.referrals.campaigns[0]
    assert referral.referrer_id == "cust_sehkNIi8Uq2qQuRqSr7xn4Zi"
    assert referral.date == datetime(2022, 8, 30, 10, 17, 41, 89000, tzinfo=UTC)
    assert bob.metadata == {"lang": "en", "test": True}


def test_customer_get_example_has_null_address_and_assets() -> None:
    alice = _decode(_example("GET", "/v1/customers/{customerId}", 200), models.Customer)
    assert alice.address is None
    assert alice.assets.cockpit_url == "{{internalVoucherifyURL}}"
    assert alice.summary.orders.average_amount == 101950
    assert alice.birthdate is None and alice.metadata == {}


def test_customer_update_example_birthday_and_birthdate_are_dates() -> None:
    alice = _decode(_example("PUT", "/v1/customers/{customerId}", 200), models.Customer)
    assert alice.birthday == date(2022, 1, 2) and type(alice.birthday) is date
    assert alice.birthdate == date(2022, 1, 1)
    assert alice.updated_at == datetime(2022, 8, 31, 9, 58, 30, 475000, tzinfo=UTC)


def test_permanent_deletion_example_values() -> None:
    value = _example("POST", "/v1/customers/{customerId}/permanent-deletion", 200)
    deletion = _decode(value, models.CustomerPermanentDeletion)
    assert deletion.status == "DONE" and deletion.object == "pernament_deletion"
    assert deletion.data_json == models.PermanentDeletionStats(
        events=16,
        customer_events=28,
        daily_events=0,
        segments=0,
        orders=9,
        order_events=5,
        customer=1,
    )
    assert deletion.created_at == datetime(2022, 9, 2, 17, 50, 29, 302000, tzinfo=UTC)


def test_redeemables_example_voucher_fields() -> None:
    value = _example("GET", "/v1/customers/{customerId}/redeemables", 200)
    page = _decode(value, models.CustomerRedeemableList)
    assert page.has_more is False and page.total == 2
    owner, referrer = page.data
    assert (owner.holder_role, referrer.holder_role) == ("OWNER", "REFERRER")
    assert owner.redeemable.status == "ACTIVE" and owner.redeemable.type == "voucher"
    voucher = owner.redeemable.voucher
    assert voucher.code == "3xRUnMVG" and voucher.type == "DISCOUNT_VOUCHER"
    assert voucher.discount == {"type": "AMOUNT", "amount_off": 1000}
    assert voucher.gift is None and voucher.loyalty_card is None and voucher.category is None
    assert voucher.active is True and voucher.is_referral_code is False
    # "+00:00" offsets and 2- or 6-digit fractions decode to aware datetimes.
    assert voucher.created_at == datetime(2024, 3, 22, 17, 48, 18, 570000, tzinfo=UTC)
    assert voucher.updated_at == datetime(2024, 3, 22, 17, 48, 25, 910974, tzinfo=UTC)
    assert voucher.redemption.quantity is None and voucher.redemption.redeemed_quantity == 0
    assert voucher.publish.count == 1
    assert voucher.assets["qr"]["id"] == "fa250fcd-8d51-41e7-9dda-9288ce2799a7"


def test_segments_example_values() -> None:
    value = _example("GET", "/v1/customers/{customerId}/segments", 200)
    segments = _decode(value, models.CustomerSegmentList)
    assert segments.total == 5 and len(segments.data) == 5
    assert segments.data[0] == models.Segment(
        id="seg_DNAOhUtJffvX0f57ajLMFBYR", name="area code not 123"
    )


def test_async_action_import_csv_example_failed_rows() -> None:
    value = _example("GET", "/v1/async-actions/{asyncActionId}", 200, "CUSTOMERS.IMPORT_CSV")
    action = _decode(value, models.AsyncAction)
    assert action.type == "CUSTOMERS.IMPORT_CSV" and action.is_final
    assert action.result.done_count == 0 and action.result.failed_count == 2
    first, second = action.result.failed
    assert (first.source_id, first.row) == ("test-user@voucherify.io", 1)
    assert first.reason.startswith("acquisition_channel: must be a string")
    assert (second.source_id, second.row) == ("", 2)
    assert action.processing_time == 130 and action.progress == 100


def test_async_action_bulk_update_example_reports_and_errors() -> None:
    value = _example("GET", "/v1/async-actions/{asyncActionId}", 200, "CUSTOMERS.BULK_UPDATE")
    action = _decode(value, models.AsyncAction)
    assert action.operation_status == "SUCCESS"
    assert action.result.errors == [] and action.result.reports == ["{{voucherify-link-to-report}}"]
    assert action.result.reports_available_till == datetime(
        2024, 11, 6, 8, 26, 13, 304000, tzinfo=UTC
    )


def test_async_action_list_example_values() -> None:
    page = _decode(_example("GET", "/v1/async-actions", 200), models.AsyncActionList)
    assert [action.type for action in page.async_actions] == [
        "CUSTOMERS.BULK_UPDATE",
        "CUSTOMERS.METADATA_UPDATE",
    ]
    assert page.async_actions[0].created_at == datetime(2022, 9, 5, 11, 40, 17, 98000, UTC)


def test_async_action_result_error_rows_decode() -> None:
    action = _decode(
        {
            "id": "aa_1",
            "type": "CUSTOMERS.BULK_UPDATE",
            "status": "DONE",
            "operation_status": "FAILED",
            "result": {
                "done_count": 1,
                "failed_count": 1,
                "reports": [],
                "reports_available_till": "2024-11-06T08:26:13.304Z",
                "errors": [
                    {
                        "message": "Invalid customer",
                        "details": "email: must be an email",
                        "key": "invalid_customer",
                        "source_id": "bob",
                    }
                ],
            },
        },
        models.AsyncAction,
    )
    assert action.result.errors == [
        models.AsyncActionErrorDetail(
            message="Invalid customer",
            details="email: must be an email",
            key="invalid_customer",
            source_id="bob",
        )
    ]


def test_activity_list_decodes_per_schema() -> None:
    # The spec has no example for /activity; this body follows its schema.
    page = _decode(
        {
            "object": "list",
            "data_ref": "data",
            "has_more": True,
            "more_starting_after": "evcus_2",
            "data": [
                {
                    "id": "evcus_1",
                    "type": "customer.created",
                    "group_id": "v-1",
                    "created_at": "2024-01-02T03:04:05.678Z",
                    "data": {
                        "data": {"customer": {"id": "cust_1", "name": "Bob"}},
                        "event_source": {
                            "channel": "API",
                            "api_key": {"name": "key", "app_id": "app"},
                            "user": {"id": "user_1"},
                        },
                    },
                }
            ],
        },
        models.CustomerActivityList,
    )
    assert page.has_more is True and page.more_starting_after == "evcus_2"
    event = page.data[0]
    assert event.created_at == datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    assert event.data.event_source.api_key.app_id == "app"
    assert event.data.event_source.user.id == "user_1"
    # The event's own payload, whose shape depends on the type, is kept as JSON.
    assert event.data.data == {"customer": {"id": "cust_1", "name": "Bob"}}


# --- robustness ------------------------------------------------------------------------------


def test_unknown_fields_are_ignored_at_every_level() -> None:
    customer = _decode(
        {
            "id": "cust_1",
            "brand_new": {"x": [1, 2]},
            "address": {"city": "Warsaw", "district": "Mokotów"},
            "summary": {"orders": {"total_count": 2, "currency": "PLN"}, "other": 1},
            "loyalty": {"points": 5, "campaigns": {"C": {"points": 5, "tier_name": "gold"}}},
        },
        models.Customer,
    )
    assert customer.id == "cust_1"
    assert customer.address == models.Address(city="Warsaw")
    assert customer.summary.orders.total_count == 2
    assert customer.loyalty.campaigns["C"].points == 5
    action = _decode(
        {"id": "aa_1", "future": True, "result": {"done_count": 1, "warnings": ["w"]}},
        models.AsyncAction,
    )
    assert action.result.done_count == 1


def test_enum_like_fields_accept_values_the_spec_does_not_list() -> None:
    action = _decode(
        {
            "id": "aa_1",
            "type": "LOYALTY.NEW_JOB",
            "status": "SOMETHING_NEW",
            "operation_status": "PARTIAL",
        },
        models.AsyncAction,
    )
    assert (action.type, action.status, action.operation_status) == (
        "LOYALTY.NEW_JOB",
        "SOMETHING_NEW",
        "PARTIAL",
    )
    assert not action.is_final
    held = _decode(
        {
            "id": "rh_1",
            "holder_role": "NEW_ROLE",
            "campaign_type": "NEW_CAMPAIGN",
            "voucher_type": "NEW_VOUCHER",
            "redeemable": {
                "type": "gift_card",
                "status": "PAUSED",
                "voucher": {"id": "v_1", "type": "NEW_VOUCHER"},
            },
        },
        models.CustomerRedeemable,
    )
    assert held.holder_role == "NEW_ROLE" and held.campaign_type == "NEW_CAMPAIGN"
    assert held.redeemable.status == "PAUSED" and held.redeemable.voucher.type == "NEW_VOUCHER"
    event = _decode({"id": "evcus_1", "type": "customer.teleported"}, models.CustomerActivity)
    assert event.type == "customer.teleported"
    deletion = _decode({"id": "del_1", "status": "QUEUED"}, models.CustomerPermanentDeletion)
    assert deletion.status == "QUEUED"


def test_nulls_where_the_spec_allows_them_decode() -> None:
    customer = _decode(
        {
            "id": "cust_1",
            "address": None,
            "summary": None,
            "loyalty": None,
            "referrals": None,
            "assets": None,
            "name": None,
            "birthdate": None,
            "created_at": "2022-02-07T08:28:23.644Z",
            "updated_at": None,
        },
        models.Customer,
    )
    assert customer.address is None and customer.summary is None and customer.loyalty is None
    assert customer.referrals is None and customer.updated_at is None
    held = _decode(
        {
            "id": "rh_1",
            "campaign_id": None,
            "campaign_type": None,
            "redeemable": {
                "voucher": {
                    "id": "v_1",
                    "category": None,
                    "active": None,
                    "is_referral_code": None,
                    "gift": None,
                    "loyalty_card": None,
                    "redemption": {"quantity": None},
                }
            },
        },
        models.CustomerRedeemable,
    )
    assert held.campaign_id is None and held.redeemable.voucher.redemption.quantity is None
    action = _decode({"id": "aa_1", "result": None}, models.AsyncAction)
    assert action.result is None


def test_required_ids_are_required() -> None:
    with pytest.raises(msgspec.ValidationError, match="id"):
        _decode({"source_id": "bob"}, models.Customer)
    with pytest.raises(msgspec.ValidationError, match="async_action_id"):
        _decode({}, models.AsyncActionCreated)


# --- request models --------------------------------------------------------------------------


def test_customer_update_sends_none_as_null_and_omits_what_was_not_given() -> None:
    assert msgspec.json.decode(msgspec.json.encode(CustomerUpdate(name=None))) == {"name": None}
    assert msgspec.json.encode(CustomerUpdate()) == b"{}"
    body = CustomerUpdate(
        email="bob@example.com",
        phone=None,
        birthdate=date(1990, 5, 17),
        # An `Address` read from a customer is accepted too; the field cannot say so, msgspec
        # allows one Struct type per union.
        address=models.Address(city="Warsaw"),  # type: ignore[arg-type]
        metadata={"tier": "gold"},
    )
    assert msgspec.json.decode(msgspec.json.encode(body)) == {
        "email": "bob@example.com",
        "phone": None,
        "birthdate": "1990-05-17",
        "address": {"city": "Warsaw"},
        "metadata": {"tier": "gold"},
    }
    assert body.to_dict() == msgspec.json.decode(msgspec.json.encode(body))


def test_customer_create_carries_the_ids() -> None:
    body = CustomerCreate(source_id="bob", id=None, name="Bob")
    assert msgspec.json.decode(msgspec.json.encode(body)) == {
        "source_id": "bob",
        "id": None,
        "name": "Bob",
    }


def test_customer_bulk_update_requires_source_id() -> None:
    with pytest.raises(TypeError, match="source_id"):
        CustomerBulkUpdate(name="Bob")  # type: ignore[call-arg]
    with pytest.raises(msgspec.ValidationError, match="source_id"):
        msgspec.convert({"name": "Bob"}, CustomerBulkUpdate)
    body = CustomerBulkUpdate(source_id="bob", email=None)
    assert msgspec.json.decode(msgspec.json.encode(body)) == {"source_id": "bob", "email": None}


def test_metadata_bulk_update_body() -> None:
    body = models.CustomerMetadataBulkUpdate(source_ids=["a", "b"], metadata={"tier": None})
    assert msgspec.json.decode(msgspec.json.encode(body)) == {
        "source_ids": ["a", "b"],
        "metadata": {"tier": None},
    }
