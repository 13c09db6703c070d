"""Channel writes: secrets encrypted at rest and rotatable, models replaced as a whole."""

from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test import override_settings

from channels.crypto import SecretDecryptionError, decrypt_secret
from channels.models import Channel
from channels.selectors import channel_api_key
from channels.services import (
    ModelOffer,
    channel_create,
    channel_update,
)

SECRET = "sk-upstream-0123456789abcdefXYZ"

pytestmark = pytest.mark.django_db


def raw_secret_column(channel: Channel) -> str:
    """The secret column as stored, read past the ORM."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT api_key_encrypted FROM channels_channel WHERE id = %s", [channel.pk])
        return str(cursor.fetchone()[0])


def make_channel(**overrides: Any) -> Channel:
    fields = {
        "name": "openai-main",
        "provider": "openai",
        "api_type": "openai",
        "base_url": "https://api.openai.com/v1",
        "api_key": SECRET,
    }
    return channel_create(**(fields | overrides))


def test_secret_is_encrypted_in_the_database_column():
    channel = make_channel()

    stored = raw_secret_column(channel)
    assert SECRET not in stored
    assert "0123456789abcdef" not in stored
    assert channel_api_key(channel=Channel.objects.get(pk=channel.pk)) == SECRET


def test_hint_reveals_only_the_last_characters():
    channel = make_channel()

    assert channel.api_key_hint == "••••fXYZ"
    assert SECRET[:-4] not in channel.api_key_hint


def test_short_secret_hint_reveals_nothing():
    channel = make_channel(api_key="abc123")

    assert channel.api_key_hint == "••••"


def test_channel_without_secret_has_empty_key():
    channel = make_channel(api_key="")

    assert channel.api_key_encrypted == ""
    assert channel_api_key(channel=channel) == ""


def test_key_rotation_keeps_old_secrets_readable_and_reencrypts_them():
    channel = make_channel()
    old_keys = list(settings.SWITCHYARD_ENCRYPTION_KEYS)
    new_key = Fernet.generate_key().decode()

    with override_settings(SWITCHYARD_ENCRYPTION_KEYS=[new_key, *old_keys]):
        assert channel_api_key(channel=channel) == SECRET
        out = StringIO()
        call_command("rotate_channel_secrets", stdout=out)
        assert "Re-encrypted 1 channel secret(s)" in out.getvalue()

    with override_settings(SWITCHYARD_ENCRYPTION_KEYS=[new_key]):
        assert channel_api_key(channel=Channel.objects.get(pk=channel.pk)) == SECRET

    with pytest.raises(SecretDecryptionError):
        decrypt_secret(raw_secret_column(channel))


def test_unknown_key_cannot_decrypt_and_says_so_without_the_secret():
    channel = make_channel()

    with (
        override_settings(SWITCHYARD_ENCRYPTION_KEYS=[Fernet.generate_key().decode()]),
        pytest.raises(SecretDecryptionError) as error,
    ):
        channel_api_key(channel=channel)
    assert SECRET not in str(error.value)


def test_update_replaces_secret_and_models_only_when_given():
    channel = make_channel(
        models=[ModelOffer(model="gpt-4o", input_price=Decimal("2.5"), output_price=Decimal(10))]
    )

    channel_update(channel=channel, fields={"priority": 5})
    channel.refresh_from_db()
    assert channel.priority == 5
    assert channel_api_key(channel=channel) == SECRET
    assert [m.model for m in channel.models.all()] == ["gpt-4o"]

    channel_update(
        channel=channel,
        fields={},
        api_key="sk-new-secret-value-000",
        models=[ModelOffer(model="gpt-4o-mini"), ModelOffer(model="o3", upstream_model="o3-x")],
    )
    channel.refresh_from_db()
    assert channel_api_key(channel=channel) == "sk-new-secret-value-000"
    served = {m.model: m.upstream_name for m in channel.models.all()}
    assert served == {"gpt-4o-mini": "gpt-4o-mini", "o3": "o3-x"}
