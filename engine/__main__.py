"""``python -m engine``: the ``a2p`` command."""

import sys

from engine.cli.commands import main

sys.exit(main())
