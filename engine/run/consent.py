"""RingCentral's opt-outs, read before the first POST: from the cache beside the journal
while it is fresh (engine/run/consentcache.py), else with the export or the search
(engine/rc/consents.py, chosen by engine/core/consent.py), streamed into the compact set a
run applies (engine/reading/consentset.py) and into a new cache at once, never held as
records. engine/run/gate.py applies the set to the list.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.core import consent as rules
from engine.core.consent import Cached, Choice, OptOut
from engine.core.optouts import EVERY_SENDER
from engine.errors import (
    BadBodyError,
    ConsentError,
    EngineError,
    RequestRejectedError,
    StoppedError,
)
from engine.rc import consents as api
from engine.rc.client import ApiClient
from engine.reading import phone
from engine.reading.consentset import ConsentSet
from engine.run.consentcache import CacheWriter, cached_records, load_cache
from engine.run.events import ConsentRead
from engine.run.report import stamp_ms

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Consents:
    """What was read and how: the set in scope, and the facts a run reports."""

    scope: str
    sender: str
    method: str  # rules.CACHED, SEARCH, EXPORT or CONDITIONAL
    requests: int
    read_at: float
    etag: str | None
    opt_outs: int  # opt-outs of the account read (every sender)
    why: str
    set: ConsentSet = field(repr=False, default_factory=lambda: ConsentSet([]))
    reads: int = 1  # the run's reads so far, this one included (consentrefresh.py)

    def event(self) -> ConsentRead:
        """The ``consent`` event; its JSON is the report's ``consent``."""
        return ConsentRead(self.scope, self.method, stamp_ms(self.read_at), self.requests,
                           self.method == rules.CACHED, self.opt_outs, len(self.set),
                           self.etag, self.reads)

    def as_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.event().to_json().items() if k != "event"}


async def read_consents(client: ApiClient, sender: str, scope: str, max_age: float,
                        cache: Path | None, wall: Callable[[], float],
                        owner: str | None = None) -> Consents:
    """The opt-outs ``scope`` needs for ``sender``: from the cache while it is fresh (and
    ``owner``'s, ``cache_owner``), else read (``rules.choose``) as the cache is written again.
    A ConsentError when they cannot be read: nothing may be sent without them."""
    server = client.settings.server_url
    cached = load_cache(cache, server, owner)
    now = wall()
    choice = rules.choose(cached, scope, sender, now, max_age)
    if choice.method == rules.CACHED:
        assert cached is not None
        assert cache is not None
        return _consents(scope, sender, choice, 0, cached, _kept(cache))
    try:
        async with _read(client, choice, cached) as read:
            records = read.opt_outs
            if records is None:  # a 304: the cached records still hold
                assert cache is not None
                records = _kept(cache)
            method = rules.EXPORT if choice.method == rules.CONDITIONAL else choice.method
            fresh = Cached(now, method, choice.sender_filter, read.etag, 0)
            with CacheWriter(cache, server, fresh, owner) as writer:
                return _consents(scope, sender, choice, read.requests, fresh,
                                 writer.passing(records))
    except (ConsentError, StoppedError):  # a stop is the user's: the run is interrupted
        raise
    except RequestRejectedError as exc:
        raise ConsentError(_refused(exc, choice)) from exc
    except BadBodyError as exc:  # an answer unusable as it is: asking again would not help
        raise ConsentError(f"the opt-outs (RingCentral's SMS consent records) could not be "
                           f"read: {exc}. This run sent nothing. Pull them page by page with "
                           "'a2p optouts pull --via search --out opt-outs.csv' and send with "
                           "--suppress opt-outs.csv --no-consent.") from exc
    except EngineError as exc:
        raise ConsentError(f"the opt-outs (RingCentral's SMS consent records) could not be "
                           f"read: {str(exc).rstrip('.')}. This run sent nothing. Run again "
                           "later; to send without them, pass --no-consent (opted-out "
                           "recipients then fail with SMS-RC-413 after RingCentral accepted "
                           "them).") from exc


