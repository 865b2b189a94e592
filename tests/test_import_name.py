"""The import name `engine` is a common folder name: a user's own engine/ package that comes
first on the path does not stop the `a2p` door (a2p_batch_engine.py), which says what hides
the package and how to fix it, then runs the installed engine."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from engine import __version__


def _door(cwd: Path, *words: str) -> subprocess.CompletedProcess[str]:
    """`python -m a2p_batch_engine WORDS` run from cwd (so cwd is first on the path)."""
    return subprocess.run([sys.executable, "-m", "a2p_batch_engine", *words], cwd=cwd,
                          text=True, capture_output=True, timeout=60, check=False)


def test_a_users_engine_folder_is_named_and_the_command_still_runs(tmp_path: Path) -> None:
    """With ./engine/__init__.py of the user's own, a2p runs the installed engine and says on
    stderr which folder hides the package and what to do about it."""
    (tmp_path / "engine").mkdir()
    (tmp_path / "engine" / "__init__.py").write_text("MINE = True\n")
    done = _door(tmp_path, "--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"a2p {__version__}"
    assert str(tmp_path / "engine") in done.stderr
    assert "rename your folder" in done.stderr


def test_a_users_engine_module_is_named_too(tmp_path: Path) -> None:
    """An engine.py beside the user's work shadows the package the same way, and is named."""
    (tmp_path / "engine.py").write_text("MINE = True\n")
    done = _door(tmp_path, "--version")
    assert done.returncode == 0, done.stderr
    assert str(tmp_path / "engine.py") in done.stderr
    assert "rename your file" in done.stderr


def test_a_users_engine_folder_without_init_does_not_break_the_command(
        tmp_path: Path) -> None:
    """A plain ./engine/ folder (no __init__.py: assets, notes) is a namespace package that
    an editable install's finder comes after: a2p still runs the installed engine and, when
    the folder would be imported in its place, names it."""
    (tmp_path / "engine").mkdir()
    (tmp_path / "engine" / "notes.txt").write_text("not code\n")
    found = subprocess.run([sys.executable, "-c", "import importlib.util as u; "
                            "print(u.find_spec('engine').origin)"], cwd=tmp_path, text=True,
                           capture_output=True, timeout=60, check=True).stdout.strip()
    done = _door(tmp_path, "--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"a2p {__version__}"
    if found == "None":  # the folder comes first (an editable install)
        assert str(tmp_path / "engine") in done.stderr
        assert "rename your folder" in done.stderr
    else:  # a regular package (a wheel's) wins over a namespace portion: nothing to say
        assert done.stderr == ""


def test_no_shadow_no_word(tmp_path: Path) -> None:
    """From a directory without an engine of its own, a2p says nothing about import names."""
    done = _door(tmp_path, "--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"a2p {__version__}"
    assert done.stderr == ""


def test_quiet_keeps_the_shadow_note_to_itself(tmp_path: Path) -> None:
    """`a2p -q` (or -q after the command, or in a cluster like -qv) prints errors only: the
    shadow note is a warning, so it is left out, and the installed engine still runs."""
    (tmp_path / "engine").mkdir()
    (tmp_path / "engine" / "__init__.py").write_text("MINE = True\n")
    for words in (["-q", "--version"], ["--quiet", "--version"], ["-vq", "--version"]):
        done = _door(tmp_path, *words)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == f"a2p {__version__}"
        assert done.stderr == "", words
    done = _door(tmp_path, "config", "-q", "--no-such-option")
    assert done.returncode != 0  # an error still speaks under -q
    assert "--no-such-option" in done.stderr
    assert "hides the a2p-batch-engine package" not in done.stderr
