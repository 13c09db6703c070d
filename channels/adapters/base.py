"""The contract between the relay and the wire-protocol adapters: plain data, no I/O.

An adapter builds the upstream request for one attempt and translates what comes back into
OpenAI's chat completion format, stamped with the gateway's identity (public model, provider)
and priced. The relay owns the sockets and decides retries; adapters only translate.
"""

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from core.usage import Usage


@dataclass(frozen=True, slots=True)
class Metering:
    """How the gateway prices a request: `cost(usage)` in USD, and `estimate(completion_chars)`,
    the usage to assume (prompt estimated from the request) when the upstream reports none."""

    cost: Callable[[Usage], Decimal]
    estimate: Callable[[int], Usage]


@dataclass(frozen=True, slots=True)
class UpstreamTarget:
    """Where and as whom one attempt calls: the channel's API root, secret and model name;
    `max_output_tokens` is the default answer budget for protocols that require one."""

    base_url: str
    api_key: str = field(repr=False)  # a secret: never in a repr, a log line or a traceback
    upstream_model: str
    max_output_tokens: int | None = None
    channel_id: int | None = None
    """The gateway's channel (what may receive content bound to that upstream account)."""


@dataclass(frozen=True, slots=True)
class UpstreamRequest:
    """An HTTP POST ready to send."""

    url: str
    headers: dict[str, str] = field(repr=False)  # they carry the channel's secret
    content: bytes


@dataclass(frozen=True, slots=True)
class ResponseIdentity:
    """Stamped on every response and chunk: the public model served and the provider slug;
    `exclude_reasoning` (the client's `reasoning.exclude`) leaves reasoning text out."""

    model: str
    provider: str
    exclude_reasoning: bool = False


@dataclass(frozen=True, slots=True)
class TranslatedResponse:
    """A complete OpenAI `chat.completion` body, always with `usage` (incl. `cost`) filled in:
    the upstream's usage, or the metering's estimate when it gave none (`usage_estimated`)."""

    body: bytes
    usage: Usage
    usage_estimated: bool


@dataclass(frozen=True, slots=True)
class Embeddings:
    """An upstream's embeddings answer, in input order: each vector as floats (or as the
    base64 string an OpenAI-compatible upstream was asked for), and its usage if it gave one."""

    vectors: list[list[float] | str]
    usage: Usage | None = None


class BadUpstreamResponse(Exception):
    """The upstream answered something that is not its protocol (malformed JSON or event)."""


class UnsupportedContent(ValueError):
    """The request uses something the channel's protocol cannot carry (e.g. audio for Anthropic);
    `param` names the offending field. The relay answers it as the client's own 400."""

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


class UpstreamStreamError(Exception):
    """The upstream reported an error inside its stream."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class StreamTranslator(ABC):
    """Turns an upstream stream into OpenAI SSE events for the client, keeping running usage.

    `feed` takes raw bytes as they arrive (events may be split anywhere) and returns complete
    client events (`data: …\\n\\n`). At a malformed event
    or an in-band upstream error it returns the events completed before it and sets `failure`:
    the stream is then over.
    """

    content_started: bool = False
    """Whether an event carrying content (text, reasoning, a tool call, a refusal) was returned:
    the relay's commit point."""

    done: bool = False
    """Whether the upstream ended its stream properly."""

    usage: Usage | None = None
    """The upstream's usage, once it has reported it."""

    failure: BadUpstreamResponse | UpstreamStreamError | None = None
    """Why the stream broke, if it did: a malformed event or an error the upstream reported."""

    completion_chars: int = 0
    """Characters of generated text so far, to estimate usage when the upstream gives none."""

    error_tail: bytes = b"data: [DONE]\n\n"
    """What ends the client's stream after an in-band `error_event`."""

    @abstractmethod
    def feed(self, data: bytes) -> list[bytes]:
        """Consume upstream bytes; return the client events they complete."""

    @abstractmethod
    def finish(self) -> list[bytes]:
        """After a proper end: the trailing events — the usage chunk (with `cost`; estimated by
        the metering if the upstream gave none) when the client asked for usage — and `[DONE]`."""

    @abstractmethod
    def error_event(self, *, message: str, code: str) -> bytes:
        """One chunk-shaped in-band error event (then the stream ends)"""

    def end_of_input(self) -> None:
        """The upstream body ended. Protocols whose stream has no terminator (Gemini's) set
        `done` here when what they read amounts to a complete answer; the default does nothing."""
        return


class Adapter(ABC):
    """Translator for one wire protocol (`api_type`)."""

    api_type: str

    @abstractmethod
    def build_request(
        self, *, body: Mapping[str, Any], target: UpstreamTarget, stream: bool
    ) -> UpstreamRequest:
        """The upstream request for an OpenAI-format `body`; streaming always asks for usage."""

    @abstractmethod
    def translate_response(
        self, *, payload: bytes, identity: ResponseIdentity, metering: Metering
    ) -> TranslatedResponse:
        """A non-streaming upstream answer as OpenAI JSON; raise BadUpstreamResponse if garbled."""

    @abstractmethod
    def stream_translator(
        self, *, identity: ResponseIdentity, include_usage: bool, metering: Metering
    ) -> StreamTranslator:
        """A fresh translator for one streamed answer."""

    @abstractmethod
    def error_message(self, *, status: int, payload: bytes) -> str:
        """A readable message from an upstream error body (falls back to the status)."""

    @abstractmethod
    def models_url(self, *, base_url: str) -> str:
        """Where the upstream lists its models (a free call, used by health probes)."""

    def refuses_foreign_content(self, *, status: int, payload: bytes) -> bool:
        """Whether an error answer refuses content made for another upstream account (another
        channel may take it); the default: never."""
        return False

    operations: frozenset[str] = frozenset({"chat"})
    """What the protocol can be asked (`chat`, `embeddings`): routing skips a channel whose
    protocol cannot do the request's operation."""

    def embeddings_request(
        self, *, body: Mapping[str, Any], target: UpstreamTarget
    ) -> UpstreamRequest:
        """The upstream request for an OpenAI embeddings `body` (validated by its door); raise
        UnsupportedContent for inputs the protocol cannot take. Only for `embeddings` in
        `operations`."""
        raise NotImplementedError(f"{self.api_type} makes no embeddings")

    def embeddings_response(self, *, payload: bytes) -> Embeddings:
        """The vectors (and usage) of an upstream embeddings answer; raise BadUpstreamResponse
        if garbled. Only for `embeddings` in `operations`."""
        raise NotImplementedError(f"{self.api_type} makes no embeddings")
