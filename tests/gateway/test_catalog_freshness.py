"""Routing changes take effect within GATEWAY_CATALOG_SECONDS, idle or not (#13.3): after a
quiet spell, a disabled channel, a changed price and a new model are seen by the very next
requests once the bound has passed — no request has to come first and trigger a reload."""

import time
from decimal import Decimal

from django.test import override_settings

from channels.models import Channel, ChannelModel
from channels.services import ModelOffer, channel_models_replace, channels_set_enabled
from gateway.catalog import UNKNOWN_MODEL_RECHECK_SECONDS, invalidate_catalog

MESSAGES = [{"role": "user", "content": "hi"}]
BOUND = 1.0


def ask(gateway, model: str = "gpt-4o-mini"):
    raw = gateway.client().chat.completions.with_raw_response.create(model=model, messages=MESSAGES)
    return raw.headers["x-switchyard-channel"], raw.parse()


@override_settings(GATEWAY_CATALOG_SECONDS=BOUND)
def test_a_channel_disabled_after_an_idle_spell_serves_nothing_once_the_bound_passed(gateway):
    first = gateway.channel("first", priority=10)
    gateway.channel("second")
    assert ask(gateway)[0] == "first"
    time.sleep(3 * BOUND)  # idle: no request reloads anything

    channels_set_enabled(channels=Channel.objects.filter(pk=first.pk), enabled=False)
    time.sleep(BOUND)
    served = [ask(gateway)[0] for _ in range(10)]

    assert served == ["second"] * 10


@override_settings(GATEWAY_CATALOG_SECONDS=BOUND)
def test_a_price_changed_after_an_idle_spell_is_billed_once_the_bound_passed(gateway):
    channel = gateway.channel("priced", price=("1", "2"))
    ask(gateway)
    time.sleep(3 * BOUND)

    ChannelModel.objects.filter(channel=channel).update(
        input_price=Decimal(1000), output_price=Decimal(2000)
    )
    time.sleep(BOUND)
    for _ in range(5):
        ask(gateway)

    records = gateway.wait_records(6)
    changed = [r for r in records if r.input_price == Decimal(1000)]
    assert len(changed) == 5
    assert all(r.cost > 0 and r.output_price == Decimal(2000) for r in changed)


@override_settings(GATEWAY_CATALOG_SECONDS=10)
def test_a_model_created_a_moment_ago_is_served_on_its_first_request(gateway):
    channel = gateway.channel("grows", models={"tm-old": "tm-old"})
    ask(gateway, "tm-old")  # a snapshot without tm-new; the timer's next reload is 5 s away

    channel_models_replace(
        channel=channel,
        offers=[
            ModelOffer(model="tm-old", upstream_model="tm-old"),
            ModelOffer(model="tm-new", upstream_model="tm-new"),
        ],
    )
    # Past the recheck's second, whenever the timer last reloaded (a tick left by an earlier
    # test's shorter bound may fire): a snapshot without tm-new is then over a second old.
    time.sleep(UNKNOWN_MODEL_RECHECK_SECONDS + 0.2)
    served_by, completion = ask(gateway, "tm-new")

    assert served_by == "grows"
    assert completion.model == "tm-new"


def test_a_channel_whose_secret_no_longer_decrypts_is_left_out_and_named_once(gateway, caplog):
    """After a key rotation gone wrong, the other channels still serve (not a 503 for all)."""
    broken = gateway.channel("rotated-away", priority=10)
    gateway.channel("still-fine")
    Channel.objects.filter(pk=broken.pk).update(api_key_encrypted="gAAAAA-not-a-fernet-token")

    served = [ask(gateway)[0] for _ in range(5)]
    invalidate_catalog()
    served.append(ask(gateway)[0])

    assert served == ["still-fine"] * 6
    named = [r for r in caplog.records if "rotated-away" in r.getMessage()]
    assert len(named) == 1
    assert "cannot be decrypted" in named[0].getMessage()
