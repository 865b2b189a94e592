"""``a2p config``: the effective settings, where each came from, secrets never shown."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from engine.config.effective import effective

SECRET, JWT = "s3cret-value-789", "eyJ.real.jwt-012"
REAL = {"RC_APP_CLIENT_ID": "my-app-id", "RC_APP_CLIENT_SECRET": SECRET, "RC_USER_JWT": JWT}


def a2p(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """The command as a user runs it, with no RC_* variable but those given."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RC_")}
    return subprocess.run([sys.executable, "-m", "engine.cli", *args], capture_output=True,
                          text=True, env={**clean, **env}, cwd=cwd, timeout=60, check=False)


def test_production_url_shows_the_production_profile_and_its_window(tmp_path: Path) -> None:
    """RC_SERVER_URL=https://platform.ringcentral.com a2p config: the production profile,
    chosen by that URL, with its 600 s reconcile window, and no secret in the output."""
    env = {"RC_SERVER_URL": "https://platform.ringcentral.com", **REAL}
    result = a2p("config", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("profile production: chosen by RC_SERVER_URL (environment)")
    [window] = [line.split() for line in lines if "retry.reconcile_window" in line]
    assert window[:4] == ["retry.reconcile_window", "600", "profile", "file"]
    [url] = [line.split() for line in lines if "server.url" in line]
    assert url == ["server.url", "https://platform.ringcentral.com", "environment",
                   "(RC_SERVER_URL)"]
    assert "credentials.client_secret" in result.stdout
    for secret in (SECRET, JWT, "my-app-id"):
        assert secret not in result.stdout + result.stderr


def test_json_names_each_source(tmp_path: Path) -> None:
    """--json: every setting with its value and source; a .env file, the environment, the
    profile file and built-in defaults are told apart; credentials are masked."""
    env_file = tmp_path / "rc.env"
    env_file.write_text("RC_SERVER_URL=https://platform.devtest.ringcentral.com\n"
                        f"RC_USER_JWT={JWT}\n")
    env = {"RC_APP_CLIENT_ID": "my-app-id", "RC_APP_CLIENT_SECRET": SECRET,
           "RC_USER_JWT": "overridden-by-the-file"}
    result = a2p("--env-file", str(env_file), "config", "--json", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    document = orjson.loads(result.stdout)
    assert document["profile"]["name"] == "sandbox"
    assert document["profile"]["chosenBy"] == "env-file"
    settings = document["settings"]
    assert settings["server.url"] == {"value": "https://platform.devtest.ringcentral.com",
                                      "source": "env-file",
                                      "from": f"RC_SERVER_URL in {env_file}"}
    assert settings["send.concurrency"]["source"] == "profile"
    assert settings["retry.reconcile_window"] == {"value": 600.0, "source": "default",
                                                  "from": ""}
    assert settings["credentials.jwt"]["source"] == "env-file"
    assert settings["credentials.client_secret"] == {"value": "(set)",
                                                     "source": "environment",
                                                     "from": "RC_APP_CLIENT_SECRET"}
    for secret in (SECRET, JWT, "my-app-id", "overridden-by-the-file"):
        assert secret not in result.stdout + result.stderr


def test_a_named_profile_is_the_flag_and_the_simulator_refuses_a_remote_url(
        tmp_path: Path) -> None:
    """--profile names the source 'flag'; --profile simulator with a RingCentral URL exits
    2 naming the profile to use, before connecting to anything."""
    given = a2p("config", "--profile", "production", "--json", env={}, cwd=tmp_path)
    assert given.returncode == 0, given.stderr
    profile = orjson.loads(given.stdout)["profile"]
    assert (profile["name"], profile["chosenBy"], profile["packaged"]) == \
        ("production", "flag", True)
    refused = a2p("config", "--profile", "simulator",
                  env={"RC_SERVER_URL": "https://platform.ringcentral.com"}, cwd=tmp_path)
    assert refused.returncode == 2
    assert "--profile production" in refused.stderr


def test_demo_and_missing_credentials_are_told_apart() -> None:
    """No RC_* variables: the simulator's demo credentials with a note; a real server with
    none set says 'unset' (send would stop and ask for them)."""
    local = effective(None, env={})
    rows = {s.key: s for s in local.settings}
    assert (local.profile, local.chosen.kind) == ("simulator", "default")
    assert rows["credentials.jwt"].source.kind == "demo"
    assert rows["retry.reconcile_window"].value == 5.0
    assert any("demo credentials" in note for note in local.notes)
    remote = effective(None, env={"RC_SERVER_URL": "https://platform.ringcentral.com"})
    rows = {s.key: s for s in remote.settings}
    assert rows["credentials.jwt"].source.kind == "unset"
    assert remote.notes == ()


def test_real_credentials_for_the_local_default_are_noted() -> None:
    """Credentials that are not the demo ones with no server URL: the output carries the
    same warning send gives, naming the URL, never the secret."""
    found = effective(None, env=REAL)
    [note] = found.notes
    assert "http://127.0.0.1:8080" in note
    assert "not the simulator's demo ones" in note
    assert SECRET not in found.describe()
    assert JWT not in found.describe()


def test_a_users_profile_file_and_defaults_are_told_apart(tmp_path: Path) -> None:
    """A key written in the user's profile is 'profile'; one left out is 'default'."""
    mine = tmp_path / "mine.toml"
    mine.write_text('[server]\nurl = "https://platform.ringcentral.com"\n'
                    "[retry]\nreconcile_window = 900.0\n")
    found = effective(str(mine), env={})
    rows = {s.key: s for s in found.settings}
    assert (rows["retry.reconcile_window"].value, rows["retry.reconcile_window"].source.kind) \
        == (900.0, "profile")
    assert rows["retry.max_attempts"].source.kind == "default"
    assert not found.packaged


@pytest.mark.parametrize("command", ["config", "send", "check", "plan"])
def test_help_teaches_how_the_profile_is_chosen(command: str, tmp_path: Path) -> None:
    """Each command's --help says the profile follows RC_SERVER_URL and points at a2p
    config."""
    result = a2p(command, "--help", env={}, cwd=tmp_path)
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    assert "follows RC_SERVER_URL" in text or "follows the server URL" in text
