import os

from langchain_openai import ChatOpenAI
from pydantic import SecretStr

llm = ChatOpenAI(
    model="gpt-4o-mini",
    base_url=os.environ["SWITCHYARD_BASE_URL"],
    api_key=SecretStr(os.environ["SWITCHYARD_API_KEY"]),
    stream_usage=True,  # without it, streamed messages carry no usage_metadata
    extra_body={"provider": {"sort": "price"}},  # OpenRouter's routing controls
)

reply = llm.invoke("Hello")
print(reply.content)
print(reply.usage_metadata)

total = None
for chunk in llm.stream("Hello"):
    print(chunk.content, end="", flush=True)
    total = chunk if total is None else total + chunk
print()
print(total.usage_metadata if total else None)
