"""An independent OpenAPI fuzzer (schemathesis) holds the whole simulator against both spec
subsets: no server error, and every answer conforming to the spec (status, content type,
headers such as the consents' ETag, and body schema).

schemathesis runs as its own process (its CLI) against the simulator served on a free
loopback port, with a bounded number of examples per operation and a fixed seed. Statuses
the subsets leave out but RingCentral's gateway gives to any call (400, 401, 404, 405, 413,
429) are allowed only in RingCentral's error shape: tests/simulator/fuzz_checks.py.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from engine.config.credentials import DEMO_CREDENTIALS
from engine.simulator import SimulatorThread
from engine.simulator.settings import ConsentSettings
from tests.conftest import JWT_GRANT, sim_settings
from tests.openapi import DATA

ROOT = Path(__file__).resolve().parents[2]
CHECKS = ("not_a_server_error", "documented_or_gateway_status", "content_type_conformance",
          "response_headers_conformance", "response_schema_conformance")
EXAMPLES = 25  # per operation and phase: both subsets take well under a minute each
SEED = 21


def access_token(url: str) -> str:
    """A token for the fuzzer's requests, by the JWT grant with the demo credentials."""
    pair = f"{DEMO_CREDENTIALS.client_id}:{DEMO_CREDENTIALS.client_secret}"
    form = urllib.parse.urlencode({"grant_type": JWT_GRANT, "assertion": DEMO_CREDENTIALS.jwt})
    request = urllib.request.Request(
        f"{url}/restapi/oauth/token", data=form.encode(),
        headers={"Authorization": "Basic " + base64.b64encode(pair.encode()).decode(),
                 "Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(request, timeout=30) as response:
        token: str = json.load(response)["access_token"]
        return token


@pytest.mark.slow
@pytest.mark.timeout(240)
@pytest.mark.parametrize("spec", ["ringcentral-a2p-openapi.json",
                                  "ringcentral-preflight-openapi.json"])
def test_fuzzer_finds_no_server_error_and_no_departure_from_the_spec(
        spec: str, tmp_path: Path) -> None:
    """Every operation of the subset is fuzzed; no case fails a check or errors."""
    settings = sim_settings(consents=ConsentSettings(
        seed=5, opted_out=400, opted_in=40, pool_size=5_000, elsewhere_share=0.25))
    report = tmp_path / "report.json"
    with SimulatorThread(settings) as running:
        command = [
            sys.executable, "-c", "from schemathesis.cli import schemathesis; schemathesis()",
            "run", str(DATA / spec), "--url", running.url,
            "-H", f"Authorization: Bearer {access_token(running.url)}",
            "--max-examples", str(EXAMPLES), "--seed", str(SEED), "--no-shrink",
            "--workers", "1", "--checks", ",".join(CHECKS), "--request-timeout", "30",
            "--report", "json", "--report-json-path", str(report),
        ]
        env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.simulator.fuzz_checks",
               "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
               "NO_COLOR": "1"}
        # cwd: schemathesis keeps a cache directory where it runs
        run = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True,
                             timeout=200, check=False)
    summary = json.loads(report.read_text()) if report.exists() else {}
    shown = run.stdout[-6000:] + run.stderr[-2000:]
    assert run.returncode == 0, shown
    assert summary["failures"] == [], shown
    assert summary["errors"] == [], shown
    operations = summary["operations"]
    assert operations["tested"] == operations["selected"] == operations["total"], shown
    assert summary["test_cases"]["generated"] >= 10 * operations["total"], shown
