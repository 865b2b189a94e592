"""a2p-batch-engine: send SMS to huge lists through RingCentral's High Volume SMS API."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.config.credentials import Credentials, credentials_from_env
from engine.config.settings import Settings, load_settings
from engine.errors import (
    AmbiguousSendError,
    AuthError,
    AuthServiceError,
    BadRecordError,
    ConfigError,
    EngineError,
    InputError,
    RecordTooLargeError,
    RequestRejectedError,
    ServerError,
    UsageError,
)

if TYPE_CHECKING:
    from engine.results.export import outcomes
    from engine.run.api import send
    from engine.run.doors import check, send_events
    from engine.run.options import SendOptions
    from engine.run.syncdoor import send_sync

__version__ = "0.1.0"

__all__ = [
    "AmbiguousSendError",
    "AuthError",
    "AuthServiceError",
    "BadRecordError",
    "ConfigError",
    "Credentials",
    "EngineError",
    "InputError",
    "RecordTooLargeError",
    "RequestRejectedError",
    "SendOptions",
    "ServerError",
    "Settings",
    "UsageError",
    "check",
    "credentials_from_env",
    "load_settings",
    "outcomes",
    "send",
    "send_events",
    "send_sync",
]


def __getattr__(name: str) -> Any:
    # The sending door needs aiohttp and anyio; importing them only when it is used keeps
    # `import engine` and `a2p --help` fast (PEP 562).
    if name == "send":
        from engine.run.api import send

        return send
    if name in ("check", "send_events"):
        from engine.run import doors

        return getattr(doors, name)
    if name == "send_sync":
        from engine.run.syncdoor import send_sync

        return send_sync
    if name == "SendOptions":
        from engine.run.options import SendOptions

        return SendOptions
    if name == "outcomes":
        from engine.results.export import outcomes

        return outcomes
    raise AttributeError(f"module 'engine' has no attribute {name!r}")
