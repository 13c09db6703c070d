"""Wire-protocol adapters, one module per `api_type`; `adapter_for` picks a channel's."""

from channels.adapters.anthropic import AnthropicAdapter
from channels.adapters.base import Adapter
from channels.adapters.gemini import GeminiAdapter
from channels.adapters.openai_compat import OpenAICompatAdapter

# Adapters are stateless translators: one shared instance each.
ADAPTERS: dict[str, Adapter] = {
    adapter.api_type: adapter
    for adapter in (OpenAICompatAdapter(), AnthropicAdapter(), GeminiAdapter())
}


def adapter_for(api_type: str) -> Adapter:
    """The adapter speaking `api_type`; KeyError naming the known types for any other."""
    try:
        return ADAPTERS[api_type]
    except KeyError:
        known = ", ".join(sorted(ADAPTERS))
        raise KeyError(f"no adapter for api_type {api_type!r} (known: {known})") from None
