"""Wire-protocol adapters, one module per `api_type`; `adapter_for` picks a channel's."""

from collections.abc import Callable, Mapping

from channels.adapters.anthropic import AnthropicAdapter
from channels.adapters.anthropic_passthrough import AnthropicPassthrough
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


# Adapters for a client that speaks the channel's own dialect, made per request (they carry
# the client's protocol headers).
PASSTHROUGHS: dict[str, Callable[[Mapping[str, str]], Adapter]] = {
    "anthropic": AnthropicPassthrough,
}


def passthrough_for(api_type: str, headers: Mapping[str, str]) -> Adapter:
    """The pass-through adapter of `api_type` for a client sending `headers`; KeyError if none."""
    return PASSTHROUGHS[api_type](headers)
