"""Every error the engine raises, in one tree (and the one bug it raises on purpose).

    EngineError
    ├── UsageError                 the caller's settings or data are wrong; fix them and run again
    │   ├── ConfigError            a profile or environment variable is invalid (also ValueError)
    │   ├── InputError             the recipient list cannot be read (also ValueError)
    │   │   ├── BadRecordError     one record is bad and the run was told to stop on the first
    │   │   └── RecordTooLargeError  one record alone does not fit under the batch byte limit
    │   ├── SenderError            --from is not an A2P number of this user, or cannot be checked
    │   └── JournalError           the journal cannot be resumed: unreadable, or another run's
    │       ├── JournalBusyError   another process holds the journal (one process per journal)
    │       │   └── JournalTakenError  a scheduled send woke to find another process continuing it
    │       └── StreamResumeError  the run read a stream: a resume needs the same input again
    ├── ServerError                RingCentral (or the simulator) refused, limited or misbehaved
    │   ├── AuthError              credentials were refused at login (exit 3)
    │   ├── AuthServiceError       the token endpoint failed, or refuses every new token
    │   ├── RequestRejectedError   a 4xx with RingCentral's error code
    │   ├── PagingError            a listing that never ends (a page token repeated)
    │   ├── ConsentError           the opt-outs could not be read: nothing was sent
    │   └── BadAnswerError         a chunk's answer cannot be trusted (types, indexes)
    ├── BadBodyError               an answer is not the JSON it should be (or is too large)
    ├── NotSentError               no connection was made: the request certainly did not go out
    ├── AmbiguousSendError         a request went out and no answer came: it may have been sent
    ├── StoppedError               the run was stopped before this request went out: not sent
    └── StoppedReconciling         the run stopped while a lost answer was being looked for

    RuntimeError
    └── IllegalTransition          a bug: a chunk moved to a state the lifecycle table forbids

An EngineError is something the world did (a server, a file, the caller's settings): the CLI
prints it and exits with its code. IllegalTransition is the engine's own mistake, so it is not
an EngineError and nothing that handles those swallows it.

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
    """The token endpoint refused the credentials (an OAuth invalid_grant, invalid_client
    or unauthorized_client)."""


class AuthServiceError(ServerError):
    """No token could be had although the credentials were not refused: the token endpoint
    failed (5xx, 429, no answer) every time, or refuses every token it just issued."""


class RequestRejectedError(ServerError):
    """The server answered a request with a 4xx and RingCentral's error shape."""

    def __init__(self, status: int, error_code: str, message: str) -> None:
        self.status = status
        self.error_code = error_code
        super().__init__(f"HTTP {status} {error_code}: {message}")


class PagingError(ServerError):
    """A paged listing repeated a page token or went on past any sensible number of pages."""


class ConsentError(ServerError):
    """RingCentral's consent records (the opt-outs) could not be read before the first POST,
    so nothing was sent: the message says why and what to do (or --no-consent)."""


class AmbiguousSendError(EngineError):
    """A request went out and no answer came back: it may or may not have been processed."""


class StoppedError(EngineError):
    """A stop came while a batch-creating request waited its turn: it never went out."""


class JournalError(UsageError):
    """The journal cannot be used to resume: unreadable, or it does not match this run."""


class JournalBusyError(JournalError):
    """Another process holds the journal's lock: it is running this very run (or exporting
    its outcomes). Two at once would send the same chunks twice, so the second stops."""

    def __init__(self, journal: object, holder: dict[str, object] | None,
                 replaced: bool = False, reader: bool = False) -> None:
        self.journal = journal
        self.holder = holder
        if holder is None:
            who = "another process (its identity could not be read)"
        else:
            who = (f"{holder.get('command') or 'a2p'} (pid {holder.get('pid')} on host "
                   f"{holder.get('host')}, started {holder.get('startedAt')})")
        if replaced:  # the path names a new file, but the old one's process still runs
            super().__init__(
                f"{journal}: {who} still runs on the journal this path named before it was "
                "removed or replaced, and uses the files beside it (.bodies, "
                ".rejected.spill, .consents): a run here would remove them under it. Wait "
                f"for that process to end, or stop it, then run this again.")
            return
        if reader:  # a2p outcomes sends nothing: it waits for the run's journal to be free
            super().__init__(f"{journal}: the journal is in use by {who}, which is running "
                             "or continuing this run (one process at a time reads or writes "
                             "a journal). Run 'a2p outcomes' again when that process ends, or "
                             "while a scheduled send sleeps between rounds (it lets go of "
                             "the journal then).")
            return
        super().__init__(f"{journal}: the journal is in use by {who}. Only one process may "
                         "use a journal at a time (two would send the same batches twice): "
                         "wait for that one to end, or stop it, then run this again.")


class JournalTakenError(JournalBusyError):
    """A scheduled send sleeps without its journal's lock (so `a2p outcomes` and a cron tick
    can run meanwhile); at its wake another process held it: a cron tick took the run over
    and continues it, so this one ends (exit 75: nothing is lost, the journal has it all)."""

    def __init__(self, journal: object, holder: dict[str, object] | None) -> None:
        super().__init__(journal, holder)
        who = "another process" if holder is None else \
            f"{holder.get('command') or 'a2p'} (pid {holder.get('pid')})"
        self.args = (f"{journal}: while this run slept until its next round, {who} took the "
                     "journal and continues the run; this process ends here (nothing is "
                     "lost: the journal has every step). Follow that process, or read the "
                     f"outcomes with 'a2p outcomes {journal}' once it is done.",)


class StreamResumeError(JournalError):
    """A run that read a stream (stdin, an iterable) was resumed without its input: the
    journal cannot read it again, so the caller passes it again."""


class BadAnswerError(ServerError):
    """The server's answer for a chunk cannot be trusted (wrong types, indexes out of range)."""


class BadBodyError(EngineError):
    """The server's answer is not the JSON it should be."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class NotSentError(EngineError):
    """The request certainly did not reach the server (no connection was made)."""


class StoppedReconciling(EngineError):
    """The run stopped while a lost answer was being reconciled; a resume looks again."""


class IllegalTransition(RuntimeError):
    """A bug: a chunk was moved to a state its current one does not allow."""
