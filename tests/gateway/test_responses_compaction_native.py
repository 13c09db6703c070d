"""Compaction on channels serving the Responses API natively (#15.3): `responses.compact` and a
`compaction_trigger` item go to such a channel as sent (the stored conversation expanded, the
model renamed) and come back as the upstream's own `compaction` item, priced and recorded; that
item then routes only to native channels (else a 400 naming it), while chat-only channels
still get the gateway's own compaction."""

import openai
import pytest
from openai.types.responses import ResponseCompactionItem

from gateway.front_doors.responses_compaction import SEALED_PREFIX, SUMMARY_INSTRUCTION
from tests.gateway.providers_helpers import MODEL, REPLY, cost, provider_channel, sent
from tests.gateway.test_responses_compaction import CONVERSATION, channel, compacted, upstream_texts
from tests.gateway.test_responses_native import UPSTREAM, native_channel

STREAM = pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
NATIVE_PRICES = ("1", "2", "0.5")
TRIGGER = {"type": "compaction_trigger"}


def compact_bodies(gateway):
    return [call["body"] for call in sent(gateway, "/v1/responses/compact")]


def responses_bodies(gateway):
    return [call["body"] for call in gateway.upstream.requests if call["path"] == "/v1/responses"]


def upstream_item(item):
    """Whether a compaction item is the upstream's own (not sealed by the gateway)."""
    return isinstance(item, ResponseCompactionItem) and not item.encrypted_content.startswith(
        SEALED_PREFIX
    )


def created(gateway, *, stream, **params):
    """The final Response of `responses.create`, streamed or not."""
    params.setdefault("model", MODEL)
    if not stream:
        return gateway.client().responses.create(**params)
    with gateway.client().responses.stream(**params) as events:
        return events.get_final_response()


def test_compact_goes_to_the_native_channel_and_returns_its_own_item(gateway):
    native_channel(gateway)

    result = compacted(gateway)

    assert result.object == "response.compaction"
    assert result.id.startswith("resp_")
    assert upstream_item(result.output[-1])
    [body] = compact_bodies(gateway)
    assert body["model"] == UPSTREAM
    assert body["input"] == CONVERSATION
    assert body["instructions"] == "Be kind."
    assert not sent(gateway, "/v1/chat/completions")  # no summarisation of the gateway's
    usage = result.usage
    expected = cost(usage.input_tokens, usage.output_tokens, prices=NATIVE_PRICES)
    assert usage.model_extra["cost"] == float(expected)
    record = gateway.record()
    assert (record.endpoint, record.status, record.cost) == ("responses", "ok", expected)
    gateway.upstream.clear_requests()

    follow_up = gateway.client().responses.create(
        model=MODEL,
        input=[
            *(item.model_dump(exclude_none=True) for item in result.output),
            {"role": "user", "content": "Her name?"},
        ],
    )

    assert follow_up.status == "completed"  # the upstream read its own item back
    [body] = responses_bodies(gateway)
    assert body["input"][-2]["encrypted_content"] == result.output[-1].encrypted_content


def test_compact_on_a_native_channel_sends_the_stored_conversation(gateway):
    native_channel(gateway)
    first = gateway.client().responses.create(model=MODEL, input="My cat is called Miso.")
    gateway.upstream.clear_requests()

    result = gateway.client().responses.compact(model=MODEL, previous_response_id=first.id)

    assert upstream_item(result.output[-1])
    [body] = compact_bodies(gateway)
    assert "previous_response_id" not in body
    told = [item for item in body["input"] if item.get("role") == "user"]
    assert told[0]["content"][0]["text"] == "My cat is called Miso."
    assert REPLY in str(body["input"])  # the stored answer


@STREAM
def test_a_compaction_trigger_goes_to_the_native_channel_as_sent(gateway, stream):
    native_channel(gateway)

    response = created(gateway, stream=stream, input=[*CONVERSATION, TRIGGER])

    assert response.status == "completed"
    assert any(upstream_item(item) for item in response.output)
    [body] = responses_bodies(gateway)
    assert body["input"] == [*CONVERSATION, TRIGGER]
    assert body["model"] == UPSTREAM
    record = gateway.record()
    assert (record.endpoint, record.status, record.stream) == ("responses", "ok", stream)
    gateway.upstream.clear_requests()

    follow_up = created(gateway, stream=stream, previous_response_id=response.id, input="Hi")

    assert follow_up.status == "completed"
    [body] = responses_bodies(gateway)
    kinds = [item.get("type") for item in body["input"]]
    assert "compaction" in kinds  # the stored upstream item went back to its upstream
    assert TRIGGER not in body["input"]  # the trigger asked once, not stored


def test_a_chat_only_channel_is_still_compacted_by_the_gateway(gateway):
    channel(gateway)

    response = gateway.client().responses.create(model=MODEL, input=[*CONVERSATION, TRIGGER])

    [item] = response.output
    assert item.encrypted_content.startswith(SEALED_PREFIX)
    assert SUMMARY_INSTRUCTION in upstream_texts(sent(gateway, "/v1/chat/completions")[0])


def test_an_upstreams_compaction_item_routes_only_to_native_channels(gateway):
    native_channel(gateway)
    [*_, item] = compacted(gateway).output
    provider_channel(gateway, "chat", api_type="openai", upstream_model="gpt-4o-mini", priority=10)
    gateway.upstream.clear_requests()
    given = [item.model_dump(exclude_none=True), {"role": "user", "content": "Hi"}]

    answered = gateway.client().responses.create(model=MODEL, input=given)
    again = gateway.client().responses.compact(model=MODEL, input=given)

    assert answered.status == "completed"
    assert upstream_item(again.output[-1])
    assert len(responses_bodies(gateway)) == 1
    assert len(compact_bodies(gateway)) == 1
    assert not sent(gateway, "/v1/chat/completions")


def test_an_upstreams_compaction_item_is_a_400_naming_it_without_native_channels(gateway):
    channel(gateway)
    foreign = {"type": "compaction", "encrypted_content": "made-by-an-upstream"}

    for door in ("create", "compact"):
        with pytest.raises(openai.BadRequestError) as raised:
            getattr(gateway.client().responses, door)(
                model=MODEL, input=[{"role": "user", "content": "Hi"}, foreign]
            )
        assert raised.value.body["param"] == "input[1].type"
        assert "Responses API" in raised.value.body["message"]
    assert not gateway.upstream.requests
