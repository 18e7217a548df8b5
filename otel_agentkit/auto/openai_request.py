"""Model calls that reach the openai client's one ``request`` method without passing a resource method of
ours: ``client.post("/chat/completions", body=..., cast_to=..., stream=...)`` (how LiteLLM sends chat
completions, and embeddings without ``encoding_format``), and resource methods bound before the instrumentor
was switched on (a client's ``with_raw_response`` keeps the methods it first saw; instructor keeps
``create``).

Every ``post`` / ``get`` / ... of ``OpenAI`` and ``AsyncOpenAI`` goes through ``SyncAPIClient.request`` /
``AsyncAPIClient.request``, looked up on the class at call time, so patching those two catches each request
whoever made it. Only POSTs to the model paths are traced (chat completions, the Responses API, embeddings),
read from the request body with the same endpoints as the resource methods; the result (parsed model,
``Stream`` / ``AsyncStream``, raw response) goes through the same ``Call``, so usage, streams ending once,
errors and suppression behave the same. A request made inside a resource method of ours (``AUTO_KEY`` is
set) is left alone: that method's span is the one. Nothing is added to the request here (no
``include_usage``: the caller of ``post`` gets the stream it asked for, byte for byte). A stream got this way
is held (``streams.HeldStream``): its span ends when the stream is exhausted, fails, is closed or dropped, not
when a loop over it is left, since the frameworks that post themselves read one stream in many loops.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from opentelemetry import context as otel_context

from .. import diagnostics
from ..instrument import telemetry as _state
from ._common import AUTO_KEY, Patch
from .calls import Endpoint, begin, run_async, run_sync

_get_value = otel_context.get_value


class _ClientView:
    """What the endpoints read the client from (a resource's ``_client``), for a call made on the client."""

    __slots__ = ("_client",)

    def __init__(self, client: Any) -> None:
        self._client = client


def _path(url: Any) -> str | None:
    """The request path as the model paths are keyed: one leading slash, no query, no trailing slash."""
    if not isinstance(url, str) or "://" in url:  # an absolute URL is not a call to the client's API
        return None
    return "/" + url.partition("?")[0].strip("/")


def _model_call(paths: Mapping[str, Endpoint], instance: Any, args: tuple, kwargs: Mapping[str, Any]
                ) -> tuple[Endpoint, Any, dict[str, Any]] | None:
    """(endpoint, client view, request view) for a POST to a model path, else None.

    The request view is what a resource method would have been called with: the JSON body (with
    ``extra_body``, which the client merges into it), the headers as ``extra_headers`` (a raw-response
    marker there says how the result comes back), and ``stream`` as the client will treat the response."""
    try:
        return _read(paths, instance, args, kwargs)
    except Exception as exc:  # an options shape we did not expect: the request goes out untraced
        diagnostics.report("auto.openai.request", exc)
        return None


def _read(paths: Mapping[str, Endpoint], instance: Any, args: tuple, kwargs: Mapping[str, Any]
          ) -> tuple[Endpoint, Any, dict[str, Any]] | None:
    options = args[1] if len(args) > 1 else kwargs.get("options")
    method = getattr(options, "method", None)
    if not isinstance(method, str) or method.lower() != "post":
        return None
    endpoint = paths.get(_path(getattr(options, "url", None)) or "")
    if endpoint is None:
        return None
    body = getattr(options, "json_data", None)
    view: dict[str, Any] = dict(body) if isinstance(body, Mapping) else {}
    extra = getattr(options, "extra_json", None)
    if isinstance(extra, Mapping):
        view.update(extra)
    headers = getattr(options, "headers", None)
    view["extra_headers"] = headers if isinstance(headers, Mapping) else None
    view["stream"] = kwargs.get("stream") is True
    return endpoint, _ClientView(instance), view


def sync_request_wrapper(paths: Mapping[str, Endpoint]) -> Callable[[Patch], Callable[..., Any]]:
    """The wrapt wrapper factory for ``SyncAPIClient.request``; a request inside a call of ours costs one
    context read."""
    def factory(record: Patch) -> Callable[..., Any]:
        def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
            tel = _state.active
            if tel is None or not record.enabled or _get_value(AUTO_KEY) is not None:
                return wrapped(*args, **kwargs)
            found = _model_call(paths, instance, args, kwargs)
            call = begin(tel, *found) if found is not None else None
            if call is None:
                return wrapped(*args, **kwargs)
            return run_sync(call, wrapped, args, kwargs)  # the request as the caller made it (call.kwargs is a view)

        return wrapper

    return factory


def async_request_wrapper(paths: Mapping[str, Endpoint]) -> Callable[[Patch], Callable[..., Any]]:
    """The wrapt wrapper factory for ``AsyncAPIClient.request`` (``async def``): the span starts when awaited."""
    def factory(record: Patch) -> Callable[..., Any]:
        def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
            if _state.active is None or not record.enabled or _get_value(AUTO_KEY) is not None:
                return wrapped(*args, **kwargs)
            found = _model_call(paths, instance, args, kwargs)
            if found is None:
                return wrapped(*args, **kwargs)

            async def run() -> Any:
                tel = _state.active
                call = begin(tel, *found) if tel is not None else None
                if call is None:
                    return await wrapped(*args, **kwargs)
                return await run_async(call, wrapped, args, kwargs)

            return run()

        return wrapper

    return factory
