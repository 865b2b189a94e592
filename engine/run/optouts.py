"""``a2p optouts``: the account's opt-outs pulled into a suppression file that ``--suppress``
reads back, and local opt-outs (a do-not-contact list, a STOP taken by phone) pushed to
RingCentral so every sender of the account honours them.

The file work is here; the requests are engine/rc/optouts.py's, the decisions
engine/core/optouts.py's. A pulled file is written to ``FILE.part`` and renamed when whole,
so a file named FILE is never a half-read list of opt-outs.
"""

from __future__ import annotations

import csv
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from engine.config.credentials import Credentials
from engine.config.settings import E164, Settings
from engine.core.consent import EXPORT, SEARCH, OptOut, swapped
from engine.core.optouts import (
    COLUMNS,
    EVERY_SENDER,
    OPT_OUT,
    Failure,
    PushRequests,
    failures,
    pulled_row,
    refused_whole,
)
from engine.core.rejections import Rejection
from engine.errors import EngineError, RequestRejectedError, UsageError
from engine.rc.consents import FULL, export
from engine.rc.optouts import opt_outs, patch
from engine.rc.transport import Transport
from engine.reading import ReadOptions
from engine.run.consent import readable
from engine.run.replacing import replace_file
from engine.run.session import api_client
from engine.run.suppress import read_numbers


@dataclass(frozen=True, slots=True)
class Pulled:
    """What a pull wrote: ``records`` rows to ``path`` (a number opted out of two senders
    is two rows, one per sender), from ``pages`` answers (search pages, or the one export;
    ``requests`` Light requests, logins aside); ``skipped``: records read that were not
    opt-outs of the scope."""

    path: str
    records: int
    pages: int
    requests: int
    skipped: int
    via: str = "export"


@dataclass(frozen=True, slots=True)
class Pushed:
    """What a push did: ``numbers`` sent in ``requests`` PATCH requests, ``failed`` of them
    (refused by RingCentral, one by one or a whole request's, or a line without a readable
    number) reported one by one; ``opted_out``: the numbers RingCentral applied."""

    numbers: int
    requests: int
    failed: int
    refused: int = 0  # numbers sent whose records RingCentral did not apply

    @property
    def opted_out(self) -> int:
        return self.numbers - self.refused


def check_sender(sender: str, verb: str) -> None:
    """``--from``: ``*`` (every number of the account, for a push) or an E.164 number,
    refused here before any request (RingCentral would refuse each record of a PATCH)."""
    if sender == "*" and verb == "push":
        return
    if not E164.fullmatch(sender):
        raise UsageError(f"a2p optouts {verb}: --from {sender!r} is not an E.164 number. Give "
                         "the account's number with its country code, e.g. +16505550100.")


def target(out: str | os.PathLike[str]) -> Path:
    """The file ``--out`` names, checked before any request: a symlink's target (written, the
    link kept), never a directory, a device or a FIFO (which a rename would replace), in a
    directory that exists."""
    given = os.fspath(out)
    path = Path(os.path.realpath(given))
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise UsageError(f"a2p optouts pull --out {given}: {exc.strerror or exc}.") from exc
    if mode is not None and not stat.S_ISREG(mode):
        kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file (a device, a " \
            "FIFO or a socket)"
        raise UsageError(f"a2p optouts pull --out {given}: {path} is {kind}; the pulled "
                         "opt-outs are written to a file there and renamed into place. Name "
                         "a file, e.g. --out opt-outs.csv.")
    if not path.parent.is_dir():
        raise UsageError(f"a2p optouts pull --out {given}: the directory {path.parent} does "
                         "not exist. Create it, or name a file in an existing directory.")
    return path


