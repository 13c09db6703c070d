"""The contract of a front door (pure: no I/O, no state, but for `resolve`)."""

from collections.abc import AsyncIterator, Mapping
from typing import Protocol

from django.http import HttpResponse

from gateway.errors import GatewayError
from gateway.schemas import ChatRequest, KeyContext


class FrontDoor(Protocol):
    """One client dialect. The pipeline speaks OpenAI Chat Completions inside: a request is a
    ChatRequest, an answer a Chat Completions body or its SSE events — unless the request
    carries its own body (`ChatRequest.native`) and a channel of its dialect served it: then
    the answer is already the client's, and `answer`/`events` are not called."""

    endpoint: str
    """What records and reports call this door (`chat`, `messages`, …)."""

    def parse(self, raw: bytes, headers: Mapping[str, str]) -> ChatRequest:
        """The pipeline's request for a client body and its headers; InvalidRequest (naming
        `param`) if bad."""
        ...

    async def resolve(self, chat: ChatRequest, key: KeyContext) -> ChatRequest:
        """The request to serve, once the key is known: `chat` itself, unless the door keeps
        state for its clients (the one step that may read it: Responses'
        `previous_response_id`)."""
        ...

    def requested_model(self, raw: bytes) -> str:
        """The model a body that failed to parse asked for, when readable; else ""."""
        ...

    def answer(self, body: bytes) -> bytes:
        """The client's JSON for the pipeline's answer."""
        ...

    def events(self, events: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """The client's SSE body for the pipeline's events (the last may be an in-band error)."""
        ...

    def error_response(self, error: GatewayError, request_id: str) -> HttpResponse:
        """The client's error envelope, status and headers for `error`."""
        ...
