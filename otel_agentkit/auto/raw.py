"""Raw responses of the openai and anthropic clients (``with_raw_response`` / ``with_streaming_response``):
the span ends when the caller is done with the body, not when the call returns.

The client hands back a response object whose body may not be read yet: a streamed call (``stream=True``),
or any call made through ``with_streaming_response``. The caller reads it later, through ``parse()``
(a ``Stream`` for a streamed call, the response model otherwise), ``read()`` / ``json()`` / ``text()``, or
the raw bytes. So the caller gets a transparent stand-in (``isinstance``, ``headers``, ``http_response``
and every other attribute reach the real object) that:

- wraps the stream ``parse()`` gives in the same traced stream as ``create(stream=True)`` gets (the same
  one each time ``parse()`` is called); the span then ends with the stream, with the usage of its events;
- reads a body that ``parse()`` / ``read()`` / ``json()`` / ``text()`` delivered, and ends the span there;
- ends the span when the response is closed (``with_streaming_response`` 's block exits) or dropped.

Nothing is added to such a request (openai's ``include_usage`` would put a chunk into bytes the caller may
read), so a stream read as raw bytes records what it gives: the events read through the response's
``iter_lines()`` are read like a parsed stream's (usage too, when the caller asked for it); bytes read any
other way (``iter_bytes()``, ``http_response``) give the span its duration only.

A body the client already read (``with_raw_response`` without ``stream``) is read at once, through the
response's own cached ``parse()`` (sync) or its JSON (async ``parse()``), and the span ends at return.
"""

from __future__ import annotations

import inspect
import json
from typing import TYPE_CHECKING, Any, AsyncIterator, Iterator, Mapping

import wrapt

from .. import diagnostics
from ._common import RAW_RESPONSE_HEADER
from .streams import StreamState, traced_stream

if TYPE_CHECKING:
    from .calls import Call

_async_parse: dict[type, bool] = {}


def raw_mode(kwargs: Mapping[str, Any]) -> str | None:
    """The client's raw-response marker on a request ("raw" / "true": body read; "stream": body unread)."""
    headers = kwargs.get("extra_headers")
    if isinstance(headers, Mapping):
        mode = headers.get(RAW_RESPONSE_HEADER)
        return mode if isinstance(mode, str) else None
    return None


def _is_sse(result: Any, kwargs: Mapping[str, Any]) -> bool:
    fields = getattr(result, "__dict__", None) or {}
    for name in ("_is_sse_stream", "_stream"):  # the name differs across client versions
        value = fields.get(name)
        if isinstance(value, bool):
            return value
    return kwargs.get("stream") is True


def _parse_is_async(cls: type) -> bool:
    known = _async_parse.get(cls)
    if known is None:
        known = _async_parse[cls] = inspect.iscoroutinefunction(getattr(cls, "parse", None))
    return known


def follow_raw(call: Call, result: Any) -> Any:
    """Record a raw response: read now if the client already read its body, else hand back a stand-in."""
    try:
        sse = _is_sse(result, call.kwargs)
        async_parse = _parse_is_async(type(result))
        if not sse and raw_mode(call.kwargs) != "stream":
            body = None
            if not async_parse:
                try:
                    body = result.parse()  # cached: the caller's parse() gets this very object
                except Exception:  # the caller meets this error in their own parse(); the JSON still tells
                    body = None
            if body is None:
                body = _json_body(result)
            _observe(call, body)
            _end(call)
            return result
        if async_parse:
            return TracedAsyncRawResponse(result, _RawState(call, sse))
        if callable(getattr(type(result), "close", None)):
            return TracedRawResponse(result, _RawState(call, sse))
        return TracedLegacyRawResponse(result, _RawState(call, sse))
    except Exception as exc:
        diagnostics.report("auto.raw", exc)
        _end(call)
        return result


def _json_body(result: Any) -> Any:
    """The JSON of a body that was read (None if it was not, or is not JSON): never reads from the network."""
    try:
        return result.http_response.json()  # raises ResponseNotRead for a body still unread
    except Exception:
        return None


def _observe(call: Call, body: Any) -> None:
    if body is None:
        return
    try:
        call.inv.observe_response(body)
        call.endpoint.after(call.inv, body)
    except Exception as exc:
        diagnostics.report("auto.response", exc)


def _end(call: Call, exc: BaseException | None = None) -> None:
    if exc is not None:
        call.fail(exc)
    elif call.own:
        call.inv.end()


