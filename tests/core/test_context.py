"""Parentage follows the code's structure across threads, executors, asyncio tasks and generators; and
inherited attributes reach the llm spans below a block."""

from __future__ import annotations

import asyncio
import threading

import pytest

import otel_agentkit as agentkit
from otel_agentkit import semconv as sc


def _by_name(sdk):
    out = {}
    for s in sdk.spans():
        out.setdefault(s.name, []).append(s)
    return out


def _parent_name(sdk, span):
    ids = {s.context.span_id: s.name for s in sdk.spans()}
    return ids.get(span.parent.span_id) if span.parent else None


def test_executor_and_bind_context(sdk):
    @agentkit.tool
    def work(i):
        return i

    with agentkit.agent(name="boss"):
        with agentkit.ContextThreadPoolExecutor(max_workers=4) as pool:
            assert sorted(pool.map(work, range(8))) == list(range(8))
        t = threading.Thread(target=agentkit.bind_context(work), args=(99,))
        t.start()
        t.join()
    spans = _by_name(sdk)["execute_tool work"]
    assert len(spans) == 9
    assert all(_parent_name(sdk, s) == "invoke_agent boss" for s in spans)
    # v0.1.0 allows gen_ai.agent.name only on agent spans: spans below carry agentkit.agent.name
    assert all(s.attributes[sc.AGENTKIT_AGENT_NAME] == "boss" for s in spans)
    assert not any(sc.GEN_AI_AGENT_NAME in s.attributes for s in spans)


def test_plain_thread_without_helper_is_a_new_root(sdk):
    @agentkit.tool
    def work():
        return 1

    with agentkit.agent(name="boss"):
        t = threading.Thread(target=work)
        t.start()
        t.join()
    assert _by_name(sdk)["execute_tool work"][0].parent is None


async def test_asyncio_tasks_keep_their_parents(sdk):
    @agentkit.llm(provider="openai", model="m")
    async def ask(i):
        await asyncio.sleep(0.001 * (5 - i))
        return i

    @agentkit.agent
    async def worker(i):
        return await ask(i)

    @agentkit.workflow
    async def flow():
        return await asyncio.gather(*(worker(i) for i in range(5)))

    assert await flow() == [0, 1, 2, 3, 4]
    workers = {s.context.span_id for s in _by_name(sdk)["invoke_agent worker"]}
    asks = _by_name(sdk)["chat m"]
    assert len(asks) == 5 and all(s.parent.span_id in workers for s in asks)
    assert len({s.parent.span_id for s in asks}) == 5  # each under its own worker
    (flow_span,) = _by_name(sdk)["invoke_agent flow"]  # v0.1.0: a workflow is an invoke_agent span
    assert flow_span.attributes[sc.GEN_AI_OPERATION_NAME] == sc.OP_INVOKE_WORKFLOW
    assert all(s.parent.span_id == flow_span.context.span_id for s in _by_name(sdk)["invoke_agent worker"])


def test_interleaved_generators_do_not_leak_context(sdk):
    @agentkit.llm(provider="openai", model="m")
    def stream(tag):
        for i in range(3):
            with agentkit.tool(name=f"inner-{tag}"):
                pass
            yield i

    with agentkit.workflow(name="consumer"):
        a, b = stream("a"), stream("b")
        for _ in range(3):
            next(a)
            with agentkit.tool(name="between"):  # consumer code between chunks: not under the stream
                pass
            next(b)
        list(a), list(b)
    for tag in "ab":
        inner = _by_name(sdk)[f"execute_tool inner-{tag}"]
        assert {_parent_name(sdk, s) for s in inner} == {"chat m"}
        assert len({s.parent.span_id for s in inner}) == 1
    (consumer,) = _by_name(sdk)["invoke_agent consumer"]  # the workflow (v0.1.0: an invoke_agent span)
    assert consumer.attributes[sc.GEN_AI_OPERATION_NAME] == sc.OP_INVOKE_WORKFLOW
    between = _by_name(sdk)["execute_tool between"]
    assert {s.parent.span_id for s in between} == {consumer.context.span_id}
    streams = _by_name(sdk)["chat m"]
    assert {s.parent.span_id for s in streams} == {consumer.context.span_id}


# (semconv, workflow name key, agent name key, keys that must be absent from the llm spans)
INHERITED_NAMES = [
    ("v0.1.0", sc.AGENTKIT_WORKFLOW_NAME, sc.AGENTKIT_AGENT_NAME, (sc.GEN_AI_WORKFLOW_NAME, sc.GEN_AI_AGENT_NAME)),
    ("pre-release", sc.GEN_AI_WORKFLOW_NAME, sc.GEN_AI_AGENT_NAME,
     (sc.AGENTKIT_WORKFLOW_NAME, sc.AGENTKIT_AGENT_NAME)),
]


@pytest.mark.parametrize("semconv, workflow_key, agent_key, absent", INHERITED_NAMES)
def test_inherited_attributes_reach_llm_spans(make_sdk, semconv, workflow_key, agent_key, absent):
    sdk = make_sdk(semconv=semconv)

    @agentkit.llm(provider="openai", model="gpt-4o")
    def ask():
        return None

    with agentkit.workflow(name="support"):
        with agentkit.agent(name="triage", conversation_id="conv-7"):
            with agentkit.attributes(user_id="alice@example.com", stage="classify", tier="cheap",
                                     prompt_format="xml", experiment="b"):
                ask()
        ask()
    first, second = _by_name(sdk)["chat gpt-4o"]
    a = first.attributes
    assert a[workflow_key] == "support"
    assert a[agent_key] == "triage"
    assert not set(absent) & set(a)
    assert a[sc.GEN_AI_CONVERSATION_ID] == "conv-7"
    assert a[sc.AGENTKIT_STAGE] == "classify" and a[sc.AGENTKIT_TIER] == "cheap"
    assert a[sc.AGENTKIT_PROMPT_FORMAT] == "xml" and a["agentkit.experiment"] == "b"
    assert len(a[sc.ENDUSER_PSEUDO_ID]) == 16 and "alice" not in str(dict(a))
    b = second.attributes
    assert b[workflow_key] == "support"
    assert agent_key not in b and sc.AGENTKIT_STAGE not in b
    assert not set(absent) & set(b)


def test_user_id_hash_is_salted_and_stable(make_sdk, tmp_path):
    from otel_agentkit.instrument.context import hash_user_id
    import hashlib

    make_sdk(user_id_salt="pepper")
    h = hash_user_id("alice")
    assert h == hash_user_id("alice") and h != hash_user_id("bob")
    assert h != hashlib.sha256(b"alice").hexdigest()[:16]
    agentkit.shutdown()
    make_sdk(user_id_salt="salt2")
    assert hash_user_id("alice") != h


def test_generated_salt_is_persisted_owner_only(make_sdk, tmp_path):
    from otel_agentkit.instrument.context import hash_user_id

    home = tmp_path / "h"
    make_sdk(home=home)
    first = hash_user_id("alice")
    salt_file = home / "user_id_salt"
    assert oct(salt_file.stat().st_mode & 0o777) == "0o600"
    agentkit.shutdown()
    make_sdk(home=home)
    assert hash_user_id("alice") == first
