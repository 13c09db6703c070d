"""The gateway's own state: the Responses API's stored responses."""

from django.db import models
from django.utils import timezone

from billing.models import ApiKey

RESPONSE_ID_LENGTH = 64


class StoredResponse(models.Model):
    """One answer of `POST /v1/responses` with `store`: what the request added to the
    conversation and what the model answered, for `previous_response_id` and the retrieval
    endpoints; only its key sees it, for GATEWAY_RESPONSES_RETENTION_DAYS."""

    id = models.CharField(primary_key=True, max_length=RESPONSE_ID_LENGTH)
    key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="stored_responses")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    previous_response_id = models.CharField(
        max_length=RESPONSE_ID_LENGTH, blank=True, help_text="Empty when it starts a conversation."
    )
    input_items = models.JSONField(default=list, help_text="This request's own input items.")
    output_items = models.JSONField(default=list)
    response = models.JSONField(help_text="The whole Response object as answered.")
    channel_id = models.BigIntegerField(
        null=True,
        blank=True,
        help_text="The channel that served it: encrypted reasoning goes back only there.",
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.id
