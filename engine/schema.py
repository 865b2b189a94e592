"""``python -m engine.schema events|report``: print the JSON Schema of the event stream or
of the report. The same text ships in the package as ``engine/schemas/events.json`` and
``engine/schemas/report.json`` (docs/events-and-report.md links them); a test keeps each file
equal to what this prints. After changing an event or the report, write them again with
``python -m engine.schema events > engine/schemas/events.json`` (and ``report``)."""

from __future__ import annotations

import sys
from importlib import resources
from typing import Any

import orjson

from engine.run import eventschema, report


def schemas() -> dict[str, dict[str, Any]]:
    return {"events": eventschema.schema(), "report": report.schema()}


def render(name: str) -> str:
    return orjson.dumps(schemas()[name], option=orjson.OPT_INDENT_2).decode()


def shipped(name: str) -> str:
    """The schema file the package ships for ``name``, as installed (``events``, ``report``)."""
    return resources.files("engine").joinpath("schemas", f"{name}.json").read_text("utf-8")


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in schemas():
        sys.stderr.write("usage: python -m engine.schema events|report\n")
        return 2
    sys.stdout.write(render(argv[0]) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
