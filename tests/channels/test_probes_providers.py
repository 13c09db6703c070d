"""Health probes of Anthropic and Gemini channels, in their own protocols, on the fake upstream."""

from collections.abc import Iterator
from typing import Any

import pytest

from bench.fake_upstream import running_fake_upstream
from bench.fake_upstream.faults import fault_model
from bench.fake_upstream.harness import FakeUpstream
from channels.models import ApiType, Channel, ChannelStatus, HealthCheck, ProbeMode
from channels.services import channel_probe
from tests.factories import ChannelFactory, ChannelModelFactory

pytestmark = pytest.mark.django_db

SECRET = "probe-provider-secret-0123456789"
WRONG = "not-the-provider-secret-987654321"
# api_type → (models path, key header, completion path of model "m")
PROTOCOLS = {
    ApiType.ANTHROPIC: ("/v1/models", "x-api-key", "/v1/messages"),
    ApiType.GEMINI: ("/v1beta/models", "x-goog-api-key", "/v1beta/models/m:generateContent"),
}
API_TYPES = pytest.mark.parametrize("api_type", list(PROTOCOLS), ids=str)


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with running_fake_upstream(api_key=SECRET) as up:
        yield up


@pytest.fixture(autouse=True)
def _health_settings(settings: Any) -> None:
    settings.HEALTH_PROBE_TIMEOUT = 2.0
    settings.HEALTH_FAILURE_THRESHOLD = 3


def provider_channel(upstream: FakeUpstream, api_type: str, **fields: Any) -> Channel:
    fields.setdefault("api_key", SECRET)
    channel = ChannelFactory.create(api_type=api_type, base_url=upstream.url, **fields)
    upstream.clear_requests()
    return channel


def probe(channel: Channel) -> HealthCheck:
    check = channel_probe(channel=channel)
    channel.refresh_from_db()
    return check


@API_TYPES
def test_models_probe_lists_the_models_with_the_protocols_key_header(upstream, api_type):
    channel = provider_channel(upstream, api_type)

    check = probe(channel)

    assert (check.ok, check.status_code, check.error) == (True, 200, "")
    assert channel.status == ChannelStatus.HEALTHY
    [sent] = upstream.requests
    path, header, _ = PROTOCOLS[api_type]
    assert (sent["method"], sent["path"]) == ("GET", path)
    assert sent["headers"][header] == SECRET
    assert "authorization" not in sent["headers"]


@API_TYPES
def test_completion_probe_asks_for_one_token(upstream, api_type):
    channel = provider_channel(upstream, api_type, probe_mode=ProbeMode.COMPLETION)
    ChannelModelFactory(channel=channel, model="public", upstream_model="m")

    assert probe(channel).ok

    [sent] = upstream.requests
    assert (sent["method"], sent["path"]) == ("POST", PROTOCOLS[api_type][2])
    if api_type == ApiType.ANTHROPIC:
        assert (sent["body"]["model"], sent["body"]["max_tokens"]) == ("m", 1)
        assert sent["headers"]["anthropic-version"] == "2023-06-01"
    else:
        assert sent["body"]["generationConfig"] == {"maxOutputTokens": 1}
        assert sent["body"]["contents"] == [{"role": "user", "parts": [{"text": "ping"}]}]


@API_TYPES
def test_a_refused_key_takes_the_channel_down_and_is_never_shown(upstream, api_type):
    channel = provider_channel(upstream, api_type, api_key=WRONG)

    check = probe(channel)

    assert (check.ok, check.status_code) == (False, 401)
    assert channel.status == ChannelStatus.DOWN
    assert "Incorrect API key" in check.error
    assert WRONG not in check.error


def test_overloaded_anthropic_probe_reports_the_error_type(upstream):
    channel = provider_channel(upstream, ApiType.ANTHROPIC, probe_mode=ProbeMode.COMPLETION)
    ChannelModelFactory(channel=channel, upstream_model=fault_model("m", status=529))

    check = probe(channel)

    assert (check.ok, check.status_code) == (False, 529)
    assert check.error == "HTTP 529: Fake upstream injected HTTP 529 fault (overloaded_error)"
    assert channel.consecutive_failures == 1


def test_rate_limited_gemini_probe_reports_the_status_name(upstream):
    channel = provider_channel(upstream, ApiType.GEMINI, probe_mode=ProbeMode.COMPLETION)
    ChannelModelFactory(channel=channel, upstream_model=fault_model("m", status=429))

    check = probe(channel)

    assert check.error == "HTTP 429: Fake upstream injected HTTP 429 fault (RESOURCE_EXHAUSTED)"
