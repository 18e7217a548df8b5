"""Two worker processes and a coordinator: heartbeats, signals, events, an approval gate answered from the
CLI, and feedback, all in ONE trace in the local telemetry.

The coordinator opens a workflow span and hands its trace context (W3C traceparent) to the workers it
starts, so their agent spans are children of it even though they run in other processes. Shared state goes
through the agent store (SQLite in the data directory by default, or ``--store redis://127.0.0.1:6379/0``).
At the gate the coordinator waits for ``agentkit approvals approve ID``; with ``--auto-approve`` it runs that
very command itself in a subprocess, as a human would from another terminal.

    python examples/multi_agent.py [--home DIR] [--store URL] [--auto-approve]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import otel_agentkit as agentkit
from otel_agentkit.agents import Approvals, EventStream, Feedback, Heartbeats, Signals, open_store

WORKERS = ("researcher", "writer")
WORKFLOW = "research-report"


# --- worker process ----------------------------------------------------------------------------------------
def worker(name: str, peer: str, store_url: str, home: str, traceparent: str) -> int:
    from opentelemetry import context, propagate

    agentkit.init(service_name=f"multi-agent-{name}", exporters=["jsonl"], home=home)
    token = context.attach(propagate.extract({"traceparent": traceparent}))  # join the coordinator's trace
    store = open_store(store_url)
    try:
        with agentkit.agent(name=name, id=f"{name}-{os.getpid()}"):
            with Heartbeats(store).start(name, {"pid": os.getpid(), "peer": peer}) as hb:
                signals = Signals(store, name)
                hb.beat("waiting", progress=0.0, current_task="wait for the coordinator")
                if signals.wait_for("start", timeout=60, poll=0.05) is None:
                    raise TimeoutError(f"{name}: no start signal within 60 s")
                with hb.beating(interval=0.2):  # a long step: keep beating in the background
                    hb.beat("working", progress=0.3, current_task=f"{name}: draft")
                    draft = do_work(name)
                signals.signal("handoff", peer, {"from": name, "words": len(draft.split())})
                hb.beat("handing off", progress=0.7, current_task=f"wait for {peer}")
                got = signals.wait_for("handoff", timeout=60, poll=0.05)
                if got is None:
                    raise TimeoutError(f"{name}: no handoff from {peer} within 60 s")
                EventStream(store, source=name).publish("draft.ready", {
                    "agent": name, "words": len(draft.split()), "peer_words": got.payload["words"]})
                hb.beat("done", progress=1.0)
    finally:
        store.close()
        context.detach(token)
        agentkit.shutdown()
    return 0


def do_work(name: str) -> str:
    """A stand-in LLM call (no network): the span and token counts look like a real one."""
    with agentkit.llm(provider="openai", model="gpt-4o-mini", temperature=0.2) as call:
        time.sleep(0.3)
        text = f"{name} wrote three solid paragraphs about OpenTelemetry for agents."
        call.record(response_model="gpt-4o-mini-2024-07-18", input_tokens=420, output_tokens=len(text) // 4,
                    finish_reasons=["stop"])
    return text


# --- coordinator -------------------------------------------------------------------------------------------
def coordinator(args: argparse.Namespace) -> int:
    from opentelemetry import propagate, trace

    home = Path(args.home).resolve()
    store_url = args.store or f"sqlite://{home}/agents.db"
    agentkit.init(service_name="multi-agent-coordinator", exporters=["jsonl"], home=str(home))
    store = open_store(store_url)
    started = time.time_ns()
    procs: list[subprocess.Popen[Any]] = []
    with agentkit.workflow(name=WORKFLOW):
        trace_id = format(trace.get_current_span().get_span_context().trace_id, "032x")
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        for name, peer in (WORKERS, WORKERS[::-1]):
            procs.append(subprocess.Popen([sys.executable, __file__, "worker", name, peer, store_url, str(home),
                                           carrier["traceparent"]]))
        hb, events, signals = Heartbeats(store), EventStream(store), Signals(store, "coordinator")
        events.consume("draft.ready", block_ms=0)  # only events from now on
        wait(lambda: {a.agent_id for a in hb.active_agents()} >= set(WORKERS), 60, "both workers to beat")
        print("alive:", ", ".join(f"{a.agent_id} (pid {a.pid}, {a.status})" for a in hb.active_agents()))
        signals.broadcast("start", {"topic": "OpenTelemetry for agents"})

        drafts: list[Any] = []
        wait(lambda: drafts.extend(events.consume("draft.ready", block_ms=500)) or len(drafts) >= 2, 60,
             "both drafts")
        for e in drafts:
            print(f"event {e.id}: {e.data}")

        gate = Approvals(store, requester="coordinator")
        decision = gate.request("publish-report", {"drafts": [e.data for e in drafts]}, timeout=120,
                                on_request=lambda req: answer(req.id, home, store_url, args.auto_approve))
        print(f"approval {decision.id}: {decision.status} by {decision.responder} ({decision.reason})")

        feedback = Feedback(store)
        span_ctx = trace.get_current_span().get_span_context()
        for stage, score in (("research", 0.92), ("writing", 0.64)):
            feedback.record(WORKFLOW, stage, "medium", score, trace_id=trace_id,
                            span_id=format(span_ctx.span_id, "016x"), explanation="reviewer score")
            rec = feedback.recommend_tier(WORKFLOW, stage)
            print(f"feedback {stage}: {score} -> tier {rec.tier} ({rec.reason}; confidence {rec.confidence:.2f})")
    codes = [p.wait(timeout=60) for p in procs]
    store.close()
    agentkit.shutdown()
    return show_trace(home, trace_id, started) if codes == [0, 0] else 1


def answer(request_id: str, home: Path, store_url: str, auto: bool) -> None:
    command = [sys.executable, "-m", "otel_agentkit.cli.main", "approvals", "approve", request_id,
               "--reason", "drafts look good", "--by", "editor", "--home", str(home), "--store", store_url]
    if not auto:
        print(f"waiting for approval; from another terminal run:\n  agentkit approvals approve {request_id} "
              f"--home {home} --store {store_url}")
        return
    print("answering from the CLI:", "agentkit", *command[3:])
    subprocess.Popen(command)  # answers while the gate waits


def wait(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.05)


def show_trace(home: Path, trace_id: str, started: int) -> int:
    """Read the local telemetry back: every process's spans, and the feedback events, in one trace."""
    from otel_agentkit.export.reader import iter_requests, iter_spans

    spans = [s for s in iter_spans(home / "telemetry") if s.trace_id == trace_id and s.start_ns >= started]
    ids = {s.span_id for s in spans}
    children: dict[Any, list[Any]] = {}
    for s in spans:
        children.setdefault(s.parent_span_id if s.parent_span_id in ids else None, []).append(s)

    def show(span: Any, depth: int) -> None:
        service = span.resource.get("service.name", "?")
        notes = sorted({name for name, _, _ in span.events})
        if "agentkit.approval.outcome" in span.attributes:
            notes.append(f"outcome={span.attributes['agentkit.approval.outcome']}")
        print(f"  {'  ' * depth}{span.name:<36} [{service}] {', '.join(notes)}")
        for child in sorted(children.get(span.span_id, []), key=lambda c: c.start_ns):
            show(child, depth + 1)

    print(f"\ntrace {trace_id} ({len(spans)} spans, {len({s.resource.get('service.name') for s in spans})} "
          f"processes):")
    for root in sorted(children.get(None, []), key=lambda s: s.start_ns):
        show(root, 0)
    events: dict[str, int] = {}
    for request in iter_requests(home / "telemetry", "logs"):
        for rl in request["resourceLogs"]:
            for sl in rl.get("scopeLogs", []):
                for rec in sl.get("logRecords", []):
                    if rec.get("traceId") == trace_id and rec.get("eventName"):
                        events[rec["eventName"]] = events.get(rec["eventName"], 0) + 1
    for name, count in sorted(events.items()):
        print(f"  + {count} {name} log record(s) on this trace")
    services = {s.resource.get("service.name") for s in spans}
    return 0 if len(services) == 3 and events.get("gen_ai.evaluation.result", 0) >= 2 else 1


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        return worker(*sys.argv[2:7])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", default=None, help="data directory (default: a new temporary directory)")
    parser.add_argument("--store", help="agent store URL (default: SQLite in the data directory)")
    parser.add_argument("--auto-approve", action="store_true",
                        help="answer the approval gate by running the agentkit CLI from this script")
    args = parser.parse_args()
    args.home = args.home or tempfile.mkdtemp(prefix="agentkit-multi-")
    print(f"data directory: {args.home}")
    return coordinator(args)


if __name__ == "__main__":
    sys.exit(main())
