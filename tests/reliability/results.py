"""The reliability suite's own figures: recorded by the tests, saved as JSON, rendered into docs/reliability.md.

Each test records what it measured (spans produced, exported, dropped, faults injected, bad inputs tried,
RSS...) through the ``figures`` fixture; the session writes them to ``$AGENTKIT_RELIABILITY_RESULTS`` (default:
``reliability-results.json`` in pytest's base temp directory) together with each test's outcome. The
document is rendered from that file only, so every number in it was produced by a run of the suite:

    AGENTKIT_RELIABILITY_DOC=docs/reliability.md bash scripts/test.sh tests/reliability   # provision, run, render
    python -m tests.reliability.results RESULTS.json docs/reliability.md                 # render a saved run
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import sys
import threading
from pathlib import Path
from typing import Any

ENV_RESULTS = "AGENTKIT_RELIABILITY_RESULTS"
ENV_DOC = "AGENTKIT_RELIABILITY_DOC"

SECTIONS = {
    "soak": ("Soak under load and faults",
             "Threads and asyncio tasks produce a fixed number of nested workflow / agent / tool / llm spans through "
             "`init(exporters=[\"otlp\", <flaky>])`. The flaky exporter is the application's own, in the fan-out "
             "beside OTLP; it raises, hangs past its timeout or reports failure at random (seeded). The collector "
             "(rotel, forwarding to a counting OTLP receiver) is SIGKILLed and restarted twice; the spool holds "
             "the batches of each outage and replays them. Invariants: the application gets back exactly its own "
             "exceptions (same objects) and return values; for each backend, produced = delivered + counted "
             "drops; no OTLP drop while the spool has room; every span's parent is the one the code structure "
             "says; the peak RSS grows by less than the stated bound. Each kill happens with nothing in flight "
             "(the application pauses, `flush()`, the receiver has every span so far), because a collector loses "
             "what it acknowledged but had not forwarded; the application then produces through the outage and "
             "the restart. The batch span processor's queue is sized above the workload in the main soak: its "
             "own queue-full drops are not counted by agentkit, which the `otlp alone` test shows separately. "
             "A second test fills a small spool on purpose: what does not fit must be counted span by span."),
    "properties": ("Property-based tests (hypothesis)",
                   "Generated inputs at the boundaries: decorated functions over arbitrary arguments, return values "
                   "and exceptions; the JSONL reader over arbitrary bytes and torn lines; the SSRF guard over "
                   "private and loopback addresses in every notation; settings from generated environment values; "
                   "the CLI over generated argument lists. Nothing crashes; every refusal is a clear error."),
    "processes": ("Processes",
                  "Spans made in a child after `os.fork()` and in multiprocessing workers (fork and spawn) reach the "
                  "JSONL files; the data directory is created owner-only; files written concurrently by several "
                  "processes, through rotations, always parse."),
    "ledger": ("The ledger",
               "A seeded workload makes LLM calls every way the SDK offers (decorated functions, a decorated "
               "stream, a context manager, an async function, a backfilled `record_llm_call`, calls that fail) "
               "from threads and asyncio tasks, and keeps its own ground truth per model: calls, tokens and the "
               "cost computed from the pricing table's prices. The data goes to the JSONL files and through rotel "
               "to a receiver while the collector is killed and restarted (spooled, replayed). `agentkit usage "
               "stats --json`, run as a subprocess over the local files, over the collector's files and over both "
               "together (every span in two places), must equal the ground truth exactly."),
    "secrets": ("Secrets",
                "The example flows run with planted API keys and bearer tokens in arguments, headers, messages and "
                "exception messages, content capture on (SPAN_AND_EVENT), exporting to JSONL and through rotel to "
                "the receiver. Every file written and every byte received is scanned: no planted secret may appear."),
}

# Figures summed over the whole run for the summary table (a test records those that apply to it).
TOTALS = (
    ("spans_produced", "spans produced"),
    ("spans_exported", "spans exported (arrived, unique)"),
    ("spans_dropped", "spans dropped (counted)"),
    ("faults_injected", "faults injected"),
    ("bad_inputs", "bad inputs tried"),
)


def default_path(basetemp: Path) -> Path:
    env = os.environ.get(ENV_RESULTS)
    return Path(env) if env else Path(basetemp) / "reliability-results.json"


class Results:
    """Figures and outcomes by test id; thread-safe; written as one JSON document."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self.tests: dict[str, dict[str, Any]] = {}

    def _entry(self, test_id: str, section: str) -> dict[str, Any]:
        return self.tests.setdefault(test_id, {"section": section, "outcome": "not finished", "figures": {}})

    def record(self, test_id: str, section: str, **figures: Any) -> None:
        with self._lock:
            self._entry(test_id, section)["figures"].update(figures)

    def outcome(self, test_id: str, section: str, outcome: str) -> None:
        with self._lock:
            entry = self._entry(test_id, section)
            if entry["outcome"] in ("not finished", "passed"):  # a failed teardown overrides a passed call
                entry["outcome"] = outcome

    def document(self) -> dict[str, Any]:
        with self._lock:
            tests = json.loads(json.dumps(self.tests, default=str))
        return {"generated": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                "environment": environment(), "tests": tests}

    def save(self) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(self.document(), indent=2, sort_keys=True) + "\n")
        os.replace(tmp, self.path)
        return self.path


