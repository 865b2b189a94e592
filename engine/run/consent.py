"""RingCentral's opt-outs, read before the first POST and applied to the list: the consent
set (compact: engine/reading/suppressed.py), its cache beside the journal, and the gate that
turns a suppressed recipient into an ``LCL-OPTED-OUT`` local rejection.

Why a gate after the reader and not the reader's own ``--suppress`` set: a file is proven
unchanged on a resume, so the reader judges the whole list again as the run did; consent
records change while a campaign runs (a STOP). A resume must suppress a new opt-out among
the recipients not yet sent, and must not touch those already sent, which its input check
reads again and compares with what their chunks journaled. So the gate works on what the
resume will send (after the skipped chunks are taken out), and the positions it rejected
are journaled as local rejections, which a later read drops before anything compares them
(``drop``).

The cache (``<journal>.consents``, JSON): when the records were read, how, their ETag and the
opt-outs themselves. Within ``--max-consent-age`` a run or a resume uses it without a request;
older, it reads again (the export with If-None-Match: a 304 costs one request and no body).
"""

from __future__ import annotations

import hashlib
import logging
import os
from array import array
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from engine.batching.bodyscan import pieces_of, recipients
from engine.batching.chunker import Chunk
from engine.core import consent as rules
from engine.core.consent import Cached, Choice, OptOut
from engine.core.optouts import EVERY_SENDER
from engine.core.rejections import OPTED_OUT, Rejection
from engine.errors import BadBodyError, ConsentError, EngineError, RequestRejectedError
from engine.rc import consents as api
from engine.rc.client import ApiClient
from engine.reading import Block, phone
from engine.reading.suppressed import SuppressedBuilder
from engine.run import localqueue
from engine.run.events import ConsentRead
from engine.run.report import stamp

log = logging.getLogger(__name__)

CACHE_SUFFIX = ".consents"
CACHE_VERSION = 1


class ConsentSet:
    """The recipients the opt-outs in scope keep from the sender: ``hits`` for a block of
    E.164 numbers, ``describe`` for the rejection's sentence (sender and time).

    Compact, as a million opt-outs must be: the numbers in a Suppressed set, and beside it,
    per record, the index of its sender among the few distinct ones and its time in epoch
    milliseconds (``_millis``; a time that would not be written back the same is kept as it came, in
    a dict): some 12 bytes a record past the set's own, no OptOut object kept."""

    def __init__(self, opt_outs: Iterable[OptOut]) -> None:
        builder = SuppressedBuilder()
        builder.start_file("consent")
        self._senders: list[str] = []
        self._sender_index: dict[str, int] = {}
        self._who = array("I")
        self._when = array("q")
        self._odd: dict[int, str] = {}  # line -> a time kept as RingCentral wrote it
        for line, record in enumerate(opt_outs, 1):
            builder.add(record.to, line)  # the line: the record's place in the arrays
            k = self._sender_index.get(record.sender)
            if k is None:
                k = self._sender_index[record.sender] = len(self._senders)
                self._senders.append(record.sender)
            self._who.append(k)
            ms = _millis(record.modified)
            if ms is None and record.modified:
                self._odd[line] = record.modified
            self._when.append(-1 if ms is None else ms)
        builder.end_file()
        self._set = builder.build()

    def __len__(self) -> int:
        return len(self._set)

    def nbytes(self) -> int:
        """The bytes its arrays hold (the few senders and odd times aside)."""
        return (self._set.nbytes() + self._who.itemsize * len(self._who)
                + self._when.itemsize * len(self._when))

    def hits(self, numbers: list[str]) -> list[int]:
        return self._set.hits(numbers)

    def record(self, number: str) -> OptOut | None:
        """The opt-out that suppresses ``number`` (None: none does)."""
        line = self._set.line_of(number)
        if line is None:
            return None
        ms = self._when[line - 1]
        modified = self._odd.get(line, "") if ms < 0 else _iso(ms)
        return OptOut(number, self._senders[self._who[line - 1]], modified)

    def describe(self, number: str) -> str:
        record = self.record(number)
        assert record is not None, number
        return rules.describe(number, record)


def _millis(modified: str) -> int | None:
    """``modified`` as epoch milliseconds times two, plus one when written with milliseconds,
    when ``_iso`` writes it back the same; else None."""
    try:
        when = datetime.fromisoformat(modified)
    except ValueError:
        return None
    if when.tzinfo is None:
        return None
    code = round(when.timestamp() * 1000) * 2 + (1 if "." in modified else 0)
    return code if _iso(code) == modified else None


def _iso(code: int) -> str:
    """The time ``_millis`` coded, written as RingCentral wrote it (UTC, Z)."""
    when = datetime.fromtimestamp(code // 2 / 1000, UTC)
    return when.isoformat(timespec="milliseconds" if code % 2 else "seconds"
                          ).replace("+00:00", "Z")


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

    def event(self) -> ConsentRead:
        """The ``consent`` event; its JSON is the report's ``consent``."""
        return ConsentRead(self.scope, self.method, stamp(self.read_at), self.requests,
                           self.method == rules.CACHED, self.opt_outs, len(self.set),
                           self.etag)

    def as_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.event().to_json().items() if k != "event"}


