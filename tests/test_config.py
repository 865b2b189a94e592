"""Profiles and credentials: defaults, overrides, and errors that name file, key and fix."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from engine import ConfigError, Credentials, credentials_from_env, load_settings
from engine.config.profiles import packaged_profiles
from engine.simulator import load_simulator_settings


def test_shipped_profiles_load() -> None:
    """simulator and production profiles load with their documented servers."""
    assert load_settings("simulator", env={}).server_url == "http://127.0.0.1:8080"
    production = load_settings("production", env={})
    assert production.server_url == "https://platform.ringcentral.com"
    assert production.limits.max_batch_bytes == 50_000_000
    assert production.account == "~"


def test_server_url_from_environment_overrides_profile() -> None:
    """RC_SERVER_URL points any profile at a simulator on loopback."""
    settings = load_settings("production", env={"RC_SERVER_URL": "http://127.0.0.1:9999/"})
    assert settings.server_url == "http://127.0.0.1:9999"


def test_plain_http_is_refused_off_loopback() -> None:
    """Tokens never cross a network in clear: http:// is only for 127.0.0.1 or localhost."""
    with pytest.raises(ConfigError, match=r"RC_SERVER_URL.*https"):
        load_settings("production", env={"RC_SERVER_URL": "http://example.com"})


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "p.toml"
    path.write_text('[server]\nurl = "https://platform.ringcentral.com"\n' + text)
    return path


def test_unknown_key_names_file_key_and_allowed_keys(tmp_path: Path) -> None:
    """A typo is an error naming the file, the key and the keys allowed there."""
    path = write(tmp_path, "[send]\nconcurency = 8\n")
    with pytest.raises(ConfigError) as info:
        load_settings(str(path), env={})
    message = str(info.value)
    assert str(path) in message
    assert "send.concurency" in message
    assert "concurrency" in message.split("Allowed keys here:")[1]


def test_out_of_range_value_says_what_is_allowed(tmp_path: Path) -> None:
    """A value out of range names the range."""
    path = write(tmp_path, "[limits]\nmax_batch_bytes = 10\n")
    with pytest.raises(ConfigError, match=r"limits.max_batch_bytes.*int from 1024"):
        load_settings(str(path), env={})


def test_wrong_type_and_bad_toml_are_config_errors(tmp_path: Path) -> None:
    """A string for a number, or broken TOML, is a ConfigError (also a ValueError)."""
    with pytest.raises(ValueError, match="concurrency"):
        load_settings(str(write(tmp_path, '[send]\nconcurrency = "8"\n')), env={})
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(str(write(tmp_path, "[send\n")), env={})


def test_the_profiles_retry_section_is_the_policys_rules(tmp_path: Path) -> None:
    """[retry] is read into the policy's own Rules: chunk_deadline from the file ends a batch
    POST's retries (it was once dropped on the way)."""
    from engine.core.policy import Action, Rules, Verdict, decide

    rules = load_settings(str(write(tmp_path, "[retry]\nchunk_deadline = 30.0\n")), env={}).retry
    assert isinstance(rules, Rules)
    assert decide(Verdict.RETRY, 2, 29.0, rules=rules).action is Action.RETRY
    assert decide(Verdict.RETRY, 2, 30.0, rules=rules).action is Action.GIVE_UP


def test_unknown_profile_lists_known_ones() -> None:
    """Naming a profile that does not exist lists those that do."""
    with pytest.raises(ConfigError, match="production"):
        load_settings("nonesuch", env={})


def test_credentials_come_from_environment_and_hide_secrets() -> None:
    """Credentials use RingCentral's variable names; repr() never shows the secret or JWT."""
    env = {"RC_APP_CLIENT_ID": "id", "RC_APP_CLIENT_SECRET": "s3cret", "RC_USER_JWT": "eyJ.jwt"}
    credentials = credentials_from_env(env)
    assert credentials == Credentials("id", "s3cret", "eyJ.jwt")
    assert "s3cret" not in repr(credentials)
    assert "eyJ.jwt" not in repr(credentials)
    assert credentials_from_env({}) is None


def test_partial_credentials_name_the_missing_variable() -> None:
    """Setting some credentials but not all is an error naming the missing variable."""
    with pytest.raises(ConfigError, match="RC_USER_JWT"):
        credentials_from_env({"RC_APP_CLIENT_ID": "id", "RC_APP_CLIENT_SECRET": "s"})


