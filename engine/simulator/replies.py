"""How the simulator answers: JSON bodies, RingCentral's error shape, and no answer at all."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from engine.simulator.views import error_body


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None
                  ) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, headers=headers,
                        content_type="application/json")


def error_response(status: int, code: str, message: str, parameter: str | None = None
                   ) -> web.Response:
    return json_response(error_body(code, message, parameter), status)


def not_found(parameter: str) -> web.Response:
    return error_response(404, "CMN-102", f"Resource for parameter [{parameter}] is not found.")


def drop_connection(request: web.Request) -> web.Response:
    """Close the socket with no answer: the client sees a reset or a disconnect."""
    transport = request.transport
    if transport is not None:
        transport.abort()
    return web.Response(status=500)  # never reaches the client
