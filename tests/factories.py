"""factory_boy factories for the project's models, writing through the services where it matters."""

from decimal import Decimal
from typing import Any

import factory
from django.utils import timezone

from billing.models import Account, ApiKey, UsageRecord
from billing.services import api_key_issue
from channels.models import ApiType, Channel, ChannelModel
from channels.services import channel_set_api_key
from core.usage import UsageStatus


class AccountFactory(factory.django.DjangoModelFactory[Account]):
    class Meta:
        model = Account

    name = factory.Sequence(lambda n: f"account-{n}")


class ChannelFactory(factory.django.DjangoModelFactory[Channel]):
    class Meta:
        model = Channel
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"channel-{n}")
    provider = "openai"
    api_type = ApiType.OPENAI
    base_url = "https://api.example.com/v1"

    @factory.post_generation
    def api_key(channel: Channel, create: bool, extracted: str | None, **kwargs: Any) -> None:
        """Pass `api_key="…"` to store an encrypted secret."""
        if extracted:
            channel_set_api_key(channel=channel, api_key=extracted)
            if create:
                channel.save()


class ChannelModelFactory(factory.django.DjangoModelFactory[ChannelModel]):
    class Meta:
        model = ChannelModel

    channel = factory.SubFactory(ChannelFactory)
    model = factory.Sequence(lambda n: f"model-{n}")
    input_price = Decimal("1.5")
    output_price = Decimal("2")


class ApiKeyFactory(factory.django.DjangoModelFactory[ApiKey]):
    """Creates a key with real key material; the secret is on `key.secret` for the test."""

    class Meta:
        model = ApiKey

    account = factory.SubFactory(AccountFactory)
    name = factory.Sequence(lambda n: f"key-{n}")

    @classmethod
    def _create(cls, model_class: type[ApiKey], *args: Any, **kwargs: Any) -> ApiKey:
        key = model_class(**kwargs)
        key.secret = api_key_issue(key=key)  # type: ignore[attr-defined]
        return key


class UsageRecordFactory(factory.django.DjangoModelFactory[UsageRecord]):
    class Meta:
        model = UsageRecord

    id = factory.Sequence(lambda n: f"req_{n:08d}")
    created_at = factory.LazyFunction(timezone.now)
    key = factory.SubFactory(ApiKeyFactory)
    account = factory.SelfAttribute("key.account")
    model = "gpt-4o-mini"
    served_model = "gpt-4o-mini"
    provider = "openai"
    status = UsageStatus.OK
    http_status = 200
    prompt_tokens = 10
    completion_tokens = 20
    cost = Decimal("0.00001")
