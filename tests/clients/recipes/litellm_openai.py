import os

import litellm

# openai/<model>: any OpenAI-compatible server at api_base.
settings = {
    "model": "openai/gpt-4o-mini",
    "api_base": os.environ["SWITCHYARD_BASE_URL"],
    "api_key": os.environ["SWITCHYARD_API_KEY"],
}

reply = litellm.completion(**settings, messages=[{"role": "user", "content": "Hello"}])
print(reply.choices[0].message.content)
print(reply.usage)

for chunk in litellm.completion(
    **settings,
    messages=[{"role": "user", "content": "Hello"}],
    stream=True,
    stream_options={"include_usage": True},  # Switchyard's count in a last chunk
):
    if chunk.choices:
        print(chunk.choices[0].delta.content or "", end="", flush=True)
    else:
        print()
        print(chunk.usage)
