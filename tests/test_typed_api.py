"""The library's typed surface (issue 23): a user's ``mypy --strict`` catches a misspelt option,
a wrong value, a typo'd name and a wrong report key; the types cannot drift from the options,
the outcomes' keywords or the JSON schemas; ``dir(engine)`` lists the public names."""

from __future__ import annotations

import dataclasses
import inspect
import os
import re
import subprocess
import sys
import types
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal, NotRequired, Union, get_args, get_origin, get_type_hints

import pytest

import engine
import engine.types as public
from engine import reading
from engine.core.optouts import SCOPES
from engine.rc.transport import Transport
from engine.reading.options import InputFormat
from engine.results.export import Export, outcomes
from engine.results.names import FILTERS, OutcomeFilter
from engine.run import events, report, shapes
from engine.run.options import ON_AMBIGUOUS, WAITS, SendKeywords, SendOptions

# Each line ending "# E: code" must be reported by mypy --strict with that error code.
MISTAKES = '''\
import asyncio

import engine
from engine.reading import ReadOptions


async def main() -> None:
    await engine.send("list.csv", sendr="+16505550100", text="Hi")  # E: call-arg
    await engine.send("list.csv", sender="+16505550100", txt="Hi")  # E: call-arg
    await engine.send("list.csv", sender="+16505550100", text=123)  # E: arg-type
    await engine.send("list.csv", sender="+1", text="Hi", wait="sometime")  # E: arg-type
    engine.SendOptions(wait="sometime")  # E: arg-type
    engine.SendOptions(on_ambiguous="retry")  # E: arg-type
    await engine.send("list.csv", sender="+1", text="Hi", suppress_scope="all")  # E: arg-type
    ReadOptions(format="xlsx")  # E: arg-type
    await engine.sned("list.csv")  # E: attr-defined
    report = await engine.send("list.csv", sender="+16505550100", text="Hi")
    print(report["totals"]["sentt"])  # E: typeddict-item
    count: int = report["status"]  # E: assignment
    async for event in engine.send_events("list.csv", sender="+1", text="Hi"):
        print(event["errorCode"])  # E: typeddict-item
    async for row in engine.outcomes("run.journal", only=("faild",)):  # E: arg-type
        print(row.to)
    await engine.check("+16505550100", recipients="100")  # E: arg-type
    await engine.send("list.csv", sender="+1", text="Hi", daily_cap="lots")  # E: arg-type
    try:
        engine.send_sync("list.csv", sender="+16505550100", text="Hi")
    except engine.Interrupted as stopped:
        print(stopped.report["totals"])  # E: index


asyncio.run(main())
'''

CORRECT = '''\
import asyncio

import engine
from engine.types import Event, Report, SendKeywords


async def main() -> None:
    options: SendKeywords = {"sender": "+16505550100", "text": "Hi", "wait": "accepted",
                             "on_ambiguous": "fail"}
    report: Report = await engine.send(["+14155550100"], **options)
    sent: int = report["totals"]["sent"]
    status: str = report["status"]
    for batch in report["batches"]:
        print(batch["batchId"], batch["status"], sent, status)
    if report["consent"] is not None:
        print(report["consent"]["optOuts"])
    async for event in engine.send_events("list.csv", engine.SendOptions(sender="+1"),
                                          text="Hi", suppress_scope="pair"):
        if event["event"] == "rejected":
            print(event["errorCode"], event["index"])
        elif event["event"] == "summary":
            print(event["sent"], event["runId"])

    async def on_event(event: Event) -> None:
        print(event["time"])

    await engine.send("list.csv", sender="+16505550100", text="Hi", on_event=on_event)
    await engine.send("list.csv", sender="+16505550100", text="Hi", journal="run.journal",
                      quiet_hours="tcpa", daily_cap="none")
    engine.send_sync("list.csv", sender="+16505550100", text="Hi", journal="run.journal",
                     daily_cap=6000)
    async for row in engine.outcomes("run.journal", only=("failed", "retryable")):
        print(row.to, row.outcome)
    checked = await engine.check("+16505550100", recipients=100)
    print(checked.warnings, engine.__version__)


def script() -> None:
    try:
        report = engine.send_sync("list.csv", sender="+16505550100", text="Hi")
    except engine.Interrupted as stopped:
        if stopped.report is not None:
            print(stopped.report["totals"]["sent"], stopped.report["interrupted"])
        raise
    print(report["status"])


asyncio.run(main())
script()
'''


