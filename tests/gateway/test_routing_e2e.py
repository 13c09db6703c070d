"""Routing through the real endpoint: OpenRouter's `provider` object, `models`, priority tiers.

Each channel serves the public model under its own upstream name, so what the fake upstream
received tells which channels were called, in which order.
"""

from decimal import Decimal
from typing import Any

import openai
import pytest
from django.test import override_settings

from bench.fake_upstream import fault_model
from billing.models import UsageRecord
from tests.gateway.conftest import Gateway

MODEL = "gpt-4o-mini"
MESSAGES = [{"role": "user", "content": "Say hello to the gateway"}]
REPLY = "Hello from the fake upstream, this is deterministic."


def setup_providers(gateway: Gateway, failing: tuple[str, ...] = (), **prices: Any) -> None:
    """Three channels of three providers; `failing` ones answer 503.

    Default order (priority): alpha (openai) > beta (azure) > gamma (together).
    Prices: alpha the dearest, gamma the cheapest.
    """
    specs = [
        ("alpha", "openai", 3, ("3", "6")),
        ("beta", "azure", 2, ("2", "4")),
        ("gamma", "together", 1, ("1", "2")),
    ]
    for name, provider, priority, price in specs:
        upstream = upstream_of(name, failing)
        gateway.channel(
            name,
            provider=provider,
            models={MODEL: upstream},
            priority=priority,
            price=prices.get(name, price),
        )


def upstream_of(name: str, failing: tuple[str, ...] = ()) -> str:
    """The upstream model name the channel `name` is called with."""
    base = f"{name}-model"
    return fault_model(base, status=503) if name in failing else base


def ask(
    gateway: Gateway, *, stream: bool = False, model: str = MODEL, **extra_body: Any
) -> dict[str, Any]:
    """One request with OpenRouter fields in `extra_body`; text, model, headers, usage."""
    client: Any = gateway.client()
    raw = client.chat.completions.with_raw_response.create(
        model=model,
        messages=MESSAGES,
        stream=stream,
        extra_body=extra_body or None,
        **({"stream_options": {"include_usage": True}} if stream else {}),
    )
    if not stream:
        completion = raw.parse()
        return {
            "text": completion.choices[0].message.content,
            "model": completion.model,
            "provider": completion.model_extra["provider"],
            "headers": raw.headers,
        }
    chunks = list(raw.parse())
    assert len({c.model for c in chunks}) == 1
    return {
        "text": "".join(c.choices[0].delta.content or "" for c in chunks if c.choices),
        "model": chunks[0].model,
        "provider": chunks[0].model_extra["provider"],
        "headers": raw.headers,
    }


def fail(gateway: Gateway, **extra_body: Any) -> openai.APIStatusError:
    with pytest.raises(openai.APIStatusError) as caught:
        ask(gateway, **extra_body)
    return caught.value


def called(gateway: Gateway) -> list[str]:
    """The upstream model names called, in order."""
    return [request["body"]["model"] for request in gateway.received()]


def attempts(record: UsageRecord) -> list[tuple[str, str]]:
    return [(a["channel"], a["outcome"]) for a in record.attempts]


def assert_served(gateway: Gateway, answer: dict[str, Any], channel: str, provider: str) -> None:
    """The answer came from `channel`, and its record says so."""
    assert answer["text"] == REPLY
    assert answer["headers"]["x-switchyard-channel"] == channel
    assert answer["provider"] == provider
    record = gateway.record()
    assert (record.status, record.http_status) == ("ok", 200)
    assert record.provider == provider
    assert record.channel is not None
    assert record.channel.name == channel
    assert record.attempts[-1]["channel"] == channel


# --- provider.only / ignore ---------------------------------------------------------------


def test_only_keeps_the_listed_providers(gateway):
    setup_providers(gateway)

    answer = ask(gateway, provider={"only": ["Azure"]})

    assert_served(gateway, answer, "beta", "azure")
    assert called(gateway) == [upstream_of("beta")]
    assert attempts(gateway.record()) == [("beta", "ok")]


