"""Which profile, and where it is: the packaged ones, a user's own, the one a journal's run
used, and the one a server URL calls for (``choose_profile``).

The profiles ``simulator``, ``sandbox`` and ``production`` live in ``configs/`` and ship inside
the package as ``engine.profiles`` (read with ``importlib.resources``, so a wheel install finds
them); a user's own profiles are a path to a ``.toml`` file or a ``configs/NAME.toml`` in the
working directory, which wins over a packaged one of the same name.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from engine.errors import ConfigError

if TYPE_CHECKING:  # tomllib and importlib.resources load when a profile is read, not before
    from importlib.resources.abc import Traversable

USER_PROFILES = Path("configs")
ENV_SERVER_URL = "RC_SERVER_URL"
# RingCentral's sandbox entry point (reference/ringcentral-a2p-openapi.json, servers)
SANDBOX_HOST = "platform.devtest.ringcentral.com"


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


def packaged_dir() -> Traversable:
    from importlib.resources import files

    return files("engine.profiles")


def packaged_profiles() -> list[str]:
    """The names of the profiles that ship with the package."""
    return sorted(p.name.removesuffix(".toml") for p in packaged_dir().iterdir()
                  if p.name.endswith(".toml"))


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
    packaged = packaged_dir() / f"{profile}.toml"
    if packaged.is_file():
        return packaged
    raise ConfigError(profile, "profile", f"no profile named {profile!r}",
                      f"Use one of {', '.join(packaged_profiles())}, a configs/{profile}.toml "
                      "in this directory, or a path to a .toml file.")


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
