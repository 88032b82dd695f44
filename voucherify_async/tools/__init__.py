"""The tools built on the client: the command line (`voucherify-async`) and the demo.

The pytest plugin is `voucherify_async.testing` (the import path pytest and users name).
"""