def test_only_never_falls_back_outside_the_list(gateway):
    setup_providers(gateway, failing=("beta",))

    error = fail(gateway, provider={"only": ["azure"]})

    assert error.status_code == 503
    assert error.code == "all_channels_failed"
    assert called(gateway) == [upstream_of("beta", ("beta",))]
    record = gateway.record()
    assert (record.http_status, record.error_code) == (503, "all_channels_failed")
    assert attempts(record) == [("beta", "server_error")]


def test_ignore_drops_providers(gateway):
    setup_providers(gateway)

    answer = ask(gateway, provider={"ignore": ["openai", "AZURE"]})

    assert_served(gateway, answer, "gamma", "together")
    assert called(gateway) == [upstream_of("gamma")]
    assert gateway.record().input_price == Decimal(1)


# --- provider.order and allow_fallbacks ---------------------------------------------------


def test_order_tries_listed_providers_first(gateway):
    setup_providers(gateway)

    answer = ask(gateway, provider={"order": ["together", "azure"]})

    assert_served(gateway, answer, "gamma", "together")
    assert called(gateway) == [upstream_of("gamma")]


def test_order_with_fallbacks_continues_in_default_order(gateway):
    setup_providers(gateway, failing=("gamma", "beta"))

    answer = ask(gateway, provider={"order": ["together", "azure"]})

    assert_served(gateway, answer, "alpha", "openai")
    failing = ("gamma", "beta")
    assert called(gateway) == [
        upstream_of("gamma", failing),
        upstream_of("beta", failing),
        upstream_of("alpha"),
    ]
    assert attempts(gateway.record()) == [
        ("gamma", "server_error"),
        ("beta", "server_error"),
        ("alpha", "ok"),
    ]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_order_without_fallbacks_fails_when_the_ordered_provider_fails(gateway, stream):
    setup_providers(gateway, failing=("gamma",))

    with pytest.raises(openai.APIStatusError) as caught:
        ask(gateway, stream=stream, provider={"order": ["together"], "allow_fallbacks": False})

    error = caught.value
    assert error.status_code == 503
    assert error.code == "all_channels_failed"
    assert called(gateway) == [upstream_of("gamma", ("gamma",))], "nothing outside order"
    record = gateway.record()
    assert (record.status, record.http_status, record.error_code) == (
        "error",
        503,
        "all_channels_failed",
    )
    assert attempts(record) == [("gamma", "server_error")]


def test_order_without_fallbacks_walks_the_order_list(gateway):
    setup_providers(gateway, failing=("gamma",))

    answer = ask(gateway, provider={"order": ["together", "azure"], "allow_fallbacks": False})

    assert_served(gateway, answer, "beta", "azure")
    assert called(gateway) == [upstream_of("gamma", ("gamma",)), upstream_of("beta")]
    assert attempts(gateway.record()) == [("gamma", "server_error"), ("beta", "ok")]


def test_no_fallbacks_without_order_tries_only_the_first_choice_provider(gateway):
    setup_providers(gateway, failing=("alpha",))

    error = fail(gateway, provider={"allow_fallbacks": False})

    assert error.status_code == 503
    assert error.code == "all_channels_failed"
    assert called(gateway) == [upstream_of("alpha", ("alpha",))]
    assert attempts(gateway.record()) == [("alpha", "server_error")]


def test_no_fallbacks_without_order_serves_from_the_first_choice(gateway):
    setup_providers(gateway)

    answer = ask(gateway, provider={"allow_fallbacks": False})

    assert_served(gateway, answer, "alpha", "openai")
    assert called(gateway) == [upstream_of("alpha")]


