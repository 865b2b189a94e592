"""Every exit code docs/correctness.md documents, produced by ``a2p`` run as a user runs it: a
subprocess, against a simulator on loopback. No error ends in a traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest

from engine.simulator import FaultSettings, RunningSimulator, SimulatorThread
from tests.conftest import sim_settings

SENDER = "+16505550100"
DEMO = {"RC_APP_CLIENT_ID": "demo-client-id", "RC_APP_CLIENT_SECRET": "demo-client-secret",
        "RC_USER_JWT": "demo-user-jwt"}


@pytest.fixture(scope="module")
def server() -> Iterator[RunningSimulator]:
    with SimulatorThread(sim_settings(messages_per_second=1e6)) as running:
        yield running


def a2p(args: Sequence[str], *, env: dict[str, str] | None = None, cwd: Path | None = None,
        stdin: bytes = b"") -> subprocess.CompletedProcess[str]:
    """``python -m engine ARGS`` with only the RC_* variables given in ``env``."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("RC_")}
    result = subprocess.run([sys.executable, "-m", "engine", *args], input=stdin.decode(),
                            capture_output=True, text=True, env={**base, **(env or {})},
                            cwd=cwd, timeout=120, check=False)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def numbers(path: Path, count: int = 5) -> Path:
    path.write_text("".join(f"+1415555{i:04d}\n" for i in range(count)))
    return path


def send(tmp_path: Path, *extra: str) -> list[str]:
    return ["send", str(numbers(tmp_path / "list.txt")), "--from", SENDER, "--text", "Hi",
            "--report", str(tmp_path / "r.json"), *extra]


def sim_env(server: RunningSimulator, **changes: str) -> dict[str, str]:
    return {"RC_SERVER_URL": server.url, **DEMO, **changes}


def test_exit_0_when_every_batch_completes(tmp_path: Path, server: RunningSimulator) -> None:
    """A clean run exits 0 and says where its report is."""
    result = a2p(send(tmp_path), env=sim_env(server))
    assert result.returncode == 0, result.stderr
    assert f"report: {tmp_path / 'r.json'}" in result.stderr


def test_exit_1_when_batches_fail(tmp_path: Path, server: RunningSimulator) -> None:
    """A sender the server refuses (pre-flight skipped): every batch fails, exit 1."""
    args = [*send(tmp_path), "--no-preflight"]
    args[args.index(SENDER)] = "+16505550199"
    result = a2p(args, env=sim_env(server))
    assert result.returncode == 1, result.stderr
    assert "1 batches failed" in result.stderr


def test_exit_2_when_the_preflight_refuses_the_sender(tmp_path: Path,
                                                      server: RunningSimulator) -> None:
    """A sender without the A2PSmsSender feature: refused before any POST, exit 2."""
    args = send(tmp_path)
    args[args.index(SENDER)] = "+16505550199"
    before = len(list(server.simulator.store.ledger()))
    result = a2p(args, env=sim_env(server))
    assert result.returncode == 2, result.stderr
    assert "Pass one of them with --from" in result.stderr
    assert len(list(server.simulator.store.ledger())) == before


# Retries quick and an Auth budget wide enough for them, so a failing token endpoint is
# given up on in well under a second instead of the profile's minute.
QUICK_AUTH = """
[server]
url = "http://127.0.0.1:8080"
[retry]
max_attempts = 4
backoff_initial = 0.01
backoff_max = 0.05
[rate_limit]
auth_requests = 1000
"""


