"""``a2p plan`` as a user runs it, on each input format and on stdin."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from engine.cli import main

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
