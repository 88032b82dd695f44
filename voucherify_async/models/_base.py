"""The base classes every model derives from."""

from __future__ import annotations

import msgspec

__all__ = ["Model", "RequestModel"]


class Model(msgspec.Struct, kw_only=True, omit_defaults=True, repr_omit_defaults=True, gc=False):
    """Base of every response model.

    Unknown fields in a response are ignored, so a server that adds fields never breaks
    decoding; fields the API documents as enums are plain ``str`` (see the constants classes),
    so a new server value decodes too.

    Instances are not tracked by the garbage collector (``gc=False``): a page of customers
    or a ``get_many`` of thousands is many objects that every collection would otherwise
    walk (decoding a 100-customer page is ~20% faster, a 5,000-call ``get_many`` a few %).
    Decoded data never forms reference cycles, unless one is made by hand (say a model put
    inside its own ``metadata``), which would then never be freed.
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

    A field left at `NOT_GIVEN` is omitted from the JSON; a field set
    to ``None`` is sent as ``null``. So an update changes only the fields the caller passed.
    Building one from a mapping with a misspelt field is an error, not a silent omission.
    """

    def to_dict(self) -> dict[str, object]:
        """Return the body as JSON-ready builtins, without the fields that were not given."""
        result = msgspec.to_builtins(self)
        assert isinstance(result, dict)
        return result
