"""Compaction made by the gateway (#15.3): `client.responses.compact(...)` through OpenAI-
compatible and Anthropic channels of the fake upstream answers the SDK's CompactedResponse with
one sealed `compaction` item (one priced `responses` record); the item read back in a later
request reaches the upstream as the summary; another key's or a changed item is a 400 naming
`input[i].encrypted_content`."""

from decimal import Decimal

import openai
import pytest
from openai.types.responses import CompactedResponse, ResponseCompactionItem

from gateway.front_doors.responses_compaction import SUMMARY_INSTRUCTION, SUMMARY_PREFIX
from tests.gateway.providers_helpers import MODEL, REPLY, cost, provider_channel, sent
from tests.gateway.test_responses_native import native_channel

UPSTREAM_MODELS = {"openai": "gpt-4o-mini", "anthropic": "claude-sonnet-4-5"}
UPSTREAM_PATHS = {"openai": "/v1/chat/completions", "anthropic": "/v1/messages"}
CHANNEL_TYPES = pytest.mark.parametrize("api_type", list(UPSTREAM_MODELS))
CONVERSATION = [
    {"role": "user", "content": "My cat is called Miso."},
    {"role": "assistant", "content": "Miso is a lovely name."},
    {"role": "user", "content": "Remember it for later."},
]


def channel(gateway, api_type="openai"):
    """A channel of `api_type` serving MODEL at (1, 2) USD per 1M tokens."""
    return provider_channel(
        gateway, api_type, api_type=api_type, upstream_model=UPSTREAM_MODELS[api_type]
    )


def upstream_texts(request):
    """Every text the upstream request carried (system prompt and messages), joined."""
    body = request["body"]
    texts = [body.get("system") if isinstance(body.get("system"), str) else ""]
    for block in body.get("system") if isinstance(body.get("system"), list) else []:
        texts.append(block.get("text", ""))
    for message in body["messages"]:
        content = message.get("content")
        if isinstance(content, str):
            texts.append(content)
        for part in content if isinstance(content, list) else []:
            texts.append(str(part.get("text", "")))
    return "\n".join(texts)


def compacted(gateway, key=None, **params):
    """The SDK's compact call for CONVERSATION with instructions."""
    params.setdefault("input", CONVERSATION)
    return gateway.client(key).responses.compact(model=MODEL, instructions="Be kind.", **params)


@CHANNEL_TYPES
def test_compact_answers_a_sealed_compaction_item_priced_and_recorded(gateway, api_type):
    channel(gateway, api_type)

    result = compacted(gateway)

    assert isinstance(result, CompactedResponse)
    assert result.object == "response.compaction"
    assert result.id.startswith("resp_")
    [item] = result.output
    assert isinstance(item, ResponseCompactionItem)
    assert item.id.startswith("cmp_")
    assert REPLY not in item.encrypted_content  # compressed and signed, not plain text
    [request] = sent(gateway, UPSTREAM_PATHS[api_type])
    texts = upstream_texts(request)
    assert SUMMARY_INSTRUCTION in texts
    assert "My cat is called Miso." in texts
    assert "Miso is a lovely name." in texts
    assert "Be kind." in texts
    usage = result.usage
    assert usage.input_tokens > 0
    assert usage.output_tokens == 8
    expected = cost(usage.input_tokens, usage.output_tokens)
    assert Decimal(str(usage.model_extra["cost"])) == expected
    record = gateway.record()
    assert (record.endpoint, record.status, record.cost, record.model) == (
        "responses",
        "ok",
        expected,
        MODEL,
    )


@CHANNEL_TYPES
def test_a_compaction_item_continues_the_conversation_as_its_summary(gateway, api_type):
    channel(gateway, api_type)
    [item] = compacted(gateway).output
    gateway.upstream.clear_requests()

    follow_up = gateway.client().responses.create(
        model=MODEL,
        input=[item.model_dump(exclude_none=True), {"role": "user", "content": "Her name?"}],
    )

    assert follow_up.output_text == REPLY
    [request] = sent(gateway, UPSTREAM_PATHS[api_type])
    texts = upstream_texts(request)
    assert SUMMARY_PREFIX + REPLY in texts  # the fake's summary was its fixed reply
    assert "Her name?" in texts
    assert [r.endpoint for r in gateway.wait_records(2)] == ["responses", "responses"]


