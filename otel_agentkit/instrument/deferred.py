"""Work that outlives the call that made it: streams, stream managers, async iterators and coroutines.

Two users. The auto-instrumentors hand a provider's stream back to the caller inside a :class:`TracedStream`
or :class:`TracedAsyncStream`, so that the call's span ends when the stream does. A decorated function
(``agentkit.llm`` and the others) that *returns* such work rather than doing it gets its span followed the
same way (:func:`kind_of`, :class:`Follow`): the span ends when the work finishes (exhausted, failed,
closed, left by ``break``, garbage-collected; an awaitable resolved, failed or dropped unawaited) and reads
the usage from what the work delivered, as a decorated generator does. While the work runs, the span is
current, so an instrumented client call made there feeds this span instead of starting a second one.

Only what is clearly deferred work is followed: coroutines, generators, async generators, the openai and
anthropic ``Stream`` / ``AsyncStream`` and their ``.stream()`` helpers' managers, objects with ``__anext__``
/ ``__aiter__``, and asyncio tasks and futures (through a done callback: the caller keeps the same object).
Other awaitables (a stand-in would change their type) and plain iterables are returned as they are, and the
span ends at return. The stand-ins are transparent: attributes, ``isinstance``, iteration and the context
manager protocol reach the real object.
"""

from __future__ import annotations

import sys
import types
import weakref
from typing import TYPE_CHECKING, Any, Callable, Protocol

import wrapt
from opentelemetry import context as otel_context

from .. import diagnostics

if TYPE_CHECKING:
    from .invocation import Invocation

_attach = otel_context.attach
_detach = otel_context.detach

COROUTINE, GENERATOR, ASYNC_GENERATOR, STREAM, ASYNC_ITERABLE, MANAGER, TASK = (
    "coroutine", "generator", "async_generator", "stream", "async_iterable", "manager", "task")
_PROVIDERS = frozenset({"openai", "anthropic"})
NOT_AWAITED = "NotAwaited"  # error.type of a span whose returned coroutine was dropped unawaited


# --- what a return value is -------------------------------------------------------------------------------
_kinds: dict[type, str | None] = {}


def kind_of(result: Any) -> str | None:
    """The kind of deferred work ``result`` is, or None for a finished value; remembered per class (read
    through ``__class__``, so a traced stand-in is classified as the stream it stands in for)."""
    try:
        cls = result.__class__
        return _kinds[cls]
    except KeyError:
        pass
    except Exception:  # a __class__ that raises: not ours to follow
        return None
    kind = _classify(cls)
    if len(_kinds) < 1024:
        _kinds[cls] = kind
    return kind


def _classify(cls: type) -> str | None:
    if issubclass(cls, types.CoroutineType):
        return COROUTINE
    if issubclass(cls, types.GeneratorType):
        return GENERATOR
    if issubclass(cls, types.AsyncGeneratorType):
        return ASYNC_GENERATOR
    for base in getattr(cls, "__mro__", ()):
        if getattr(base, "__module__", "").partition(".")[0] in _PROVIDERS:
            name = base.__name__
            if name in ("Stream", "AsyncStream"):
                return STREAM if name == "Stream" else ASYNC_ITERABLE
            if name.endswith("StreamManager"):
                return MANAGER
    asyncio = sys.modules.get("asyncio")  # no task can exist before asyncio is imported
    if asyncio is not None and issubclass(cls, asyncio.Future):
        return TASK  # followed by a done callback: the caller keeps the very same object
    if hasattr(cls, "__await__"):  # another awaitable (a paginator...): a stand-in would change its type
        return None
    if hasattr(cls, "__anext__") or hasattr(cls, "__aiter__"):
        return ASYNC_ITERABLE
    return None


# --- traced stand-ins for streams ------------------------------------------------------------------------
class StreamObserver(Protocol):
    """What a traced stream reports to: each item (False hides it from the caller), and the one end."""

    done: bool

    def deliver(self, item: Any) -> bool: ...

    def finish(self, exc: BaseException | None = None) -> None: ...


def _next(state: StreamObserver, source: Any) -> Any:
    while True:
        try:
            item = source.__next__()
        except StopIteration:
            state.finish()
            raise
        except BaseException as exc:
            state.finish(exc)
            raise
        if state.deliver(item):
            return item


async def _anext(state: StreamObserver, source: Any) -> Any:
    while True:
        try:
            item = await source.__anext__()
        except StopAsyncIteration:
            state.finish()
            raise
        except BaseException as exc:
            state.finish(exc)
            raise
        if state.deliver(item):
            return item


