"""The library's other doors beside ``send``: ``check`` (the pre-flight alone), ``opt_outs``
(the opt-outs a send would read) and ``send_events`` (a run as an async iterator of its
events).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator
from dataclasses import replace
from typing import Any, Unpack, cast

import anyio

from engine.config.credentials import Credentials
from engine.config.settings import Settings, check_campaign
from engine.core.optouts import Scope
from engine.errors import ConsentError
from engine.rc.transport import Transport
from engine.run.api import send
from engine.run.consent import Consents, read_consents
from engine.run.options import SendKeywords, SendOptions
from engine.run.preflight import Preflight, run_preflight
from engine.run.preflight import Recipients as PreflightRecipients
from engine.run.session import api_client
from engine.run.shapes import Event
from engine.run.sources import Recipients


async def check(sender: str, *, config: Settings | str | None = None,
                credentials: Credentials | None = None, recipients: int | None = None,
                transport: Transport | None = None) -> Preflight:
    """The pre-flight on its own (``a2p check``): log in, confirm ``sender`` is one of the
    user's A2P numbers, read its registration tier. Raises AuthError or SenderError.

    >>> import asyncio, engine                                              # doctest: +SKIP
    >>> asyncio.run(engine.check("+16505550100")).warnings                  # doctest: +SKIP
    ()
    """
    check_campaign(sender, None, None)  # not E.164: say so before logging in
    size = None if recipients is None else PreflightRecipients(recipients, True)
    async with api_client(config, credentials, transport) as client:
        return await run_preflight(client, sender, size)


async def check_and_opt_outs(sender: str, *, scope: Scope = "account",
                             config: Settings | str | None = None,
                             credentials: Credentials | None = None,
                             recipients: int | None = None,
                             transport: Transport | None = None
                             ) -> tuple[Preflight, Consents | ConsentError]:
    """``a2p check``: the pre-flight, then the opt-outs under ``scope``, with ONE login
    (RingCentral allows 5 Auth requests a minute: two logins and two revokes would spend 4).
    The opt-outs come back as the ConsentError that kept them from being read, if one did;
    the pre-flight's errors (AuthError, SenderError) are raised."""
    check_campaign(sender, None, None)
    size = None if recipients is None else PreflightRecipients(recipients, True)
    async with api_client(config, credentials, transport) as client:
        found = await run_preflight(client, sender, size)
        try:
            return found, await read_consents(client, sender, scope, 0.0, None, time.time)
        except ConsentError as exc:
            return found, exc


async def opt_outs(sender: str, *, scope: Scope = "account",
                   config: Settings | str | None = None,
                   credentials: Credentials | None = None,
                   transport: Transport | None = None) -> Consents:
    """RingCentral's opt-outs that keep ``sender`` from texting under ``scope`` (``a2p plan
    --consent``, ``a2p check``): read as a send reads them, without a cache. Raises
    ConsentError when they cannot be read."""
    check_campaign(sender, None, None)
    async with api_client(config, credentials, transport) as client:
        return await read_consents(client, sender, scope, 0.0, None, time.time)


async def send_events(recipients: Recipients, options: SendOptions | None = None,
                      **keywords: Unpack[SendKeywords]) -> AsyncGenerator[Event, None]:
    """The same run as ``send``, as an async iterator of its events (the last is "summary"),
    each typed ``Event`` (engine.types: ``event["event"]`` narrows it).

    Leaving early (``break``, ``aclose()``, an exception in the loop) stops the run the way
    Ctrl-C does: no new batch is sent, requests on the wire finish, and the report is still
    written when ``report`` or ``journal`` was given. An exception raised by the run (one of
    ours, or one from the caller's own iterable of recipients) comes out as itself.

    >>> async for event in engine.send_events("list.csv", sender="+16505550100",
    ...                                       text="Hi"):                # doctest: +SKIP
    ...     print(event["event"])
    """
    options = SendOptions.of(options, keywords)
    stop = options.stop or anyio.Event()
    events_in, events_out = anyio.create_memory_object_stream[dict[str, Any]](64)
    wanted = True

    async def emit(event: dict[str, Any]) -> None:
        if wanted:  # once the caller has left, the run's last events have no reader
            with contextlib.suppress(anyio.BrokenResourceError):
                await events_in.send(event)

    async def run() -> None:
        async with events_in:
            await send(recipients, replace(options, on_event=emit, stop=stop))

    # The run is a task of its own, not a task group around the ``yield``: a generator may be
    # finished from another task (``break`` leaves that to the event loop's finaliser), and a
    # cancel scope must be left in the task that entered it. aiohttp ties the run to asyncio.
    task = asyncio.get_running_loop().create_task(run())
    try:
        async with events_out:
            async for event in events_out:
                yield cast(Event, event)
        await task
    finally:
        wanted = False
        if not task.done():
            stop.set()
            events_out.close()
            with anyio.CancelScope(shield=True):
                await asyncio.wait([task])
        failure = None if task.cancelled() else task.exception()
        if failure is not None:  # the run's own error, whichever way the caller left
            raise failure