def test_compact_continues_a_stored_conversation(gateway):
    channel(gateway)
    first = gateway.client().responses.create(model=MODEL, input="My cat is called Miso.")
    gateway.upstream.clear_requests()

    result = gateway.client().responses.compact(model=MODEL, previous_response_id=first.id)

    assert result.output[0].type == "compaction"
    texts = upstream_texts(sent(gateway, "/v1/chat/completions")[0])
    assert "My cat is called Miso." in texts
    assert REPLY in texts


def test_a_compaction_item_of_another_key_is_a_400_naming_it(gateway):
    channel(gateway)
    [item] = compacted(gateway, key=gateway.new_key()).output

    with pytest.raises(openai.BadRequestError) as raised:
        gateway.client().responses.create(model=MODEL, input=[item.model_dump(exclude_none=True)])

    assert raised.value.body["param"] == "input[0].encrypted_content"
    assert len(sent(gateway, "/v1/chat/completions")) == 1  # only the compaction reached it


def test_a_changed_compaction_item_is_a_400_naming_it(gateway):
    channel(gateway)
    [item] = compacted(gateway).output
    changed = item.encrypted_content[:-3] + ("aaa" if item.encrypted_content[-3:] != "aaa" else "b")
    hello = {"role": "user", "content": "Hi"}

    for door in ("create", "compact"):
        with pytest.raises(openai.BadRequestError) as raised:
            getattr(gateway.client().responses, door)(
                model=MODEL, input=[hello, {"type": "compaction", "encrypted_content": changed}]
            )
        assert raised.value.body["param"] == "input[1].encrypted_content"
        assert "not sealed by this gateway" in raised.value.body["message"]


@CHANNEL_TYPES
@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_a_compaction_trigger_is_answered_with_a_compaction_item(gateway, api_type, stream):
    channel(gateway, api_type)
    params = {"model": MODEL, "input": [*CONVERSATION, {"type": "compaction_trigger"}]}

    if stream:
        with gateway.client().responses.stream(**params) as events:
            kinds = [event.type for event in events]
            response = events.get_final_response()
        assert kinds == [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.output_item.done",
            "response.completed",
        ]
    else:
        response = gateway.client().responses.create(**params)

    [item] = response.output
    assert isinstance(item, ResponseCompactionItem)
    assert response.status == "completed"
    texts = upstream_texts(sent(gateway, UPSTREAM_PATHS[api_type])[0])
    assert SUMMARY_INSTRUCTION in texts
    assert "Remember it for later." in texts
    record = gateway.record()
    assert (record.endpoint, record.status, record.stream) == ("responses", "ok", stream)
    assert record.cost == cost(response.usage.input_tokens, response.usage.output_tokens)
    gateway.upstream.clear_requests()

    follow_up = gateway.client().responses.create(
        model=MODEL, previous_response_id=response.id, input="Her name?"
    )

    assert follow_up.output_text == REPLY
    texts = upstream_texts(sent(gateway, UPSTREAM_PATHS[api_type])[0])
    assert SUMMARY_PREFIX + REPLY in texts  # the stored compaction item, read back
    assert "My cat is called Miso." in texts  # the stored input before the trigger


def test_on_a_native_responses_channel_the_item_goes_as_the_summary_message(gateway):
    channel(gateway)
    native_channel(gateway)
    [item] = compacted(gateway, extra_body={"provider": {"only": ["openai"]}}).output
    gateway.upstream.clear_requests()

    follow_up = gateway.client().responses.create(
        model=MODEL,
        input=[item.model_dump(exclude_none=True), {"role": "user", "content": "Hi"}],
        extra_body={"provider": {"only": ["native"]}},
    )

    assert follow_up.status == "completed"
    [request] = sent(gateway, "/v1/responses")
    summary, hello = request["body"]["input"]
    assert summary["role"] == "user"
    assert summary["content"][0]["text"] == SUMMARY_PREFIX + REPLY
    assert hello == {"role": "user", "content": "Hi"}
    assert "compaction" not in str(request["body"])  # nothing the upstream could not read