def abandon(state: StreamObserver | None) -> None:
    """End a stream's record when the stream (or the loop over it) is dropped unfinished."""
    if state is not None and not state.done:
        try:
            state.finish()
        except Exception:  # a finaliser must never raise (interpreter shutdown included)
            pass


class _Iter:
    """The iterator a ``for`` loop holds: dropping it (``break``) ends the record."""

    __slots__ = ("_proxy",)

    def __init__(self, proxy: TracedStream) -> None:
        self._proxy = proxy  # keeps the stream alive while the loop runs

    def __iter__(self) -> _Iter:
        return self

    def __next__(self) -> Any:
        proxy = self._proxy
        return _next(proxy._self_state, proxy.__wrapped__)

    def __del__(self) -> None:
        abandon(getattr(getattr(self, "_proxy", None), "_self_state", None))


class _AsyncIter:
    """The async twin of :class:`_Iter` (``async for`` ... ``break``)."""

    __slots__ = ("_proxy", "_source")

    def __init__(self, proxy: TracedAsyncStream, source: Any) -> None:
        self._proxy = proxy
        self._source = source

    def __aiter__(self) -> _AsyncIter:
        return self

    async def __anext__(self) -> Any:
        return await _anext(self._proxy._self_state, self._source)

    def __del__(self) -> None:
        abandon(getattr(getattr(self, "_proxy", None), "_self_state", None))


class TracedStream(wrapt.ObjectProxy):  # type: ignore[misc]
    """A sync stream (an iterator) that reports each item, and its end when it is used up, fails, is
    closed or dropped."""

    def __init__(self, wrapped: Any, state: StreamObserver) -> None:
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
        abandon(getattr(self, "_self_state", None))


class TracedAsyncStream(wrapt.ObjectProxy):  # type: ignore[misc]
    """An async stream or other async iterable that reports each item, and its end when it is used up,
    fails, is closed or dropped."""

    def __init__(self, wrapped: Any, state: StreamObserver) -> None:
        super().__init__(wrapped)
        self._self_state = state

    def __aiter__(self) -> _AsyncIter:
        wrapped = self.__wrapped__
        # A stream is its own iterator (read it directly, as the client's own __aiter__ does); any other
        # async iterable gives one.
        return _AsyncIter(self, wrapped if hasattr(type(wrapped), "__anext__") else wrapped.__aiter__())

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
        abandon(getattr(self, "_self_state", None))


# --- a decorated function's span, following what it returned ----------------------------------------------
class Follow:
    """The span of a decorated function whose work was returned, not done: fed by the work, ended once."""

    __slots__ = ("inv", "streams", "kind", "done", "started", "source", "opened")

    def __init__(self, inv: Invocation, streams: bool, kind: str) -> None:
        self.inv = inv
        self.streams = streams  # an inference: items are timed and read for usage
        self.kind = kind
        self.done = False
        self.started = False  # a returned generator or coroutine began to run (its own finally ends it)
        self.source: Any = None  # a returned stream (an auto-instrumented stand-in is settled first)
        self.opened: Any = None  # what a stream manager's ``__enter__`` gave

    def deliver(self, item: Any) -> bool:
        if self.streams:
            try:
                self.inv.observe_chunk(item)
            except Exception as exc:
                diagnostics.report("stream.chunk", exc)
        return True

    def finish(self, exc: BaseException | None = None) -> None:
        if self.done:
            return
        self.done = True
        inv = self.inv
        try:
            # An auto-instrumented stream under ours reads what it learned into the same span first.
            _settle_inner(self.source)
            if self.opened is not None and self.streams:  # what a helper accumulated, if its events were missed
                _read_snapshot(inv, self.opened)
        except Exception as sdk_exc:
            diagnostics.report("deferred.finish", sdk_exc)
        inv.end(exc)

    def dropped(self) -> None:
        """The returned generator or coroutine was garbage-collected without ever running."""
        if not self.started and not self.done:
            self.done = True
            try:
                if self.kind == COROUTINE:
                    self.inv.set_error_type(NOT_AWAITED)
                self.inv.end()
            except Exception:  # a finaliser must never raise
                pass

    def watch(self, work: Any) -> Any:
        """End the span if ``work`` (a generator or coroutine made to run the returned one) is dropped
        before it starts: code that never ran has no ``finally`` to end it."""
        weakref.finalize(work, self.dropped)
        return work


def _settle_inner(stream: Any) -> None:
    if isinstance(stream, (TracedStream, TracedAsyncStream)):
        abandon(stream._self_state)


