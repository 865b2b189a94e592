"""The settings of a run: a profile's sections (TOML), read by their types, and RC_SERVER_URL.

A profile names the server and every tunable; credentials never live in files
(engine/config/credentials.py). ``RC_SERVER_URL`` overrides the profile's URL and, when no
profile is named, chooses it (engine/config/profiles.py, ``choose_profile``).

``Settings`` is the one list of what a profile holds: each field says the table (and key) it
is read from, and each section is a dataclass whose fields are its keys (the retry section is
the retry policy's own ``Rules``). ``load_settings`` reads them all by their types
(engine/config/table.py) and ``a2p config`` lists them from the same fields
(``profile_values``), so a new setting is one field.
"""

from __future__ import annotations

import dataclasses
import os
import re
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from engine.config.profiles import (
    ENV_SERVER_URL,
    check_server_url,
    choose_profile,
    is_loopback,
    packaged_dir,
    read_toml,
    resolve_profile,
)
from engine.config.table import Table, read_fields, read_value
from engine.core.bounds import bounds
from engine.core.policy import Rules
from engine.errors import ConfigError, UsageError

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

# The guide says "about 50MB" and the spec says x-request-max-body-size: 50m (52,428,800
# bytes); 50,000,000 stays under either reading with room to spare.
DEFAULT_MAX_BATCH_BYTES = 50_000_000
# Field metadata: the profile table a Settings field is read from, and its key there (a field
# without a key is a whole table, read into its dataclass); ``check`` validates a value further.
TABLE, KEY = "table", "key"


@dataclass(frozen=True, slots=True)
class Limits:
    max_batch_bytes: int = field(default=DEFAULT_MAX_BATCH_BYTES, metadata=bounds(1024))
    max_batch_messages: int | None = field(default=None, metadata=bounds(1))  # 0: no cap


@dataclass(frozen=True, slots=True)
class PollSettings:
    interval: float = field(default=5.0, metadata=bounds(0.01))
    max_interval: float = field(default=60.0, metadata=bounds(0.01))
    timeout: float = field(default=6 * 3600.0, metadata=bounds(1.0))


@dataclass(frozen=True, slots=True)
class RateLimitSettings:
    """Client-side budget per RingCentral throttling group (x-throttling-group in the spec)."""

    light_requests: int = field(default=50, metadata=bounds(1))
    light_window: float = field(default=60.0, metadata=bounds(0.001))
    auth_requests: int = field(default=5, metadata=bounds(1))
    auth_window: float = field(default=60.0, metadata=bounds(0.001))
    # "If Retry-After is absent, wait 60 seconds" (RingCentral rate-limit docs).
    default_retry_after: float = field(default=60.0, metadata=bounds(0.0))


def _at(table: str, key: str | None = None, **more: Any) -> dict[str, Any]:
    return {TABLE: table, **({KEY: key} if key else {}), **more}


@dataclass(frozen=True, slots=True)
class Settings:
    profile: str
    source: str
    server_url: str = field(metadata=_at("server", "url", check=check_server_url))
    account: str = field(default="~", metadata=_at("server", "account"))
    concurrency: int = field(default=4, metadata=_at("send", "concurrency", **bounds(1, 64)))
    limits: Limits = field(default_factory=Limits, metadata=_at("limits"))
    retry: Rules = field(default_factory=Rules, metadata=_at("retry"))
    polling: PollSettings = field(default_factory=PollSettings, metadata=_at("polling"))
    rate_limit: RateLimitSettings = field(default_factory=RateLimitSettings,
                                          metadata=_at("rate_limit"))


def profile_values(settings: Settings) -> Iterator[tuple[str, str, Any]]:
    """(table, key, value) of every setting a profile can hold, in the order of the fields:
    the list ``load_settings`` reads and ``a2p config`` shows."""
    for spec in dataclasses.fields(Settings):
        if TABLE not in spec.metadata:
            continue
        value = getattr(settings, spec.name)
        if KEY in spec.metadata:
            yield spec.metadata[TABLE], spec.metadata[KEY], value
        else:
            yield from ((spec.metadata[TABLE], inner.name, getattr(value, inner.name))
                        for inner in dataclasses.fields(value))


