"""``a2p config``: the settings a run would use and where each came from; and the --env-file
every command accepts, whose RC_* values win over the environment's."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from engine.cli.exits import EXIT_OK
from engine.cli.output import write_json
from engine.errors import UsageError


def run(args: argparse.Namespace) -> int:
    """Print the effective settings (--json: one document) without connecting to anything."""
    from engine.config.effective import effective

    from_file = env_file_values(args.env_file) if args.env_file else {}
    found = effective(args.profile, os.environ, from_file, args.env_file or "")
    if args.json:
        write_json(found.as_json(), indent=True)
    else:
        print(found.describe())
    sys.stdout.flush()
    return EXIT_OK


def load_env_file(name: str) -> None:
    """RC_* variables from a .env file, the way RingCentral's samples keep them."""
    if not Path(name).is_file():
        raise UsageError(f"--env-file {name}: no such file. Give the path of a .env file with "
                         "RC_APP_CLIENT_ID, RC_APP_CLIENT_SECRET and RC_USER_JWT.")
    os.environ.update(env_file_values(name))


def env_file_values(name: str) -> dict[str, str]:
    """The RC_* values of a .env file, as load_env_file copies them into the environment."""
    from dotenv import dotenv_values

    return {key: value for key, value in dotenv_values(name).items()
            if key.startswith("RC_") and value is not None}
