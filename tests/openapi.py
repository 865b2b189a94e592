"""Validate simulator answers against the official OpenAPI subset in tests/data/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import orjson

SPEC: dict[str, Any] = orjson.loads(
    (Path(__file__).parent / "data" / "ringcentral-a2p-openapi.json").read_bytes()
)
A2P = "/restapi/v1.0/account/{accountId}/a2p-sms"


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        section, name = node["$ref"].split("/")[-2:]
        node = SPEC["components"][section][name]
    return node


def response_schema(path: str, method: str, status: int) -> dict[str, Any]:
    response = _resolve(SPEC["paths"][path][method]["responses"][str(status)])
    schema: dict[str, Any] = response["content"]["application/json"]["schema"]
    return schema


def assert_valid(body: Any, path: str, method: str, status: int) -> None:
    """The body matches the spec's schema for this operation and status."""
    schema = {"allOf": [response_schema(path, method, status)], "components": SPEC["components"]}
    jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker()).validate(body)
