"""A Responses body becomes the pipeline's chat body (pure), or a 400 naming the field; its
input is listed as items, as a stored response keeps it."""

import pytest

from gateway.errors import InvalidRequest
from gateway.front_doors.responses_request import chat_body, input_items

BASE = {"model": "m"}
PDF = "data:application/pdf;base64,JVBERi0="
PNG = "data:image/png;base64,iVBORw0KGgo="


def test_parts_calls_and_outputs_map_to_chat_messages():
    body = chat_body(
        {
            **BASE,
            "instructions": "Be brief.",
            "input": [
                {
                    "role": "user",
                    "content": [
                        {"type": "input_text", "text": "What is in these?"},
                        {"type": "input_image", "image_url": PNG, "detail": "low"},
                        {"type": "input_file", "filename": "a.pdf", "file_data": PDF},
                    ],
                },
                {"type": "reasoning", "id": "rs_1", "summary": []},
                {
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": "Let me look.", "annotations": []}],
                },
                {"type": "function_call", "call_id": "c1", "name": "look", "arguments": "{}"},
                {"type": "function_call", "call_id": "c2", "name": "read", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "c1", "output": "a cat"},
                {
                    "type": "function_call_output",
                    "call_id": "c2",
                    "output": [
                        {"type": "input_text", "text": "a "},
                        {"type": "input_text", "text": "pdf"},
                    ],
                },
            ],
        }
    )

    calls = [
        {"id": "c1", "type": "function", "function": {"name": "look", "arguments": "{}"}},
        {"id": "c2", "type": "function", "function": {"name": "read", "arguments": "{}"}},
    ]
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is in these?"},
                {"type": "image_url", "image_url": {"url": PNG, "detail": "low"}},
                {"type": "file", "file": {"file_data": PDF, "filename": "a.pdf"}},
            ],
        },
        {"role": "assistant", "content": "Let me look.", "tool_calls": calls},
        {"role": "tool", "tool_call_id": "c1", "content": "a cat"},
        {"role": "tool", "tool_call_id": "c2", "content": "a pdf"},
    ]


def test_parameters_map_to_their_chat_names():
    body = chat_body(
        {
            **BASE,
            "input": "Hi",
            "stream": True,
            "max_output_tokens": 64,
            "reasoning": {"effort": "high", "summary": "auto"},
            "text": {"format": {"type": "json_object"}, "verbosity": "low"},
            "safety_identifier": "user-7",
            "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}],
            "tool_choice": "required",
            "parallel_tool_calls": False,
            "store": False,
            "include": ["reasoning.encrypted_content"],
            "truncation": "auto",
            "prompt_cache_key": "k",
        }
    )

    assert body == {
        "model": "m",
        "stream": True,
        "stream_options": {"include_usage": True},
        "prompt_cache_key": "k",
        "messages": [{"role": "user", "content": "Hi"}],
        "max_completion_tokens": 64,
        "reasoning": {"effort": "high"},
        "response_format": {"type": "json_object"},
        "verbosity": "low",
        "user": "user-7",
        "tools": [
            {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
        ],
        "tool_choice": "required",
        "parallel_tool_calls": False,
    }


def test_history_comes_before_the_input():
    history = [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hi"}]},
        {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "Yo"}],
        },
    ]

    body = chat_body({**BASE, "input": "Again"}, history)

    assert [m["content"] for m in body["messages"]] == [
        [{"type": "text", "text": "Hi"}],
        "Yo",
        "Again",
    ]


@pytest.mark.parametrize(
    ("data", "param"),
    [
        ({"input": "Hi"}, "model"),
        ({**BASE, "input": []}, "input"),
        ({**BASE, "input": [{"type": "web_search_call", "id": "ws"}]}, "input[0].type"),
        (
            {**BASE, "input": [{"role": "user", "content": [{"type": "input_audio"}]}]},
            "input[0].content[0].type",
        ),
        (
            {**BASE, "input": [{"role": "user", "content": [{"type": "input_image"}]}]},
            "input[0].content[0].image_url",
        ),
        ({**BASE, "input": [{"type": "function_call", "name": "f"}]}, "input[0].call_id"),
        ({**BASE, "input": "Hi", "tools": [{"type": "file_search"}]}, "tools[0].type"),
        (
            {
                **BASE,
                "input": "Hi",
                "tools": [{"type": "function", "name": "f"}],
                "tool_choice": {"type": "web_search"},
            },
            "tool_choice",
        ),
        ({**BASE, "input": "Hi", "instructions": 3}, "instructions"),
        (
            {**BASE, "input": "Hi", "text": {"format": {"type": "json_schema", "name": "x"}}},
            "text.format.schema",
        ),
        ({**BASE, "input": "Hi", "max_output_tokens": True}, "max_output_tokens"),
    ],
)
def test_bad_input_names_the_field(data, param):
    with pytest.raises(InvalidRequest) as caught:
        chat_body(data)

    assert caught.value.param == param
    assert caught.value.http_status == 400


def test_input_items_are_listed_with_ids_and_parts():
    [item] = input_items({**BASE, "input": "Hi"})
    assert item["type"] == "message"
    assert item["role"] == "user"
    assert item["content"] == [{"type": "input_text", "text": "Hi"}]
    assert item["id"].startswith("msg_")

    given = [
        {"role": "assistant", "content": "Yo"},
        {"type": "function_call_output", "id": "fco_1", "call_id": "c", "output": "x"},
    ]
    assistant, output = input_items({**BASE, "input": given})
    assert assistant["content"] == [{"type": "output_text", "text": "Yo"}]
    assert assistant["id"].startswith("msg_")
    assert output == given[1]
