"""The Responses door with stored responses (#15), end to end: a conversation started on one
channel continues, by `previous_response_id`, on a channel of another type, whose upstream gets
the earlier turns; a streamed answer is stored by the time its stream ends; `store: false` keeps
nothing."""

from typing import Any

import openai
import pytest

from tests.gateway.providers_helpers import MODEL, provider_channel, sent


def text_of_message(message: dict[str, Any]) -> str:
    content = message["content"]
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content if isinstance(part, dict))


def turns_sent(request: dict[str, Any]) -> list[tuple[str, str]]:
    """(role, text) of each message an upstream request carried, system prompts aside."""
    return [
        (message["role"], text_of_message(message))
        for message in request["body"]["messages"]
        if message["role"] != "system"
    ]


def test_a_conversation_continues_on_another_channel_type_and_store_false_keeps_nothing(gateway):
    provider_channel(gateway, "openai-main", api_type="openai", upstream_model="gpt-4o-mini")
    provider_channel(gateway, "anthropic-main", api_type="anthropic", upstream_model="claude-up")
    client = gateway.client()

    first = client.responses.create(
        model=MODEL, input="Say hello", extra_body={"provider": {"only": ["openai"]}}
    )
    second = client.responses.create(
        model=MODEL,
        input="And once more",
        previous_response_id=first.id,
        extra_body={"provider": {"only": ["anthropic"]}},
    )
    unstored = client.responses.create(
        model=MODEL, input="Forget this", store=False, extra_body={"provider": {"only": ["openai"]}}
    )

    to_openai = sent(gateway, "/v1/chat/completions")[0]
    to_anthropic = sent(gateway, "/v1/messages")
    assert turns_sent(to_openai) == [("user", "Say hello")]
    assert len(to_anthropic) == 1
    assert turns_sent(to_anthropic[0]) == [
        ("user", "Say hello"),
        ("assistant", first.output_text),
        ("user", "And once more"),
    ]
    assert second.output_text
    assert client.responses.retrieve(second.id).output_text == second.output_text
    listed = client.responses.input_items.list(second.id)
    assert [item.type for item in listed.data] == ["message"]
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(unstored.id)
    with pytest.raises(openai.NotFoundError) as raised:
        client.responses.create(model=MODEL, input="Go on", previous_response_id=unstored.id)
    assert raised.value.param == "previous_response_id"
    with pytest.raises(openai.NotFoundError):
        gateway.client(gateway.new_key()).responses.create(
            model=MODEL, input="Go on", previous_response_id=first.id
        )


def test_a_streamed_response_is_stored_by_the_time_the_stream_ends(gateway):
    provider_channel(gateway, "openai-main", api_type="openai", upstream_model="gpt-4o-mini")
    client = gateway.client()

    events = list(client.responses.create(model=MODEL, input="Say hello", stream=True))
    completed = events[-1].response
    stored = client.responses.retrieve(completed.id)
    client.responses.create(model=MODEL, input="Again", previous_response_id=completed.id)

    assert events[-1].type == "response.completed"
    assert stored.output_text == completed.output_text
    assert turns_sent(sent(gateway, "/v1/chat/completions")[1]) == [
        ("user", "Say hello"),
        ("assistant", completed.output_text),
        ("user", "Again"),
    ]
