"""A Messages body becomes the pipeline's chat body (pure), or a 400 naming the field."""

import orjson
import pytest

from gateway.errors import InvalidRequest
from gateway.front_doors.messages_request import chat_body, translate

BASE = {"model": "m", "max_tokens": 50}


def test_system_blocks_images_and_tool_results_map_to_chat_messages():
    body = chat_body(
        {
            **BASE,
            "system": [{"type": "text", "text": "Be brief."}, {"type": "text", "text": "Be kind."}],
            "stop_sequences": ["END"],
            "metadata": {"user_id": "u-1"},
            "thinking": {"type": "enabled", "budget_tokens": 1024},
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "What is this?"},
                        {
                            "type": "image",
                            "source": {"type": "base64", "media_type": "image/png", "data": "AAA"},
                        },
                    ],
                },
                {
                    "role": "assistant",
                    "content": [
                        {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                        {"type": "tool_use", "id": "toolu_1", "name": "look", "input": {"x": 1}},
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "a cat"}
                    ],
                },
            ],
        }
    )

    assert body["messages"] == [
        {"role": "system", "content": "Be brief.\nBe kind."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAA"}},
            ],
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "toolu_1",
                    "type": "function",
                    "function": {"name": "look", "arguments": '{"x":1}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "toolu_1", "content": "a cat"},
    ]
    assert body["stop"] == ["END"]
    assert body["user"] == "u-1"
    assert body["reasoning"] == {"max_tokens": 1024}


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"max_tokens": None}, "max_tokens"),
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "system", "content": "x"}]}, "messages[0].role"),
        (
            {"messages": [{"role": "user", "content": [{"text": "no type"}]}]},
            "messages[0].content[0].type",
        ),
        ({"messages": [{"role": "user", "content": "x"}], "tools": ["web_search"]}, "tools[0]"),
        ({"tool_choice": {"type": "sometimes"}}, "tool_choice.type"),
    ],
)
def test_a_malformed_body_is_a_400_naming_the_field(change, param):
    data = {**BASE, "messages": [{"role": "user", "content": "x"}], **change}
    data = {name: value for name, value in data.items() if value is not None}

    with pytest.raises(InvalidRequest) as refused:
        chat_body(data)

    assert refused.value.param == param


SEARCH_TOOL = {"type": "web_search_20250305", "name": "web_search", "max_uses": 2}
PDF = {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0x"}


@pytest.mark.parametrize(
    ("change", "requires"),
    [
        ({"tools": [SEARCH_TOOL]}, "tools[0]"),
        (
            {"messages": [{"role": "user", "content": [{"type": "search_result", "x": 1}]}]},
            "messages[0].content[0].type",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": "q"},
                    {"role": "assistant", "content": [{"type": "server_tool_use", "id": "s"}]},
                ]
            },
            "messages[1].content[0].type",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "document", "source": PDF, "citations": {"enabled": True}}
                        ],
                    }
                ]
            },
            "messages[0].content[0]",
        ),
        ({"mcp_servers": [{"type": "url", "url": "https://x", "name": "x"}]}, "mcp_servers"),
    ],
)
def test_what_only_anthropic_carries_is_named_and_still_counted(change, requires):
    data = {**BASE, "messages": [{"role": "user", "content": "x"}], **change}

    translation = translate(data)

    assert translation.requires == requires
    # The chat body still stands in for a block it cannot say, so that estimates count it.
    if requires.startswith("messages"):
        block = data["messages"][-1]["content"][0]
        assert orjson.dumps(block).decode() in repr(translation.body)


def test_documents_and_the_rest_translate_without_needing_anthropic():
    data = {
        **BASE,
        "top_k": 5,
        "service_tier": "auto",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "document", "source": PDF, "title": "a.pdf"},
                    {"type": "document", "source": {"type": "text", "data": "plain words"}},
                    {"type": "text", "text": "sum up", "cache_control": {"type": "ephemeral"}},
                ],
            }
        ],
    }

    translation = translate(data)

    assert translation.requires == ""
    assert translation.body["messages"][0]["content"] == [
        {
            "type": "file",
            "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBERi0x"},
        },
        {"type": "text", "text": "plain words"},
        {"type": "text", "text": "sum up"},
    ]