def _kept(cache: Path) -> Iterator[OptOut]:
    """The cached records; a cache gone or spoiled since it was judged is a ConsentError."""
    try:
        yield from cached_records(cache)
    except (OSError, ValueError, TypeError) as exc:
        raise ConsentError(f"the opt-outs cached in {cache} could not be read back ({exc}). "
                           "This run sent nothing. Remove that file and run again: the "
                           "opt-outs are then read from RingCentral.") from exc


@asynccontextmanager
async def _read(client: ApiClient, choice: Choice, cached: Cached | None
                ) -> AsyncIterator[api.Read]:
    if choice.method == rules.SEARCH:
        yield await api.search(client, choice.sender_filter)
        return
    etag = cached.etag if cached is not None and choice.method == rules.CONDITIONAL else None
    async with api.export(client, etag) as read:
        yield read


def _consents(scope: str, sender: str, choice: Choice, requests: int, cached: Cached,
              opt_outs: Iterable[OptOut]) -> Consents:
    counted = _Counted(opt_outs)
    found = ConsentSet(r for r in readable(counted, sender) if rules.applies(r, scope, sender))
    return Consents(scope, sender, choice.method, requests, cached.read_at, cached.etag,
                    counted.count, choice.why, found)


class _Counted:
    """The records, counted as they pass (the set keeps only those in scope)."""

    def __init__(self, records: Iterable[OptOut]) -> None:
        self.records = records
        self.count = 0

    def __iter__(self) -> Iterator[OptOut]:
        for record in self.records:
            self.count += 1
            yield record


def readable(opt_outs: Iterable[OptOut], sender: str | None = None) -> Iterator[OptOut]:
    """The opt-outs with their numbers in E.164, as the list's are (``+1 415-555-0100`` and
    ``14155550100`` are +14155550100: a record written otherwise must still suppress). A
    record whose recipient is no phone number suppresses nobody: it is left out, with a
    warning naming it (and how many more), never an error that stops every run. A record
    whose recipient is ``sender`` (the run's --from) is a ConsentError: the export's party
    columns were read the wrong way round (``rules.swapped``)."""
    unreadable: list[OptOut] = []
    for record in opt_outs:
        to = phone.e164(record.to)
        frm = record.sender if record.sender == EVERY_SENDER else phone.e164(record.sender)
        if isinstance(to, phone.Problem):
            unreadable.append(record)
            continue
        if isinstance(frm, phone.Problem):
            frm = EVERY_SENDER  # an opt-out of a number we cannot read: of all of them
        found = record if (to, frm) == (record.to, record.sender) else \
            OptOut(to, frm, record.modified, record.source)
        wrong = None if sender is None else rules.swapped(found, sender)
        if wrong is not None:
            raise ConsentError(f"RingCentral's consent records cannot be read: {wrong}. "
                               "Nothing was sent. Check the export's header and tell "
                               "RingCentral's support; meanwhile pull the opt-outs with 'a2p "
                               "optouts pull --via search' and send with --suppress FILE "
                               "--no-consent.")
        yield found
    if unreadable:
        first = unreadable[0]
        log.warning("%d RingCentral consent record(s) name a recipient that is not a phone "
                    "number and suppress nobody, e.g. %r (opted out of %s, %s); check them in "
                    "RingCentral's consent records", len(unreadable), first.to, first.sender,
                    first.modified or "no time")


def _refused(exc: RequestRejectedError, choice: Choice) -> str:
    what = "search" if choice.method == rules.SEARCH else "export"
    fix = ("Give the app the SMS permission in the RingCentral developer console (the "
           "consent API needs it) and log in again" if exc.status == 403 else
           "Check the account and the server the profile names")
    return (f"the opt-outs (RingCentral's SMS consent records) could not be read: the "
            f"consents {what} was refused with {exc}. This run sent nothing: without them it "
            f"could text people who opted out. {fix}; or pass --no-consent (consent=False) "
            "to send without them, when another list (--suppress) holds the opt-outs.")
