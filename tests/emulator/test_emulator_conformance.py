"""Every emulator response validates against the vendor's OpenAPI response schemas.

The spec is OpenAPI 3.0; to validate with JSON Schema (2020-12) it is translated:

- ``nullable: true`` becomes ``anyOf: [<schema>, {type: null}]``;
- ``oneOf`` becomes ``anyOf``: the spec's unions (activity data, async action results,
  discounts) have branches whose properties are all optional, so a valid object matches
  several branches and a strict ``oneOf`` would reject every one of them;
- ``example``/``examples`` are dropped; ``format`` is not asserted.

One documented deviation, a spec inconsistency rather than an emulator choice: the
inline 429 schema of ``POST /v1/customers/bulk/async`` types ``code`` as a string while
every error example (and the ``Error`` schema) has an integer, so 429 bodies are checked
against ``Error``.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import aiohttp
import jsonschema
import pytest
from emulator_helpers import Http, Reply, quote_id

from voucherify_async.emulator import Emulator

# The reduced vendor spec committed with the project; a missing file is an error, not a skip.
SPEC_DIR = Path(__file__).resolve().parents[2] / "spec"
SPEC_FILES = {"customers": "customers.json", "async-actions": "async-actions.json"}


def translate(node: Any) -> Any:
    """OpenAPI 3.0 schema -> JSON Schema 2020-12 (see the module docstring)."""
    if isinstance(node, list):
        return [translate(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {
        key: translate(value)
        for key, value in node.items()
        if key not in ("example", "examples", "nullable")
    }
    if "oneOf" in out:
        out["anyOf"] = out.pop("oneOf")
    if node.get("nullable") is True:
        return {"anyOf": [out, {"type": "null"}]}
    return out


class SpecValidator:
    """Validates a reply against the spec's schema for (method, route, status)."""

    def __init__(self) -> None:
        self.docs = {
            key: json.loads((SPEC_DIR / name).read_text(encoding="utf-8"))
            for key, name in SPEC_FILES.items()
        }
        self.components = {key: translate(doc["components"]) for key, doc in self.docs.items()}
        self.checked: set[tuple[str, str, str]] = set()

    def _doc_for(self, route: str) -> str:
        return "async-actions" if route.startswith("/v1/async-actions") else "customers"

    def schema_for(self, method: str, route: str, status: int) -> tuple[str, dict[str, Any]]:
        doc_key = self._doc_for(route)
        operation = self.docs[doc_key]["paths"][route].get(method.lower(), {"responses": {}})
        response = operation["responses"].get(str(status))
        content = (response or {}).get("content", {}).get("application/json")
        if content is not None and status != 429:
            return doc_key, content["schema"]
        if status == 413:
            return doc_key, {"$ref": "#/components/schemas/BadRequest"}
        return doc_key, {"$ref": "#/components/schemas/Error"}

    def check(self, method: str, route: str, reply: Reply) -> Any:
        doc_key, schema = self.schema_for(method, route, reply.status)
        root = {"components": self.components[doc_key], **translate(schema)}
        validator = jsonschema.Draft202012Validator(root)
        body = reply.json
        errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
        assert not errors, f"{method} {route} {reply.status}: " + "; ".join(
            f"{list(e.absolute_path)}: {e.message}" for e in errors[:5]
        )
        self.checked.add((method.upper(), route, str(reply.status)))
        return body

    def documented(self) -> set[tuple[str, str, str]]:
        """Every (method, route, status) the spec documents with a JSON body."""
        found = set()
        for doc in self.docs.values():
            for route, item in doc["paths"].items():
                for method, operation in item.items():
                    if method == "parameters":
                        continue
                    for status, response in operation["responses"].items():
                        if "application/json" in response.get("content", {}):
                            found.add((method.upper(), route, status))
        return found


@pytest.fixture(scope="module")
def spec() -> SpecValidator:
    return SpecValidator()


C = "/v1/customers"
CID = "/v1/customers/{customerId}"


