"""Checking and encoding what goes into a URL: path segments, datetimes, query strings."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from urllib.parse import parse_qsl, unquote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voucherify_async._core.query import (
    check_choice,
    check_int_range,
    check_str,
    deep_object,
    encode_query,
    format_datetime,
    params,
    path_segment,
)

# Only unreserved characters (RFC 3986) and percent escapes may appear in an encoded segment.
SAFE_SEGMENT = re.compile(r"(?:[A-Za-z0-9\-._~]|%[0-9A-F]{2})+")
UTC_MS = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")

UTC = timezone.utc
FAST = settings(max_examples=150, deadline=None, database=None)


# --- path_segment -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "encoded"),
    [
        ("a/b?c#d", "a%2Fb%3Fc%23d"),
        ("../x", "..%2Fx"),
        ("..", "%2E%2E"),
        (".", "%2E"),
        ("ząb 1", "z%C4%85b%201"),
        ("%2F", "%252F"),
        ("cust_CSnYd37MXmrbS19XCrghjBsv", "cust_CSnYd37MXmrbS19XCrghjBsv"),
        ("bob.smith@email.com", "bob.smith%40email.com"),
        ("a+b&c=d;e", "a%2Bb%26c%3Dd%3Be"),
        ("...", "..."),
    ],
)
def test_path_segment_encodes_one_segment(raw: str, encoded: str) -> None:
    result = path_segment(raw, "customer_id")
    assert result == encoded
    assert unquote(result) == raw
    assert SAFE_SEGMENT.fullmatch(result)


def test_path_segment_never_yields_a_dot_segment() -> None:
    # "." and ".." would be resolved away by URL normalisation along the way.
    for dots in (".", ".."):
        assert path_segment(dots, "customer_id") not in (".", "..")


@given(st.text(min_size=1))
@FAST
def test_path_segment_round_trips_any_text(text: str) -> None:
    result = path_segment(text, "customer_id")
    assert unquote(result, errors="strict") == text
    assert SAFE_SEGMENT.fullmatch(result), result
    assert result not in (".", "..")
    for structural in "/?#":
        assert structural not in result


def test_path_segment_rejects_empty_string_naming_the_parameter() -> None:
    with pytest.raises(ValueError, match="customer_id must be a non-empty string"):
        path_segment("", "customer_id")


@pytest.mark.parametrize("value", [None, 123, b"cust_1", ["a"]])
def test_path_segment_rejects_non_str_naming_the_parameter(value: object) -> None:
    with pytest.raises(TypeError, match=r"async_action_id must be a str, got"):
        path_segment(value, "async_action_id")


# --- format_datetime ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime(2023, 12, 22, 10, 13, 6, 487000, tzinfo=UTC), "2023-12-22T10:13:06.487Z"),
        # Microseconds are truncated, not rounded.
        (datetime(2023, 12, 22, 10, 13, 6, 487999, tzinfo=UTC), "2023-12-22T10:13:06.487Z"),
        (datetime(2023, 12, 22, 10, 13, 6, tzinfo=UTC), "2023-12-22T10:13:06.000Z"),
        # Other offsets are converted to UTC, across a day (and year) boundary.
        (
            datetime(2024, 1, 1, 1, 30, 0, 5000, tzinfo=timezone(timedelta(hours=2))),
            "2023-12-31T23:30:00.005Z",
        ),
        (
            datetime(2023, 12, 31, 20, 0, tzinfo=timezone(timedelta(hours=-5, minutes=-30))),
            "2024-01-01T01:30:00.000Z",
        ),
        # Years before 1000 keep four digits (strftime's %Y does not pad on every platform).
        (datetime(5, 1, 2, 3, 4, 5, tzinfo=timezone.utc), "0005-01-02T03:04:05.000Z"),
    ],
)
def test_format_datetime_gives_utc_milliseconds_z(value: datetime, expected: str) -> None:
    assert format_datetime(value, "created_at_before") == expected


def test_format_datetime_rejects_naive_naming_the_parameter() -> None:
    with pytest.raises(ValueError, match="start_date must be a timezone-aware datetime"):
        format_datetime(datetime(2024, 1, 1, 12, 0), "start_date")


@pytest.mark.parametrize("value", ["2024-01-01T00:00:00Z", 1704067200, date(2024, 1, 1), None])
def test_format_datetime_rejects_non_datetimes_naming_the_parameter(value: object) -> None:
    with pytest.raises(TypeError, match="end_date must be a timezone-aware datetime"):
        format_datetime(value, "end_date")


def test_format_datetime_out_of_range_after_utc_conversion_is_a_value_error() -> None:
    earliest = datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5)))
    with pytest.raises(ValueError, match="starting_after is out of range"):
        format_datetime(earliest, "starting_after")


offsets = st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)


@given(
    st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31), timezones=offsets)
)
@FAST
def test_format_datetime_keeps_the_instant_to_the_millisecond(value: datetime) -> None:
    text = format_datetime(value, "value")
    assert UTC_MS.fullmatch(text), text
    parsed = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    expected = value - timedelta(microseconds=value.microsecond % 1000)
    assert parsed == expected
    assert timedelta(0) <= value - parsed < timedelta(milliseconds=1)


# --- deep_object and params ---------------------------------------------------------------


def test_deep_object_flattens_nested_mappings_and_lists() -> None:
    filters = {
        "holder_role": {"conditions": {"$in": ["OWNER", "REFERRER"]}},
        "campaign_type": {"conditions": {"$is": "LOYALTY_PROGRAM"}},
        "junction": "and",
    }
    assert deep_object("filters", filters) == [
        ("filters[holder_role][conditions][$in][0]", "OWNER"),
        ("filters[holder_role][conditions][$in][1]", "REFERRER"),
        ("filters[campaign_type][conditions][$is]", "LOYALTY_PROGRAM"),
        ("filters[junction]", "and"),
    ]


def test_deep_object_formats_scalars_and_skips_none() -> None:
    after = datetime(2024, 3, 22, 19, 48, 25, 910974, tzinfo=timezone(timedelta(hours=2)))
    pairs = deep_object(
        "filters",
        {
            "created_at": {"conditions": {"$after": after, "$before": None}},
            "flag": {"true": True, "false": False},
            "count": 3,
            "ratio": 0.5,
            "day": date(2024, 1, 2),
            "gone": None,
            "tuple": ("a", None, "c"),
        },
    )
    assert pairs == [
        ("filters[created_at][conditions][$after]", "2024-03-22T17:48:25.910Z"),
        ("filters[flag][true]", "true"),
        ("filters[flag][false]", "false"),
        ("filters[count]", "3"),
        ("filters[ratio]", "0.5"),
        ("filters[day]", "2024-01-02"),
        ("filters[tuple][0]", "a"),
        ("filters[tuple][2]", "c"),
    ]


def test_deep_object_errors_name_the_parameter() -> None:
    with pytest.raises(TypeError, match="filters must be a mapping"):
        deep_object("filters", ["OWNER"])
    with pytest.raises(ValueError, match=r"filters\[created_at\]\[\$after\] must be .*aware"):
        deep_object("filters", {"created_at": {"$after": datetime(2024, 1, 1)}})
    with pytest.raises(TypeError, match=r"filters\[x\] has a value of unsupported type"):
        deep_object("filters", {"x": object()})
    with pytest.raises(TypeError, match=r"filters\[a\] keys must be str"):
        deep_object("filters", {"a": {1: "x"}})


def test_params_skips_none_and_names_the_callers_parameter() -> None:
    moment = datetime(2024, 1, 1, tzinfo=timezone.utc)
    assert params(
        [
            ("limit", "limit", 10),
            ("page", "page", None),
            ("created_at[before]", "created_at_before", moment),
        ]
    ) == [("limit", "10"), ("created_at[before]", "2024-01-01T00:00:00.000Z")]
    with pytest.raises(ValueError, match="created_at_before must be a timezone-aware") as info:
        params([("created_at[before]", "created_at_before", datetime(2024, 1, 1))])
    assert "created_at[before]" not in str(info.value)


# --- encode_query -------------------------------------------------------------------------


def test_encode_query_keeps_bracket_names_readable() -> None:
    query = [
        ("created_at[before]", "2023-12-22T10:13:06.487Z"),
        ("filters[holder_role][conditions][$in][0]", "OWNER"),
    ]
    assert encode_query(query) == (
        "created_at[before]=2023-12-22T10%3A13%3A06.487Z"
        "&filters[holder_role][conditions][$in][0]=OWNER"
    )


def test_encode_query_escapes_structure_in_values() -> None:
    encoded = encode_query([("email", "a+b@x.io"), ("name", "Bob & Co=1 #2?/")])
    assert encoded == "email=a%2Bb%40x.io&name=Bob%20%26%20Co%3D1%20%232%3F%2F"
    assert encode_query([]) == ""


@given(st.lists(st.tuples(st.text(), st.text()), max_size=6))
@FAST
def test_encode_query_round_trips_through_parse_qsl(query: list[tuple[str, str]]) -> None:
    encoded = encode_query(query)
    assert "#" not in encoded
    decoded = parse_qsl(encoded, keep_blank_values=True, strict_parsing=False, errors="strict")
    assert decoded == query


# --- checks -------------------------------------------------------------------------------


def test_check_int_range_accepts_the_bounds() -> None:
    assert check_int_range(1, "limit", 1, 100) == 1
    assert check_int_range(100, "limit", 1, 100) == 100


@pytest.mark.parametrize("value", [0, 101, -1])
def test_check_int_range_rejects_out_of_range_naming_the_parameter(value: int) -> None:
    with pytest.raises(ValueError, match=f"limit must be from 1 to 100, got {value}"):
        check_int_range(value, "limit", 1, 100)


@pytest.mark.parametrize("value", [True, False, 1.0, "5", None])
def test_check_int_range_rejects_non_ints_and_bools(value: object) -> None:
    with pytest.raises(TypeError, match="page must be an int from 1 to 99"):
        check_int_range(value, "page", 1, 99)


def test_check_choice_names_the_parameter_and_the_choices() -> None:
    allowed = ["-created_at", "created_at"]
    assert check_choice("created_at", "order", allowed) == "created_at"
    with pytest.raises(ValueError, match="order must be one of '-created_at', 'created_at'"):
        check_choice("updated_at", "order", allowed)


@pytest.mark.parametrize("value", [None, 1, ["created_at"], {"created_at": 1}])
def test_check_choice_rejects_non_strings_even_unhashable(value: object) -> None:
    with pytest.raises(ValueError, match="order must be one of"):
        check_choice(value, "order", frozenset({"created_at"}))


def test_check_str_names_the_parameter() -> None:
    assert check_str("Warsaw", "city") == "Warsaw"
    with pytest.raises(TypeError, match="city must be a str, got int"):
        check_str(5, "city")
