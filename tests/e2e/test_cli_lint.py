"""The compliance lint as a user meets it: ``a2p plan`` (table, --json warnings) and
``a2p check --text`` warn about a marketing text without opt-out language or a brand, and
about a list mostly suppressed; warnings never change the exit code."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson

from engine.config.credentials import DEMO_CREDENTIALS
from engine.simulator import SimulatorThread
from tests.conftest import sim_settings

SENDER = "+16505550100"
SALE = "Huge sale: 20% off today"
GOOD = "Acme: 20% off today. Reply STOP to opt out"
# plan's clock, fixed where every US recipient is inside 08:00-21:00 local (12:00 Pacific):
# the quiet-hours warning of a plan without --quiet-hours would otherwise join the lint's at
# night, and these tests count the lint's warnings
NOON_PACIFIC = "2026-12-07T20:00Z"


def a2p(*args: str, url: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RC_")}
    if url is not None:
        env |= {"RC_SERVER_URL": url, "RC_APP_CLIENT_ID": DEMO_CREDENTIALS.client_id,
                "RC_APP_CLIENT_SECRET": DEMO_CREDENTIALS.client_secret,
                "RC_USER_JWT": DEMO_CREDENTIALS.jwt}
    if args[0] == "plan":
        args = (*args, "--now", NOON_PACIFIC)
    return subprocess.run([sys.executable, "-m", "engine", *args], capture_output=True,
                          text=True, env=env, timeout=120, check=False)


def lists(tmp_path: Path) -> tuple[Path, Path]:
    """100 recipients, 10 of them on a suppression list."""
    listing = tmp_path / "list.txt"
    listing.write_text("".join(f"+1415555{i:04d}\n" for i in range(100)))
    suppress = tmp_path / "stop.txt"
    suppress.write_text("".join(f"+1415555{i:04d}\n" for i in range(0, 100, 10)))
    return listing, suppress


def test_plan_warns_in_its_table_and_its_json(tmp_path: Path) -> None:
    """A sale text without STOP or a brand and a list 10 % suppressed: three warnings, in
    the table and in --json's warnings, and the plan still succeeds."""
    listing, suppress = lists(tmp_path)
    args = (str(listing), "--from", SENDER, "--text", SALE, "--suppress", str(suppress))
    table = a2p("plan", *args)
    assert table.returncode == 0, table.stderr
    assert "  warnings:" in table.stdout
    assert "has no opt-out language: add 'Reply STOP to opt out'" in table.stdout
    assert "does not start with the sender's brand" in table.stdout
    assert "10 of 100 records (10.0 %) are suppressed" in table.stdout
    document = a2p("plan", *args, "--json")
    assert document.returncode == 0, document.stderr
    warnings = orjson.loads(document.stdout)["warnings"]
    assert len(warnings) == 3
    assert all("CTIA" in w for w in warnings)


def test_plan_of_a_compliant_campaign_has_no_compliance_warning(tmp_path: Path) -> None:
    """A branded text with opt-out language, under a raised --warn-suppressed: no warning."""
    listing, suppress = lists(tmp_path)
    done = a2p("plan", str(listing), "--from", SENDER, "--text", GOOD, "--suppress",
               str(suppress), "--warn-suppressed", "15", "--json")
    assert done.returncode == 0, done.stderr
    assert orjson.loads(done.stdout)["warnings"] == []


def test_plan_lints_a_text_column_once_not_every_row(tmp_path: Path) -> None:
    """A column of 200 marketing texts gives one warning of each kind, naming a line."""
    listing = tmp_path / "texts.csv"
    listing.write_text("to,text\n" + "".join(f"+1415555{i:04d},{SALE} #{i}\n"
                                             for i in range(200)))
    done = a2p("plan", str(listing), "--from", SENDER, "--json")
    warnings = orjson.loads(done.stdout)["warnings"]
    assert len(warnings) == 2
    assert all(w.startswith("the text of line 2 ") for w in warnings)


def test_check_lints_the_text_it_is_given() -> None:
    """a2p check --text warns on stderr and in --json, exit 0; --brand asks for that name."""
    with SimulatorThread(sim_settings()) as running:
        sale = a2p("check", "--from", SENDER, "--text", SALE, url=running.url)
        good = a2p("check", "--from", SENDER, "--text", GOOD, url=running.url)
        branded = a2p("check", "--from", SENDER, "--text", GOOD, "--brand", "Globex",
                      "--json", url=running.url)
    assert sale.returncode == 0, sale.stderr
    assert sale.stderr.count("a2p: WARNING: the batch text looks like marketing") == 2
    assert good.returncode == 0, good.stderr
    assert "WARNING" not in good.stderr
    assert branded.returncode == 0, branded.stderr
    [warning] = orjson.loads(branded.stdout)["warnings"]
    assert "start it with 'Globex: '" in warning