def cache_path(journal: str | os.PathLike[str] | None) -> Path | None:
    return None if journal is None else Path(f"{os.fspath(journal)}{CACHE_SUFFIX}")


def cache_owner(run_id: str, client_id: str, account: str) -> str:
    """Whose a cache is: the run its journal holds, and who read it (a digest of the app's
    client id and the account, never a secret). A fresh run has a new run id, so it never
    uses a cache another run left (another account's opt-outs, on the same journal path);
    a resume of that run does, while the same app and account read for it."""
    who = hashlib.sha256(f"{client_id}\0{account}".encode()).hexdigest()[:16]
    return f"{run_id}/{who}"


def load_cache(path: Path | None, server: str, owner: str | None = None
               ) -> tuple[Cached, list[OptOut]] | None:
    """The cache at ``path``, if any is there, readable, of this server and of ``owner``
    (``cache_owner``; None: whoever wrote it)."""
    if path is None or not path.is_file():
        return None
    try:
        data = orjson.loads(path.read_bytes())
        if data.get("version") != CACHE_VERSION or data.get("server") != server:
            return None
        if owner is not None and data.get("owner") != owner:
            return None  # another run's, or another account's: read again
        cached = Cached(float(data["readAt"]), data["method"], data.get("from"),
                        data.get("etag"), len(data["records"]))
        return cached, [OptOut(*r) for r in data["records"]]
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None  # unreadable: read again


def save_cache(path: Path | None, server: str, cached: Cached, opt_outs: list[OptOut],
               owner: str | None = None) -> None:
    """Written whole then renamed, so a kill leaves the old cache or the new, never half."""
    if path is None:
        return
    data = {"version": CACHE_VERSION, "server": server, "owner": owner,
            "readAt": cached.read_at,
            "method": cached.method, "from": cached.sender_filter, "etag": cached.etag,
            "records": [[r.to, r.sender, r.modified] for r in opt_outs]}
    part = path.with_name(path.name + ".part")
    part.write_bytes(orjson.dumps(data))
    os.replace(part, path)


async def read_consents(client: ApiClient, sender: str, scope: str, max_age: float,
                        cache: Path | None, wall: Callable[[], float],
                        owner: str | None = None) -> Consents:
    """The opt-outs ``scope`` needs for ``sender``: from the cache while it is fresh (and
    ``owner``'s, ``cache_owner``), else read (``rules.choose``), the cache written again. A
    ConsentError when they cannot be read: nothing may be sent without them."""
    server = client.settings.server_url
    found = load_cache(cache, server, owner)
    cached, kept = found if found is not None else (None, [])
    now = wall()
    choice = rules.choose(cached, scope, sender, now, max_age)
    if choice.method == rules.CACHED:
        assert cached is not None
        return _consents(scope, sender, choice, 0, cached, kept)
    try:
        read = await _read(client, choice, cached)
    except ConsentError:
        raise
    except RequestRejectedError as exc:
        raise ConsentError(_refused(exc, choice)) from exc
    except BadBodyError as exc:  # an answer unusable as it is: asking again would not help
        raise ConsentError(f"the opt-outs (RingCentral's SMS consent records) could not be "
                           f"read: {exc}. This run sent nothing. Pull them page by page with "
                           "'a2p optouts pull --out opt-outs.csv' and send with --suppress "
                           "opt-outs.csv --no-consent.") from exc
    except EngineError as exc:
        raise ConsentError(f"the opt-outs (RingCentral's SMS consent records) could not be "
                           f"read: {str(exc).rstrip('.')}. This run sent nothing. Run again "
                           "later; to send "
                           "without "
                           "them, pass --no-consent (opted-out recipients then fail with "
                           "SMS-RC-413 after RingCentral accepted them).") from exc
    opt_outs = read.opt_outs if read.opt_outs is not None else kept
    method = rules.EXPORT if choice.method == rules.CONDITIONAL else choice.method
    fresh = Cached(now, method, choice.sender_filter, read.etag, len(opt_outs))
    save_cache(cache, server, fresh, opt_outs, owner)
    return _consents(scope, sender, choice, read.requests, fresh, opt_outs)


async def _read(client: ApiClient, choice: Choice, cached: Cached | None) -> api.Read:
    if choice.method == rules.SEARCH:
        return await api.search(client, choice.sender_filter)
    etag = cached.etag if cached is not None and choice.method == rules.CONDITIONAL else None
    return await api.export(client, etag)


def _consents(scope: str, sender: str, choice: Choice, requests: int, cached: Cached,
              opt_outs: list[OptOut]) -> Consents:
    return Consents(scope, sender, choice.method, requests, cached.read_at, cached.etag,
                    len(opt_outs), choice.why,
                    ConsentSet(r for r in readable(opt_outs)
                               if rules.applies(r, scope, sender)))


