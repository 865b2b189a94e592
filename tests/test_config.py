"""Profiles and credentials: defaults, overrides, and errors that name file, key and fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import ConfigError, Credentials, credentials_from_env, load_settings
from engine.config import packaged_profiles
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
    from engine.config import journal_profile

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
    from engine.config import is_packaged

    shipped = load_settings("production")
    assert is_packaged(shipped)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "production.toml").write_text(Path(shipped.source).read_text())
    copy = load_settings("production")
    assert copy.source == str(tmp_path / "configs" / "production.toml")
    assert not is_packaged(copy)
