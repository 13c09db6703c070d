"""Wire-protocol adapters, one module per `api_type`; `adapter_for` picks a channel's."""

from collections.abc import Callable, Mapping
from typing import Any

from channels.adapters.anthropic import AnthropicAdapter
from channels.adapters.anthropic_passthrough import AnthropicPassthrough
from channels.adapters.base import Adapter
from channels.adapters.embeddings import EmbeddingsCall
from channels.adapters.gemini import GeminiAdapter
from channels.adapters.openai_compat import OpenAICompatAdapter
from channels.adapters.openai_responses_compact import DIALECT as RESPONSES_COMPACT
from channels.adapters.openai_responses_compact import OpenAIResponsesCompactPassthrough
from channels.adapters.openai_responses_passthrough import DIALECT as RESPONSES
from channels.adapters.openai_responses_passthrough import OpenAIResponsesPassthrough

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


def operation_adapter(api_type: str, operation: str, body: Mapping[str, Any]) -> Adapter:
    """The adapter for one request's `operation` on a channel speaking `api_type`: the
    protocol's own for `chat`, its embeddings pair behind the same contract for `embeddings`
    (`body` is the request's); KeyError when the protocol cannot do it."""
    adapter = adapter_for(api_type)
    if operation == "chat":
        return adapter
    if operation not in adapter.operations:
        raise KeyError(f"api_type {api_type!r} cannot do {operation!r}")
    return EmbeddingsCall(adapter, encoding_format=body.get("encoding_format"))


def serves(api_type: str, operation: str) -> bool:
    """Whether this gateway can ask a channel speaking `api_type` for `operation`."""
    adapter = ADAPTERS.get(api_type)
    return adapter is not None and operation in adapter.operations


# Adapters for a client that speaks the channel's own dialect, made per request (they carry
# the client's protocol headers).
PASSTHROUGHS: dict[str, Callable[[Mapping[str, str]], Adapter]] = {
    "anthropic": AnthropicPassthrough,
    RESPONSES: OpenAIResponsesPassthrough,
    RESPONSES_COMPACT: OpenAIResponsesCompactPassthrough,
}


def passthrough_for(api_type: str, headers: Mapping[str, str]) -> Adapter:
    """The pass-through adapter of `api_type` (or of the Responses dialect, for OpenAI channels
    serving it) for a client sending `headers`; KeyError if none."""
    return PASSTHROUGHS[api_type](headers)
