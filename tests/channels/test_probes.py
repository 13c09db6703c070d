"""Active health probes: the probe, what it records, the test endpoint and action."""

import socket
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from django.contrib.auth.models import User
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from bench.fake_upstream import running_fake_upstream
from bench.fake_upstream.faults import fault_model
from bench.fake_upstream.harness import FakeUpstream
from channels.models import Channel, ChannelStatus, HealthCheck, ProbeMode
from channels.probes import ProbeResult, probe_channel, probe_delay
from channels.services import channel_probe, channel_record_probe
from tests.factories import ChannelFactory, ChannelModelFactory

pytestmark = pytest.mark.django_db

SECRET = "sk-probe-0123456789-SECRETabcdef"
WRONG_SECRET = "sk-wrong-9876543210-NOPEwxyz"
PLAIN_SECRET = "plain-upstream-secret-42"  # no scrub pattern recognises it


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with running_fake_upstream(api_key=SECRET) as up:
        yield up


@pytest.fixture(autouse=True)
def _health_settings(settings: Any) -> None:
    settings.HEALTH_PROBE_INTERVAL = 60
    settings.HEALTH_FAILURE_THRESHOLD = 3
    settings.HEALTH_MAX_BACKOFF = 900
    settings.HEALTH_PROBE_TIMEOUT = 2.0