def test_sibling_channels_of_one_provider_are_tried_without_fallbacks(gateway):
    failing = fault_model("openai-1-model", status=503)
    gateway.channel("openai-1", provider="openai", models={MODEL: failing}, priority=3)
    gateway.channel("openai-2", provider="openai", models={MODEL: "openai-2-model"}, priority=2)
    gateway.channel("azure", provider="azure", models={MODEL: "azure-model"}, priority=1)

    answer = ask(gateway, provider={"allow_fallbacks": False})

    assert_served(gateway, answer, "openai-2", "openai")
    assert called(gateway) == [failing, "openai-2-model"]
    assert attempts(gateway.record()) == [("openai-1", "server_error"), ("openai-2", "ok")]


def test_sibling_channels_with_order_and_no_fallbacks(gateway):
    first = fault_model("openai-1-model", status=500)
    second = fault_model("openai-2-model", status=529)
    gateway.channel("openai-1", provider="openai", models={MODEL: first}, priority=1)
    gateway.channel("openai-2", provider="openai", models={MODEL: second}, priority=1)
    gateway.channel("azure", provider="azure", models={MODEL: "azure-model"}, priority=5)

    error = fail(gateway, provider={"order": ["openai"], "allow_fallbacks": False})

    assert error.status_code == 503
    assert sorted(called(gateway)) == sorted([first, second]), "both siblings, never azure"
    record = gateway.record()
    assert sorted(attempts(record)) == [("openai-1", "server_error"), ("openai-2", "server_error")]


# --- sort and max_price -------------------------------------------------------------------


def test_sort_by_price_replaces_the_default_order(gateway):
    setup_providers(gateway)

    answer = ask(gateway, provider={"sort": "price"})

    assert_served(gateway, answer, "gamma", "together")
    assert called(gateway) == [upstream_of("gamma")]
    record = gateway.record()
    assert (record.input_price, record.output_price) == (Decimal(1), Decimal(2))


def test_sort_by_price_falls_back_in_price_order(gateway):
    setup_providers(gateway, failing=("gamma",))

    answer = ask(gateway, provider={"sort": {"by": "price"}})

    assert_served(gateway, answer, "beta", "azure")
    assert called(gateway) == [upstream_of("gamma", ("gamma",)), upstream_of("beta")]


def test_max_price_drops_pricier_channels(gateway):
    setup_providers(gateway)

    answer = ask(gateway, provider={"max_price": {"prompt": 2, "completion": 4}})

    assert_served(gateway, answer, "beta", "azure")
    assert called(gateway) == [upstream_of("beta")]


def test_max_price_never_falls_back_to_a_pricier_channel(gateway):
    setup_providers(gateway, failing=("gamma",))

    error = fail(gateway, provider={"max_price": {"completion": 2.5}})

    assert error.status_code == 503
    assert called(gateway) == [upstream_of("gamma", ("gamma",))]
    assert attempts(gateway.record()) == [("gamma", "server_error")]


def test_max_price_below_every_channel_is_no_available_channel(gateway):
    setup_providers(gateway)

    error = fail(gateway, provider={"max_price": {"prompt": 0.5}})

    assert isinstance(error, openai.NotFoundError)
    assert error.code == "no_available_channel"
    assert "max_price" in error.message
    assert called(gateway) == []
    record = gateway.record()
    assert (record.http_status, record.error_code, record.attempts) == (
        404,
        "no_available_channel",
        [],
    )


# --- priority tiers and weights -----------------------------------------------------------


def test_the_higher_priority_tier_serves(gateway):
    gateway.channel("low", models={MODEL: "low-model"}, priority=0, weight=100)
    gateway.channel("high", models={MODEL: "high-model"}, priority=10, weight=1)

    for _ in range(5):
        ask(gateway)

    assert called(gateway) == ["high-model"] * 5
    found = gateway.wait_records(5)
    assert {r.channel.name for r in found} == {"high"}
    assert all(attempts(r) == [("high", "ok")] for r in found)


def test_the_lower_tier_serves_when_the_higher_fails(gateway):
    failing = fault_model("high-model", status=503)
    gateway.channel("low", models={MODEL: "low-model"}, priority=0)
    gateway.channel("high", models={MODEL: failing}, priority=10)

    answer = ask(gateway)

    assert_served(gateway, answer, "low", "openai")
    assert called(gateway) == [failing, "low-model"]


