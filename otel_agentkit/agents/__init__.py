"""Multi-agent operations: heartbeats, event streams, coordination signals, feedback and approval gates.

All five share one state store (:func:`open_store`: SQLite by default, ``redis://`` for several hosts) and
report through OpenTelemetry, so they show up in the same traces as the LLM calls::

    store = open_store("redis://127.0.0.1:6379/0")      # or None: SQLite at <home>/agents.db
    with Heartbeats(store).start("worker-1", {"role": "summarizer"}) as hb:
        hb.beat("working", progress=0.5, current_task="chapter 3")
"""

from __future__ import annotations

from .approvals import ApprovalError, ApprovalRequest, ApprovalResult, Approvals
from .events import Event, EventStream
from .feedback import Feedback, Quality, Recommendation, StageQuality
from .heartbeats import TERMINAL_STATUSES, AgentStatus, Heartbeat, Heartbeats
from .signals import BROADCAST, Signal, Signals
from .store import ENV_AGENT_STORE, StateStore, StoreError, StreamInfo, open_store
from .telemetry import Telemetry

__all__ = [
    "BROADCAST",
    "ENV_AGENT_STORE",
    "TERMINAL_STATUSES",
    "AgentStatus",
    "ApprovalError",
    "ApprovalRequest",
    "ApprovalResult",
    "Approvals",
    "Event",
    "EventStream",
    "Feedback",
    "Heartbeat",
    "Heartbeats",
    "Quality",
    "Recommendation",
    "Signal",
    "Signals",
    "StageQuality",
    "StateStore",
    "StoreError",
    "StreamInfo",
    "Telemetry",
    "open_store",
]
