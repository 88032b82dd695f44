"""The base classes every model derives from."""

from __future__ import annotations

import msgspec

__all__ = ["Model", "RequestModel"]


class Model(msgspec.Struct, kw_only=True, omit_defaults=True, repr_omit_defaults=True):
    """Base of every response model.

    Unknown fields in a response are ignored, so a server that adds fields never breaks
    decoding; fields the API documents as enums are plain ``str`` (see the constants classes),
    so a new server value decodes too.
    """

    def to_dict(self) -> dict[str, object]:
        """Return the model as JSON-ready builtins (dicts, lists, strings, numbers)."""
        result = msgspec.to_builtins(self)
        assert isinstance(result, dict)
        return result


class RequestModel(
    msgspec.Struct,
    kw_only=True,
    omit_defaults=True,
    repr_omit_defaults=True,
    forbid_unknown_fields=True,
):
    """Base of every request body model.

    A field left at :data:`~voucherify_async.NOT_GIVEN` is omitted from the JSON; a field set
    to ``None`` is sent as ``null``. So an update changes only the fields the caller passed.
    Building one from a mapping with a misspelt field is an error, not a silent omission.
    """

    def to_dict(self) -> dict[str, object]:
        """Return the body as JSON-ready builtins, without the fields that were not given."""
        result = msgspec.to_builtins(self)
        assert isinstance(result, dict)
        return result
