"""`POST /v1/embeddings` end to end: the openai SDK as the client, OpenAI-compatible and Gemini
channels of the fake upstream, through the same pipeline as the chat door (records, cost,
reservations, fallbacks)."""

from decimal import Decimal

import openai
import pytest

from bench.fake_upstream import fault_model
from bench.fake_upstream.embeddings import DEFAULT_DIMENSIONS, embedding, input_tokens
from reports.rollup import usage_rollup_run
from tests.gateway.conftest import CHANNEL_SECRET_PREFIX
from tests.gateway.providers_helpers import provider_channel, sent

MODEL = "acme/embed"
OPENAI_UPSTREAM = "text-embedding-3-small"
GEMINI_UPSTREAM = "gemini-embedding-001"
PRICE = ("3", "7", None)  # USD per 1M tokens: input, output (never billed), cached
TEXTS = ["The gateway embeds text", "and token arrays"]
TOKENS = [[101, 2023, 2003], [7, 8]]


def openai_channel(gateway, name="openai", upstream_model=OPENAI_UPSTREAM, **options):
    return provider_channel(
        gateway,
        name,
        api_type="openai",
        upstream_model=upstream_model,
        model=MODEL,
        price=PRICE,
        **options,
    )


def gemini_channel(gateway, name="gemini", upstream_model=GEMINI_UPSTREAM, **options):
    return provider_channel(
        gateway,
        name,
        api_type="gemini",
        upstream_model=upstream_model,
        model=MODEL,
        price=PRICE,
        **options,
    )


def cost(tokens):
    return Decimal(tokens) * Decimal(PRICE[0]) / 1_000_000


def embed(gateway, **params):
    """Embeddings through the SDK, with the raw response's headers."""
    params.setdefault("model", MODEL)
    raw = gateway.client().embeddings.with_raw_response.create(**params)
    return raw.parse(), raw.headers


def refused(gateway, key=None, **params) -> openai.APIStatusError:
    params.setdefault("model", MODEL)
    with pytest.raises(openai.APIStatusError) as caught:
        gateway.client(key).embeddings.create(**params)
    return caught.value


def vectors(answer):
    assert [item.index for item in answer.data] == list(range(len(answer.data)))
    return [item.embedding for item in answer.data]


@pytest.mark.parametrize(
    "given",
    ["One text to embed", TEXTS, TOKENS[0], TOKENS],
    ids=["string", "strings", "token-array", "token-arrays"],
)
def test_openai_channel_embeds_every_input_shape(gateway, given):
    openai_channel(gateway)
    items = given if isinstance(given, list) and not isinstance(given[0], int) else [given]
    tokens = sum(map(input_tokens, items))

    answer, headers = embed(gateway, input=given)  # the SDK asks for base64 and decodes it

    assert vectors(answer) == [embedding(item) for item in items]
    assert answer.model == MODEL
    assert (answer.usage.prompt_tokens, answer.usage.total_tokens) == (tokens, tokens)
    assert Decimal(str(answer.usage.model_extra["cost"])) == cost(tokens)
    [request] = sent(gateway, "/v1/embeddings")
    assert request["headers"]["authorization"] == f"Bearer {CHANNEL_SECRET_PREFIX}openai"
    assert request["body"] == {
        "model": OPENAI_UPSTREAM,
        "input": given,
        "encoding_format": "base64",
    }
    record = gateway.record()
    assert (record.endpoint, record.status, record.model, record.stream) == (
        "embeddings", "ok", MODEL, False
    )  # fmt: skip
    assert (record.prompt_tokens, record.completion_tokens) == (tokens, 0)
    assert (record.usage_source, record.cost) == ("provider", cost(tokens))
    assert headers["x-switchyard-channel"] == "openai"
    assert headers["x-request-id"] == record.id


def test_openai_channel_floats_and_dimensions_pass_through(gateway):
    openai_channel(gateway)

    answer, _ = embed(gateway, input=TEXTS, encoding_format="float", dimensions=4, user="u-1")

    assert vectors(answer) == [embedding(text, 4) for text in TEXTS]
    [request] = sent(gateway, "/v1/embeddings")
    assert request["body"]["encoding_format"] == "float"
    assert (request["body"]["dimensions"], request["body"]["user"]) == (4, "u-1")
    assert gateway.record().user == "u-1"


