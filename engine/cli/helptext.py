"""Help texts the ``a2p`` parsers share (engine/cli/parser.py, engine/cli/sendparsers.py)."""

from __future__ import annotations

import textwrap

__all__ = ["PROFILE_CHOICE", "PROFILE_HELP", "fill"]

# the profile a run picks without --profile, by RC_SERVER_URL (build_parser's epilog, a2p config)
PROFILE_CHOICE = ("a loopback server: simulator; platform.devtest.ringcentral.com: sandbox; "
                  "any other server: production; no server: simulator")
PROFILE_HELP = ("a packaged profile (simulator, sandbox, production), configs/NAME.toml here, "
                "or a .toml path (default: follows RC_SERVER_URL, see 'a2p config')")


def fill(text: str) -> str:
    """A help paragraph wrapped at 88 columns, never at a hyphen (--flag names stay whole)."""
    return textwrap.fill(text, 88, break_on_hyphens=False)
