"""The import contract of engine/'s rooms (README, "Architecture"): the pure rooms touch no
file, clock or network, and no room imports a room above it. Every import counts, lazy ones
inside functions and TYPE_CHECKING ones too; each failure names the module, line and import."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ENGINE = Path(__file__).resolve().parent.parent / "engine"

# Lowest first: a room may import the rooms before it in this list, never one after it.
# "public" is engine/__init__.py (the names `import engine` gives); "entry" are the modules
# run with python -m (engine/__main__.py, engine/schema.py), which nothing imports.
LAYERS = ("errors", "core", "reading", "batching", "schedule", "config", "rc", "run", "results",
          "public", "cli", "entry")
# The simulator stands beside the run: it speaks RingCentral's protocol (config, rc, the pure
# rooms), and only the CLI starts it, so no send or outcomes path ever loads it.
SIDE = {"simulator": ("rc", frozenset({"cli", "entry"}))}
PURE = frozenset({"core", "reading", "batching", "schedule"})
TOP = {"errors": "errors", "__init__": "public", "types": "public", "__main__": "entry",
       "schema": "entry"}

# What a pure room may not touch: networks and event loops, clocks, files, processes, logs.
FORBIDDEN = {
    "aiohttp": "the network", "anyio": "the event loop", "asyncio": "the event loop",
    "socket": "the network", "ssl": "the network", "selectors": "the network",
    "http": "the network", "urllib.request": "the network",
    "time": "a clock",
    "os": "files and the environment", "pathlib": "files", "shutil": "files",
    "tempfile": "files", "glob": "files", "fileinput": "files", "mmap": "files",
    "fcntl": "files", "sqlite3": "files", "subprocess": "processes", "signal": "processes",
    "threading": "threads", "multiprocessing": "processes", "logging": "logs",
    "gzip": "files", "bz2": "files", "lzma": "files", "zipfile": "files", "tarfile": "files",
}
CLOCK_CALLS = frozenset({"now", "utcnow", "today"})
RUN_TIME = "<a module named at run time>"
STREAMS = frozenset({"stdin", "stdout", "stderr"})


@dataclass(frozen=True)
class Offence:
    module: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.module}:{self.line}: {self.what}"


def modules() -> dict[str, Path]:
    """Every module under engine/, by dotted name (a package by its own name)."""
    found = {}
    for path in sorted(ENGINE.rglob("*.py")):
        parts = path.relative_to(ENGINE.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def room_of(dotted: str) -> str | None:
    """The room of an engine module; None when it is in none (a defect of its own)."""
    parts = dotted.split(".")
    if parts == ["engine"]:
        return "public"
    if len(parts) == 2 and parts[1] in TOP:
        return TOP[parts[1]]
    if (ENGINE / parts[1]).is_dir() and (parts[1] in LAYERS or parts[1] in SIDE):
        return parts[1]
    return None


def rank(room: str) -> int:
    return LAYERS.index(SIDE[room][0]) if room in SIDE else LAYERS.index(room)


def may_import(importer: str, imported: str) -> bool:
    if importer == imported:
        return True
    if imported in SIDE:
        return importer in SIDE[imported][1]
    if importer in SIDE:
        return rank(imported) <= rank(importer)
    return rank(imported) < rank(importer)


def imports(tree: ast.AST, dotted: str, is_package: bool,
            known: set[str]) -> Iterator[tuple[int, str]]:
    """(line, dotted module) for every import anywhere in the tree, the engine's resolved to
    the module really loaded (`from engine.core import policy` is engine.core.policy)."""
    package = dotted if is_package else dotted.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                name = f"{base}.{alias.name}"
                yield node.lineno, name if name in known else base
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and node.value in known:
            yield node.lineno, node.value  # a module named to be imported later (a table)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute | ast.Name)
              and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id)
              in ("import_module", "__import__")
              and node.args):
            named = node.args[0]
            if isinstance(named, ast.Constant) and isinstance(named.value, str):
                yield node.lineno, named.value
            else:  # a module chosen at run time: the contract cannot see it, so none may be
                yield node.lineno, RUN_TIME


def impure_calls(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """Clocks, files and streams reached without an import: open(), datetime.now() (under
    any name it was imported as), io.FileIO, sys.stdout, print()."""
    clocks = {"datetime", "date"} | {
        alias.asname for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
        and node.module == "datetime" for alias in node.names
        if alias.name in ("datetime", "date") and alias.asname}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id in ("open", "print"):
            yield node.lineno, f"calls {node.func.id}(): " + (
                "files" if node.func.id == "open" else "a process stream")
        elif isinstance(node, ast.Attribute):
            owner = node.value
            name = owner.id if isinstance(owner, ast.Name) else \
                owner.attr if isinstance(owner, ast.Attribute) else ""
            if node.attr in CLOCK_CALLS and name in clocks:
                yield node.lineno, f"reads a clock: {name}.{node.attr}"
            elif node.attr in ("open", "FileIO") and name in ("io", "codecs", "os"):
                yield node.lineno, f"calls {name}.{node.attr}: files"
            elif node.attr in STREAMS and name == "sys":
                yield node.lineno, f"uses sys.{node.attr}: a process stream"


def offences(dotted: str, source: str, known: set[str], is_package: bool = False) -> list[Offence]:
    """Every broken rule in one module's source."""
    room = room_of(dotted)
    if room is None:
        return [Offence(dotted, 1, "is in no room: put it in one of "
                        f"{', '.join(r for r in LAYERS + tuple(SIDE) if r not in TOP.values())}")]
    tree = ast.parse(source)
    found = []
    for line, name in imports(tree, dotted, is_package, known):
        if name == RUN_TIME:
            if room in PURE:
                found.append(Offence(dotted, line, "imports a module named at run time, which "
                                     f"the contract cannot check, in the pure {room} room"))
        elif name == "engine" or name.startswith("engine."):
            target = room_of(name)
            if target is None:
                found.append(Offence(dotted, line, f"imports {name}, which is in no room"))
            elif not may_import(room, target):
                found.append(Offence(dotted, line, f"imports {name}: the {room} room may not "
                                     f"import the {target} room (above it, or the simulator)"))
        elif room in PURE:
            for prefix in (name, *(name.rsplit(".", k)[0] for k in range(1, name.count(".") + 1))):
                if prefix in FORBIDDEN:
                    found.append(Offence(dotted, line, f"imports {name}: {FORBIDDEN[prefix]}, "
                                         f"in the pure {room} room"))
                    break
    if room in PURE:
        found += [Offence(dotted, line, f"{what}, in the pure {room} room")
                  for line, what in impure_calls(tree)]
    return found


