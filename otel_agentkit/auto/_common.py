"""What the openai and anthropic instrumentors share: small readers of request values, patching that can
be undone exactly, and the instrumentor base (version check, the recorder, unpatching).
"""

from __future__ import annotations

import functools
import importlib
import logging
import weakref
from dataclasses import dataclass
from typing import Any, Callable, Collection, Iterable
from urllib.parse import urlsplit

import wrapt
from opentelemetry import context as otel_context
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor

from .. import diagnostics
from ..instrument import telemetry as _state
from ..instrument.responses import get_field

logger = logging.getLogger("otel_agentkit.auto")

# Set in the context while an instrumented call runs: a second wrapper of the same call (two agentkit
# instrumentors, or our own two layers) sees it and stays out; the anthropic client's own span is suppressed.
AUTO_KEY = otel_context.create_key("agentkit-auto-call")
# The ``owner`` of the invocations this package starts (a user's ``with agentkit.llm`` has its Operation).
AUTO_OWNER = object()

_SENTINELS = frozenset({"NotGiven", "Omit"})
RAW_RESPONSE_HEADER = "X-Stainless-Raw-Response"  # set by with_raw_response / with_streaming_response


def given(value: Any) -> bool:
    """False for None and for the client libraries' ``NOT_GIVEN`` / ``omit`` sentinels."""
    return value is not None and type(value).__name__ not in _SENTINELS


def number(value: Any) -> int | float | None:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


get = get_field  # a field of a response object, or a key of a dict shaped like one


_servers: weakref.WeakKeyDictionary[Any, tuple[Any, tuple[str | None, int | None]]] = weakref.WeakKeyDictionary()


