"""Admission's pure parts: the worst case a request reserves, and OpenAI's duration format."""

from decimal import Decimal

import orjson
import pytest

from gateway.admission import _duration, token_estimate, worst_case_cost
from gateway.parsing import parse_chat_request
from gateway.schemas import Offer

CHEAP = Offer(
    1, "cheap", "a", "openai", "u", "k", "m", "m", input_price=Decimal(1), output_price=Decimal(2)
)
DEAR = Offer(
    2,
    "dear",
    "b",
    "anthropic",
    "u",
    "k",
    "m",
    "m",
    input_price=Decimal(3),
    output_price=Decimal(15),
    max_output_tokens=8000,
)


def _chat(**fields):
    body = {"model": "m", "messages": [{"role": "user", "content": "x" * 400}], **fields}
    return parse_chat_request(orjson.dumps(body))


def test_the_worst_case_is_max_tokens_per_choice_at_the_dearest_offer():
    chat = _chat(max_tokens=1000, n=2)

    cost = worst_case_cost(chat, [CHEAP, DEAR], prompt_tokens=104)

    # The prompt at its dearest: all of it written to a 1-hour cache, 2x the input price.
    assert cost == (Decimal(104) * 3 * 2 + Decimal(2000) * 15) / 1_000_000


def test_without_max_tokens_the_channel_models_limit_or_the_default_is_reserved(settings):
    settings.GATEWAY_DEFAULT_MAX_TOKENS = 4096
    chat = _chat()

    assert worst_case_cost(chat, [CHEAP], prompt_tokens=0) == Decimal(4096 * 2) / 1_000_000
    assert worst_case_cost(chat, [DEAR], prompt_tokens=0) == Decimal(8000 * 15) / 1_000_000
    assert worst_case_cost(chat, [], prompt_tokens=10) == 0


def test_the_token_limit_is_charged_the_prompt_and_max_tokens_per_choice():
    assert token_estimate(_chat(max_tokens=50, n=3), prompt_tokens=104) == 254
    assert token_estimate(_chat(), prompt_tokens=104) == 104


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.02, "20ms"), (0, "0ms"), (1.5, "1.5s"), (59, "59s"), (360, "6m0s"), (61.25, "1m1.25s")],
)
def test_reset_durations_read_like_openais(seconds, text):
    assert _duration(seconds) == text