def all_offences() -> list[Offence]:
    known = modules()
    found = []
    for dotted, path in known.items():
        found += offences(dotted, path.read_text(), set(known), path.name == "__init__.py")
    return found


def test_no_room_imports_a_higher_room_and_pure_rooms_touch_no_io() -> None:
    """Every engine module keeps the import contract; a failure names module, line, import."""
    found = all_offences()
    assert not found, "the import contract is broken:\n" + "\n".join(map(str, found))


def test_every_room_exists_and_holds_modules() -> None:
    """The rooms the README describes are the folders engine/ has, each with its modules."""
    rooms = {p.name for p in ENGINE.iterdir() if (p / "__init__.py").exists()}
    assert rooms == {r for r in LAYERS if r not in TOP.values()} | set(SIDE)
    assert all(len(list((ENGINE / r).glob("*.py"))) > 1 for r in rooms)


def test_no_room_shadows_a_public_name() -> None:
    """A sub-package named like a public name (engine/outcomes/ and engine.outcomes()) would
    replace that name with the package as soon as something imports it."""
    tree = ast.parse((ENGINE / "__init__.py").read_text())
    public = next(ast.literal_eval(node.value) for node in tree.body
                  if isinstance(node, ast.Assign)
                  and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets))
    rooms = {p.name for p in ENGINE.iterdir() if p.is_dir()}
    assert not rooms & set(public)


