"""The reduced vendor spec as JSON Schema validators for emulator answers.

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

import json
from pathlib import Path
from typing import Any

import jsonschema
from emulator_helpers import Reply

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
