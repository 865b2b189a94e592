"""One logged-in client for a command that makes a few requests and ends (check, plan's
consent read, optouts): its session revoked and its transport closed whatever happens; and
the end of a send's session (the run's, the tier read's)."""

from __future__ import annotations

import random
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio

from engine.config.credentials import Credentials, pick_credentials
from engine.config.settings import Settings, load_settings
from engine.rc.client import ApiClient
from engine.rc.transport import AiohttpTransport, Transport


@asynccontextmanager
async def api_client(config: Settings | str | None, credentials: Credentials | None,
                     transport: Transport | None) -> AsyncIterator[ApiClient]:
    """A client for the profile's server and credentials (as 'a2p check' makes one), its
    session revoked and its transport closed at the end."""
    settings = config if isinstance(config, Settings) else load_settings(config)
    owned = transport is None
    transport = transport or AiohttpTransport(settings.retry.request_timeout)
    client = ApiClient(settings, pick_credentials(settings, credentials), transport,
                       clock=time.monotonic, sleep=anyio.sleep, rng=random.Random())
    try:
        yield client
    finally:
        try:
            with anyio.CancelScope(shield=True):
                await client.revoke()
        finally:
            if owned:
                await transport.close()


async def end_session(client: ApiClient, transport: Transport, *, revoke: bool,
                      owned: bool) -> None:
    """End a send's session: its token revoked (when ``revoke``), then its transport closed
    (when ``owned``), even when the revoke fails."""
    try:
        if revoke:
            # Shielded so a cancelled run still ends its session, bounded so a second Ctrl-C
            # is not held up by a server that does not answer.
            with anyio.CancelScope(shield=True), anyio.move_on_after(10):
                await client.revoke()
    finally:
        if owned:
            with anyio.CancelScope(shield=True):
                await transport.close()
