"""`a2p bench` only where it can run: a copy of the package without the benchmark harness
beside it (as a wheel installs it) leaves the command out of --help and, typed anyway, says
at once how to get the harness; a checkout lists it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from engine.cli.commands import main
from engine.cli.exits import EXIT_USAGE

ROOT = Path(__file__).resolve().parent.parent


def _a2p(cwd: Path, *words: str) -> subprocess.CompletedProcess[str]:
    """`python -m engine WORDS` with cwd first on the path: the package found there runs."""
    return subprocess.run([sys.executable, "-m", "engine", *words], cwd=cwd, text=True,
                          capture_output=True, timeout=60, check=False)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding the engine package alone, as site-packages does after a wheel."""
    where = tmp_path_factory.mktemp("site")
    shutil.copytree(ROOT / "engine", where / "engine",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return where


def test_an_installed_copy_does_not_list_bench(installed: Path) -> None:
    """Without benchmarks/ beside the package, `a2p --help` names every command but bench."""
    done = _a2p(installed, "--help")
    assert done.returncode == 0, done.stderr
    assert "demo" in done.stdout
    assert "bench" not in done.stdout


def test_an_installed_copys_unknown_command_error_does_not_name_bench(installed: Path) -> None:
    """A mistyped command in an installed copy: argparse's "invalid choice" lists the
    commands there are, every one but bench."""
    done = _a2p(installed, "sendd")
    assert done.returncode == EXIT_USAGE
    assert "invalid choice: 'sendd'" in done.stderr
    assert "'demo'" in done.stderr
    assert "bench" not in done.stderr


def test_a_checkouts_unknown_command_error_names_bench(capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    """In a checkout, where it runs, bench is among the choices named."""
    with pytest.raises(SystemExit):
        main(["sendd"])
    assert "'bench'" in capsys.readouterr().err


def test_bench_in_an_installed_copy_says_how_to_get_the_harness(installed: Path) -> None:
    """`a2p bench quick` where no harness is installed exits 2 at once and says to clone the
    repository; nothing is run."""
    done = _a2p(installed, "bench", "quick")
    assert done.returncode == EXIT_USAGE
    assert "Clone the repository" in done.stderr
    assert "a2p bench quick" in done.stderr
    assert done.stdout == ""


def test_a_checkout_lists_bench(capsys: pytest.CaptureFixture[str]) -> None:
    """In a source checkout (benchmarks/ beside engine/) bench is in --help with its purpose."""
    with pytest.raises(SystemExit) as stop:
        main(["--help"])
    assert stop.value.code == 0
    assert "run the benchmark harness" in capsys.readouterr().out
