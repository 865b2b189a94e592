"""a2p-batch-engine: send SMS to huge lists through RingCentral's High Volume SMS API."""

from engine.api import send, send_events
from engine.config import Credentials, Settings, credentials_from_env, load_settings
from engine.errors import (
    AmbiguousSendError,
    AuthError,
    BadRecordError,
    ConfigError,
    EngineError,
    InputError,
    RecordTooLargeError,
    RequestRejectedError,
    ServerError,
    UsageError,
)
from engine.outcomes import outcomes

__all__ = [
    "AmbiguousSendError",
    "AuthError",
    "BadRecordError",
    "ConfigError",
    "Credentials",
    "EngineError",
    "InputError",
    "RecordTooLargeError",
    "RequestRejectedError",
    "ServerError",
    "Settings",
    "UsageError",
    "credentials_from_env",
    "load_settings",
    "outcomes",
    "send",
    "send_events",
]
