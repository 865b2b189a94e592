"""The pre-flight against the simulator: a wrong sender costs no batch, a good one passes."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest

import engine
from engine.config.credentials import DEMO_CREDENTIALS
from engine.errors import AuthError, SenderError
from engine.run.doors import check
from engine.simulator import SimulatorThread
from engine.simulator.numbers import FIRST_ID
from engine.types import Report
from tests.conftest import sim_settings
from tests.e2e.conftest import SENDER, Start

NUMBERS = [f"+1415555{i:04d}" for i in range(50)]


async def collect_send(settings: engine.Settings, sender: str, items: Any, **options: Any
                       ) -> tuple[Report, list[dict[str, Any]]]:
    events: list[dict[str, Any]] = []

    async def on_event(event: dict[str, Any]) -> None:
        events.append(event)

    report = await engine.send(items, sender=sender, text="Hi", config=settings,
                               credentials=DEMO_CREDENTIALS, on_event=on_event, **options)
    return report, events


async def test_wrong_sender_is_refused_before_any_post(start: Start) -> None:
    """A --from that is not an A2P number of the user stops the run: zero batches on the
    server, and the message names the user's A2P numbers."""
    running, settings = await start()
    with pytest.raises(SenderError) as caught:
        await collect_send(settings, "+14155550199", NUMBERS)
    assert running.simulator.store.batches == []
    assert running.simulator.store.accepted_count() == 0
    assert "your A2P numbers are: +16505550100, +16505550101" in str(caught.value)


async def test_number_without_the_feature_is_refused_before_any_post(start: Start) -> None:
    """The user's own number without A2PSmsSender is refused too, with nothing sent."""
    running, settings = await start(other_numbers=("+16505550199",))
    with pytest.raises(SenderError, match="lacks the A2PSmsSender feature"):
        await collect_send(settings, "+16505550199", NUMBERS)
    assert running.simulator.store.batches == []


async def test_no_preflight_sends_and_the_server_refuses(start: Start) -> None:
    """preflight=False skips the check: the batch goes out and the server refuses it."""
    _running, settings = await start()
    report, _ = await collect_send(settings, "+14155550199", NUMBERS, preflight=False)
    assert report["preflight"] is None
    assert report["totals"]["sent"] == 0
    assert report["totals"]["failedChunks"] >= 1


async def test_good_sender_passes_and_the_report_shows_the_check(start: Start) -> None:
    """The default sender passes; the report records what the pre-flight found."""
    _running, settings = await start()
    report, events = await collect_send(settings, SENDER, NUMBERS)
    assert report["totals"]["sent"] == 50
    assert (report["preflight"] or {})["from"] == SENDER
    assert "A2PSmsSender" in (report["preflight"] or {})["features"]
    assert not [e for e in events if e["event"] == "warning"]


async def test_sender_found_on_the_third_page(start: Start) -> None:
    """A user with 2,500 numbers: the sender listed last is found by reading every page."""
    others = tuple(f"+1212555{i:04d}" for i in range(2_499))
    # the simulator lists the A2P senders first: the sender goes after 2,499 of them
    _running, settings = await start(senders=(*others, "+16505550101"))
    report, _ = await collect_send(settings, "+16505550101", NUMBERS)
    assert report["totals"]["sent"] == 50
    assert (report["preflight"] or {})["phoneNumberId"] == FIRST_ID + 2_499  # the 2,500th record


async def test_low_volume_sender_warns_when_the_list_is_larger(start: Start) -> None:
    """A LowVolume sender with a 7,000-recipient list: a warning event, the send goes on."""
    _running, settings = await start(registration_tiers=((SENDER, "LowVolume"),))
    items = [f"+1212{2_000_000 + i:07d}" for i in range(7_000)]
    report, events = await collect_send(settings, SENDER, items)
    warnings = [e for e in events if e["event"] == "warning"]
    assert len(warnings) == 1
    assert "7,000 recipients" in warnings[0]["message"]
    assert "about 6,000 messages a day" in warnings[0]["message"]
    assert (report["preflight"] or {})["dailyCap"] == 6_000
    assert report["warnings"] == [warnings[0]["message"]]
    assert report["totals"]["sent"] == 7_000


async def test_mostly_rejected_list_warns_with_the_commonest_reason(start: Start) -> None:
    """When more than half the records are rejected, a warning names the commonest reason."""
    _running, settings = await start()
    items = [*NUMBERS[:10], *(f"555-{i:04d}" for i in range(30)), "+442071838750"]
    _report, events = await collect_send(settings, SENDER, items)
    [warning] = [e for e in events if e["event"] == "warning"]
    assert events[-1]["event"] == "summary"
    assert warning["code"] == "mostly-rejected"
    assert warning["message"].startswith("31 of 41 records (76%) were rejected; the commonest "
                                         "reason is LCL-INVALID-NUMBER (30 records), e.g. "
                                         "record 10: '555-0000'")


