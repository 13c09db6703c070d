import asyncio
import os

from agents import Agent, Runner, set_default_openai_client, set_tracing_disabled
from openai import AsyncOpenAI

client = AsyncOpenAI(
    base_url=os.environ["SWITCHYARD_BASE_URL"],
    api_key=os.environ["SWITCHYARD_API_KEY"],
)
# Agents call the Responses API by default, through this client.
set_default_openai_client(client, use_for_tracing=False)
set_tracing_disabled(True)  # traces would go to OpenAI's platform

agent = Agent(name="Assistant", instructions="Answer briefly.", model="gpt-4o-mini")


async def main() -> None:
    result = await Runner.run(agent, "Hello")
    print(result.final_output)
    print(result.context_wrapper.usage)

    streamed = Runner.run_streamed(agent, "Hello")
    async for event in streamed.stream_events():
        if event.type == "raw_response_event" and event.data.type == "response.output_text.delta":
            print(event.data.delta, end="", flush=True)
    print()
    print(streamed.context_wrapper.usage)


asyncio.run(main())
