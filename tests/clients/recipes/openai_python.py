import os

from openai import OpenAI

client = OpenAI(
    base_url=os.environ["SWITCHYARD_BASE_URL"],
    api_key=os.environ["SWITCHYARD_API_KEY"],
)

reply = client.chat.completions.create(
    model="gpt-4o-mini",
    messages=[{"role": "user", "content": "Hello"}],
    # OpenRouter's routing controls travel in the body: here, the cheapest channel first.
    extra_body={"provider": {"sort": "price"}},
)
print(reply.choices[0].message.content)
print(reply.usage)

stream = client.chat.completions.create(
    model="gpt-4o-mini",
    messages=[{"role": "user", "content": "Hello"}],
    stream=True,
    stream_options={"include_usage": True},  # the last chunk carries the usage
)
for chunk in stream:
    if chunk.choices:
        print(chunk.choices[0].delta.content or "", end="", flush=True)
    if chunk.usage:
        print()
        print(chunk.usage)

print([model.id for model in client.models.list()])
