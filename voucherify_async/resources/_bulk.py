"""The bodies of the bulk update endpoints: items checked, encoded and cut under 10 MB.

Pure functions: each returns the requests' item ranges and a maker of their bodies, or
raises an error naming the item and the limit before anything is sent. The resource sends
them as async actions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import msgspec

from .._core.chunking import BULK_BODY_LIMIT, ChunkTooLargeError, chunk_ranges, json_array
from .._core.query import check_int_range, check_str
from ..models import CustomerBulkUpdate, CustomerMetadataBulkUpdate
from ._base import build_body

#: The requests of a bulk call: the item ranges, and the body of each range (made when sent).
BulkParts = tuple[list[range], Callable[[range], bytes]]

__all__ = ["BulkParts", "bulk_update_parts", "metadata_update_parts"]


def _check_batch_size(batch_size: int | None) -> None:
    if batch_size is not None:
        check_int_range(batch_size, "batch_size", 1, 10_000_000)


def bulk_update_parts(
    customers: Iterable[CustomerBulkUpdate | Mapping[str, Any]], batch_size: int | None
) -> BulkParts:
    """The requests of ``POST /v1/customers/bulk/async`` for these customer updates.

    Raises:
        TypeError: an item is not a customer update; the message names its index.
        ValueError: no customers, a bad ``batch_size``, or one customer alone over 10 MB.
    """
    if isinstance(customers, (str, bytes, Mapping)) or not isinstance(customers, Iterable):
        raise TypeError("update_in_bulk() customers must be an iterable of customer updates")
    _check_batch_size(batch_size)
    encoded: list[bytes] = []
    for index, item in enumerate(customers):
        if not isinstance(item, (CustomerBulkUpdate, Mapping)):
            raise TypeError(
                f"update_in_bulk() customers[{index}] must be a CustomerBulkUpdate or a"
                f" mapping, got {type(item).__name__}"
            )
        body = build_body(
            CustomerBulkUpdate, item, {}, method="update_in_bulk", argument=f"customers[{index}]"
        )
        encoded.append(msgspec.json.encode(body))
    if not encoded:
        raise ValueError("update_in_bulk() needs at least one customer")
    try:
        parts = chunk_ranges(
            [len(item) for item in encoded], budget=BULK_BODY_LIMIT - 2, max_items=batch_size
        )
    except ChunkTooLargeError as exc:
        raise ValueError(
            f"update_in_bulk() customers[{exc.index}] alone makes a body of"
            f" {exc.size + 2:,} bytes, over the API's limit of {BULK_BODY_LIMIT:,} bytes"
            " (10 MB)"
        ) from None
    return parts, lambda part: json_array(encoded[part.start : part.stop])


def metadata_update_parts(
    source_ids: Iterable[str], metadata: Mapping[str, Any], batch_size: int | None
) -> BulkParts:
    """The requests of ``POST /v1/customers/metadata/async`` setting ``metadata`` on these ids.

    Raises:
        TypeError, ValueError: bad ids (the message names the index), no ids, metadata
            that is not a mapping or alone over the 10 MB limit, a bad ``batch_size``.
    """
    if isinstance(source_ids, (str, bytes)) or not isinstance(source_ids, Iterable):
        raise TypeError("update_metadata_in_bulk() source_ids must be an iterable of str")
    ids = list(source_ids)
    for index, source_id in enumerate(ids):
        check_str(source_id, f"source_ids[{index}]")
    if not ids:
        raise ValueError("update_metadata_in_bulk() needs at least one source id")
    if not isinstance(metadata, Mapping):
        raise TypeError(
            f"update_metadata_in_bulk() metadata must be a mapping, got {type(metadata).__name__}"
        )
    _check_batch_size(batch_size)
    values = dict(metadata)
    envelope = len(msgspec.json.encode(CustomerMetadataBulkUpdate(source_ids=[], metadata=values)))
    if envelope > BULK_BODY_LIMIT:
        raise ValueError(
            f"update_metadata_in_bulk() metadata alone makes a body of {envelope:,} bytes,"
            f" over the API's limit of {BULK_BODY_LIMIT:,} bytes (10 MB)"
        )
    try:
        parts = chunk_ranges(
            [len(msgspec.json.encode(source_id)) for source_id in ids],
            budget=BULK_BODY_LIMIT - envelope,
            max_items=batch_size,
        )
    except ChunkTooLargeError as exc:
        raise ValueError(
            f"update_metadata_in_bulk() source_ids[{exc.index}] makes a body over the"
            f" API's limit of {BULK_BODY_LIMIT:,} bytes (10 MB)"
        ) from None
    return parts, lambda part: msgspec.json.encode(
        CustomerMetadataBulkUpdate(source_ids=ids[part.start : part.stop], metadata=values)
    )
