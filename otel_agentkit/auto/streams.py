"""Traced stand-ins for the client libraries' streams (openai and anthropic ``Stream`` / ``AsyncStream``).

The span of a streamed call stays open until the stream is exhausted, fails, is closed, or is abandoned:
the loop that read it was left (its iterator dropped) or the stream itself was garbage-collected. It ends
exactly once. Each item is timed (time to first chunk, intervals) and read for usage, ids, finish reasons
and tool calls; the proxies keep ``isinstance`` and every other attribute of the real stream.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import wrapt

from .. import diagnostics
from ..instrument import responses

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
        try:
            self.acc.apply(call.inv)
        except Exception as sdk_exc:
            diagnostics.report("auto.stream.end", sdk_exc)
        if exc is not None:
            call.fail(exc)
        elif call.own:
            call.inv.end()


def _next(state: StreamState, stream: Any) -> Any:
    while True:
        try:
            item = stream.__next__()
        except StopIteration:
            state.finish()
            raise
        except BaseException as exc:
            state.finish(exc)
            raise
        if state.deliver(item):
            return item


async def _anext(state: StreamState, stream: Any) -> Any:
    while True:
        try:
            item = await stream.__anext__()
        except StopAsyncIteration:
            state.finish()
            raise
        except BaseException as exc:
            state.finish(exc)
            raise
        if state.deliver(item):
            return item


def _abandon(state: StreamState | None) -> None:
    if state is not None and not state.done:
        try:
            state.finish()
        except Exception:  # a finaliser must never raise (interpreter shutdown included)
            pass


class _Iter:
    """The iterator a ``for`` loop holds: dropping it (``break``) ends the span."""

    __slots__ = ("_proxy",)

    def __init__(self, proxy: TracedStream) -> None:
        self._proxy = proxy  # keeps the stream alive while the loop runs

    def __iter__(self) -> _Iter:
        return self

    def __next__(self) -> Any:
        proxy = self._proxy
        return _next(proxy._self_state, proxy.__wrapped__)

    def __del__(self) -> None:
        _abandon(getattr(getattr(self, "_proxy", None), "_self_state", None))


class _AsyncIter:
    """The async twin of :class:`_Iter` (``async for`` ... ``break``)."""

    __slots__ = ("_proxy",)

    def __init__(self, proxy: TracedAsyncStream) -> None:
        self._proxy = proxy

    def __aiter__(self) -> _AsyncIter:
        return self

    async def __anext__(self) -> Any:
        proxy = self._proxy
        return await _anext(proxy._self_state, proxy.__wrapped__)

    def __del__(self) -> None:
        _abandon(getattr(getattr(self, "_proxy", None), "_self_state", None))


class TracedStream(wrapt.ObjectProxy):  # type: ignore[misc]
    """A sync stream that ends its call's span when it is used up, fails, is closed or dropped."""

    def __init__(self, wrapped: Any, state: StreamState) -> None:
        super().__init__(wrapped)
        self._self_state = state

    def __iter__(self) -> _Iter:
        return _Iter(self)

    def __next__(self) -> Any:
        return _next(self._self_state, self.__wrapped__)

    def __enter__(self) -> TracedStream:
        self.__wrapped__.__enter__()
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        try:
            return self.__wrapped__.__exit__(exc_type, exc, tb)
        finally:
            self._self_state.finish()

    def close(self) -> None:
        try:
            self.__wrapped__.close()
        finally:
            self._self_state.finish()

    def __del__(self) -> None:
        _abandon(getattr(self, "_self_state", None))


class TracedAsyncStream(wrapt.ObjectProxy):  # type: ignore[misc]
    """An async stream that ends its call's span when it is used up, fails, is closed or dropped."""

    def __init__(self, wrapped: Any, state: StreamState) -> None:
        super().__init__(wrapped)
        self._self_state = state

    def __aiter__(self) -> _AsyncIter:
        return _AsyncIter(self)

    async def __anext__(self) -> Any:
        return await _anext(self._self_state, self.__wrapped__)

    async def __aenter__(self) -> TracedAsyncStream:
        await self.__wrapped__.__aenter__()
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        try:
            return await self.__wrapped__.__aexit__(exc_type, exc, tb)
        finally:
            self._self_state.finish()

    async def close(self) -> None:
        try:
            await self.__wrapped__.close()
        finally:
            self._self_state.finish()

    def __del__(self) -> None:
        _abandon(getattr(self, "_self_state", None))
