"""Fake LLM upstream speaking OpenAI chat completions, Anthropic Messages and Gemini
`generateContent`, with injectable faults, for tests, the demo and the bench.

Typical use in a test::

    with running_fake_upstream(api_key="sk-fake") as up:
        channel_base_url = up.base_url               # http://127.0.0.1:PORT/v1
        model = fault_model("gpt-4o-mini", status=503, retry_after=1)
        ...
        assert up.requests[-1]["body"]["model"] == model
"""

from bench.fake_upstream.faults import (
    DEFAULT_WORDS,
    FAULT_HEADER,
    Fault,
    FaultDirectiveError,
    fault_directive,
    fault_model,
    parse_fault,
    split_model,
)
from bench.fake_upstream.harness import FakeUpstream, running_fake_upstream, serve_fake_upstream
from bench.fake_upstream.openai_dialect import (
    REPLY_WORDS,
    TOKENS_PER_MESSAGE,
    TOOL_CALL_COMPLETION_TOKENS,
    count_prompt_tokens,
    reply_text,
    tool_arguments,
)
from bench.fake_upstream.server import create_app

__all__ = [
    "DEFAULT_WORDS",
    "FAULT_HEADER",
    "REPLY_WORDS",
    "TOKENS_PER_MESSAGE",
    "TOOL_CALL_COMPLETION_TOKENS",
    "FakeUpstream",
    "Fault",
    "FaultDirectiveError",
    "count_prompt_tokens",
    "create_app",
    "fault_directive",
    "fault_model",
    "parse_fault",
    "reply_text",
    "running_fake_upstream",
    "serve_fake_upstream",
    "split_model",
    "tool_arguments",
]