def test_base64_asked_for_explicitly_comes_back_as_base64(gateway):
    openai_channel(gateway)
    provider_channel(
        gateway, "gem", api_type="gemini", upstream_model=GEMINI_UPSTREAM, model="acme/gem"
    )

    encoded = [
        gateway.client()
        .embeddings.create(model=model, input="Encode me", encoding_format="base64")
        .data[0]
        .embedding
        for model in (MODEL, "acme/gem")
    ]

    # Gemini gives floats, which the gateway encodes as OpenAI does: float32 little-endian.
    assert all(isinstance(value, str) for value in encoded)
    assert encoded[0] == encoded[1]
    assert sent(gateway, "/v1/embeddings")[0]["body"]["encoding_format"] == "base64"


def test_gemini_channel_embeds_texts_with_an_estimated_usage(gateway):
    gemini_channel(gateway)
    tokens = sum(-(-len(text) // 4) for text in TEXTS)  # the gateway's estimate: 4 chars a token

    answer, headers = embed(gateway, input=TEXTS, dimensions=5)

    assert vectors(answer) == [embedding(text, 5) for text in TEXTS]
    assert (answer.model, answer.usage.prompt_tokens) == (MODEL, tokens)
    assert Decimal(str(answer.usage.model_extra["cost"])) == cost(tokens)
    [request] = sent(gateway, "/v1beta/models/")
    assert request["path"] == f"/v1beta/models/{GEMINI_UPSTREAM}:batchEmbedContents"
    assert request["headers"]["x-goog-api-key"] == f"{CHANNEL_SECRET_PREFIX}gemini"
    assert request["body"] == {
        "requests": [
            {
                "model": f"models/{GEMINI_UPSTREAM}",
                "content": {"parts": [{"text": text}]},
                "outputDimensionality": 5,
            }
            for text in TEXTS
        ]
    }
    record = gateway.record()
    assert (record.endpoint, record.provider, headers["x-switchyard-channel"]) == (
        "embeddings", "gemini", "gemini"
    )  # fmt: skip
    assert (record.prompt_tokens, record.completion_tokens) == (tokens, 0)
    assert (record.usage_source, record.cost) == ("estimated", cost(tokens))


def test_gemini_channel_floats_keep_the_default_size(gateway):
    gemini_channel(gateway)

    answer, _ = embed(gateway, input="One text", encoding_format="float")

    assert vectors(answer) == [embedding("One text")]
    assert len(answer.data[0].embedding) == DEFAULT_DIMENSIONS
    [request] = sent(gateway, "/v1beta/models/")
    assert "outputDimensionality" not in request["body"]["requests"][0]


def test_token_arrays_to_gemini_are_refused_naming_input(gateway):
    gemini_channel(gateway)

    error = refused(gateway, input=TOKENS)

    assert isinstance(error, openai.BadRequestError)
    assert error.body["param"] == "input"
    assert "text only" in error.message
    assert sent(gateway, "/v1beta/") == []
    record = gateway.record()
    assert (record.endpoint, record.http_status, record.cost) == ("embeddings", 400, 0)


def test_a_failing_channel_falls_back_to_a_working_one(gateway):
    failing = fault_model(OPENAI_UPSTREAM, status=503)
    openai_channel(gateway, name="failing", upstream_model=failing, priority=1)
    gemini_channel(gateway, name="working", priority=0)

    answer, headers = embed(gateway, input="Fall back")

    assert vectors(answer) == [embedding("Fall back")]
    assert headers["x-switchyard-channel"] == "working"
    record = gateway.record()
    assert [(a["channel"], a["outcome"], a["http_status"]) for a in record.attempts] == [
        ("failing", "server_error", 503),
        ("working", "ok", 200),
    ]
    assert (record.endpoint, record.channel.name, record.status) == ("embeddings", "working", "ok")


def test_fallback_models_are_tried_after_the_model(gateway):
    openai_channel(gateway, upstream_model=fault_model(OPENAI_UPSTREAM, status=500))
    provider_channel(
        gateway, "backup", api_type="openai", upstream_model="backup-embed", model="acme/backup"
    )

    answer = gateway.client().embeddings.create(
        model=MODEL, input="Another model", extra_body={"models": ["acme/backup"]}
    )

    assert answer.model == "acme/backup"
    [_, second] = sent(gateway, "/v1/embeddings")
    assert second["body"] == {
        "model": "backup-embed",
        "input": "Another model",
        "encoding_format": "base64",
    }


def test_a_model_only_anthropic_serves_is_refused_clearly(gateway):
    provider_channel(
        gateway, "claude", api_type="anthropic", upstream_model="claude-x", model="acme/claude"
    )

    error = refused(gateway, model="acme/claude", input="No embeddings here")

    assert isinstance(error, openai.BadRequestError)
    assert error.body["param"] == "model"
    assert "makes no embeddings" in error.message
    assert "anthropic" in error.message
    assert sent(gateway, "/v1/") == []
    record = gateway.record()
    assert (record.endpoint, record.http_status, record.model) == ("embeddings", 400, "acme/claude")


def test_anthropic_channels_are_skipped_for_embeddings(gateway):
    provider_channel(
        gateway, "claude", api_type="anthropic", upstream_model="claude-x", model=MODEL, priority=5
    )
    openai_channel(gateway)

    _, headers = embed(gateway, input="Skip Claude")

    assert headers["x-switchyard-channel"] == "openai"
    assert [a["channel"] for a in gateway.record().attempts] == ["openai"]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({}, "input"),
        ({"input": ""}, "input"),
        ({"input": []}, "input"),
        ({"input": ["text", 3]}, "input"),
        ({"input": [[1, 2], []]}, "input"),
        ({"input": {"text": "no"}}, "input"),
        ({"input": [-1]}, "input"),
        ({"input": "ok", "encoding_format": "int8"}, "encoding_format"),
        ({"input": "ok", "dimensions": 0}, "dimensions"),
        ({"input": "ok", "models": "acme/other"}, "models"),
    ],
    ids=[
        "missing",
        "empty-string",
        "empty-list",
        "mixed",
        "empty-token-array",
        "object",
        "negative-token",
        "encoding",
        "dimensions",
        "models",
    ],
)
def test_invalid_requests_are_400_naming_the_field(gateway, body, param):
    openai_channel(gateway)

    with gateway.http() as http:
        response = http.post("/v1/embeddings", json={"model": MODEL, **body})

    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["type"], error["param"]) == ("invalid_request_error", param)
    assert f"'{param}'" in error["message"]
    assert sent(gateway, "/v1/") == []
    assert (gateway.record().endpoint, gateway.record().http_status) == ("embeddings", 400)


