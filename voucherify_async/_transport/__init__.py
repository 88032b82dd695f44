"""The transport: the one way a request is sent.

`transport.Transport` runs each attempt (the concurrency cap, the rate limiter, the send,
decoding, the pure retry decision); `http.HTTPTransport` is the send interface, with
aiohttp behind it in `aiohttp_transport` and the public `MockTransport` in `mock`;
`limiter` is the rate-limiter seam. It knows nothing about customers.
"""
