"""The typer application; each command module registers its commands here.

`main` also turns a usage error (an unknown option or command, a missing argument, a value
of the wrong kind) into one plain line on stderr, exit 2, like a configuration error: typer
would draw a boxed panel under a usage block.
"""

from __future__ import annotations

import difflib
import importlib
import logging
import re
import sys
from collections.abc import Sequence
from typing import Any

import typer

app = typer.Typer(
    name="tnhl",
    help="Sync TalkNotes contacts, tasks and notes with HighLevel.",
    no_args_is_help=True,
    add_completion=False,
)

_NO_SUCH_COMMAND = re.compile(r"No such command (['\"])(?P<name>.*?)\1")


def _register_commands() -> None:
    # Imported here, not at module top, so `tnhl --help` stays cheap and command modules
    # may import heavy packages (uvicorn, sqlalchemy) without slowing every command.
    from tnhl.cli import _highlevel

    _highlevel.register(app)
    importlib.import_module("tnhl.cli._run").register(app)
    importlib.import_module("tnhl.cli._status").register(app)
    importlib.import_module("tnhl.cli._dlq").register(app)
    importlib.import_module("tnhl.cli._profile").register(app)
    importlib.import_module("tnhl.cli._backfill").register(app)
    importlib.import_module("tnhl.cli._keys").register(app)
    importlib.import_module("tnhl.cli._send").register(app)
    importlib.import_module("tnhl.cli._recipes").register(app)
    importlib.import_module("tnhl.cli._golive").register(app)
    importlib.import_module("tnhl.cli._init").register(app)
    importlib.import_module("tnhl.cli._verify").register(app)
    importlib.import_module("tnhl.cli._auth").register(app)
    importlib.import_module("tnhl.cli._demo").register(app)
    importlib.import_module("tnhl.cli._simulate").register(app)


def main() -> None:
    _register_commands()
    try:
        # Not standalone: click's errors come back here instead of being drawn in a panel;
        # an Exit (tnhl's own `fail`, --help) comes back as its code.
        code = app(prog_name="tnhl", standalone_mode=False)
    except typer.Abort:
        typer.echo("tnhl: aborted", err=True)
        code = 1
    except Exception as exc:
        if not _is_click_error(exc):
            raise  # a bug: typer's hook shows its traceback, as before
        code = _report(exc, sys.argv[1:])
    sys.exit(code if isinstance(code, int) else 0)


def _is_click_error(exc: BaseException) -> bool:
    # By name: typer now carries its own copy of click, whose classes are private; the names
    # (and the attributes read below) are click's own, in either.
    return any(kind.__name__ == "ClickException" for kind in type(exc).__mro__)


def _report(exc: Any, args: Sequence[str]) -> int:
    """Print one line for click's error `exc` (a JSON line under --log-json) and return
    its exit code (2 for a usage error)."""
    code = int(getattr(exc, "exit_code", 1))
    if type(exc).__name__ == "NoArgsIsHelpError":
        return code  # `tnhl` or a group alone: its help is already printed
    ctx = getattr(exc, "ctx", None)
    # click names no command for an option given without its value: find it in the words.
    where = ctx.command_path if ctx is not None else _command_path(args)
    line = f"{where}: {_problem(exc, ctx)}; see `{where} --help`"
    options = args[: args.index("--")] if "--" in args else args
    if "--log-json" in options:  # as a configuration error under --log-json: JSON only
        from tnhl.sync import configure_logging

        configure_logging(json_lines=True)
        logging.getLogger("tnhl.cli").error(line)
        return code
    typer.echo(line, err=True)
    return code


def _problem(exc: Any, ctx: Any) -> str:
    """What is wrong, naming the option, argument or command."""
    possibilities = getattr(exc, "possibilities", None)
    option = getattr(exc, "option_name", None)
    if option is not None and type(exc).__name__ == "NoSuchOption":
        # Stricter than click's 0.6, which offers --host for --bogus: a wrong lead misleads.
        close = difflib.get_close_matches(option, possibilities or [], cutoff=0.7)
        return f"no such option {option}{_did_you_mean(close)}"
    command = getattr(exc, "command_name", None)  # click >= 8.4 names it
    found = _NO_SUCH_COMMAND.match(str(getattr(exc, "message", "")))
    if command is None and found is not None:
        command = found["name"]
    if command is not None:
        known = _commands(ctx)
        close = (
            difflib.get_close_matches(command, known) if possibilities is None else possibilities
        )
        return f"no such command {command!r}{_did_you_mean([repr(c) for c in close])}"
    param = getattr(exc, "param", None)
    hint = getattr(exc, "param_hint", None)
    if param is not None or hint is not None:
        name = hint if isinstance(hint, str) else " / ".join(hint) if hint else _name(param)
        if type(exc).__name__ == "MissingParameter":
            kind = getattr(exc, "param_type", None) or getattr(param, "param_type_name", "")
            return f"missing {kind or 'parameter'} {name}"
        return f"invalid value for {name}: {exc.message}"
    message = str(getattr(exc, "message", "") or exc).rstrip(".")
    if message == "Missing command" and ctx is not None and _commands(ctx):
        return f"missing command (one of: {', '.join(_commands(ctx))})"
    return message[:1].lower() + message[1:]


def _command_path(args: Sequence[str]) -> str:
    """The command `args` name ("tnhl events list"), as far as they name known commands."""
    words = ["tnhl"]
    command: Any = typer.main.get_command(app)
    for arg in args:
        sub = command.commands.get(arg) if hasattr(command, "commands") else None
        if sub is not None:
            words.append(arg)
            command = sub
        elif not arg.startswith("-"):
            break
    return " ".join(words)


def _name(param: Any) -> str:
    """An option by its longest flag (--yes, not -y); an argument as the usage writes it."""
    if getattr(param, "param_type_name", "") == "argument":
        return str(param.name).upper()
    opts = [str(o) for o in getattr(param, "opts", [])]
    return max(opts, key=len) if opts else str(param.name)


def _commands(ctx: Any) -> list[str]:
    """The visible commands of the group `ctx` is in ([] for a command)."""
    group = ctx.command if ctx is not None else None
    if group is None or not hasattr(group, "list_commands"):
        return []
    names = group.list_commands(ctx)
    return [n for n in names if not getattr(group.get_command(ctx, n), "hidden", False)]


def _did_you_mean(choices: Sequence[str]) -> str:
    if not choices:
        return ""
    ordered = sorted(choices)
    listed = ordered[0] if len(ordered) == 1 else f"{', '.join(ordered[:-1])} or {ordered[-1]}"
    return f" (did you mean {listed}?)"
