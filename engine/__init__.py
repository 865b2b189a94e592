"""a2p-batch-engine: send SMS to huge lists through RingCentral's High Volume SMS API."""

from __future__ import annotations

import importlib
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
    from engine.run.syncdoor import Interrupted, send_sync

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
    "Interrupted",
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


# The sending door needs aiohttp and anyio; importing them only when a name is first used
# keeps `import engine` and `a2p --help` fast (PEP 562). One line a lazy name: its module.
_LAZY = {
    "Interrupted": "engine.run.syncdoor",
    "SendOptions": "engine.run.options",
    "check": "engine.run.doors",
    "outcomes": "engine.results.export",
    "send": "engine.run.api",
    "send_events": "engine.run.doors",
    "send_sync": "engine.run.syncdoor",
}

if not TYPE_CHECKING:
    # Hidden from type checkers, which see the imports above: a typo (engine.sned) is then
    # an error for them, not an Any.
    def __getattr__(name: str) -> Any:
        module = _LAZY.get(name)
        if module is None:
            raise AttributeError(f"module 'engine' has no attribute {name!r}")
        return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    """The public names (lazy ones too, which ``globals()`` lacks until first used)."""
    return sorted({*__all__, *(name for name in globals() if name.startswith("__"))})
