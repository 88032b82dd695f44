"""Checks a customer payload against ``CustomerBase`` and normalises it.

What is validated: strings are strings (or null), ``birthdate``/``birthday`` are real
``YYYY-MM-DD`` dates, ``email`` has the shape ``local@domain`` without spaces, ``address``
is an object (or null) whose known keys hold strings, ``metadata`` is an object (null
clears it). Unknown top-level fields are ignored, as the API does for forward-compatible
clients. Every problem names the field in the error's ``details``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ._models import ADDRESS_KEYS
from ._time import is_valid_date

__all__ = ["FieldError", "is_valid_email", "validate_customer_fields"]

_STRING_FIELDS = ("name", "description", "email", "phone")
_DATE_FIELDS = ("birthday", "birthdate")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


class FieldError(ValueError):
    """A customer field failed validation; ``str(error)`` names the field."""


def is_valid_email(value: str) -> bool:
    """Tell whether ``value`` looks like an email address (``local@domain``, no spaces).

    Example: ``is_valid_email("bob@example.com")`` is true, ``is_valid_email("bob")`` false.
    """
    return _EMAIL.match(value) is not None


def validate_customer_fields(
    body: Mapping[str, Any], *, with_source_id: bool = False
) -> dict[str, Any]:
    """Return the customer fields present in ``body``, validated and normalised.

    Only the keys present are returned (a PUT changes only those); a key sent as null
    maps to ``None`` and ``metadata: null`` to ``{}``. ``with_source_id`` also accepts a
    ``source_id`` string (POST and bulk bodies). Raises ``FieldError``.

    Example: ``validate_customer_fields({"name": "Bob", "address": None})`` ->
    ``{"name": "Bob", "address": None}``.
    """
    fields: dict[str, Any] = {}
    if with_source_id and "source_id" in body:
        source_id = body["source_id"]
        if source_id is not None:
            if not isinstance(source_id, str) or not source_id:
                raise FieldError("source_id: must be a non-empty string")
            fields["source_id"] = source_id
    for name in _STRING_FIELDS:
        if name in body:
            value = body[name]
            if value is not None and not isinstance(value, str):
                raise FieldError(f"{name}: must be a string")
            if name == "email" and value is not None and not is_valid_email(value):
                raise FieldError(
                    f"email: must be a valid email address (actual value is {value!r})"
                )
            fields[name] = value
    for name in _DATE_FIELDS:
        if name in body:
            value = body[name]
            if value is not None and (not isinstance(value, str) or not is_valid_date(value)):
                raise FieldError(f"{name}: must be a date in the YYYY-MM-DD format")
            fields[name] = value
    if "address" in body:
        fields["address"] = _validate_address(body["address"])
    if "metadata" in body:
        metadata = body["metadata"]
        if metadata is None:
            metadata = {}
        if not isinstance(metadata, dict):
            raise FieldError("metadata: must be an object")
        fields["metadata"] = dict(metadata)
    return fields


def _validate_address(address: Any) -> dict[str, Any] | None:
    if address is None:
        return None
    if not isinstance(address, dict):
        raise FieldError("address: must be an object or null")
    clean: dict[str, Any] = {}
    for key in ADDRESS_KEYS:
        if key in address:
            value = address[key]
            if value is not None and not isinstance(value, str):
                raise FieldError(f"address.{key}: must be a string")
            if value is not None:
                clean[key] = value
    return clean
