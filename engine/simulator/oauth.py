"""RingCentral's OAuth endpoints (/restapi/oauth/token and /revoke): the JWT and refresh
grants, single-use refresh tokens, and the token faults: a failing token endpoint, refused
refreshes, tokens that die before their TTL.

Seeded draws, each only when its fault is on: the token endpoint's failure (then its status),
a refused refresh, an early expiry."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from engine.rc import basicauth
from engine.simulator.replies import drop_connection, error_response, json_response
from engine.simulator.state import SIMULATOR, Simulator
from engine.simulator.store import Session
from engine.simulator.views import oauth_error

FORM = "application/x-www-form-urlencoded"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


async def token(request: web.Request) -> web.Response:
    sim = request.app[SIMULATOR]
    fault = _token_fault(request, sim)
    if fault is not None:
        return fault
    if request.content_type != FORM:
        return error_response(415, "CMN-415", f"Content type must be {FORM}")
    form = await request.post()
    if not _client_ok(request, sim):
        return _client_refused()
    now = sim.now()
    ttl = _access_ttl(form.get("access_token_ttl"), sim)
    granted = _grant(sim, form, now, ttl)
    if isinstance(granted, web.Response):
        return granted
    return json_response(_token_info(sim, granted, ttl, now))


async def revoke(request: web.Request) -> web.Response:
    sim = request.app[SIMULATOR]
    if not _client_ok(request, sim):
        return _client_refused()
    form = await request.post()
    sim.store.revoke(str(form.get("token") or request.query.get("token", "")))
    return web.Response(status=200)


def _grant(sim: Simulator, form: Mapping[str, Any], now: float, ttl: float
           ) -> Session | web.Response:
    """The session a JWT or a refresh token opens, or the OAuth error refusing it."""
    grant = form.get("grant_type")
    if grant == JWT_GRANT:
        if form.get("assertion") != sim.settings.credentials.jwt:
            return json_response(oauth_error("invalid_grant", "OAU-140", "Invalid token"), 400)
        return sim.store.new_session(now, ttl)
    if grant == "refresh_token":
        refreshed = _refresh(sim, str(form.get("refresh_token", "")), now, ttl)
        if refreshed is None:
            return json_response(oauth_error("invalid_grant", "OAU-211", "Token is revoked"), 400)
        return refreshed
    body = oauth_error("unsupported_grant_type", "OAU-250", f"Unsupported grant type {grant!r}")
    return json_response(body, 400)


def _client_ok(request: web.Request, sim: Simulator) -> bool:
    expected = sim.settings.credentials
    given = basicauth.decode(request.headers.get("Authorization", ""))
    return given == (expected.client_id, expected.client_secret)


def _client_refused() -> web.Response:
    body = oauth_error("invalid_client", "OAU-123", "Client authentication is required")
    return json_response(body, 401)


def _token_fault(request: web.Request, sim: Simulator) -> web.Response | None:
    """A token endpoint that fails (JSON or a gateway's HTML page) or drops the connection:
    the first ``token_error_count`` calls, then each with ``token_error_rate``."""
    faults = sim.faults
    if sim.token_errors_left > 0:
        sim.token_errors_left -= 1
    elif not sim.chance(faults.token_error_rate):
        return None
    sim.stats["token_error"] += 1
    status = sim.rng.choice(faults.token_error_statuses or (503,))
    if status == 0:
        return drop_connection(request)
    if faults.token_error_html:
        return web.Response(status=status, content_type="text/html",
                            text=f"<html><body><h1>{status}</h1>The server is temporarily "
                                 "unable to service your request.</body></html>")
    return error_response(status, "CMN-211", "Simulated token endpoint failure")


def _refresh(sim: Simulator, refresh_token: str, now: float, ttl: float) -> Session | None:
    """A new token pair for a refresh token; None when it is refused (revoked, expired,
    already used, or refused by the ``refresh_refused_rate`` fault)."""
    if sim.chance(sim.faults.refresh_refused_rate):
        sim.stats["refresh_refused"] += 1
        return None
    return sim.store.refresh(refresh_token, now, ttl)


def _access_ttl(requested: object, sim: Simulator) -> float:
    ttl = float(sim.settings.access_token_ttl)
    if isinstance(requested, str) and requested.isdigit():
        ttl = min(ttl, float(requested))
    return ttl


def _token_info(sim: Simulator, session: Session, ttl: float, now: float) -> dict[str, Any]:
    if sim.chance(sim.faults.early_expiry_rate):
        # Expires early while the answer still promises the full TTL.
        session.access_expires = now + sim.faults.early_expiry
    return {
        "access_token": session.access_token,
        "token_type": "bearer",
        "expires_in": int(ttl),
        "refresh_token": session.refresh_token,
        "refresh_token_expires_in": sim.settings.refresh_token_ttl,
        "scope": "A2PSMS ReadAccounts SMS",
        "owner_id": sim.settings.owner_id,
        "endpoint_id": "simulator",
        "session_id": session.id,
    }

