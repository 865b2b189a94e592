"""``a2p plan --consent`` and ``a2p check`` against the simulator: the recipients
RingCentral's opt-outs suppress are counted (by scope) before anything is sent."""

from __future__ import annotations

import time
from pathlib import Path

import orjson

from engine.simulator import SimulatorThread
from tests.conftest import sim_settings
from tests.e2e.test_cli_suppress import a2p

SENDER, OTHER = "+16505550100", "+16505550101"


def test_plan_and_check_count_consent_suppressed(tmp_path: Path) -> None:
    """plan --consent counts the list's opted-out recipients under each scope (source
    consent, apart from a --suppress file); check counts the opt-outs keeping --from."""
    listing = tmp_path / "list.txt"
    numbers = [f"+1415555{i:04d}" for i in range(500)]
    listing.write_text("".join(f"{n}\n" for n in numbers))
    dnc = tmp_path / "dnc.txt"
    dnc.write_text(f"{numbers[0]}\n{numbers[1]}\n")
    with SimulatorThread(sim_settings()) as running:
        store = running.simulator.store.consents
        for n in numbers[10:16]:
            store.set(SENDER, n, "OptOut", "Recipient", time.time())
        for n in numbers[20:24]:
            store.set(OTHER, n, "OptOut", "Api", time.time())
        store.set(OTHER, "+12025550100", "OptOut", "Api", time.time())  # not on the list
        for scope, want in (("account", 10), ("pair", 6)):
            done = a2p(running, "plan", str(listing), "--from", SENDER, "--text", "Hi",
                       "--consent", "--suppress-scope", scope, "--suppress", str(dnc),
                       "--json")
            assert done.returncode == 0, done.stderr.decode()
            plan = orjson.loads(done.stdout)
            assert plan["suppressed"] == {"file": 2, "consent": want}
            assert b"1 Light request" in done.stderr
        done = a2p(running, "check", "--from", SENDER, "--json")
        assert done.returncode == 0, done.stderr.decode()
        found = orjson.loads(done.stdout)["consent"]
        assert (found["optOuts"], found["inScope"], found["requests"]) == (11, 11, 1)
        assert running.simulator.store.accepted_count() == 0


def test_check_and_send_stop_when_the_consents_are_refused(tmp_path: Path) -> None:
    """With the consent paths refused (403 CMN-408, no SMS permission) a send exits 1 before
    any POST, saying to add the permission or pass --no-consent; check exits 1 after its
    findings; --no-consent sends."""
    from engine.simulator import FaultSettings

    listing = tmp_path / "list.txt"
    listing.write_text("+14155550100\n+14155550101\n")
    faults = FaultSettings(consent_refused=True)
    with SimulatorThread(sim_settings(faults=faults, messages_per_second=1e6)) as running:
        sent = a2p(running, "send", str(listing), "--from", SENDER, "--text", "Hi",
                   "--report", str(tmp_path / "r.json"))
        assert sent.returncode == 1, sent.stderr.decode()
        message = sent.stderr.decode()
        assert "SMS permission" in message
        assert "--no-consent" in message
        assert running.simulator.store.accepted_count() == 0
        checked = a2p(running, "check", "--from", SENDER)
        assert checked.returncode == 1
        assert b"can send High Volume SMS" in checked.stdout
        assert b"CMN-408" in checked.stderr
        done = a2p(running, "send", str(listing), "--from", SENDER, "--text", "Hi",
                   "--report", str(tmp_path / "r2.json"), "--no-consent")
        assert done.returncode == 0, done.stderr.decode()
        assert running.simulator.store.accepted_count() == 2