async def test_check_on_its_own(start: Start) -> None:
    """engine.run.doors.check answers what a2p check prints: the sender's id, tier and cap."""
    running, settings = await start(registration_tiers=((SENDER, "LowVolume"),))
    found = await check(SENDER, config=settings, credentials=DEMO_CREDENTIALS, recipients=100)
    assert (found.registration_tier, found.daily_cap, found.warnings) == ("LowVolume", 6000, ())
    assert running.simulator.store.batches == []


async def test_check_with_bad_credentials_is_an_auth_error(start: Start) -> None:
    """Credentials the server refuses stop the check with an AuthError."""
    _running, settings = await start()
    wrong = engine.Credentials(DEMO_CREDENTIALS.client_id, "wrong", DEMO_CREDENTIALS.jwt)
    with pytest.raises(AuthError):
        await check(SENDER, config=settings, credentials=wrong)


def run_cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RC_SERVER_URL": url, "RC_APP_CLIENT_ID": "demo-client-id",
           "RC_APP_CLIENT_SECRET": "demo-client-secret", "RC_USER_JWT": "demo-user-jwt"}
    return subprocess.run([sys.executable, "-m", "engine.cli", *args], capture_output=True,
                          text=True, env=env, timeout=60, check=False)


@pytest.mark.slow
def test_cli_check_exit_codes() -> None:
    """a2p check: 0 for a good sender, 2 naming the fix for a wrong one, 3 for bad credentials."""
    settings = sim_settings(registration_tiers=(("+16505550101", "LowVolume"),))
    with SimulatorThread(settings) as running:
        good = run_cli(running.url, "check", "--from", SENDER)
        low = run_cli(running.url, "check", "--from", "+16505550101", "--recipients", "9000")
        wrong = run_cli(running.url, "check", "--from", "+14155550100")
        env_url = running.url
        denied = subprocess.run(
            [sys.executable, "-m", "engine.cli", "check", "--from", SENDER],
            capture_output=True, text=True, timeout=60, check=False,
            env={**os.environ, "RC_SERVER_URL": env_url, "RC_APP_CLIENT_ID": "demo-client-id",
                 "RC_APP_CLIENT_SECRET": "nope", "RC_USER_JWT": "demo-user-jwt"})
    assert good.returncode == 0, good.stderr
    assert f"{SENDER} can send High Volume SMS" in good.stdout
    assert low.returncode == 0, low.stderr
    assert "WARNING" in low.stderr
    assert "9,000 recipients" in low.stderr
    assert wrong.returncode == 2
    assert "your A2P numbers are: +16505550100, +16505550101" in wrong.stderr
    assert denied.returncode == 3


def test_cli_send_refuses_a_wrong_sender_before_any_post(tmp_path: Any) -> None:
    """a2p send with a wrong --from exits 2 and the ledger shows zero batches."""
    numbers = tmp_path / "numbers.txt"
    numbers.write_text("".join(f"{n}\n" for n in NUMBERS))
    with SimulatorThread(sim_settings()) as running:
        result = run_cli(running.url, "send", str(numbers), "--from", "+14155550100",
                         "--text", "Hi", "--report", str(tmp_path / "r.json"))
        batches = list(running.simulator.store.batches)
    assert result.returncode == 2, result.stderr
    assert "not one of this account's numbers" in result.stderr
    assert batches == []


async def test_app_without_read_accounts_is_told_the_fix() -> None:
    """A 403 on the number listing stops the check, naming the permission and --no-preflight."""
    from aiohttp import web

    from engine.simulator.views import error_body
    from tests.e2e.conftest import engine_settings

    token = {"access_token": "t", "token_type": "bearer", "expires_in": 3600,
             "refresh_token": "r", "refresh_token_expires_in": 86400}

    async def login(request: web.Request) -> web.Response:
        return web.json_response(token)

    async def forbidden(request: web.Request) -> web.Response:
        body = error_body("CMN-401", "In order to call this API endpoint, application needs to "
                          "have [ReadAccounts] permission")
        return web.json_response(body, status=403)

    app = web.Application()
    app.router.add_post("/restapi/oauth/token", login)
    app.router.add_post("/restapi/oauth/revoke", login)
    app.router.add_get("/restapi/v1.0/account/~/extension/~/phone-number", forbidden)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        with pytest.raises(SenderError) as caught:
            await check(SENDER, config=engine_settings(f"http://127.0.0.1:{port}"),
                        credentials=DEMO_CREDENTIALS)
    finally:
        await runner.cleanup()
    message = str(caught.value)
    assert "ReadAccounts permission" in message
    assert "--no-preflight" in message
    assert "HTTP 403 CMN-401" in message
