"""Reduce the vendor's two OpenAPI files to the facts the tests use.

Keeps the paths, operations, parameters, request bodies, responses and every schema with
its types, formats, enums, bounds, defaults, required fields and titles, and the response
examples verbatim. Leaves out the vendor's prose: ``description`` and ``summary`` texts,
``externalDocs``, ``tags``, contact and terms. A response's ``description`` (which OpenAPI
requires) becomes an empty string, so the result is still a valid OpenAPI 3.0 document.

Usage::

    python scripts/reduce_spec.py SOURCE_DIR [OUTPUT_DIR]

``SOURCE_DIR`` holds ``customers.openapi.json`` and ``async-actions.openapi.json``;
``OUTPUT_DIR`` (default ``spec/``) receives ``customers.json`` and ``async-actions.json``.
The output is deterministic (sorted keys are not used: the vendor's order is kept).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

FILES = {
    "customers.openapi.json": "customers.json",
    "async-actions.openapi.json": "async-actions.json",
}
# Prose keys dropped wherever they hold text (not where they name a property).
_PROSE = frozenset({"description", "summary"})
# Keys dropped whatever they hold.
_DROPPED = frozenset({"externalDocs", "tags", "x-codegen-request-body-name"})
# Keys whose values are data, copied untouched.
_VERBATIM = frozenset({"example", "examples", "default", "enum"})
# Keys whose values map names to schemas (the names themselves are facts).
_NAMED = frozenset(
    {
        "properties",
        "schemas",
        "parameters",
        "responses",
        "requestBodies",
        "securitySchemes",
        "paths",
        "content",
        "headers",
        "variables",
    }
)


def reduce_node(node: Any, *, parent: str | None = None) -> Any:
    """Return ``node`` without prose; ``parent`` is the key that holds it."""
    if isinstance(node, list):
        return [reduce_node(item, parent=parent) for item in node]
    if not isinstance(node, dict):
        return node
    if parent in _NAMED and parent != "parameters":
        # A map of names: keep every name, reduce what each one holds.
        return {name: reduce_node(value, parent=f"{parent}:item") for name, value in node.items()}
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROPPED or (key in _PROSE and not isinstance(value, (dict, list))):
            continue
        if key in _VERBATIM:
            out[key] = _examples(value) if key == "examples" else value
            continue
        out[key] = reduce_node(value, parent=key)
    if parent == "responses:item" and "$ref" not in out:
        out = {"description": "", **out}
    return out


def _examples(value: Any) -> Any:
    # Named examples: keep each one's value (and $ref), drop its summary/description.
    if not isinstance(value, dict):
        return value
    kept: dict[str, Any] = {}
    for name, example in value.items():
        if isinstance(example, dict) and ("value" in example or "$ref" in example):
            kept[name] = {k: v for k, v in example.items() if k in ("value", "$ref")}
        else:
            kept[name] = example
    return kept


def reduce_document(doc: dict[str, Any]) -> dict[str, Any]:
    """Reduce one OpenAPI document."""
    info = doc.get("info", {})
    out: dict[str, Any] = {
        "openapi": doc["openapi"],
        "info": {
            "title": info.get("title", ""),
            "version": info.get("version", ""),
            "license": info.get("license", {}),
        },
        "servers": reduce_node(doc.get("servers", []), parent="servers"),
    }
    out["paths"] = reduce_node(doc["paths"], parent="paths")
    out["components"] = {
        name: reduce_node(value, parent=name) for name, value in doc["components"].items()
    }
    return out


def main(argv: list[str]) -> int:
    """Reduce both files from ``argv[0]`` into ``argv[1]`` (default ``spec/``)."""
    if not argv or len(argv) > 2:
        print("usage: python scripts/reduce_spec.py SOURCE_DIR [OUTPUT_DIR]", file=sys.stderr)
        return 2
    source = Path(argv[0])
    target = Path(argv[1]) if len(argv) == 2 else Path(__file__).resolve().parents[1] / "spec"
    target.mkdir(parents=True, exist_ok=True)
    for name, reduced_name in FILES.items():
        path = source / name
        if not path.is_file():
            print(f"reduce_spec: {path} not found", file=sys.stderr)
            return 1
        doc = json.loads(path.read_text(encoding="utf-8"))
        text = json.dumps(reduce_document(doc), indent=1, ensure_ascii=False) + "\n"
        (target / reduced_name).write_text(text, encoding="utf-8")
        print(f"{path} -> {target / reduced_name} ({len(text)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
