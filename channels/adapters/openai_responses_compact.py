"""OpenAI's remote compaction passed through: a `/v1/responses/compact` body to an OpenAI
channel whose upstream serves the Responses API (`serves_responses`), answered with the
upstream's own `response.compaction` object (its `compaction` item readable only there).

As for `/responses` (see openai_responses_passthrough): model renamed, routing fields and
`previous_response_id` removed (the gateway expanded the stored conversation into `input`),
other channels' reasoning dropped; the answer's `id` is the gateway's and its usage priced.
Compaction is never streamed.
"""

from collections.abc import Mapping
from typing import Any

import orjson

from channels.adapters.anthropic_passthrough import GATEWAY_FIELDS
from channels.adapters.base import (
    BadUpstreamResponse,
    Metering,
    ResponseIdentity,
    TranslatedResponse,
    UpstreamRequest,
    UpstreamTarget,
)
from channels.adapters.openai_compat import _headers
from channels.adapters.openai_responses_passthrough import (
    OpenAIResponsesPassthrough,
    for_channel,
    gateway_response_id,
    priced_answer,
)
from channels.adapters.synthesis import parse_json

DIALECT = "openai-responses-compact"
"""What a compact request's NativeRequest says it speaks (gateway.schemas)."""
COMPACT_PATH = "/responses/compact"


class OpenAIResponsesCompactPassthrough(OpenAIResponsesPassthrough):
    """The OpenAI adapter for a compact request: its body goes to `<base_url>/responses/compact`."""

    def build_request(
        self, *, body: Mapping[str, Any], target: UpstreamTarget, stream: bool
    ) -> UpstreamRequest:
        """POST `<base_url>/responses/compact` with the client's body: model replaced, routing
        fields, `previous_response_id` and `stream` removed, other channels' reasoning dropped."""
        dropped = (*GATEWAY_FIELDS, "previous_response_id", "stream", "store")
        payload = {name: value for name, value in body.items() if name not in dropped}
        payload["model"] = target.upstream_model
        if "input" in payload:
            payload["input"] = for_channel(payload["input"], target.channel_id)
        return UpstreamRequest(
            url=target.base_url.rstrip("/") + COMPACT_PATH,
            headers=_headers(target),
            content=orjson.dumps(payload),
        )

    def translate_response(
        self, *, payload: bytes, identity: ResponseIdentity, metering: Metering
    ) -> TranslatedResponse:
        """The upstream's compaction object as sent, `id` the gateway's, usage priced."""
        answer = parse_json(payload, "answer")
        if not isinstance(answer, dict) or not isinstance(answer.get("output"), list):
            raise BadUpstreamResponse("upstream compaction has no output list")
        return priced_answer({**answer, "id": gateway_response_id()}, metering)