def test_simulator_accepts_environment_credentials_else_demo_ones() -> None:
    """The simulator takes the RC_* credentials when set, its demo ones otherwise."""
    env = {"RC_APP_CLIENT_ID": "id", "RC_APP_CLIENT_SECRET": "s", "RC_USER_JWT": "j"}
    assert load_simulator_settings("simulator", env).credentials.client_id == "id"
    demo = load_simulator_settings("simulator", {})
    assert demo.credentials.client_id == "demo-client-id"
    assert "+16505550100" in demo.senders


def test_every_shipped_profile_is_valid() -> None:
    """Each profile shipped inside the package loads by name, from any directory."""
    assert packaged_profiles() == ["production", "sandbox", "simulator"]
    for name in packaged_profiles():
        assert load_settings(name, env={}).profile == name


def test_a_configs_profile_in_the_working_directory_wins(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """configs/NAME.toml in the working directory is the user's own profile of that name."""
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "simulator.toml").write_text(
        '[server]\nurl = "http://127.0.0.1:9999"\n')
    monkeypatch.chdir(tmp_path)
    assert load_settings("simulator", env={}).server_url == "http://127.0.0.1:9999"


def test_unknown_profile_names_the_shipped_ones() -> None:
    """An unknown profile name lists the packaged profiles (never an empty list)."""
    with pytest.raises(ConfigError, match="Use one of production, sandbox, simulator"):
        load_settings("prodution", env={})


async def test_no_credentials_for_a_real_server_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without RC_* credentials, a non-loopback server is refused before any request: the
    simulator's demo credentials are never sent anywhere but this machine."""
    import engine

    for name in ("RC_APP_CLIENT_ID", "RC_APP_CLIENT_SECRET", "RC_USER_JWT", "RC_SERVER_URL"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError, match=r"RC_APP_CLIENT_ID.*Set RC_APP_CLIENT_ID"):
        await engine.send(["+14155550100"], sender="+16505550100", text="Hi",
                          config="production")


def test_a_journal_finds_its_profile_file_or_says_it_is_gone(tmp_path: Path) -> None:
    """A run's own profile file is used while it is there; a packaged profile is found again
    by name; a user's file that is gone is an error naming it, never a silent switch to the
    packaged profile of the same name."""
    from engine.config.profiles import journal_profile

    mine = tmp_path / "production.toml"
    mine.write_text("")
    assert journal_profile({"profile": "production", "profileSource": str(mine)}) == str(mine)
    assert journal_profile({"profile": "production", "profilePackaged": True,
                            "profileSource": "/old/site-packages/engine/profiles/x.toml"}) \
        == "production"
    mine.unlink()
    with pytest.raises(ConfigError, match=r"production\.toml.*no longer there"):
        journal_profile({"profile": "production", "profileSource": str(mine)})


def test_packaged_profiles_are_told_from_files_of_the_same_name(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch
                                                                ) -> None:
    """The journal records whether a profile shipped with the package: a copy under
    configs/ here, with the same name, is the user's own."""
    from engine.config.settings import is_packaged

    shipped = load_settings("production")
    assert is_packaged(shipped)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "production.toml").write_text(Path(shipped.source).read_text())
    copy = load_settings("production")
    assert copy.source == str(tmp_path / "configs" / "production.toml")
    assert not is_packaged(copy)


@pytest.mark.parametrize(("url", "profile"), [
    (None, "simulator"),
    ("http://127.0.0.1:8080", "simulator"),
    ("http://127.3.4.5:9000/", "simulator"),
    ("http://localhost:8080", "simulator"),
    ("http://LOCALHOST.:8080", "simulator"),
    ("http://[::1]:8080", "simulator"),
    ("https://platform.devtest.ringcentral.com", "sandbox"),
    ("https://Platform.DevTest.RingCentral.com/", "sandbox"),
    ("https://platform.ringcentral.com", "production"),
    ("https://rc-gateway.example.com:8443", "production"),
    ("https://127.0.0.1.nip.io", "production"),
    ("https://127.example.com", "production"),
])
def test_the_profile_follows_the_server(url: str | None, profile: str) -> None:
    """Loopback is the simulator, RingCentral's sandbox host the sandbox, any other host
    production: a name that merely starts with 127 is not this machine."""
    from engine.config.profiles import choose_profile

    assert choose_profile(url)[0] == profile


