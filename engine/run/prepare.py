"""What a run settles before its first request: its settings (the profile with the options
over it), the paths it will write (a report never over the journal, the input or a device; a
journal never over another run's), the resume's scope and consent age, and the journal's
header, written before the first POST.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from engine.config.settings import Settings, is_packaged, load_settings
from engine.errors import JournalError, UsageError
from engine.reading import ReadOptions
from engine.run.journal import Journal, read_journal
from engine.run.options import SendOptions
from engine.run.scheduling import new_run_advice
from engine.run.suppresskept import keep


def settings_of(options: SendOptions) -> Settings:
    config = options.config
    settings = config if isinstance(config, Settings) else load_settings(config)
    if options.concurrency:
        settings = replace(settings, concurrency=options.concurrency)
    if options.max_batch_bytes:
        settings = replace(settings, limits=replace(settings.limits,
                                                    max_batch_bytes=options.max_batch_bytes))
    if options.max_batch_messages:
        settings = replace(settings, limits=replace(
            settings.limits, max_batch_messages=options.max_batch_messages))
    return settings


def resume_scope(given: str | None, recorded: dict[str, Any],
                 journal: str | os.PathLike[str], scheduled: bool = False) -> str:
    """The journal's --suppress-scope; another one given to the resume is refused: the
    recipients sent and those not yet would be judged by two rules, and the run's report
    would name one."""
    scope = str(recorded.get("scope", "account"))
    if given is not None and given != scope:
        raise UsageError(f"--suppress-scope {given}: the run in {os.fspath(journal)} began "
                         f"with --suppress-scope {scope}, and a resume keeps it (the "
                         "recipients it sent were judged by it). Resume without "
                         f"--suppress-scope (or with {scope}); under {given}: "
                         + new_run_advice(os.fspath(journal), scheduled))
    return scope


def consent_age(options: SendOptions) -> float:
    """How old a cached read of the opt-outs may be before the first POST: a resume always
    asks again (a STOP may have come while the run was stopped; the export with If-None-Match
    costs one Light request and no body when nothing changed), a new run within
    ``--max-consent-age`` (during the run, engine/run/consentrefresh.py keeps them so)."""
    return 0.0 if options.resume is not None else options.max_consent_age


def journal_opener(options: SendOptions, settings: Settings, read: ReadOptions, run_id: str,
                    started: str, max_bytes: int, input_identity: dict[str, Any],
                    consent_scope: str | None = None,
                    schedule: dict[str, Any] | None = None) -> Callable[[], Journal] | None:
    path = options.journal
    if path is None:
        return None
    header = {"runId": run_id, "startedAt": started, "sender": options.sender,
              "text": options.text, "template": read.template, "profile": settings.profile,
              "profileSource": settings.source, "profilePackaged": is_packaged(settings),
              "server": settings.server_url,
              "maxBatchBytes": max_bytes,
              "maxBatchMessages": settings.limits.max_batch_messages,
              # where the report goes, so a resumed run writes it there again
              "report": str(Path(options.report).absolute()) if options.report else None,
              # how to read the input again, for 'a2p outcomes' and --resume alone
              "read": read.as_header(), "input": input_identity,
              # the consent records read before the first POST (None: --no-consent); a
              # resume of a run that read them drops what its gate rejected before
              "consent": None if consent_scope is None else {
                  "scope": consent_scope, "maxAge": options.max_consent_age}}
    if schedule is not None:  # a scheduled send's (engine/run/rounds.py): none otherwise
        header["schedule"] = schedule

    def opened() -> Journal:
        keep(path, read.suppress)  # the lists as read, for a resume and 'a2p outcomes'
        return Journal.create(Path(path), header)

    return opened


def check_journal(path: Path) -> None:
    """A journal to resume that is not there is refused saying so, before any lock file."""
    if not path.is_file():
        read_journal(path)


def refuse_report_over(report: str | os.PathLike[str] | None,
                        other: str | os.PathLike[str] | None, what: str) -> None:
    """The report is written over whatever is at its path: never the journal (the run could
    not be resumed) nor the input (the list would be gone), and only over a file (the rename
    would replace a device or a pipe). Refused before anything."""
    if report is None:
        return
    with contextlib.suppress(OSError):
        if not stat.S_ISREG(os.stat(report).st_mode):
            raise UsageError(f"the report path {os.fspath(report)} is not a file (a device, a "
                             "pipe or a folder): the report is written to a temporary file "
                             "beside it and renamed over it. Give a file path; events go to "
                             "stdout already.")
    if other is None:
        return
    same = os.path.realpath(report) == os.path.realpath(other)
    with contextlib.suppress(OSError):
        same = same or os.path.samefile(report, other)
    if same:
        raise UsageError(f"the report path {os.fspath(report)} is {what} "
                         f"({os.fspath(other)}): writing the report there would destroy it. "
                         "Choose another --report path.")


def refuse_existing(path: Path) -> None:
    """Refused before the login, not after: an existing journal is a run to resume."""
    if path.exists() and path.stat().st_size > 0:
        raise JournalError(f"{path}: a journal already exists there. Resume it with --resume "
                           f"{path}, or choose another --journal path.")
