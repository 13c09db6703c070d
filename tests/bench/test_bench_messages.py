"""The bench's Messages doors, briefly, end to end: the gateway (served in a thread, set up by
bench.gateway_setup) and the reference proxy (a uvicorn process) answer the driver's Messages
requests with real Messages answers, on the channel each door is meant to reach."""

import asyncio
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from bench.fake_upstream import FakeUpstream, reply_text, running_fake_upstream
from bench.gateway_setup import ANTHROPIC_CHANNEL, CHANNEL, setup
from bench.load import CHAT, MESSAGES, Scenario, ScenarioResult, Target, Wire, measure
from bench.plan import (
    CLAUDE_MODELS,
    GATEWAY,
    LONG_WORDS,
    NATIVE_DOOR,
    REFERENCE,
    TRANSLATED_DOOR,
    UPSTREAM_MODELS,
    door,
)
from bench.servers import free_port, serving, uvicorn_argv
from billing.models import UsageRecord
from gateway import auth, catalog
from gateway.bridge.recorder import recorder
from tests.gateway.conftest import gateway_server, upstream_server  # noqa: F401 (fixtures)

ROOT = Path(__file__).resolve().parents[2]
REPLY = reply_text()
SCENARIOS = (
    Scenario("ns", "plain", False, 2, count=6),
    Scenario("stream", "plain", True, 2, count=6),
    Scenario("long", "long", True, 2, count=2),
)
UPSTREAM_PATH = {NATIVE_DOOR: "/v1/messages", TRANSLATED_DOOR: "/v1/chat/completions"}
UPSTREAM_CHANNEL = {NATIVE_DOOR: ANTHROPIC_CHANNEL, TRANSLATED_DOOR: CHANNEL}


@dataclass
class BenchGateway:
    """The running gateway with the bench's account, channels and key."""

    url: str
    key: str
    upstream: FakeUpstream


@pytest.fixture
def bench_gateway(
    transactional_db: None,
    gateway_server: Any,  # noqa: F811 (the imported fixture)
    upstream_server: FakeUpstream,  # noqa: F811
) -> Iterator[BenchGateway]:
    """The gateway as `make bench` sets it up, on the session's fake upstream."""
    auth.forget_keys()
    upstream_server.clear_requests()
    key = setup(upstream_server.base_url)
    catalog.invalidate_catalog()
    yield BenchGateway(gateway_server.url, key, upstream_server)
    recorder.flush(timeout=10)


def _measure(target: Target) -> list[ScenarioResult]:
    async def all_of_them() -> list[ScenarioResult]:
        return [await measure(target, scenario) for scenario in SCENARIOS]

    return asyncio.run(all_of_them())


def _assert_all_answered(results: list[ScenarioResult]) -> None:
    for result in results:
        assert (result.scenario, result.errors, result.error_samples) == (result.scenario, 0, [])
        assert result.ok == next(s.count for s in SCENARIOS if s.name == result.scenario)
    long = results[-1]
    assert long.chunks >= long.ok * LONG_WORDS, "every word of the long answers was relayed"


def _events(stream: bytes) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for frame in stream.strip().split(b"\n\n"):
        lines = dict(line.split(b": ", 1) for line in frame.split(b"\n"))
        events.append((lines[b"event"].decode(), orjson.loads(lines[b"data"])))
    return events


def _assert_messages_answers(url: str, wire: Wire, key: str, model: str) -> None:
    """A Messages answer and a Messages stream, as Anthropic's SDK reads them."""
    headers = wire.session_headers(key)
    with httpx.Client(timeout=10, headers=headers) as http:
        answer = http.post(url + wire.path, content=wire.body(model, stream=False))
        stream = http.post(url + wire.path, content=wire.body(model, stream=True))

    assert answer.status_code == 200, answer.text
    message = answer.json()
    assert (message["type"], message["role"], message["stop_reason"]) == (
        "message",
        "assistant",
        "end_turn",
    )
    assert message["content"] == [{"type": "text", "text": REPLY}]
    assert message["usage"]["output_tokens"] == len(REPLY.split())
    assert stream.status_code == 200, stream.text
    assert stream.headers["content-type"].startswith("text/event-stream")
    events = _events(stream.content)
    names = [name for name, _ in events]
    assert (names[0], names[-2], names[-1]) == ("message_start", "message_delta", "message_stop")
    assert all(name == data["type"] for name, data in events)
    text = "".join(data["delta"]["text"] for name, data in events if name == "content_block_delta")
    assert text == REPLY


@pytest.mark.parametrize("door_name", [NATIVE_DOOR, TRANSLATED_DOOR])
def test_the_gateways_messages_door_answers_the_bench(bench_gateway, door_name):
    measured = door(door_name)
    target = Target(
        GATEWAY,
        f"{bench_gateway.url}/v1",
        bench_gateway.key,
        measured.models,
        pid=os.getpid(),
        wire=measured.wire,
    )

    results = _measure(target)
    _assert_messages_answers(target.base_url, target.wire, target.api_key, measured.models["plain"])

    _assert_all_answered(results)
    paths = {request["path"] for request in bench_gateway.upstream.requests}
    assert paths == {UPSTREAM_PATH[door_name]}, "each door reaches its own channel's protocol"
    assert recorder.flush(timeout=10), "the usage recorder did not drain"
    channels = set(UsageRecord.objects.values_list("channel__name", flat=True))
    assert channels == {UPSTREAM_CHANNEL[door_name]}


def test_the_reference_proxy_passes_messages_and_chat_through(tmp_path):
    with running_fake_upstream() as upstream:
        port = free_port()
        env = dict(os.environ, BENCH_UPSTREAM_URL=upstream.base_url)
        argv = uvicorn_argv("bench.reference_proxy:application", port)
        with serving(
            REFERENCE, argv, port=port, core=None, env=env, log_dir=tmp_path, cwd=ROOT
        ) as proxy:
            root = f"{proxy.url}/v1"
            messages = _measure(Target(REFERENCE, root, "any", CLAUDE_MODELS, wire=MESSAGES))
            chat = _measure(Target(REFERENCE, root, "any", UPSTREAM_MODELS, wire=CHAT))
            _assert_messages_answers(root, MESSAGES, "any", CLAUDE_MODELS["plain"])
        received = upstream.requests

    _assert_all_answered(messages)
    _assert_all_answered(chat)
    anthropic = [r for r in received if r["path"] == "/v1/messages"]
    assert {r["headers"]["x-api-key"] for r in anthropic} == {"bench-reference"}
    assert {r["body"]["model"] for r in anthropic} == {CLAUDE_MODELS[s.model] for s in SCENARIOS}
    assert len(received) - len(anthropic) == sum(r.ok for r in chat)
