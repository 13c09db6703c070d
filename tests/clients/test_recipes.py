"""Every client recipe of the README's "Clients" section, run against a live gateway: the
answer the user reads, the usage the library reports (streams included), and the usage record
the gateway wrote for each call.

Each recipe asks twice, once plainly and once streaming, and prints the reply and then the
library's own usage object; the fake upstream answers every chat request with the same text.
"""

import json
import re
from decimal import Decimal
from typing import Any

import pytest

from bench.fake_upstream import reply_text
from billing.models import UsageRecord
from tests.clients.runner import run_recipe
from tests.gateway.conftest import Gateway

REPLY = reply_text()
MODEL = "gpt-4o-mini"


def reported_usage(output: str, prompt: str, completion: str) -> list[tuple[int, int]]:
    """The (prompt, completion) tokens the recipe printed after each reply, read from the
    library's own rendering of its usage object (`prompt`/`completion` name its fields)."""
    usages = []
    for after in output.split(REPLY)[1:]:
        prompt_tokens = re.search(rf"\b{prompt}['\"]?\s*[:=]\s*(\d+)", after)
        completion_tokens = re.search(rf"\b{completion}['\"]?\s*[:=]\s*(\d+)", after)
        assert prompt_tokens, f"no {prompt} after a reply in:\n{output}"
        assert completion_tokens, f"no {completion} after a reply in:\n{output}"
        usages.append((int(prompt_tokens[1]), int(completion_tokens[1])))
    return usages


def recorded(gateway: Gateway, count: int) -> list[UsageRecord]:
    """The gateway's usage records, every one served and billed."""
    records = gateway.wait_records(count)
    assert [(r.status, r.http_status, r.served_model) for r in records] == [
        ("ok", 200, MODEL)
    ] * count
    assert all(r.cost > 0 for r in records)
    return records


def tokens(records: list[UsageRecord]) -> list[tuple[int, int]]:
    return [(r.prompt_tokens, r.completion_tokens) for r in records]


@pytest.fixture
def channels(gateway: Gateway) -> dict[str, Any]:
    """Two channels for the model on different providers: `provider.sort: price` must pick
    the cheap one."""
    return {
        "pricey": gateway.channel(
            "pricey", provider="alpha", models={MODEL: MODEL}, price=("5", "10")
        ),
        "cheap": gateway.channel("cheap", provider="beta", models={MODEL: MODEL}),
    }


def test_openai_python_sdk(gateway, channels):
    output = run_recipe(gateway, "openai_python.py")

    assert output.count(REPLY) == 2
    records = recorded(gateway, 2)
    assert reported_usage(output, "prompt_tokens", "completion_tokens") == tokens(records)
    assert [r.stream for r in records] == [False, True]
    assert records[0].channel_id == channels["cheap"].pk  # provider.sort: price
    # The usage carries the cost, as OpenRouter's does: the record's, in USD.
    costs = [Decimal(c) for c in re.findall(r"\bcost=([0-9.e-]+)", output)]
    assert costs == [Decimal(str(float(r.cost))) for r in records]
    assert f"['{MODEL}']" in output  # client.models.list()


def test_openai_node_sdk(gateway, channels):
    output = run_recipe(gateway, "openai_node.mjs")

    assert output.count(REPLY) == 2
    records = recorded(gateway, 2)
    assert reported_usage(output, "prompt_tokens", "completion_tokens") == tokens(records)
    assert [r.stream for r in records] == [False, True]
    assert records[0].channel_id == channels["cheap"].pk


def test_langchain_reports_usage_of_streams_with_stream_usage(gateway, channels):
    output = run_recipe(gateway, "langchain_stream_usage.py")

    assert output.count(REPLY) == 2
    records = recorded(gateway, 2)
    # usage_metadata of the invoke() answer, then of the streamed chunks added up.
    assert reported_usage(output, "input_tokens", "output_tokens") == tokens(records)
    assert [r.stream for r in records] == [False, True]
    assert not output.rstrip().endswith("None")
    assert [r.channel_id for r in records] == [channels["cheap"].pk] * 2  # provider.sort


def test_vercel_ai_sdk_default_provider_reports_usage_of_streams(gateway, channels):
    output = run_recipe(gateway, "vercel_ai_sdk.mjs")

    assert output.count(REPLY) == 2
    records = recorded(gateway, 2)
    # generateText's usage, then streamText's: the gateway's counts, through the Responses door.
    usage = reported_usage(output, "inputTokens", "outputTokens")
    assert usage == tokens(records)
    assert all(prompt > 0 and completion > 0 for prompt, completion in usage)
    assert [r.endpoint for r in records] == ["responses", "responses"]
    assert [r.stream for r in records] == [False, True]


def test_openai_agents_sdk_default_responses_model(gateway, channels):
    output = run_recipe(gateway, "openai_agents.py")

    assert output.count(REPLY) == 2
    records = recorded(gateway, 2)
    # The run's usage, then the streamed run's (response.completed carries it).
    usage = reported_usage(output, "input_tokens", "output_tokens")
    assert usage == tokens(records)
    assert all(prompt > 0 and completion > 0 for prompt, completion in usage)
    assert [r.endpoint for r in records] == ["responses", "responses"]
    assert [r.stream for r in records] == [False, True]
    # The agent's instructions reached the model as a system message.
    sent = [r["body"]["messages"][0] for r in gateway.received()]
    assert sent == [{"role": "system", "content": "Answer briefly."}] * 2


def test_litellm_with_the_openai_prefix(gateway, channels):
    output = run_recipe(gateway, "litellm_openai.py")

    assert output.count(REPLY) == 2
    records = recorded(gateway, 2)
    # The stream's usage is the gateway's count, not LiteLLM's estimate.
    assert reported_usage(output, "prompt_tokens", "completion_tokens") == tokens(records)
    assert [r.stream for r in records] == [False, True]


def test_curl(gateway, channels):
    output = run_recipe(gateway, "curl.sh")

    lines = [line for line in output.splitlines() if line]
    records = recorded(gateway, 3)
    reply = json.loads(lines[0])
    assert reply["choices"][0]["message"]["content"] == REPLY
    usage = reply["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"]) == tokens(records)[0]
    assert records[0].channel_id == channels["cheap"].pk

    events = [line.removeprefix("data: ") for line in lines if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(event) for event in events[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == REPLY
    streamed = chunks[-1]["usage"]
    assert (streamed["prompt_tokens"], streamed["completion_tokens"]) == tokens(records)[1]
    assert records[1].stream is True

    models, key, generation = (json.loads(line) for line in lines[-3:])
    assert [m["id"] for m in models["data"]] == [MODEL]
    assert models["data"][0]["pricing"]["input"] == "1"  # the cheapest channel's price
    assert key["data"]["name"] == "e2e"
    assert Decimal(key["data"]["spend"]) == records[0].cost + records[1].cost
    assert generation["data"]["id"] == records[2].id
    assert generation["data"]["prompt_tokens"] == records[2].prompt_tokens
