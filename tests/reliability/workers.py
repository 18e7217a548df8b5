"""Programs the process tests run in fresh interpreters: ``python -m tests.reliability.workers SCENARIO HOME``.

Each prints one JSON line (what it made) on stdout. A fresh interpreter per scenario keeps fork and the
global providers away from the pytest process. The SDK is started the way an application starts it: at
import of its main module (``RELIABILITY_INIT=1``), so spawned children, which import that module again,
start it too.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import sys
from pathlib import Path
from typing import Any

import otel_agentkit as agentkit

if os.environ.get("RELIABILITY_INIT") == "1":  # the application's own start-up, run again in spawned children
    agentkit.init(service_name="reliability-workers", exporters=["jsonl"], home=os.environ["AGENTKIT_HOME"])

SPANS_PER_TASK = 5


@agentkit.tool(name="work")
def work(i: int) -> int:
    return i


@agentkit.agent(name="worker")
def agent_step() -> None:
    for i in range(SPANS_PER_TASK - 1):
        work(i)


def task(label: str) -> str:
    """One task: an agent span and SPANS_PER_TASK - 1 tool spans, each carrying ``agentkit.task=label``.

    A plain function: it is what multiprocessing pickles (by name) to send to its workers."""
    with agentkit.attributes(task=label):
        agent_step()
    return label


def made(labels: list[str]) -> dict[str, int]:
    return {label: SPANS_PER_TASK for label in labels}


# --- scenarios ---------------------------------------------------------------------------------------------------
def fork_children() -> dict[str, int]:
    """os.fork(): one child exits normally (atexit), one flushes and leaves with os._exit."""
    labels = ["parent-before"]
    task("parent-before")
    children = []
    for how in ("exit", "flush-and-_exit"):
        label = f"child-{how}"
        labels.append(label)
        pid = os.fork()
        if pid == 0:  # the child
            code = 0
            try:
                task(label)
                if how == "flush-and-_exit":
                    agentkit.flush()
            except BaseException:
                code = 1
            if how == "exit":
                sys.exit(code)
            os._exit(code)
        children.append(pid)
    for pid in children:
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    task("parent-after")
    labels.append("parent-after")
    return made(labels)


def _pool(method: str) -> dict[str, int]:
    labels = [f"{method}-pool-{i}" for i in range(6)]
    pool = mp.get_context(method).Pool(3)
    try:
        assert pool.map(task, labels) == labels
    finally:
        pool.close()
        pool.join()
    return made(labels)


def _processes(method: str) -> dict[str, int]:
    ctx = mp.get_context(method)
    labels = [f"{method}-process-{i}" for i in range(3)]
    procs = [ctx.Process(target=task, args=(label,)) for label in labels]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0, p.exitcode
    return made(labels)


SCENARIOS = {
    "fork": fork_children,
    "mp-fork-pool": lambda: _pool("fork"),
    "mp-fork-process": lambda: _processes("fork"),
    "mp-spawn-pool": lambda: _pool("spawn"),
    "mp-spawn-process": lambda: _processes("spawn"),
}


# --- concurrent writers ------------------------------------------------------------------------------------------
def write_concurrently(directory: str, writer: int, batches: int, max_bytes: int) -> dict[str, Any]:
    """Many batches of fat spans through a JSONL exporter that rotates every ``max_bytes``."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    from otel_agentkit.export.jsonl import JsonlSpanExporter

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(JsonlSpanExporter(directory, max_bytes=max_bytes)))
    tracer = provider.get_tracer("writers")
    ids = []
    for b in range(batches):
        with tracer.start_as_current_span(f"writer-{writer}-{b}", attributes={
                "payload": "x" * (500 + 37 * (b % 50)), "writer": writer}) as span:
            ids.append(format(span.get_span_context().span_id, "016x"))
    provider.shutdown()
    return {"ids": ids}


def main(argv: list[str]) -> int:
    scenario = argv[0]
    if scenario == "write":
        print(json.dumps(write_concurrently(argv[1], int(argv[2]), int(argv[3]), int(argv[4]))))
        return 0
    result = SCENARIOS[scenario]()
    agentkit.shutdown()
    print(json.dumps({"made": result, "pid": os.getpid(), "home": str(Path(os.environ["AGENTKIT_HOME"]))}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
