"""Attributes that nested spans inherit (workflow, agent, stage, tier, user, conversation, prompt).

Inherited names are the v0.1.0 ones (agentkit.workflow.name, agentkit.agent.name, gen_ai.prompt.name); the
recorder writes them under their pre-release names when the ``semconv`` setting asks for those.

They travel in the OpenTelemetry Context itself, under one key, so whatever carries OTel context (threads
via :func:`bind_context`, asyncio tasks, generators) carries them too, and every span the recorder makes
below a block gets them without joining spans later.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import hashlib
import os
import secrets
import threading
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, TypeVar

from opentelemetry import context as otel_context

from .. import diagnostics, semconv
from ..config import private_dir
from .content import MASK, is_secret_key, mask_secrets

INHERITED_KEY = otel_context.create_key("agentkit-inherited")
CURRENT_KEY = otel_context.create_key("agentkit-current-invocation")
AGENT_RUN_KEY = otel_context.create_key("agentkit-agent-run")  # the innermost agent / workflow invocation

_EMPTY: Mapping[str, Any] = {}
T = TypeVar("T")


def inherited(ctx: otel_context.Context | None = None) -> Mapping[str, Any]:
    """The inherited attributes in ``ctx`` (the current context by default)."""
    value = otel_context.get_value(INHERITED_KEY, ctx)
    return value if value is not None else _EMPTY


def with_inherited(extra: Mapping[str, Any], ctx: otel_context.Context | None = None) -> otel_context.Context:
    """A context whose inherited attributes are those of ``ctx`` overlaid with ``extra``."""
    base = inherited(ctx)
    merged = {**base, **extra} if base else dict(extra)
    return otel_context.set_value(INHERITED_KEY, merged, ctx)


# --- user id pseudonymisation ----------------------------------------------------------------------------
_salt_lock = threading.Lock()
_salt: bytes | None = None
_salt_source: dict[str, Any] = {"configured": None, "home": None}


def _load_salt(configured: str | None, home: Path) -> bytes:
    """The configured salt, else one created once per data directory (owner-only), else a process one."""
    if configured:
        return configured.encode()
    path = home / "user_id_salt"
    try:
        return path.read_bytes().strip() or b""
    except FileNotFoundError:
        pass
    except OSError as exc:
        diagnostics.report("user_id_salt.read", exc)
        return secrets.token_hex(16).encode()
    fresh = secrets.token_hex(16).encode()
    try:
        private_dir(home)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(fresh)
        return fresh
    except FileExistsError:  # another process won the race: use its salt
        return path.read_bytes().strip()
    except OSError as exc:
        diagnostics.report("user_id_salt.write", exc)
        return fresh


def configure_salt(configured: str | None, home: Path) -> None:
    """Set where the salt comes from (init does this); it is loaded on first use."""
    global _salt
    with _salt_lock:
        _salt = None
        _salt_source.update(configured=configured, home=home)


@functools.lru_cache(maxsize=4096)
def _hash(salt: bytes, user_id: str) -> str:
    return hashlib.sha256(salt + b"\x00" + user_id.encode()).hexdigest()[:16]


def hash_user_id(user_id: object) -> str:
    """A salted SHA-256 prefix of ``user_id``: stable per salt, not reversible; the raw id is never stored."""
    global _salt
    salt = _salt
    if salt is None:
        with _salt_lock:
            if _salt is None:
                from ..config import default_home

                home = _salt_source["home"] or default_home()
                _salt = _load_salt(_salt_source["configured"], home)
            salt = _salt
    return _hash(salt, str(user_id))


# --- the public block form ---------------------------------------------------------------------------------
_NAMED = {
    "stage": semconv.AGENTKIT_STAGE,
    "tier": semconv.AGENTKIT_TIER,
    "conversation_id": semconv.GEN_AI_CONVERSATION_ID,
    "prompt_name": semconv.GEN_AI_PROMPT_NAME,
    "prompt_format": semconv.AGENTKIT_PROMPT_FORMAT,
    "workflow": semconv.AGENTKIT_WORKFLOW_NAME,
    "agent": semconv.AGENTKIT_AGENT_NAME,
}


def attribute_map(user_id: object = None, **values: Any) -> dict[str, Any]:
    """Translate ``attributes()`` keywords to span attribute names (unknown keys get the agentkit. prefix)."""
    out: dict[str, Any] = {}
    if user_id is not None:
        out[semconv.ENDUSER_PSEUDO_ID] = hash_user_id(user_id)
    for key, value in values.items():
        if value is None:
            continue
        name = _NAMED.get(key) or (key if "." in key else semconv.AGENTKIT_PREFIX + key)
        if is_secret_key(key) or is_secret_key(key.rsplit(".", 1)[-1]):
            value = MASK
        elif isinstance(value, str):
            value = mask_secrets(value)
        elif not isinstance(value, (bool, int, float)):
            if isinstance(value, (list, tuple)) and all(isinstance(v, (str, bool, int, float)) for v in value):
                value = list(value)
            else:
                value = mask_secrets(str(value))
        out[name] = value
    return out


@contextlib.contextmanager
def attributes(user_id: object = None, stage: str | None = None, tier: str | None = None,
               **extra: Any) -> Iterator[None]:
    """Add attributes to every agentkit span started in this block (and below it).

    ``user_id`` is stored only as a salted SHA-256 prefix (``enduser.pseudo.id``). Known keys: stage, tier,
    conversation_id, prompt_name, prompt_format; other keys become ``agentkit.<key>`` (or are used as given
    when they contain a dot).
    """
    try:
        extra_attrs = attribute_map(user_id=user_id, stage=stage, tier=tier, **extra)
        token = otel_context.attach(with_inherited(extra_attrs))
    except Exception as exc:  # the block must run whatever happens here
        diagnostics.report("attributes", exc)
        token = None
    try:
        yield
    finally:
        if token is not None:
            otel_context.detach(token)


# --- carrying context across threads -------------------------------------------------------------------------
def bind_context(fn: Callable[..., T]) -> Callable[..., T]:
    """Wrap ``fn`` so it runs in the OTel context current *now* (for threads and executors)."""
    captured = otel_context.get_current()

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> T:
        token = otel_context.attach(captured)
        try:
            return fn(*args, **kwargs)
        finally:
            otel_context.detach(token)

    return run


class ContextThreadPoolExecutor(concurrent.futures.ThreadPoolExecutor):
    """A ThreadPoolExecutor whose tasks run in the submitter's context, so spans nest as the code reads."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[T]:
        return super().submit(bind_context(fn), *args, **kwargs)
