"""``python -m engine.schema events|report``: print the JSON Schema of the event stream or
of the report, as the README publishes them (a test keeps the two the same)."""

from __future__ import annotations

import sys
from typing import Any

import orjson

from engine.run import events, report


def schemas() -> dict[str, dict[str, Any]]:
    return {"events": events.schema(), "report": report.schema()}


def render(name: str) -> str:
    return orjson.dumps(schemas()[name], option=orjson.OPT_INDENT_2).decode()


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in schemas():
        sys.stderr.write("usage: python -m engine.schema events|report\n")
        return 2
    sys.stdout.write(render(argv[0]) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
