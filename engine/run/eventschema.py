"""The JSON Schema of the event stream and of the report's event-shaped parts, built from the
event classes (engine/run/events.py) so it cannot drift from them: ``schema()`` is what
``python -m engine.schema events`` prints and engine/schemas/events.json ships.
"""

from __future__ import annotations

import dataclasses
import types
from typing import Any, Union, get_args, get_origin, get_type_hints

from engine.run.events import EVENTS, camel

__all__ = ["COMMON", "object_schema", "schema"]

# the fields a run adds to every event (Stamper), in each variant of the schema
COMMON: dict[str, Any] = {
    "time": {"type": "string", "format": "date-time",
             "description": "when the event was emitted (UTC, ISO 8601)"},
    "runId": {"type": "string", "description": "the run's id (the journal's and report's)"},
}


def _type_schema(hint: Any) -> dict[str, Any]:
    if get_origin(hint) in (Union, types.UnionType):
        options = [_type_schema(arg) for arg in get_args(hint)]
        return {"anyOf": options}
    if hint is type(None):
        return {"type": "null"}
    simple = {int: "integer", str: "string", float: "number", bool: "boolean"}
    if hint in simple:
        return {"type": simple[hint]}
    if get_origin(hint) is dict or hint is dict:
        return {"type": "object"}
    raise TypeError(f"no JSON Schema type for {hint!r}")


def _properties(kind: type[Any]) -> tuple[dict[str, Any], list[str]]:
    hints = get_type_hints(kind)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for spec in dataclasses.fields(kind):
        hint = hints[spec.name]
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            inner, needed = _properties(hint)
            properties.update(inner)
            required += needed
            continue
        properties[camel(spec.name)] = spec.metadata.get("schema") or _type_schema(hint)
        required.append(camel(spec.name))
    return properties, required


def object_schema(kind: type[Any]) -> dict[str, Any]:
    """The JSON Schema of a dataclass's ``to_json``."""
    properties, required = _properties(kind)
    return {"type": "object", "properties": properties, "required": required}


def schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one line of the event stream."""
    variants = []
    for kind in EVENTS:
        properties, required = _properties(kind)
        variants.append({
            "title": kind.__name__, "description": " ".join((kind.__doc__ or "").split()),
            "type": "object",
            "properties": {"event": {"const": kind.KIND}, **properties,
                           **getattr(kind, "OPTIONAL", {}), **COMMON},
            "required": ["event", *required, *COMMON],
        })
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "a2p send event", "oneOf": variants}