async def pull(out: str | os.PathLike[str], *, scope: str = "account",
               sender: str | None = None, via: str = EXPORT,
               config: Settings | str | None = None,
               credentials: Credentials | None = None,
               transport: Transport | None = None) -> Pulled:
    """Write the account's opt-outs (``scope`` account: to any of its numbers; pair: to
    ``sender``) as a CSV suppression file: ``to,from,optStatus,source,lastModifiedTime``.
    ``via`` the export (one Light request whatever their number, the default) or the search
    (one per 1,000: for an export a gateway spoils). ``out`` is checked before any request
    (``target``); a symlink's target is written.

    >>> await pull("opt-outs.csv", scope="pair", sender="+16505550100")  # doctest: +SKIP
    """
    if sender is not None:
        check_sender(sender, "pull")
    if via not in (EXPORT, SEARCH):
        raise UsageError(f"a2p optouts pull: --via {via!r}: use export (one request) or "
                         "search (one request per 1,000 opt-outs).")
    path = target(out)
    part = path.with_name(path.name + ".part")
    records = pages = skipped = 0
    async with api_client(config, credentials, transport) as client:
        try:
            with part.open("w", newline="", encoding="utf-8") as stream:
                writer = csv.writer(stream, lineterminator="\n")
                writer.writerow(COLUMNS)
                if via == EXPORT:
                    async with export(client) as read:
                        assert read.opt_outs is not None
                        pages = 1
                        # numbers in E.164 before --from is compared, as a send reads them
                        for record in readable(read.opt_outs, sender):
                            if scope == "pair" and record.sender not in (sender, EVERY_SENDER):
                                skipped += 1
                                continue
                            writer.writerow((record.to, record.sender, OPT_OUT, record.source,
                                             record.modified))
                            records += 1
                else:
                    async for page in opt_outs(client, scope, sender):
                        pages += 1
                        for found in page:
                            row = pulled_row(found, scope, sender)
                            if row is None:
                                skipped += 1
                                continue
                            _refuse_swapped(row, sender)
                            writer.writerow(row)
                            records += 1
                stream.flush()
                os.fsync(stream.fileno())
            replace_file(part, path)
        except OSError as exc:
            part.unlink(missing_ok=True)
            if exc.errno not in FULL:
                raise
            raise EngineError(f"a2p optouts pull --out {out}: {part} could not be written "
                              f"({exc.strerror or exc}, after {records:,} opt-outs): the disk "
                              "is full or the file outgrew the size limit (ulimit -f). Free "
                              f"space in {path.parent} or name a file on a disk with room; "
                              f"{path} was left as it was.") from exc
        except BaseException:
            part.unlink(missing_ok=True)
            raise
        requests = client.requests
    return Pulled(str(path), records, pages, requests, skipped, via)


def _refuse_swapped(row: tuple[str, ...], sender: str | None) -> None:
    """A search record whose recipient is the pull's --from: the read is refused."""
    if sender is None:
        return
    wrong = swapped(OptOut(row[0], row[1], ""), sender)
    if wrong is not None:
        raise EngineError(f"a2p optouts pull: {wrong}. Nothing was written.")


async def push(source: str | os.PathLike[str], *, sender: str = "*",
               read: ReadOptions | None = None, config: Settings | str | None = None,
               credentials: Credentials | None = None, transport: Transport | None = None,
               on_failure: Callable[[Failure], None] = lambda failure: None) -> Pushed:
    """Opt out every number ``source`` lists (read as ``--suppress`` reads a file, with
    ``read``'s country rules) from ``sender`` (``*``: every number of the account), at most
    1,000 records a PATCH; each failure (a record RingCentral refused, a PATCH refused whole
    with the lines it carried, a line without a readable number) goes to ``on_failure``
    with its line(s), and the push goes on with the next request. Safe to run again.

    >>> await push("do-not-contact.csv")  # doctest: +SKIP
    """
    check_sender(sender, "push")
    path = os.fspath(source)
    options = read or ReadOptions(source=path)
    requests = PushRequests(sender)
    numbers = sent = failed = refused = 0

    def unreadable(rejection: Rejection) -> None:
        nonlocal failed
        failed += 1
        on_failure(Failure(rejection.line, rejection.to or "", rejection.error_code,
                           rejection.description))

    async with api_client(config, credentials, transport) as client:

        async def flush() -> None:
            nonlocal numbers, sent, failed, refused
            for body, lines in requests.flush():
                sent += 1
                numbers += len(lines)
                try:
                    answer = await patch(client, body)
                except RequestRejectedError as exc:  # a 4xx: none of its records applied
                    whole = refused_whole(lines, exc.error_code,
                                          str(exc).split(": ", 1)[-1])
                    failed += whole.numbers
                    refused += whole.numbers
                    on_failure(whole)
                    continue
                for failure in failures(answer, lines):
                    failed += 1
                    refused += 1
                    on_failure(failure)

        for tos, lines in read_numbers(path, options, unreadable):
            for to, line in zip(tos, lines, strict=True):
                if requests.add(to, line):
                    await flush()
        await flush()
    return Pushed(numbers, sent, failed, refused)
