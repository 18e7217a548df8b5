"""Entry point of the ``agentkit`` command.

Each command group lives in its own module under ``otel_agentkit.cli`` and exposes
``register(subparsers) -> None``; its parsers set ``func`` to a callable taking the parsed arguments and
returning an exit code. A group run without a subcommand uses ``needs_subcommand(group)``.

Errors and exit codes are the same for every command (scripts depend on them; ``EPILOG`` says it in
``agentkit --help``):

- an error is one line on stderr, ``agentkit: error: MESSAGE``, and exit code 2, never a traceback. This
  holds for argparse's own errors too: the usage line argparse would print first is left out (``-h`` shows
  it), so stderr is one line whatever went wrong;
- with ``--json`` on the command line, that line is JSON instead: ``{"error": "MESSAGE", "code": 2}``;
- MESSAGE names the user's value and goes through ``formatting.safe_text`` in both forms, so it is the same
  text either way and can neither split the line nor drive the terminal;
- every command that lists or reports takes ``--json`` (a JSON document, or one JSON object per line for the
  agents, events and approvals listings, as their help says), and so does every ``agents``, ``events`` and
  ``approvals`` command, the approvals actions printing one JSON object;
- exit codes that are not errors: 1, done but not all of it (``replay`` left batches spooled without an
  error: another replay held the lock or ``--max-batches`` stopped it; the ``alerts init`` wizard was told
  not to save); 3, ``alerts watch --once`` found no data for any enabled rule; 130, interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import json
import re
import sqlite3
import sys
from typing import Any, Callable, NoReturn, Sequence

# Command-group modules, in the order they appear in --help. A module that is missing is skipped so that
# groups can land one at a time.
GROUPS = ("usage", "prompts", "report", "alerts", "agents", "approvals", "events", "replay")

EXIT_ERROR = 2
EXIT_NOT_ALL = 1
"""A command did what it could without an error but not all of it (see the module docstring)."""

EPILOG = f"""\
--json: every command that lists or reports, and every agents/events/approvals command, prints JSON on
  stdout with it.
errors: one line on stderr, "agentkit: error: MESSAGE", exit code {EXIT_ERROR};
  with --json that line is JSON: {{"error": "MESSAGE", "code": {EXIT_ERROR}}}
exit codes: 0 done; {EXIT_NOT_ALL} done but not all (replay left batches spooled, the alerts wizard did
  not save); {EXIT_ERROR} error; 3 alerts watch --once found no data; 130 interrupted
"""

# What json.dumps(ensure_ascii=False) writes raw although a terminal acts on it (it escapes only C0).
JSON_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


class CliError(ValueError):
    """A user-facing error: printed as one line, exit code 2. A ValueError: under ``python -m
    otel_agentkit.cli.main`` this module runs as ``__main__`` and the subcommands import a second copy,
    whose CliError ``main()`` does not know, but it turns any ValueError into the same one line."""


class UsageError(CliError):
    """argparse refused the command line (unknown option, bad value, missing argument)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # main() prints it like any other error: one line, or JSON under --json
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="agentkit", description="Usage, cost, prompts and alerts from local telemetry.",
                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", help="data directory (default: $AGENTKIT_HOME or ~/.local/share/agentkit)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in GROUPS:
        try:
            module = importlib.import_module(f"otel_agentkit.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"otel_agentkit.cli.{name}":
                continue
            raise
        module.register(sub)
    parser.set_defaults(func=needs_subcommand(parser))
    return parser


def needs_subcommand(parser: argparse.ArgumentParser) -> Callable[[argparse.Namespace], int]:
    """The ``func`` of a command group run bare: its help on stdout, for a person to pick from, and the
    error line on stderr with exit code 2, as for any other incomplete command line."""

    def run(args: argparse.Namespace) -> int:
        names, metavar = _subcommands(parser)
        parser.print_help()
        sys.stdout.flush()
        raise CliError(f"missing {metavar} after '{parser.prog}': one of {', '.join(names)}")

    return run


def _subcommands(parser: argparse.ArgumentParser) -> tuple[list[str], str]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return list(action.choices), action.metavar or "COMMAND"
    return [], "COMMAND"


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    as_json = json_requested(argv)
    try:
        args = build_parser().parse_args(argv)
        as_json = getattr(args, "json", False) is True
        return int(args.func(args) or 0)
    except CliError as exc:
        return report_error(str(exc), as_json)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except (OSError, ValueError, sqlite3.Error) as exc:  # a file, a value or a database the command could not use
        return report_error(str(exc) or type(exc).__name__, as_json)


def json_requested(argv: Sequence[str]) -> bool:
    """Whether ``--json`` (or an abbreviation argparse would take for it) is among the options: how an error
    from argparse itself, before any parsed arguments exist, knows its form. A ``--json`` after ``--`` is a
    positional value, not the option."""
    for token in argv:
        if token == "--":
            return False
        if len(token) >= 3 and "--json".startswith(token):
            return True
    return False


def report_error(message: str, as_json: bool = False) -> int:
    """Print ``message`` as the one error line (JSON under ``--json``) on stderr; the exit code."""
    text = _safe(message)
    if as_json:
        line = json_line({"error": text, "code": EXIT_ERROR})
    else:
        line = f"agentkit: error: {text}"
    print(line, file=sys.stderr, flush=True)
    return EXIT_ERROR


def json_line(value: Any) -> str:
    """``value`` as one line of JSON that keeps non-ASCII text readable and escapes what a terminal acts on
    (the same JSON value: only the spelling of those characters changes)."""
    text = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(", ", ": "))
    return JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _safe(text: str) -> str:
    """An error line names the user's value (a path, a flag), which may hold control characters: escaped,
    so the line stays one line and cannot drive the terminal."""
    from ..analytics.formatting import safe_text

    return safe_text(text)


if __name__ == "__main__":
    # Run as a script (python -m otel_agentkit.cli.main) this module is __main__; the command groups import
    # otel_agentkit.cli.main, so use that copy for CliError to be the class they raise.
    from otel_agentkit.cli.main import main as _main

    sys.exit(_main())