def test_without_a_profile_the_server_url_chooses_it() -> None:
    """RC_SERVER_URL=https://platform.ringcentral.com and no --profile: the production
    profile, with its 600 s search for a lost batch; no URL at all: the simulator."""
    production = load_settings(None, env={"RC_SERVER_URL": "https://platform.ringcentral.com"})
    assert (production.profile, production.retry.reconcile_window) == ("production", 600.0)
    sandbox = load_settings(env={"RC_SERVER_URL": "https://platform.devtest.ringcentral.com"})
    assert (sandbox.profile, sandbox.retry.reconcile_window) == ("sandbox", 600.0)
    local = load_settings(env={"RC_SERVER_URL": "http://127.0.0.1:9999"})
    assert (local.profile, local.server_url) == ("simulator", "http://127.0.0.1:9999")
    assert load_settings(env={}).profile == "simulator"


@pytest.mark.parametrize(("url", "fix"), [("https://platform.ringcentral.com", "production"),
                                          ("https://platform.devtest.ringcentral.com",
                                           "sandbox")])
def test_the_simulator_profile_refuses_a_remote_server(url: str, fix: str) -> None:
    """--profile simulator with a server elsewhere stops before anything is sent, naming the
    profile to use: its 5 s search for a lost batch would send late batches twice."""
    with pytest.raises(ConfigError, match=rf"5 s.*Pass --profile {fix}\b"):
        load_settings("simulator", env={"RC_SERVER_URL": url})


def test_a_simulator_profile_refusal_exits_2_before_sending(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """a2p send --profile simulator with RC_SERVER_URL on RingCentral: exit 2 naming
    --profile production, and nothing is written."""
    from engine.cli.commands import main

    monkeypatch.setenv("RC_SERVER_URL", "https://platform.ringcentral.com")
    listing = tmp_path / "list.txt"
    listing.write_text("+14155550100\n")
    report = tmp_path / "report.json"
    code = main(["send", str(listing), "--from", "+16505550100", "--text", "Hi", "--profile",
                 "simulator", "--report", str(report)])
    assert code == 2
    assert "--profile production" in capsys.readouterr().err
    assert not report.exists()
    assert not Path(f"{report}.journal").exists()


REAL = {"RC_APP_CLIENT_ID": "my-app", "RC_APP_CLIENT_SECRET": "s3cret-value",
        "RC_USER_JWT": "eyJ.real.jwt"}
DEMO_ENV = {"RC_APP_CLIENT_ID": "demo-client-id", "RC_APP_CLIENT_SECRET": "demo-client-secret",
            "RC_USER_JWT": "demo-user-jwt"}


def test_real_looking_credentials_to_this_machine_are_announced(
        caplog: pytest.LogCaptureFixture) -> None:
    """Credentials that are not the demo ones, bound for the simulator's default URL: a
    warning names the URL and says they are not the demo ones, without a secret."""
    from engine.config.credentials import pick_credentials

    settings = load_settings("simulator", env={})
    with caplog.at_level(logging.INFO, logger="engine.credentials"):
        chosen = pick_credentials(settings, env=REAL)
    assert chosen == Credentials("my-app", "s3cret-value", "eyJ.real.jwt")
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert "http://127.0.0.1:8080" in record.message
    assert "not the simulator's demo ones" in record.message
    assert "no RC_SERVER_URL is set" in record.message
    assert "s3cret-value" not in record.message
    assert "eyJ.real.jwt" not in record.message


def test_demo_credentials_are_said_and_real_servers_are_quiet(
        caplog: pytest.LogCaptureFixture) -> None:
    """No RC_* variables on loopback: one line says the demo credentials are used; the demo
    credentials set by hand, or real ones to a real server, say nothing."""
    from engine.config.credentials import DEMO_CREDENTIALS, pick_credentials

    local = load_settings("simulator", env={})
    with caplog.at_level(logging.INFO, logger="engine.credentials"):
        assert pick_credentials(local, env={}) == DEMO_CREDENTIALS
        [note] = caplog.records
        assert note.levelno == logging.INFO
        assert "demo credentials for http://127.0.0.1:8080" in note.message
        caplog.clear()
        assert pick_credentials(local, env=DEMO_ENV) == DEMO_CREDENTIALS
        production = load_settings("production", env={})
        assert pick_credentials(production, env=REAL).client_id == "my-app"
    assert caplog.records == []
