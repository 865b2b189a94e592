"""The simulator's own endpoints, outside /restapi, for tests and operators: the ledger of
every accepted message, the counters, the faults switched at run time, the consent records,
an inbound SMS (a STOP or START reply) from a recipient, the simulator's clock, and the audit
of what it processed against quiet hours and a daily cap (engine/simulator/audit.py)."""

from __future__ import annotations

import anyio
import orjson
from aiohttp import web

from engine.errors import ConfigError
from engine.schedule.rules import parse_quiet_hours
from engine.simulator.audit import DEFAULT_LIMIT, iso, stamp
from engine.simulator.consent_api import record_view
from engine.simulator.consents import is_e164
from engine.simulator.replies import error_response, json_response
from engine.simulator.settings import faults_from_mapping
from engine.simulator.state import SIMULATOR


async def ledger(request: web.Request) -> web.Response:
    """Every accepted message: [batch id, index in its request, to, text]; with
    ``?stamps=1`` also when it was processed (null while queued) and the recipient's zones
    and local times then."""
    sim = request.app[SIMULATOR]
    if request.query.get("stamps") not in ("1", "true"):
        entries = [list(entry) for entry in sim.store.ledger()]
        return json_response({"count": len(entries), "entries": entries})
    now = sim.now()
    entries = []
    for batch in list(sim.store.batches):
        processed = batch.processed(now)
        for i in range(batch.size):
            entry = [batch.id, batch.index_in_request(i), batch.to(i), batch.text_of(i)]
            entries.append(entry + ([stamp(batch, i).as_json()] if i < processed else [None]))
    return json_response({"count": len(entries), "entries": entries})


async def stats(request: web.Request) -> web.Response:
    sim = request.app[SIMULATOR]
    return json_response({"accepted": sim.store.accepted_count(),
                          "batches": len(sim.store.batches), "responses": dict(sim.stats)})


async def put_faults(request: web.Request) -> web.Response:
    """Replace every fault setting (those not given are off) and restart the seeded draws."""
    sim = request.app[SIMULATOR]
    try:
        sim.set_faults(faults_from_mapping(orjson.loads(await request.read())))
    except (orjson.JSONDecodeError, ValueError) as exc:
        return error_response(400, "CMN-101", str(exc), "faults")
    return json_response({"faults": "updated"})


async def consents(request: web.Request) -> web.Response:
    """Every consent record (both statuses), in the order they were made, with the version
    the consent API's ETag gives."""
    sim = request.app[SIMULATOR]
    store = sim.store.consents
    store.settle(sim.now())
    records = [record_view(r) for r in store.records()]
    return json_response({"count": len(records), "version": store.version,
                          "records": records})


async def inbound(request: web.Request) -> web.Response:
    """An SMS from a recipient (``from``) to a number of the account (``to``) now: STOP and
    the other opt-out keywords opt the pair out, START and its kind opt it back in."""
    sim = request.app[SIMULATOR]
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError as exc:
        return error_response(400, "CMN-104", str(exc))
    store = sim.store.consents
    if not isinstance(body, dict) or not is_e164(body.get("from")) \
            or body.get("to") not in store.numbers or not isinstance(body.get("text"), str):
        return error_response(400, "CMN-101", "Give from (the recipient), to (a number of the"
                              " account) and text, e.g. STOP.", "inbound")
    store.settle(sim.now())
    record = store.inbound(body["to"], body["from"], body["text"], sim.now())
    return json_response({"record": None if record is None else record_view(record)})


async def clock(request: web.Request) -> web.Response:
    """The simulator's time, and its simulated clock's spec (null on the real clock) for a
    library caller or a test to share it (``A2P_SIM_CLOCK``; the a2p CLI keeps the real
    clock)."""
    sim = request.app[SIMULATOR]
    simulated = sim.settings.clock
    return json_response({"now": iso(sim.now()),
                          "clock": None if simulated is None else simulated.spec()})


async def audit(request: web.Request) -> web.Response:
    """Every processed message judged: ``?quietHours=strict`` (off, tcpa, strict or
    HH:MM-HH:MM; default strict), ``dailyCap=N`` (days over it listed), ``limit=N``
    (offenders listed by name, default 100; all are counted)."""
    sim = request.app[SIMULATOR]
    query = request.query
    try:
        policy = parse_quiet_hours(query.get("quietHours", "strict"))
        cap = _count(query.get("dailyCap"), "dailyCap")
        limit = _count(query.get("limit"), "limit")
    except ConfigError as exc:
        return error_response(400, "CMN-101", str(exc), exc.source)
    found = await anyio.to_thread.run_sync(
        lambda: sim.audit(policy, cap, DEFAULT_LIMIT if limit is None else limit))
    return json_response(found.as_json())


def _count(text: str | None, name: str) -> int | None:
    if text is None:
        return None
    if not text.isdigit():
        raise ConfigError(name, "value", f"{text!r} is not a whole number",
                          f"Give {name} as digits, e.g. {name}=100.")
    return int(text)