class _RawState:
    """One raw response's record: its body, or the stream parsed from it, and the one end."""

    __slots__ = ("call", "sse", "done", "stream", "source")

    def __init__(self, call: Call, sse: bool) -> None:
        self.call = call
        self.sse = sse
        self.done = False
        self.stream: StreamState | None = None  # set once parse() gave a stream: that stream ends the record
        self.source: tuple[Any, Any] | None = None  # (the client's stream, our stand-in for it)

    def parsed(self, response: Any, value: Any) -> Any:
        """What ``parse()`` returned: a stream gets the traced stand-in (the same one every time); a body
        is read and the record ends."""
        source = self.source
        if source is not None and source[0] is value:
            return source[1]
        if self.done or self.stream is not None:
            return value
        try:
            endpoint = self.call.endpoint
            sync = endpoint.is_stream(value)
            if sync or endpoint.is_async_stream(value):
                state = self.stream = StreamState(self.call)
                traced = traced_stream(value, state, sync)
                self.source = (value, traced)
                return traced
        except Exception as exc:
            diagnostics.report("auto.raw.parse", exc)
            return value
        self._settle(value)
        return value

    def lines(self) -> StreamState | None:
        """A stream read as SSE lines (``iter_lines()``): the state its events are fed to, or None."""
        if not self.sse or self.done or self.source is not None:
            return None
        if self.stream is None:
            self.stream = StreamState(self.call)
        return self.stream

    def read(self, response: Any) -> None:
        """The body was read as bytes, text or JSON: a plain body is read too, and the record ends."""
        if not self.done and self.stream is None:
            self._settle(None if self.sse else _json_body(response))

    def failed(self, exc: BaseException) -> None:
        """Reading the body failed (the exception goes on to the caller unchanged)."""
        if self.stream is not None:
            self.stream.finish(exc)
        elif not self.done:
            self.done = True
            if not self._late():
                _end(self.call, exc)

    def closed(self, response: Any) -> None:
        """Closed or dropped: a parsed stream ends (once); otherwise the record ends with what is known
        (a plain body the caller read straight from ``http_response`` included)."""
        if self.stream is not None:
            self.stream.finish()
        elif not self.done:
            self._settle(None if self.sse else _json_body(response))

    def _settle(self, body: Any) -> None:
        self.done = True
        if not self._late():
            _observe(self.call, body)
            _end(self.call)

    def _late(self) -> bool:
        call = self.call
        if not call.own and call.inv._ended:  # the user's span it feeds is over: say so, do not lose it quietly
            diagnostics.report("auto.raw.late", RuntimeError(
                f"a {call.inv.name!r} raw response was read after the agentkit span it feeds ended; what it "
                "tells is not recorded (read it inside that span)"))
            return True
        return False


class _TracedRaw(wrapt.ObjectProxy):  # type: ignore[misc]
    def __init__(self, wrapped: Any, state: _RawState) -> None:
        super().__init__(wrapped)
        self._self_state = state

    def __del__(self) -> None:
        state = getattr(self, "_self_state", None)
        if state is not None and state.stream is None and not state.done:  # a parsed stream ends itself
            try:
                state.closed(self.__wrapped__)
            except Exception:  # a finaliser must never raise
                pass


class TracedLegacyRawResponse(_TracedRaw):
    """openai's ``LegacyAPIResponse`` (``with_raw_response``, sync and async clients): a sync ``parse()``."""

    def parse(self, *args: Any, **kwargs: Any) -> Any:
        try:
            value = self.__wrapped__.parse(*args, **kwargs)
        except BaseException as exc:
            self._self_state.failed(exc)
            raise
        return self._self_state.parsed(self.__wrapped__, value)


def _reader(name: str) -> Any:
    def read(self: _TracedRaw, *args: Any, **kwargs: Any) -> Any:
        try:
            value = getattr(self.__wrapped__, name)(*args, **kwargs)
        except BaseException as exc:
            self._self_state.failed(exc)
            raise
        self._self_state.read(self.__wrapped__)
        return value

    read.__name__ = name
    return read


def _async_reader(name: str) -> Any:
    async def read(self: _TracedRaw, *args: Any, **kwargs: Any) -> Any:
        try:
            value = await getattr(self.__wrapped__, name)(*args, **kwargs)
        except BaseException as exc:
            self._self_state.failed(exc)
            raise
        self._self_state.read(self.__wrapped__)
        return value

    read.__name__ = name
    return read


def _event(state: StreamState, line: str) -> None:
    """Feed one SSE line's event (a ``data:`` line with JSON) to the stream's record."""
    if line.startswith("data:"):
        data = line[5:].strip()
        if data and data[0] == "{":
            try:
                state.deliver(json.loads(data))
            except Exception as exc:
                diagnostics.report("auto.raw.line", exc)


class TracedRawResponse(TracedLegacyRawResponse):
    """A sync ``APIResponse`` (``with_streaming_response``; anthropic's ``with_raw_response``)."""

    read = _reader("read")
    text = _reader("text")
    json = _reader("json")

    def iter_lines(self) -> Iterator[str]:
        state = self._self_state.lines()
        lines = self.__wrapped__.iter_lines()
        if state is None:
            yield from lines
            return
        error: BaseException | None = None
        try:
            for line in lines:
                _event(state, line)
                yield line
        except GeneratorExit:
            raise
        except BaseException as exc:
            error = exc
            raise
        finally:
            state.finish(error)

    def close(self) -> None:
        try:
            self.__wrapped__.close()
        finally:
            self._self_state.closed(self.__wrapped__)


class TracedAsyncRawResponse(_TracedRaw):
    """An ``AsyncAPIResponse``: ``parse()``, ``read()``, ``text()``, ``json()`` and ``close()`` are coroutines."""

    async def parse(self, *args: Any, **kwargs: Any) -> Any:
        try:
            value = await self.__wrapped__.parse(*args, **kwargs)
        except BaseException as exc:
            self._self_state.failed(exc)
            raise
        return self._self_state.parsed(self.__wrapped__, value)

    read = _async_reader("read")
    text = _async_reader("text")
    json = _async_reader("json")

    async def iter_lines(self) -> AsyncIterator[str]:
        state = self._self_state.lines()
        error: BaseException | None = None
        try:
            async for line in self.__wrapped__.iter_lines():
                if state is not None:
                    _event(state, line)
                yield line
        except GeneratorExit:
            raise
        except BaseException as exc:
            error = exc
            raise
        finally:
            if state is not None:
                state.finish(error)

    async def close(self) -> None:
        try:
            await self.__wrapped__.close()
        finally:
            self._self_state.closed(self.__wrapped__)
