"""The API resources a client exposes: ``vf.customers`` and ``vf.async_actions``."""

from .async_actions import AsyncActions
from .customers import Customers

__all__ = ["AsyncActions", "Customers"]
