"""A channel's secret never shows in the repr of what carries it (an offer, an upstream target
or request): a log line, a traceback's locals or a debugger never print it."""

import pytest

from channels.adapters import adapter_for
from channels.adapters.base import UpstreamTarget
from gateway.schemas import Offer

SECRET = "sk-upstream-never-printed-0123456789"


def test_an_offer_does_not_show_its_secret():
    offer = Offer(
        channel_id=1,
        channel_name="main",
        provider="openai",
        api_type="openai",
        base_url="https://api.example.com/v1",
        api_key=SECRET,
        model="gpt-4o-mini",
        upstream_model="gpt-4o-mini",
    )

    assert SECRET not in repr(offer)
    assert "main" in repr(offer)
    assert offer.api_key == SECRET


@pytest.mark.parametrize("api_type", ["openai", "anthropic", "gemini"])
def test_an_upstream_target_and_request_do_not_show_the_secret(api_type):
    target = UpstreamTarget("https://api.example.com/v1", SECRET, "some-model", 100)
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}

    request = adapter_for(api_type).build_request(body=body, target=target, stream=False)

    assert SECRET not in repr(target)
    assert SECRET not in repr(request)
    assert SECRET in str(request.headers) + request.url  # it is sent, only not printed
