"""The fake upstream's embeddings over real HTTP: OpenAI's `/v1/embeddings` and Gemini's
`:batchEmbedContents` answer deterministic unit vectors, check the key and obey fault
directives like the chat routes."""

from __future__ import annotations

import base64
import math
import struct
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from bench.fake_upstream import FakeUpstream, fault_model, running_fake_upstream
from bench.fake_upstream.embeddings import DEFAULT_DIMENSIONS, embedding

KEY = "fake-embeddings-key"
OPENAI_HEADERS = {"Authorization": f"Bearer {KEY}"}
GEMINI_HEADERS = {"x-goog-api-key": KEY}


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with running_fake_upstream(api_key=KEY) as up:
        yield up


@pytest.fixture
def http(upstream: FakeUpstream) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=upstream.url, timeout=10) as client:
        yield client


def openai_embed(http: httpx.Client, headers=OPENAI_HEADERS, **body: Any) -> httpx.Response:
    return http.post("/v1/embeddings", json={"model": "emb", **body}, headers=headers)


def gemini_embed(
    http: httpx.Client, model: str = "gem", texts=("one", "two"), headers=GEMINI_HEADERS, **extra
) -> httpx.Response:
    requests = [
        {"model": f"models/{model}", "content": {"parts": [{"text": text}]}, **extra}
        for text in texts
    ]
    return http.post(
        f"/v1beta/models/{model}:batchEmbedContents", json={"requests": requests}, headers=headers
    )


def test_openai_vectors_are_unit_length_deterministic_and_counted(http):
    answer = openai_embed(http, input=["a few words here", "one"]).json()

    vectors = [item["embedding"] for item in answer["data"]]
    assert vectors == [embedding("a few words here"), embedding("one")]
    assert vectors[0] != vectors[1]
    assert all(len(v) == DEFAULT_DIMENSIONS for v in vectors)
    assert all(math.isclose(math.hypot(*v), 1, rel_tol=1e-6) for v in vectors)
    assert answer["usage"] == {"prompt_tokens": 4 + 1, "total_tokens": 5}


def test_openai_base64_and_dimensions(http):
    answer = openai_embed(http, input=[1, 2, 3], encoding_format="base64", dimensions=3).json()

    raw = base64.b64decode(answer["data"][0]["embedding"])
    assert list(struct.unpack("<3f", raw)) == embedding([1, 2, 3], 3)
    assert answer["usage"]["prompt_tokens"] == 3


def test_gemini_answers_values_and_no_usage(http):
    answer = gemini_embed(http, outputDimensionality=4).json()

    assert answer == {"embeddings": [{"values": embedding(text, 4)} for text in ("one", "two")]}


def test_gemini_requests_must_name_the_urls_model(http):
    response = http.post(
        "/v1beta/models/gem:batchEmbedContents",
        json={"requests": [{"model": "models/other", "content": {"parts": [{"text": "x"}]}}]},
        headers=GEMINI_HEADERS,
    )

    assert response.status_code == 400
    assert response.json()["error"]["status"] == "INVALID_ARGUMENT"


def test_both_check_the_key(http):
    wrong_openai = openai_embed(http, headers={"Authorization": "Bearer wrong"}, input="x")
    wrong_gemini = gemini_embed(http, headers={"x-goog-api-key": "wrong"})

    assert (wrong_openai.status_code, wrong_gemini.status_code) == (401, 401)


def test_fault_directives_apply(http):
    refused = openai_embed(http, model=fault_model("emb", status=429, retry_after=2), input="x")
    failing = gemini_embed(http, model=fault_model("gem", status=503))

    assert (refused.status_code, refused.headers["retry-after"]) == (429, "2")
    assert failing.status_code == 503
    assert failing.json()["error"]["status"] == "UNAVAILABLE"