def test_exit_1_when_the_server_is_down(tmp_path: Path) -> None:
    """Nothing listens at the server URL: the login is tried again, then a one-line
    message that says the token endpoint could not be reached, and exit 1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = a2p([*send(tmp_path), "--profile", _profile(tmp_path, QUICK_AUTH)],
                 env={"RC_SERVER_URL": f"http://127.0.0.1:{port}", **DEMO})
    assert result.returncode == 1
    assert "could not connect" in result.stderr
    assert "token endpoint" in result.stderr
    assert "failed 4 times" in result.stderr


@pytest.mark.parametrize(("faults", "last"), [
    ({"token_error_rate": 1.0, "token_error_statuses": (502,)}, "HTTP 502"),
    ({"token_error_rate": 1.0, "token_error_statuses": (503,), "token_error_html": True},
     "HTTP 503"),
    ({"token_error_rate": 1.0, "token_error_statuses": (0,)}, "no answer"),
])
def test_exit_1_not_3_when_the_token_endpoint_keeps_failing(
        tmp_path: Path, faults: dict[str, Any], last: str) -> None:
    """A token endpoint that answers 5xx (JSON or HTML) or drops the connection every time:
    retried, then exit 1 with a message blaming the endpoint, never the credentials, and no
    secret in it."""
    settings = sim_settings(faults=FaultSettings(**faults))
    with SimulatorThread(settings) as failing:
        result = a2p([*send(tmp_path), "--profile", _profile(tmp_path, QUICK_AUTH)],
                     env=sim_env(failing))
        assert failing.simulator.stats["token_error"] == 4
        assert not list(failing.simulator.store.ledger())
    assert result.returncode == 1, result.stderr
    assert f"failed 4 times (last: {last}" in result.stderr
    assert "The credentials were not refused" in result.stderr
    assert "RC_USER_JWT" not in result.stderr
    assert all(secret not in result.stderr for secret in DEMO.values())


@pytest.mark.slow
def test_a_token_endpoint_that_fails_three_times_then_heals_still_sends(
        tmp_path: Path) -> None:
    """Three 502s at the login, then tokens: the run completes, exit 0."""
    settings = sim_settings(messages_per_second=1e6, faults=FaultSettings(
        token_error_count=3, token_error_statuses=(502,)))
    with SimulatorThread(settings) as flaky:
        result = a2p([*send(tmp_path), "--profile", _profile(tmp_path, QUICK_AUTH)],
                     env=sim_env(flaky))
        assert flaky.simulator.stats["token_error"] == 3
        assert len(list(flaky.simulator.store.ledger())) == 5
    assert result.returncode == 0, result.stderr


@pytest.mark.slow
@pytest.mark.parametrize(("variable", "value"), [("RC_APP_CLIENT_SECRET", "wrong-secret"),
                                                 ("RC_USER_JWT", "wrong-jwt")])
def test_exit_3_when_credentials_are_refused_and_nothing_blocks_a_retry(
        tmp_path: Path, server: RunningSimulator, variable: str, value: str) -> None:
    """A wrong secret or JWT exits 3 naming the variables; no journal is left behind, so the
    same command runs once the credentials are fixed."""
    result = a2p(send(tmp_path), env=sim_env(server, **{variable: value}))
    assert result.returncode == 3
    assert "Check RC_APP_CLIENT_ID, RC_APP_CLIENT_SECRET and RC_USER_JWT" in result.stderr
    assert value not in result.stderr
    assert not (tmp_path / "r.json.journal").exists()
    assert a2p(send(tmp_path), env=sim_env(server)).returncode == 0


def _profile(tmp_path: Path, body: str) -> str:
    path = tmp_path / "mine.toml"
    path.write_text(body)
    return str(path)


@pytest.mark.slow
@pytest.mark.parametrize(("case", "expected"), [
    ("unknown profile", "no profile named 'nope'"),
    ("bad toml", "not valid TOML"),
    ("misspelt key", "send.concurency: unknown key"),
    ("http url", "plain http is refused for example.com"),
    ("not a url", "'notaurl' is not an http(s) URL"),
    ("partial credentials", "RC_USER_JWT: is not set while other credentials are"),
    ("missing input", "no such file"),
    ("empty text", "--text is empty"),
    ("bad sender", "is not an E.164 number"),
    ("missing env file", "--env-file"),
])
def test_exit_2_for_usage_and_configuration_errors(
        tmp_path: Path, server: RunningSimulator, case: str, expected: str) -> None:
    """Each wrong setting exits 2 with one line that names it and the fix."""
    args, env = send(tmp_path), sim_env(server)
    if case == "unknown profile":
        args += ["--profile", "nope"]
    elif case == "bad toml":
        args += ["--profile", _profile(tmp_path, "[server\n")]
    elif case == "misspelt key":
        args += ["--profile", _profile(tmp_path, "[server]\nurl = 'http://127.0.0.1:1'\n"
                                                 "[send]\nconcurency = 2\n")]
    elif case == "http url":
        env["RC_SERVER_URL"] = "http://example.com"
    elif case == "not a url":
        env["RC_SERVER_URL"] = "notaurl"
    elif case == "partial credentials":
        del env["RC_USER_JWT"]
    elif case == "missing input":
        args[1] = str(tmp_path / "absent.csv")
    elif case == "empty text":
        args[args.index("Hi")] = ""
    elif case == "bad sender":
        args[args.index(SENDER)] = "6505550100"
    elif case == "missing env file":
        args += ["--env-file", str(tmp_path / "absent.env")]
    result = a2p(args, env=env)
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr
    assert not (tmp_path / "r.json.journal").exists()


def test_exit_2_for_text_with_template(tmp_path: Path) -> None:
    """--text and --template together are refused: the template would silently win."""
    result = a2p([*send(tmp_path), "--template", "Hi {name}"])
    assert result.returncode == 2
    assert "not allowed with argument --text" in result.stderr


@pytest.mark.slow
def test_exit_2_for_strict_and_the_same_command_runs_after_the_fix(
        tmp_path: Path, server: RunningSimulator) -> None:
    """--strict stops at a bad record before anything is sent (exit 2); once the list is
    fixed, the very same command runs: no journal was left to refuse it."""
    args = [*send(tmp_path), "--strict"]
    listing = Path(args[1])
    listing.write_text("+14155550100\nbad\n")
    result = a2p(args, env=sim_env(server))
    assert result.returncode == 2
    assert f"{listing}, line 2" in result.stderr
    listing.write_text("+14155550100\n")
    assert a2p(args, env=sim_env(server)).returncode == 0


@pytest.mark.slow
def test_exit_2_for_an_existing_journal_and_every_resume_refusal(
        tmp_path: Path, server: RunningSimulator) -> None:
    """A finished run's journal blocks a new run at the same path (exit 2, before any
    login), and resuming it with another text, a missing journal or a changed list is
    refused with exit 2."""
    env = sim_env(server)
    assert a2p(send(tmp_path), env=env).returncode == 0
    journal = str(tmp_path / "r.json.journal")
    again = a2p(send(tmp_path), env=env)
    assert again.returncode == 2
    assert "a journal already exists there" in again.stderr
    other_text = send(tmp_path)[:-2]
    other_text[other_text.index("Hi")] = "Bye"
    refused = a2p([*other_text, "--resume", journal], env=env)
    assert refused.returncode == 2
    assert "the journal was written for text 'Hi'" in refused.stderr
    missing = a2p([*send(tmp_path)[:-2], "--resume", str(tmp_path / "none.journal")], env=env)
    assert missing.returncode == 2
    assert "cannot read the journal" in missing.stderr
    resume = [*send(tmp_path)[:-2], "--resume", journal]  # send() writes the list again:
    numbers(tmp_path / "list.txt", 6)  # changed after it (same bytes, a new time, resume)
    changed = a2p(resume, env=env)
    assert changed.returncode == 2
    assert "changed since the journal was written" in changed.stderr


def test_plan_refuses_a_sender_without_plus_and_ends_quietly_in_a_closed_pipe(
        tmp_path: Path) -> None:
    """plan --from 6505550100 exits 2; plan piped into a reader that stops early exits 0
    without a BrokenPipeError."""
    listing = numbers(tmp_path / "l.txt", 20_000)
    bad = a2p(["plan", str(listing), "--from", "6505550100", "--text", "Hi"])
    assert bad.returncode == 2
    assert "E.164" in bad.stderr
    command = (f"{sys.executable} -m engine plan {listing} --from {SENDER} --text Hi "
               "--max-batch-bytes 2000 | head -1")
    piped = subprocess.run(["bash", "-o", "pipefail", "-c", command], capture_output=True,
                           text=True, timeout=60, check=False)
    assert piped.stdout.startswith("plan for")
    assert "Traceback" not in piped.stderr
    assert "BrokenPipe" not in piped.stderr
    assert piped.returncode == 0


def test_simulate_on_a_busy_port_exits_2() -> None:
    """A port already in use: one line naming the port and the fix, exit 2."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = a2p(["simulate", "--port", str(port)])
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "--port 0" in result.stderr


