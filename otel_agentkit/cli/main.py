"""Entry point of the ``agentkit`` command.

Each command group lives in its own module under ``otel_agentkit.cli`` and exposes
``register(subparsers) -> None``; its parsers set ``func`` to a callable taking the parsed arguments and
returning an exit code. Bad input ends in one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

# Command-group modules, in the order they appear in --help. A module that is missing is skipped so that
# groups can land one at a time.
GROUPS = ("usage", "prompts", "report", "alerts", "agents", "approvals", "events", "replay")


class CliError(Exception):
    """A user-facing error: printed as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not argparse's usage dump
        self.exit(2, f"agentkit: error: {_safe(message)}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="agentkit", description="Usage, cost, prompts and alerts from local telemetry.")
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return int(func(args) or 0)
    except CliError as exc:
        print(f"agentkit: error: {_safe(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except (OSError, ValueError) as exc:
        print(f"agentkit: error: {_safe(str(exc))}", file=sys.stderr)
        return 1


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
