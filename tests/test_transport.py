"""The aiohttp adapter maps transport failures to the engine's classes (aioresponses).

Successful answers are covered against the simulator in tests/e2e: aioresponses 0.7.9 cannot
build a response object for aiohttp 3.14, but its exception mode works."""

from __future__ import annotations

import aiohttp
import pytest
from aioresponses import aioresponses

from engine.errors import AmbiguousSendError
from engine.transport import AiohttpTransport, NotSentError

URL = "https://platform.ringcentral.com/restapi/v1.0/account/~/a2p-sms/batches"


async def post(transport: AiohttpTransport) -> int:
    reply = await transport.request("POST", URL, headers={}, body=b"{}")
    return reply.status


@pytest.mark.parametrize(
    ("error", "expected"),
    [(aiohttp.ClientConnectorError(aiohttp.client_reqrep.ConnectionKey(
        "h", 443, True, True, None, None, None), OSError(111, "refused")), NotSentError),
     (aiohttp.ServerDisconnectedError(), AmbiguousSendError),
     (TimeoutError(), AmbiguousSendError)],
    ids=["refused", "disconnected", "timeout"],
)
async def test_failures_are_classified(error: Exception, expected: type[Exception]) -> None:
    """Refused means not sent; a disconnect or timeout after sending is ambiguous."""
    transport = AiohttpTransport(5.0)
    try:
        with aioresponses() as mocked:
            mocked.post(URL, exception=error)
            with pytest.raises(expected):
                await post(transport)
    finally:
        await transport.close()