def expected(script: str) -> dict[int, str]:
    """{line: error code} for the lines of ``script`` marked ``# E: code``."""
    return {n: mark.group(1) for n, line in enumerate(script.splitlines(), 1)
            if (mark := re.search(r"# E: ([\w-]+)$", line))}


@pytest.mark.slow
def test_mypy_strict_catches_each_mistake_in_a_user_script(tmp_path: Path) -> None:
    """mypy --strict reports every marked mistake of a user's script on its line (and nothing
    else), and a script using the same API correctly passes clean."""
    (tmp_path / "mistakes.py").write_text(MISTAKES)
    (tmp_path / "correct.py").write_text(CORRECT)
    # The engine under test (this checkout, or an unpacked sdist) by its path: an editable
    # install's import hook is invisible to mypy. Its own modules are checked silently, as
    # an installed package's are; the project's settings (pyproject.toml) are not used.
    root = Path(engine.__file__).resolve().parent.parent
    env = {**os.environ, "MYPYPATH": str(root)}
    run = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent",
         "--config-file=", "--cache-dir", str(tmp_path / "cache"), "--no-error-summary",
         "--hide-error-context", "--show-error-codes", "mistakes.py", "correct.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=110, check=False)
    assert run.returncode in (0, 1), run.stderr + run.stdout
    reported: dict[tuple[str, int], set[str]] = {}
    for line in run.stdout.splitlines():
        found = re.match(r"(\w+)\.py:(\d+): error: .*\[([\w-]+)\]$", line)
        if found:
            key = (found.group(1), int(found.group(2)))
            reported.setdefault(key, set()).add(found.group(3))
    wanted = {("mistakes", n): {code} for n, code in expected(MISTAKES).items()}
    assert len(wanted) >= 8
    missed = {key: codes for key, codes in wanted.items() if not codes <= reported.get(key, set())}
    extra = {key: codes for key, codes in reported.items() if key not in wanted}
    assert not missed, f"not caught: {missed}\n{run.stdout}"
    assert not extra, f"reported beyond the marked mistakes: {extra}\n{run.stdout}"


def test_send_keywords_are_send_options_fields() -> None:
    """SendKeywords (send's and send_events' keyword arguments) names every SendOptions field,
    none else, all optional: the two lists cannot drift."""
    fields = {f.name for f in dataclasses.fields(SendOptions)}
    assert set(SendKeywords.__annotations__) == fields
    assert SendKeywords.__required_keys__ == frozenset()


def test_send_keywords_take_the_types_of_send_options_fields() -> None:
    """Each keyword of send has the type of its SendOptions field (daily_cap="none" passes
    a type checker in both): the types cannot drift either."""
    names = {"Transport": Transport}  # imported by options.py for type checking only
    keywords = get_type_hints(SendKeywords, localns=names)
    fields = get_type_hints(SendOptions, localns=names)
    drifted = {name: (hint, fields[name]) for name, hint in keywords.items()
               if hint != fields[name]}
    assert not drifted
    assert _literals(keywords["daily_cap"]) is None  # int | "none" | None: not only literals
    assert set(get_args(keywords["daily_cap"])) == {int, Literal["none"], type(None)}


def test_outcomes_takes_the_exports_keywords() -> None:
    """engine.outcomes takes each keyword of Export, by the same name and default."""
    mine = inspect.signature(outcomes).parameters
    theirs = inspect.signature(Export.__init__).parameters
    assert [(p.name, p.kind, p.default) for p in mine.values()] == \
        [(p.name, p.kind, p.default) for p in theirs.values() if p.name != "self"]


def test_literal_types_hold_the_values_the_run_accepts() -> None:
    """Wait, OnAmbiguous, Scope, InputFormat and OutcomeFilter are exactly the values the
    runtime checks accept."""
    assert get_args(public.Wait) == WAITS == ("completed", "accepted", "delivered")
    assert get_args(public.OnAmbiguous) == ON_AMBIGUOUS
    assert get_args(public.Scope) == SCOPES
    assert get_args(InputFormat) == ("auto", *reading.FORMATS)
    assert get_args(OutcomeFilter) == FILTERS


def _unwrap(hint: Any) -> Iterator[Any]:
    """The TypedDicts inside a hint (X, X | None, list[X], Sequence[X], NotRequired[X])."""
    if isinstance(hint, type) and issubclass(hint, dict) and hasattr(hint, "__required_keys__"):
        yield hint
    elif get_origin(hint) in (Union, types.UnionType, list, NotRequired) or \
            getattr(get_origin(hint), "__name__", "") == "Sequence":
        for arg in get_args(hint):
            yield from _unwrap(arg)


