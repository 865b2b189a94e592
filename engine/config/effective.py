"""The effective settings and where each came from, for ``a2p config``; connects to nothing.

Precedence is that of engine/config/settings.py: a value in the profile file beats the
built-in default, ``RC_SERVER_URL`` beats the profile's ``server.url``, and an ``--env-file``
beats the environment (the CLI copies its RC_* values over the environment before any command).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from engine.config.credentials import (
    ENV_CLIENT_ID,
    ENV_CLIENT_SECRET,
    ENV_JWT,
    credentials_from_env,
    credentials_note,
    demo_credentials,
)
from engine.config.profiles import ENV_SERVER_URL, choose_profile, read_toml, resolve_profile
from engine.config.settings import Settings, is_packaged, load_settings, profile_values
from engine.errors import ConfigError

CREDENTIALS = (("client_id", ENV_CLIENT_ID), ("client_secret", ENV_CLIENT_SECRET),
               ("jwt", ENV_JWT))


@dataclass(frozen=True, slots=True)
class Source:
    """Where one value came from: ``kind`` is flag, environment, env-file, profile, default,
    demo or unset; ``detail`` names the variable, file or flag."""

    kind: str
    detail: str = ""

    @property
    def words(self) -> str:
        return {"flag": "flag", "environment": "environment", "env-file": ".env file",
                "profile": "profile file", "default": "built-in default",
                "demo": "simulator demo credentials", "unset": "not set"}[self.kind]

    def describe(self) -> str:
        """For the table: the profile file is named once, above it."""
        shown = self.kind not in ("profile", "demo") and self.detail
        return f"{self.words} ({self.detail})" if shown else self.words


@dataclass(frozen=True, slots=True)
class Setting:
    """One row: the key as a profile writes it, the value in effect, and its source."""

    key: str
    value: Any
    source: Source


@dataclass(frozen=True, slots=True)
class Effective:
    """What ``send`` would run with, and why."""

    profile: str
    file: str
    packaged: bool
    chosen: Source
    why: str
    settings: tuple[Setting, ...]
    notes: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "profile": {"name": self.profile, "file": self.file, "packaged": self.packaged,
                        "chosenBy": self.chosen.kind, "why": self.why},
            "settings": {s.key: {"value": s.value, "source": s.source.kind,
                                 "from": s.source.detail} for s in self.settings},
            "notes": list(self.notes),
        }

    def describe(self) -> str:
        width = max(len(s.key) for s in self.settings) + 2
        shown = [(s.key, _shown(s.value), s.source.describe()) for s in self.settings]
        values = max(len(v) for _, v, _ in shown) + 2
        kind = "packaged with a2p" if self.packaged else "your own"
        lines = [f"profile {self.profile}: {self.why}", f"  profile file ({kind}): {self.file}",
                 "",
                 f"  {'setting':<{width}}{'value':<{values}}from"]
        lines += [f"  {key:<{width}}{value:<{values}}{where}" for key, value, where in shown]
        lines += ["", "Times are in seconds; credentials are never shown."]
        return "\n".join(lines + [f"NOTE: {note}" for note in self.notes])


def effective(profile: str | None = None, env: Mapping[str, str] | None = None,
              env_file: Mapping[str, str] | None = None, env_file_path: str = "") -> Effective:
    """The settings ``send`` would use with ``--profile profile`` (None: chosen from the
    server URL) under ``env``; ``env_file`` holds the RC_* values that came from
    ``--env-file env_file_path`` (already copied into ``env``, as the CLI does)."""
    env = os.environ if env is None else env
    origin = _origins(env, env_file or {}, env_file_path)
    settings = load_settings(profile, env)
    raw = read_toml(resolve_profile(settings.source))
    url = env.get(ENV_SERVER_URL) or None
    if profile:
        chosen, why = Source("flag", "--profile"), f"given with --profile {profile}"
    else:
        chosen = origin(ENV_SERVER_URL) if url else Source("default")
        where = f" by {ENV_SERVER_URL} ({chosen.words})" if url else ""
        why = f"chosen{where}: {choose_profile(url)[1]}" if url else choose_profile(url)[1]
    rows = [Setting(f"{table}.{key}", value,
                    origin(ENV_SERVER_URL) if url and (table, key) == ("server", "url")
                    else _in(raw, table, key, settings))
            for table, key, value in profile_values(settings)]
    rows += _credentials(settings, env, origin)
    note = credentials_note(settings, credentials_from_env(env), env)
    return Effective(settings.profile, settings.source, is_packaged(settings), chosen, why,
                     tuple(rows), (note[1].removeprefix("WARNING: "),) if note else ())


Origin = Callable[[str], Source]


def _origins(env: Mapping[str, str], env_file: Mapping[str, str], path: str) -> Origin:
    def origin(name: str) -> Source:
        if name in env_file and env.get(name) == env_file[name]:
            return Source("env-file", f"{name} in {path}")
        return Source("environment", name)


    return origin


def _in(raw: Mapping[str, Any], table: str, key: str, settings: Settings) -> Source:
    section = raw.get(table)
    if isinstance(section, dict) and key in section:
        return Source("profile", settings.source)
    return Source("default")


def _credentials(settings: Settings, env: Mapping[str, str], origin: Origin
                 ) -> Iterator[Setting]:
    """Masked always: whether each is set, and from where; never a character of a value."""
    if credentials_from_env(env) is not None:
        yield from (Setting(f"credentials.{key}", "(set)", origin(name))
                    for key, name in CREDENTIALS)
        return
    try:
        demo_credentials(settings)  # a server elsewhere gets none: send stops and asks
    except ConfigError:
        yield from (Setting(f"credentials.{key}", None, Source("unset", name))
                    for key, name in CREDENTIALS)
        return
    demo = Source("demo", f"[simulator.demo_credentials] of {settings.source}")
    yield from (Setting(f"credentials.{key}", "(demo)", demo) for key, _ in CREDENTIALS)


def _shown(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)

