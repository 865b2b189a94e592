"""The simulator's settings: the ``[simulator]`` tables of a profile (configs/simulator.toml)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from engine.config.credentials import (
    DEMO_CREDENTIALS,
    Credentials,
    credentials_from_env,
    read_demo_credentials,
)
from engine.config.profiles import read_toml, resolve_profile
from engine.config.table import Table, read_fields
from engine.errors import ConfigError
from engine.simulator.clock import SimClock

FAULT_SCOPES = ("a2p", "send")


@dataclass(frozen=True, slots=True)
class GroupLimit:
    """A throttling group: ``requests`` per ``window`` seconds, then ``penalty`` seconds of 429."""

    requests: int
    window: float
    penalty: float


def _limits(low: float, high: float | None = None) -> dict[str, float | None]:
    """Bounds of a numeric fault setting, checked when a profile or PUT /_sim/faults sets it
    (a field named ``*_rate`` is a probability, 0 to 1, without saying so)."""
    return {"low": low, "high": high}


@dataclass(frozen=True, slots=True)
class FaultSettings:
    """Seeded fault injection; every rate is a probability per request in ``scope``.

    A new fault mode is a field here (its default is off; ``_limits`` bounds a number) and
    what it does: per request in gateway.py, on a batch POST in lost_answers.py, on a token
    in oauth.py, on a listing in a2p.py. The profile and ``PUT /_sim/faults`` read every
    field by itself.
    """

    seed: int = 0
    scope: str = field(default="a2p", metadata={"choices": FAULT_SCOPES})
    error_rate: float = 0.0
    error_statuses: tuple[int, ...] = (500, 502, 503)
    reset_rate: float = 0.0
    accept_drop_rate: float = 0.0
    burst_rate: float = 0.0
    burst_length: int = field(default=3, metadata=_limits(1))
    burst_retry_after: int = 1
    latency: float = 0.0
    latency_jitter: float = 0.0
    early_expiry_rate: float = 0.0
    early_expiry: float = 1.0
    # Lost answers, the way large services lose them:
    late_create_rate: float = 0.0   # answer 504 (or drop) at once, create the batch later
    late_create_delay: float = 2.0  # seconds after the answer the batch is created
    late_create_drop: bool = False  # drop the connection (a timeout/reset) instead of a 504
    listing_lag: float = 0.0        # seconds a new batch stays out of GET .../batches
    messages_after_start: bool = False  # messages listed only once processing has started,
    #                                     in an order other than the request's
    # seconds the server's clock is ahead (negative: behind)
    clock_skew: float = field(default=0.0, metadata=_limits(-86400.0, 86400.0))
    # listings give at most this many records a page (0: off)
    page_cap: int = field(default=0, metadata=_limits(0, 1000))
    # same-sender batches, other text, made beside each batch
    other_campaigns: int = field(default=0, metadata=_limits(0, 20))
    answer_piece: int = 0           # answers written in pieces of this many bytes (0: at once)
    answer_pause: float = 0.0       # seconds between those pieces
    # Tokens that expire again and again mid-run (issue 18):
    expire_after_requests: int = 0  # an access token meets 401 after this many uses (0: off)
    refresh_refused_rate: float = 0.0  # a refresh refused (invalid_grant): log in with the JWT
    # A failing token endpoint (issue 18): these token calls fail, then it heals
    token_error_count: int = 0      # the first this many token calls fail
    token_error_rate: float = 0.0   # and each later one with this chance
    token_error_statuses: tuple[int, ...] = (502, 503)  # how they fail; 0: connection dropped
    token_error_html: bool = False  # the failure's body is a gateway's HTML page, not JSON
    # A message store that lags Completed: each message is listed in GET .../messages only
    # up to this many seconds after it was processed (a seeded share of it each), in the
    # order it appeared there
    store_lag: float = 0.0
    # A 5xx (503 too) answered by the gateway after the backend created the batch:
    error_after_create_rate: float = 0.0
    error_after_create_statuses: tuple[int, ...] = (503,)
    # How those gateway 5xx look (and the outage's): the share given as a load balancer's
    # HTML page instead of a JSON error body; a Retry-After of this many seconds (0: none)
    gateway_html_rate: float = 0.0
    gateway_retry_after: int = field(default=0, metadata=_limits(0, 3600))
    # An answer held past the client's timeout: the batch created at once, the 201 later:
    hold_answer_rate: float = 0.0
    hold_answer: float = 0.0        # seconds the answer is held back
    # An outage: every batch POST answered this 5xx, nothing created, until it heals:
    outage_status: int = field(default=0, metadata=_limits(0, 599))  # 0: off
    outage_for: float = 0.0         # seconds after the faults were set; 0: until PUT /_sim/faults
    # A gateway whose Date header comes from a clock this many seconds off the backend's
    # (the creationTime clock; clock_skew moves both):
    date_skew: float = field(default=0.0, metadata=_limits(-86400.0, 86400.0))
    # A gateway's unreadable 2xx to a batch POST: half an HTML 200 page (maintenance, a WAF)
    # with nothing forwarded, half a 201 cut short after the batch was created:
    unreadable_2xx_rate: float = 0.0
    # A gateway's own 4xx to a batch POST, an HTML page, nothing forwarded (a deploy):
    gateway_4xx_rate: float = 0.0
    gateway_4xx_statuses: tuple[int, ...] = (408, 403, 404)
    # A 201 carrying an earlier batch's body, after the real batch was created (a mix-up):
    replayed_answer_rate: float = 0.0
    # The consent paths (v2 search, list, export, PATCH) refused 403 CMN-408: an app without
    # the SMS permission (engine/simulator/consent_api.py):
    consent_refused: bool = False
    # A gateway cutting the consent export short: a 200 with a valid Content-Length holding
    # the first half of the CSV, ending mid-row (engine/simulator/consent_api.py):
    consent_export_cut: bool = False
    # A gateway's body limit below the documented one: a batch POST over it answered 413
    # AGW-413, nothing created (bytes; 0: off; issue 20, the engine splits the chunk)
    body_limit: int = field(default=0, metadata=_limits(0, 1 << 30))
    # A carrier's daily cap (T-Mobile's brand limit): past this many messages a Pacific day
    # (by the batches' creation), every message fails SMS-CAR-450 (0: off; issue 22)
    carrier_cap_after: int = field(default=0, metadata=_limits(0))


# (error code, share of the failures) of the documented codes; an assumption, see docs/simulator.md.
REALISTIC_CODES: tuple[tuple[str, float], ...] = (
    ("SMS-CAR-411", 0.30), ("SMS-UP-410", 0.15), ("SMS-CAR-412", 0.10), ("SMS-CAR-413", 0.15),
    ("SMS-CAR-430", 0.05), ("SMS-RC-503", 0.10), ("SMS-CAR-104", 0.15),
)
RECEIPT_PRESETS = ("immediate", "fast", "realistic")


@dataclass(frozen=True, slots=True)
class ReceiptSettings:
    """When each processed message's final status (its carrier receipt) arrives.

    The delay after processing is lognormal with median ``delay_median`` seconds and shape
    ``delay_sigma``, drawn from ``seed``; ``no_receipt_rate`` of the messages never get one and
    stay ``Sent``; failures carry ``codes`` in the given proportions."""

    seed: int = 0
    delay_median: float = 0.0
    delay_sigma: float = 0.0
    no_receipt_rate: float = 0.0
    codes: tuple[tuple[str, float], ...] = REALISTIC_CODES


@dataclass(frozen=True, slots=True)
class ConsentSettings:
    """The account's consent records at start, and the recipients who answer STOP
    (``[simulator.consents]``; engine/simulator/consents.py, docs/simulator.md).

    ``opted_out`` pairs (and ``opted_in`` ones) are drawn from ``seed`` among the
    ``pool_size`` consecutive numbers from ``pool_start`` (the numbers tests/lists.py
    makes); ``elsewhere_share`` of the opt-outs are to another number of the account than
    the first sender (the one a campaign sends from by default)."""

    seed: int = 0
    opted_out: int = field(default=0, metadata=_limits(0, 10_000_000))
    opted_in: int = field(default=0, metadata=_limits(0, 10_000_000))
    pool_start: str = "+12012000000"
    pool_size: int = field(default=1_000_000, metadata=_limits(1))
    elsewhere_share: float = field(default=0.0, metadata=_limits(0.0, 1.0))
    # A message to an opted-out pair fails SMS-RC-413; whether it is charged is unconfirmed
    charge_opted_out: bool = False
    # The share of each batch's recipients who reply STOP, inbound_stop_delay seconds after
    # their message was processed (seeded; later messages to the pair fail SMS-RC-413)
    inbound_stop_rate: float = 0.0
    inbound_stop_delay: float = field(default=1.0, metadata=_limits(0.0))


RECEIPTS = {
    "immediate": ReceiptSettings(),
    "fast": ReceiptSettings(delay_median=1.0, delay_sigma=0.5, no_receipt_rate=0.01),
    "realistic": ReceiptSettings(delay_median=120.0, delay_sigma=1.0, no_receipt_rate=0.02),
}


@dataclass(frozen=True, slots=True)
class SimulatorSettings:
    credentials: Credentials
    credentials_from_env: bool = False
    senders: tuple[str, ...] = ("+16505550100",)
    # The user's other numbers: listed by GET .../phone-number without the A2PSmsSender feature.
    other_numbers: tuple[str, ...] = ("+16505550199",)
    # registrationTier of a number's SMS campaign (GET .../sms-configuration), by number.
    registration_tiers: tuple[tuple[str, str], ...] = ()
    account_id: str = "400131508008"
    owner_id: str = "400131508008"
    access_token_ttl: int = 3600
    refresh_token_ttl: int = 604800
    light: GroupLimit = GroupLimit(50, 60.0, 60.0)
    auth: GroupLimit = GroupLimit(5, 60.0, 60.0)
    retry_after_header: bool = True
    max_body_bytes: int = 50 * 1024 * 1024
    # per sender: its batches are processed one after another, as RingCentral paces a number
    messages_per_second: float = 1000.0
    price_per_segment: float = 0.007
    failure_rate: float = 0.02
    failure_seed: int = 1
    faults: FaultSettings = field(default_factory=FaultSettings)
    receipts: ReceiptSettings = field(default_factory=ReceiptSettings)
    # The consent records (opt-outs) the v1 and v2 consent APIs serve:
    consents: ConsentSettings = field(default_factory=ConsentSettings)
    # A simulated clock (engine/simulator/clock.py) instead of the real one: None, real time
    clock: SimClock | None = None


def load_simulator_settings(
    profile: str = "simulator", env: Mapping[str, str] | None = None
) -> SimulatorSettings:
    """Read ``[simulator]`` from a profile. Credentials set in ``env`` replace the demo ones, so a
    user can point the engine at the simulator with the same variables as at RingCentral."""
    path = resolve_profile(profile)
    root = Table(str(path), "", read_toml(path))
    table = root.table("simulator")
    return parse_simulator_table(table, env)


def parse_simulator_table(t: Table, env: Mapping[str, str] | None) -> SimulatorSettings:
    d = SimulatorSettings(credentials=DEMO_CREDENTIALS)
    file_credentials = read_demo_credentials(t)
    from_env = credentials_from_env(env)
    settings = SimulatorSettings(
        credentials=from_env or file_credentials,
        credentials_from_env=from_env is not None,
        senders=t.text_list("senders", list(d.senders)),
        other_numbers=t.text_list("other_numbers", list(d.other_numbers)),
        registration_tiers=_tiers(t.table("registration_tiers")),
        account_id=t.text("account_id", d.account_id),
        owner_id=t.text("owner_id", d.owner_id),
        access_token_ttl=t.number("access_token_ttl", d.access_token_ttl, low=1),
        refresh_token_ttl=t.number("refresh_token_ttl", d.refresh_token_ttl, low=1),
        light=_group(t.table("light"), d.light),
        auth=_group(t.table("auth"), d.auth),
        retry_after_header=t.flag("retry_after_header", d.retry_after_header),
        max_body_bytes=t.number("max_body_bytes", d.max_body_bytes, low=1024),
        messages_per_second=t.number("messages_per_second", d.messages_per_second, low=0.001),
        price_per_segment=t.number("price_per_segment", d.price_per_segment, low=0.0),
        failure_rate=t.number("failure_rate", d.failure_rate, low=0.0, high=1.0),
        failure_seed=t.number("failure_seed", d.failure_seed, low=0),
        faults=_faults(t.table("faults")),
        receipts=_receipts(t.table("receipts")),
        consents=_consents(t.table("consents")),
        clock=_clock(t.text("clock", "")),
    )
    t.finish()
    return settings


def _clock(text: str) -> SimClock | None:
    """``clock = "2026-03-07T05:00:00-05:00@x3600"``: simulated time; empty: the real one."""
    return SimClock.parse(text, "[simulator] clock") if text.strip() else None


def _tiers(t: Table) -> tuple[tuple[str, str], ...]:
    tiers = tuple((number, t.text(number, "")) for number in t.names())
    t.finish()
    return tiers


def _group(t: Table, d: GroupLimit) -> GroupLimit:
    value = GroupLimit(
        requests=t.number("requests", d.requests, low=1),
        window=t.number("window", d.window, low=0.001),
        penalty=t.number("penalty", d.penalty, low=0.0),
    )
    t.finish()
    return value


def _receipts(t: Table) -> ReceiptSettings:
    """``preset`` picks a starting point; any other key overrides it."""
    d = RECEIPTS[t.text("preset", "immediate", RECEIPT_PRESETS)]
    mix = _code_mix(t.text_list("codes", []), "[simulator.receipts]")
    value = ReceiptSettings(
        seed=t.number("seed", d.seed, low=0),
        delay_median=t.number("delay_median", d.delay_median, low=0.0),
        delay_sigma=t.number("delay_sigma", d.delay_sigma, low=0.0),
        no_receipt_rate=t.number("no_receipt_rate", d.no_receipt_rate, low=0.0, high=1.0),
        codes=mix or d.codes,
    )
    t.finish()
    return value


def _code_mix(entries: tuple[str, ...], where: str) -> tuple[tuple[str, float], ...]:
    """``["SMS-CAR-411:0.3", ...]``: each failure's error code, in these proportions."""
    mix = []
    for entry in entries:
        code, _, share = entry.partition(":")
        try:
            weight = float(share)
        except ValueError:
            weight = -1.0
        if not code or weight < 0:
            raise ConfigError(where, "codes", f"invalid entry {entry!r}",
                              'Write each as "CODE:share", e.g. "SMS-CAR-411:0.3".')
        mix.append((code, weight))
    return tuple(mix)


def _consents(t: Table) -> ConsentSettings:
    value = read_fields(t, ConsentSettings)
    where = "[simulator.consents]"
    start = value.pool_start
    if not (start.startswith("+") and start[1:].isdigit() and start[1:2] != "0"
            and len(start) <= 16):
        raise ConfigError(where, "pool_start", f"{start!r} is not an E.164 number",
                          'Write it as "+" and the digits, e.g. "+12012000000".')
    if value.opted_out + value.opted_in > value.pool_size:
        raise ConfigError(where, "opted_out", "opted_out + opted_in is more than pool_size",
                          "Raise pool_size or seed fewer records.")
    return value


def _faults(t: Table) -> FaultSettings:
    """Every field of FaultSettings, read by its type and checked (engine/config/table.py)."""
    return read_fields(t, FaultSettings)


def faults_from_mapping(data: Mapping[str, object], source: str = "faults") -> FaultSettings:
    """Fault settings from a JSON object (``PUT /_sim/faults``), validated like the TOML."""
    return _faults(Table(source, "", dict(data)))
