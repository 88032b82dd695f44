"""Split the bodies of the bulk endpoints into requests under the API's 10 MB limit.

Pure functions over already-encoded items, so the decision of what goes in which request is
tested without a network. The bodies they describe are exactly what msgspec would encode for
the same lists: ``[a,b,c]`` with no spaces.
"""

from __future__ import annotations

from collections.abc import Sequence

from .._exceptions import ChunkTooLargeError

__all__ = ["BULK_BODY_LIMIT", "ChunkTooLargeError", "chunk_ranges", "json_array"]

#: The API's limit on the body of the bulk and CSV endpoints, in bytes (10 MB).
BULK_BODY_LIMIT = 10 * 1024 * 1024


def chunk_ranges(
    sizes: Sequence[int],
    *,
    budget: int,
    separator: int = 1,
    max_items: int | None = None,
) -> list[range]:
    """Group consecutive items into as few requests as fit, in order.

    Args:
        sizes: the encoded size of each item, in bytes.
        budget: the bytes available for the items in one request (the limit minus the
            body's fixed envelope, e.g. 2 for the brackets of a JSON array).
        separator: bytes between two items (1 for the comma of a JSON array).
        max_items: the most items in one request (``None``: only the bytes limit).

    Returns:
        Index ranges that cover ``range(len(sizes))`` in order; a request's items plus their
        separators take at most ``budget`` bytes.

    Raises:
        ChunkTooLargeError: an item is larger than ``budget`` on its own.

    Examples:
        ```python
        chunk_ranges([4, 4, 4], budget=9)
        # [range(0, 2), range(2, 3)]
        ```
    """
    ranges: list[range] = []
    start = 0
    used = 0
    for index, size in enumerate(sizes):
        if size > budget:
            raise ChunkTooLargeError(index, size, budget)
        count = index - start
        cost = size if count == 0 else used + separator + size
        if count and (cost > budget or (max_items is not None and count >= max_items)):
            ranges.append(range(start, index))
            start, used = index, size
        else:
            used = cost
    if start < len(sizes):
        ranges.append(range(start, len(sizes)))
    return ranges


def json_array(encoded: Sequence[bytes]) -> bytes:
    """The JSON array of already-encoded items, as msgspec would write it."""
    return b"[" + b",".join(encoded) + b"]"
