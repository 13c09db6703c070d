"""The bench's Responses doors, briefly, end to end: the gateway (served in a thread, set up by
bench.gateway_setup) answers the driver's Responses requests with real Response objects and
Responses streams through its OpenAI-compatible channel, the reference proxy and the fake
upstream answer them natively, and the driver counts an incomplete response as an error."""

import asyncio
import os

import openai
import pytest

from bench.fake_upstream import fault_model, reply_text, running_fake_upstream
from bench.gateway_setup import CHANNEL
from bench.load import MAX_TOKENS, RESPONSES, Scenario, ScenarioResult, Target, measure
from bench.plan import (
    DIRECT,
    GATEWAY,
    REFERENCE,
    RESPONSES_NATIVE_DOOR,
    RESPONSES_TRANSLATED_DOOR,
    UPSTREAM_MODEL,
    UPSTREAM_MODELS,
    door,
)
from bench.servers import free_port, serving, uvicorn_argv
from billing.models import UsageRecord
from gateway.bridge.recorder import recorder
from tests.bench.test_bench_messages import (  # noqa: F401 (bench_gateway is a fixture)
    ROOT,
    SCENARIOS,
    BenchGateway,
    _assert_all_answered,
    _measure,
    bench_gateway,
)
from tests.gateway.conftest import gateway_server, upstream_server  # noqa: F401 (fixtures)

REPLY = reply_text()


def _assert_responses_answers(base_url: str, key: str, model: str) -> None:
    """The driver's Responses request, as the openai SDK reads its answer and its stream."""
    client = openai.OpenAI(base_url=base_url, api_key=key, max_retries=0, timeout=10)
    prompt = "Hello, benchmark"
    answer = client.responses.create(
        model=model, input=prompt, max_output_tokens=MAX_TOKENS, store=False
    )
    events = list(
        client.responses.create(
            model=model, input=prompt, max_output_tokens=MAX_TOKENS, store=False, stream=True
        )
    )

    assert (answer.object, answer.status, answer.output_text) == ("response", "completed", REPLY)
    assert answer.usage is not None
    assert answer.usage.output_tokens == len(REPLY.split())
    assert events[0].type == "response.created"
    assert events[-1].type == "response.completed"
    numbers = [event.sequence_number for event in events]
    assert numbers == sorted(set(numbers)), "numbered in order"
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == REPLY


@pytest.mark.parametrize("door_name", [RESPONSES_TRANSLATED_DOOR, RESPONSES_NATIVE_DOOR])
def test_the_gateways_responses_door_answers_the_bench_through_the_chat_channel(
    bench_gateway: BenchGateway,  # noqa: F811 (the imported fixture)
    door_name: str,
) -> None:
    measured = door(door_name)
    target = Target(
        GATEWAY,
        f"{bench_gateway.url}/v1",
        bench_gateway.key,
        measured.models_of(GATEWAY),
        pid=os.getpid(),
        wire=measured.wire_of(GATEWAY),
    )

    results = _measure(target)
    _assert_responses_answers(target.base_url, target.api_key, measured.models["plain"])

    _assert_all_answered(results)
    paths = {request["path"] for request in bench_gateway.upstream.requests}
    assert paths == {"/v1/chat/completions"}, "the gateway translates to its chat channel"
    assert recorder.flush(timeout=10), "the usage recorder did not drain"
    billed = set(UsageRecord.objects.values_list("channel__name", "endpoint", "status"))
    assert billed == {(CHANNEL, "responses", "ok")}


def test_the_native_doors_baselines_answer_responses_directly_and_through_the_reference(
    tmp_path,
):
    measured = door(RESPONSES_NATIVE_DOOR)
    with running_fake_upstream() as upstream:
        direct = Target(
            DIRECT,
            upstream.base_url,
            "any",
            measured.models_of(DIRECT),
            wire=measured.wire_of(DIRECT),
        )
        direct_results = _measure(direct)
        port = free_port()
        env = dict(os.environ, BENCH_UPSTREAM_URL=upstream.base_url)
        argv = uvicorn_argv("bench.reference_proxy:application", port)
        with serving(
            REFERENCE, argv, port=port, core=None, env=env, log_dir=tmp_path, cwd=ROOT
        ) as proxy:
            root = f"{proxy.url}/v1"
            reference = Target(
                REFERENCE,
                root,
                "any",
                measured.models_of(REFERENCE),
                wire=measured.wire_of(REFERENCE),
            )
            reference_results = _measure(reference)
            _assert_responses_answers(root, "any", UPSTREAM_MODELS["plain"])
        received = upstream.requests

    assert direct.wire == RESPONSES
    _assert_all_answered(direct_results)
    _assert_all_answered(reference_results)
    assert {r["path"] for r in received} == {"/v1/responses"}
    proxied = received[sum(r.ok for r in direct_results) :]
    assert {r["headers"]["authorization"] for r in proxied} == {"Bearer bench-reference"}
    assert {r["body"]["model"] for r in proxied} == {UPSTREAM_MODELS[s.model] for s in SCENARIOS}


def test_an_incomplete_response_is_an_error_to_the_driver():
    # Longer than max_output_tokens: the fake stops there, with status incomplete.
    too_long = {"plain": fault_model(UPSTREAM_MODEL, words=MAX_TOKENS + 10)}
    scenarios = (
        Scenario("ns", "plain", False, 1, count=2),
        Scenario("stream", "plain", True, 1, count=2),
    )

    async def both(target: Target) -> list[ScenarioResult]:
        return [await measure(target, scenario) for scenario in scenarios]

    with running_fake_upstream() as upstream:
        results = asyncio.run(
            both(Target(DIRECT, upstream.base_url, "any", too_long, wire=RESPONSES))
        )

    assert [(r.ok, r.errors) for r in results] == [(0, 2), (0, 2)]
    answer, stream = (result.error_samples[0] for result in results)
    assert ' x HTTP 200: {"id":"resp_' in answer
    assert '"status":"incomplete"' in answer
    assert " x bad stream, ending: " in stream
