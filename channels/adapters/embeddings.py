"""Embeddings through the relay's one adapter contract.

`EmbeddingsCall` presents a protocol's embeddings pair (`Adapter.embeddings_request` and
`embeddings_response`) as `build_request` and `translate_response`, and writes the OpenAI
embeddings list the client gets: one item per input in order, each vector as floats or, when the
client asked for `base64`, as float32 little-endian bytes in base64 (encoded here when the
upstream gave floats, as Gemini does; passed on when it gave base64), the public model and
provider, and the usage priced (the metering's estimate when the upstream reports none).
"""

import base64
import struct
from collections.abc import Mapping
from typing import Any

import orjson

from channels.adapters.base import (
    Adapter,
    BadUpstreamResponse,
    Metering,
    ResponseIdentity,
    StreamTranslator,
    TranslatedResponse,
    UpstreamRequest,
    UpstreamTarget,
)

EMBEDDINGS = "embeddings"


def vector_of(value: object) -> list[float] | str:
    """An upstream's vector: a list of numbers, or a base64 string; else BadUpstreamResponse."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(
        isinstance(item, int | float) and not isinstance(item, bool) for item in value
    ):
        return value
    raise BadUpstreamResponse("upstream answered an embedding that is not a vector")


def as_base64(vector: list[float] | str) -> str:
    """The vector as OpenAI's `base64` encoding writes it (float32, little-endian)."""
    if isinstance(vector, str):
        return vector
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()


class EmbeddingsCall(Adapter):
    """One embeddings request on a channel: `adapter`'s embeddings pair behind the relay's
    contract. Embeddings never stream."""

    def __init__(self, adapter: Adapter, *, encoding_format: object) -> None:
        self.adapter = adapter
        self.api_type = adapter.api_type
        self.base64 = encoding_format == "base64"

    def build_request(
        self, *, body: Mapping[str, Any], target: UpstreamTarget, stream: bool
    ) -> UpstreamRequest:
        """The protocol's embeddings request for the OpenAI embeddings `body`."""
        return self.adapter.embeddings_request(body=body, target=target)

    def translate_response(
        self, *, payload: bytes, identity: ResponseIdentity, metering: Metering
    ) -> TranslatedResponse:
        """The OpenAI embeddings list, stamped and priced; `usage` always filled in."""
        answer = self.adapter.embeddings_response(payload=payload)
        usage = answer.usage if answer.usage is not None else metering.estimate(0)
        data = [
            {
                "object": "embedding",
                "index": index,
                "embedding": as_base64(vector) if self.base64 else vector,
            }
            for index, vector in enumerate(answer.vectors)
        ]
        body = {
            "object": "list",
            "data": data,
            "model": identity.model,
            "provider": identity.provider,
            "usage": {
                "prompt_tokens": usage.prompt_tokens,
                "total_tokens": usage.prompt_tokens,
                "cost": float(metering.cost(usage)),
            },
        }
        return TranslatedResponse(orjson.dumps(body), usage, answer.usage is None)

    def stream_translator(
        self, *, identity: ResponseIdentity, include_usage: bool, metering: Metering
    ) -> StreamTranslator:
        """Never called: embeddings are not streamed."""
        raise NotImplementedError("embeddings are never streamed")

    def error_message(self, *, status: int, payload: bytes) -> str:
        """The protocol's reading of its error bodies."""
        return self.adapter.error_message(status=status, payload=payload)

    def models_url(self, *, base_url: str) -> str:
        """The protocol's model list."""
        return self.adapter.models_url(base_url=base_url)
