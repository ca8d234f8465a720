"""rolloutctl's configuration: flags beat the environment, which beats the config file, which beats
the defaults of a `make run` stack; the token never shows."""

from __future__ import annotations

from pathlib import Path

import pytest

from rolloutctl.config import DEFAULT_ADDRESS, DEFAULT_ORGANIZATION, Flags, resolve
from rolloutctl.outcome import CliError


def secret(path: Path, token: str, mode: int = 0o600) -> Path:
    path.write_text(token + "\n")
    path.chmod(mode)
    return path


@pytest.fixture()
def cwd(tmp_path: Path) -> Path:
    """A folder where `make run` ran: it holds .rollout/admin.token."""
    (tmp_path / ".rollout").mkdir()
    secret(tmp_path / ".rollout" / "admin.token", "stack-token")
    return tmp_path


def env_for(tmp_path: Path, **values: str) -> dict[str, str]:
    return {"XDG_CONFIG_HOME": str(tmp_path / "xdg"), **values}


def config_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "xdg" / "rolloutctl" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_no_configuration_talks_to_the_make_run_stack(tmp_path: Path, cwd: Path) -> None:
    settings = resolve(Flags(), env_for(tmp_path), cwd)
    assert (settings.address, settings.organization, settings.token) == (DEFAULT_ADDRESS, DEFAULT_ORGANIZATION, "stack-token")
    assert settings.token_source == str(cwd / ".rollout" / "admin.token")


def test_rollout_data_dir_says_where_the_stack_token_is(tmp_path: Path, cwd: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    secret(data / "admin.token", "data-token")
    assert resolve(Flags(), env_for(tmp_path, ROLLOUT_DATA_DIR=str(data)), cwd).token == "data-token"


def test_the_config_file_beats_the_defaults(tmp_path: Path, cwd: Path) -> None:
    # A relative token_file is relative to the config file's folder.
    config = config_file(tmp_path, 'address = "10.1.1.1:1"\norganization = "filed"\ntoken_file = "../file.token"\n')
    secret(config.parent.parent / "file.token", "file-token")
    settings = resolve(Flags(), env_for(tmp_path), cwd)
    assert (settings.address, settings.organization, settings.token) == ("10.1.1.1:1", "filed", "file-token")


def test_the_environment_beats_the_config_file(tmp_path: Path, cwd: Path) -> None:
    config_file(tmp_path, 'address = "file:1"\norganization = "filed"\ntoken = "file-token"\n')
    env = env_for(tmp_path, ROLLOUT_ADDRESS="env:1", ROLLOUT_ORGANIZATION="envorg", ROLLOUT_TOKEN="env-token")
    settings = resolve(Flags(), env, cwd)
    assert (settings.address, settings.organization, settings.token) == ("env:1", "envorg", "env-token")
    assert settings.token_source == "ROLLOUT_TOKEN"


def test_flags_beat_the_environment(tmp_path: Path, cwd: Path) -> None:
    token_file = secret(tmp_path / "flag.token", "flag-token")
    env = env_for(tmp_path, ROLLOUT_ADDRESS="env:1", ROLLOUT_ORGANIZATION="envorg", ROLLOUT_TOKEN="env-token")
    settings = resolve(Flags(address="flag:1", organization="flagorg", token_file=token_file), env, cwd)
    assert (settings.address, settings.organization, settings.token) == ("flag:1", "flagorg", "flag-token")


def test_rollout_token_beats_rollout_token_file(tmp_path: Path, cwd: Path) -> None:
    token_file = secret(tmp_path / "env.token", "file-token")
    env = env_for(tmp_path, ROLLOUT_TOKEN="env-token", ROLLOUT_TOKEN_FILE=str(token_file))
    assert resolve(Flags(), env, cwd).token == "env-token"
    del env["ROLLOUT_TOKEN"]
    assert resolve(Flags(), env, cwd).token == "file-token"


def test_an_explicit_config_file_must_exist_and_be_valid(tmp_path: Path, cwd: Path) -> None:
    with pytest.raises(CliError, match="does not exist"):
        resolve(Flags(config=tmp_path / "missing.toml"), env_for(tmp_path), cwd)
    bad = tmp_path / "bad.toml"
    bad.write_text('adress = "x"\n')
    with pytest.raises(CliError, match="unknown settings adress"):
        resolve(Flags(config=bad), env_for(tmp_path), cwd)
    bad.write_text("address = 5\n")
    with pytest.raises(CliError, match="address has the wrong type"):
        resolve(Flags(), env_for(tmp_path, ROLLOUT_CONFIG=str(bad)), cwd)


def test_no_token_anywhere_says_where_to_put_one(tmp_path: Path) -> None:
    with pytest.raises(CliError, match="no token: pass --token-file"):
        resolve(Flags(), env_for(tmp_path), tmp_path)


def test_the_token_is_in_no_repr_or_message(tmp_path: Path, cwd: Path) -> None:
    token_file = secret(tmp_path / "t", "s3cr3t-value", mode=0o644)
    settings = resolve(Flags(token_file=token_file), env_for(tmp_path), cwd)
    assert settings.token == "s3cr3t-value"
    assert "s3cr3t" not in repr(settings)
    assert settings.warnings == (f"token file {token_file} is readable by other users; `chmod 600 {token_file}`",)
    empty = secret(tmp_path / "empty", "")
    with pytest.raises(CliError, match="is empty"):
        resolve(Flags(token_file=empty), env_for(tmp_path), cwd)


def test_reconnect_timeout_comes_from_flag_env_or_file(tmp_path: Path, cwd: Path) -> None:
    assert resolve(Flags(), env_for(tmp_path), cwd).reconnect_timeout == 60
    config_file(tmp_path, "reconnect_timeout = 7\n")
    assert resolve(Flags(), env_for(tmp_path), cwd).reconnect_timeout == 7
    assert resolve(Flags(), env_for(tmp_path, ROLLOUT_RECONNECT_TIMEOUT="3.5"), cwd).reconnect_timeout == 3.5
    assert resolve(Flags(reconnect_timeout=1), env_for(tmp_path, ROLLOUT_RECONNECT_TIMEOUT="3"), cwd).reconnect_timeout == 1
    with pytest.raises(CliError, match="number of seconds"):
        resolve(Flags(), env_for(tmp_path, ROLLOUT_RECONNECT_TIMEOUT="soon"), cwd)
