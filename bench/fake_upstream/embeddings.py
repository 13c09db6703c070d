"""Embeddings for the fake upstream: OpenAI's ``POST /v1/embeddings`` and Gemini's
``POST /v1beta/models/{model}:batchEmbedContents``, with the API-key check and the fault
directives of the chat routes.

Vectors are deterministic: each input's (text, or token array) SHA-256 seeds its values, scaled
to unit length; ``DEFAULT_DIMENSIONS`` of them unless ``dimensions`` (OpenAI) or
``outputDimensionality`` (Gemini) asks for another number. OpenAI answers count one token a
word of text (at least one an input) and one a token id; Gemini's report no usage, as Gemini's do.
"""

from __future__ import annotations

import base64
import hashlib
import math
import struct
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from aiohttp import web

from bench.fake_upstream.dialects import OPENAI, Dialect, Target
from bench.fake_upstream.gemini_dialect import GEMINI
from bench.fake_upstream.openai_dialect import RequestError, dumps
from bench.fake_upstream.recording import read_and_record
from bench.fake_upstream.server import _admit, _Admitted, _error, json_response

DEFAULT_DIMENSIONS = 8
MAX_DIMENSIONS = 4096
BATCH_EMBED = "batchEmbedContents"


def embedding(item: str | list[int], dimensions: int = DEFAULT_DIMENSIONS) -> list[float]:
    """The unit vector the fake upstream gives `item` (a text or a token array), as float32
    values (what base64 carries) so that both encodings decode to the same numbers."""
    seed = item if isinstance(item, str) else dumps(item)
    values = []
    for index in range(dimensions):
        digest = hashlib.sha256(f"{index}:{seed}".encode()).digest()
        values.append(int.from_bytes(digest[:4], "big") / 2**31 - 1)
    norm = math.sqrt(sum(value * value for value in values)) or 1.0
    return [struct.unpack("<f", struct.pack("<f", value / norm))[0] for value in values]


def input_tokens(item: str | list[int]) -> int:
    """The tokens an OpenAI answer counts for one input."""
    return len(item) if isinstance(item, list) else max(len(item.split()), 1)


def _dimensions(value: object, param: str) -> int:
    if value is None:
        return DEFAULT_DIMENSIONS
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= MAX_DIMENSIONS:
        raise RequestError(f"{param} must be an integer from 1 to {MAX_DIMENSIONS}", param=param)
    return value


def _openai_inputs(body: dict[str, Any]) -> list[str | list[int]]:
    value = body.get("input")
    if isinstance(value, str) or (
        isinstance(value, list) and value and all(isinstance(item, int) for item in value)
    ):
        return [value]
    if isinstance(value, list) and value and all(isinstance(item, str | list) for item in value):
        return value
    raise RequestError("'input' must be a string, strings or token arrays", param="input")


def openai_body(body: dict[str, Any], model: str) -> bytes:
    """The answer to an OpenAI embeddings body for `model` (as requested, directive and all),
    `encoding_format` honoured."""
    inputs = _openai_inputs(body)
    dimensions = _dimensions(body.get("dimensions"), "dimensions")
    as_base64 = body.get("encoding_format") == "base64"
    data = []
    for index, item in enumerate(inputs):
        vector: list[float] | str = embedding(item, dimensions)
        if as_base64:
            vector = base64.b64encode(struct.pack(f"<{dimensions}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": vector})
    tokens = sum(map(input_tokens, inputs))
    usage = {"prompt_tokens": tokens, "total_tokens": tokens}
    return dumps({"object": "list", "data": data, "model": model, "usage": usage}).encode()


def gemini_body(body: dict[str, Any], model: str) -> bytes:
    """The answer to a `batchEmbedContents` body for the URL's `model`: one `values` list a
    request, each of which must name that model."""
    requests = body.get("requests")
    if not isinstance(requests, list) or not requests:
        raise RequestError("requests is not specified", param="requests")
    embeddings = []
    for position, request in enumerate(requests):
        where = f"requests[{position}]"
        if not isinstance(request, dict) or request.get("model") != f"models/{model}":
            raise RequestError(f"{where}.model must be models/{model}", param=where)
        parts = (request.get("content") or {}).get("parts")
        if not isinstance(parts, list) or not parts:
            raise RequestError(f"{where}.content.parts is not specified", param=where)
        text = " ".join(str(part.get("text", "")) for part in parts if isinstance(part, dict))
        size = _dimensions(request.get("outputDimensionality"), f"{where}.outputDimensionality")
        embeddings.append({"values": embedding(text, size)})
    return dumps({"embeddings": embeddings}).encode()


def _gemini_target(request: web.Request, body: dict[str, Any]) -> Target:
    return Target(request.match_info["model"], False)


GEMINI_EMBED = replace(GEMINI, target=_gemini_target)


async def _embed(
    request: web.Request, dialect: Dialect, render: Callable[[dict[str, Any], str], bytes]
) -> web.StreamResponse:
    record, body = await read_and_record(request)
    admitted = await _admit(request, record, body, dialect)
    if not isinstance(admitted, _Admitted):
        response = admitted
    else:
        try:
            response = json_response(200, render(admitted.body, admitted.target.model))
        except RequestError as exc:
            response = _error(dialect, 400, exc.message, param=exc.param)
    if record["outcome"] is None:
        record["outcome"] = "ok" if response.status < 400 else "error"
    return response


async def openai_embeddings(request: web.Request) -> web.StreamResponse:
    """Serve OpenAI's ``POST /v1/embeddings``."""
    return await _embed(request, OPENAI, openai_body)


async def gemini_embeddings(request: web.Request) -> web.StreamResponse:
    """Serve Gemini's ``POST /v1beta/models/{model}:batchEmbedContents``."""
    return await _embed(request, GEMINI_EMBED, gemini_body)


def add_routes(app: web.Application) -> None:
    """Route both dialects' embeddings (before Gemini's catch-all ``{model_method}``)."""
    app.router.add_post("/v1/embeddings", openai_embeddings)
    app.router.add_post("/v1beta/models/{model}:" + BATCH_EMBED, gemini_embeddings)