# The contract's own checks: each rule catches what it is for (a check that cannot fail
# proves nothing).
KNOWN = {"engine.core.policy", "engine.run.sender", "engine.cli.commands", "engine.simulator",
         "engine.simulator.app", "engine.reading.reader", "engine.rc.client", "engine.core"}


def test_a_pure_room_importing_a_clock_inside_a_function_is_named() -> None:
    """A lazy `import time` in a core function fails, naming the module and the line."""
    source = "def f():\n    import time\n    return time.monotonic()\n"
    assert [str(o) for o in offences("engine.core.policy", source, KNOWN)] == [
        "engine.core.policy:2: imports time: a clock, in the pure core room"]


def test_a_pure_room_reading_a_clock_file_or_stream_is_named() -> None:
    """datetime.now(), open() and sys.stdout in the reading room each fail."""
    source = ("import sys\nfrom datetime import datetime\n"
              "def f(p):\n    return datetime.now(), open(p), sys.stdout\n")
    assert sorted(o.what for o in offences("engine.reading.reader", source, KNOWN)) == [
        "calls open(): files, in the pure reading room",
        "reads a clock: datetime.now, in the pure reading room",
        "uses sys.stdout: a process stream, in the pure reading room"]


def test_an_upward_import_is_named_even_under_type_checking() -> None:
    """core importing the run (even for types only) and rc importing the CLI both fail."""
    core = ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
            "    from engine.run.sender import Sender\n")
    assert [o.what for o in offences("engine.core.policy", core, KNOWN)] == [
        "imports engine.run.sender: the core room may not import the run room "
        "(above it, or the simulator)"]
    assert len(offences("engine.rc.client", "import engine.cli.commands\n", KNOWN)) == 1


def test_only_the_cli_may_start_the_simulator() -> None:
    """The run importing the simulator fails, the simulator importing the run fails, the CLI
    importing it passes, and the simulator may use the rc room."""
    assert offences("engine.run.sender", "from engine import simulator\n", KNOWN)
    assert offences("engine.simulator.app", "from engine.run import sender\n", KNOWN)
    assert not offences("engine.cli.commands", "from engine.simulator import app\n", KNOWN)
    assert not offences("engine.simulator.app", "from engine.rc import client\n", KNOWN)


def test_a_lower_room_and_relative_imports_resolve() -> None:
    """Downward imports pass; a relative import is resolved before it is judged."""
    assert not offences("engine.run.sender", "from engine.core import policy\n", KNOWN)
    assert [o.what for o in offences("engine.core.policy", "from ..run import sender\n",
                                     KNOWN)] == [
        "imports engine.run.sender: the core room may not import the run room "
        "(above it, or the simulator)"]


PURE_BREAKS = {
    "aliased clock": "from datetime import datetime as dt\ndef f():\n    return dt.now()\n",
    "gzip file": "import gzip\ndef f(p):\n    return gzip.open(p).read()\n",
    "io file": "import io\ndef f(p):\n    return io.FileIO(p).read()\n",
    "dynamic import": "import importlib\ndef f(m):\n    return importlib.import_module(f'{m}')\n",
    "print": "def f():\n    print('hello')\n",
}


@pytest.mark.parametrize("source", PURE_BREAKS.values(), ids=PURE_BREAKS.keys())
def test_a_pure_room_reaching_a_clock_a_file_or_a_stream_by_a_side_door_is_named(
        source: str) -> None:
    """An aliased clock, a compressed or raw file, a module named at run time, a print: each
    is an offence in a pure room (the README's promise, not only the import list)."""
    assert offences("engine.core.policy", source, KNOWN)


def test_a_module_named_in_a_table_counts_as_imported() -> None:
    """A table of module names imported later (the CLI's commands) is held to the rule: a
    core module naming a CLI module is refused."""
    source = 'COMMANDS = {"send": ("engine.cli.commands", "run")}\n'
    assert [str(o) for o in offences("engine.core.policy", source, KNOWN)] == [
        "engine.core.policy:1: imports engine.cli.commands: the core room may not import the "
        "cli room (above it, or the simulator)"]
