"""Decorated functions that return their work (a coroutine, a generator, an async generator, an async
iterator) instead of doing it: the span lasts as long as that work, is current while it runs, and ends
exactly once however the work ends. A task is followed through a done callback (the caller keeps the same
object); what is not clearly deferred work (a list iterator) is returned as it is, the span ending at return."""

from __future__ import annotations

import asyncio
import gc
import inspect

import pytest
from opentelemetry.trace import StatusCode

import otel_agentkit as agentkit
from otel_agentkit import semconv as sc


def _names(sdk):
    return [s.name for s in sdk.spans()]


async def test_returned_coroutine_keeps_its_span_open_and_current(sdk):
    @agentkit.tool(name="lookup")
    async def lookup():
        return 42

    async def work():
        await asyncio.sleep(0)
        return await lookup()

    @agentkit.agent(name="planner")
    def plan():  # not async: hands back the coroutine
        return work()

    pending = plan()
    assert inspect.iscoroutine(pending) and sdk.spans() == []
    assert await pending == 42
    tool, agent = sdk.spans()
    assert (tool.name, agent.name) == ("execute_tool lookup", "invoke_agent planner")
    assert tool.parent.span_id == agent.context.span_id  # the agent span was current while the work ran
    assert tool.attributes[sc.AGENTKIT_AGENT_NAME] == "planner"  # inherited (gen_ai.agent.name: agent spans only)
    assert sc.GEN_AI_AGENT_NAME not in tool.attributes


async def test_returned_coroutine_error_passes_through_unchanged(sdk):
    boom = KeyError("no such row")

    async def work():
        raise boom

    @agentkit.tool(name="lookup")
    def lookup():
        return work()

    with pytest.raises(KeyError) as caught:
        await lookup()
    assert caught.value is boom
    (span,) = sdk.spans()
    assert span.status.status_code is StatusCode.ERROR and span.attributes[sc.ERROR_TYPE] == "KeyError"


def test_returned_generator_spans_its_iteration(sdk):
    @agentkit.tool(name="rows")
    def rows():
        return (i * i for i in range(4))

    gen = rows()
    assert inspect.isgenerator(gen) and sdk.spans() == []
    assert list(gen) == [0, 1, 4, 9]
    assert _names(sdk) == ["execute_tool rows"]


def test_returned_generator_dropped_unstarted_or_midway_ends_once(sdk):
    @agentkit.tool(name="rows")
    def rows():
        return iter_rows()

    def iter_rows():
        yield 1
        yield 2

    unstarted = rows()
    assert sdk.spans() == []
    del unstarted
    gc.collect()
    midway = rows()
    assert next(midway) == 1
    del midway
    gc.collect()
    assert _names(sdk) == ["execute_tool rows", "execute_tool rows"]
    assert all(s.status.status_code is StatusCode.UNSET for s in sdk.spans())


async def test_returned_async_generator_keeps_asend(sdk):
    async def echo():
        got = None
        while got != "stop":
            got = yield got

    @agentkit.workflow(name="chat")
    def chat():
        return echo()

    agen = chat()
    assert inspect.isasyncgen(agen)
    assert await agen.asend(None) is None
    assert await agen.asend("hi") == "hi"
    assert sdk.spans() == []
    with pytest.raises(StopAsyncIteration):
        await agen.asend("stop")
    assert _names(sdk) == ["invoke_agent chat"]  # v0.1.0: a workflow is an invoke_agent span
    assert sdk.spans()[0].attributes[sc.GEN_AI_OPERATION_NAME] == sc.OP_INVOKE_WORKFLOW


class Ticker:
    """An async iterator that is not an async generator, with an attribute of its own."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.label = "ticker"

    def __aiter__(self):
        return self

    async def __anext__(self):
        if self.n == 0:
            raise StopAsyncIteration
        self.n -= 1
        return self.n


async def test_returned_async_iterator_is_transparent(sdk):
    @agentkit.tool(name="ticks")
    def ticks():
        return Ticker(3)

    ticker = ticks()
    assert isinstance(ticker, Ticker) and ticker.label == "ticker"
    assert sdk.spans() == []
    assert [t async for t in ticker] == [2, 1, 0]
    assert _names(sdk) == ["execute_tool ticks"]


async def test_returned_task_is_followed_and_returned_as_it_is(sdk):
    gate = asyncio.Event()

    @agentkit.tool(name="lookup")
    async def lookup():
        return 1

    async def work():
        await gate.wait()
        return await lookup()

    @agentkit.agent(name="spawner")
    def spawn():
        return asyncio.ensure_future(work())

    task = spawn()
    assert type(task) is asyncio.Task  # the very same task: followed by a done callback, not wrapped
    await asyncio.sleep(0)
    assert sdk.spans() == []
    gate.set()
    assert await task == 1
    await asyncio.sleep(0)  # done callbacks run on the next loop turn
    tool, agent = sdk.spans()
    assert agent.name == "invoke_agent spawner" and tool.parent.span_id == agent.context.span_id


async def test_cancelled_task_ends_its_span_with_the_error(sdk):
    @agentkit.tool(name="wait")
    def wait():
        return asyncio.ensure_future(asyncio.sleep(60))

    task = wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0)
    (span,) = sdk.spans()
    assert span.attributes[sc.ERROR_TYPE] == "asyncio.exceptions.CancelledError"


def test_plain_iterators_are_returned_as_they_are(sdk):
    @agentkit.tool(name="items")
    def items():
        return iter([1, 2])

    it = items()
    assert type(it).__name__ == "list_iterator"
    assert _names(sdk) == ["execute_tool items"]  # ended at return
