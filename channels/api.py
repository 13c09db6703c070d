"""Management API for channels: `/api/admin/channels/` (list, create, get, patch, delete, test)."""

from typing import Any

from django.shortcuts import get_object_or_404
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from channels.models import CHANNEL_SETTINGS, UNSUPPORTED_CHOICES, Channel
from channels.selectors import channel_list, channels_live
from channels.services import (
    ModelOffer,
    channel_create,
    channel_delete,
    channel_probe,
    channel_update,
)
from config.permissions import model_perm
from core.api_fields import MoneyField
from core.pagination import paginated_response

DUPLICATE_MODEL = "Each model may appear only once per channel: {model!r} is repeated."
MODEL_REQUIRED = "This field is required."
NAME_TAKEN = "A live channel with this name already exists."
ARCHIVED_CHANNEL = "This channel is archived (deleted with usage history): it cannot be changed."
BAD_BOOLEAN = "Expected true or false."
BOOLEANS = {"true": True, "1": True, "false": False, "0": False, "": False}


class ChannelModelInput(serializers.Serializer[ModelOffer]):
    """One served model and its prices, USD per 1M tokens."""

    model = serializers.CharField(max_length=200)
    upstream_model = serializers.CharField(max_length=200, required=False, allow_blank=True)
    input_price = MoneyField(required=False)
    output_price = MoneyField(required=False)
    cached_input_price = MoneyField(required=False, allow_null=True)
    cache_write_price = MoneyField(required=False, allow_null=True)
    cache_write_1h_price = MoneyField(required=False, allow_null=True)
    max_output_tokens = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    unsupported = serializers.ListField(
        child=serializers.ChoiceField(choices=sorted(UNSUPPORTED_CHOICES)), required=False
    )


class ChannelModelOutput(serializers.Serializer[Any]):
    """A served model as the API shows it."""

    model = serializers.CharField()
    upstream_model = serializers.CharField(source="upstream_name")
    input_price = MoneyField()
    output_price = MoneyField()
    cached_input_price = MoneyField(allow_null=True)
    cache_write_price = MoneyField(allow_null=True)
    cache_write_1h_price = MoneyField(allow_null=True)
    max_output_tokens = serializers.IntegerField(allow_null=True)
    unsupported = serializers.ListField(child=serializers.CharField())