def test_a_zero_weight_channel_is_only_a_spare(gateway):
    gateway.channel("spare", models={MODEL: "spare-model"}, weight=0)
    gateway.channel("main", models={MODEL: "main-model"}, weight=1)

    for _ in range(5):
        ask(gateway)

    assert called(gateway) == ["main-model"] * 5
    assert {r.channel.name for r in gateway.wait_records(5)} == {"main"}


def test_attempts_are_bounded_by_max_attempts(gateway):
    for index in range(4):
        gateway.channel(
            f"c{index}", models={MODEL: fault_model(f"c{index}-model", status=503)}, priority=index
        )

    with override_settings(GATEWAY_MAX_ATTEMPTS=2):
        error = fail(gateway)

    assert error.status_code == 503
    assert called(gateway) == ["c3-model@status=503", "c2-model@status=503"]
    assert attempts(gateway.record()) == [("c3", "server_error"), ("c2", "server_error")]


# --- models fallback ----------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_models_fallback_serves_the_next_model(gateway, stream):
    primary_a = fault_model("primary-a", status=503)
    primary_b = fault_model("primary-b", status=429)
    gateway.channel("primary-1", models={"model-a": primary_a}, priority=1)
    gateway.channel("primary-2", models={"model-a": primary_b}, priority=0)
    gateway.channel("fallback", provider="azure", models={"model-b": "fallback-b"})
    gateway.channel("unused", models={"model-c": "unused-c"})

    answer = ask(gateway, stream=stream, model="model-a", models=["model-b", "model-c"])

    assert answer["text"] == REPLY
    assert answer["model"] == "model-b"
    assert answer["headers"]["x-switchyard-channel"] == "fallback"
    assert called(gateway) == [primary_a, primary_b, "fallback-b"]
    record = gateway.record()
    assert (record.model, record.served_model) == ("model-a", "model-b")
    assert (record.status, record.http_status, record.provider) == ("ok", 200, "azure")
    assert attempts(record) == [
        ("primary-1", "server_error"),
        ("primary-2", "rate_limited"),
        ("fallback", "ok"),
    ]


def test_models_fallback_is_not_used_when_the_primary_works(gateway):
    gateway.channel("primary", models={"model-a": "primary-a"})
    gateway.channel("fallback", models={"model-b": "fallback-b"})

    answer = ask(gateway, model="model-a", models=["model-b"])

    assert answer["model"] == "model-a"
    assert called(gateway) == ["primary-a"]
    record = gateway.record()
    assert (record.model, record.served_model) == ("model-a", "model-a")


def test_models_fallback_skips_models_the_key_may_not_use(gateway):
    gateway.channel("primary", models={"model-a": fault_model("primary-a", status=503)})
    gateway.channel("secret", models={"model-b": "secret-b"})
    gateway.channel("open", models={"model-c": "open-c"})
    key = gateway.new_key(allowed_models=["model-a", "model-c"])

    completion = gateway.client(key=key).chat.completions.create(
        model="model-a", messages=MESSAGES, extra_body={"models": ["model-b", "model-c"]}
    )

    assert completion.model == "model-c"
    assert called(gateway) == ["primary-a@status=503", "open-c"]
    assert gateway.record().served_model == "model-c"


def test_provider_filters_apply_to_fallback_models_too(gateway):
    gateway.channel("primary", models={"model-a": fault_model("primary-a", status=503)})
    gateway.channel("fb-openai", provider="openai", models={"model-b": "fb-openai-b"}, priority=1)
    gateway.channel("fb-azure", provider="azure", models={"model-b": "fb-azure-b"}, priority=0)

    answer = ask(gateway, model="model-a", models=["model-b"], provider={"ignore": ["azure"]})

    assert answer["model"] == "model-b"
    assert answer["headers"]["x-switchyard-channel"] == "fb-openai"
    assert called(gateway) == ["primary-a@status=503", "fb-openai-b"]
