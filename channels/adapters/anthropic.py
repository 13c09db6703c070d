"""Anthropic's Messages API behind the OpenAI chat completions API.

Requests are built in `anthropic_request`; here the answer comes back: text blocks as
`content`, `tool_use` as `tool_calls`, thinking as `reasoning_content`/`reasoning` (with the
signed blocks under `thinking_blocks`, to be sent back on tool-use turns), `stop_reason` as
`finish_reason`, and usage with the cache reads and writes inside `prompt_tokens`.
"""

from collections.abc import Mapping
from typing import Any

import orjson

from channels.adapters.anthropic_request import max_tokens_of, messages_payload
from channels.adapters.base import (
    BadUpstreamResponse,
    Metering,
    ResponseIdentity,
    TranslatedResponse,
    UpstreamRequest,
    UpstreamStreamError,
    UpstreamTarget,
)
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

API_VERSION = "2023-06-01"
STREAM_ERROR_FALLBACK = "the upstream reported an error in its stream"
FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


def finish_reason(stop_reason: object) -> str:
    """The OpenAI `finish_reason` for an Anthropic `stop_reason` (unknown ones: `stop`)."""
    return FINISH_REASONS.get(stop_reason, "stop") if isinstance(stop_reason, str) else "stop"


def reported_usage(raw: Mapping[str, Any]) -> Usage:
    """Anthropic usage in the gateway's terms: `input_tokens` excludes the cache reads and
    writes, so the prompt is their sum; thinking is inside `output_tokens`. Writes are split
    by `cache_creation.ephemeral_1h_input_tokens`; the rest of `cache_creation_input_tokens`
    (all of it without that breakdown) is 5-minute writes."""
    reads = token_count(raw.get("cache_read_input_tokens"))
    creation = raw.get("cache_creation")
    split = creation if isinstance(creation, dict) else {}
    writes_1h = token_count(split.get("ephemeral_1h_input_tokens"))
    writes = max(
        token_count(raw.get("cache_creation_input_tokens")),
        token_count(split.get("ephemeral_5m_input_tokens")) + writes_1h,
    )
    details = raw.get("output_tokens_details")
    thinking = token_count(details.get("thinking_tokens")) if isinstance(details, dict) else 0
    return Usage(
        prompt_tokens=token_count(raw.get("input_tokens")) + reads + writes,
        completion_tokens=token_count(raw.get("output_tokens")),
        cached_tokens=reads,
        reasoning_tokens=thinking,
        cache_write_tokens=writes - writes_1h,
        cache_write_1h_tokens=writes_1h,
    )


def _thinking_block(thinking: str, signature: str) -> dict[str, str]:
    return {"type": "thinking", "thinking": thinking, "signature": signature}


def stream_error(error: object) -> UpstreamStreamError:
    """The error an Anthropic `event: error` reports, its message scrubbed."""
    if not isinstance(error, dict):
        return UpstreamStreamError(STREAM_ERROR_FALLBACK)
    message = error.get("message")
    kind = error.get("type")
    text = message if isinstance(message, str) and message else STREAM_ERROR_FALLBACK
    return UpstreamStreamError(scrub(text), code=kind if isinstance(kind, str) else None)