def _read_snapshot(inv: Invocation, opened: Any) -> None:
    """What a stream helper accumulated (anthropic's message, openai's completion): usage and ids not yet
    known. Not there before the first event: then nothing is read."""
    for name in ("current_message_snapshot", "current_completion_snapshot"):
        try:
            snapshot = getattr(opened, name, None)
        except Exception:  # the helper asserts that a snapshot exists
            continue
        if snapshot is not None:
            inv.observe_response(snapshot)
            return


def follow_stream(follow: Follow, result: Any, async_: bool) -> Any:
    follow.source = result
    return TracedAsyncStream(result, follow) if async_ else TracedStream(result, follow)


def follow_awaitable(follow: Follow, coro: Any, settle: Callable[[Any], Any]) -> Any:
    """A coroutine that awaits ``coro`` with the span current, then ``settle`` s what it resolved to
    (which may be a stream: the span then follows that)."""
    inv = follow.inv

    async def awaited() -> Any:
        follow.started = True
        context = inv.context
        if context is None:  # ended meanwhile (never expected): just await
            return await coro
        token = _attach(context)
        try:
            result = await coro
        except GeneratorExit:  # closed while suspended: from outside its task, so no detach here
            follow.done = True
            inv.end()
            raise
        except BaseException as exc:
            _detach(token)
            follow.done = True
            inv.end(exc)
            raise
        _detach(token)
        follow.done = True
        return settle(result)

    work = awaited()
    try:  # the name Python's "never awaited" warning shows
        work.__name__, work.__qualname__ = coro.__name__, coro.__qualname__
    except Exception:
        pass
    return follow.watch(work)


def _tap(follow: Follow, opened: Any, async_: bool) -> None:
    """Put a traced stand-in under a helper's raw event stream (openai's chat and responses streams and
    anthropic's message stream keep it in ``_raw_stream`` and read every event from it, lazily), so that
    its events are timed and read for usage however the helper is consumed (``text_stream`` included)."""
    try:
        raw = getattr(opened, "_raw_stream", None)
        if raw is not None and kind_of(raw) == (ASYNC_ITERABLE if async_ else STREAM):
            follow.source = raw
            opened._raw_stream = TracedAsyncStream(raw, follow) if async_ else TracedStream(raw, follow)
    except Exception as exc:  # a helper of another shape: its snapshot is read at the end instead
        diagnostics.report("deferred.helper", exc)


def follow_task(follow: Follow, task: Any, settle: Callable[[Any], Any]) -> Any:
    """An asyncio task or future (made in the function, so it runs with the span current: a task copies the
    context it was created in): the span ends when it is done, with what it resolved to."""
    def done(fut: Any) -> None:
        follow.started = follow.done = True
        try:
            if fut.cancelled():
                follow.inv.end(sys.modules["asyncio"].CancelledError())
                return
            exc = fut.exception()
        except Exception as sdk_exc:
            diagnostics.report("deferred.task", sdk_exc)
            follow.inv.end()
            return
        if exc is not None:
            follow.inv.end(exc)
        else:
            settle(fut.result())  # the caller reads the same result: a stream in it is not followed, only read

    task.add_done_callback(done)
    return task


class FollowedManager(wrapt.ObjectProxy):  # type: ignore[misc]
    """A ``.stream()`` helper's manager: the request goes out when it is entered, with the span current;
    the span ends when its stream does, or when the manager is exited (or dropped)."""

    def __init__(self, wrapped: Any, follow: Follow) -> None:
        super().__init__(wrapped)
        self._self_follow = follow

    def _self_enter(self) -> Any:
        follow = self._self_follow
        context = follow.inv.context if not follow.done else None
        return _attach(context) if context is not None else None

    def __enter__(self) -> Any:
        follow = self._self_follow
        token = self._self_enter()
        try:
            opened = self.__wrapped__.__enter__()
        except BaseException as exc:
            if token is not None:
                _detach(token)
            follow.finish(exc)
            raise
        if token is not None:
            _detach(token)
        follow.opened = opened
        _tap(follow, opened, async_=False)
        return opened

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        try:
            return self.__wrapped__.__exit__(exc_type, exc, tb)
        finally:
            self._self_follow.finish(exc)

    async def __aenter__(self) -> Any:
        follow = self._self_follow
        token = self._self_enter()
        try:
            opened = await self.__wrapped__.__aenter__()
        except BaseException as exc:
            if token is not None:
                _detach(token)
            follow.finish(exc)
            raise
        if token is not None:
            _detach(token)
        follow.opened = opened
        _tap(follow, opened, async_=True)
        return opened

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        try:
            return await self.__wrapped__.__aexit__(exc_type, exc, tb)
        finally:
            self._self_follow.finish(exc)

    def __del__(self) -> None:
        abandon(getattr(self, "_self_follow", None))
