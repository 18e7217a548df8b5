"""Parentage follows the code's structure across threads, executors, asyncio tasks and generators; and
inherited attributes reach the llm spans below a block."""

from __future__ import annotations

import asyncio
import threading

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
    assert all(s.attributes[sc.GEN_AI_AGENT_NAME] == "boss" for s in spans)


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
    assert all(_parent_name(sdk, s) == "invoke_workflow flow" for s in _by_name(sdk)["invoke_agent worker"])


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
    between = _by_name(sdk)["execute_tool between"]
    assert {_parent_name(sdk, s) for s in between} == {"invoke_workflow consumer"}
    streams = _by_name(sdk)["chat m"]
    assert {_parent_name(sdk, s) for s in streams} == {"invoke_workflow consumer"}


def test_inherited_attributes_reach_llm_spans(sdk):
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
    assert a[sc.GEN_AI_WORKFLOW_NAME] == "support"
    assert a[sc.GEN_AI_AGENT_NAME] == "triage"
    assert a[sc.GEN_AI_CONVERSATION_ID] == "conv-7"
    assert a[sc.AGENTKIT_STAGE] == "classify" and a[sc.AGENTKIT_TIER] == "cheap"
    assert a[sc.AGENTKIT_PROMPT_FORMAT] == "xml" and a["agentkit.experiment"] == "b"
    assert len(a[sc.ENDUSER_PSEUDO_ID]) == 16 and "alice" not in str(dict(a))
    b = second.attributes
    assert b[sc.GEN_AI_WORKFLOW_NAME] == "support"
    assert sc.GEN_AI_AGENT_NAME not in b and sc.AGENTKIT_STAGE not in b


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
