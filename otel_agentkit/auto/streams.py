"""Traced stand-ins for the client libraries' streams (openai and anthropic ``Stream`` / ``AsyncStream``).

The span of a streamed call stays open until the stream is exhausted, fails, is closed, or is abandoned:
the loop that read it was left (its iterator dropped) or the stream itself was garbage-collected. It ends
exactly once. Each item is timed (time to first chunk, intervals) and read for usage, ids, finish reasons
and tool calls; the proxies (shared with the decorators, in ``instrument.deferred``) keep ``isinstance``
and every other attribute of the real stream.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import diagnostics
from ..instrument import responses
from ..instrument.deferred import TracedAsyncStream, TracedStream

__all__ = ["HeldAsyncStream", "HeldStream", "StreamState", "TracedAsyncStream", "TracedStream", "feed_fields",
           "traced_stream"]

if TYPE_CHECKING:
    from ..instrument.invocation import Invocation
    from .calls import Call


def feed_fields(inv: Invocation, item: Any) -> None:
    """Usage, ids and finish reasons from a stream item, without counting it as a chunk."""
    if responses.has_usage(item):
        for field, value in responses.parse(item).as_record().items():
            if value is not None and field != "output_messages":
                setattr(inv, field, value)


class StreamState:
    """What a traced stream and its iterators share: the call, the provider's accumulator, the one end."""

    __slots__ = ("call", "acc", "done")

    def __init__(self, call: Call) -> None:
        self.call = call
        self.acc = call.endpoint.accumulator(call.content)
        self.done = False

    def deliver(self, item: Any) -> bool:
        """Observe one item; False when the caller must not see it (the usage chunk we asked for)."""
        call = self.call
        try:
            acc = self.acc
            if acc.usage_only(item):  # OpenAI's extra usage chunk: usage, not an output chunk
                feed_fields(call.inv, item)
                return not call.swallow
            if call.timing:
                call.inv.observe_chunk(None)  # time and count it; usage is read below, where the provider puts it
            if acc.has_usage(item):
                feed_fields(call.inv, item)
            acc.add(item)
        except Exception as exc:
            diagnostics.report("auto.stream.chunk", exc)
        return True

    def finish(self, exc: BaseException | None = None) -> None:
        if self.done:
            return
        self.done = True
        call = self.call
        if not call.own and call.inv._ended:  # nothing left to feed: say so rather than lose it quietly
            diagnostics.report("auto.stream.late", RuntimeError(
                f"a {call.inv.name!r} stream ended after the agentkit span it feeds; its usage is not recorded "
                "(read the stream inside that span, or return the stream itself from the decorated function)"))
            return
        try:
            self.acc.apply(call.inv)
        except Exception as sdk_exc:
            diagnostics.report("auto.stream.end", sdk_exc)
        if exc is not None:
            call.fail(exc)
        elif call.own:
            call.inv.end()


class HeldStream(TracedStream):
    """A traced stream whose span follows the stream, not a loop over it: for a caller that reads one stream
    in several loops (LiteLLM's stream wrapper leaves an ``async for`` after each chunk and starts another for
    the next), so leaving a loop is not the end. It ends exhausted, failed, closed or garbage-collected."""

    def __iter__(self) -> HeldStream:
        return self


class HeldAsyncStream(TracedAsyncStream):
    """The async twin of :class:`HeldStream`."""

    def __aiter__(self) -> HeldAsyncStream:
        return self


def traced_stream(stream: Any, state: StreamState, sync: bool) -> Any:
    """The traced stand-in for a client stream: held (see :class:`HeldStream`) when the call's endpoint says
    its streams are read by a framework that owns them."""
    if state.call.endpoint.held_streams:
        return HeldStream(stream, state) if sync else HeldAsyncStream(stream, state)
    return TracedStream(stream, state) if sync else TracedAsyncStream(stream, state)