def environment() -> dict[str, Any]:
    from importlib import metadata

    versions = {}
    for name in ("otel-agentkit", "opentelemetry-sdk", "opentelemetry-exporter-otlp-proto-http", "hypothesis",
                 "rotel"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return {"python": platform.python_version(), "platform": f"{platform.system()} {platform.machine()}",
            "cpus": os.cpu_count(), "packages": versions}


# --- rendering -----------------------------------------------------------------------------------------------
def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:,.1f}" if abs(v) >= 100 else f"{v:.3g}"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, dict):
        return ", ".join(f"{k}: {_value(x)}" for k, x in sorted(v.items())) or "none"
    if isinstance(v, (list, tuple)):
        return ", ".join(_value(x) for x in v) or "none"
    return str(v).replace("|", "\\|").replace("\n", " ")


def _short(test_id: str) -> str:
    return test_id.split("::", 1)[-1]


def render(doc: dict[str, Any]) -> str:
    tests: dict[str, dict[str, Any]] = doc.get("tests", {})
    env = doc.get("environment", {})
    packages = ", ".join(f"{k} {v}" for k, v in sorted(env.get("packages", {}).items()))
    outcomes: dict[str, int] = {}
    for t in tests.values():
        outcomes[t["outcome"]] = outcomes.get(t["outcome"], 0) + 1
    lines = [
        "# Reliability under load and faults",
        "",
        "<!-- Generated from the reliability suite's own output; do not edit by hand. Regenerate with:",
        "     AGENTKIT_RELIABILITY_DOC=docs/reliability.md bash scripts/test.sh tests/reliability -->",
        "",
        f"Run of {doc.get('generated', '?')} on Python {env.get('python', '?')}, {env.get('platform', '?')}, "
        f"{env.get('cpus', '?')} CPUs ({packages}).",
        "",
        "Tests: " + (", ".join(f"{n} {o}" for o, n in sorted(outcomes.items())) or "none recorded") + ".",
        "",
        "## Summary",
        "",
        "| figure | total |",
        "|---|---:|",
    ]
    for key, label in TOTALS:
        values = [t["figures"][key] for t in tests.values() if isinstance(t["figures"].get(key), (int, float))]
        lines.append(f"| {label} | {_value(sum(values)) if values else 'n/a'} |")
    failed = [(k, t) for k, t in sorted(tests.items()) if t["outcome"] != "passed"]
    if failed:
        lines += ["", "## Failures", "", "Each one is a finding about the code under test, with the first line of "
                  "its assertion:", ""]
        for test_id, entry in failed:
            why = entry["figures"].get("failure", entry["outcome"])
            lines.append(f"- `{_short(test_id)}`: {_value(why)}")
    for section, (title, intro) in SECTIONS.items():
        mine = {k: v for k, v in tests.items() if v["section"] == section}
        lines += ["", f"## {title}", "", intro, ""]
        if not mine:
            lines += ["_Not run in the session that produced this document._"]
            continue
        for test_id, entry in sorted(mine.items()):
            lines += [f"### `{_short(test_id)}`: {entry['outcome']}", ""]
            figures = entry["figures"]
            if not figures:
                lines += ["_No figures recorded._", ""]
                continue
            lines += ["| figure | value |", "|---|---|"]
            for key, value in figures.items():
                if key == "failure":
                    continue
                lines.append(f"| {key.replace('_', ' ')} | {_value(value)} |")
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def write_doc(doc: dict[str, Any], out: Path) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(doc))
    return out


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (1, 2):
        print("usage: python -m tests.reliability.results RESULTS.json [OUT.md]", file=sys.stderr)
        return 2
    doc = json.loads(Path(args[0]).read_text())
    if len(args) == 2:
        print(f"wrote {write_doc(doc, Path(args[1]))}")
    else:
        sys.stdout.write(render(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
