"""OpenAI's Chat Completions, with OpenRouter's routing controls: the pipeline's own dialect,
so this door only parses and passes everything else through."""

from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

import orjson
from django.http import HttpResponse

from gateway.errors import GatewayError
from gateway.parsing import parse_chat_request
from gateway.responses import error_response
from gateway.schemas import ChatRequest, KeyContext

MODEL_LENGTH = 200


def chat_chunks(block: bytes) -> Iterator[dict[str, Any] | None]:
    """The chat chunks in a block of the pipeline's SSE events, in order, None for `[DONE]`
    (comments and empty frames are skipped)."""
    for frame in block.split(b"\n\n"):
        data = frame.strip().removeprefix(b"data:").strip()
        if data and not frame.lstrip().startswith(b":"):
            yield None if data == b"[DONE]" else orjson.loads(data)


def body_model(raw: bytes) -> str:
    """A body's `model`, cut to what a record keeps, when it is a readable string; else ""."""
    try:
        model = orjson.loads(raw).get("model")
    except (orjson.JSONDecodeError, AttributeError):
        return ""
    return model[:MODEL_LENGTH] if isinstance(model, str) else ""


class ChatCompletionsDoor:
    """`POST /v1/chat/completions`."""

    endpoint = "chat"

    def parse(self, raw: bytes, headers: Mapping[str, str]) -> ChatRequest:
        """The validated request (gateway.parsing); OpenAI-compatible channels take its body
        as sent already."""
        return parse_chat_request(raw)

    async def resolve(self, chat: ChatRequest, key: KeyContext) -> ChatRequest:
        """As it is (this door keeps no state)."""
        return chat

    def requested_model(self, raw: bytes) -> str:
        """The body's `model` (see `body_model`)."""
        return body_model(raw)

    def answer(self, body: bytes) -> bytes:
        """As it is."""
        return body

    def events(self, events: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """As they are."""
        return events

    def error_response(self, error: GatewayError, request_id: str) -> HttpResponse:
        """OpenAI's envelope."""
        return error_response(error, request_id)


CHAT_COMPLETIONS = ChatCompletionsDoor()