def _literals(hint: Any) -> set[Any] | None:
    """The values a Literal hint (or one with None, or NotRequired) allows; None when it is no
    Literal."""
    if get_origin(hint) is NotRequired:
        return _literals(get_args(hint)[0])
    values: set[Any] = set()
    for arg in get_args(hint) if get_origin(hint) in (Union, types.UnionType) else (hint,):
        if arg is type(None):
            values.add(None)
        elif get_origin(arg) is Literal:
            values.update(get_args(arg))
        else:
            return None
    return values


def _variants(node: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [v for v in node.get("anyOf", [node]) if v.get("type") != "null"]


def _drift(typed: Any, node: Mapping[str, Any], where: str,
           extra: Mapping[str, frozenset[str]]) -> list[str]:
    """How a TypedDict differs from a schema object: keys, which are required, the values of
    an enum, then the same for each nested object."""
    schema = next(v for v in _variants(node) if "properties" in v)
    properties, required = schema["properties"], set(schema.get("required", ()))
    hints = get_type_hints(typed, include_extras=True)
    allowed = extra.get(typed.__name__, frozenset())
    found = []
    if set(hints) - allowed != set(properties):
        found.append(f"{where}: keys {sorted(set(hints) ^ set(properties))} differ")
    if set(typed.__required_keys__) != required:
        found.append(f"{where}: required {sorted(set(typed.__required_keys__) ^ required)}")
    for key, hint in hints.items():
        if key not in properties:
            continue
        enum = properties[key].get("enum") or properties[key].get("const")
        if enum is not None:
            enum = set(enum) if isinstance(enum, list) else {enum}
            if _literals(hint) != enum:
                found.append(f"{where}.{key}: {_literals(hint)} is not the schema's {enum}")
        for inner in _unwrap(hint):
            target = properties[key]
            if target.get("type") == "array":
                target = target["items"]
            if any("properties" in v for v in _variants(target)):
                found += _drift(inner, target, f"{where}.{key}", extra)
    return found


# Keys the report has beyond its schema: a scheduled send's totals (engine/run/rounds.py)
BEYOND_SCHEMA = {"Totals": frozenset({"deferred", "expired", "dailyCap", "noWindow"})}


def test_report_type_is_the_report_schema() -> None:
    """Report and the types inside it have the JSON schema's keys, required keys and enum
    values (engine/schemas/report.json), so neither can change alone."""
    assert _drift(shapes.Report, report.schema(), "report", BEYOND_SCHEMA) == []
    assert set(get_type_hints(shapes.Totals)) - set(get_type_hints(shapes.TotalsFields)) == \
        BEYOND_SCHEMA["Totals"]
    assert set(shapes.StatusTotals.__annotations__) == set(report.status_totals([]))


def test_each_event_type_is_its_schema_variant() -> None:
    """One TypedDict per event kind, each with its schema variant's keys, required keys and
    enums (engine/schemas/events.json); Event is their union."""
    variants = {v["properties"]["event"]["const"]: v for v in events.schema()["oneOf"]}
    kinds = {get_args(get_type_hints(t)["event"])[0]: t for t in get_args(shapes.Event)}
    assert set(kinds) == set(variants) == {kind.KIND for kind in events.EVENTS}
    for kind, typed in kinds.items():
        assert _drift(typed, variants[kind], kind, {}) == []


def test_the_public_names_are_listed_and_reachable() -> None:
    """dir(engine) lists every public name (lazy ones too); each is reachable; check is the
    pre-flight door; a misspelt name is an AttributeError naming it; engine.types exports
    what it lists."""
    assert {"send", "send_events", "check", "outcomes", "SendOptions"} <= set(dir(engine))
    assert set(engine.__all__) <= set(dir(engine))
    assert all(getattr(engine, name) is not None for name in engine.__all__)
    from engine.run.doors import check

    assert engine.check is check
    with pytest.raises(AttributeError, match="'sned'"):
        engine.sned  # type: ignore[attr-defined]  # noqa: B018  # the point: it is refused
    assert all(hasattr(public, name) for name in public.__all__)


def test_import_engine_stays_light() -> None:
    """``import engine`` (and engine.types) loads neither aiohttp nor the sending machinery."""
    code = ("import sys, engine, engine.types; "
            "print(sorted(m for m in ('aiohttp', 'engine.run.api') if m in sys.modules))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True)
    assert run.stdout.strip() == "[]"
