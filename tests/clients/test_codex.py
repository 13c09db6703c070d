"""The real Codex CLI (tests/clients/node_modules, `@openai/codex`) run by the README's recipe
(recipes/codex.sh) against the live gateway's Responses door, translated to a chat channel of
the fake upstream (OpenAI-compatible, then Anthropic): the fake calls Codex's shell tool, Codex
runs it and sends the result back, then prints the fake's answer and exits 0; each Codex request
has exactly one usage record, `ok` on endpoint `responses`, costing the fake's usage at the
channel's prices. With reasoning asked for (the user's own config.toml), the reasoning items
Codex sends back are dropped on the way to the chat channel."""

import json
import subprocess
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bench.fake_upstream import reply_text
from tests.clients.runner import run_codex_recipe
from tests.clients.test_claude_code import fake_usage
from tests.gateway.conftest import Gateway
from tests.gateway.providers_helpers import provider_channel

MODEL = "gpt-4o-mini"  # the recipe's model
UPSTREAM = {
    "openai": ("gpt-4o-mini", "/v1/chat/completions"),
    "anthropic": ("claude-main", "/v1/messages"),
}
PRICE = ("1", "4")


def run_codex(gateway: Gateway, home: Path) -> subprocess.CompletedProcess[str]:
    """The recipe as its user runs it: `codex` on PATH, a fresh HOME, the gateway's URL and key."""
    return run_codex_recipe(gateway.url + "/v1", gateway.key, home)


def cost(prompt: int, completion: int) -> Decimal:
    input_price, output_price = (Decimal(p) for p in PRICE)
    return (input_price * prompt + output_price * completion) / Decimal(1_000_000)


def round_trip(body: dict[str, Any]) -> tuple[list[tuple[str, Any]], list[str]]:
    """The tool calls (name, parsed arguments) and tool results a chat or Anthropic request
    sends back."""
    calls: list[tuple[str, Any]] = []
    results: list[str] = []
    for message in body["messages"]:
        for call in message.get("tool_calls") or []:
            arguments = call["function"]["arguments"]
            calls.append((call["function"]["name"], json.loads(arguments or "null")))
        if message["role"] == "tool":
            results.append(message["content"])
        blocks = message["content"] if isinstance(message["content"], list) else []
        for block in blocks:
            if block.get("type") == "tool_use":
                calls.append((block["name"], block["input"]))
            elif block.get("type") == "tool_result":
                results.append(block["content"])
    return calls, results


CASES = [
    pytest.param("openai", False, id="openai"),
    pytest.param("openai", True, id="openai-reasoning"),
    pytest.param("anthropic", False, id="anthropic"),
    pytest.param("anthropic", True, id="anthropic-reasoning"),
]


@pytest.mark.parametrize(("api_type", "reasoning"), CASES)
def test_codex_exec_through_the_gateway_runs_the_tool_prints_the_answer_and_is_billed_once(
    gateway: Gateway, tmp_path: Path, api_type: str, reasoning: bool
) -> None:
    upstream_model, path = UPSTREAM[api_type]
    provider_channel(
        gateway,
        f"{api_type}-codex",
        api_type=api_type,
        upstream_model=upstream_model,
        model=MODEL,
        price=(*PRICE, None),
    )
    if reasoning:  # the user's own settings, under the recipe's -c flags
        (tmp_path / ".codex").mkdir()
        (tmp_path / ".codex" / "config.toml").write_text('model_reasoning_effort = "low"\n')

    done = run_codex(gateway, tmp_path)

    assert done.returncode == 0, f"codex exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    assert done.stdout == reply_text() + "\n"
    calls = [r for r in gateway.upstream.requests if r["path"] == path]
    assert len(calls) == 2, [r["path"] for r in gateway.upstream.requests]
    first, second = (call["body"] for call in calls)
    assert first["stream"] is True
    # The fake called Codex's shell tool once; Codex ran it and sent back what bash said.
    tool_calls, results = round_trip(second)
    assert tool_calls == [("exec_command", {"cmd": "test"})]
    assert len(results) == 1
    assert "Process exited with code 1" in results[0]
    # Reasoning items Codex sends back carry no content a chat channel could take: dropped.
    assert "encrypted_content" not in json.dumps(second)
    if api_type == "anthropic":  # thinking on turn 1; without its blocks, off on turn 2
        assert ("thinking" in first, "thinking" in second) == (reasoning, False)
    else:
        assert first.get("reasoning_effort") == ("low" if reasoning else None)
    records = gateway.wait_records(len(calls))
    assert [(r.endpoint, r.status, r.http_status, r.stream) for r in records] == [
        ("responses", "ok", 200, True)
    ] * len(calls)
    expected: Counter[tuple[str, int, int, Decimal]] = Counter()
    for call in calls:
        _, prompt, completion = fake_usage(call)
        expected[(MODEL, prompt, completion, cost(prompt, completion))] += 1
    billed = Counter((r.model, r.prompt_tokens, r.completion_tokens, r.cost) for r in records)
    assert billed == expected
    assert all(r.cost > 0 for r in records)