@functools.lru_cache(maxsize=64)
def url_server(url: str) -> tuple[str | None, int | None]:
    """``server.address`` and ``server.port`` of a base URL given as a string (port from the scheme if
    implicit)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None, None
    if not parts.hostname:
        return None, None
    return parts.hostname, port if port is not None else {"https": 443, "http": 80}.get(parts.scheme)


def server_of(client: Any) -> tuple[str | None, int | None]:
    """``server.address`` and ``server.port`` from a client's base URL (port from the scheme if implicit);
    remembered per client while its base URL stays the same object."""
    # The clients keep the URL in ``_base_url``; openai's ``base_url`` property costs an import and a call
    # each time, so the attribute is read first and the property only where it is missing.
    fields = getattr(client, "__dict__", None)
    url = fields.get("_base_url") if fields else None
    if url is None:
        url = getattr(client, "base_url", None)
    try:
        known = _servers.get(client)
    except TypeError:  # not weak-referenceable
        known = None
    if known is not None and known[0] is url:
        return known[1]
    host = getattr(url, "host", None)
    if not host:
        found: tuple[str | None, int | None] = (None, None)
    else:
        port = getattr(url, "port", None)
        if port is None:
            port = {"https": 443, "http": 80}.get(getattr(url, "scheme", ""))
        found = (str(host), port)
    try:
        _servers[client] = (url, found)
    except TypeError:
        pass
    return found


def listed(value: Any) -> list[Any] | None:
    """``value`` as a list when it is a list or tuple: iterators are never consumed (the call needs them)."""
    return list(value) if isinstance(value, (list, tuple)) else None


# --- patching -------------------------------------------------------------------------------------------------
@dataclass
class Patch:
    """One method replaced by a wrapper; ``enabled`` is cleared when it cannot be taken out (see unpatch)."""

    owner: type
    name: str
    original: Any
    installed: Any
    enabled: bool = True


def resolve(path: str) -> Any:
    """``package.module:Class`` (or ``package.module``) to the object, or None if it does not exist."""
    module_name, _, attr = path.partition(":")
    try:
        obj = importlib.import_module(module_name)
        for part in attr.split(".") if attr else ():
            obj = getattr(obj, part)
        return obj
    except (ImportError, AttributeError):
        return None


def patch(owner: type, name: str, make_wrapper: Callable[[Patch], Callable[..., Any]]) -> Patch | None:
    """Replace ``owner.name`` with a wrapt FunctionWrapper; None when ``owner`` has no such method."""
    original = owner.__dict__.get(name)
    if original is None or not callable(original):
        return None
    record = Patch(owner, name, original, None)
    record.installed = wrapt.FunctionWrapper(original, make_wrapper(record))
    setattr(owner, name, record.installed)
    return record


def unpatch(record: Patch) -> None:
    """Put the original back, exactly; if someone wrapped over us meanwhile, switch ours off instead, so
    that taking ours out never removes theirs."""
    record.enabled = False
    if record.owner.__dict__.get(record.name) is record.installed:
        setattr(record.owner, record.name, record.original)
    else:
        logger.warning("otel_agentkit: %s.%s was wrapped again after agentkit instrumented it; the agentkit "
                       "wrapper stays in place, switched off",
                       getattr(record.owner, "__qualname__", getattr(record.owner, "__name__", record.owner)),
                       record.name)


# --- the instrumentor base --------------------------------------------------------------------------------------
def installed_version(distribution: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def version_supported(version: str, requirement: str) -> bool:
    from packaging.requirements import Requirement
    from packaging.version import InvalidVersion, Version

    try:
        return Requirement(requirement).specifier.contains(Version(version), prereleases=True)
    except InvalidVersion:
        return False


class AutoInstrumentor(BaseInstrumentor):
    """Shared ``_instrument`` / ``_uninstrument``: version check, the recorder, and exact unpatching.

    Subclasses give ``library`` (the distribution), ``requirement`` and ``_patch_all`` (the patches made).
    An installed version outside ``requirement`` gets one warning naming it, and nothing is patched.
    """

    library = ""
    requirement = ""

    def __init__(self) -> None:
        if not hasattr(self, "_patches"):  # the base class makes one instance per class: keep its state
            self._patches: list[Patch] = []
            self._patches_in_progress: list[Patch] = []

    def instrumentation_dependencies(self) -> Collection[str]:
        return (self.requirement,)

    def _check_dependency_conflicts(self) -> Any:
        # A missing library is the base class's business (opentelemetry-instrument skips it quietly); a
        # wrong version is ours: _instrument warns with the version and patches nothing.
        if installed_version(self.library) is None:
            return super()._check_dependency_conflicts()
        return None

    def _instrument(self, **kwargs: Any) -> None:
        version = installed_version(self.library)
        if version is None:  # opentelemetry-instrument loads every instrumentor: a missing library is normal
            logger.debug("otel_agentkit: %s is not installed; %s patches nothing", self.library,
                         type(self).__name__)
            return
        if not version_supported(version, self.requirement):
            logger.warning("otel_agentkit: %s %s is not supported by %s (needs %s); nothing was instrumented",
                           self.library, version, type(self).__name__, self.requirement)
            return
        if _state.active is None:
            from ..instrument.telemetry import ensure_telemetry

            ensure_telemetry(tracer_provider=kwargs.get("tracer_provider"),
                             meter_provider=kwargs.get("meter_provider"),
                             logger_provider=kwargs.get("logger_provider"))
        self._patches_in_progress = []
        try:
            patches = self._patch_all(**kwargs)
        except Exception as exc:  # an API shape we did not expect: undo what was done, never crash
            diagnostics.report(f"auto.{self.library}.instrument", exc)
            for record in reversed(self._patches_in_progress):
                unpatch(record)
            patches = []
        if not patches:
            logger.warning("otel_agentkit: %s %s has none of the methods %s patches; nothing was instrumented",
                           self.library, version, type(self).__name__)
        self._patches = patches

    def _uninstrument(self, **kwargs: Any) -> None:
        for record in reversed(self._patches):
            unpatch(record)
        self._patches = []

    def _patch_all(self, **kwargs: Any) -> list[Patch]:
        raise NotImplementedError

    def _apply(self, targets: Iterable[tuple[str, str, Callable[[Patch], Callable[..., Any]]]]) -> list[Patch]:
        """Patch each ``(class path, method, wrapper factory)`` that exists in the installed version."""
        done: list[Patch] = []
        for path, method, factory in targets:
            owner = resolve(path)
            if owner is None:
                logger.debug("otel_agentkit: %s not found; not instrumented", path)
                continue
            record = patch(owner, method, factory)
            if record is not None:
                done.append(record)
                self._patches_in_progress.append(record)
        return done
