"""No overspend, whatever the prompt: admission holds the bound of what an upstream can bill for
the prompt (bytes, not the ~4 characters a token estimate), OpenAI-compatible upstreams always
get the answer cap that was reserved, and an account or key below zero admits nothing — end to
end, with reservations in Redis and (without REDIS_URL) in the database."""

import asyncio
from decimal import Decimal

import httpx
import orjson
import pytest
from django.utils import timezone

from bench.fake_upstream import fault_model, reply_text
from billing.models import ApiKey, LedgerKind
from billing.pricing import Prices, usage_cost, usage_cost_bound
from billing.services import account_create, account_credit, api_key_create, ledger_post
from channels.services import ModelOffer, channel_create
from core.usage import Usage
from gateway import catalog
from gateway.estimate import estimate_prompt_tokens, prompt_tokens_bound
from tests.gateway.conftest import CHANNEL_SECRET_PREFIX, Gateway

WORST_CASES = 20
CONCURRENT = 100
MAX_TOKENS = 100
DENSE = "a " * 1000
"""2,000 bytes the fake upstream bills as 1,003 tokens counting words, 2,003 counting bytes; the
old estimate said 504."""
PRICES = Prices(input=Decimal(1), output=Decimal(2))
FREE = ("0", "0")


def _channel(
    gateway: Gateway,
    upstream_model: str,
    *,
    price: tuple[str, str] = ("1", "2"),
    max_output_tokens: int | None = None,
) -> None:
    channel_create(
        name="main",
        provider="openai",
        api_type="openai",
        base_url=gateway.upstream.base_url,
        api_key=CHANNEL_SECRET_PREFIX + "main",
        models=[
            ModelOffer(
                model="gpt-4o-mini",
                upstream_model=upstream_model,
                input_price=Decimal(price[0]),
                output_price=Decimal(price[1]),
                max_output_tokens=max_output_tokens,
            )
        ],
    )
    catalog.invalidate_catalog()


def _body(*, stream: bool, capped_by: str) -> dict[str, object]:
    body: dict[str, object] = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": DENSE}],
    }
    if capped_by == "client":
        body["max_tokens"] = MAX_TOKENS
    if stream:
        body |= {"stream": True, "stream_options": {"include_usage": True}}
    return body


def _worst_case(body: dict[str, object], *, estimated: bool = False) -> Decimal:
    """What admission holds for one request (or, `estimated`, held before the bound)."""
    if estimated:
        prompt = estimate_prompt_tokens(body)
        return usage_cost(Usage(prompt_tokens=prompt, completion_tokens=MAX_TOKENS), PRICES)
    prompt = prompt_tokens_bound(body, body_bytes=len(orjson.dumps(body)))
    return usage_cost_bound(Usage(prompt_tokens=prompt, completion_tokens=MAX_TOKENS), PRICES)


async def _post_many(url: str, key: str, body: dict[str, object]) -> list[httpx.Response]:
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as client:
        return await asyncio.gather(
            *(client.post("/v1/chat/completions", json=body) for _ in range(CONCURRENT))
        )


def _answer(response: httpx.Response, *, stream: bool) -> tuple[str, str]:
    """The answer's text and finish reason, streamed or not."""
    if not stream:
        choice = response.json()["choices"][0]
        return choice["message"]["content"], choice["finish_reason"]
    data = [line[6:] for line in response.text.split("\n") if line.startswith("data: ")]
    assert data[-1] == "[DONE]"
    chunks = [orjson.loads(item) for item in data[:-1]]
    assert not [chunk for chunk in chunks if "error" in chunk]
    text = "".join(
        choice["delta"].get("content") or "" for chunk in chunks for choice in chunk["choices"]
    )
    reasons = [
        c["finish_reason"] for chunk in chunks for c in chunk["choices"] if c["finish_reason"]
    ]
    return text, reasons[-1]


