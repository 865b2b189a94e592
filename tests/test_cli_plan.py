"""``a2p plan`` as a user runs it, on each input format and on stdin."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from engine.cli.commands import main

SENDER = "+16505550100"


def plan_json(args: list[str], stdin: bytes | None = None) -> Any:
    result = subprocess.run([sys.executable, "-m", "engine.cli", "plan", *args, "--json"],
                            input=stdin, capture_output=True, check=True, timeout=60)
    return orjson.loads(result.stdout)


@pytest.mark.parametrize(
    ("name", "content"),
    [("list.csv", b"to,name\n+14155550100,Ann\nbad,Bob\n+14155550102,Cy\n"),
     ("list.jsonl", b'{"to":"+14155550100"}\n{"to":"bad"}\n{"to":"+14155550102"}\n'),
     ("list.txt", b"+14155550100\nbad\n+14155550102\n")],
)
def test_plan_reads_each_format(tmp_path: Path, name: str, content: bytes) -> None:
    """CSV, JSONL and plain lines give the same plan: 2 to send, position 1 rejected."""
    path = tmp_path / name
    path.write_bytes(content)
    plan = plan_json([str(path), "--from", SENDER, "--text", "Hi"])
    assert (plan["records"], plan["recipients"], plan["rejectedLocal"]) == (3, 2, 1)
    assert plan["rejected"][0]["index"] == 1
    assert plan["chunks"][0]["firstIndex"] == 0
    assert plan["chunks"][0]["lastIndex"] == 2


def test_plan_reads_stdin_and_splits_under_the_limit() -> None:
    """'-' reads stdin; a small byte limit splits the list into several full batches."""
    numbers = b"".join(b"+1415555%04d\n" % i for i in range(100))
    plan = plan_json(["-", "--from", SENDER, "--text", "Hi", "--max-batch-bytes", "500"],
                     stdin=numbers)
    assert plan["recipients"] == 100
    assert all(chunk["bytes"] <= 500 for chunk in plan["chunks"])
    assert sum(chunk["recipients"] for chunk in plan["chunks"]) == 100
    assert len(plan["chunks"]) > 1


def test_plan_human_output_lists_batches_and_rejections(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --json, the plan is a readable table with each rejection's line and reason."""
    path = tmp_path / "l.csv"
    path.write_text("to\n+14155550100\n555-0101\n")
    assert main(["plan", str(path), "--from", SENDER, "--text", "Hi"]) == 0
    out = capsys.readouterr().out
    assert "records read" in out
    assert "line 3: '555-0101': LCL-INVALID-NUMBER" in out


def test_missing_file_and_strict_failures_exit_2(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """A missing file or a bad record under --strict exits 2 with the file and the fix."""
    assert main(["plan", str(tmp_path / "nope.csv"), "--from", SENDER]) == 2
    assert "no such file" in capsys.readouterr().err
    path = tmp_path / "l.txt"
    path.write_text("+14155550100\nbad\n")
    assert main(["plan", str(path), "--from", SENDER, "--text", "x", "--strict"]) == 2
    assert f"{path}, line 2" in capsys.readouterr().err


def test_plan_shows_segments_encoding_cost_and_warnings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The human plan is the cost preview: segments, UCS-2 and why, an estimate at the given
    price, the batch-text warning, and a JSONL record without "to" shown without 'None'."""
    path = tmp_path / "l.jsonl"
    path.write_text('{"to": "+14155550100"}\n{"to": "+14155550101"}\n{"phone": "x"}\n')
    assert main(["plan", str(path), "--from", SENDER, "--text", "Don’t miss it",
                 "--price-per-segment", "0.5"]) == 0
    captured = capsys.readouterr()
    assert "SMS segments                 2  (GSM-7 messages 0, UCS-2 messages 2)" in captured.out
    assert "estimated cost            1.00  at 0.5 per segment" in captured.out
    assert "UCS-2 because of  '’' (U+2019) first on line 1" in captured.out
    assert "line 3: LCL-BAD-ITEM: no \"to\" in this record" in captured.out
    assert "None" not in captured.out
    assert "a2p: WARNING: the batch text is UCS-2 because of '’' (U+2019)" in captured.err


def test_plan_warns_when_most_of_the_list_is_rejected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """More than half rejected: a loud warning on stderr and in --json, naming the reason."""
    path = tmp_path / "l.txt"
    path.write_text("+44 20 7183 8750\n+44 20 7183 8751\n+14155550100\n")
    assert main(["plan", str(path), "--from", SENDER, "--text", "Hi"]) == 0
    assert ("a2p: WARNING: 2 of 3 records (67%) were rejected; the commonest reason is "
            "LCL-NOT-NORTH-AMERICAN") in capsys.readouterr().err
    plan = plan_json([str(path), "--from", SENDER, "--text", "Hi"])
    assert "LCL-NOT-NORTH-AMERICAN" in plan["warnings"][0]


def test_plan_with_a_simulator_profile_plans_under_a_shell_set_for_production(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """plan connects to nothing: --profile simulator with RC_SERVER_URL pointing at production
    (a shell set up for real sends) plans as asked instead of refusing the pair."""
    path = tmp_path / "list.txt"
    path.write_bytes(b"+14155550100\n+14155550101\n")
    monkeypatch.setenv("RC_SERVER_URL", "https://platform.ringcentral.com")
    code = main(["plan", str(path), "--from", SENDER, "--text", "Hi", "--profile", "simulator",
                 "--json"])
    assert code == 0
    assert orjson.loads(capsys.readouterr().out)["recipients"] == 2


def test_plan_of_a_mostly_bad_list_streams_every_rejection_and_shows_the_first(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--json lists every rejection, sorted, as the in-memory plan did; the table shows the
    first --show-rejected of them and the total; no spill file is left behind."""
    lines = [f"+1415555{i:04d}" if i % 3 else f"bad{i}" for i in range(3_000)]
    path = tmp_path / "l.txt"
    path.write_text("\n".join(lines) + "\n")
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "engine.cli", "plan", str(path), "--from",
                             SENDER, "--text", "Hi", "--json"], capture_output=True,
                            check=True, timeout=60, env=env)
    plan = orjson.loads(result.stdout)
    assert plan["rejectedLocal"] == 1_000
    assert [r["index"] for r in plan["rejected"]] == list(range(0, 3_000, 3))
    assert all(r["line"] == r["index"] + 1 and r["to"] == f"bad{r['index']}"
               for r in plan["rejected"])
    assert list(plan)[-1] == "rejected"
    assert main(["plan", str(path), "--from", SENDER, "--text", "Hi",
                 "--show-rejected", "3"]) == 0
    out = capsys.readouterr().out
    assert "rejected locally         1,000" in out
    assert "first 3;" in out
    shown = [line for line in out.splitlines() if line.startswith("    line ")]
    assert [s.split(":")[0] for s in shown] == ["    line 1", "    line 4", "    line 7"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["l.txt"]
