"""Fakes for tests that run in milliseconds: an in-memory transport driven by a handler
function (like httpx's MockTransport), a clock whose ``sleep`` advances it, and a small
in-memory A2P server to hand to that transport."""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import anyio
import anyio.lowlevel
import orjson

from engine.batching.chunker import Body
from engine.config.credentials import Credentials
from engine.config.settings import Settings, load_settings
from engine.rc.transport import Reply

ACCOUNT = "/restapi/v1.0/account/~/a2p-sms"
CREDENTIALS = Credentials("fake-id", "fake-secret", "fake-jwt")
SENDER = "+16505550100"


class FakeClock:
    """A clock the test (or the code under test, through ``sleep``) moves: nothing waits."""

    def __init__(self, now: float = 1_790_000_000.0) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        """Advance the clock instead of waiting; still a checkpoint, so other tasks run."""
        self.slept.append(seconds)
        self.now += max(0.0, seconds)
        await anyio.lowlevel.checkpoint()


@dataclass(frozen=True, slots=True)
class Request:
    """One request as the transport received it."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes | None
    params: Mapping[str, Any]

    @property
    def path(self) -> str:
        """The path under the account's a2p-sms root (or the whole path outside it)."""
        path = urlsplit(self.url).path
        return path[len(ACCOUNT):] if path.startswith(ACCOUNT) else path

    def json(self) -> Any:
        return orjson.loads(self.body or b"{}")


Answer = Reply | BaseException
Handler = Callable[[Request], Answer | Awaitable[Answer]]


class MockTransport:
    """The Transport protocol over a handler: it returns a Reply, or an exception the
    transport raises (NotSentError, AmbiguousSendError) as the aiohttp adapter would."""

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self.requests: list[Request] = []
        self.closed = False

    async def request(self, method: str, url: str, *, headers: Mapping[str, str],
                      body: Body | None = None,
                      params: Mapping[str, Any] | None = None) -> Reply:
        seen = Request(method, url, dict(headers), None if body is None else bytes(body),
                       dict(params or {}))
        self.requests.append(seen)
        answer = self._handler(seen)
        if inspect.isawaitable(answer):
            answer = await answer
        if isinstance(answer, BaseException):
            raise answer
        assert isinstance(answer, Reply)
        return answer

    def sent(self, method: str, path: str) -> list[Request]:
        return [r for r in self.requests if r.method == method and r.path == path]

    async def close(self) -> None:
        self.closed = True


def stop_after(count: int, stop: anyio.Event) -> Callable[[dict[str, Any]], Awaitable[None]]:
    """An ``on_event`` that sets ``stop`` at the run's ``count``-th ``chunk_submitted``."""
    submitted = 0

    async def on_event(event: dict[str, Any]) -> None:
        nonlocal submitted
        if event["event"] == "chunk_submitted":
            submitted += 1
            if submitted == count:
                stop.set()

    return on_event


def reply(status: int, body: Any = None, **headers: str) -> Reply:
    return Reply(status, {k.replace("_", "-"): v for k, v in headers.items()},
                 b"" if body is None else orjson.dumps(body))


TOKEN = reply(200, {"access_token": "tok", "refresh_token": "ref", "expires_in": 3600,
                    "refresh_token_expires_in": 86400})
# The consent export of an account where nobody opted out (a run reads it before any POST)
NO_CONSENTS = Reply(200, {"ETag": '"0"', "Content-Type": "text/csv"},
                    b"External Party Number,Internal Party Number,Consent Status,Source,"
                    b"Coverage,Campaign Type,Notes,Last Modified Time\r\n")


@dataclass
class FakeA2P:
    """The A2P endpoints the engine uses, in memory. ``posts`` scripts the answers to
    POST /batches in order (a Reply, an exception, a handler of its own, or None for a real
    201); every batch it creates completes on its first read."""

    posts: list[Answer | Handler | None] = field(default_factory=list)
    batches: dict[str, dict[str, Any]] = field(default_factory=dict)
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def __call__(self, request: Request) -> Answer:
        if request.path.startswith("/restapi/oauth/"):
            return TOKEN
        if request.path.endswith("/sms/consents/export"):
            return NO_CONSENTS
        if request.path.endswith("/sms/consents/search"):  # a resume's re-read of few
            return reply(200, {"records": [], "paging": {"perPage": 1000}})
        if request.method == "POST" and request.path == "/batches":
            scripted = self.posts.pop(0) if self.posts else None
            if callable(scripted):
                answer = scripted(request)
                assert isinstance(answer, Reply | BaseException)
                return answer
            return scripted if scripted is not None else self.create(request.json())
        if request.method == "GET" and request.path.startswith("/batches/"):
            return reply(200, {**self.batches[request.path.rsplit("/", 1)[1]],
                               "status": "Completed"})
        if request.method == "GET" and request.path == "/batches":
            return reply(200, {"records": [{**b, "status": "Completed"}
                                           for b in self.batches.values()], "paging": {}})
        if request.method == "GET" and request.path == "/statuses":
            return reply(200, {"delivered": {"count": 0}})
        if request.method == "GET" and request.path == "/messages":
            found = self.messages.get(request.params.get("batchId", ""), [])
            return reply(200, {"records": found, "paging": {}})
        return reply(404, {"errorCode": "CMN-404", "message": f"no route {request.path}"})

    def create(self, body: dict[str, Any]) -> Reply:
        batch = self.make(body)
        return reply(201, batch)

    def make(self, body: dict[str, Any]) -> dict[str, Any]:
        """Record a batch as the server would, without answering: a lost answer."""
        batch_id = f"b{next(self._ids)}"
        batch = {"id": batch_id, "from": body["from"], "batchSize": len(body["messages"]),
                 "processedCount": len(body["messages"]), "status": "Processing",
                 # stamped now: the engine reckons the server's clock from this machine's
                 # when no Date header says otherwise, and adopts only batches created after
                 # its request went out
                 "creationTime": datetime.now(UTC).isoformat(), "rejected": [],
                 "cost": 0.007}
        self.batches[batch_id] = batch
        self.messages[batch_id] = [{"to": m["to"], "text": m.get("text", body.get("text")),
                                    "batchId": batch_id} for m in body["messages"]]
        return {**batch}

    def lost(self, error: Answer) -> Handler:
        """A POST that creates its batch and then loses the answer (an exception), or
        answers something else (a 5xx from the gateway in front)."""
        def handle(request: Request) -> Answer:
            self.make(request.json())
            return error

        return handle


def settings(**retry: Any) -> Settings:
    """The simulator profile with backoffs the fake clock absorbs and a given retry policy."""
    from dataclasses import replace

    base = load_settings("simulator", env={})
    return replace(base, retry=replace(base.retry, **retry))
