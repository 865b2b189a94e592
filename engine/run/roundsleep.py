"""A scheduled send's sleep between rounds (engine/run/rounds.py): without the journal's
lock, so `a2p outcomes` and a cron tick may use the journal meanwhile, and the lock taken back
at the wake: a reader's hold is waited out, a sending process's hold ends this run (it goes on
with the run), a journal replaced meanwhile ends it too.
"""

from __future__ import annotations

from pathlib import Path

import anyio

from engine.errors import JournalBusyError, JournalError, JournalTakenError
from engine.run.journal import read_header
from engine.run.journallock import JournalLock
from engine.run.options import SendOptions

__all__ = ["READER_TRIES", "READER_WAIT", "SENDS", "sleep_or_stop", "sleep_unlocked"]

# a reader (`a2p outcomes`) holding the journal at the wake: tried again every 5 s, 10 minutes
READER_WAIT, READER_TRIES = 5.0, 120
SENDS = "a2p send"  # the lock's command of a process that sends (a cron tick's): a takeover


async def sleep_unlocked(options: SendOptions, seconds: float, stop: anyio.Event,
                          lock: JournalLock, path: Path) -> bool:
    """Sleep until the next round without the journal's lock (`a2p outcomes` and a cron tick
    may use the journal meanwhile), then take it again: True when a stop came first.
    JournalTakenError when an ``a2p send`` holds it at the wake (a cron tick continues the
    run); a reader's hold is waited out (``_take_back``); JournalError when the journal is
    now another run's."""
    if seconds <= 0:
        return stop.is_set()
    run_id = read_header(path)["runId"]
    lock.release()
    if await sleep_or_stop(options, seconds, stop):
        return True  # stopped: the last round's report and the journal say it all
    if await _take_back(options, stop, lock, path):
        return True
    if read_header(path)["runId"] != run_id:
        raise JournalError(f"{path}: while this run slept, the journal was replaced by "
                           "another run's; this run ends. Its own journal is gone: read "
                           "what it sent from its report.")
    return False


async def _take_back(options: SendOptions, stop: anyio.Event, lock: JournalLock,
                     path: Path) -> bool:
    """The journal's lock again at the wake: True when a stop came first. Held by an ``a2p
    send`` (the side file names the command): that process continues the run, so this one
    ends (JournalTakenError). Held by a reader (`a2p outcomes`) or a holder whose identity
    cannot be read: nobody else sends, so the run tries again every ``READER_WAIT`` seconds
    (through its own sleep), then, after ``READER_TRIES``, a JournalBusyError naming it."""
    for tried in range(READER_TRIES + 1):
        try:
            lock.reacquire()
            return False
        except JournalTakenError:
            raise
        except JournalBusyError as busy:
            command = str((busy.holder or {}).get("command") or "")
            if command.startswith(SENDS):
                raise JournalTakenError(path, busy.holder) from None
            if tried == READER_TRIES:
                raise  # the reader still holds it: its JournalBusyError says who
        if await sleep_or_stop(options, READER_WAIT, stop):
            return True
    return False  # not reached: the last try returns or raises


async def sleep_or_stop(options: SendOptions, seconds: float, stop: anyio.Event) -> bool:
    """Sleep with the run's ``sleep`` until the next round; True when a stop came first."""
    if seconds <= 0:
        return stop.is_set()
    async with anyio.create_task_group() as group:
        async def sleep() -> None:
            await options.sleep(seconds)
            group.cancel_scope.cancel()

        group.start_soon(sleep)
        await stop.wait()
        group.cancel_scope.cancel()
    return stop.is_set()
