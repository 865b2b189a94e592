"""Profiles (TOML files) and credentials (environment only), read once.

The profiles ``simulator``, ``sandbox`` and ``production`` live in ``configs/`` and ship inside
the package as ``engine.profiles`` (read with ``importlib.resources``, so a wheel install finds
them); a user's own profiles are a path to a ``.toml`` file or a ``configs/NAME.toml`` in the
working directory, which wins over a packaged one of the same name.

A profile names the server and every tunable; credentials never live in files. They come from
RingCentral's own variable names, so the same shell works with the official SDKs:
``RC_SERVER_URL`` (overrides the profile's URL and, when no profile is named, chooses it:
``choose_profile``), ``RC_APP_CLIENT_ID``, ``RC_APP_CLIENT_SECRET``, ``RC_USER_JWT``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from engine.core.policy import Rules
from engine.errors import ConfigError, UsageError

if TYPE_CHECKING:  # tomllib and importlib.resources load when a profile is read, not before
    from importlib.resources.abc import Traversable

USER_PROFILES = Path("configs")
# The guide says "about 50MB" and the spec says x-request-max-body-size: 50m (52,428,800
# bytes); 50,000,000 stays under either reading with room to spare.
DEFAULT_MAX_BATCH_BYTES = 50_000_000
ENV_SERVER_URL = "RC_SERVER_URL"
ENV_CLIENT_ID = "RC_APP_CLIENT_ID"
ENV_CLIENT_SECRET = "RC_APP_CLIENT_SECRET"
ENV_JWT = "RC_USER_JWT"
# RingCentral's sandbox entry point (reference/ringcentral-a2p-openapi.json, servers)
SANDBOX_HOST = "platform.devtest.ringcentral.com"

N = TypeVar("N", int, float)


class Table:
    """One TOML table being validated: typed getters that name the file and the key on error."""

    def __init__(self, source: str, prefix: str, data: Mapping[str, Any]) -> None:
        self._source = source
        self._prefix = prefix
        self._data = data
        self._seen: set[str] = set()

    def _key(self, key: str) -> str:
        return f"{self._prefix}{key}"

    def _fail(self, key: str, problem: str, fix: str) -> ConfigError:
        return ConfigError(self._source, self._key(key), problem, fix)

    def _raw(self, key: str, default: Any) -> Any:
        self._seen.add(key)
        return self._data.get(key, default)

    def names(self) -> list[str]:
        """The keys this table holds (for tables keyed by data, such as phone numbers)."""
        return list(self._data)

    def table(self, key: str) -> Table:
        value = self._raw(key, {})
        if not isinstance(value, dict):
            raise self._fail(key, f"expected a table, got {value!r}", f"Write it as [{key}].")
        return Table(self._source, f"{self._key(key)}.", value)

    def number(self, key: str, default: N, *, low: N, high: N | None = None) -> N:
        value = self._raw(key, default)
        kind = type(default)
        ok_type = isinstance(value, kind) or (kind is float and isinstance(value, int))
        allowed = f"{kind.__name__} from {low}" + (f" to {high}" if high is not None else " up")
        if isinstance(value, bool) or not ok_type:
            raise self._fail(key, f"expected a {kind.__name__}, got {value!r}", f"Use a {allowed}.")
        if value < low or (high is not None and value > high):
            raise self._fail(key, f"{value!r} is out of range", f"Use a {allowed}.")
        return kind(value)

    def optional_int(self, key: str, *, low: int) -> int | None:
        if self._data.get(key) in (None, 0):
            self._seen.add(key)
            return None
        return self.number(key, low, low=low)

    def text(self, key: str, default: str, choices: tuple[str, ...] = ()) -> str:
        value = self._raw(key, default)
        if not isinstance(value, str) or (choices and value not in choices):
            fix = f"Use one of: {', '.join(choices)}." if choices else "Use a quoted string."
            raise self._fail(key, f"invalid value {value!r}", fix)
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self._raw(key, default)
        if not isinstance(value, bool):
            raise self._fail(key, f"expected true or false, got {value!r}", "Use true or false.")
        return value

    def text_list(self, key: str, default: list[str]) -> tuple[str, ...]:
        value = self._raw(key, default)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self._fail(key, f"expected a list of strings, got {value!r}", 'Use ["a", "b"].')
        return tuple(value)

    def int_list(self, key: str, default: list[int]) -> tuple[int, ...]:
        value = self._raw(key, default)
        if not isinstance(value, list) or not all(type(v) is int for v in value):
            raise self._fail(key, f"expected a list of integers, got {value!r}", "Use [1, 2].")
        return tuple(value)

    def finish(self, *, ignore: tuple[str, ...] = ()) -> None:
        """Reject keys nobody read: a typo must not silently fall back to a default."""
        unknown = sorted(set(self._data) - self._seen - set(ignore))
        if unknown:
            allowed = ", ".join(sorted(self._seen)) or "none"
            raise self._fail(unknown[0], "unknown key", f"Allowed keys here: {allowed}.")


@dataclass(frozen=True, slots=True)
class Limits:
    max_batch_bytes: int = DEFAULT_MAX_BATCH_BYTES
    max_batch_messages: int | None = None


@dataclass(frozen=True, slots=True)
class PollSettings:
    interval: float = 5.0
    max_interval: float = 60.0
    timeout: float = 6 * 3600.0


@dataclass(frozen=True, slots=True)
class RateLimitSettings:
    """Client-side budget per RingCentral throttling group (x-throttling-group in the spec)."""

    light_requests: int = 50
    light_window: float = 60.0
    auth_requests: int = 5
    auth_window: float = 60.0
    # "If Retry-After is absent, wait 60 seconds" (RingCentral rate-limit docs).
    default_retry_after: float = 60.0


@dataclass(frozen=True, slots=True)
class Settings:
    profile: str
    source: str
    server_url: str
    account: str = "~"
    concurrency: int = 4
    limits: Limits = field(default_factory=Limits)
    retry: Rules = field(default_factory=Rules)
    polling: PollSettings = field(default_factory=PollSettings)
    rate_limit: RateLimitSettings = field(default_factory=RateLimitSettings)


@dataclass(frozen=True, slots=True)
class Credentials:
    """OAuth client and user credentials. Secrets are kept out of repr() on purpose."""

    client_id: str
    client_secret: str = field(repr=False)
    jwt: str = field(repr=False)


def is_loopback(url: str) -> bool:
    """A server on this machine: localhost, 127.0.0.0/8 or ::1 (not 127.example.com)."""
    import ipaddress

    host = (urlsplit(url).hostname or "").rstrip(".")
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


def choose_profile(url: str | None) -> tuple[str, str]:
    """The packaged profile made for the server at ``url``, and why. A profile's timings
    belong to its server: the simulator's 5 s search for a lost batch would resend, on
    RingCentral, a batch created a minute late.

    >>> choose_profile("https://platform.ringcentral.com")[0]
    'production'
    """
    if not url:
        return "simulator", "RC_SERVER_URL is not set: the local simulator, the default"
    host = urlsplit(url).hostname or ""
    if is_loopback(url):
        return "simulator", f"{host} is this machine (loopback)"
    if host.rstrip(".") == SANDBOX_HOST:
        return "sandbox", f"{host} is RingCentral's sandbox"
    return "production", f"{host} is neither this machine nor RingCentral's sandbox"


E164 = re.compile(r"\+[1-9][0-9]{1,14}")


def check_campaign(sender: str, text: str | None, template: str | None) -> None:
    """Refuse, before anything is read or sent, a campaign the server would refuse whole."""
    if not E164.fullmatch(sender):
        raise UsageError(f"--from {sender!r} is not an E.164 number. Give your A2P sender "
                         "with its country code, e.g. +16505550100.")
    if text == "" or template == "":
        option = "--text" if text == "" else "--template"
        raise UsageError(f"{option} is empty: the server would reject every message. Give "
                         "the message text, or leave the option out to use a text column.")
    if text is not None and template is not None:
        raise UsageError("--text and --template were both given; the template would replace "
                         "the text (and any text column). Use one of them.")


def check_server_url(url: str, source: str, key: str) -> str:
    """Plain http is allowed only on loopback: tokens must never cross a network in clear."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(source, key, f"{url!r} is not an http(s) URL",
                          "Use a URL such as https://platform.ringcentral.com.")
    if parts.scheme == "http" and not is_loopback(url):
        raise ConfigError(source, key, f"plain http is refused for {parts.hostname}",
                          "Use https, or http only for a simulator on 127.0.0.1.")
    return url.rstrip("/")


