"""Files written with the pre-release names and with the v0.1.0 names read the same, alone or in one folder.

The two files are OTLP/JSON lines in the shapes the SDK writes (one request per line, as the JSONL exporter
and the Collector's file exporter write them), built here by hand so that the pre-release shape stays
fixed whatever the SDK emits today:

- pre-release: the workflow is an ``invoke_workflow`` span named ``invoke_workflow {name}`` with
  ``gen_ai.workflow.name``, inherited by every span below it; the prompt name is ``agentkit.prompt.name``;
- v0.1.0: the workflow is an ``invoke_agent {name}`` INTERNAL span with operation ``invoke_workflow`` and its
  name in ``gen_ai.agent.name``; spans below carry ``agentkit.workflow.name``; the prompt name is
  ``gen_ai.prompt.name``; the agent name on a child span is ``gen_ai.agent.name`` or ``agentkit.agent.name``.

The CLI runs as a subprocess (as the installed command does); the expected figures are the calls' own.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from otel_agentkit import semconv as sc

T0 = 1_767_571_200_000_000_000  # 2026-01-05T00:00:00Z
SECOND = 1_000_000_000
PRICING = {"m-big": {"provider": "acme", "input": 10.0, "output": 30.0},
           "m-small": {"provider": "acme", "input": 1.0, "output": 2.0}}
# (workflow, agent, model, input, output, prompt) per call; the same calls are written in both shapes.
CALLS = [
    ("triage", "router", "m-small", 1000, 100, "classify"),
    ("triage", "router", "m-small", 3000, 300, "classify"),
    ("answer", "writer", "m-big", 2000, 500, "draft"),
]


def _attr(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    return {"key": key, "value": {"stringValue": value}}


def _span(trace: int, span: int, parent: int | None, name: str, kind: int, start: int, attrs: dict[str, Any]
          ) -> dict[str, Any]:
    out = {"traceId": f"{trace:032x}", "spanId": f"{span:016x}", "name": name, "kind": kind,
           "startTimeUnixNano": str(start), "endTimeUnixNano": str(start + SECOND),
           "attributes": [_attr(k, v) for k, v in attrs.items()], "status": {}}
    if parent is not None:
        out["parentSpanId"] = f"{parent:016x}"
    return out


def _line(spans: list[dict[str, Any]], service: str) -> str:
    return json.dumps({"resourceSpans": [{
        "resource": {"attributes": [_attr(sc.RESOURCE_SERVICE_NAME, service)]},
        "scopeSpans": [{"scope": {"name": sc.SCOPE_NAME}, "spans": spans}]}]})


def _calls(new: bool, trace_base: int, t0: int) -> list[str]:
    """One line per workflow run: the workflow span, then its llm span (and, in the new shape, the agent
    name once as gen_ai.agent.name and once as agentkit.agent.name)."""
    lines = []
    for i, (workflow, agent, model, inp, out, prompt) in enumerate(CALLS):
        trace, start = trace_base + i, t0 + i * 60 * SECOND
        llm = {sc.GEN_AI_OPERATION_NAME: sc.OP_CHAT, sc.GEN_AI_PROVIDER_NAME: "acme", sc.GEN_AI_REQUEST_MODEL: model,
               sc.GEN_AI_USAGE_INPUT_TOKENS: inp, sc.GEN_AI_USAGE_OUTPUT_TOKENS: out}
        if new:
            wf = _span(trace, 1, None, f"{sc.OP_INVOKE_AGENT} {workflow}", 1, start,
                       {sc.GEN_AI_OPERATION_NAME: sc.OP_INVOKE_WORKFLOW, sc.GEN_AI_AGENT_NAME: workflow})
            llm.update({sc.AGENTKIT_WORKFLOW_NAME: workflow, sc.GEN_AI_PROMPT_NAME: prompt,
                        (sc.GEN_AI_AGENT_NAME if i % 2 else sc.AGENTKIT_AGENT_NAME): agent})
        else:
            wf = _span(trace, 1, None, f"{sc.OP_INVOKE_WORKFLOW} {workflow}", 1, start,
                       {sc.GEN_AI_OPERATION_NAME: sc.OP_INVOKE_WORKFLOW, sc.GEN_AI_WORKFLOW_NAME: workflow})
            llm.update({sc.GEN_AI_WORKFLOW_NAME: workflow, sc.AGENTKIT_PROMPT_NAME: prompt,
                        sc.GEN_AI_AGENT_NAME: agent})
        lines.append(_line([wf, _span(trace, 2, 1, f"{sc.OP_CHAT} {model}", 3, start + 1000, llm)], "app"))
    return lines


@pytest.fixture
def folders(tmp_path: Path) -> dict[str, Path]:
    old, new, mixed = tmp_path / "old", tmp_path / "new", tmp_path / "mixed"
    for d in (old, new, mixed):
        d.mkdir()
    old_lines, new_lines = _calls(False, 0x100, T0), _calls(True, 0x200, T0 + 3600 * SECOND)
    (old / "traces-2026-01-05.jsonl").write_text("\n".join(old_lines) + "\n")
    (new / "traces-2026-01-05.jsonl").write_text("\n".join(new_lines) + "\n")
    (mixed / "traces-2026-01-05.jsonl").write_text("\n".join(old_lines) + "\n")
    (mixed / "traces-2026-01-06.jsonl").write_text("\n".join(new_lines) + "\n")
    pricing = tmp_path / "pricing.json"
    pricing.write_text(json.dumps(PRICING))
    return {"old": old, "new": new, "mixed": mixed, "pricing": pricing}


def cli(folders: dict[str, Path], *argv: str) -> Any:
    proc = subprocess.run([sys.executable, "-m", "otel_agentkit.cli", *argv, "--json"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _groups(result: dict[str, Any]) -> dict[str, tuple[int, int, int, float]]:
    return {g["key"]: (g["calls"], g["input_tokens"], g["output_tokens"], round(g["cost_usd"], 9))
            for g in result["groups"]}


def _expected(by: int, runs: int = 1) -> dict[str, tuple[int, int, int, float]]:
    out: dict[str, list[float]] = {}
    for call in CALLS:
        price = PRICING[call[2]]
        row = out.setdefault(call[by], [0, 0, 0, 0.0])
        row[0] += runs
        row[1] += runs * call[3]
        row[2] += runs * call[4]
        row[3] += runs * (call[3] * price["input"] + call[4] * price["output"]) / 1e6
    return {k: (int(v[0]), int(v[1]), int(v[2]), round(v[3], 9)) for k, v in out.items()}


@pytest.mark.parametrize("by, column", [("workflow", 0), ("agent", 1)])
def test_old_and_new_files_give_the_same_groups_and_a_mixed_folder_both(folders, by, column):
    old, new, mixed = (cli(folders, "usage", "stats", "--by", by, "--path", str(folders[k]),
                           "--pricing", str(folders["pricing"])) for k in ("old", "new", "mixed"))
    assert _groups(old) == _groups(new) == _expected(column)
    assert old["total"]["calls"] == new["total"]["calls"] == len(CALLS)
    assert _groups(mixed) == _expected(column, runs=2)
    assert mixed["total"]["input_tokens"] == 2 * sum(c[3] for c in CALLS)
    assert mixed["total"]["calls"] == 2 * len(CALLS)  # workflow spans are not llm calls, in either shape


def test_prompt_names_and_workflow_filter_read_from_both_sets(folders):
    for key in ("old", "new"):
        shown = cli(folders, "usage", "show", "--limit", "10", "--path", str(folders[key]))
        rows = shown["calls"] if isinstance(shown, dict) else shown
        assert sorted((r["workflow"], r["agent"], r["prompt_name"]) for r in rows) == sorted(
            (c[0], c[1], c[5]) for c in CALLS), key
    summary = cli(folders, "prompts", "summary", "--workflow", "triage", "--path", str(folders["mixed"]))
    assert summary["total"]["prompts"] == 4 and summary["total"]["input_tokens"] == 2 * (1000 + 3000)
    assert [row["key"] for row in summary["by_workflow"]] == ["triage"]
