"""Client API routes, mounted under `/v1/`, `/api/v1/` and `/openai/v1/`."""

from django.urls import path

from gateway.responses_views import CompactView, InputItemsView, StoredResponseView
from gateway.views import (
    ChatCompletionsView,
    CountTokensView,
    EmbeddingsView,
    GenerationView,
    KeyView,
    MessagesView,
    ModelsView,
    ResponsesView,
)

urlpatterns = [
    path("chat/completions", ChatCompletionsView.as_view(), name="chat-completions"),
    path("messages", MessagesView.as_view(), name="messages"),
    path("messages/count_tokens", CountTokensView.as_view(), name="messages-count-tokens"),
    path("embeddings", EmbeddingsView.as_view(), name="embeddings"),
    path("models", ModelsView.as_view(), name="models"),
    path("models/<path:model>", ModelsView.as_view(), name="model"),
    path("generation", GenerationView.as_view(), name="generation"),
    path("key", KeyView.as_view(), name="key"),
    path("responses", ResponsesView.as_view(), name="responses"),
    path("responses/compact", CompactView.as_view(), name="responses-compact"),
    # GET and DELETE only: a POST to `responses/<anything>` but `compact` is a 405 here.
    path("responses/<str:response_id>", StoredResponseView.as_view(), name="response"),
    path(
        "responses/<str:response_id>/input_items",
        InputItemsView.as_view(),
        name="response-input-items",
    ),
]
