"""The ``agentkit usage | prompts | report`` commands: JSON equal to the API, readable tables, one-line errors
with exit code 2, and no SDK recording machinery loaded for read-only commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from otel_agentkit import analytics
from otel_agentkit.analytics import formatting as fmt
from otel_agentkit.analytics.output import to_jsonable
from otel_agentkit.analytics.progress import FileProgress
from otel_agentkit.cli.main import main

from .telemetry import CALLS


def run(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse's own errors (unknown choices) exit from parse_args
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def base(dataset) -> list[str]:
    return ["--home", str(dataset["home"])]


def opts(dataset) -> list[str]:
    return ["--pricing", str(dataset["pricing"])]


def test_stats_json_equals_the_api(capsys, dataset, pricing):
    code, out, err = run(capsys, *base(dataset), "usage", "stats", "--by", "model", "--json", *opts(dataset))
    assert code == 0, err
    api = analytics.usage_stats(dataset["dir"], analytics.window(), by="model", pricing=pricing)
    assert json.loads(out) == json.loads(json.dumps(to_jsonable(api)))
    assert json.loads(out)["read"]["corrupt_lines"] == 0


def test_stats_table(capsys, dataset, pricing):
    code, out, _ = run(capsys, *base(dataset), "usage", "stats", "--by", "tier", *opts(dataset))
    assert code == 0
    total = analytics.usage_stats(dataset["dir"], analytics.window(), pricing=pricing).total
    lines = out.splitlines()
    assert lines[0] == "Usage, all time (UTC), by tier"
    last = next(line for line in lines if line.startswith("all "))
    for cell in (fmt.integer(total.calls), fmt.usd(total.cost_usd), fmt.percent(total.error_rate),
                 fmt.seconds(total.latency_p95_s), fmt.integer(total.input_tokens)):
        assert cell in last.split("  ") or f" {cell}" in last
    assert any(line.startswith("premium ") for line in lines) and any(line.startswith("cheap ") for line in lines)
    assert lines[-1] == f"read 3 files, {len(CALLS)} llm calls"


def test_home_after_the_subcommand_and_path(capsys, dataset):
    code, out, _ = run(capsys, "usage", "show", "--limit", "2", "--home", str(dataset["home"]), "--json")
    assert code == 0 and len(json.loads(out)["calls"]) == 2
    code, out, _ = run(capsys, "usage", "show", "--path", str(dataset["dir"]), "--json", "--tz", "Asia/Tokyo")
    data = json.loads(out)
    assert code == 0 and data["period"]["tz"] == "Asia/Tokyo" and len(data["calls"]) == len(CALLS)
    newest = max(CALLS, key=lambda c: c.hours)
    first = data["calls"][0]
    assert first["time"].endswith("+09:00") and first["model"] == newest.model
    assert first["time"] == newest.start(dataset["now"]).astimezone(analytics.parse_tz("Asia/Tokyo")).isoformat(
        timespec="milliseconds")


def test_show_table_in_the_time_zone(capsys, dataset):
    code, out, _ = run(capsys, *base(dataset), "usage", "show", "--limit", "1", "--tz", "+05:30")
    newest = max(CALLS, key=lambda c: c.hours).start(dataset["now"])
    assert code == 0
    assert analytics.parse_tz("+05:30") and newest.astimezone(analytics.parse_tz("+05:30")).strftime(
        "%Y-%m-%d %H:%M:%S") in out


@pytest.mark.parametrize("argv", [
    ["usage", "savings", "--json"], ["usage", "cache", "--json"], ["usage", "compare", "--period1", "1", "--period2", "3",
                                                                    "--json"],
    ["prompts", "summary", "--json"], ["prompts", "compare-format", "--json"],
    ["usage", "savings"], ["usage", "cache"], ["usage", "compare"], ["prompts", "summary", "--workflow", "billing"],
    ["prompts", "compare-format"],
])
def test_every_command_runs(capsys, dataset, argv):
    code, out, err = run(capsys, *base(dataset), *argv, *opts(dataset))
    assert code == 0, err
    if "--json" in argv:
        assert json.loads(out)["read"]["llm_calls"] == len(CALLS)
    else:
        assert out.rstrip().endswith(f"{len(CALLS)} llm calls")


def test_savings_states_the_baseline(capsys, dataset):
    _, out, _ = run(capsys, *base(dataset), "usage", "savings", *opts(dataset))
    assert "baseline: big-model: the model most used by the 'premium' tier in the period" in out
    assert "acme: big-model ($10 in / $30 out per 1M tokens)" in out
    _, out, _ = run(capsys, *base(dataset), "usage", "savings", "--premium-tier", "gold", *opts(dataset))
    assert "baseline: per provider, the most expensive model" in out
    _, out, _ = run(capsys, *base(dataset), "usage", "savings", "--baseline-model", "big-model", *opts(dataset))
    assert "baseline: big-model for every call (given)" in out


@pytest.mark.parametrize("argv, message", [
    (["usage", "stats", "--since", "2026-02-30"], "invalid --since='2026-02-30': not a valid date"),
    (["usage", "stats", "--until", "soon"], "invalid --until='soon'"),
    (["usage", "stats", "--by", "colour"], "argument --by: invalid choice: 'colour'"),
    (["usage", "stats", "--tz", "Nowhere/City"], "invalid --tz='Nowhere/City': unknown time zone"),
    (["usage", "stats", "--days", "0"], "invalid --days=0"),
    (["usage", "stats", "--days", "2", "--since", "2026-01-01"], "not both"),
    (["usage", "show", "--limit", "0"], "invalid --limit=0"),
    (["usage", "compare", "--period1", "-1"], "invalid --period1=-1"),
    (["usage", "export", "--format", "xml", "--output", "x"], "argument --format: invalid choice: 'xml'"),
    (["usage", "export", "--output", "/etc/calls.csv"], "system directory"),
    (["usage", "savings", "--baseline-model", "nope"], "invalid baseline_model='nope'"),
    (["usage", "stats", "--pricing", "/nonexistent/prices.json"], "invalid pricing="),
    (["prompts", "summary", "--since", "2026-01-05", "--until", "2026-01-01"], "is not after"),
    (["report", "--html", "/usr/report.html"], "system directory"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, dataset, argv, message):
    code, out, err = run(capsys, *base(dataset), *argv)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("agentkit: error: ") and message in err, err
    assert "Traceback" not in err


def test_missing_directory_is_an_error(capsys, tmp_path):
    code, _, err = run(capsys, "--home", str(tmp_path / "nothing"), "usage", "stats")
    assert code == 2 and "no telemetry directory at" in err and err.count("\n") == 1
    code, _, err = run(capsys, "usage", "stats", "--path", str(tmp_path / "nothing.jsonl"))
    assert code == 2 and "no telemetry file or directory at" in err


def test_export_and_overwrite(capsys, dataset, tmp_path):
    out_file = tmp_path / "calls.jsonl"
    code, out, _ = run(capsys, *base(dataset), "usage", "export", "--format", "jsonl", "--output", str(out_file))
    assert code == 0 and out.startswith(f"wrote {len(CALLS)} calls to {out_file} (jsonl)")
    code, _, err = run(capsys, *base(dataset), "usage", "export", "--format", "jsonl", "--output", str(out_file))
    assert code == 2 and "refusing to overwrite" in err and "--force" in err
    code, _, _ = run(capsys, *base(dataset), "usage", "export", "--format", "csv", "--output", str(out_file),
                     "--force", "--days", "1")
    assert code == 0 and len(out_file.read_text().splitlines()) == 1 + sum(1 for c in CALLS if c.hours >= -24)


def test_reset(capsys, dataset, tmp_path):
    import shutil

    shutil.copytree(dataset["dir"], tmp_path / "telemetry")
    code, _, err = run(capsys, "--home", str(tmp_path), "usage", "reset")
    assert code == 2 and "without --confirm" in err and (tmp_path / "telemetry").iterdir()
    code, out, _ = run(capsys, "--home", str(tmp_path), "usage", "reset", "--confirm")
    assert code == 0 and f"{len(CALLS)} llm calls" in out and out.startswith("deleted 3 telemetry files")
    assert list((tmp_path / "telemetry").iterdir()) == []
    code, out, _ = run(capsys, "--home", str(tmp_path), "usage", "stats")
    assert code == 0 and "read 0 files, 0 llm calls" in out


def test_report_command(capsys, dataset, tmp_path):
    page = tmp_path / "report.html"
    code, out, _ = run(capsys, *base(dataset), "report", "--html", str(page), *opts(dataset))
    assert code == 0 and out.startswith(f"wrote {page}: {len(CALLS)} calls")
    code, _, err = run(capsys, *base(dataset), "report", "--html", str(page))
    assert code == 2 and "refusing to overwrite" in err
    assert run(capsys, *base(dataset), "report", "--html", str(page), "--force", "--days", "1")[0] == 0


def test_read_only_commands_do_not_load_the_sdk_recording_side(dataset):
    """Started as the installed command is: the OTel SDK and the exporters stay unloaded."""
    code = ("import sys; from otel_agentkit.cli.main import main; rc = main(sys.argv[1:]); "
            "loaded = sorted(m for m in sys.modules if m.startswith(('opentelemetry.sdk', 'otel_agentkit.export.jsonl'))); "
            "print('LOADED', loaded, file=sys.stderr); sys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", code, "--home", str(dataset["home"]), "usage", "stats", "--json"],
                          capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONWARNINGS": "error"})
    assert proc.returncode == 0, proc.stderr
    assert "LOADED []" in proc.stderr
    assert json.loads(proc.stdout)["total"]["calls"] == len(CALLS)
    bad = subprocess.run([sys.executable, "-c", code, "usage", "stats", "--since", "x"], capture_output=True,
                         text=True, timeout=60)
    assert bad.returncode == 2 and bad.stderr.startswith("agentkit: error: invalid --since='x'")


class FakeTTY:
    """A stream that says it is a terminal (the bar only draws on one)."""

    def __init__(self) -> None:
        self.text = ""

    def isatty(self) -> bool:
        return True

    def write(self, s: str) -> None:
        self.text += s

    def flush(self) -> None:
        pass


def test_progress_bar_only_on_a_terminal_with_many_files(tmp_path, dataset, pricing):
    tty = FakeTTY()
    with FileProgress(tty, min_files=2) as bar:
        analytics.usage_stats(dataset["dir"], analytics.window(), pricing=pricing, progress=bar)
        assert "3/3 files" in tty.text and "[" + "#" * 30 + "]" in tty.text
    assert tty.text.endswith("\r")  # cleared when done
    few = FakeTTY()
    with FileProgress(few) as bar:  # 3 files < MIN_FILES
        analytics.usage_stats(dataset["dir"], analytics.window(), pricing=pricing, progress=bar)
    assert few.text == ""
    with FileProgress(stream=open(os.devnull, "w")) as bar:
        assert not bar.enabled