def test_verbose_adds_the_traceback(tmp_path: Path) -> None:
    """--verbose shows the traceback behind the one-line message (for bug reports)."""
    result = subprocess.run(
        [sys.executable, "-m", "engine", "-v", "plan", str(tmp_path / "absent"), "--from",
         SENDER, "--text", "Hi"], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert "Traceback" in result.stderr
    assert "a2p: " + str(tmp_path / "absent") + ": no such file" in result.stderr


def test_version_and_python_dash_m() -> None:
    """`python -m engine --version` names the version."""
    import engine

    result = a2p(["--version"])
    assert result.returncode == 0
    assert result.stdout.strip() == f"a2p {engine.__version__}"


@pytest.mark.slow
def test_env_file_supplies_the_credentials(tmp_path: Path, server: RunningSimulator) -> None:
    """--env-file PATH gives the RC_* variables (quotes and `export` as in .env files)."""
    env_file = tmp_path / ".env"
    env_file.write_text(f"# RingCentral app\nexport RC_SERVER_URL={server.url}\n"
                        'RC_APP_CLIENT_ID="demo-client-id"\n'
                        "RC_APP_CLIENT_SECRET='demo-client-secret'\nRC_USER_JWT=demo-user-jwt\n")
    result = a2p([*send(tmp_path), "--env-file", str(env_file)],
                 env={"RC_SERVER_URL": "http://127.0.0.1:1"})
    assert result.returncode == 0, result.stderr
    wrong = tmp_path / "wrong.env"
    wrong.write_text(env_file.read_text().replace("demo-user-jwt", "nope"))
    refused = a2p(["send", str(numbers(tmp_path / "b.txt")), "--from", SENDER, "--text", "Hi",
                   "--report", str(tmp_path / "b.json"), "--env-file", str(wrong)])
    assert refused.returncode == 3


def test_verbose_logs_api_traffic_without_secrets(tmp_path: Path,
                                                  server: RunningSimulator) -> None:
    """-v logs method, path, status, rate-limit headers and time of each request, and never
    a token, a secret, a JWT or a message body."""
    result = a2p(["-v", *send(tmp_path)], env=sim_env(server))
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if "engine.http" in line]
    posts = [line for line in lines if "POST /restapi/v1.0/account/~/a2p-sms/batches -> 201"
             in line]
    assert posts
    assert "X-Rate-Limit-Group=Light" in posts[0]
    assert any("POST /restapi/oauth/token -> 200" in line for line in lines)
    assert " s " in posts[0] or posts[0].rstrip().endswith(" s")
    for secret in ("demo-client-secret", "demo-user-jwt", "Bearer", "+14155550000"):
        assert secret not in result.stderr


