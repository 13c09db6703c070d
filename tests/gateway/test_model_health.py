"""Health where the failure is (#13.1): an upstream that does not know one model trips that
channel-model only, never its sibling models, and the client is told so with a 404 it does not
retry; channel-wide failures still take the whole channel out."""

import openai
import pytest
from django.test import override_settings

from bench.fake_upstream import fault_model
from gateway import breakers

MESSAGES = [{"role": "user", "content": "hi"}]
TYPO = fault_model("tm-typo-upstream", status=404)


def called(gateway) -> list[str]:
    return [request["body"]["model"] for request in gateway.received()]


def ask(gateway, model: str) -> str:
    completion = gateway.client().chat.completions.create(model=model, messages=MESSAGES)
    return str(completion.choices[0].message.content)


@override_settings(BREAKER_FAILURE_THRESHOLD=2, BREAKER_COOLDOWN=60)
def test_a_model_unknown_upstream_never_takes_its_sibling_down(gateway):
    channel = gateway.channel("one", models={"tm-good": "tm-good", "tm-typo": TYPO})
    client = gateway.client().with_options(max_retries=2)

    errors = []
    for _ in range(4):
        with pytest.raises(openai.NotFoundError) as caught:
            client.chat.completions.create(model="tm-typo", messages=MESSAGES)
        errors.append(caught.value)
    served = [ask(gateway, "tm-good") for _ in range(3)]

    assert {error.code for error in errors} == {"model_not_found_upstream"}
    assert "tm-typo" in errors[0].message
    # Two 404s open the channel-model's breaker: later requests are told without an upstream
    # call; a 404 is not retried by the SDK, so each request reached the upstream at most once.
    assert called(gateway) == [TYPO, TYPO, "tm-good", "tm-good", "tm-good"]
    assert all(served)
    assert breakers.state_of(channel.pk) == "closed"
    assert breakers.state_of(channel.pk, "tm-typo") == "open"
    records = gateway.wait_records(7)
    assert [r.http_status for r in records[:4]] == [404] * 4
    assert {r.error_code for r in records[:4]} == {"model_not_found_upstream"}


@override_settings(BREAKER_FAILURE_THRESHOLD=2, BREAKER_COOLDOWN=60)
def test_another_channel_serves_the_model_one_upstream_does_not_know(gateway):
    gateway.channel("stale", models={"tm-x": fault_model("x-old", status=404)}, priority=10)
    gateway.channel("fresh", models={"tm-x": "x-new"})

    answers = [ask(gateway, "tm-x") for _ in range(4)]

    assert all(answers)
    x_old = fault_model("x-old", status=404)
    assert called(gateway) == [x_old, "x-new", x_old, "x-new", "x-new", "x-new"]


@override_settings(BREAKER_FAILURE_THRESHOLD=2, BREAKER_COOLDOWN=60)
def test_channel_wide_failures_still_open_the_channel_for_every_model(gateway):
    channel = gateway.channel(
        "broken",
        models={"tm-a": fault_model("a", status=503), "tm-b": fault_model("b", status=503)},
    )
    client = gateway.client().with_options(max_retries=0)

    for _ in range(2):
        with pytest.raises(openai.InternalServerError):
            client.chat.completions.create(model="tm-a", messages=MESSAGES)
    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model="tm-b", messages=MESSAGES)

    assert caught.value.code == "no_healthy_channel"
    assert breakers.state_of(channel.pk) == "open"
    assert len(called(gateway)) == 2
