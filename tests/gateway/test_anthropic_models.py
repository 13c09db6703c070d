"""`GET /v1/models` in Anthropic's shape for a client sending `anthropic-version` (what Claude Code
reads), with the real `anthropic` SDK: `ModelInfo` pages cut by `limit`, `after_id` and
`before_id`, one model by id, and errors as the SDK's classes; the OpenAI shape for the rest."""

import anthropic
import httpx
import pytest

from tests.gateway.providers_helpers import provider_channel

MODELS = ["claude-haiku-4-5", "claude-opus-4-1", "claude-sonnet-4-5"]


def sdk(gateway, key: str | None = None) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway.url, api_key=key or gateway.key, max_retries=0)


@pytest.fixture
def served(gateway):
    for number, model in enumerate(MODELS):
        provider_channel(
            gateway, f"channel-{number}", api_type="openai", upstream_model="m", model=model
        )
    return MODELS


def test_the_sdk_lists_the_served_models_as_model_info(gateway, served):
    page = sdk(gateway).models.list()

    assert [model.id for model in page.data] == served
    first = page.data[0]
    assert (first.type, first.display_name) == ("model", "claude-haiku-4-5")
    assert first.created_at.year == 1970
    assert (page.has_more, page.first_id, page.last_id) == (False, served[0], served[-1])


def test_the_sdk_pages_through_with_limit_and_after_id(gateway, served):
    first = sdk(gateway).models.list(limit=2)
    every = [model.id for model in sdk(gateway).models.list(limit=1)]  # auto-paging

    assert [model.id for model in first.data] == served[:2]
    assert first.has_more is True
    assert every == served


def test_before_id_takes_the_models_just_before_it(gateway, served):
    page = sdk(gateway).models.list(before_id=served[-1], limit=1)
    both = sdk(gateway).models.list(after_id=served[0], before_id=served[-1])

    assert [model.id for model in page.data] == [served[1]]
    assert page.has_more is True
    assert [model.id for model in both.data] == [served[1]]
    assert both.has_more is False


def test_a_key_sees_only_its_models(gateway, served):
    key = gateway.new_key(allowed_models=[served[1]])

    assert [model.id for model in sdk(gateway, key).models.list()] == [served[1]]
    with pytest.raises(anthropic.NotFoundError):
        sdk(gateway, key).models.retrieve(served[0])


def test_one_model_by_id(gateway, served):
    model = sdk(gateway).models.retrieve(served[2])

    assert (model.type, model.id, model.display_name) == ("model", served[2], served[2])


def test_each_error_is_the_sdks_own_class_in_anthropics_envelope(gateway, served):
    with pytest.raises(anthropic.AuthenticationError) as refused:
        sdk(gateway, "sk-sy-not-a-real-key-0000000000").models.list()
    with pytest.raises(anthropic.NotFoundError) as unknown:
        sdk(gateway).models.retrieve("no-such-model")
    with pytest.raises(anthropic.BadRequestError) as bad_limit:
        sdk(gateway).models.list(limit=0)
    with pytest.raises(anthropic.BadRequestError) as bad_cursor:
        sdk(gateway).models.list(after_id="no-such-model")

    assert refused.value.body["error"]["type"] == "authentication_error"
    assert unknown.value.body["error"]["type"] == "not_found_error"
    assert bad_limit.value.body["error"]["type"] == "invalid_request_error"
    assert bad_cursor.value.body["error"]["type"] == "invalid_request_error"


def test_without_anthropic_version_the_list_stays_openais(gateway, served):
    listed = httpx.get(
        gateway.url + "/v1/models", headers={"Authorization": f"Bearer {gateway.key}"}
    )
    refused = httpx.get(gateway.url + "/v1/models")

    assert listed.json()["object"] == "list"
    assert listed.json()["data"][0]["object"] == "model"
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "invalid_api_key"