def _packaged() -> Traversable:
    from importlib.resources import files

    return files("engine.profiles")


def packaged_profiles() -> list[str]:
    """The names of the profiles that ship with the package."""
    return sorted(p.name.removesuffix(".toml") for p in _packaged().iterdir()
                  if p.name.endswith(".toml"))


def is_packaged(settings: Settings) -> bool:
    """Whether these settings come from a profile that ships with the package."""
    return settings.source == str(_packaged() / f"{settings.profile}.toml")


def check_journal_server(header: Mapping[str, Any], settings: Settings) -> None:
    """Refuse to continue or read a run on another server than the one it sent to."""
    server = header.get("server")
    if server and server != settings.server_url:
        raise UsageError(f"the run sent to {server}, but this profile points at "
                         f"{settings.server_url}: its batches are only there. Set "
                         f"RC_SERVER_URL={server} or pick the run's profile.")


def journal_profile(header: Mapping[str, Any]) -> str:
    """The profile a journal's run used: its file while that is there; a packaged profile by
    its name (found again after a reinstall moves it). A user's file that is gone is an
    error, never a silent switch to a packaged profile of the same name."""
    source, name = header.get("profileSource"), str(header.get("profile") or "simulator")
    if not source or header.get("profilePackaged"):
        return name
    if Path(source).is_file():
        return str(source)
    raise ConfigError(str(source), "profile", "the run's profile file is no longer there",
                      "Put it back, or pass --profile with the profile the run used.")


