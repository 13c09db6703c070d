"""`GET /v1/key`: a key's own limits, spend this period, and its account's balance."""

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


def test_the_key_sees_its_limits_spend_and_balance(gateway):
    gateway.channel("main", price=("1", "2"))
    expires = timezone.now() + timedelta(days=3)
    key = gateway.new_key(
        spend_limit=Decimal(5),
        limit_reset="weekly",
        rpm_limit=60,
        tpm_limit=10_000,
        expires_at=expires,
    )
    with gateway.http(key) as client:
        assert client.post("/v1/chat/completions", json=BODY).status_code == 200
        cost = gateway.record().cost
        for prefix in ("/v1", "/api/v1", "/openai/v1"):
            response = client.get(f"{prefix}/key")
            assert response.status_code == 200

    data = response.json()["data"]
    assert data["name"] == "extra"
    assert key.startswith(data["prefix"])
    assert Decimal(data["spend"]) == cost > 0
    assert Decimal(data["spend_limit"]) == 5
    assert Decimal(data["limit_remaining"]) == 5 - cost
    assert data["limit_reset"] == "weekly"
    assert Decimal(data["account_balance"]) == 100 - cost
    assert (data["rpm_limit"], data["tpm_limit"]) == (60, 10_000)
    assert data["expires_at"].startswith(expires.date().isoformat())
    assert "key_hash" not in data


def test_a_key_without_limits_shows_nulls(gateway):
    with gateway.http() as client:
        data = client.get("/v1/key").json()["data"]

    assert data["spend"] == "0"
    assert data["spend_limit"] is data["limit_remaining"] is data["limit_reset"] is None
    assert data["account_balance"] == "100"


def test_the_key_view_needs_a_valid_key(gateway):
    with gateway.http("sk-sy-not-a-real-key") as client:
        response = client.get("/v1/key")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


def test_right_after_a_response_the_key_and_the_generation_show_it(gateway):
    """No waiting between the answer and the reads: they agree with what admission does next."""
    gateway.channel("main", price=("1", "2"))
    # Room for five short answers (each reserves its prompt's bound, ~100 tokens, plus 5), not for
    # a request without max_tokens.
    key = gateway.new_key(spend_limit=Decimal("0.001"))
    costs = []
    with gateway.http(key) as client:
        for _ in range(5):
            response = client.post("/v1/chat/completions", json=BODY | {"max_tokens": 5})
            assert response.status_code == 200
            generation = client.get(f"/v1/generation?id={response.headers['x-request-id']}")
            assert generation.status_code == 200, "the generation is there at once"
            costs.append(Decimal(generation.json()["data"]["cost"]))
        refused = [client.post("/v1/chat/completions", json=BODY) for _ in range(2)]
        data = client.get("/v1/key").json()["data"]

    assert [r.status_code for r in refused] == [402, 402]
    assert Decimal(data["spend"]) == sum(costs) > 0
    assert Decimal(data["limit_remaining"]) == Decimal("0.001") - sum(costs)