async def test_every_endpoint_matches_the_spec(
    emu: Emulator, http: Http, spec: SpecValidator
) -> None:
    async def call(method: str, route: str, path: str, **kwargs: Any) -> Any:
        reply = await http.request(method, path, **kwargs)
        if reply.status == 204:
            assert reply.text == ""
            spec.checked.add((method, route, "204"))
            return None
        return spec.check(method, route, reply)

    # Customers: create (full and minimal), get, update, list.
    full = await call(
        "POST",
        C,
        C,
        json={
            "source_id": "conf-1",
            "name": "Bob Smith",
            "description": "A frequent customer",
            "email": "bob@example.com",
            "phone": "+1 933 222 3333",
            "birthdate": "2022-01-01",
            "birthday": "2022-01-02",
            "address": {"city": "New York", "state": "NY", "line_1": "1 Main St.",
                        "line_2": "APT 3", "country": "US", "postal_code": "10001"},
            "metadata": {"lang": "en", "test": True},
        },
    )  # fmt: skip
    minimal = await call("POST", C, C, json={})
    await call("POST", C, C, json={"source_id": "conf-2", "address": None})
    await call("GET", CID, f"{C}/{full['id']}")
    await call("GET", CID, f"{C}/{quote_id('conf-1')}")
    await call("GET", CID, f"{C}/cust_missing")
    await call("PUT", CID, f"{C}/conf-1", json={"name": "Alice", "metadata": {"x": 1}})
    await call("PUT", CID, f"{C}/cust_missing", json={"name": "x"})
    await emu.seed_customers(30, city="City {i%3}")
    await call("GET", C, C)
    await call("GET", C, C, params={"limit": "100", "order": "source_id"})
    await call("GET", C, C, params={"city": "City 1", "created_at[after]": "2019-01-01"})
    await call("GET", C, C, params={"page": "100"})

    # Activity (current and deprecated), segments, redeemables.
    await call("GET", f"{CID}/activity", f"{C}/conf-1/activity")
    await call("GET", f"{CID}/activity", f"{C}/conf-1/activity", params={"limit": "1"})
    await call("GET", f"{CID}/activity", f"{C}/nobody/activity")
    await call("GET", f"{CID}/activities", f"{C}/conf-1/activities")
    await emu.seed_segment("VIP", ["conf-1"])
    await call("GET", f"{CID}/segments", f"{C}/conf-1/segments")
    await call("GET", f"{CID}/segments", f"{C}/nobody/segments")
    for role, kind in (
        ("OWNER", "DISCOUNT_VOUCHER"),
        ("REFERRER", "DISCOUNT_VOUCHER"),
        ("OWNER", "GIFT_VOUCHER"),
        ("OWNER", "LOYALTY_CARD"),
    ):
        await emu.seed_redeemable("conf-1", holder_role=role, voucher_type=kind)  # fmt: skip
    await call("GET", f"{CID}/redeemables", f"{C}/conf-1/redeemables")
    await call("GET", f"{CID}/redeemables", f"{C}/conf-1/redeemables", params={"limit": "2"})
    await call("GET", f"{CID}/redeemables", f"{C}/nobody/redeemables")

    # Bulk jobs, their async actions, and the 413.
    bulk = await call(
        "POST",
        f"{C}/bulk/async",
        f"{C}/bulk/async",
        json=[{"source_id": "conf-1", "name": "Bulk"}, {"name": "no source id"}],
    )
    metadata = await call(
        "POST",
        f"{C}/metadata/async",
        f"{C}/metadata/async",
        json={"source_ids": ["conf-1", "conf-new"], "metadata": {"vip": True}},
    )
    form = aiohttp.FormData()
    form.add_field("file", b"Source_id,Name,Email\ncsv-1,Ann,ann@example.com\ncsv-2,Bo,bad\n",
                   filename="customers.csv", content_type="text/csv")  # fmt: skip
    imported = await call("POST", f"{C}/importCSV", f"{C}/importCSV", data=form)
    too_big = io.BytesIO(b"[" + b" " * 10_485_760 + b"]")
    await call("POST", f"{C}/bulk/async", f"{C}/bulk/async", data=too_big,
               headers={"Content-Type": "application/json"})  # fmt: skip
    too_big = io.BytesIO(b"{" + b" " * 10_485_760 + b"}")
    await call("POST", f"{C}/metadata/async", f"{C}/metadata/async", data=too_big,
               headers={"Content-Type": "application/json"})  # fmt: skip
    for accepted in (bulk, metadata, imported):
        # Queued or running first (ENQUEUED / IN_PROGRESS), then finished: all in the enum.
        await call("GET", "/v1/async-actions/{asyncActionId}",
                   f"/v1/async-actions/{accepted['async_action_id']}")  # fmt: skip
        await http.wait_job(accepted["async_action_id"])
        await call("GET", "/v1/async-actions/{asyncActionId}",
                   f"/v1/async-actions/{accepted['async_action_id']}")  # fmt: skip
    await call("GET", "/v1/async-actions/{asyncActionId}", "/v1/async-actions/aa_missing")
    await call("GET", "/v1/async-actions", "/v1/async-actions")
    await call("GET", "/v1/async-actions", "/v1/async-actions", params={"end_date": "soon"})

    # Deletion, permanent deletion, and the error answers every route can give.
    await call("DELETE", CID, f"{C}/{minimal['id']}")
    await call("DELETE", CID, f"{C}/{minimal['id']}")
    purged = await call("POST", f"{CID}/permanent-deletion", f"{C}/conf-1/permanent-deletion")
    assert purged["object"] == "pernament_deletion"
    await call("POST", f"{CID}/permanent-deletion", f"{C}/conf-1/permanent-deletion")
    await call("GET", C, C, auth=False)
    await call("PATCH", C, C)
    await emu.script_faults([{"kind": "rate_limit", "path": f"{C}/bulk"}])
    await call("POST", f"{C}/bulk/async", f"{C}/bulk/async", json=[])

    missing = spec.documented() - spec.checked
    assert not missing, f"documented responses never exercised: {sorted(missing)}"


def test_the_validator_is_not_vacuous(spec: SpecValidator) -> None:
    customer = {"id": "cust_1", "object": "customer", "loyalty": None, "referrals": None}
    with pytest.raises(AssertionError, match="summary"):
        spec.check("GET", CID, Reply(200, {}, json.dumps(customer)))
    with pytest.raises(AssertionError, match="code"):
        spec.check("GET", CID, Reply(404, {}, json.dumps({"code": "404", "message": "x"})))
    bad_action = {"id": "aa_1", "status": "WAITING", "object": "async_action"}
    with pytest.raises(AssertionError, match="status"):
        spec.check(
            "GET", "/v1/async-actions/{asyncActionId}", Reply(200, {}, json.dumps(bad_action))
        )
