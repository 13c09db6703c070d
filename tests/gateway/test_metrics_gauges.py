"""Gauges tell the present (#13.4): a scrape of /metrics shows each channel's probed status and
breakers as they are now, with no request in between to refresh them."""

import re

import httpx
import openai
import pytest
from django.test import override_settings

from bench.fake_upstream import fault_model
from channels.probes import ProbeResult
from channels.services import channel_record_probe

MESSAGES = [{"role": "user", "content": "hi"}]


def gauge(text: str, family: str, **labels: str) -> float:
    """The value of one sample of `family` with exactly `labels`."""
    wanted = ",".join(f'{name}="{value}"' for name, value in labels.items())
    match = re.search(rf"^{family}\{{{re.escape(wanted)}\}} (\S+)$", text, re.MULTILINE)
    assert match, f"no {family}{{{wanted}}} in the scrape"
    return float(match.group(1))


def scrape(gateway) -> str:
    response = httpx.get(gateway.url + "/metrics", timeout=10)
    assert response.status_code == 200
    return response.text


def test_a_channel_probed_down_without_traffic_shows_down_at_the_next_scrape(gateway):
    channel = gateway.channel("probed")
    gateway.client().chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert gauge(scrape(gateway), "switchyard_channel_status", channel="probed") == 0  # unknown

    failed = ProbeResult(ok=False, status_code=401, latency_ms=5, error="HTTP 401")
    channel_record_probe(channel=channel, result=failed)  # a 401 takes it down at once

    assert gauge(scrape(gateway), "switchyard_channel_status", channel="probed") == 2


@override_settings(BREAKER_FAILURE_THRESHOLD=2, BREAKER_COOLDOWN=60)
def test_breakers_show_at_every_scrape_for_the_channel_and_for_one_model(gateway):
    gateway.channel("shaky", models={"tm-a": fault_model("a", status=503)}, priority=5)
    gateway.channel("half", models={"tm-a": "a", "tm-typo": fault_model("t", status=404)})
    client = gateway.client().with_options(max_retries=0)
    for _ in range(2):
        client.chat.completions.create(model="tm-a", messages=MESSAGES)  # shaky fails, half serves
        with pytest.raises(openai.NotFoundError):
            client.chat.completions.create(model="tm-typo", messages=MESSAGES)

    text = scrape(gateway)

    assert gauge(text, "switchyard_breaker_state", channel="shaky") == 2
    assert gauge(text, "switchyard_breaker_state", channel="half") == 0
    assert gauge(text, "switchyard_model_breaker_state", channel="half", model="tm-typo") == 2
    # Closed ones are written too, so whichever process serves a scrape overwrites every label.
    assert gauge(text, "switchyard_model_breaker_state", channel="half", model="tm-a") == 0
