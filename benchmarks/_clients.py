"""The clients the HTTP benchmarks compare, each doing "get one customer" its own way."""

from __future__ import annotations

from typing import Any

from ._common import APP_ID, APP_TOKEN

__all__ = ["AUTH_HEADERS", "vendor_customers_api"]

AUTH_HEADERS = {"X-App-Id": APP_ID, "X-App-Token": APP_TOKEN, "Accept": "application/json"}


def vendor_customers_api(
    base_url: str, *, pool_size: int | None = None, app_id: str = APP_ID,
    app_token: str = APP_TOKEN,
) -> Any:  # fmt: skip
    """The vendor SDK's ``CustomersApi`` pointed at ``base_url``.

    ``pool_size`` sets urllib3's connections per host (the SDK's default is 5 per CPU), so a
    thread pool of that size never opens and drops connections.
    """
    from voucherify.api.customers_api import CustomersApi
    from voucherify.api_client import ApiClient
    from voucherify.configuration import Configuration

    configuration = Configuration(
        host=base_url, api_key={"X-App-Id": app_id, "X-App-Token": app_token}
    )
    if pool_size is not None:
        configuration.connection_pool_maxsize = pool_size
    return CustomersApi(ApiClient(configuration))
