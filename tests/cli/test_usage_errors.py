"""Usage errors a person can act on: an unknown option or command, a missing argument or a
value of the wrong kind is one plain line on stderr in tnhl's style (the command, what is
wrong, a suggestion when one is close, where the help is), exit 2, no boxed panel; under
`--log-json` that line is JSON, as a configuration error's is."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

TNHL = Path(sys.executable).parent / "tnhl"  # the installed console entry point


def _tnhl(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("TNHL_")}
    return subprocess.run(
        [str(TNHL), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )


def _assert_one_line(result: subprocess.CompletedProcess[str], line: str) -> None:
    assert (result.returncode, result.stdout, result.stderr) == (2, "", line + "\n")
    assert not set("╭╮╰╯│─") & set(result.stderr)


def test_an_unknown_option_is_named_with_the_nearest_ones(tmp_path: Path) -> None:
    """`tnhl run --bogus` names the command and the option and points at the command's help,
    with no guess (nothing is close); `--prot` offers `--port` only (`--host` is not close
    enough to be worth a lead): one line, exit 2, no panel."""
    _assert_one_line(
        _tnhl(["run", "--bogus"], tmp_path),
        "tnhl run: no such option --bogus; see `tnhl run --help`",
    )
    _assert_one_line(
        _tnhl(["run", "--prot", "8080"], tmp_path),
        "tnhl run: no such option --prot (did you mean --port?); see `tnhl run --help`",
    )


def test_a_missing_argument_is_named_as_the_usage_writes_it(tmp_path: Path) -> None:
    """`tnhl go-live` without its connection says the argument NAME is missing."""
    _assert_one_line(
        _tnhl(["go-live"], tmp_path),
        "tnhl go-live: missing argument NAME; see `tnhl go-live --help`",
    )


def test_a_bad_value_names_the_option_and_the_problem(tmp_path: Path) -> None:
    """`tnhl run --port abc` names --port and why its value is refused, before anything
    starts."""
    _assert_one_line(
        _tnhl(["run", "--port", "abc"], tmp_path),
        "tnhl run: invalid value for --port: Input should be a valid integer, unable to parse "
        "string as an integer; see `tnhl run --help`",
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["rnu"], "tnhl: no such command 'rnu' (did you mean 'run'?); see `tnhl --help`"),
        (
            ["events", "lst"],
            "tnhl events: no such command 'lst' (did you mean 'list'?); see `tnhl events --help`",
        ),
        (["frobnicate"], "tnhl: no such command 'frobnicate'; see `tnhl --help`"),
    ],
    ids=["top-level", "in-a-group", "nothing-close"],
)
def test_an_unknown_command_suggests_the_nearest(
    tmp_path: Path, args: list[str], line: str
) -> None:
    """A mistyped command, at the top or in a group, is named with the nearest command
    (none when nothing is close)."""
    _assert_one_line(_tnhl(args, tmp_path), line)


def test_a_usage_error_is_a_json_line_with_log_json(tmp_path: Path) -> None:
    """`tnhl run --log-json --bogus`: the one line on stderr is a JSON error line, as a
    configuration error's is under --log-json."""
    result = _tnhl(["run", "--log-json", "--bogus"], tmp_path)
    assert (result.returncode, result.stdout) == (2, "")
    line = json.loads(result.stderr)
    assert (line["level"], line["event"]) == (
        "error",
        "tnhl run: no such option --bogus; see `tnhl run --help`",
    )


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ["run", "--port"],
            "tnhl run: option '--port' requires an argument; see `tnhl run --help`",
        ),
        (
            ["events", "list", "--state"],
            "tnhl events list: option '--state' requires an argument; "
            "see `tnhl events list --help`",
        ),
    ],
    ids=["command", "in-a-group"],
)
def test_an_option_without_its_value_names_the_command(
    tmp_path: Path, args: list[str], line: str
) -> None:
    """An option given last without its value: click attaches no command to that error, so
    tnhl finds it in the words given, and the line names it and its help like the others."""
    _assert_one_line(_tnhl(args, tmp_path), line)
