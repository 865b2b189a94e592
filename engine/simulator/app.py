"""The simulated RingCentral High Volume SMS API as an aiohttp application: the gateway's
middleware, the routes, and the lifetime of the work the backend does after answering.

Paths, status codes and bodies follow reference/ringcentral-a2p-openapi.json; behaviour the
sources leave open is listed under "Simulator assumptions" in docs/simulator.md. The pieces:
gateway.py (throttling, authentication, per-request faults), oauth.py, a2p.py (with
lost_answers.py for the faults of a batch POST), numbers.py (the pre-flight), consents.py
(the consent records) with consent_api.py (v2) and optouts.py (v1), control.py
(/_sim/...), state.py (what a running simulator holds), backlog.py (the late work).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from engine.simulator import a2p, consent_api, control, numbers, oauth, optouts
from engine.simulator.a2p import A2P
from engine.simulator.gateway import gateway, request_errors
from engine.simulator.settings import SimulatorSettings
from engine.simulator.state import SIMULATOR, Simulator


def create_app(settings: SimulatorSettings, clock: Callable[[], float] | None = None
               ) -> web.Application:
    """The simulator as an aiohttp application; ``app[SIMULATOR]`` is its state. Its clock:
    ``clock`` when given (a test's), else the settings' simulated clock, else real time."""
    app = web.Application(middlewares=[gateway, request_errors],
                          client_max_size=settings.max_body_bytes + 1)
    simulated = settings.clock
    if clock is not None or simulated is None:
        app[SIMULATOR] = Simulator(settings, clock if clock is not None else time.time)
    else:  # the backend's late work sleeps simulated seconds too
        app[SIMULATOR] = Simulator(settings, simulated.wall, simulated.sleep)
    app.cleanup_ctx.append(_backend)
    _routes(app.router)
    return app


async def _backend(app: web.Application) -> AsyncIterator[None]:
    """The backend's late work runs while the app is up; cleanup cancels what is still due
    (a batch still to be created late is never created by a stopped simulator)."""
    async with app[SIMULATOR].backlog.serving():
        yield


def _routes(r: web.UrlDispatcher) -> None:
    r.add_post("/restapi/oauth/token", oauth.token)
    r.add_post("/restapi/oauth/revoke", oauth.revoke)
    r.add_post(f"{A2P}/batches", a2p.create_batch)
    r.add_post(f"{A2P}/batch", a2p.create_batch)  # the 2020 guide's path
    r.add_get(f"{A2P}/batches", a2p.list_batches)
    r.add_get(f"{A2P}/batches/{{batchId}}", a2p.read_batch)
    r.add_get(f"{A2P}/messages", a2p.list_messages)
    r.add_get(f"{A2P}/messages/{{messageId}}", a2p.read_message)
    r.add_get(f"{A2P}/statuses", a2p.statuses)
    r.add_get(numbers.EXTENSION, numbers.list_phone_numbers)
    r.add_get(f"{numbers.EXTENSION}/{{phoneNumberId}}/sms-configuration",
              numbers.sms_configuration)
    r.add_get(optouts.OPT_OUTS, optouts.read_opt_outs)
    r.add_post(f"{optouts.OPT_OUTS}/bulk-assign", optouts.bulk_assign)
    r.add_get(consent_api.CONSENTS, consent_api.list_consents)
    r.add_patch(consent_api.CONSENTS, consent_api.patch)
    r.add_get(f"{consent_api.CONSENTS}/export", consent_api.export)
    r.add_post(f"{consent_api.CONSENTS}/search", consent_api.search)
    r.add_get("/_sim/ledger", control.ledger)
    r.add_get("/_sim/stats", control.stats)
    r.add_put("/_sim/faults", control.put_faults)
    r.add_get("/_sim/consents", control.consents)
    r.add_post("/_sim/inbound", control.inbound)
    r.add_get("/_sim/clock", control.clock)
    r.add_get("/_sim/audit", control.audit)
