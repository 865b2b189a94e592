"""The `a2p` command's door, kept outside the `engine` package on purpose.

The package's import name is `engine`, a common folder name: a user's own `engine/` package
in the current directory (or on PYTHONPATH) comes first on the path and hides the installed
one, and `python -m engine` then fails with "No module named engine.__main__" before any of
our code runs. This module has the distribution's own name, so it is found wherever the
package is installed; it notices the shadow, says what happened and how to fix it, and runs
the installed engine all the same: `a2p ...` and `python -m a2p_batch_engine ...` work from
any directory.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

# engine/ is installed beside this module (site-packages, or the checkout for -e installs).
OURS = Path(__file__).resolve().parent / "engine"


def shadow() -> Path | None:
    """The folder (or module) that `import engine` would load instead of ours, if any: a
    package, a module, or a folder without ``__init__.py`` (a namespace portion: assets, docs)
    that comes before ours, as it does before an editable install's finder."""
    spec = importlib.util.find_spec("engine")
    if spec is None:
        return None
    if spec.origin is None:  # a namespace package: ours, a regular one, is not part of it
        places = [Path(place).resolve() for place in spec.submodule_search_locations or ()]
        if not places or OURS in places:
            return None
        return places[0]
    found = Path(spec.origin).resolve()
    if found.is_relative_to(OURS):
        return None
    return found.parent if found.name == "__init__.py" else found


def quiet(words: list[str]) -> bool:
    """Whether the command line asks for -q/--quiet (alone or in a cluster of the two short
    flags, -v and -q), read before the parser, which lives in the package being found.
    Quiet means errors only, and the shadow note is a warning: the command runs."""
    for word in words:
        if word == "--":
            return False
        if word == "--quiet" or (word.startswith("-") and not word.startswith("--") and
                                 len(word) > 1 and set(word[1:]) <= {"q", "v"} and
                                 "q" in word):
            return True
    return False


def main() -> int:
    """Run `a2p` with the installed engine first on the path, saying so (unless -q) when
    something else would have been imported as `engine`."""
    found = shadow()
    if found is not None and not quiet(sys.argv[1:]):
        sys.stderr.write(
            f"a2p: {found} hides the a2p-batch-engine package (its import name is also "
            f"'engine'); running the installed one from {OURS}. To import it yourself, "
            f"rename your {'folder' if found.is_dir() else 'file'} or work from another "
            "directory.\n")
    if found is not None:
        sys.path.insert(0, str(OURS.parent))
    from engine.cli import main as run

    return run()


if __name__ == "__main__":
    sys.exit(main())
