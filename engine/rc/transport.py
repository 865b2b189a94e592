"""The one seam between the engine and HTTP: a small Protocol, its aiohttp adapter, and the one
place where aiohttp's and asyncio's exceptions become the engine's."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Protocol, runtime_checkable

import aiohttp
import orjson

from engine.batching.chunker import Body, StoredBodyError
from engine.errors import AmbiguousSendError, BadBodyError, NotSentError

MAX_ANSWER_BYTES = 16 * 1024 * 1024  # a batch answer lists rejections; more is hostile
# A download (the consent export: ~85 bytes a record) goes to a file, not memory: this bounds
# it at some 12 million records, far past any account, so only a hostile answer reaches it
MAX_DOWNLOAD_BYTES = 1024 * 1024 * 1024
# Bodies go out in slices: Python 3.11's asyncio copies whatever a single write() cannot send
# at once into its own buffer, which for a 50 MB body would hold it twice.
SLICE = 256 * 1024


async def _slices(body: Body, cut: list[StoredBodyError]) -> AsyncIterator[memoryview | bytes]:
    if not isinstance(body, bytes | bytearray):  # a spooled body: read from its file again
        try:
            for piece in body.pieces(SLICE):
                yield piece
        except StoredBodyError as exc:
            cut.append(exc)
            raise
        return
    view = memoryview(body)
    for start in range(0, len(view), SLICE):
        yield view[start:start + SLICE]


def page_of(answer: Any) -> tuple[list[dict[str, Any]], str | None]:
    """(records, nextPageToken) of a listing answer; anything malformed is a BadBodyError."""
    records = answer.get("records") if isinstance(answer, dict) else None
    paging = answer.get("paging") if isinstance(answer, dict) else None
    if not isinstance(records, list) or not isinstance(paging, dict | None):
        raise BadBodyError(f"a listing answer without a records list: {str(answer)[:80]}")
    token = (paging or {}).get("nextPageToken")
    return [r for r in records if isinstance(r, dict)], token if isinstance(token, str) else None


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    def json(self, *, secret: bool = False) -> Any:
        """The body parsed; a BadBodyError when it is not JSON, quoting its first bytes (what
        a gateway's page says) unless ``secret``: a token endpoint's answer may hold a token
        in those bytes, so its error gives only the length, and chains nothing."""
        try:
            return orjson.loads(self.body) if self.body else {}
        except orjson.JSONDecodeError as exc:
            if secret:
                raise BadBodyError(f"HTTP {self.status} answer is not JSON ({exc}); its "
                                   f"{len(self.body)} bytes are not quoted (it may hold a "
                                   "token)", self.status) from None
            raise BadBodyError(f"HTTP {self.status} answer is not JSON ({exc}); first bytes: "
                               f"{self.body[:80]!r}", self.status) from exc


async def read_whole(response: aiohttp.ClientResponse, limit: int, what: str) -> bytes:
    """The whole body, up to ``limit`` bytes. ``StreamReader.read(n)`` returns whatever is
    buffered (about 128 KB on a real network), not n bytes: the body is read to its end."""
    declared = response.content_length
    if declared is not None and declared > limit:  # refused before reading any of it
        raise BadBodyError(f"{what}: the answer declares {declared} bytes (Content-Length), "
                           f"more than the {limit} an answer may hold; refusing to read it",
                           response.status)
    buffer = bytearray()
    async for piece in response.content.iter_any():
        buffer += piece
        if len(buffer) > limit:
            raise BadBodyError(f"{what}: answer larger than {limit} bytes; refusing to read "
                               "the rest of it", response.status)
    return bytes(buffer)


async def read_into(response: aiohttp.ClientResponse, into: BinaryIO, limit: int,
                    what: str) -> None:
    """The whole body written to ``into``, up to ``limit`` bytes, none held in memory."""
    declared = response.content_length
    if declared is not None and declared > limit:
        raise BadBodyError(f"{what}: the answer declares {declared} bytes (Content-Length), "
                           f"more than the {limit} a download may hold; refusing to read it",
                           response.status)
    written = 0
    async for piece in response.content.iter_any():
        written += len(piece)
        if written > limit:
            raise BadBodyError(f"{what}: answer larger than {limit} bytes; refusing to read "
                               "the rest of it", response.status)
        into.write(piece)


def error_of(reply: Reply) -> tuple[str, str]:
    """(errorCode, message) from any of RingCentral's error shapes, never raising."""
    try:
        body = reply.json()
    except BadBodyError:
        body = None
    if not isinstance(body, dict):
        return f"HTTP-{reply.status}", "the answer carried no error details"
    errors = body.get("errors")
    first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
    code = body.get("errorCode") or first.get("errorCode") or body.get("error") or \
        f"HTTP-{reply.status}"
    message = body.get("message") or first.get("message") or body.get("error_description") or ""
    return str(code), str(message)


def from_ringcentral(reply: Reply) -> bool:
    """Whether the answer is RingCentral's own error: a JSON body with ``errorCode`` or
    ``errors`` (the spec's error schema), not a gateway's page or an empty body."""
    try:
        body = reply.json()
    except BadBodyError:
        return False
    return isinstance(body, dict) and ("errorCode" in body or "errors" in body)


class Transport(Protocol):
    async def request(self, method: str, url: str, *, headers: Mapping[str, str],
                      body: Body | None = None,
                      params: Mapping[str, Any] | None = None) -> Reply:
        """``body``: bytes, or a body stored outside memory (``StoredBody``), sent from
        there with its Content-Length."""
        ...

    async def close(self) -> None: ...


@runtime_checkable
class Downloads(Protocol):
    """A transport that can write a large answer to a file (AiohttpTransport): the client
    uses it when it has it, else ``request`` and writes the body there itself."""

    async def download(self, method: str, url: str, *, headers: Mapping[str, str],
                       into: BinaryIO, params: Mapping[str, Any] | None = None) -> Reply:
        """A 2xx answer's body written to ``into`` (the Reply's body empty); any other
        answer's read as ``request`` reads it."""
        ...


class AiohttpTransport:
    """aiohttp behind the Transport protocol. TLS verification stays on (aiohttp's default);
    HTTPS_PROXY, HTTP_PROXY and NO_PROXY are honoured (trust_env), as corporate networks need."""

    def __init__(self, timeout: float, session: aiohttp.ClientSession | None = None,
                 max_answer: int = MAX_ANSWER_BYTES) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout, sock_connect=min(timeout, 30.0))
        self._session = session or aiohttp.ClientSession(timeout=self._timeout,
                                                        trust_env=True)
        self._max_answer = max_answer

    async def request(self, method: str, url: str, *, headers: Mapping[str, str],
                      body: Body | None = None,
                      params: Mapping[str, Any] | None = None) -> Reply:
        data: Any = body
        cut: list[StoredBodyError] = []  # a stored body that failed to read back whole
        if body is not None and (len(body) > SLICE or not isinstance(body, bytes | bytearray)):
            headers = {**headers, "Content-Length": str(len(body))}
            data = _slices(body, cut)
        try:
            return await self._exchange(method, url, headers, data, params)
        except (StoredBodyError, aiohttp.ClientError, NotSentError, AmbiguousSendError) as exc:
            # aiohttp wraps what the body's reader raised (a ClientConnectionError): whatever
            # it became, the body stopped short of its Content-Length, and a request that
            # never reached its end was never whole, so nothing was made of it
            if cut:
                raise NotSentError(f"{method} {url}: the request was cut short of its "
                                   f"Content-Length, so nothing was made of it: {cut[0]}"
                                   ) from exc
            raise

    async def download(self, method: str, url: str, *, headers: Mapping[str, str],
                       into: BinaryIO, params: Mapping[str, Any] | None = None) -> Reply:
        return await self._exchange(method, url, headers, None, params, into)

    async def _exchange(self, method: str, url: str, headers: Mapping[str, str], data: Any,
                        params: Mapping[str, Any] | None, into: BinaryIO | None = None
                        ) -> Reply:
        try:
            async with self._session.request(method, url, headers=headers, data=data,
                                             params=params) as response:
                if into is not None and 200 <= response.status < 300:
                    await read_into(response, into, MAX_DOWNLOAD_BYTES, f"{method} {url}")
                    return Reply(response.status, dict(response.headers))
                answer = await read_whole(response, self._max_answer, f"{method} {url}")
                return Reply(response.status, dict(response.headers), answer)
        except aiohttp.ClientConnectorError as exc:
            raise NotSentError(f"{method} {url}: could not connect ({exc.os_error}); nothing "
                               "was sent. Check the server URL and the network.") from exc
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError,
                aiohttp.ClientPayloadError, TimeoutError) as exc:
            raise AmbiguousSendError(f"{method} {url}: the request went out and no answer came "
                                     f"({type(exc).__name__}).") from exc

    async def close(self) -> None:
        await self._session.close()