def readable(opt_outs: Iterable[OptOut]) -> Iterator[OptOut]:
    """The opt-outs with their numbers in E.164, as the list's are (``+1 415-555-0100`` and
    ``14155550100`` are +14155550100: a record written otherwise must still suppress). A
    record whose recipient is no phone number suppresses nobody: it is left out, with a
    warning naming it (and how many more), never an error that stops every run."""
    unreadable: list[OptOut] = []
    for record in opt_outs:
        to = phone.e164(record.to)
        sender = record.sender if record.sender == EVERY_SENDER else phone.e164(record.sender)
        if isinstance(to, phone.Problem):
            unreadable.append(record)
            continue
        if isinstance(sender, phone.Problem):
            sender = EVERY_SENDER  # an opt-out of a number we cannot read: of all of them
        yield record if (to, sender) == (record.to, record.sender) else \
            OptOut(to, sender, record.modified)
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


# The gate ------------------------------------------------------------------------------

class Gate:
    """Takes the recipients ``consents`` suppresses out of the blocks a run sends, each an
    LCL-OPTED-OUT rejection to ``sink``; ``drop`` takes out, from blocks read again, the
    positions it (or a run before, ``known``: the journal's local rejections) rejected.

    The reader's own rejections come through ``hold`` and are handed on with the gate's, in
    position order, as each block passes: the journal and the spill read local rejections
    back as ascending runs, and rejections out of order would make a run each (past 64 a
    resume sorts them all in memory)."""

    def __init__(self, consents: ConsentSet, sink: Callable[[Rejection], None],
                 known: AbstractSet[int] = frozenset()) -> None:
        self.consents = consents
        self.sink = sink
        self.known = known
        self.rejected: set[int] = set()
        self._held: list[Rejection] = []

    def hold(self, rejection: Rejection) -> None:
        """The reader's sink: its rejections wait for the block they precede (without
        opt-outs in scope nothing can come between them: they go on at once)."""
        if not len(self.consents):
            self.sink(rejection)
            return
        self._held.append(rejection)
        if len(self._held) >= localqueue.FLUSH_AT:  # a long run of bad records: handed on
            self.release()  # as the run's own queue would hand them on

    def release(self, own: list[Rejection] | None = None) -> None:
        """Hand on what is held (and ``own``), by position."""
        items, self._held = self._held + (own or []), []
        items.sort(key=_position)
        for rejection in items:
            self.sink(rejection)

    def block(self, block: Block) -> Block | None:
        """The block without its suppressed recipients (None: none is left)."""
        hits = self.consents.hits(block.tos) if len(self.consents) else []
        if not hits:
            if self._held:
                self.release()
            return block
        lines, own = block.lines, []
        for k in hits:
            to, position = block.tos[k], block.positions[k]
            self.rejected.add(position)
            own.append(Rejection(position, lines[k] if lines is not None else None, to,
                                 OPTED_OUT, self.consents.describe(to)))
        self.release(own)
        gone = set(hits)
        keep = [k for k in range(len(block)) if k not in gone]
        return block.subset(keep) if keep else None

    def screen(self, chunk: Chunk) -> list[tuple[int, Rejection]]:
        """The messages of a chunk cut by a run before (0-based, with their rejections) that
        the consents read now suppress: a chunk in flight at the stop and proved not created
        is screened before it is sent again (an opt-out may have come during the stop)."""
        if not len(self.consents):
            return []
        tos = tos_of(chunk)
        out = []
        for k in self.consents.hits(tos):
            position, line = chunk.index.locate(k + 1)
            self.rejected.add(position)  # a rebuild of what is left drops it
            out.append((k, Rejection(position, line, tos[k], OPTED_OUT,
                                     self.consents.describe(tos[k]))))
        return out

    def apply(self, blocks: Iterable[Block]) -> Iterator[Block]:
        for block in blocks:
            kept = self.block(block)
            if kept is not None:
                yield kept
        self.release()  # the reader's rejections after the last block

    async def aapply(self, blocks: AsyncIterable[Block]) -> AsyncIterator[Block]:
        async for block in blocks:
            kept = self.block(block)
            if kept is not None:
                yield kept
        self.release()

    def drop(self, blocks: Iterable[Block]) -> Iterator[Block]:
        """``blocks`` read again without the positions rejected here or by a run before."""
        known, rejected = self.known, self.rejected
        for block in blocks:
            if not known and not rejected:
                yield block
                continue
            keep = [k for k, p in enumerate(block.positions)
                    if p not in rejected and p not in known]
            if len(keep) == len(block):
                yield block
            elif keep:
                yield block.subset(keep)


def tos_of(chunk: Chunk) -> list[str]:
    """The chunk's recipients in order, read from its body a piece at a time."""
    return list(recipients(pieces_of(chunk.body)))


def _position(rejection: Rejection) -> int:
    return rejection.index


