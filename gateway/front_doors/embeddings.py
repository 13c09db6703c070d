"""OpenAI's embeddings (`POST /v1/embeddings`) through the pipeline: the request is validated
here and goes on as it is (the operation `embeddings`); the adapters make each protocol's
request and the OpenAI list of vectors (channels.adapters.embeddings)."""

from collections.abc import Mapping
from typing import Any

from core.usage import Endpoint
from gateway.errors import InvalidRequest
from gateway.front_doors.chat import ChatCompletionsDoor
from gateway.parsing import (
    GATEWAY_FIELDS,
    int_in,
    of_type,
    one_of,
    parse_fallbacks,
    parse_object,
    parse_provider,
)
from gateway.schemas import ChatRequest

MAX_INPUTS = 2048
"""OpenAI's limit on the inputs of one request."""
INPUT_SHAPES = (
    "expected a non-empty string, an array of non-empty strings, an array of token ids"
    f" (integers) or an array of such arrays, at most {MAX_INPUTS} of them."
)
FIELD_CHECKS = {
    "encoding_format": one_of(frozenset({"float", "base64"})),
    "dimensions": int_in(1),
    "user": of_type(str, "a string"),
}


def _is_token(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_tokens(value: object) -> bool:
    return isinstance(value, list) and bool(value) and all(map(_is_token, value))


def _is_text(value: object) -> bool:
    return isinstance(value, str) and bool(value)


def check_input(value: object) -> None:
    """Raise InvalidRequest naming `input` unless it is one of the shapes OpenAI takes."""
    if _is_text(value) or _is_tokens(value):
        return
    if (
        isinstance(value, list)
        and 0 < len(value) <= MAX_INPUTS
        and (all(map(_is_text, value)) or all(map(_is_tokens, value)))
    ):
        return
    raise InvalidRequest(f"Invalid value for 'input': {INPUT_SHAPES}", param="input")


def parse_embeddings_request(raw: bytes) -> ChatRequest:
    """Validate an embeddings body; raise InvalidRequest naming the first bad `param`."""
    data: dict[str, Any] = parse_object(raw)
    model = data.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("Invalid value for 'model': a model id is required.", param="model")
    check_input(data.get("input"))
    for name, check in FIELD_CHECKS.items():
        if name in data:
            check(data[name], name)
    return ChatRequest(
        model=model,
        body={key: value for key, value in data.items() if key not in GATEWAY_FIELDS},
        fallback_models=parse_fallbacks(data, model),
        provider=parse_provider(data.get("provider")),
        user=data.get("user") or "",
        operation="embeddings",
    )


class EmbeddingsDoor(ChatCompletionsDoor):
    """`POST /v1/embeddings`: OpenAI's dialect (the answer and errors as they are), with
    OpenRouter's routing controls (`models`, `provider`)."""

    endpoint = Endpoint.EMBEDDINGS.value

    def parse(self, raw: bytes, headers: Mapping[str, str]) -> ChatRequest:
        """The validated request, operation `embeddings`; `stream` never applies."""
        return parse_embeddings_request(raw)


EMBEDDINGS = EmbeddingsDoor()
