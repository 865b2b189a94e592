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

import os
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from engine.core import consent as rules
from engine.core.consent import Cached, Choice, OptOut
from engine.core.rejections import OPTED_OUT, Rejection
from engine.errors import ConsentError, EngineError, RequestRejectedError
from engine.rc import consents as api
from engine.rc.client import ApiClient
from engine.reading import Block
from engine.reading.suppressed import SuppressedBuilder
from engine.run import localqueue
from engine.run.events import ConsentRead
from engine.run.report import stamp

CACHE_SUFFIX = ".consents"
CACHE_VERSION = 1


class ConsentSet:
    """The recipients the opt-outs in scope keep from the sender: ``hits`` for a block of
    E.164 numbers, ``describe`` for the rejection's sentence (sender and time)."""

    def __init__(self, opt_outs: list[OptOut]) -> None:
        self.opt_outs = opt_outs
        builder = SuppressedBuilder()
        builder.start_file("consent")
        for line, record in enumerate(opt_outs, 1):
            builder.add(record.to, line)  # the line: the record's place in opt_outs
        builder.end_file()
        self._set = builder.build()

    def __len__(self) -> int:
        return len(self._set)

    def hits(self, numbers: list[str]) -> list[int]:
        return self._set.hits(numbers)

    def describe(self, number: str) -> str:
        line = self._set.line_of(number)
        assert line is not None, number
        return rules.describe(number, self.opt_outs[line - 1])


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


def load_cache(path: Path | None, server: str) -> tuple[Cached, list[OptOut]] | None:
    """The cache at ``path``, if any is there, readable and of this server."""
    if path is None or not path.is_file():
        return None
    try:
        data = orjson.loads(path.read_bytes())
        if data.get("version") != CACHE_VERSION or data.get("server") != server:
            return None
        cached = Cached(float(data["readAt"]), data["method"], data.get("from"),
                        data.get("etag"), len(data["records"]))
        return cached, [OptOut(*r) for r in data["records"]]
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None  # unreadable: read again


def save_cache(path: Path | None, server: str, cached: Cached, opt_outs: list[OptOut]) -> None:
    """Written whole then renamed, so a kill leaves the old cache or the new, never half."""
    if path is None:
        return
    data = {"version": CACHE_VERSION, "server": server, "readAt": cached.read_at,
            "method": cached.method, "from": cached.sender_filter, "etag": cached.etag,
            "records": [[r.to, r.sender, r.modified] for r in opt_outs]}
    part = path.with_name(path.name + ".part")
    part.write_bytes(orjson.dumps(data))
    os.replace(part, path)


async def read_consents(client: ApiClient, sender: str, scope: str, max_age: float,
                        cache: Path | None, wall: Callable[[], float]) -> Consents:
    """The opt-outs ``scope`` needs for ``sender``: from the cache while it is fresh, else
    read (``rules.choose``), the cache written again. A ConsentError when they cannot be read:
    nothing may be sent without them."""
    server = client.settings.server_url
    found = load_cache(cache, server)
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
    save_cache(cache, server, fresh, opt_outs)
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
                    ConsentSet(rules.in_scope(opt_outs, scope, sender)))


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
        return subset(block, keep) if keep else None

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
                yield subset(block, keep)


def _position(rejection: Rejection) -> int:
    return rejection.index


def subset(block: Block, keep: list[int]) -> Block:
    return Block(
        [block.tos[k] for k in keep],
        [block.texts[k] for k in keep] if block.texts is not None else None,
        [block.positions[k] for k in keep],
        [block.lines[k] for k in keep] if block.lines is not None else None,
        [block.offsets[k] for k in keep] if block.offsets is not None else None,
    )
