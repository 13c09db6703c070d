"""Capability-based routing: channel models declare what they cannot do (`unsupported`);
requests needing it skip them, and `provider.require_parameters` skips models that ignore a
parameter the request sets (pure routing, parsing, and end to end)."""

import random
from decimal import Decimal

import openai
import orjson
import pytest

from gateway.errors import InvalidRequest, NoAvailableChannel
from gateway.parsing import parse_chat_request
from gateway.routing import route_plan
from gateway.schemas import Offer, ProviderPreferences
from tests.gateway.providers_helpers import MESSAGES, MODEL, REPLY, WEATHER_TOOL, create
from tests.gateway.providers_helpers import provider_channel as channel

IMAGE = {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}
SCHEMA = {"type": "json_schema", "json_schema": {"name": "a", "schema": {"type": "object"}}}


def offer(channel_id: int, *unsupported: str) -> Offer:
    return Offer(
        channel_id=channel_id,
        channel_name=f"c{channel_id}",
        provider=f"p{channel_id}",
        api_type="openai",
        base_url="https://api.example.com/v1",
        api_key="",
        model=MODEL,
        upstream_model=MODEL,
        input_price=Decimal(1),
        priority=-channel_id,  # c1 first
        unsupported=frozenset(unsupported),
    )


def planned(preferences: ProviderPreferences, *offers: Offer) -> list[str]:
    attempts = route_plan(
        models=[MODEL],
        offers={MODEL: offers},
        preferences=preferences,
        health={},
        rng=random.Random(1),
        max_attempts=5,
    )
    return [attempt.channel_name for attempt in attempts]


def parsed(**body: object) -> ProviderPreferences:
    raw = {"model": MODEL, "messages": MESSAGES, **body}
    return parse_chat_request(orjson.dumps(raw)).provider


@pytest.mark.parametrize(
    ("body", "needs"),
    [
        ({}, set()),
        ({"tools": [WEATHER_TOOL]}, {"tools"}),
        ({"messages": [{"role": "user", "content": [IMAGE]}]}, {"vision"}),
        ({"response_format": SCHEMA}, {"json_schema"}),
        ({"response_format": {"type": "json_object"}}, set()),
    ],
    ids=["plain", "tools", "image", "json_schema", "json_object"],
)
def test_what_a_request_needs(body, needs):
    assert parsed(**body).needs == needs


def test_the_parameters_a_request_sets():
    preferences = parsed(seed=1, top_k=3, reasoning_effort="low", temperature=None)
    assert preferences.parameters == {"seed", "top_k", "reasoning"}
    assert preferences.require_parameters is False
    assert parsed(provider={"require_parameters": True}).require_parameters is True


def test_require_parameters_must_be_a_boolean():
    with pytest.raises(InvalidRequest, match=r"provider\.require_parameters"):
        parsed(provider={"require_parameters": "yes"})


@pytest.mark.parametrize(
    ("needs", "expected"),
    [
        (set(), ["c1", "c2", "c3"]),
        ({"tools"}, ["c2", "c3"]),
        ({"vision"}, ["c1", "c3"]),
        ({"tools", "vision"}, ["c3"]),
    ],
)
def test_channels_lacking_a_needed_capability_are_skipped(needs, expected):
    offers = (offer(1, "tools"), offer(2, "vision"), offer(3))
    assert planned(ProviderPreferences(needs=frozenset(needs)), *offers) == expected


def test_no_channel_with_the_capability_names_it():
    with pytest.raises(NoAvailableChannel, match=r"supports what the request uses: \['tools'\]"):
        planned(ProviderPreferences(needs=frozenset({"tools"})), offer(1, "tools"))


@pytest.mark.parametrize(
    ("require", "expected"), [(False, ["c1", "c2"]), (True, ["c2"])], ids=["default", "required"]
)
def test_ignored_parameters_only_matter_with_require_parameters(require, expected):
    preferences = ProviderPreferences(require_parameters=require, parameters=frozenset({"seed"}))
    assert planned(preferences, offer(1, "seed"), offer(2, "top_k")) == expected


# --- end to end -----------------------------------------------------------------------------


def test_a_tools_request_skips_the_model_without_tools(gateway):
    channel(
        gateway,
        "no-tools",
        api_type="anthropic",
        upstream_model="c",
        priority=10,
        unsupported=("tools",),
    )
    channel(gateway, "gemini", api_type="gemini", upstream_model="g")

    completion, headers = create(gateway, tools=[WEATHER_TOOL])
    plain, plain_headers = create(gateway)

    assert completion.choices[0].finish_reason == "tool_calls"
    assert headers["x-switchyard-channel"] == "gemini"
    assert plain.choices[0].message.content == REPLY
    assert plain_headers["x-switchyard-channel"] == "no-tools"


def test_nothing_that_can_do_it_is_a_404_naming_the_capability(gateway):
    channel(gateway, "blind", api_type="gemini", upstream_model="g", unsupported=("vision",))

    with pytest.raises(openai.NotFoundError) as caught:
        create(gateway, messages=[{"role": "user", "content": [IMAGE]}])

    assert caught.value.code == "no_available_channel"
    assert "vision" in caught.value.message
    assert gateway.upstream.requests == []


def test_require_parameters_routes_to_the_model_honouring_them(gateway):
    channel(
        gateway,
        "no-seed",
        api_type="openai",
        upstream_model="gpt-4o-mini",
        priority=10,
        unsupported=("seed",),
    )
    channel(gateway, "claude", api_type="anthropic", upstream_model="c")

    _, default = create(gateway, seed=3)
    _, required = create(gateway, seed=3, extra_body={"provider": {"require_parameters": True}})

    assert default["x-switchyard-channel"] == "no-seed"
    assert required["x-switchyard-channel"] == "claude"
