"""The aiohttp transport honours the proxy variables, as corporate networks need."""

from __future__ import annotations

import pytest
from aiohttp import web

from engine.rc.transport import AiohttpTransport


async def test_requests_go_through_the_proxy_named_in_the_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """With HTTP_PROXY set, a request for another host reaches the proxy (loopback here),
    which sees the absolute URL."""
    seen: list[str] = []

    async def proxy(request: web.Request) -> web.Response:
        seen.append(str(request.url))
        return web.json_response({"via": "proxy"})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", proxy)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy",
                 "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
    transport = AiohttpTransport(10.0)
    try:
        reply = await transport.request("GET", "http://platform.example.invalid/restapi",
                                        headers={})
    finally:
        await transport.close()
        await runner.cleanup()
    assert reply.status == 200
    assert reply.json() == {"via": "proxy"}
    assert seen == ["http://platform.example.invalid/restapi"]
