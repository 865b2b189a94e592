"""A bound on every walk through a paged listing: a server that repeats a ``nextPageToken``
(or never stops giving new ones) must end the walk with a clear error, not hang the run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.errors import PagingError

# 10,000 pages of up to 1,000 records: ten million batches or messages in one walk, far more
# than a 50 MB batch holds (about a million messages) or a campaign's listing returns.
MAX_PAGES = 10_000


@dataclass
class PageWalk:
    """The tokens one walk through ``what`` has followed so far."""

    what: str
    max_pages: int = MAX_PAGES
    _seen: set[str] = field(default_factory=set)

    def page(self, page: tuple[list[dict[str, Any]], str | None]
             ) -> tuple[list[dict[str, Any]], str | None]:
        """One page's (records, nextPageToken), passed through once its token is checked."""
        token = page[1]
        if token is None:
            return page
        if token in self._seen:
            raise PagingError(f"{self.what}: the server gave the page token {token[:40]!r} "
                              "a second time, so its listing would never end. The server is "
                              "misbehaving; run again later, or report it to RingCentral.")
        if len(self._seen) + 1 >= self.max_pages:
            raise PagingError(f"{self.what}: still more pages after {self.max_pages:,}; the "
                              "server's listing does not end. Run again later, or report it "
                              "to RingCentral.")
        self._seen.add(token)
        return page
