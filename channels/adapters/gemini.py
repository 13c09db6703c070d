"""Google Gemini's `generateContent` behind the OpenAI chat completions API (and its
`batchEmbedContents` behind OpenAI's embeddings).

Requests are built in `gemini_request`; here the answer comes back: candidates as choices,
thought parts as `reasoning_content`/`reasoning`, function calls as `tool_calls` (with their
`thoughtSignature` under `extra_content.google.thought_signature`, to be sent back),
`finishReason` as `finish_reason`, `usageMetadata` as usage. The stream has no terminator: it
is complete when it ends after a `finishReason` (`end_of_input`).
"""

import os
from collections.abc import Mapping
from typing import Any

import orjson

from channels.adapters.base import (
    BadUpstreamResponse,
    Embeddings,
    Metering,
    ResponseIdentity,
    TranslatedResponse,
    UnsupportedContent,
    UpstreamRequest,
    UpstreamStreamError,
    UpstreamTarget,
)
from channels.adapters.embeddings import EMBEDDINGS, vector_of
from channels.adapters.gemini_request import generate_content_payload
from channels.adapters.synthesis import (
    ChoiceDraft,
    SynthesizedStream,
    TranslatingAdapter,
    completion_response,
    parse_json,
)
from channels.adapters.wire import token_count
from core.log_filters import scrub
from core.usage import Usage

STREAM_ERROR_FALLBACK = "the upstream reported an error in its stream"
TEXT_ONLY = "Invalid value for 'input': Gemini embeds text only, not token arrays."
FILTERED = frozenset(
    {
        "SAFETY",
        "RECITATION",
        "BLOCKLIST",
        "PROHIBITED_CONTENT",
        "SPII",
        "IMAGE_SAFETY",
        "IMAGE_PROHIBITED_CONTENT",
        "IMAGE_RECITATION",
    }
)


def finish_reason(native: str, *, called: bool) -> str:
    """The OpenAI `finish_reason` for a Gemini `finishReason` (`called`: the candidate made
    function calls); anything unlisted is `stop`."""
    if native == "MAX_TOKENS":
        return "length"
    if native in FILTERED:
        return "content_filter"
    return "tool_calls" if called else "stop"


def reported_usage(raw: Mapping[str, Any]) -> Usage:
    """`usageMetadata` in the gateway's terms: thoughts are part of the completion."""
    thoughts = token_count(raw.get("thoughtsTokenCount"))
    return Usage(
        prompt_tokens=token_count(raw.get("promptTokenCount"))
        + token_count(raw.get("toolUsePromptTokenCount")),
        completion_tokens=token_count(raw.get("candidatesTokenCount")) + thoughts,
        cached_tokens=token_count(raw.get("cachedContentTokenCount")),
        reasoning_tokens=thoughts,
    )


def _call_id() -> str:
    """Gemini's calls usually carry no id: one is made up, OpenAI-style."""
    return f"call_{os.urandom(12).hex()}"


def _tool_call(part: Mapping[str, Any], index: int | None) -> dict[str, Any]:
    """An OpenAI tool call for a `functionCall` part (`index` set for stream deltas)."""
    function = part["functionCall"]
    call_id = function.get("id") if isinstance(function.get("id"), str) else _call_id()
    arguments = orjson.dumps(function.get("args") or {}).decode()
    call: dict[str, Any] = {} if index is None else {"index": index}
    call.update(
        {
            "id": call_id,
            "type": "function",
            "function": {"name": str(function.get("name") or ""), "arguments": arguments},
        }
    )
    if isinstance(part.get("thoughtSignature"), str):
        call["extra_content"] = {"google": {"thought_signature": part["thoughtSignature"]}}
    return call


def _parts(candidate: Mapping[str, Any]) -> list[dict[str, Any]]:
    content = candidate.get("content")
    parts = content.get("parts") if isinstance(content, dict) else None
    return [part for part in parts if isinstance(part, dict)] if isinstance(parts, list) else []


def _candidates(response: Mapping[str, Any]) -> list[dict[str, Any]]:
    candidates = response.get("candidates")
    if candidates is None:
        return []
    if not isinstance(candidates, list):
        raise BadUpstreamResponse("upstream candidates is not a list")
    return [candidate for candidate in candidates if isinstance(candidate, dict)]


def _block_reason(response: Mapping[str, Any]) -> str | None:
    """Why the prompt was blocked (`promptFeedback.blockReason`), if it was."""
    feedback = response.get("promptFeedback")
    reason = feedback.get("blockReason") if isinstance(feedback, dict) else None
    return reason if isinstance(reason, str) else None


def _stream_error(error: object) -> UpstreamStreamError:
    if not isinstance(error, dict):
        return UpstreamStreamError(STREAM_ERROR_FALLBACK)
    message = error.get("message")
    status = error.get("status")
    text = message if isinstance(message, str) and message else STREAM_ERROR_FALLBACK
    return UpstreamStreamError(scrub(text), code=status if isinstance(status, str) else None)


