"""HTTP Basic client authentication (RFC 6749 section 2.3.1), as the OAuth endpoints require."""

from __future__ import annotations

import base64
import binascii


def encode(client_id: str, client_secret: str) -> str:
    """The ``Authorization`` header value for a client id and secret."""
    raw = f"{client_id}:{client_secret}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


def decode(header: str) -> tuple[str, str] | None:
    """(client id, secret) from an ``Authorization`` header, or None when it is not Basic."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        client_id, sep, secret = base64.b64decode(value, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (client_id, secret) if sep else None