def test_a_key_without_credit_is_402_as_for_chat(gateway):
    openai_channel(gateway)
    broke = gateway.new_key(spend_limit=Decimal(0))

    error = refused(gateway, key=broke, input="No credit")

    assert error.status_code == 402
    assert error.body["code"] == "insufficient_quota"
    assert sent(gateway, "/v1/") == []
    record = gateway.record()
    assert (record.endpoint, record.http_status, record.cost) == ("embeddings", 402, 0)


def test_the_reservation_holds_the_input_only(gateway):
    """A limit that covers the input at its price, but not a chat answer, still embeds."""
    openai_channel(gateway)
    small = gateway.new_key(spend_limit=Decimal("0.001"))  # a chat answer would reserve 4096 x 7

    answer = gateway.client(small).embeddings.create(model=MODEL, input="Within the limit")

    assert answer.usage.prompt_tokens == input_tokens("Within the limit")
    with pytest.raises(openai.APIStatusError) as caught:
        gateway.client(small).chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "Hello"}]
        )
    assert caught.value.status_code == 402


def test_reports_show_embeddings_as_their_own_endpoint(gateway, staff_client):
    openai_channel(gateway)
    embed(gateway, input=TEXTS)
    gateway.client().chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Hello"}]
    )
    gateway.wait_records(2)
    usage_rollup_run()

    report = staff_client.get("/api/admin/reports/usage/", {"group_by": "endpoint"}).json()

    rows = {row["group"]: row for row in report["rows"]}
    assert {group: row["requests"] for group, row in rows.items()} == {"embeddings": 1, "chat": 1}
    tokens = sum(map(input_tokens, TEXTS))
    assert (rows["embeddings"]["prompt_tokens"], rows["embeddings"]["completion_tokens"]) == (
        tokens, 0
    )  # fmt: skip
    assert Decimal(rows["embeddings"]["cost"]) == cost(tokens)
