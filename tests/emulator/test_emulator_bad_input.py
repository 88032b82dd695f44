"""Malformed requests of every class get the API's error object, and nothing breaks.

Each case checks the status, the ``key``, the shape (``code`` equal to the status, a
``message``, a ``request_id``), that the emulator logged no error or traceback, and that
the next request is served as usual.
"""

from __future__ import annotations

import io
import logging
from typing import Any

import pytest
from emulator_helpers import Http

C = "/v1/customers"
JSON = {"Content-Type": "application/json"}
TOO_LARGE = "Payload content length greater than maximum allowed: 10485760"


def _multipart(boundary: str, body: bytes) -> dict[str, Any]:
    content_type = f"multipart/form-data; boundary={boundary}"
    return {"data": io.BytesIO(body), "headers": {"Content-Type": content_type}}


CASES: dict[str, tuple[str, str, dict[str, Any], int, str]] = {
    # bad JSON
    "json cut short": ("POST", C, {"data": b'{"name": "x"', "headers": JSON}, 400,
                       "invalid_payload"),
    "json not utf-8": ("POST", C, {"data": b'{"name": "\xff\xfe"}', "headers": JSON}, 400,
                       "invalid_payload"),
    "json empty body": ("PUT", f"{C}/seed-1", {"data": b"", "headers": JSON}, 400,
                        "invalid_payload"),
    "json array for an object": ("POST", C, {"json": [1, 2]}, 400, "invalid_payload"),
    "bulk json cut short": ("POST", f"{C}/bulk/async", {"data": b"[{", "headers": JSON}, 400,
                            "invalid_payload"),
    "metadata not json": ("POST", f"{C}/metadata/async", {"data": b"source_ids=a",
                          "headers": JSON}, 400, "invalid_payload"),
    # wrong types
    "name a number": ("POST", C, {"json": {"name": 5}}, 400, "invalid_customer"),
    "address a string": ("PUT", f"{C}/seed-1", {"json": {"address": "Warsaw"}}, 400,
                         "invalid_customer"),
    "metadata a list": ("POST", C, {"json": {"metadata": [1]}}, 400, "invalid_customer"),
    "source_ids a string": ("POST", f"{C}/metadata/async",
                            {"json": {"source_ids": "a", "metadata": {}}}, 400,
                            "invalid_payload"),
    "bulk an object": ("POST", f"{C}/bulk/async", {"json": {"source_id": "a"}}, 400,
                       "invalid_payload"),
    "limit a word": ("GET", C, {"params": {"limit": "ten"}}, 400, "invalid_query_params"),
    "limit huge": ("GET", C, {"params": {"limit": "9" * 40}}, 400, "invalid_query_params"),
    "page past 99": ("GET", C, {"params": {"page": "100"}}, 400, "invalid_query_params"),
    "date not a date": ("GET", C, {"params": {"created_at[before]": "yesterday"}}, 400,
                        "invalid_query_params"),
    "filters malformed": ("GET", f"{C}/seed-1/redeemables",
                          {"params": {"filters[holder_role][conditions][$nope]": "x"}}, 400,
                          "invalid_query_params"),
    # unknown enum values
    "order unknown": ("GET", C, {"params": {"order": "sideways"}}, 400, "invalid_query_params"),
    "activity type unknown": ("GET", f"{C}/seed-1/activity", {"params": {"type": "x.y"}}, 400,
                              "invalid_query_params"),
    "campaign_type unknown": ("GET", f"{C}/seed-1/activities",
                              {"params": {"campaign_type": "RAFFLE"}}, 400,
                              "invalid_query_params"),
    "category unknown": ("GET", f"{C}/seed-1/activity", {"params": {"category": "CAUSE"}}, 400,
                         "invalid_query_params"),
    "redeemables order unknown": ("GET", f"{C}/seed-1/redeemables", {"params": {"order": "x"}},
                                  400, "invalid_query_params"),
    # oversized bodies
    "bulk over 10 MB": ("POST", f"{C}/bulk/async", {"data": io.BytesIO(b"[" + b" " * 10_485_760
                        + b"]"), "headers": JSON}, 413, ""),
    "create over 10 MB": ("POST", C, {"data": io.BytesIO(b"{" + b" " * 10_485_760 + b"}"),
                          "headers": JSON}, 413, ""),
    "csv over 10 MB": ("POST", f"{C}/importCSV", _multipart("b", b"--b\r\nContent-Disposition: "
                       b'form-data; name="file"; filename="a.csv"\r\n\r\n' + b"x" * 10_485_800
                       + b"\r\n--b--\r\n"), 413, ""),
    # bad multipart
    "csv not multipart": ("POST", f"{C}/importCSV", {"json": {"file": "a,b"}}, 400,
                          "invalid_payload"),
    "csv no boundary": ("POST", f"{C}/importCSV", {"data": b"x", "headers": {
                        "Content-Type": "multipart/form-data"}}, 400, "invalid_payload"),
    "csv part header broken": ("POST", f"{C}/importCSV", _multipart("b", b"--b\r\n"
                               b"Content-Disposition: form-data; name=\"\xc2\x9a\x1e\"\r\n"
                               b"no colon here\r\n\r\nx\r\n--b--\r\n"), 400, "invalid_payload"),
    "csv never closed": ("POST", f"{C}/importCSV", _multipart("b", b"--b\r\nContent-Disposition:"
                         b' form-data; name="file"\r\n\r\nId,Name\r\n'), 400, "invalid_payload"),
    "csv no file field": ("POST", f"{C}/importCSV", _multipart("b", b"--b\r\nContent-Disposition:"
                          b' form-data; name="other"\r\n\r\nx\r\n--b--\r\n'), 400,
                          "invalid_payload"),
    "csv not utf-8": ("POST", f"{C}/importCSV", _multipart("b", b"--b\r\nContent-Disposition: "
                      b'form-data; name="file"\r\n\r\n\x89PNG\xff\r\n--b--\r\n'), 400,
                      "invalid_payload"),
    # long and odd paths
    "id of 20,000 characters": ("GET", f"{C}/{'x' * 20_000}", {}, 404, "not_found"),
    "query of 50,000 characters": ("GET", C, {"params": {"email": "e" * 50_000}}, 200, ""),
    "id not utf-8": ("GET", f"{C}/%FF%FE", {}, 404, "not_found"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
async def test_malformed_requests_get_the_api_error_object(
    http: Http, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    method, path, kwargs, status, key = CASES[case]
    await http.post(C, json={"source_id": "seed-1"})
    with caplog.at_level(logging.WARNING):
        reply = await http.request(method, path, **kwargs)
        assert reply.status == status, reply.text[:300]
        body = reply.json
        if status == 413:
            assert body["message"] == TOO_LARGE
        elif status >= 400:
            assert body["code"] == status
            assert body["key"] == key
            assert isinstance(body["message"], str) and body["message"]
            assert body["request_id"].startswith("v-")
        assert "X-Rate-Limit-Remaining" in reply.headers
        after = await http.get(f"{C}/seed-1")  # still serving, state intact
        assert after.status == 200
    noisy = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not noisy, [r.getMessage() for r in noisy]
