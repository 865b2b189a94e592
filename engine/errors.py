"""Every error the engine raises, in one tree.

    EngineError
    ├── UsageError                 the caller's settings or data are wrong; fix them and run again
    │   ├── ConfigError            a profile or environment variable is invalid (also ValueError)
    │   └── InputError             the recipient list cannot be read (also ValueError)
    │       ├── BadRecordError     one record is bad and the run was told to stop on the first
    │       └── RecordTooLargeError  one record alone does not fit under the batch byte limit
    │   └── SenderError            --from is not an A2P number of this user, or cannot be checked
    ├── ServerError                RingCentral (or the simulator) refused, limited or misbehaved
    │   ├── AuthError              credentials were refused
    │   └── RequestRejectedError   a 4xx with RingCentral's error code
    └── AmbiguousSendError         a request went out and no answer came: it may have been sent

Messages are sentences that say what went wrong, where, and what to do. No message ever
contains a client secret, a JWT or a token.
"""

from __future__ import annotations


class EngineError(Exception):
    """Root of every error the engine raises on purpose."""


class UsageError(EngineError):
    """The caller's settings or data are wrong."""


class ConfigError(UsageError, ValueError):
    """A profile value or an environment variable is missing or invalid."""

    def __init__(self, source: str, key: str, problem: str, fix: str) -> None:
        self.source = source
        self.key = key
        super().__init__(f"{source}: {key}: {problem}. {fix}")


class InputError(UsageError, ValueError):
    """The recipient list cannot be read."""


class BadRecordError(InputError):
    """A bad record, raised instead of recorded when the run stops on the first one."""

    def __init__(self, where: str, reason: str, fix: str) -> None:
        self.where = where
        self.reason = reason
        super().__init__(f"{where}: {reason}. {fix}")


class RecordTooLargeError(InputError):
    """One record serialises to more bytes than a whole batch may hold."""


class SenderError(UsageError):
    """The pre-flight found the sender number unusable: not this user's, or without the
    A2PSmsSender feature (or the app may not look its numbers up)."""


class ServerError(EngineError):
    """The server refused, limited or misbehaved."""


class AuthError(ServerError):
    """The server refused the credentials."""


class RequestRejectedError(ServerError):
    """The server answered a request with a 4xx and RingCentral's error shape."""

    def __init__(self, status: int, error_code: str, message: str) -> None:
        self.status = status
        self.error_code = error_code
        super().__init__(f"HTTP {status} {error_code}: {message}")


class AmbiguousSendError(EngineError):
    """A request went out and no answer came back: it may or may not have been processed."""
