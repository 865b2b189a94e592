"""The public surface: one import path, a sorted __all__, every name importable."""

from pathlib import Path

import engine


def test_all_is_sorted_and_resolves() -> None:
    """engine.__all__ is sorted and each name in it exists."""
    assert engine.__all__ == sorted(engine.__all__)
    assert all(hasattr(engine, name) for name in engine.__all__)


def test_errors_share_one_root() -> None:
    """Every exported exception derives from EngineError."""
    errors = [getattr(engine, n) for n in engine.__all__ if n.endswith("Error")]
    assert errors
    assert all(issubclass(e, engine.EngineError) for e in errors)


def test_import_and_help_do_not_load_the_network_stack() -> None:
    """`import engine` and `a2p --help` load neither aiohttp nor anyio (they cost most of
    the start-up); engine.send still resolves, lazily."""
    import subprocess
    import sys

    probe = ("import sys, engine, engine.cli.commands\n"
             "try:\n    engine.cli.main(['--help'])\nexcept SystemExit:\n    pass\n"
             "print(sorted(m for m in ('aiohttp', 'anyio') if m in sys.modules))\n"
             "engine.send\nprint('aiohttp' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True, timeout=60)
    assert result.stdout.splitlines()[-2:] == ["[]", "True"]


def test_a_plan_loads_only_the_reading_side(tmp_path: Path) -> None:
    """`a2p plan` of a file loads neither the network stack (aiohttp, anyio) nor the journal,
    resume and outcome machinery: a dry run pays only for reading and chunking."""
    import subprocess
    import sys

    path = tmp_path / "list.csv"
    path.write_text("to,text\n+14155550100,Hi\n+14155550101,\"Hi, there\"\n")
    probe = ("import contextlib, io, sys, engine.cli.commands\n"
             "with contextlib.redirect_stdout(io.StringIO()):\n"
             f"    status = engine.cli.main(['plan', {str(path)!r}, '--from', '+16505550100'])\n"
             "heavy = ('aiohttp', 'anyio', 'engine.run.journal', 'engine.run.resume', "
             "'engine.results.rows', 'engine.run.sender')\n"
             "print(status, sorted(m for m in heavy if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True, timeout=60)
    assert result.stdout.splitlines()[-1] == "0 []"


def test_the_preflight_check_is_a_top_level_name() -> None:
    """engine.check is the pre-flight of a2p check, at the one public import path."""
    from engine.run.doors import check

    assert engine.check is check
    assert "check" in engine.__all__
