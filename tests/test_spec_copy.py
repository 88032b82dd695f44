"""The committed spec copy is what ``scripts/reduce_spec.py`` makes: no prose, all facts."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "spec"


def _reducer() -> Any:
    path = ROOT / "scripts" / "reduce_spec.py"
    spec = importlib.util.spec_from_file_location("reduce_spec", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_both_files_are_present_and_openapi() -> None:
    for name in ("customers.json", "async-actions.json"):
        doc = json.loads((SPEC / name).read_text(encoding="utf-8"))
        assert doc["openapi"].startswith("3.0")
        assert doc["info"]["license"]["name"] == "MIT"
        assert doc["paths"]


def test_reducing_drops_prose_and_keeps_facts() -> None:
    reduce = _reducer().reduce_document
    doc = {
        "openapi": "3.0.1",
        "info": {"title": "T", "version": "1", "description": "prose", "license": {"name": "MIT"}},
        "paths": {
            "/x": {
                "get": {
                    "summary": "prose",
                    "description": "prose",
                    "tags": ["X"],
                    "parameters": [{"name": "limit", "in": "query", "description": "prose",
                                    "schema": {"type": "integer", "minimum": 1}}],
                    "responses": {"200": {"description": "prose", "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/S"},
                            "examples": {
                                "E": {"summary": "prose", "value": {"description": "kept"}}
                            },
                        }}}},
                }
            }
        },
        "components": {"schemas": {"S": {
            "type": "object", "description": "prose", "required": ["description"],
            "properties": {"description": {"type": "string", "description": "prose"},
                           "kind": {"type": "string", "enum": ["A", "B"], "format": "x"}},
        }}},
    }  # fmt: skip
    out = reduce(doc)
    text = json.dumps(out)
    assert "prose" not in text
    get = out["paths"]["/x"]["get"]
    assert get["parameters"][0]["schema"] == {"type": "integer", "minimum": 1}
    assert get["responses"]["200"]["description"] == ""
    media = get["responses"]["200"]["content"]["application/json"]
    assert media["examples"]["E"] == {"value": {"description": "kept"}}
    schema = out["components"]["schemas"]["S"]
    assert schema["required"] == ["description"]
    assert schema["properties"]["description"] == {"type": "string"}
    assert schema["properties"]["kind"] == {"type": "string", "enum": ["A", "B"], "format": "x"}
