"""What the simulated account holds: OAuth sessions, batches and the ledger of accepted messages.

Pure state: every method takes the current time as an argument. Messages are stored per batch in
typed arrays (numbers as integers, texts in one UTF-8 blob) so ten million of them fit in a few
hundred megabytes; statuses, ids and costs are derived, not stored.
"""

from __future__ import annotations

import math
import random
import secrets
import uuid
from array import array
from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from engine.rc.errorcodes import DELIVERY_FAILED, SENDING_FAILED, TABLE
from engine.reading.phone import is_north_american
from engine.reading.segments import segment_count
from engine.schedule.caps import CAP_ZONE
from engine.simulator.consents import BatchConsent, ConsentStore
from engine.simulator.settings import ReceiptSettings, SimulatorSettings

MAX_TEXT = 1000  # MessageCreateRequest.text maxLength in the spec
CARRIER_CAP = "SMS-CAR-450"  # T-Mobile's daily brand limit reached (carrier_cap_after)
OPTED_OUT = "SMS-RC-413"  # a message to an opted-out pair (RingCentral's SMS error table)


class RequestError(Exception):
    """A request-level problem, answered with RingCentral's error shape."""

    def __init__(self, status: int, code: str, message: str, parameter: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.parameter = parameter


def invalid_parameter(name: str, detail: str = "") -> RequestError:
    message = f"Parameter [{name}] value is invalid." + (f" {detail}" if detail else "")
    return RequestError(400, "CMN-101", message, name)


@dataclass(slots=True)
class Session:
    id: str
    access_token: str
    access_expires: float
    refresh_token: str
    refresh_expires: float


@dataclass(slots=True)
class Batch:
    serial: int
    id: str
    sender: str
    text: str | None
    created: float
    rate: float
    numbers: array[int]
    request_index: array[int] | None
    text_blob: bytes | None
    text_ends: array[int] | None
    segments: array[int] | None
    uniform_segments: int
    failed: array[int]  # sorted indexes of the messages that fail
    codes: array[int]  # their error codes, as indexes into ``code_names``
    code_names: tuple[str, ...]
    silent: array[int]  # sorted indexes of the messages that never get a receipt
    delays: array[float] | None  # seconds from processing to receipt; None: at once
    consent: BatchConsent | None = None  # opted-out pairs fail SMS-RC-413 when processed
    # when its first message is processed: a sender's batches queue one after another, as
    # RingCentral paces each number (None: at its creation)
    starts: float | None = None

    @property
    def begins(self) -> float:
        """When the batch's processing starts (after the sender's batches before it)."""
        return self.created if self.starts is None else self.starts

    @property
    def size(self) -> int:
        return len(self.numbers)

    def processed(self, now: float) -> int:
        # The epsilon keeps float error from leaving the last message unprocessed.
        return max(0, min(self.size, int((now - self.begins) * self.rate + 1e-3)))

    def finished_at(self) -> float:
        return self.begins + self.size / self.rate

    def to(self, i: int) -> str:
        return f"+{self.numbers[i]}"

    def text_of(self, i: int) -> str:
        if self.text_blob is None or self.text_ends is None:
            return self.text or ""
        start = self.text_ends[i - 1] if i else 0
        end = self.text_ends[i]
        return self.text_blob[start:end].decode() if end > start else (self.text or "")

    def index_in_request(self, i: int) -> int:
        return self.request_index[i] if self.request_index is not None else i + 1

    def segments_of(self, i: int) -> int:
        return self.segments[i] if self.segments is not None else self.uniform_segments

    def segments_upto(self, n: int) -> int:
        if self.segments is None:
            return self.uniform_segments * n
        return sum(self.segments[:n]) if n < self.size else sum(self.segments)

    def failure(self, i: int) -> str | None:
        """The error code of a message chosen to fail, else None."""
        k = bisect_left(self.failed, i)
        if k < len(self.failed) and self.failed[k] == i:
            return self.code_names[self.codes[k]]
        return None

    def is_silent(self, i: int) -> bool:
        k = bisect_left(self.silent, i)
        return k < len(self.silent) and self.silent[k] == i

    def processed_at(self, i: int) -> float:
        return self.begins + (i + 1) / self.rate

    def blocked(self, i: int, now: float) -> bool:
        """Message ``i`` went to a pair opted out when it was processed: SendingFailed
        SMS-RC-413 at once, accepted in the 201 all the same (as RingCentral documents)."""
        return self.consent is not None and self.consent.blocked(
            self.numbers, i, self.processed_at(i), now)

    def charged(self, i: int, now: float) -> bool:
        return self.consent is None or self.consent.charged or not self.blocked(i, now)

    def blocked_indexes(self, now: float, processed: int) -> list[int]:
        """The processed messages that met an opt-out."""
        if self.consent is None:
            return []
        candidates = self.consent.candidates(self.numbers, now)
        return [i for i in candidates if i < processed and self.blocked(i, now)]

    def charged_segments(self, now: float, processed: int) -> int:
        """The segments charged for the first ``processed`` messages."""
        total = self.segments_upto(processed)
        if self.consent is None or self.consent.charged:
            return total
        return total - sum(self.segments_of(i) for i in self.blocked_indexes(now, processed))

    def fate(self, i: int, now: float, processed: int) -> tuple[str, str | None]:
        """(messageStatus, errorCode) of message ``i`` as of ``now``: Queued until processed,
        then Sent until its receipt arrives (never, for a silent one), then final."""
        if i >= processed:
            return "Queued", None
        if self.blocked(i, now):
            return SENDING_FAILED, OPTED_OUT
        if self.is_silent(i) or (self.delays is not None and
                                 now < self.created + (i + 1) / self.rate + self.delays[i]):
            return "Sent", None
        code = self.failure(i)
        if code is None:
            return "Delivered", None
        return failure_status(code), code

    def receipts_done_at(self) -> float:
        """When the last receipt arrives (silent messages never get one)."""
        late = max(self.delays, default=0.0) if self.delays is not None else 0.0
        return self.finished_at() + late


def failure_status(code: str) -> str:
    entry = TABLE.get(code)
    return entry.status if entry is not None else DELIVERY_FAILED


@dataclass(slots=True)
class _Draft:
    numbers: array[int] = field(default_factory=lambda: array("q"))
    request_index: array[int] = field(default_factory=lambda: array("q"))
    texts: list[bytes] = field(default_factory=list)
    text_ends: array[int] = field(default_factory=lambda: array("q"))
    segments: array[int] = field(default_factory=lambda: array("H"))
    own_texts: bool = False
    length: int = 0


def check_message(message: Any, batch_text: str | None) -> tuple[str, str] | RequestError:
    """The accepted (number, effective text) of one message, or why it is rejected."""
    if not isinstance(message, dict):
        return RequestError(400, "CMN-101", "Message must be an object", "messages")
    to = message.get("to")
    if not isinstance(to, list) or len(to) != 1 or not isinstance(to[0], str):
        return RequestError(400, "CMN-101", "Exactly one recipient number is supported", "to")
    if not is_north_american(to[0]):
        return RequestError(400, "SMS-RC-410", "The recipient number is invalid", "to")
    text = message.get("text", batch_text)
    if not isinstance(text, str) or not text:
        return RequestError(400, "CMN-100", "Text is missing for this recipient", "text")
    if len(text) > MAX_TEXT:
        return RequestError(400, "SMS-RC-413", f"Text is longer than {MAX_TEXT} characters", "text")
    return to[0], text


@dataclass(slots=True)
class _Fates:
    """Each message's receipt, drawn once per batch from the receipt settings' own seed (so
    the failure choice, drawn from ``failure_seed``, stays what it was)."""

    names: tuple[str, ...]
    codes: array[int]
    silent: array[int]
    delays: array[float] | None

    @classmethod
    def draw(cls, receipts: ReceiptSettings, serial: int, size: int, failed: array[int]
             ) -> _Fates:
        rng = random.Random(receipts.seed * 1_000_003 + serial)
        names = tuple(code for code, _ in receipts.codes) or ("SMS-CAR-411",)
        weights = [w for _, w in receipts.codes] or [1.0]
        codes = array("B", (names.index(c) for c in rng.choices(names, weights, k=len(failed))))
        failing = set(failed)
        quiet = round(size * receipts.no_receipt_rate)
        silent = array("q")
        if quiet:
            healthy = [i for i in range(size) if i not in failing]
            silent = array("q", sorted(rng.sample(healthy, min(quiet, len(healthy)))))
        delays = None
        if receipts.delay_median > 0:
            mu, sigma = math.log(receipts.delay_median), receipts.delay_sigma
            delays = array("f", (rng.lognormvariate(mu, sigma) for _ in range(size)))
        return cls(names, codes, silent, delays)


class Store:
    def __init__(self, settings: SimulatorSettings, consents: ConsentStore | None = None
                 ) -> None:
        self.settings = settings
        self.consents = consents if consents is not None else ConsentStore.seeded(settings, 0.0)
        self.batches: list[Batch] = []
        self._by_id: dict[str, Batch] = {}
        self._access: dict[str, Session] = {}
        self._refresh: dict[str, Session] = {}
        self._carrier_day: dict[date, int] = {}  # messages created per Pacific day
        # sender -> (its last batch's creation, when that batch is processed): its next batch
        # starts then (a FIFO)
        self._queue_end: dict[str, tuple[float, float]] = {}

    # OAuth sessions ------------------------------------------------------------------------

    def new_session(self, now: float, access_ttl: float) -> Session:
        session = Session(secrets.token_hex(8), "", 0.0, "", 0.0)
        return self._issue(session, now, access_ttl)

    def _issue(self, session: Session, now: float, access_ttl: float) -> Session:
        session.access_token = secrets.token_urlsafe(24)
        session.refresh_token = secrets.token_urlsafe(24)
        session.access_expires = now + access_ttl
        session.refresh_expires = now + self.settings.refresh_token_ttl
        self._access[session.access_token] = session
        self._refresh[session.refresh_token] = session
        return session

    def refresh(self, refresh_token: str, now: float, access_ttl: float) -> Session | None:
        """A new token pair; the refresh token is single-use and the old access token dies."""
        session = self._refresh.pop(refresh_token, None)
        if session is None or session.refresh_expires <= now:
            return None
        self._access.pop(session.access_token, None)
        return self._issue(session, now, access_ttl)

    def session_for(self, access_token: str) -> Session | None:
        return self._access.get(access_token)

    def open_sessions(self) -> int:
        return len(self._access)

    def revoke(self, token: str) -> None:
        session = self._access.get(token) or self._refresh.get(token)
        if session is not None:
            self._access.pop(session.access_token, None)
            self._refresh.pop(session.refresh_token, None)

    # Batches -------------------------------------------------------------------------------

    def create_batch(self, body: Any, now: float, carrier_cap_after: int = 0
                     ) -> tuple[Batch, list[dict[str, Any]]]:
        """A batch of the messages the request holds; with ``carrier_cap_after``, those past
        that many created the same Pacific day fail SMS-CAR-450 (a carrier's daily cap)."""
        sender, batch_text, messages = self._check_request(body)
        draft = _Draft()
        rejected: list[dict[str, Any]] = []
        for index, message in enumerate(messages, start=1):
            verdict = check_message(message, batch_text)
            if isinstance(verdict, RequestError):
                to = message.get("to") if isinstance(message, dict) else None
                to = [n for n in to if isinstance(n, str)] if isinstance(to, list) else []
                rejected.append({"index": index, "to": to,
                                 "errorCode": verdict.code, "description": verdict.message})
                continue
            self._add(draft, index, verdict, own=isinstance(message.get("text"), str))
        batch = self._seal(draft, sender, batch_text, now, len(messages))
        if carrier_cap_after:
            self._over_carrier_cap(batch, now, carrier_cap_after)
        self.batches.append(batch)
        self._by_id[batch.id] = batch
        self._replies(batch)
        return batch, rejected

    def _over_carrier_cap(self, batch: Batch, now: float, after: int) -> None:
        """The messages past ``after`` of the batch's Pacific day fail SMS-CAR-450 when
        processed (charged, as a carrier's cap failure is), whatever fate they had."""
        day = datetime.fromtimestamp(now, CAP_ZONE).date()
        before = self._carrier_day.get(day, 0)
        self._carrier_day[day] = before + batch.size
        first = max(0, after - before)
        if first >= batch.size:
            return
        fates = {i: batch.code_names[c] for i, c in zip(batch.failed, batch.codes, strict=True)}
        fates.update((i, CARRIER_CAP) for i in range(first, batch.size))
        names = tuple(dict.fromkeys((*batch.code_names, CARRIER_CAP)))
        batch.failed = array("q", sorted(fates))
        batch.codes = array("B", (names.index(fates[i]) for i in batch.failed))
        batch.code_names = names
        batch.silent = array("q", (i for i in batch.silent if i < first))

    def _replies(self, batch: Batch) -> None:
        """inbound_stop_rate: a seeded share of the recipients reply STOP a while after
        their message was processed; the opt-out applies from then on."""
        c = self.settings.consents
        count = round(batch.size * c.inbound_stop_rate)
        if not count:
            return
        rng = random.Random(f"{c.seed}:stop:{batch.serial}")
        for i in sorted(rng.sample(range(batch.size), count)):
            at = batch.processed_at(i) + c.inbound_stop_delay
            self.consents.reply_later(at, batch.sender, batch.to(i), "STOP")

    def _check_request(self, body: Any) -> tuple[str, str | None, list[Any]]:
        if not isinstance(body, dict):
            raise RequestError(400, "CMN-104", "Cannot parse request")
        sender = body.get("from")
        if not isinstance(sender, str) or sender not in self.settings.senders:
            raise invalid_parameter("from", "Use a phone number with the A2P SMS feature.")
        text = body.get("text")
        if text is not None and not isinstance(text, str):
            raise invalid_parameter("text")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise invalid_parameter("messages", "At least one message is required.")
        return sender, text, messages

    @staticmethod
    def _add(draft: _Draft, index: int, verdict: tuple[str, str], *, own: bool) -> None:
        number, text = verdict
        draft.numbers.append(int(number[1:]))
        draft.request_index.append(index)
        encoded = text.encode() if own else b""
        draft.own_texts |= own
        draft.texts.append(encoded)
        draft.length += len(encoded)
        draft.text_ends.append(draft.length)
        draft.segments.append(segment_count(text) if own else 0)

    def _seal(self, d: _Draft, sender: str, text: str | None, now: float, sent: int) -> Batch:
        serial = len(self.batches) + 1
        size = len(d.numbers)
        uniform = segment_count(text) if text else 1
        segments = None
        if d.own_texts:
            segments = array("H", (s or uniform for s in d.segments))
        rng = random.Random(self.settings.failure_seed * 1_000_003 + serial)
        failures = round(size * self.settings.failure_rate)
        failed = array("q", sorted(rng.sample(range(size), failures)))
        batch_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        fates = _Fates.draw(self.settings.receipts, serial, size, failed)
        identity = size == sent
        last, end = self._queue_end.get(sender, (now, now))
        # a store built by hand in an order that is not the clock's starts each at once
        starts = max(now, end) if now >= last else now
        self._queue_end[sender] = now, starts + size / self.settings.messages_per_second
        return Batch(
            serial=serial, id=batch_id, sender=sender,
            text=text, created=now, rate=self.settings.messages_per_second, numbers=d.numbers,
            request_index=None if identity else d.request_index,
            text_blob=b"".join(d.texts) if d.own_texts else None,
            text_ends=d.text_ends if d.own_texts else None,
            segments=segments, uniform_segments=uniform, failed=failed, codes=fates.codes,
            code_names=fates.names, silent=fates.silent, delays=fates.delays,
            consent=BatchConsent(self.consents, sender, self.settings.consents.charge_opted_out),
            starts=starts,
        )

    def batch(self, batch_id: str) -> Batch | None:
        return self._by_id.get(batch_id)

    def message(self, message_id: int) -> tuple[Batch, int] | None:
        serial, i = divmod(message_id, 1 << 32)
        if not 1 <= serial <= len(self.batches) or i >= self.batches[serial - 1].size:
            return None
        return self.batches[serial - 1], i

    def ledger(self) -> Iterator[tuple[str, int, str, str]]:
        """Every accepted message: (batch id, 1-based index in its request, to, text)."""
        for batch in self.batches:
            for i in range(batch.size):
                yield batch.id, batch.index_in_request(i), batch.to(i), batch.text_of(i)

    def accepted_count(self) -> int:
        return sum(batch.size for batch in self.batches)
