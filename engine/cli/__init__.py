"""The `a2p` command. The only room that prints or exits; nothing imports it (but
`python -m engine` and the `a2p` script's door, a2p_batch_engine.py beside the package).

commands.py is the door (``main``: parse, dispatch, exit code); parser.py the argument
parser and its help texts; exits.py the exit-code map; options.py the arguments as
ReadOptions and SendOptions; output.py the two streams; progress.py the progress line;
summary.py a run's last line. One module per command, imported only when it runs: plan,
send (the send runtime: signals, progress, engine.send), check, outcomes, config (and
--env-file), demo (demo and simulate), bench.

May import: every room, the simulator (for `a2p simulate` and `a2p demo`) and the
public names of `engine`.
"""

from engine.cli.commands import main

__all__ = ["main"]
