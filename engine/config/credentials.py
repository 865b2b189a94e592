"""Credentials: from the environment only (RingCentral's own variable names, so the same shell
works with the official SDKs), else, for a simulator on this machine, the profile's demo ones.
Secrets never appear in repr(), logs or errors."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from engine.config.profiles import ENV_SERVER_URL, is_loopback, read_toml, resolve_profile
from engine.config.settings import Settings
from engine.config.table import Table, read_fields
from engine.errors import ConfigError

ENV_CLIENT_ID = "RC_APP_CLIENT_ID"
ENV_CLIENT_SECRET = "RC_APP_CLIENT_SECRET"
ENV_JWT = "RC_USER_JWT"


@dataclass(frozen=True, slots=True)
class Credentials:
    """OAuth client and user credentials. Secrets are kept out of repr() on purpose."""

    client_id: str
    client_secret: str = field(repr=False)
    jwt: str = field(repr=False)


# The local simulator's demo credentials: not secrets (docs/simulator.md).
DEMO_CREDENTIALS = Credentials("demo-client-id", "demo-client-secret", "demo-user-jwt")


def read_demo_credentials(t: Table) -> Credentials:
    """``[simulator.demo_credentials]`` of a profile, the built-in demo values by default."""
    return read_fields(t.table("demo_credentials"), Credentials, DEMO_CREDENTIALS)


def demo_credentials(settings: Settings) -> Credentials:
    """The demo credentials of a simulator on this machine, from the profile; anything else
    needs the RC_* variables. The library reads them here, never from the simulator."""
    missing = ConfigError("environment", "RC_APP_CLIENT_ID", "no credentials are set",
                          "Set RC_APP_CLIENT_ID, RC_APP_CLIENT_SECRET and RC_USER_JWT.")
    if not is_loopback(settings.server_url):
        raise missing
    try:
        path = resolve_profile(settings.source)
        return read_demo_credentials(Table(str(path), "", read_toml(path)).table("simulator"))
    except ConfigError:
        raise missing from None


def pick_credentials(settings: Settings, given: Credentials | None = None,
                     env: Mapping[str, str] | None = None) -> Credentials:
    """``given``, else the RC_* variables, else the simulator's demo credentials (on loopback
    only); says a line on logger ``engine.credentials`` when they may surprise (never a
    secret)."""
    if given is not None:
        return given
    env = os.environ if env is None else env
    found = credentials_from_env(env)
    chosen = found or demo_credentials(settings)
    note = credentials_note(settings, found, env)
    if note is not None:
        import logging  # here, not at import: `a2p --help` stays fast

        level = logging.WARNING if note[0] == "warning" else logging.INFO
        logging.getLogger("engine.credentials").log(level, note[1])
    return chosen


def credentials_note(settings: Settings, found: Credentials | None,
                     env: Mapping[str, str]) -> tuple[str, str] | None:
    """("warning" or "info", line) to say before credentials go to ``settings.server_url``: demo
    ones used because none were set, or others sent to a server on this machine."""
    url = settings.server_url
    if not is_loopback(url):
        return None
    if found is None:
        return "info", (f"no RC_* credentials are set: using the simulator's demo "
                        f"credentials for {url}")
    try:
        demo = demo_credentials(settings)
    except ConfigError:
        demo = DEMO_CREDENTIALS
    if found == demo:
        return None
    why = "" if env.get(ENV_SERVER_URL) else (
        f" (no RC_SERVER_URL is set: {settings.profile} profile's default)")
    return "warning", (
        f"WARNING: the credentials in {ENV_CLIENT_ID}, {ENV_CLIENT_SECRET} and {ENV_JWT} are "
        f"not the simulator's demo ones, and they go to {url}, a server on this machine"
        f"{why}. If they are RingCentral's, set RC_SERVER_URL or pass --profile production.")


def credentials_from_env(env: Mapping[str, str] | None = None) -> Credentials | None:
    """Credentials from RingCentral's variable names, or None when none is set."""
    env = os.environ if env is None else env
    names = (ENV_CLIENT_ID, ENV_CLIENT_SECRET, ENV_JWT)
    values = [env.get(name, "") for name in names]
    if not any(values):
        return None
    missing = [name for name, value in zip(names, values, strict=True) if not value]
    if missing:
        raise ConfigError("environment", missing[0], "is not set while other credentials are",
                          f"Set all of {', '.join(names)}, or none to use the simulator's.")
    return Credentials(client_id=values[0], client_secret=values[1], jwt=values[2])
