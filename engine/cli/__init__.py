"""The `a2p` command: the parser, the commands, exit codes, the progress line. The only
room that prints or exits; nothing imports it (but `python -m engine`).

May import: every room, the simulator (for `a2p simulate` and `a2p demo`) and the
public names of `engine`.
"""

from engine.cli.commands import main

__all__ = ["main"]