class AnthropicStreamTranslator(SynthesizedStream):
    """Anthropic stream events → OpenAI chunks."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._input: dict[str, Any] = {}
        self._calls: dict[int, int] = {}  # Anthropic block index → OpenAI tool-call index
        self._calls_with_arguments: set[int] = set()
        self._thinking: dict[int, list[str]] = {}
        self._signatures: dict[int, str] = {}

    def _on_event(self, name: str, payload: bytes, events: list[bytes]) -> None:
        event = parse_json(payload, "stream event")
        kind = event.get("type", name)
        if kind == "message_start":
            message = event.get("message")
            usage = message.get("usage") if isinstance(message, dict) else None
            self._input = dict(usage) if isinstance(usage, dict) else {}
            self._role(events)
        elif kind == "content_block_start":
            self._block_start(event, events)
        elif kind == "content_block_delta":
            self._block_delta(event, events)
        elif kind == "content_block_stop":
            self._block_stop(event, events)
        elif kind == "message_delta":
            self._message_delta(event, events)
        elif kind == "message_stop":
            self.done = True
        elif kind == "error":
            raise stream_error(event.get("error"))
        # `ping` and event types added later carry nothing the client needs.

    def _block_start(self, event: dict[str, Any], events: list[bytes]) -> None:
        block = event.get("content_block")
        if not isinstance(block, dict):
            raise BadUpstreamResponse("upstream content_block_start has no block")
        index = event.get("index")
        if block.get("type") == "tool_use" and isinstance(index, int):
            position = self._calls[index] = len(self._calls)
            call = {
                "index": position,
                "id": block.get("id"),
                "type": "function",
                "function": {"name": block.get("name"), "arguments": ""},
            }
            self._tool_call(events, 0, call, chars=len(str(block.get("name") or "")))
        elif block.get("type") == "thinking" and isinstance(index, int):
            self._thinking[index] = []
        elif block.get("type") == "redacted_thinking" and not self.exclude_reasoning:
            # Sent back whole on the next tool-use turn, like signed thinking blocks.
            self._delta(events, 0, {"thinking_blocks": [dict(block)]})
        elif block.get("type") == "text" and block.get("text"):
            self._text(events, 0, str(block["text"]))

    def _block_delta(self, event: dict[str, Any], events: list[bytes]) -> None:
        delta = event.get("delta")
        if not isinstance(delta, dict):
            raise BadUpstreamResponse("upstream content_block_delta has no delta")
        kind, index = delta.get("type"), event.get("index")
        if kind == "text_delta":
            self._text(events, 0, str(delta.get("text") or ""))
        elif kind == "input_json_delta" and index in self._calls:
            fragment = str(delta.get("partial_json") or "")
            if fragment:
                self._calls_with_arguments.add(index)
                call = {"index": self._calls[index], "function": {"arguments": fragment}}
                self._tool_call(events, 0, call, chars=len(fragment))
        elif kind == "thinking_delta":
            text = str(delta.get("thinking") or "")
            self._thinking.setdefault(index if isinstance(index, int) else -1, []).append(text)
            self._reasoning(events, 0, text)
        elif kind == "signature_delta" and isinstance(index, int):
            self._signatures[index] = self._signatures.get(index, "") + str(
                delta.get("signature") or ""
            )

    def _block_stop(self, event: dict[str, Any], events: list[bytes]) -> None:
        """A finished thinking block goes to the client whole, with its signature, so that it
        can be sent back on the next tool-use turn; a tool call that got no input gets `{}`."""
        index = event.get("index")
        if index in self._calls and index not in self._calls_with_arguments:
            # A tool called without input: OpenAI's clients expect the JSON `{}`, not "".
            call = {"index": self._calls[index], "function": {"arguments": "{}"}}
            self._tool_call(events, 0, call, chars=2)
            return
        if self.exclude_reasoning or not isinstance(index, int) or index not in self._signatures:
            return
        block = _thinking_block("".join(self._thinking.get(index, [])), self._signatures[index])
        self._delta(events, 0, {"thinking_blocks": [block]})

    def _message_delta(self, event: dict[str, Any], events: list[bytes]) -> None:
        usage = event.get("usage")
        # message_start's output count is a placeholder: only the final one counts, and an
        # upstream that sends none is estimated instead.
        if isinstance(usage, dict) and "output_tokens" in usage:
            self.usage = reported_usage({**self._input, **usage})
        delta = event.get("delta")
        stop = delta.get("stop_reason") if isinstance(delta, dict) else None
        if stop is not None:
            self._finish_choice(events, 0, finish_reason(stop), str(stop))


class AnthropicAdapter(TranslatingAdapter):
    """Anthropic's Messages API (`api_type = anthropic`)."""

    api_type = "anthropic"
    translator = AnthropicStreamTranslator
    api_version = "/v1"

    def build_request(
        self, *, body: Mapping[str, Any], target: UpstreamTarget, stream: bool
    ) -> UpstreamRequest:
        """POST `<base_url>/v1/messages` with `x-api-key` and `anthropic-version`; `max_tokens`
        from the client, else the target's default; raise UnsupportedContent for parts
        Anthropic cannot take."""
        payload = messages_payload(
            body,
            model=target.upstream_model,
            max_tokens=max_tokens_of(body, target.max_output_tokens),
            stream=stream,
        )
        return self.messages_request(payload, target)

    def messages_request(
        self,
        payload: Mapping[str, Any],
        target: UpstreamTarget,
        headers: Mapping[str, str] | None = None,
    ) -> UpstreamRequest:
        """POST `payload` to `<API root>/messages` as the target's key, with `anthropic-version`
        2023-06-01 unless `headers` (sent as well) say otherwise."""
        sent = {"content-type": "application/json", "anthropic-version": API_VERSION}
        sent.update(headers or {})
        if target.api_key:
            sent["x-api-key"] = target.api_key
        url = self.api_root(target.base_url) + "/messages"
        return UpstreamRequest(url=url, headers=sent, content=orjson.dumps(payload))

    def translate_response(
        self, *, payload: bytes, identity: ResponseIdentity, metering: Metering
    ) -> TranslatedResponse:
        """A Messages API answer as a `chat.completion`, priced."""
        message = parse_json(payload, "answer")
        blocks = message.get("content")
        if not isinstance(blocks, list):
            raise BadUpstreamResponse("upstream answer has no content list")
        draft = ChoiceDraft()
        thinking: list[dict[str, Any]] = []
        for block in blocks:
            kind = block.get("type") if isinstance(block, dict) else None
            if kind == "text":
                draft.text.append(str(block.get("text") or ""))
            elif kind == "tool_use":
                arguments = orjson.dumps(block.get("input") or {}).decode()
                call = {"name": str(block.get("name") or ""), "arguments": arguments}
                draft.tool_calls.append(
                    {"id": block.get("id"), "type": "function", "function": call}
                )
            elif kind == "thinking":
                draft.reasoning.append(str(block.get("thinking") or ""))
                thinking.append(
                    _thinking_block(
                        str(block.get("thinking") or ""), str(block.get("signature") or "")
                    )
                )
            elif kind == "redacted_thinking":
                thinking.append(dict(block))
        if thinking and not identity.exclude_reasoning:
            draft.extra["thinking_blocks"] = thinking
        stop = message.get("stop_reason")
        draft.finish_reason, draft.native_finish_reason = finish_reason(stop), stop
        usage = message.get("usage")
        return completion_response(
            identity=identity,
            choices=[draft],
            reported=(
                reported_usage(usage)
                if isinstance(usage, dict) and "output_tokens" in usage
                else None
            ),
            metering=metering,
        )
