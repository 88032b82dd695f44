"""voucherify-async: an asyncio client for the Voucherify Customers API.

Examples:
    ```python
    from voucherify_async import AsyncVoucherify
    async with AsyncVoucherify(app_id="...", app_token="...") as vf:
        customer = await vf.customers.get("source-or-cust-id")
    ```
"""

from msgspec import UNSET as NOT_GIVEN
from msgspec import UnsetType as NotGiven

from . import models
from ._client import CLUSTERS, AsyncVoucherify
from ._core.csvio import CsvError, CsvHeaderError, CsvSizeError
from ._core.events import (
    ClientStats,
    PageEvent,
    RequestEvent,
    ResponseEvent,
    RetryEvent,
    WaitEvent,
)
from ._core.ratelimit import RateLimit
from ._core.retry import Delivery, RetryPolicy
from ._core.scan import ListOrderError, PaginationError
from ._exceptions import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    ConfigurationError,
    ConflictError,
    DeadlineExceededError,
    EventLoopError,
    InternalServerError,
    LockedError,
    MalformedResponseError,
    NotFoundError,
    PayloadTooLargeError,
    PaymentRequiredError,
    QuotaExceededError,
    RateLimitError,
    RedirectError,
    VoucherifyError,
)
from ._transport.hooks import Hooks
from ._transport.http import HTTPTransport, SendError
from ._transport.limiter import LocalRateLimiter, RateLimiter
from ._transport.mock import MockRequest, MockResponse, MockTransport
from ._transport.transport import APIResponse
from ._version import __version__
from .models import (
    Address,
    AsyncAction,
    Customer,
    CustomerActivity,
    CustomerBulkUpdate,
    CustomerCreate,
    CustomerRedeemable,
    CustomerUpdate,
)
from .resources._concurrency import fan_out
from .resources._jobs import (
    AsyncActionFailedError,
    AsyncActionTimeoutError,
    AsyncJob,
    AsyncJobError,
    AsyncJobResult,
    JobProgress,
    PartialSubmissionError,
)
from .resources._pagination import Pager
from .resources._parallel import ParallelPager, ScanProgress
from .resources._partition import CustomerPartition
from .resources.customers import CustomerListFilters

__all__ = [
    "CLUSTERS",
    "NOT_GIVEN",
    "APIConnectionError",
    "APIError",
    "APIResponse",
    "APIStatusError",
    "APITimeoutError",
    "Address",
    "AsyncAction",
    "AsyncActionFailedError",
    "AsyncActionTimeoutError",
    "AsyncJob",
    "AsyncJobError",
    "AsyncJobResult",
    "AsyncVoucherify",
    "AuthenticationError",
    "BadRequestError",
    "ClientClosedError",
    "ClientStats",
    "ConfigurationError",
    "ConflictError",
    "CsvError",
    "CsvHeaderError",
    "CsvSizeError",
    "Customer",
    "CustomerActivity",
    "CustomerBulkUpdate",
    "CustomerCreate",
    "CustomerListFilters",
    "CustomerPartition",
    "CustomerRedeemable",
    "CustomerUpdate",
    "DeadlineExceededError",
    "Delivery",
    "EventLoopError",
    "HTTPTransport",
    "Hooks",
    "InternalServerError",
    "JobProgress",
    "ListOrderError",
    "LocalRateLimiter",
    "LockedError",
    "MalformedResponseError",
    "MockRequest",
    "MockResponse",
    "MockTransport",
    "NotFoundError",
    "NotGiven",
    "PageEvent",
    "Pager",
    "PaginationError",
    "ParallelPager",
    "PartialSubmissionError",
    "PayloadTooLargeError",
    "PaymentRequiredError",
    "QuotaExceededError",
    "RateLimit",
    "RateLimitError",
    "RateLimiter",
    "RedirectError",
    "RequestEvent",
    "ResponseEvent",
    "RetryEvent",
    "RetryPolicy",
    "ScanProgress",
    "SendError",
    "VoucherifyError",
    "WaitEvent",
    "__version__",
    "fan_out",
    "models",
]