E164 = re.compile(r"\+[1-9][0-9]{1,14}")


def check_campaign(sender: str, text: str | None, template: str | None) -> None:
    """Refuse, before anything is read or sent, a campaign the server would refuse whole."""
    if not E164.fullmatch(sender):
        raise UsageError(f"sender= / --from {sender!r} is not an E.164 number. Give your A2P "
                         "sender with its country code, e.g. +16505550100.")
    if text == "" or template == "":
        option = "text= / --text" if text == "" else "template= / --template"
        raise UsageError(f"{option} is empty: the server would reject every message. Give "
                         "the message text, or leave the option out to use a text column.")
    if text is not None and template is not None:
        raise UsageError("text= and template= (--text and --template) were both given; the "
                         "template would replace the text (and any text column). Use one of "
                         "them.")


def is_packaged(settings: Settings) -> bool:
    """Whether these settings come from a profile that ships with the package."""
    return settings.source == str(packaged_dir() / f"{settings.profile}.toml")


def check_journal_server(header: Mapping[str, Any], settings: Settings) -> None:
    """Refuse to continue or read a run on another server than the one it sent to."""
    server = header.get("server")
    if server and server != settings.server_url:
        raise UsageError(f"the run sent to {server}, but this profile points at "
                         f"{settings.server_url}: its batches are only there. Set "
                         f"RC_SERVER_URL={server} or pick the run's profile.")


def load_settings(profile: str | None = None, env: Mapping[str, str] | None = None
                  ) -> Settings:
    """Read and validate a profile; ``RC_SERVER_URL`` in ``env`` overrides its server URL and,
    when ``profile`` is None, chooses it (``choose_profile``).

    >>> load_settings("production").server_url
    'https://platform.ringcentral.com'
    """
    env = os.environ if env is None else env
    override = env.get(ENV_SERVER_URL)
    url = check_server_url(override, "environment", ENV_SERVER_URL) if override else None
    path = resolve_profile(profile or choose_profile(url)[0])
    root = Table(str(path), "", read_toml(path))
    settings = _settings_from(root, path)
    root.finish(ignore=("simulator",))
    if url is not None:
        _refuse_remote(settings, url)
        settings = replace(settings, server_url=url)
    return settings


def _refuse_remote(settings: Settings, url: str) -> None:
    """A profile made for a server on this machine keeps its timings to itself."""
    if is_loopback(settings.server_url) and not is_loopback(url):
        fit = choose_profile(url)[0]
        raise ConfigError(
            "environment", ENV_SERVER_URL,
            f"{url} is not on this machine, but the profile {settings.profile} is made for "
            f"a simulator at {settings.server_url}: it would look for a lost batch for only "
            f"{settings.retry.reconcile_window:g} s, and a batch the server creates later "
            "would be sent twice",
            f"Pass --profile {fit}, or leave --profile out (the profile then follows the "
            "server), or unset RC_SERVER_URL to use the simulator.")


def _settings_from(root: Table, path: Traversable) -> Settings:
    """Every field of Settings from the table (and key) its metadata names, by its type."""
    values: dict[str, Any] = {"profile": path.name.removesuffix(".toml"), "source": str(path)}
    hints = typing.get_type_hints(Settings)
    tables: dict[str, Table] = {}
    for spec in dataclasses.fields(Settings):
        if TABLE not in spec.metadata:
            continue
        name, kind = spec.metadata[TABLE], hints[spec.name]
        if KEY not in spec.metadata:
            values[spec.name] = read_fields(root.table(name), kind)
            continue
        if name not in tables:
            tables[name] = root.table(name)
        default = kind() if spec.default is dataclasses.MISSING else spec.default
        values[spec.name] = read_value(tables[name], spec.metadata[KEY], kind, default,
                                       spec.metadata)
        check = spec.metadata.get("check")  # (value, file, key) -> the value, or raises
        if check is not None:
            values[spec.name] = check(values[spec.name], str(path), f"{name}.{spec.metadata[KEY]}")
    for table in tables.values():
        table.finish()
    return Settings(**values)
