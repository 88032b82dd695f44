"""The pure core: decisions and encodings with no I/O.

Retry or raise (`retry.decide`), pacing from the rate-limit headers, query and path
encoding, the list filters' one declaration, the exactly-once `created_at` walk, cutting
bulk bodies and CSV files under the API's 10 MB. Nothing here imports the transport, the
resources or aiohttp; everything here is tested without a network.
"""
