"""The bound on paged listings: a repeated page token or an endless listing is an error."""

from __future__ import annotations

import pytest

from engine.core.paging import PageWalk
from engine.errors import PagingError, ServerError


def test_new_tokens_pass_and_the_last_page_ends_the_walk() -> None:
    """Pages with fresh tokens pass through unchanged, the last one (no token) too."""
    walk = PageWalk("GET .../batches")
    assert walk.page(([{"id": "a"}], "p2")) == ([{"id": "a"}], "p2")
    assert walk.page(([{"id": "b"}], "p3")) == ([{"id": "b"}], "p3")
    assert walk.page(([], None)) == ([], None)


def test_a_repeated_token_is_a_server_error_naming_the_listing() -> None:
    """A server that hands out the same page token again is reported, never followed."""
    walk = PageWalk("GET .../batches")
    walk.page(([], "same"))
    with pytest.raises(PagingError, match=r"GET \.\.\./batches.*'same' a second time") as info:
        walk.page(([], "same"))
    assert isinstance(info.value, ServerError)


def test_a_listing_that_never_ends_stops_at_the_page_bound() -> None:
    """Ever-new tokens stop at the walk's page bound."""
    walk = PageWalk("GET .../messages", max_pages=5)
    for page in range(4):
        walk.page(([], f"t{page}"))
    with pytest.raises(PagingError, match="after 5;"):
        walk.page(([], "t4"))
