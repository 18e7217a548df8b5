"""Every ``agentkit`` command reports an error the same way; every listing, and every agents, events and
approvals command, takes ``--json``.

An error is one line on stderr and exit code 2: ``agentkit: error: MESSAGE``, or with ``--json`` one JSON line
``{"error": "MESSAGE", "code": 2}`` carrying the same MESSAGE. Each command group is run as the real command
(``python -m otel_agentkit.cli`` in a subprocess) against a bad flag value, a missing file and a corrupt file.
The replay endpoint is a port nothing listens on; every store and file is real.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from otel_agentkit.agents import Approvals, EventStream, Heartbeats
from otel_agentkit.alerts.db import AlertStore
from otel_agentkit.alerts.rules import Rule
from otel_agentkit.cli.main import build_parser
from otel_agentkit.export.spool import SUFFIX, Spool, spool_dir
from tests.support.procs import free_port

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "agentkit: error: "


def agentkit(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "otel_agentkit.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def place(tmp_path_factory: pytest.TempPathFactory, dataset: dict[str, Any]) -> dict[str, Any]:
    """Files for the error cases, a seeded agent store and alert store, and the environment to run in."""
    root = tmp_path_factory.mktemp("uniform")
    home = root / "home"
    shutil.copytree(dataset["home"], home)
    store = AlertStore(home)
    rule = store.add(Rule(metric="error_rate", threshold=5, name="errors"))
    store.claim_firing(rule, 50.0, time.time())  # one history entry
    broken = root / "broken"
    broken.mkdir()
    (broken / "alerts.db").write_bytes(b"this is not a database, whatever the name says\n" * 20)
    (root / "afile").write_text("a file where a directory should be\n")
    (root / "corrupt.json").write_text("{not json")
    (root / "corrupt.db").write_bytes(os.urandom(4096))
    url = f"sqlite:///{root}/agents.db"
    Heartbeats(url, ttl=3600).start("planner").beat("thinking", progress=0.5, current_task="outline")
    gate = Approvals(url, requester="bot")
    gate.submit("deploy", {"version": "2.0"}, timeout=3600)  # stays pending for `approvals list`
    to_approve, to_reject = (gate.submit(kind, timeout=3600).id for kind in ("release", "drop"))
    EventStream(url, source="writer").publish("draft.saved", {"n": 1})
    env = {k: v for k, v in os.environ.items()
           if k not in ("AGENTKIT_AGENT_STORE", "AGENTKIT_PRICING_FILE") and not k.startswith("OTEL_")}
    env.update(AGENTKIT_HOME=str(home), OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{free_port()}",
               OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf", OTEL_EXPORTER_OTLP_TIMEOUT="2")
    names = {"home": str(home), "broken": str(broken), "missing": str(root / "missing.jsonl"),
             "corrupt_json": str(root / "corrupt.json"), "corrupt_db": str(root / "corrupt.db"),
             "no_dir": str(root / "afile" / "agents.db"), "store": url, "out": str(root / "out"),
             "pricing": str(dataset["pricing"]), "approve_id": to_approve, "reject_id": to_reject}
    return {"root": root, "env": env, "names": names}


def expand(argv: list[str], names: dict[str, str]) -> list[str]:
    return [a.format(**names) for a in argv]


def plain_error(proc: subprocess.CompletedProcess[str], fragment: str) -> str:
    """The message of the one error line (asserted to be one line, exit code 2, nothing on stdout)."""
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert proc.stdout == "" and "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.endswith("\n"), proc.stderr
    assert proc.stderr.startswith(PREFIX) and fragment in proc.stderr, proc.stderr
    return proc.stderr[len(PREFIX):-1]


def json_error(proc: subprocess.CompletedProcess[str], fragment: str) -> str:
    """The message of the one JSON error line (same checks as plain_error, and the JSON's shape)."""
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert proc.stdout == "" and "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.endswith("\n"), proc.stderr
    value = json.loads(proc.stderr)
    assert set(value) == {"error", "code"} and value["code"] == 2, value
    assert fragment in value["error"], value
    return value["error"]


# (command line, a piece of the message); each runs as it is and with --json added at the end.
ERRORS = [
    # usage: bad value (ours, argparse's), missing file, corrupt file
    (["usage", "stats", "--tz", "Nowhere/City"], "invalid --tz='Nowhere/City'"),
    (["usage", "stats", "--days", "x"], "argument --days: invalid int value: 'x'"),
    (["usage", "show", "--path", "{missing}"], "no telemetry file or directory at"),
    (["usage", "stats", "--pricing", "{corrupt_json}"], "invalid pricing="),
    (["usage", "export", "--output", "{out}.csv", "--pricing", "{corrupt_json}"], "invalid pricing="),
    # prompts
    (["prompts", "summary", "--since", "2026-02-30"], "invalid --since='2026-02-30'"),
    (["prompts", "compare-format", "--path", "{missing}"], "no telemetry file or directory at"),
    (["prompts", "summary", "--pricing", "{corrupt_json}"], "invalid pricing="),
    # report
    (["report", "--html", "{out}.html", "--days", "0"], "invalid --days=0"),
    (["report", "--html", "{out}.html", "--path", "{missing}"], "no telemetry file or directory at"),
    (["report", "--html", "{out}.html", "--pricing", "{corrupt_json}"], "invalid pricing="),
    # alerts (the home holds one enabled rule, so metrics reads the telemetry)
    (["alerts", "history", "--limit", "0"], "invalid --limit=0"),
    (["alerts", "history", "--rule", "x"], "argument --rule: invalid int value: 'x'"),
    (["alerts", "metrics", "--path", "{missing}"], "no telemetry file or directory at"),
    (["--home", "{broken}", "alerts", "list"], "alerts.db in {broken}: file is not a database"),
    (["--home", "{broken}", "alerts", "history"], "file is not a database"),
    # agents
    (["agents", "list", "--threshold", "0", "--store", "{store}"], "--threshold=0.0: must be"),
    (["agents", "list", "--store", "{no_dir}"], "Not a directory"),
    (["agents", "list", "--store", "{corrupt_db}"], "file is not a database"),
    (["agents", "list", "--threshold", "5", "--store", "{store}"], "--threshold=5.0: applies only with --stale"),
    # approvals
    (["approvals", "list", "--store", "mysql://h/db"], "unknown scheme"),
    (["approvals", "list", "--store", "{no_dir}"], "Not a directory"),
    (["approvals", "list", "--store", "{corrupt_db}"], "file is not a database"),
    (["approvals", "approve", "nope", "--store", "{store}"], "approval request 'nope' is unknown or expired"),
    (["approvals", "reject", "nope", "--reason", "x", "--store", "{store}"], "'nope' is unknown or expired"),
    (["approvals", "approve", "someid", "--store", "{corrupt_db}"], "file is not a database"),
    # events
    (["events", "tail", "draft.saved", "--count", "0", "--store", "{store}"], "--count=0: must be"),
    (["events", "list", "--store", "{no_dir}"], "Not a directory"),
    (["events", "list", "--store", "{corrupt_db}"], "file is not a database"),
    (["events", "tail", "draft.saved", "--store", "{corrupt_db}"], "file is not a database"),
    # replay (a corrupt or missing spool is not an error: see test_replay_errors_and_statuses)
    (["replay", "--max-batches", "0"], "--max-batches=0: expected a whole number above 0"),
    (["replay", "--signal", "spans"], "argument --signal: invalid choice: 'spans'"),
    # the command line itself
    (["usage", "stats", "--colour"], "unrecognized arguments: --colour"),
    (["usage", "stats", "--by"], "argument --by: expected one argument"),
]


@pytest.mark.parametrize("argv, fragment", ERRORS, ids=[" ".join(a) for a, _ in ERRORS])
def test_an_error_is_one_line_and_the_same_line_as_json(place: dict[str, Any], argv: list[str],
                                                       fragment: str) -> None:
    names = place["names"]
    fragment = fragment.format(**names)
    plain = plain_error(agentkit(*expand(argv, names), env=place["env"]), fragment)
    as_json = json_error(agentkit(*expand(argv, names), "--json", env=place["env"]), fragment)
    assert as_json == plain  # the same message, whichever form


def test_an_action_without_json_refuses_it_in_json(place: dict[str, Any]) -> None:
    """Commands that change something print no listing and take no --json; asked for it, they refuse in the
    form the caller asked for. Without it, their errors (missing and corrupt rules files) are one line."""
    env, names = place["env"], place["names"]
    plain_error(agentkit("alerts", "import", names["missing"], env=env), "invalid rules file=")
    plain_error(agentkit("alerts", "import", names["corrupt_json"], env=env), "not valid JSON")
    plain_error(agentkit("alerts", "delete", "99", env=env), "no alert rule with id 99")
    json_error(agentkit("alerts", "delete", "99", "--json", env=env), "unrecognized arguments: --json")


def test_control_characters_in_an_error_are_escaped_in_both_forms(place: dict[str, Any]) -> None:
    hostile = "/nonexistent/tele\x1bcmetry\r\nFAKE: all ok\u202e"  # no [ ]: --path takes globs
    for extra in ((), ("--json",)):
        proc = agentkit("usage", "stats", "--path", hostile, *extra, env=place["env"])
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1
        assert not any(c in proc.stderr for c in "\x1b\r\u202e"), proc.stderr
    message = json.loads(proc.stderr)["error"]
    assert "tele\\x1bcmetry\\r\\nFAKE: all ok\\u202e" in message  # safe_text's escapes, as on the plain line


def test_an_option_after_double_dash_is_a_value_not_json(place: dict[str, Any]) -> None:
    proc = agentkit("events", "tail", "--count", "0", "--store", place["names"]["store"], "--", "--json",
                    env=place["env"])
    plain_error(proc, "--count=0: must be")


def test_a_bare_command_group_shows_its_help_and_one_error_line(place: dict[str, Any]) -> None:
    proc = agentkit("events", env=place["env"])
    assert proc.returncode == 2 and proc.stdout.startswith("usage: agentkit events")
    assert proc.stderr == f"{PREFIX}missing SUBCOMMAND after 'agentkit events': one of tail, list\n"
    top = agentkit(env=place["env"])
    assert top.returncode == 2 and "exit codes:" in top.stdout  # the help, with the epilog
    assert top.stderr.startswith(f"{PREFIX}missing COMMAND after 'agentkit': one of usage, prompts")
    assert top.stderr.count("\n") == 1


def test_help_documents_the_error_form_and_exit_codes(place: dict[str, Any]) -> None:
    proc = agentkit("--help", env=place["env"])
    assert proc.returncode == 0
    assert '{"error": "MESSAGE", "code": 2}' in proc.stdout and "exit codes: 0 done;" in proc.stdout


def test_replay_errors_and_statuses(place: dict[str, Any], tmp_path: Path) -> None:
    """The endpoint not taking a batch is an error (summary on stdout, one error line, 2); a corrupt spool
    file is moved aside and counted (0); a spool another replay holds is left for later (1, no error)."""
    env = place["env"]
    spool = Spool(spool_dir(tmp_path, "traces"), "traces")
    torn = spool.dir / f"00000000000000000001-1-00000000{SUFFIX}"
    torn.parent.mkdir(parents=True)
    torn.write_bytes(b"torn")  # shorter than a batch header
    proc = agentkit("--home", str(tmp_path), "replay", "--json", env=env)
    assert proc.returncode == 0 and json.loads(proc.stdout)["corrupt"] == 1
    assert "is corrupt" in proc.stderr and "Traceback" not in proc.stderr  # the spool's own warning

    assert spool.put(b"\x0a\x00", 1)
    proc = agentkit("--home", str(tmp_path), "replay", env=env)
    assert proc.returncode == 2
    assert proc.stdout.startswith("sent 0 batch(es), 0 item(s); 1 still spooled")
    assert proc.stderr.startswith(f"{PREFIX}1 batch(es) still spooled: traces: ") and proc.stderr.count("\n") == 1
    proc = agentkit("--home", str(tmp_path), "replay", "--json", env=env)
    assert proc.returncode == 2
    summary = json.loads(proc.stdout)
    assert summary["remaining_batches"] == 1 and summary["sent_batches"] == 0 and summary["errors"]
    assert json.loads(proc.stderr)["error"].startswith("1 batch(es) still spooled: traces: ")

    with spool.replay_lock() as mine:
        assert mine
        proc = agentkit("--home", str(tmp_path), "replay", "--json", env=env)
    assert proc.returncode == 1 and proc.stderr == "", proc.stderr
    assert json.loads(proc.stdout)["skipped_locked"] == 1


# --- every listing, and every agents/events/approvals command, takes --json -----------------------------
# command -> (arguments after it, "document" for one JSON value or "lines" for one JSON object per line)
LISTINGS: dict[tuple[str, ...], tuple[list[str], str]] = {
    ("usage", "show"): (["--pricing", "{pricing}"], "document"),
    ("usage", "stats"): (["--by", "model", "--pricing", "{pricing}"], "document"),
    ("usage", "savings"): (["--pricing", "{pricing}"], "document"),
    ("usage", "cache"): (["--pricing", "{pricing}"], "document"),
    ("usage", "compare"): (["--pricing", "{pricing}"], "document"),
    ("usage", "export"): (["--output", "{out}-calls.csv", "--force"], "document"),
    ("usage", "reset"): (["--home", "{out}-reset-home", "--confirm"], "document"),
    ("prompts", "summary"): ([], "document"),
    ("prompts", "compare-format"): ([], "document"),
    ("report",): (["--html", "{out}-report.html", "--force", "--pricing", "{pricing}"], "document"),
    ("alerts", "list"): ([], "document"),
    ("alerts", "history"): ([], "document"),
    ("alerts", "metrics"): ([], "document"),
    ("agents", "list"): (["--store", "{store}"], "lines"),
    ("approvals", "list"): (["--store", "{store}"], "lines"),
    ("approvals", "approve"): (["{approve_id}", "--by", "alice", "--store", "{store}"], "document"),
    ("approvals", "reject"): (["{reject_id}", "--reason", "no", "--store", "{store}"], "document"),
    ("events", "tail"): (["draft.saved", "--store", "{store}"], "lines"),
    ("events", "list"): (["--store", "{store}"], "lines"),
    ("replay",): ([], "document"),
}

# Alerts commands that change something and print a confirmation, not a listing: no --json. (The approvals
# actions take it: scripts answer gates, and read the decision as JSON.)
ACTIONS = {("alerts", "init"), ("alerts", "import"), ("alerts", "enable"), ("alerts", "disable"),
           ("alerts", "delete"), ("alerts", "watch"), ("alerts", "export-rules")}
JSON_EVERYWHERE = ("agents", "events", "approvals")  # command groups whose every command takes --json


def _leaves(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        return {path: parser}
    found: dict[tuple[str, ...], Any] = {}
    for action in subs:
        for name, sub in action.choices.items():
            found.update(_leaves(sub, path + (name,)))
    return found


def test_every_command_is_a_listing_with_json_or_an_action() -> None:
    """A new command must be put in one list or the other: a listing without --json fails here."""
    leaves = _leaves(build_parser())
    with_json = {path for path, p in leaves.items() if any("--json" in a.option_strings for a in p._actions)}
    assert with_json == set(LISTINGS)
    assert set(leaves) - with_json == ACTIONS
    assert {path for path in leaves if path[0] in JSON_EVERYWHERE} <= with_json


@pytest.mark.parametrize("command", list(LISTINGS), ids=[" ".join(c) for c in LISTINGS])
def test_every_listing_prints_json(place: dict[str, Any], command: tuple[str, ...]) -> None:
    names = place["names"]
    if command == ("usage", "reset"):
        shutil.copytree(Path(names["home"]) / "telemetry", Path(f"{names['out']}-reset-home") / "telemetry",
                        dirs_exist_ok=True)
    extra, form = LISTINGS[command]
    proc = agentkit(*command, *expand(extra, names), "--json", env=place["env"])
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    if form == "document":
        value = json.loads(proc.stdout)
        assert isinstance(value, (dict, list)) and value, proc.stdout
    else:
        lines = proc.stdout.splitlines()
        assert lines, f"the seeded store should list something for {command}"
        assert all(isinstance(json.loads(line), dict) for line in lines), proc.stdout


def test_events_list_json_names_each_stream(place: dict[str, Any]) -> None:
    proc = agentkit("events", "list", "--json", "--store", place["names"]["store"], env=place["env"])
    (line,) = proc.stdout.splitlines()
    stream = json.loads(line)
    assert (stream["type"], stream["length"]) == ("draft.saved", 1) and stream["last_id"] == stream["first_id"]