def test_quiet_prints_nothing_on_success(tmp_path: Path, server: RunningSimulator) -> None:
    """-q: no progress and no summary line when the run succeeds."""
    result = a2p([*send(tmp_path), "-q"], env=sim_env(server))
    assert result.returncode == 0
    assert result.stderr == ""


def test_wait_accepted_reports_delivery_as_unknown(tmp_path: Path,
                                                   server: RunningSimulator) -> None:
    """--wait accepted never reads delivery statuses: the summary says null, not 0."""
    result = a2p([*send(tmp_path), "--wait", "accepted"], env=sim_env(server))
    assert result.returncode == 0, result.stderr
    summary = orjson.loads(result.stdout.splitlines()[-1])
    assert summary["event"] == "summary"
    assert summary["delivered"] is None
    assert summary["deliveryFailed"] is None


def test_the_default_report_name_is_the_documented_one(tmp_path: Path,
                                                       server: RunningSimulator) -> None:
    """Without --report the report is a2p-report-YYYYmmdd-HHMMSS.json in the working
    directory, as docs/events-and-report.md says."""
    listing = numbers(tmp_path / "list.txt")
    result = a2p(["send", str(listing), "--from", SENDER, "--text", "Hi"],
                 env=sim_env(server), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (report,) = tmp_path.glob("a2p-report-*.json")
    assert len(report.stem.removeprefix("a2p-report-")) == len("20261125-120000")
    documented = (Path(__file__).parents[2] / "docs" / "events-and-report.md").read_text()
    assert "a2p-report-<YYYYmmdd-HHMMSS>.json" in documented


@pytest.mark.slow
def test_send_into_a_reader_that_leaves_early_finishes_the_run(
        tmp_path: Path, server: RunningSimulator) -> None:
    """`a2p send ... | head -1`: the run does not die half-way on a closed pipe; it finishes,
    says events are no longer written, exits 0, and the report has every recipient."""
    listing = numbers(tmp_path / "list.txt", 3000)
    env = {**os.environ, **sim_env(server)}
    command = (f"{sys.executable} -m engine send {listing} --from {SENDER} --text Hi "
               f"--report {tmp_path / 'r.json'} --max-batch-bytes 2000 | head -1")
    piped = subprocess.run(["bash", "-o", "pipefail", "-c", command], capture_output=True,
                           text=True, env=env, timeout=120, check=False)
    assert piped.returncode == 0, piped.stderr
    assert "Traceback" not in piped.stderr
    assert "stdout was closed" in piped.stderr
    assert orjson.loads((tmp_path / "r.json").read_bytes())["totals"]["sent"] == 3000


def test_exit_codes_of_error_groups() -> None:
    """What the run's task groups raise maps to the most telling documented code, and each
    error inside is one line of the message."""
    from engine.cli.exits import exit_code, messages
    from engine.errors import AuthError, ConfigError, ServerError

    config = ConfigError("environment", "RC_SERVER_URL", "bad", "Fix it.")
    group = ExceptionGroup("run", [ServerError("down"), ExceptionGroup("inner", [config])])
    assert exit_code(group) == 2
    assert exit_code(ExceptionGroup("run", [AuthError("refused"), config])) == 3
    assert exit_code(ExceptionGroup("run", [ServerError("down")])) == 1
    assert exit_code(KeyboardInterrupt()) == 130
    assert list(messages(group)) == ["down", "environment: RC_SERVER_URL: bad. Fix it."]
    assert "This is a bug in a2p" in next(messages(TypeError("oops")))


def test_check_takes_the_common_options_after_its_name(tmp_path: Path,
                                                       server: RunningSimulator) -> None:
    """`a2p check --env-file F -v --from ...` works as docs/cli.md says every command does:
    the credentials come from the file, and -v logs the requests without secrets."""
    env_file = tmp_path / ".env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in sim_env(server).items()))
    result = a2p(["check", "--env-file", str(env_file), "-v", "--from", SENDER])
    assert result.returncode == 0, result.stderr
    assert "phone-number" in result.stderr  # -v: the pre-flight's requests are logged
    assert DEMO["RC_APP_CLIENT_SECRET"] not in result.stderr + result.stdout


def test_check_refuses_a_sender_that_is_not_e164_before_logging_in(
        server: RunningSimulator) -> None:
    """A national number given to --from: exit 2 naming the E.164 form, no login made."""
    before = server.simulator.stats.get("200", 0)
    result = a2p(["check", "--from", "6505550100"], env=sim_env(server))
    assert result.returncode == 2, result.stderr
    assert "is not an E.164 number" in result.stderr
    assert server.simulator.stats.get("200", 0) == before


def test_concurrency_below_one_is_a_usage_error(tmp_path: Path) -> None:
    """--concurrency 0 would send nothing and wait forever: refused with exit 2."""
    result = a2p(send(tmp_path, "--concurrency", "0"))
    assert result.returncode == 2
    assert "--concurrency" in result.stderr


def test_exit_75_when_a_scheduled_send_waits_and_a_resume_goes_on(
        tmp_path: Path, server: RunningSimulator) -> None:
    """--exit-when-waiting with the next round hours away (--at tomorrow) exits 75, sends
    nothing, keeps the journal and says how to go on; a resume with another schedule is
    refused (2), and the same resume exits 75 again while it waits."""
    from datetime import UTC, datetime, timedelta

    at = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%MZ")
    result = a2p(send(tmp_path, "--quiet-hours", "tcpa", "--at", at, "--exit-when-waiting"),
                 env=sim_env(server))
    assert result.returncode == 75, result.stderr
    journal = tmp_path / "r.json.journal"
    assert f"a2p send --resume {journal}" in result.stderr
    report = orjson.loads((tmp_path / "r.json").read_bytes())
    assert report["schedule"]["state"] == "waiting"
    assert report["schedule"]["waitingFor"] == "at"
    assert report["totals"]["sent"] == 0
    assert report["totals"]["deferred"] == 5
    header = orjson.loads(journal.read_bytes().split(b"\n", 1)[0])
    assert header["schedule"]["quietHours"] == "tcpa"
    refused = a2p(["send", "--resume", str(journal), "--daily-cap", "3"], env=sim_env(server))
    assert refused.returncode == 2
    assert "--daily-cap" in refused.stderr
    again = a2p(["send", "--resume", str(journal), "--exit-when-waiting"], env=sim_env(server))
    assert again.returncode == 75, again.stderr
    assert "first end this run" in refused.stderr


def test_on_ambiguous_resend_with_a_daily_cap_is_exit_2_before_login(
        tmp_path: Path, server: RunningSimulator) -> None:
    """--on-ambiguous resend --daily-cap 5 could send a day past its cap: exit 2 naming both
    flags and the fix, no login made, no journal written."""
    before = server.simulator.stats.get("200", 0)
    result = a2p(send(tmp_path, "--on-ambiguous", "resend", "--daily-cap", "5"),
                 env=sim_env(server))
    assert result.returncode == 2, result.stderr
    assert "--on-ambiguous resend" in result.stderr
    assert "--daily-cap 5" in result.stderr
    assert "reconcile" in result.stderr
    assert server.simulator.stats.get("200", 0) == before
    assert not (tmp_path / "r.json.journal").exists()


def test_a_scheduled_run_ended_with_expire_at_now_exits_0_and_says_so(
        tmp_path: Path, server: RunningSimulator) -> None:
    """A waiting run (--at tomorrow) ended by `--resume J --expire-at now` exits 0, its
    report says schedule.state expired, stderr says to remove the cron line; the next cron
    tick exits 0 and says the same (the end is journaled), nothing sent."""
    from datetime import UTC, datetime, timedelta

    at = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%MZ")
    first = a2p(send(tmp_path, "--quiet-hours", "tcpa", "--at", at, "--exit-when-waiting"),
                env=sim_env(server))
    assert first.returncode == 75, first.stderr
    journal = tmp_path / "r.json.journal"
    for args in (["--expire-at", "now"], []):
        ended = a2p(["send", "--resume", str(journal), *args, "--exit-when-waiting"],
                    env=sim_env(server))
        assert ended.returncode == 0, ended.stderr
        assert "has ended (schedule.state expired" in ended.stderr
        assert "remove the cron line or CronJob" in ended.stderr
        report = orjson.loads((tmp_path / "r.json").read_bytes())
        assert report["schedule"]["state"] == "expired"
        assert report["totals"]["expired"] == 5
        assert report["totals"]["sent"] == 0