class GeminiStreamTranslator(SynthesizedStream):
    """Gemini's SSE responses (each one a partial `GenerateContentResponse`) → OpenAI chunks."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._calls: dict[int, int] = {}  # candidate index → tool calls made so far
        self._finished = False

    def _on_event(self, name: str, payload: bytes, events: list[bytes]) -> None:
        response = parse_json(payload, "stream event")
        if response.get("error"):
            raise _stream_error(response["error"])
        blocked = _block_reason(response)
        if blocked is not None and not response.get("candidates"):
            self._finished = True
            self._finish_choice(events, 0, "content_filter", blocked)
        for candidate in _candidates(response):
            self._candidate(candidate, events)
        # Every event may carry running counts; only those sent with (or after) the finish
        # are the whole answer's, so a stream cut earlier is estimated instead.
        usage = response.get("usageMetadata")
        if isinstance(usage, dict) and "promptTokenCount" in usage and self._finished:
            self.usage = reported_usage(usage)

    def _candidate(self, candidate: Mapping[str, Any], events: list[bytes]) -> None:
        raw_index = candidate.get("index")
        index = raw_index if isinstance(raw_index, int) else 0
        self._role(events, index)
        for part in _parts(candidate):
            if isinstance(part.get("functionCall"), dict):
                position = self._calls.get(index, 0)
                self._calls[index] = position + 1
                call = _tool_call(part, position)
                chars = len(call["function"]["name"]) + len(call["function"]["arguments"])
                self._tool_call(events, index, call, chars=chars)
            elif part.get("thought") is True:
                self._reasoning(events, index, str(part.get("text") or ""))
            else:
                self._text(events, index, str(part.get("text") or ""))
        native = candidate.get("finishReason")
        if isinstance(native, str):
            self._finished = True
            reason = finish_reason(native, called=bool(self._calls.get(index)))
            self._finish_choice(events, index, reason, native)

    def end_of_input(self) -> None:
        """The stream ended: complete when a `finishReason` was seen (Gemini sends no
        `[DONE]`), broken otherwise."""
        super().end_of_input()
        if self.failure is None and self._finished:
            self.done = True


class GeminiAdapter(TranslatingAdapter):
    """Google's Generative Language API (`api_type = gemini`)."""

    api_type = "gemini"
    operations = frozenset({"chat", EMBEDDINGS})
    translator = GeminiStreamTranslator
    api_version = "/v1beta"
    known_versions = ("/v1", "/v1alpha")

    def build_request(
        self, *, body: Mapping[str, Any], target: UpstreamTarget, stream: bool
    ) -> UpstreamRequest:
        """POST `<base_url>/v1beta/models/<model>:generateContent` (or
        `:streamGenerateContent?alt=sse`) with the key in `x-goog-api-key`; raise
        UnsupportedContent for parts Gemini cannot take."""
        payload = generate_content_payload(body, max_output_tokens=target.max_output_tokens)
        method = "streamGenerateContent?alt=sse" if stream else "generateContent"
        return self._request(target, method, payload)

    def embeddings_request(
        self, *, body: Mapping[str, Any], target: UpstreamTarget
    ) -> UpstreamRequest:
        """POST `<base_url>/v1beta/models/<model>:batchEmbedContents`, one request per input
        text, `dimensions` as `outputDimensionality`; UnsupportedContent naming `input` for
        token arrays (Gemini embeds text only)."""
        texts = body.get("input")
        texts = [texts] if isinstance(texts, str) else texts
        if not isinstance(texts, list) or not all(isinstance(text, str) for text in texts):
            raise UnsupportedContent(TEXT_ONLY, param="input")
        model = f"models/{target.upstream_model}"
        dimensions = body.get("dimensions")
        sized = {} if dimensions is None else {"outputDimensionality": dimensions}
        requests = [
            {"model": model, "content": {"parts": [{"text": text}]}, **sized} for text in texts
        ]
        return self._request(target, "batchEmbedContents", {"requests": requests})

    def embeddings_response(self, *, payload: bytes) -> Embeddings:
        """The `embeddings[].values`, in request order; Gemini reports no usage."""
        items = parse_json(payload, "answer").get("embeddings")
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise BadUpstreamResponse("upstream answer has no embeddings list")
        return Embeddings([vector_of(item.get("values")) for item in items])

    def _request(
        self, target: UpstreamTarget, method: str, payload: Mapping[str, Any]
    ) -> UpstreamRequest:
        """POST `payload` to the model's `method`, the key in `x-goog-api-key`."""
        headers = {"content-type": "application/json"}
        if target.api_key:
            headers["x-goog-api-key"] = target.api_key
        url = f"{self.api_root(target.base_url)}/models/{target.upstream_model}:{method}"
        return UpstreamRequest(url=url, headers=headers, content=orjson.dumps(payload))

    def translate_response(
        self, *, payload: bytes, identity: ResponseIdentity, metering: Metering
    ) -> TranslatedResponse:
        """A `GenerateContentResponse` as a `chat.completion`, priced."""
        response = parse_json(payload, "answer")
        drafts: list[ChoiceDraft] = []
        for candidate in sorted(_candidates(response), key=lambda c: c.get("index") or 0):
            draft = ChoiceDraft()
            for part in _parts(candidate):
                if isinstance(part.get("functionCall"), dict):
                    draft.tool_calls.append(_tool_call(part, None))
                elif part.get("thought") is True:
                    draft.reasoning.append(str(part.get("text") or ""))
                else:
                    draft.text.append(str(part.get("text") or ""))
            native = str(candidate.get("finishReason") or "STOP")
            draft.finish_reason = finish_reason(native, called=bool(draft.tool_calls))
            draft.native_finish_reason = native
            drafts.append(draft)
        if not drafts:
            blocked = _block_reason(response)
            if blocked is None:
                raise BadUpstreamResponse("upstream answer has no candidates")
            drafts.append(ChoiceDraft(finish_reason="content_filter", native_finish_reason=blocked))
        usage = response.get("usageMetadata")
        return completion_response(
            identity=identity,
            choices=drafts,
            reported=(
                reported_usage(usage)
                if isinstance(usage, dict) and "promptTokenCount" in usage
                else None
            ),
            metering=metering,
        )
