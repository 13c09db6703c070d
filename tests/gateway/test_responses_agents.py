"""The OpenAI Agents SDK's default model (Responses API) through the gateway: a function-tool
loop run to its end on an OpenAI-compatible channel of the fake upstream, which calls the
first tool it is offered and answers text once it has the tool's result."""

import asyncio

from agents import (
    Agent,
    Runner,
    function_tool,
    set_default_openai_api,
    set_default_openai_client,
    set_tracing_disabled,
)
from openai import AsyncOpenAI

from tests.gateway.providers_helpers import REPLY, provider_channel, sent

MODEL = "gpt-4o-mini"  # no "provider/" prefix: the SDK would take it for a model provider


@function_tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"Sunny in {city}, 18 C"


def test_an_agent_runs_a_tool_loop_through_the_responses_door(gateway):
    provider_channel(gateway, "main", api_type="openai", upstream_model=MODEL, model=MODEL)

    async def run():
        client = AsyncOpenAI(base_url=gateway.url + "/v1", api_key=gateway.key, max_retries=0)
        set_default_openai_client(client, use_for_tracing=False)
        set_default_openai_api("responses")
        set_tracing_disabled(True)
        agent = Agent(name="forecaster", instructions="Be brief.", model=MODEL, tools=[get_weather])
        try:
            return await Runner.run(agent, "What is the weather in Paris?")
        finally:
            await client.close()

    result = asyncio.run(run())

    assert result.final_output == REPLY
    calls = [item for item in result.new_items if item.type == "tool_call_item"]
    outputs = [item for item in result.new_items if item.type == "tool_call_output_item"]
    assert [call.raw_item.name for call in calls] == ["get_weather"]
    assert [output.output for output in outputs] == ["Sunny in test, 18 C"]
    first, second = (r["body"] for r in sent(gateway, "/v1/chat/completions"))
    assert first["messages"][0] == {"role": "system", "content": "Be brief."}
    assert first["tools"][0]["function"]["name"] == "get_weather"
    assert second["messages"][-1]["content"] == "Sunny in test, 18 C"
    assert [r.endpoint for r in gateway.wait_records(2)] == ["responses", "responses"]