class ChannelInput(serializers.ModelSerializer[Channel]):
    """What a client may set on a channel; `api_key` is write-only."""

    api_key = serializers.CharField(write_only=True, required=False, allow_blank=True)
    models = ChannelModelInput(many=True, required=False)

    class Meta:
        model = Channel
        fields = [*CHANNEL_SETTINGS, "api_key", "models"]

    def validate_name(self, value: str) -> str:
        """Unique among live channels: an archived channel's name may be taken again."""
        taken = channels_live().filter(name=value)
        if self.instance is not None:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            raise serializers.ValidationError(NAME_TAKEN)
        return value

    def validate_models(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Require each entry's `model` (even in a PATCH) and reject a model listed twice."""
        if any("model" not in item for item in value):
            raise serializers.ValidationError(
                [{} if "model" in item else {"model": [MODEL_REQUIRED]} for item in value]
            )
        seen: set[str] = set()
        for item in value:
            if item["model"] in seen:
                raise serializers.ValidationError(DUPLICATE_MODEL.format(model=item["model"]))
            seen.add(item["model"])
        return value


class ChannelOutput(serializers.ModelSerializer[Channel]):
    """A channel as the API shows it: the secret only as a masked hint."""

    api_key = serializers.CharField(source="api_key_hint")
    models = ChannelModelOutput(many=True)

    class Meta:
        model = Channel
        fields = [
            "id",
            *CHANNEL_SETTINGS,
            "api_key",
            "status",
            "status_reason",
            "status_changed_at",
            "models",
            "created_at",
            "updated_at",
            "archived_at",
        ]


def _split(validated: dict[str, Any]) -> tuple[dict[str, Any], str | None, list[ModelOffer] | None]:
    """Separate plain fields from the secret and the model offers."""
    fields = dict(validated)
    api_key = fields.pop("api_key", None)
    models = fields.pop("models", None)
    offers = (
        None
        if models is None
        else [
            ModelOffer(**{**item, "unsupported": tuple(item.get("unsupported", ()))})
            for item in models
        ]
    )
    return fields, api_key, offers


class ChannelListApi(APIView):
    """List channels (`view_channel`), or create one (`add_channel`)."""

    permission_model = Channel

    def get(self, request: Request) -> Response:
        """A page of live channels, highest priority first; `?archived=true` adds the archived."""
        archived = BOOLEANS.get(request.query_params.get("archived", "").lower())
        if archived is None:
            return Response({"archived": [BAD_BOOLEAN]}, status=status.HTTP_400_BAD_REQUEST)
        channels = channel_list(archived=archived)
        return paginated_response(
            request=request, view=self, queryset=channels, serializer_class=ChannelOutput
        )

    def post(self, request: Request) -> Response:
        """Create a channel; 400 with field errors on bad input."""
        serializer = ChannelInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        fields, api_key, offers = _split(serializer.validated_data)
        channel = channel_create(api_key=api_key or "", models=offers or [], **fields)
        return Response(ChannelOutput(channel).data, status=status.HTTP_201_CREATED)


class ChannelDetailApi(APIView):
    """Read (`view_channel`), change (`change_channel`) or delete (`delete_channel`) a channel."""

    permission_model = Channel

    def get(self, request: Request, channel_id: int) -> Response:
        """One channel, archived or not."""
        channel = get_object_or_404(channel_list(archived=True), pk=channel_id)
        return Response(ChannelOutput(channel).data)

    def patch(self, request: Request, channel_id: int) -> Response:
        """Change the given fields; `models`, when given, replaces the whole list."""
        channel = get_object_or_404(Channel, pk=channel_id)
        if channel.archived:
            return Response({"detail": ARCHIVED_CHANNEL}, status=status.HTTP_409_CONFLICT)
        serializer = ChannelInput(channel, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        fields, api_key, offers = _split(serializer.validated_data)
        channel_update(channel=channel, fields=fields, api_key=api_key, models=offers)
        return Response(ChannelOutput(get_object_or_404(channel_list(), pk=channel_id)).data)

    def delete(self, request: Request, channel_id: int) -> Response:
        """Delete a channel without history (204), or archive one with history: 200 with the
        archived channel, which its usage records and reports keep."""
        channel = get_object_or_404(Channel, pk=channel_id)
        if channel_delete(channel=channel):
            return Response(status=status.HTTP_204_NO_CONTENT)
        channel = get_object_or_404(channel_list(archived=True), pk=channel_id)
        return Response(ChannelOutput(channel).data)


class ChannelTestApi(APIView):
    """Probe one channel now: `change_channel`, as the probe may change the channel's status."""

    method_permissions = {"POST": (model_perm(Channel, "change"),)}

    class Output(serializers.Serializer[Any]):
        """The probe's outcome and the channel's resulting status."""

        ok = serializers.BooleanField()
        status_code = serializers.IntegerField(allow_null=True)
        latency_ms = serializers.IntegerField(allow_null=True)
        error = serializers.CharField()
        checked_at = serializers.DateTimeField()
        status = serializers.CharField()

    def post(self, request: Request, channel_id: int) -> Response:
        """Run one probe synchronously, record it, and return its result."""
        channel = get_object_or_404(Channel, pk=channel_id)
        check = channel_probe(channel=channel)
        data = {
            "ok": check.ok,
            "status_code": check.status_code,
            "latency_ms": check.latency_ms,
            "error": check.error,
            "checked_at": check.checked_at,
            "status": channel.status,
        }
        return Response(self.Output(data).data)
