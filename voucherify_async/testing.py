"""The pytest plugin: fixtures that run the local Voucherify emulator for a test suite.

Installed projects get it automatically (the ``pytest11`` entry point). Fixtures:

* ``voucherify_emulator``: one emulator server for the whole session, in a background thread,
  its state reset before every test that uses it.
* ``voucherify_client``: an :class:`~voucherify_async.AsyncVoucherify` connected to it,
  closed after the test.

Example:
    >>> async def test_signup(voucherify_client):
    ...     customer = await voucherify_client.customers.create(source_id="s1")
    ...     assert (await voucherify_client.customers.get("s1")).id == customer.id
"""

from __future__ import annotations
