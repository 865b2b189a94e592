"""The ``--daily-cap`` default (issue 22 item 4): a new scheduled send given no --daily-cap
takes the cap of the sender's registration tier, as the pre-flight reads it (6,000 a day for
``LowVolume``; none for other tiers or when the account does not expose it). It is read once,
before the first round, so the journal's schedule holds it from the start and every resume
keeps it. ``--daily-cap none`` (``daily_cap="none"``) turns it off; ``--no-preflight`` reads
no tier, so no default. A send without a schedule is today's send: it is not spread over days
behind the user's back, and the pre-flight's warning names the flags that would.
"""

from __future__ import annotations

import random
from dataclasses import replace

from engine.config.credentials import pick_credentials
from engine.rc.client import ApiClient
from engine.rc.transport import AiohttpTransport
from engine.run.options import SendOptions
from engine.run.preflight import run_preflight
from engine.run.prepare import settings_of
from engine.run.scheduling import Scheduling
from engine.run.session import end_session
from engine.schedule.caps import default_daily_cap

Note = tuple[str, str]  # (warning code, message)


def wants_tier_cap(options: SendOptions, schedule: Scheduling) -> bool:
    """A new scheduled send with no --daily-cap given (not even ``none``) and a pre-flight."""
    return schedule.active and options.resume is None and options.daily_cap is None and \
        options.preflight and options.sender is not None


async def tier_cap(options: SendOptions, schedule: Scheduling) -> tuple[Scheduling,
                                                                         tuple[Note, ...]]:
    """The schedule with the tier's cap (and a note saying so), or as it is when the tier
    sets none. The pre-flight's errors (a refused login, a sender without the A2P feature)
    are raised here, before any journal is made, as the first round would raise them."""
    assert options.sender is not None
    settings = settings_of(options)
    owned = options.transport is None
    transport = options.transport or AiohttpTransport(settings.retry.request_timeout)
    client = ApiClient(settings, pick_credentials(settings, options.credentials), transport,
                       clock=options.clock, sleep=options.sleep, rng=random.Random(),
                       wall=options.wall)
    try:
        checked = await run_preflight(client, options.sender)
    finally:  # the rounds log in again: this session ends here
        await end_session(client, transport, revoke=options.revoke, owned=owned)
    cap = default_daily_cap(checked.registration_tier)
    if cap is None:
        return schedule, ()
    return replace(schedule, cap=cap), (("daily-cap", (
        f"{options.sender} is registered {checked.registration_tier}, which allows about "
        f"{cap:,} messages a day: this scheduled send sends at most {cap:,} a day (00:00 "
        "America/Los_Angeles). Give --daily-cap N for another cap, or --daily-cap none for "
        "no cap.")),)
