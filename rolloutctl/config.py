"""Where rolloutctl finds the server, its token and the organization.

Each setting comes from the first place that has it: a flag, the environment,
the config file, then the defaults of a `make run` stack (127.0.0.1:50051, the
token it wrote to `.rollout/admin.token`, organization `acme`). The token is
read from a file or ROLLOUT_TOKEN and kept out of every repr and message.
"""

from __future__ import annotations

import os
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rolloutctl.outcome import CliError

DEFAULT_ADDRESS = "127.0.0.1:50051"
DEFAULT_ORGANIZATION = "acme"
DEFAULT_RECONNECT_TIMEOUT = 60.0
FILE_KEYS = {"address", "organization", "token", "token_file", "reconnect_timeout"}


@dataclass(frozen=True)
class Flags:
    """What the command line said; None where it said nothing."""

    address: str | None = None
    organization: str | None = None
    token_file: Path | None = None
    config: Path | None = None
    reconnect_timeout: float | None = None


@dataclass(frozen=True)
class Settings:
    address: str
    organization: str
    token: str = field(repr=False)
    # Where the token came from (a path or a variable name), for messages; never the token itself.
    token_source: str
    reconnect_timeout: float
    warnings: tuple[str, ...] = ()


def default_config_path(env: Mapping[str, str]) -> Path:
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".config")
    return Path(base) / "rolloutctl" / "config.toml"


def load_file(path: Path, required: bool) -> dict[str, Any]:
    """The config file's settings; {} when an optional file is absent."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        if required:
            raise CliError(f"config file {path} does not exist") from None
        return {}
    except OSError as exc:
        raise CliError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        values = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CliError(f"config file {path} is not valid TOML: {exc}") from None
    unknown = sorted(set(values) - FILE_KEYS)
    if unknown:
        raise CliError(f"config file {path}: unknown settings {', '.join(unknown)}; known: {', '.join(sorted(FILE_KEYS))}")
    for key, value in values.items():
        expected = (int, float) if key == "reconnect_timeout" else str
        if not isinstance(value, expected) or isinstance(value, bool):
            raise CliError(f"config file {path}: {key} has the wrong type")
    if "token_file" in values:
        # A relative token file is relative to the config file, not to wherever the command runs.
        values["token_file"] = str((path.parent / Path(values["token_file"]).expanduser()).resolve())
    return values


def read_token(path: Path) -> tuple[str, tuple[str, ...]]:
    """The token in `path` and a warning when others may read the file."""
    try:
        token = path.read_text().strip()
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise CliError(f"token file {path} does not exist") from None
    except OSError as exc:
        raise CliError(f"cannot read token file {path}: {exc.strerror}") from None
    if not token:
        raise CliError(f"token file {path} is empty")
    warnings: tuple[str, ...] = ()
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        warnings = (f"token file {path} is readable by other users; `chmod 600 {path}`",)
    return token, warnings


def _token(flags: Flags, env: Mapping[str, str], file: Mapping[str, Any], cwd: Path) -> tuple[str, str, tuple[str, ...]]:
    if flags.token_file is not None:
        return _file_token(flags.token_file.expanduser())
    if env.get("ROLLOUT_TOKEN"):
        return env["ROLLOUT_TOKEN"].strip(), "ROLLOUT_TOKEN", ()
    if env.get("ROLLOUT_TOKEN_FILE"):
        return _file_token(Path(env["ROLLOUT_TOKEN_FILE"]).expanduser())
    if file.get("token"):
        return str(file["token"]).strip(), "the config file's token", ()
    if file.get("token_file"):
        return _file_token(Path(file["token_file"]))
    data_dir = Path(env.get("ROLLOUT_DATA_DIR") or cwd / ".rollout")
    default = data_dir / "admin.token"
    if not default.exists():
        raise CliError(
            "no token: pass --token-file, set ROLLOUT_TOKEN or ROLLOUT_TOKEN_FILE, "
            f"or run where `make run` wrote {default}"
        )
    return _file_token(default)


def _file_token(path: Path) -> tuple[str, str, tuple[str, ...]]:
    token, warnings = read_token(path)
    return token, str(path), warnings


def resolve(flags: Flags, env: Mapping[str, str], cwd: Path) -> Settings:
    """The settings in force: flags, then the environment, then the config file, then the defaults."""
    if flags.config is not None:
        file = load_file(flags.config, required=True)
    elif env.get("ROLLOUT_CONFIG"):
        file = load_file(Path(env["ROLLOUT_CONFIG"]).expanduser(), required=True)
    else:
        file = load_file(default_config_path(env), required=False)
    address = flags.address or env.get("ROLLOUT_ADDRESS") or file.get("address") or DEFAULT_ADDRESS
    organization = flags.organization or env.get("ROLLOUT_ORGANIZATION") or file.get("organization") or DEFAULT_ORGANIZATION
    timeout = flags.reconnect_timeout
    if timeout is None:
        raw = env.get("ROLLOUT_RECONNECT_TIMEOUT")
        try:
            timeout = float(raw) if raw else float(file.get("reconnect_timeout", DEFAULT_RECONNECT_TIMEOUT))
        except ValueError:
            raise CliError(f"ROLLOUT_RECONNECT_TIMEOUT must be a number of seconds, not {raw!r}") from None
    if timeout <= 0:
        raise CliError("the reconnect timeout must be a positive number of seconds")
    token, source, warnings = _token(flags, env, file, cwd)
    return Settings(str(address), str(organization), token, source, timeout, warnings)


def from_environment(flags: Flags) -> Settings:
    return resolve(flags, os.environ, Path.cwd())