def resolve_profile(profile: str) -> Traversable:
    """A path to a TOML file, a ``configs/NAME.toml`` here, or a profile of the package."""
    candidate = Path(profile)
    if candidate.suffix == ".toml" or candidate.exists():
        if candidate.is_file():
            # absolute, so a journal that records it works from any directory
            return candidate.absolute()
        raise ConfigError(str(candidate), "profile", "no such file",
                          "Check the path, or name one of the profiles: "
                          f"{', '.join(packaged_profiles())}.")
    user = USER_PROFILES / f"{profile}.toml"
    if user.is_file():
        return user.absolute()
    packaged = _packaged() / f"{profile}.toml"
    if packaged.is_file():
        return packaged
    raise ConfigError(profile, "profile", f"no profile named {profile!r}",
                      f"Use one of {', '.join(packaged_profiles())}, a configs/{profile}.toml "
                      "in this directory, or a path to a .toml file.")


# The local simulator's demo credentials: not secrets (README: The simulator).
DEMO_CREDENTIALS = Credentials("demo-client-id", "demo-client-secret", "demo-user-jwt")


def read_demo_credentials(t: Table) -> Credentials:
    """``[simulator.demo_credentials]`` of a profile, the built-in demo values by default."""
    demo = t.table("demo_credentials")
    found = Credentials(client_id=demo.text("client_id", DEMO_CREDENTIALS.client_id),
                        client_secret=demo.text("client_secret",
                                                DEMO_CREDENTIALS.client_secret),
                        jwt=demo.text("jwt", DEMO_CREDENTIALS.jwt))
    demo.finish()
    return found


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


def read_toml(path: Traversable) -> dict[str, Any]:
    import tomllib

    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), "(file)", f"not valid TOML ({exc})",
                          "Fix the syntax at the line named.") from exc
    except OSError as exc:
        raise ConfigError(str(path), "(file)", f"cannot be read ({exc.strerror})",
                          "Check the path and its permissions.") from None


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
    server = root.table("server")
    url = check_server_url(server.text("url", ""), str(path), "server.url")
    account = server.text("account", "~")
    server.finish()
    limits_t = root.table("limits")
    limits = Limits(
        max_batch_bytes=limits_t.number("max_batch_bytes", DEFAULT_MAX_BATCH_BYTES, low=1024),
        max_batch_messages=limits_t.optional_int("max_batch_messages", low=1),
    )
    limits_t.finish()
    send = root.table("send")
    concurrency = send.number("concurrency", 4, low=1, high=64)
    send.finish()
    return Settings(
        profile=path.name.removesuffix(".toml"), source=str(path), server_url=url, account=account,
        concurrency=concurrency, limits=limits, retry=_retry(root.table("retry")),
        polling=_polling(root.table("polling")), rate_limit=_rate_limit(root.table("rate_limit")),
    )


def _retry(t: Table) -> Rules:
    d = Rules()
    value = Rules(
        max_attempts=t.number("max_attempts", d.max_attempts, low=1, high=100),
        backoff_initial=t.number("backoff_initial", d.backoff_initial, low=0.0),
        backoff_max=t.number("backoff_max", d.backoff_max, low=0.0),
        request_timeout=t.number("request_timeout", d.request_timeout, low=1.0),
        reconcile_window=t.number("reconcile_window", d.reconcile_window, low=0.0),
        store_window=t.number("store_window", d.store_window, low=0.0),
        chunk_deadline=t.number("chunk_deadline", d.chunk_deadline, low=0.0),
    )
    t.finish()
    return value


def _polling(t: Table) -> PollSettings:
    d = PollSettings()
    value = PollSettings(
        interval=t.number("interval", d.interval, low=0.01),
        max_interval=t.number("max_interval", d.max_interval, low=0.01),
        timeout=t.number("timeout", d.timeout, low=1.0),
    )
    t.finish()
    return value


def _rate_limit(t: Table) -> RateLimitSettings:
    d = RateLimitSettings()
    value = RateLimitSettings(
        light_requests=t.number("light_requests", d.light_requests, low=1),
        light_window=t.number("light_window", d.light_window, low=0.001),
        auth_requests=t.number("auth_requests", d.auth_requests, low=1),
        auth_window=t.number("auth_window", d.auth_window, low=0.001),
        default_retry_after=t.number("default_retry_after", d.default_retry_after, low=0.0),
    )
    t.finish()
    return value


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