def closed_port_url() -> str:
    """An API root nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def probe(channel: Channel) -> HealthCheck:
    """Probe and record, as the task does; the channel is refreshed from the database."""
    check = channel_probe(channel=channel)
    channel.refresh_from_db()
    return check


def test_models_probe_passes_and_marks_the_channel_healthy(upstream: FakeUpstream) -> None:
    channel = ChannelFactory.create(base_url=upstream.base_url, api_key=SECRET)
    upstream.clear_requests()

    check = probe(channel)

    assert (check.ok, check.status_code, check.error) == (True, 200, "")
    assert check.latency_ms is not None
    assert channel.status == ChannelStatus.HEALTHY
    assert channel.status_changed_at == check.checked_at
    assert channel.next_probe_at == check.checked_at + timedelta(seconds=60)
    [sent] = upstream.requests
    assert (sent["method"], sent["path"]) == ("GET", "/v1/models")
    headers = {name.lower(): value for name, value in sent["headers"].items()}
    assert headers["authorization"] == f"Bearer {SECRET}"


def test_completion_probe_asks_the_first_model_for_one_token(upstream: FakeUpstream) -> None:
    channel = ChannelFactory.create(
        base_url=upstream.base_url, api_key=SECRET, probe_mode=ProbeMode.COMPLETION
    )
    ChannelModelFactory(channel=channel, model="openai/gpt-4o-mini", upstream_model="gpt-4o-mini")
    ChannelModelFactory(channel=channel, model="another", upstream_model="another-upstream")
    upstream.clear_requests()

    assert probe(channel).ok
    [sent] = upstream.requests
    assert (sent["method"], sent["path"]) == ("POST", "/v1/chat/completions")
    assert sent["body"]["model"] == "gpt-4o-mini"
    assert sent["body"]["max_tokens"] == 1
    assert sent["body"]["messages"] == [{"role": "user", "content": "ping"}]


def test_completion_probe_reports_the_upstream_status(upstream: FakeUpstream) -> None:
    channel = ChannelFactory.create(
        base_url=upstream.base_url, api_key=SECRET, probe_mode=ProbeMode.COMPLETION
    )
    ChannelModelFactory(channel=channel, upstream_model=fault_model("gpt-4o-mini", status=503))

    check = probe(channel)

    assert (check.ok, check.status_code) == (False, 503)
    assert check.error.startswith("HTTP 503: ")
    assert channel.consecutive_failures == 1
    assert channel.status == ChannelStatus.UNKNOWN  # one failure is not enough


def test_completion_probe_without_models_fails() -> None:
    channel = ChannelFactory.create(probe_mode=ProbeMode.COMPLETION)
    result = probe_channel(channel)
    assert not result.ok
    assert "no model" in result.error


def test_invalid_credentials_take_the_channel_down_at_once(upstream: FakeUpstream) -> None:
    channel = ChannelFactory.create(base_url=upstream.base_url, api_key=WRONG_SECRET)

    check = probe(channel)

    assert (check.ok, check.status_code) == (False, 401)
    assert channel.status == ChannelStatus.DOWN
    assert channel.status_reason == "invalid credentials: upstream answered 401"
    assert WRONG_SECRET not in check.error


def test_k_failures_take_it_down_and_a_pass_brings_it_back(upstream: FakeUpstream) -> None:
    channel = ChannelFactory.create(base_url=closed_port_url(), api_key=SECRET)

    first, second = probe(channel), probe(channel)
    assert (first.ok, first.status_code, second.ok) == (False, None, False)
    assert first.error.startswith("connection failed")
    assert channel.status == ChannelStatus.UNKNOWN
    probe(channel)
    assert channel.status == ChannelStatus.DOWN
    assert channel.status_reason.startswith("3 failed probes in a row: connection failed")
    assert channel.consecutive_failures == 3

    channel.base_url = upstream.base_url
    channel.save(update_fields=["base_url"])
    check = probe(channel)

    assert check.ok
    assert (channel.status, channel.status_reason, channel.consecutive_failures) == (
        ChannelStatus.HEALTHY,
        "",
        0,
    )
    assert channel.status_changed_at == check.checked_at
    assert HealthCheck.objects.filter(channel=channel).count() == 4


@pytest.mark.parametrize(
    ("interval", "failures", "delay"),
    [
        (None, 0, 60),
        (None, 3, 60),
        (None, 4, 120),
        (None, 5, 240),
        (None, 6, 480),
        (None, 7, 900),
        (None, 1000, 900),
        (10, 2, 10),
        (10, 5, 40),
        (1200, 9, 1200),  # an interval above the cap is never shortened
    ],
)
def test_backoff_grows_past_the_threshold_and_caps(
    interval: int | None, failures: int, delay: int
) -> None:
    assert probe_delay(channel=Channel(probe_interval=interval), failures=failures) == delay


def test_next_probe_time_follows_the_backoff() -> None:
    channel = ChannelFactory.create()
    now = timezone.now()
    failed = ProbeResult(ok=False, status_code=503, latency_ms=5, error="HTTP 503: overloaded")
    gaps = []
    for _ in range(6):
        channel_record_probe(channel=channel, result=failed, now=now)
        gaps.append((channel.next_probe_at - now).total_seconds() if channel.next_probe_at else 0)
    assert gaps == [60, 60, 60, 120, 240, 480]


def test_status_changed_at_moves_only_on_a_change() -> None:
    channel = ChannelFactory.create()
    passed = ProbeResult(ok=True, status_code=200, latency_ms=3, error="")
    first = timezone.now()
    channel_record_probe(channel=channel, result=passed, now=first)
    channel_record_probe(channel=channel, result=passed, now=first + timedelta(minutes=1))
    channel.refresh_from_db()
    assert channel.status_changed_at == first


def test_protocols_without_an_adapter_are_not_probed_and_keep_their_status() -> None:
    channel = ChannelFactory.create(api_type="cohere", consecutive_failures=2)

    check = probe(channel)

    assert not check.ok
    assert check.error == "probing cohere channels is not supported"
    assert (channel.status, channel.consecutive_failures) == (ChannelStatus.UNKNOWN, 2)


@pytest.mark.parametrize("secret", [SECRET, PLAIN_SECRET])
def test_secrets_never_reach_the_health_check(secret: str) -> None:
    def echo_key(request: httpx.Request) -> httpx.Response:
        sent = request.headers["authorization"]
        message = f"Incorrect API key provided: {sent.removeprefix('Bearer ')} ({sent})"
        return httpx.Response(401, json={"error": {"message": message}})

    channel = ChannelFactory.create(api_key=secret)
    with httpx.Client(transport=httpx.MockTransport(echo_key)) as client:
        result = probe_channel(channel, client=client)
    check = channel_record_probe(channel=channel, result=result)

    assert check.status_code == 401
    assert check.error.startswith("HTTP 401: Incorrect API key provided: ")
    assert secret not in check.error
    assert secret[:12] not in check.error


def test_timeouts_are_short_errors() -> None:
    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("read timed out", request=request)

    with httpx.Client(transport=httpx.MockTransport(hang)) as client:
        result = probe_channel(ChannelFactory.create(), client=client)
    assert (result.ok, result.status_code, result.error) == (False, None, "timed out after 2 s")


def test_long_upstream_errors_are_cut() -> None:
    def verbose(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, text="x" * 5000)

    with httpx.Client(transport=httpx.MockTransport(verbose)) as client:
        result = probe_channel(ChannelFactory.create(), client=client)
    assert len(result.error) <= 500


# The test endpoint and the admin action.


def test_endpoint_probes_now_and_returns_the_result(
    staff_client: APIClient, upstream: FakeUpstream
) -> None:
    channel = ChannelFactory.create(base_url=upstream.base_url, api_key=SECRET)

    response = staff_client.post(f"/api/admin/channels/{channel.pk}/test/")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"ok", "status_code", "latency_ms", "error", "checked_at", "status"}
    assert (body["ok"], body["status_code"], body["error"], body["status"]) == (
        True,
        200,
        "",
        "healthy",
    )
    assert isinstance(body["latency_ms"], int)
    check = HealthCheck.objects.get(channel=channel)
    assert body["checked_at"].replace("Z", "+00:00") == check.checked_at.isoformat()


def test_endpoint_reports_a_failure_and_the_resulting_status(
    staff_client: APIClient, upstream: FakeUpstream
) -> None:
    channel = ChannelFactory.create(base_url=upstream.base_url, api_key=WRONG_SECRET)

    body = staff_client.post(f"/api/admin/channels/{channel.pk}/test/").json()

    assert (body["ok"], body["status_code"], body["status"]) == (False, 401, "down")
    assert WRONG_SECRET not in body["error"]


def test_endpoint_is_for_staff_only(staff_client: APIClient) -> None:
    channel = ChannelFactory.create()
    url = f"/api/admin/channels/{channel.pk}/test/"
    assert APIClient().post(url).status_code == 401
    user = User.objects.create_user("customer", password="customer-pass")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    assert client.post(url).status_code == 403
    assert staff_client.post("/api/admin/channels/999999/test/").status_code == 404
    assert not HealthCheck.objects.exists()


@pytest.fixture
def admin_client(db: None) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", password="root-pass"))
    return client


def test_admin_test_now_action_reports_each_channel(
    admin_client: Client, upstream: FakeUpstream
) -> None:
    good = ChannelFactory.create(name="good", base_url=upstream.base_url, api_key=SECRET)
    bad = ChannelFactory.create(name="bad", base_url=upstream.base_url, api_key=WRONG_SECRET)

    response = admin_client.post(
        reverse("admin:channels_channel_changelist"),
        {"action": "test_channels", "_selected_action": [good.pk, bad.pk]},
        follow=True,
    )

    assert response.status_code == 200
    texts = sorted(str(message) for message in get_messages(response.wsgi_request))
    assert texts[0].startswith("bad: failed (HTTP 401: ")
    assert texts[0].endswith("status down")
    assert texts[1].startswith("good: ok, HTTP 200 in ")
    assert HealthCheck.objects.count() == 2
    page = admin_client.get(reverse("admin:channels_channel_change", args=[bad.pk])).content
    assert b"invalid credentials: upstream answered 401" in page
    assert b"Consecutive failures" in page
    assert b"Next probe at" in page
    assert WRONG_SECRET.encode() not in page
