"""The real Codex CLI (tests/clients/node_modules, `@openai/codex`) run by the README's recipe
(tests/clients/recipes/codex.sh) straight against the fake upstream's Responses API: it runs
the shell command the fake asks for, sends back the result with the encrypted reasoning it got,
prints the fake's answer and exits 0; it only ever POSTs to /v1/responses."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.fake_upstream import FakeUpstream, reply_text, running_fake_upstream
from tests.clients.runner import run_codex_recipe

KEY = "sk-fake-codex-key"


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with running_fake_upstream(api_key=KEY) as up:
        yield up


def run_codex(upstream: FakeUpstream, home: Path) -> subprocess.CompletedProcess[str]:
    """The recipe as its user runs it: `codex` on PATH, a fresh HOME, the fake as the gateway."""
    return run_codex_recipe(upstream.base_url, KEY, home)


def test_codex_exec_prints_the_answer_after_one_tool_round_trip(
    upstream: FakeUpstream, tmp_path: Path
) -> None:
    upstream.clear_requests()
    done = run_codex(upstream, tmp_path)
    assert done.returncode == 0, f"codex exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    assert done.stdout == reply_text() + "\n"

    calls = upstream.requests
    assert [(r["method"], r["path"], r["outcome"]) for r in calls] == [
        ("POST", "/v1/responses", "ok"),
        ("POST", "/v1/responses", "ok"),
    ]
    first, second = (call["body"] for call in calls)
    assert calls[0]["headers"]["authorization"] == f"Bearer {KEY}"
    assert first["model"] == "gpt-4o-mini"
    assert first["stream"] is True
    assert first["store"] is False
    assert first["include"] == ["reasoning.encrypted_content"]
    assert first["input"][-1]["content"] == [
        {"type": "input_text", "text": "Say hello to the gateway"}
    ]
    # The fake called Codex's shell tool; Codex ran it and sent the output back, with the
    # reasoning item (and its encrypted content, verified by the fake) from the first answer.
    kinds = [item.get("type") for item in second["input"]]
    assert kinds[-3:] == ["reasoning", "function_call", "function_call_output"]
    reasoning, call, output = second["input"][-3:]
    assert reasoning["encrypted_content"]
    assert call["name"] == "exec_command"
    assert json.loads(call["arguments"]) == {"cmd": "test"}
    assert output["call_id"] == call["call_id"]
    # The recipe's settings: function tools only.
    assert {tool["type"] for tool in first["tools"]} == {"function"}
