"""Validate simulator answers against the official OpenAPI subsets in tests/data/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import orjson

DATA = Path(__file__).parent / "data"
SPEC: dict[str, Any] = orjson.loads((DATA / "ringcentral-a2p-openapi.json").read_bytes())
# The pre-flight's operations: the user's phone numbers and a number's SMS configuration.
PREFLIGHT_SPEC: dict[str, Any] = orjson.loads(
    (DATA / "ringcentral-preflight-openapi.json").read_bytes()
)
A2P = "/restapi/v1.0/account/{accountId}/a2p-sms"
PHONE_NUMBERS = "/restapi/v1.0/account/{accountId}/extension/{extensionId}/phone-number"


def _resolve(node: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        section, name = node["$ref"].split("/")[-2:]
        node = spec["components"][section][name]
    return node


def response_schema(path: str, method: str, status: int, spec: dict[str, Any] = SPEC
                    ) -> dict[str, Any]:
    response = _resolve(spec["paths"][path][method]["responses"][str(status)], spec)
    schema: dict[str, Any] = response["content"]["application/json"]["schema"]
    return schema


def assert_valid(body: Any, path: str, method: str, status: int,
                 spec: dict[str, Any] = SPEC) -> None:
    """The body matches the spec's schema for this operation and status."""
    schema = {"allOf": [response_schema(path, method, status, spec)],
              "components": spec["components"]}
    jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker()).validate(body)
