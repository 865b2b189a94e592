"""``python -m engine.cli``: the ``a2p`` command."""

import sys

from engine.cli import main

sys.exit(main())
