"""The typer application: connection options every command accepts, and how a command's outcome
becomes output and an exit code.

Every command is declared with `@command()`: it receives a `Session` (settings, connection,
name resolution, output) and returns an exit code; the connection options and `--output`
are added to each command, so they may follow the command name like its own options.
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from typer import rich_utils
from typer.exceptions import TyperException

from rolloutctl import render
from rolloutctl.client import Client
from rolloutctl.config import Flags, Settings, from_environment
from rolloutctl.names import Resolver
from rolloutctl.outcome import EXIT_CODES_HELP, CliError, ExitCode
from rolloutctl.watching import Io

# Rich help keeps line breaks: one paragraph per line.
HELP = (
    "Operate rollout from a terminal: see instances, releases and history; deploy, roll back, plan, approve and "
    "reject; watch deployments live.\n\n"
    "With no configuration it talks to the `make run` stack here: 127.0.0.1:50051, the token in "
    ".rollout/admin.token, organization acme. Flags beat the environment (ROLLOUT_ADDRESS, ROLLOUT_TOKEN, "
    "ROLLOUT_TOKEN_FILE, ROLLOUT_ORGANIZATION), which beats the config file "
    "($XDG_CONFIG_HOME/rolloutctl/config.toml, or --config / ROLLOUT_CONFIG)."
)

app = typer.Typer(
    name="rolloutctl",
    help=HELP,
    epilog=EXIT_CODES_HELP,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


PIPE_WIDTH = 200


class Output(StrEnum):
    table = "table"
    json = "json"


CONNECTION = "Connection"
Address = Annotated[str | None, typer.Option(
    "--address", help="Server host:port (env ROLLOUT_ADDRESS; default 127.0.0.1:50051).", rich_help_panel=CONNECTION)]
Org = Annotated[str | None, typer.Option(
    "--org", help="Organization (env ROLLOUT_ORGANIZATION; default acme).", rich_help_panel=CONNECTION)]
TokenFile = Annotated[Path | None, typer.Option(
    "--token-file", help="File holding the bearer token (env ROLLOUT_TOKEN_FILE, or ROLLOUT_TOKEN itself; "
    "default .rollout/admin.token).", rich_help_panel=CONNECTION)]
ConfigFile = Annotated[Path | None, typer.Option(
    "--config", help="TOML config file (env ROLLOUT_CONFIG; default $XDG_CONFIG_HOME/rolloutctl/config.toml).",
    rich_help_panel=CONNECTION)]
Reconnect = Annotated[float | None, typer.Option(
    "--reconnect-timeout", help="Seconds a watch keeps trying to resume a dropped stream before exit 3 "
    "(env ROLLOUT_RECONNECT_TIMEOUT; default 60).", rich_help_panel=CONNECTION)]
OutputOption = Annotated[Output | None, typer.Option(
    "--output", "-o", help="table for people (default), json for scripts.", rich_help_panel=CONNECTION)]

COMMON: dict[str, Any] = {
    "address": Address,
    "org": Org,
    "token_file": TokenFile,
    "config": ConfigFile,
    "reconnect_timeout": Reconnect,
    "output": OutputOption,
}


@app.callback()
def options(
    ctx: typer.Context,
    address: Address = None,
    org: Org = None,
    token_file: TokenFile = None,
    config: ConfigFile = None,
    reconnect_timeout: Reconnect = None,
    output: OutputOption = None,
) -> None:
    # Given before the command name; the same options after it win.
    ctx.obj = {k: v for k, v in locals().items() if k in COMMON}


@dataclass
class Session:
    settings: Settings
    client: Client
    names: Resolver
    io: Io


def _session(common: dict[str, Any], out: Console, err: Console) -> Session:
    flags = Flags(common["address"], common["org"], common["token_file"], common["config"], common["reconnect_timeout"])
    settings = from_environment(flags)
    for warning in settings.warnings:
        err.print(f"warning: {warning}", style="yellow", highlight=False)
    client = Client(settings)
    return Session(settings, client, Resolver(client), Io(out, err, common["output"] is Output.json))


def _console(stderr: bool) -> Console:
    console = Console(stderr=stderr)
    if console.is_terminal or "COLUMNS" in os.environ:
        return console
    return Console(stderr=stderr, width=PIPE_WIDTH, soft_wrap=True)  # grep-able lines in a pipe, not 80-column folds


def _run(fn: Callable[..., int], common: dict[str, Any], kwargs: dict[str, Any]) -> int:
    out, err = _console(False), _console(True)
    json_output = common["output"] is Output.json
    try:
        session = _session(common, out, err)
        with session.client:
            return int(fn(session, **kwargs))
    except CliError as exc:
        if json_output:
            render.dump_json(exc.as_json(), out)
        else:
            render.error(exc, err)
        return int(exc.exit_code)


def command(name: str | None = None) -> Callable[[Callable[..., int]], Callable[..., int]]:
    """Register `fn(session, **its options)` as a command that also takes every connection option."""

    def register(fn: Callable[..., int]) -> Callable[..., int]:
        own = inspect.signature(fn, eval_str=True)
        params = list(own.parameters.values())[1:]  # the Session is ours to pass
        extra = [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=a) for n, a in COMMON.items()]
        context = inspect.Parameter("ctx", inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context)

        @functools.wraps(fn)
        def wrapper(ctx: typer.Context, **kwargs: Any) -> int:
            given = ctx.find_root().obj or {}
            common = {}
            for key in COMMON:
                value = kwargs.pop(key)
                common[key] = value if value is not None else given.get(key)
            return _run(fn, common, kwargs)

        wrapper.__signature__ = own.replace(parameters=[*params, context, *extra])  # type: ignore[attr-defined]
        app.command(name=name or fn.__name__.replace("_", "-"))(wrapper)
        return fn

    return register


def main() -> None:
    # Importing the commands registers them.
    from rolloutctl import commands_change, commands_read  # noqa: F401

    try:
        code = app(standalone_mode=False)
    except TyperException as exc:  # a usage error: click would exit 2, which here means REJECTED
        rich_utils.rich_format_error(exc)  # type: ignore[arg-type]
        code = ExitCode.BAD_INPUT
    except typer.Abort:
        code = ExitCode.INTERRUPTED
    sys.exit(code if isinstance(code, int) else 0)