@pytest.mark.parametrize("capped_by", ["client", "channel"])
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_a_hundred_dense_prompts_never_spend_more_than_the_credit(
    gateway, reservations, stream, capped_by
):
    # The upstream bills a token a byte of the prompt (the most any tokenizer makes of it) and
    # answers at length: every admitted request costs its worst case, as closely as can be.
    upstream = fault_model(
        "gpt-4o-mini", prompt_tokens="bytes", words=10 * MAX_TOKENS, latency_ms=1500
    )
    _channel(gateway, upstream, max_output_tokens=MAX_TOKENS if capped_by == "channel" else None)
    body = _body(stream=stream, capped_by=capped_by)
    credit = WORST_CASES * _worst_case(body)
    account = account_create(name="twenty")
    account_credit(account=account, amount=credit)
    _, key = api_key_create(account=account, name="k")

    responses = asyncio.run(_post_many(gateway.url, key, body))

    answered = [r for r in responses if r.status_code == 200]
    assert len(answered) == WORST_CASES
    assert {r.status_code for r in responses if r.status_code != 200} == {402}
    for response in answered:
        assert _answer(response, stream=stream) == (reply_text(MAX_TOKENS), "length")
    records = gateway.wait_records(CONCURRENT)
    served = [record for record in records if record.http_status == 200]
    assert {(r.prompt_tokens, r.completion_tokens) for r in served} == {(3 + 2000, MAX_TOKENS)}
    charged = sum((record.cost for record in records), Decimal(0))
    assert charged <= credit
    assert charged > 2 * WORST_CASES * _worst_case(body, estimated=True)  # what was overspent
    account.refresh_from_db()
    assert account.balance >= 0
    assert account.balance == credit - charged
    assert {r["body"].get("max_tokens") for r in gateway.received()} == {MAX_TOKENS}


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_without_max_tokens_the_upstream_gets_the_cap_that_was_reserved(gateway, settings, stream):
    settings.GATEWAY_DEFAULT_MAX_TOKENS = 30
    _channel(gateway, fault_model("gpt-4o-mini", words=1000))

    with gateway.http() as client:
        response = client.post("/v1/chat/completions", json=_body(stream=stream, capped_by="none"))

    assert response.status_code == 200, response.text
    assert _answer(response, stream=stream) == (reply_text(30), "length")
    [sent] = gateway.received()
    assert sent["body"]["max_tokens"] == 30
    assert "max_completion_tokens" not in sent["body"]
    assert gateway.record().completion_tokens == 30


def _free_request(key: str, gateway: Gateway) -> httpx.Response:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
    with gateway.http(key) as client:
        return client.post("/v1/chat/completions", json=body)


@pytest.mark.parametrize(
    ("balance", "status"),
    [(Decimal("-0.01"), 402), (Decimal(0), 200)],
    ids=["overdrawn", "empty"],
)
def test_an_overdrawn_account_is_refused_even_a_free_model(gateway, reservations, balance, status):
    _channel(gateway, "gpt-4o-mini", price=FREE)
    account = account_create(name="overdrawn")
    if balance:
        ledger_post(account=account, kind=LedgerKind.ADJUSTMENT, amount=balance)
    _, key = api_key_create(account=account, name="k")

    response = _free_request(key, gateway)

    assert response.status_code == status, response.text
    assert len(gateway.received()) == (status == 200)
    record = gateway.record()
    assert (record.http_status, record.cost) == (status, 0)


@pytest.mark.parametrize(
    ("spent", "status"),
    [(Decimal("1.01"), 402), (Decimal(1), 200)],
    ids=["over-its-limit", "at-its-limit"],
)
def test_a_key_over_its_limit_is_refused_even_a_free_model(gateway, reservations, spent, status):
    _channel(gateway, "gpt-4o-mini", price=FREE)
    key = gateway.new_key(spend_limit=Decimal(1), limit_reset="monthly")
    ApiKey.objects.filter(pk=ApiKey.objects.latest("created_at").pk).update(
        spend_in_period=spent, period_started_at=timezone.now()
    )

    response = _free_request(key, gateway)

    assert response.status_code == status, response.text
    if status == 402:
        assert "spend limit" in response.json()["error"]["message"]
    assert len(gateway.received()) == (status == 200)
